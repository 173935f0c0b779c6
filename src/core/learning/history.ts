// Reward and choices over run order, across roles, in at most ~500 windows: the dashboard's common axis ("is it
// learning?"). Kept up to date incrementally, like the store's arm sums: each update reads only the runs recorded
// since the one before and moves the sums by the reward edits (verdicts, late signals) the store kept. It reads
// every run again only for another store (a snapshot reloaded) or when it fell further behind the edits than the
// store keeps.

import type { LearningEvent, StoreReader } from '../store/store';

/** Windows kept at most; past it, neighbours merge in pairs (so each holds twice the runs). */
const MAX_WINDOWS = 500;
/** Runs read per query while catching up. */
const READ_BATCH = 10_000;
/** The reward chart's rolling mean spans this many windows. */
const ROLLING_WINDOWS = 20;
/** A role's baseline: the mean reward of its first runs, at least this many (whole windows). */
export const BASELINE_RUNS = 20;
/** The choice charts use coarser windows: at most this many, of at least MIN_CHOICE_RUNS runs where there are. */
const CHOICE_WINDOWS = 50;
const MIN_CHOICE_RUNS = 10;
/** The most-chosen prompts and models get a series each; the rest share one ("other"). */
const MAX_CHOICE_SERIES = 8;

interface Sums {
  n: number;
  sum: number;
}

interface Window {
  /** Runs (all roles) up to and including this window: its x on the axis. */
  run: number;
  runs: number;
  lastPk: number;
  /** The latest run time up to the end of this window (a running maximum, so it never decreases). */
  at: number;
  roles: Map<string, Sums>;
  prompts: Map<string, number>;
  models: Map<string, number>;
}

export interface RoleRewardSeries {
  role: string;
  /** Mean reward per window; null where the role had no run in it. */
  reward: (number | null)[];
  /** Mean over the role's runs in the last 20 windows (weighted by runs); null before its first run. */
  mean: (number | null)[];
  /** Mean reward of the role's first runs (`runs` of them), while it has runs after them; else null. */
  baseline: { reward: number; runs: number } | null;
}

export interface ChoiceSeries {
  /** The prompt or model; null for all the others together. */
  id: string | null;
  /** Its share of the runs in each choice window, 0–1. */
  share: number[];
}

export interface RunHistoryView {
  /** Run number (all roles) at the end of each window, and the latest run time by then. */
  runs: number[];
  at: number[];
  roles: RoleRewardSeries[];
  /** Share of runs per prompt and per model, over coarser windows ending at run numbers `runs`. */
  choices: { runs: number[]; prompts: ChoiceSeries[]; models: ChoiceSeries[] };
}

export class RunHistory {
  private windows: Window[] = [];
  private perWindow = 1;
  private lastPk = 0;
  private latestAt = -Infinity;
  private editsSeen = 0;
  private source: StoreReader | undefined;

  constructor(private readonly maxWindows = MAX_WINDOWS) {}

  /** Brings the windows up to date with `db`: reads the runs after the last one seen, applies the reward edits. */
  update(db: StoreReader): void {
    if (db !== this.source) this.reset(db);
    const { count, edits } = db.rewardEditsSince(this.editsSeen);
    if (!edits) this.reset(db);
    for (const e of edits ?? []) {
      // A run not read yet is read with its reward as it is now.
      if (e.pk > this.lastPk) continue;
      const sums = this.windowOf(e.pk)?.roles.get(e.role);
      if (sums) sums.sum += e.after - e.before;
    }
    this.editsSeen = count;
    for (;;) {
      const batch = db.runsAfter(this.lastPk, READ_BATCH);
      for (const r of batch) this.add(r);
      if (batch.length < READ_BATCH) break;
    }
  }

  /** Runs seen so far. */
  get totalRuns(): number {
    return this.windows.at(-1)?.run ?? 0;
  }

  /**
   * Where an event goes on the run axis: after run `pk` for the events that name their run (an export's
   * watermark, a deploy's), else after the last window whose runs all came before it; null with no runs.
   */
  positionOf(event: Pick<LearningEvent, 'at' | 'data'>): number | null {
    if (this.windows.length === 0) return null;
    const pk = runPkOf(event.data);
    if (pk !== undefined) {
      if (pk <= 0) return 0;
      const i = this.windowIndexOf(pk);
      if (i === undefined) return this.totalRuns;
      const w = this.windows[i]!;
      const before = i > 0 ? this.windows[i - 1]!.run : 0;
      return Math.max(before, w.run - (w.lastPk - pk));
    }
    let lo = 0;
    let hi = this.windows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.windows[mid]!.at <= event.at) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : this.windows[lo - 1]!.run;
  }

  view(): RunHistoryView {
    const windows = this.windows;
    const roles = new Set<string>();
    for (const w of windows) for (const role of w.roles.keys()) roles.add(role);
    return {
      runs: windows.map((w) => w.run),
      at: windows.map((w) => w.at),
      roles: [...roles].sort().map((role) => roleSeries(windows, role)),
      choices: choiceSeries(windows),
    };
  }

  private reset(db: StoreReader): void {
    this.source = db;
    this.windows = [];
    this.perWindow = 1;
    this.lastPk = 0;
    this.latestAt = -Infinity;
    // Edits made before now are in the rewards about to be read.
    this.editsSeen = db.rewardEditsSince(0).count;
  }

  private add(r: {
    pk: number;
    at: number;
    role: string;
    modelId: string;
    promptId: string;
    reward: number;
  }): void {
    let w = this.windows.at(-1);
    if (!w || w.runs >= this.perWindow) {
      w = {
        run: w?.run ?? 0,
        runs: 0,
        lastPk: r.pk,
        at: this.latestAt,
        roles: new Map(),
        prompts: new Map(),
        models: new Map(),
      };
      this.windows.push(w);
    }
    w.run++;
    w.runs++;
    w.lastPk = r.pk;
    this.lastPk = r.pk;
    if (r.at > this.latestAt) this.latestAt = r.at;
    w.at = this.latestAt;
    const sums = w.roles.get(r.role);
    if (sums) {
      sums.n++;
      sums.sum += r.reward;
    } else {
      w.roles.set(r.role, { n: 1, sum: r.reward });
    }
    w.prompts.set(r.promptId, (w.prompts.get(r.promptId) ?? 0) + 1);
    w.models.set(r.modelId, (w.models.get(r.modelId) ?? 0) + 1);
    if (this.windows.length > this.maxWindows) this.halve();
  }

  /** Merges neighbouring windows in pairs: half as many, each twice as long. */
  private halve(): void {
    const merged: Window[] = [];
    for (let i = 0; i < this.windows.length; i += 2) {
      const a = this.windows[i]!;
      const b = this.windows[i + 1];
      merged.push(b ? mergeWindows(a, b) : a);
    }
    this.windows = merged;
    this.perWindow *= 2;
  }

  private windowIndexOf(pk: number): number | undefined {
    let lo = 0;
    let hi = this.windows.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.windows[mid]!.lastPk < pk) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.windows.length ? lo : undefined;
  }

  private windowOf(pk: number): Window | undefined {
    const i = this.windowIndexOf(pk);
    return i === undefined ? undefined : this.windows[i];
  }
}

function mergeWindows(a: Window, b: Window): Window {
  const roles = new Map<string, Sums>();
  for (const [role, s] of [...a.roles, ...b.roles]) {
    const kept = roles.get(role);
    roles.set(role, kept ? { n: kept.n + s.n, sum: kept.sum + s.sum } : { ...s });
  }
  return {
    run: b.run,
    runs: a.runs + b.runs,
    lastPk: b.lastPk,
    at: b.at,
    roles,
    prompts: addCounts(a.prompts, b.prompts),
    models: addCounts(a.models, b.models),
  };
}

function addCounts(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const out = new Map(a);
  for (const [k, n] of b) out.set(k, (out.get(k) ?? 0) + n);
  return out;
}

/** The run an event's data names (an export's watermark, a deploy's last run), if any. */
function runPkOf(data: Record<string, unknown> | null): number | undefined {
  const pk = data?.watermarkPk ?? data?.deployPk;
  return typeof pk === 'number' && Number.isFinite(pk) ? pk : undefined;
}

function roleSeries(windows: Window[], role: string): RoleRewardSeries {
  const sums = windows.map((w) => w.roles.get(role));
  const reward = sums.map((s) => (s && s.n > 0 ? s.sum / s.n : null));
  const mean: (number | null)[] = [];
  let n = 0;
  let sum = 0;
  for (let i = 0; i < sums.length; i++) {
    const s = sums[i];
    n += s?.n ?? 0;
    sum += s?.sum ?? 0;
    const out = sums[i - ROLLING_WINDOWS];
    n -= out?.n ?? 0;
    sum -= out?.sum ?? 0;
    mean.push(n > 0 ? sum / n : null);
  }
  let baseline: RoleRewardSeries['baseline'] = null;
  let bn = 0;
  let bsum = 0;
  let total = 0;
  for (const s of sums) total += s?.n ?? 0;
  for (const s of sums) {
    if (bn >= BASELINE_RUNS) break;
    bn += s?.n ?? 0;
    bsum += s?.sum ?? 0;
  }
  // A baseline over all of a role's runs would compare it with itself.
  if (bn >= BASELINE_RUNS && total > bn) baseline = { reward: bsum / bn, runs: bn };
  return { role, reward, mean, baseline };
}

function choiceSeries(windows: Window[]): RunHistoryView['choices'] {
  const total = windows.at(-1)?.run ?? 0;
  if (total === 0) return { runs: [], prompts: [], models: [] };
  const groups = Math.max(1, Math.min(CHOICE_WINDOWS, Math.floor(total / MIN_CHOICE_RUNS)));
  const per = Math.ceil(windows.length / groups);
  const grouped: Window[] = [];
  for (let i = 0; i < windows.length; i += per) {
    grouped.push(windows.slice(i, i + per).reduce(mergeWindows));
  }
  // A short last group (a few runs) would swing between 0 and 100%: it joins the one before.
  const last = grouped.at(-1)!;
  const before = grouped.at(-2);
  if (before && last.runs * 2 < before.runs) grouped.splice(-2, 2, mergeWindows(before, last));
  return {
    runs: grouped.map((w) => w.run),
    prompts: shares(grouped, (w) => w.prompts),
    models: shares(grouped, (w) => w.models),
  };
}

function shares(windows: Window[], counts: (w: Window) => Map<string, number>): ChoiceSeries[] {
  const totals = new Map<string, number>();
  for (const w of windows) for (const [id, n] of counts(w)) totals.set(id, (totals.get(id) ?? 0) + n);
  const ranked = [...totals].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([id]) => id);
  // With one more than the limit, the last gets its own series rather than an "other" of one.
  const shown = ranked.length <= MAX_CHOICE_SERIES + 1 ? ranked : ranked.slice(0, MAX_CHOICE_SERIES);
  const series: ChoiceSeries[] = shown.map((id) => ({
    id,
    share: windows.map((w) => (counts(w).get(id) ?? 0) / w.runs),
  }));
  if (shown.length < ranked.length) {
    series.push({
      id: null,
      share: windows.map((w, i) => Math.max(0, 1 - series.reduce((t, s) => t + s.share[i]!, 0))),
    });
  }
  return series;
}
