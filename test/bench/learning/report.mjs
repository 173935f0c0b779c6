// The learning benchmark's report: episodes aggregated over seeds, the targets judged, Markdown tables for
// BENCHMARKS.md, and the regret chart (SVG, drawn by hand: no dependency).

import * as fs from 'node:fs';
import { pairedRatio, summarize } from './stats.mjs';

export const SECTION_START = '<!-- learning-bench:start -->';
export const SECTION_END = '<!-- learning-bench:end -->';

/** The targets of the issue, as numbers. */
export const TARGETS = {
  regretRatio: 0.5, // cumulative prompt regret at the last run ≤ this × the seed's ε-greedy, same seeds
  routerSavings: 0.3, // router cost ≥ 30% below always-best-model …
  routerRewardDrop: 0.02, // … at ≤ 2% lower mean reward (relative)
  recoveryRuns: 100, // back on the best arm within 100 runs of a degradation
  selectionGrowth: 2, // selection time per call at the largest store ≤ 2× the next one (O(arms), not O(runs))
};

// ---- aggregation ----

const per = (eps, f) => eps.map(f);

/** Aggregates the episodes of each (scenario, learner) over seeds. `episodes`: Map `${scenario}|${learner}` → []. */
export function aggregate(scenarios, learners, episodes) {
  const out = [];
  for (const s of scenarios) {
    const rows = [];
    for (const l of learners) {
      const eps = episodes.get(`${s.id}|${l.id}`);
      if (!eps?.length) continue;
      eps.sort((a, b) => a.seed - b.seed);
      const checkpoints = Object.keys(eps[0].regretAt).map(Number);
      const row = {
        learner: l,
        seeds: eps.map((e) => e.seed),
        n: eps.length,
        runs: eps[0].runs,
        regretAt: Object.fromEntries(checkpoints.map((c) => [c, summarize(per(eps, (e) => e.regretAt[c]))])),
        finalRegret: per(eps, (e) => e.regretAt[e.runs]),
        bestShare: summarize(per(eps, (e) => e.bestShare)),
        winGainFirst: summarize(per(eps, (e) => e.first.mu / e.first.muUniform - 1)),
        winGainAll: summarize(per(eps, (e) => e.all.mu / e.all.muUniform - 1)),
        mu: summarize(per(eps, (e) => e.all.mu)),
        violations: eps.reduce((t, e) => t + e.violations, 0),
        curve: curveStats(eps),
        curveEvery: eps[0].curveEvery,
      };
      if (s.kind === 'router') {
        Object.assign(row, {
          cost: summarize(per(eps, (e) => e.all.cost)),
          costBest: summarize(per(eps, (e) => e.all.costBest)),
          costCheap: summarize(per(eps, (e) => e.all.costCheap)),
          muBest: summarize(per(eps, (e) => e.all.muBest)),
          muCheap: summarize(per(eps, (e) => e.all.muCheap)),
          savings: summarize(per(eps, (e) => 1 - e.all.cost / e.all.costBest)),
          savingsFirst: summarize(per(eps, (e) => 1 - e.first.cost / e.first.costBest)),
          rewardDrop: summarize(per(eps, (e) => 1 - e.all.mu / e.all.muBest)),
        });
      }
      row.events = eps[0].events.map((ev, i) => {
        const all = per(eps, (e) => e.events[i]);
        return {
          label: ev.label,
          atRun: ev.atRun,
          bestChanged: ev.bestChanged,
          addedArm: ev.addedArm,
          isChange: !ev.addedArm,
          recovery: ev.bestChanged ? summarize(all.map((x) => x.recovery)) : undefined,
          recovered: all.filter((x) => x.bestChanged && !x.censored).length,
          regretAfter: summarize(all.map((x) => x.regretAfter)),
          bestShareAfter: summarize(all.map((x) => x.bestShareAfter)),
          shareAfter: ev.addedArm ? summarize(all.map((x) => x.shareAfter)) : undefined,
          shareFinal: ev.addedArm ? summarize(all.map((x) => x.shareFinal)) : undefined,
        };
      });
      rows.push(row);
    }
    out.push({ scenario: s, rows });
  }
  return out;
}

function curveStats(eps) {
  return eps[0].curve.map((_, i) => summarize(eps.map((e) => e.curve[i])));
}

// ---- targets ----

/** Every target, judged per learner (and per scenario where it applies). */
export function judgeTargets(agg, throughput) {
  const results = [];
  const seedRow = (rows) => rows.find((r) => r.learner.seedBaseline);
  for (const { scenario: s, rows } of agg) {
    const base = seedRow(rows);
    if (s.kind === 'prompt' && !s.events?.length && base) {
      for (const r of rows) {
        if (r === base || r.learner.reference) continue;
        const { ratio, lo, hi } = pairedRatio(r.finalRegret, base.finalRegret);
        results.push({
          target: 'regret',
          scenario: s.id,
          learner: r.learner,
          measured: `${ratio.toFixed(2)}× [${lo.toFixed(2)}, ${hi.toFixed(2)}]`,
          met: ratio <= TARGETS.regretRatio,
        });
      }
    }
    if (s.kind === 'router' && s.standard) {
      for (const r of rows) {
        if (r.learner.reference) continue;
        results.push({
          target: 'router',
          scenario: s.id,
          learner: r.learner,
          measured: `${pct(r.savings.mean)} cheaper, ${pct(r.rewardDrop.mean)} lower reward`,
          met: r.savings.mean >= TARGETS.routerSavings && r.rewardDrop.mean <= TARGETS.routerRewardDrop,
        });
      }
    }
    if (s.kind === 'router') {
      for (const r of rows) {
        if (r.learner.reference) continue;
        results.push({
          target: 'violations',
          scenario: s.id,
          learner: r.learner,
          measured: `${r.violations} in ${r.n * r.runs} runs`,
          met: r.violations === 0,
        });
      }
    }
    for (const r of rows) {
      if (r.learner.reference) continue;
      for (const ev of r.events) {
        if (!ev.isChange || !ev.bestChanged) continue;
        results.push({
          target: 'recovery',
          scenario: s.id,
          learner: r.learner,
          measured: `${ev.recovery.mean.toFixed(0)} runs [${ev.recovery.lo.toFixed(0)}, ${ev.recovery.hi.toFixed(0)}], ${ev.recovered}/${r.n} seeds moved`,
          met: ev.recovery.mean <= TARGETS.recoveryRuns && ev.recovered === r.n,
        });
      }
    }
  }
  const sizes = [...new Set((throughput ?? []).map((t) => t.size))].sort((a, b) => a - b);
  if (sizes.length > 1) {
    // The two largest stores: a window fills up as runs accumulate, so selection may slow down at first and
    // must then stay flat; O(runs) would cost 10× from 10k to 100k.
    const small = sizes[sizes.length - 2];
    const large = sizes[sizes.length - 1];
    for (const cfg of [...new Set(throughput.map((t) => t.config))]) {
      const a = throughput.find((t) => t.size === small && t.config === cfg);
      const b = throughput.find((t) => t.size === large && t.config === cfg);
      const growth = Math.max(a.selectPrompt / b.selectPrompt, a.selectModel / b.selectModel);
      results.push({
        target: 'throughput',
        scenario: `${kn(small)} → ${kn(large)} runs`,
        learner: { id: cfg, label: cfg },
        measured: `selection ${growth.toFixed(2)}× slower per call`,
        met: growth <= TARGETS.selectionGrowth,
      });
    }
  }
  return results;
}

// ---- formatting ----

const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '—');
const ci = (s, d = 1) => `${f(s.mean, d)} [${f(s.lo, d)}, ${f(s.hi, d)}]`;
const pct = (x, d = 1) => `${f(100 * x, d)}%`;
const signed = (x, d = 1) => `${x >= 0 ? '+' : '−'}${f(Math.abs(100 * x), d)}`;
const pctCi = (s, d = 1) => `${signed(s.mean, d)}% [${signed(s.lo, d)}, ${signed(s.hi, d)}]`;
const shareCi = (s) => `${f(100 * s.mean, 1)}% [${f(100 * s.lo, 1)}, ${f(100 * s.hi, 1)}]`;
/** USD per run → USD per 1,000 runs, the scale a team budgets in. */
const usd = (s) => `$${f(1000 * s.mean, 2)} [${f(1000 * s.lo, 2)}, ${f(1000 * s.hi, 2)}]`;
export const kn = (n) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));
const label = (l) => l.label ?? l.id;

export function table(header, rows) {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => '| ' + cells.map((c, i) => String(c).padEnd(w[i])).join(' | ') + ' |';
  return [line(header), '| ' + w.map((x) => '-'.repeat(x)).join(' | ') + ' |', ...rows.map(line)].join('\n');
}

const TARGET_TEXT = {
  regret: `Prompt regret at the last run ≤ ${TARGETS.regretRatio}× the seed's ε-greedy (same seeds; ratio of means, bootstrap 95% interval)`,
  router: `Router cost ≥ ${pct(TARGETS.routerSavings, 0)} below always-best-model at ≤ ${pct(TARGETS.routerRewardDrop, 0)} lower mean reward`,
  violations: 'No model above the cost cap chosen',
  recovery: `Back on the best arm within ${TARGETS.recoveryRuns} runs after it degrades (mean; every seed must move)`,
  throughput: `Selection does not grow with the runs stored: time per call at the largest store ≤ ${TARGETS.selectionGrowth}× the next size`,
};

function targetsMarkdown(targets) {
  const parts = [];
  for (const kind of Object.keys(TARGET_TEXT)) {
    const ts = targets.filter((t) => t.target === kind);
    if (!ts.length) continue;
    const learners = [...new Set(ts.map((t) => label(t.learner)))];
    const of = (l) => ts.filter((t) => label(t.learner) === l);
    const everywhere = learners.filter((l) => of(l).every((t) => t.met));
    const somewhere = learners
      .filter((l) => !everywhere.includes(l) && of(l).some((t) => t.met))
      .map(
        (l) =>
          `${l} (${of(l)
            .filter((t) => t.met)
            .map((t) => t.scenario)
            .join(', ')})`,
      );
    const several = learners.some((l) => of(l).length > 1);
    const verdict =
      `met ${several ? 'everywhere ' : ''}by ${everywhere.length ? everywhere.join(', ') : 'none'}` +
      (somewhere.length ? `; in part by ${somewhere.join('; ')}` : '');
    parts.push(
      `**${TARGET_TEXT[kind]}** — ${verdict}.\n\n` +
        table(
          ['learner', 'scenario', 'measured', 'result'],
          ts.map((t) => [label(t.learner), t.scenario, t.measured, t.met ? 'met' : '**missed**']),
        ),
    );
  }
  return parts.join('\n\n');
}

function claimsMarkdown(agg) {
  const prompt = agg.filter((a) => a.scenario.kind === 'prompt' && !a.scenario.events?.length);
  const router = agg.filter((a) => a.scenario.kind === 'router');
  const learnersOf = (group) => {
    const seen = new Map();
    for (const a of group)
      for (const r of a.rows) if (!r.learner.reference) seen.set(r.learner.id, r.learner);
    return [...seen.values()];
  };
  const cell = (a, l, f) => {
    const r = a.rows.find((x) => x.learner.id === l.id);
    return r ? f(r) : '—';
  };
  const win = table(
    ['learner', ...prompt.map((a) => a.scenario.id)],
    learnersOf(prompt).map((l) => [
      label(l),
      ...prompt.map((a) =>
        cell(a, l, (r) => `${pctCi(r.winGainFirst)} (all runs ${signed(r.winGainAll.mean)}%)`),
      ),
    ]),
  );
  const cost = table(
    ['learner', ...router.map((a) => a.scenario.id)],
    learnersOf(router).map((l) => [
      label(l),
      ...router.map((a) =>
        cell(a, l, (r) => `${pctCi(r.savingsFirst)} (all runs ${signed(r.savings.mean)}%)`),
      ),
    ]),
  );
  return (
    `**"+5–10% win rate" from the prompt bandit in the first 100 runs.** Win rate here is the expected reward of the ` +
    `chosen variant (for Bernoulli arms, the probability the run succeeds); the gain is relative to choosing a ` +
    `variant uniformly at random on the same tasks, over runs 1–100 (in brackets: 95% interval; then over all runs).\n\n` +
    win +
    `\n\n**"+10–20% cost savings" from the model router in the first 100 runs**, relative to always using the best ` +
    `model within the cap on the same tasks (negative: it spent more).\n\n` +
    cost
  );
}

function promptMarkdown(a) {
  const checkpoints = Object.keys(a.rows[0].regretAt).map(Number);
  return table(
    ['learner', ...checkpoints.map((c) => `regret @${kn(c)}`), 'runs on best variant', 'win rate vs uniform'],
    a.rows.map((r) => [
      label(r.learner),
      ...checkpoints.map((c) => ci(r.regretAt[c])),
      shareCi(r.bestShare),
      pctCi(r.winGainAll),
    ]),
  );
}

function routerMarkdown(a) {
  const r0 = a.rows[0];
  const last = r0.runs;
  const rows = a.rows.map((r) => [
    label(r.learner),
    usd(r.cost),
    pctCi({ mean: -r.savings.mean, lo: -r.savings.hi, hi: -r.savings.lo }),
    ci(r.mu, 3),
    pctCi({ mean: -r.rewardDrop.mean, lo: -r.rewardDrop.hi, hi: -r.rewardDrop.lo }),
    ci(r.regretAt[last]),
    String(r.violations),
  ]);
  rows.push(
    ['always the best model within the cap', usd(r0.costBest), '0', ci(r0.muBest, 3), '0', '0', '0'],
    [
      'always the cheapest model within the cap',
      usd(r0.costCheap),
      `${signed(r0.costCheap.mean / r0.costBest.mean - 1)}%`,
      ci(r0.muCheap, 3),
      `${signed(r0.muCheap.mean / r0.muBest.mean - 1)}%`,
      '—',
      '0',
    ],
  );
  return table(
    [
      'learner',
      'cost per 1k runs',
      'cost vs always-best',
      'mean reward',
      'reward vs always-best',
      `regret @${kn(last)}`,
      'cap violations',
    ],
    rows,
  );
}

function eventsMarkdown(agg) {
  const rows = [];
  for (const { scenario: s, rows: rs } of agg) {
    for (const r of rs) {
      for (const ev of r.events) {
        rows.push([
          s.id,
          `${ev.label} at run ${ev.atRun}`,
          label(r.learner),
          ev.recovery ? `${ci(ev.recovery, 0)} (${ev.recovered}/${r.n} moved)` : 'best arm unchanged',
          ci(ev.regretAfter),
          shareCi(ev.bestShareAfter),
          ev.addedArm ? `${shareCi(ev.shareAfter)} / ${shareCi(ev.shareFinal)}` : '—',
        ]);
      }
    }
  }
  return table(
    [
      'scenario',
      'event',
      'learner',
      'runs until on the new best arm',
      'regret after the event',
      'runs on the best arm after',
      'added arm: share after / last quarter',
    ],
    rows,
  );
}

function throughputMarkdown(rows) {
  return table(
    ['stored runs', 'config', 'selectPrompt / s', 'selectModel / s', 'select+select+recordRun / s'],
    rows.map((t) => [kn(t.size), t.config, f(t.selectPrompt, 0), f(t.selectModel, 0), f(t.recordLoop, 0)]),
  );
}

const heading = (s) => `#### ${s.title} (\`${s.id}\`)${s.note ? `\n\n${s.note}` : ''}`;

/** The "## Learning benchmark" section (without the markers). */
export function markdown({ agg, targets, throughput, meta, skipped }) {
  const prompt = agg.filter((a) => a.scenario.kind === 'prompt');
  const router = agg.filter((a) => a.scenario.kind === 'router');
  const out = [];
  out.push(`## Learning benchmark

Produced by \`npm run bench:learning\` (\`test/bench/learning/\`); the scenarios and learners are data in
\`test/bench/learning/scenarios.json\`. The learner under test is the real \`LearningPipeline\` (sql.js store in a
temporary workspace) driven through its public API; the simulator knows each arm's expected reward and the learner
does not. Every figure is a mean over seeds with its 95% confidence interval in brackets; learners on the same seed
face the same tasks and draws. **Regret** = Σ over runs of (best expected reward on that task − the chosen arm's),
so 10 means ten runs' worth of a whole point of reward lost.

- Commit: \`${meta.commit}\`${meta.dirty}
- Date: ${meta.date}
- Machine: ${meta.machine}
- Seeds: ${meta.seeds} per scenario and learner; ${meta.episodes} episodes in ${meta.seconds.toFixed(0)} s on ${meta.workers} workers
- Config keys of this build: ${meta.keys}${skipped.length ? `\n- Skipped: ${skipped.join('; ')}` : ''}

![Cumulative prompt regret](docs/regret.svg)

### Targets

${targetsMarkdown(targets)}

### The seed's claims, measured

${claimsMarkdown(agg)}

### Prompt bandit`);
  for (const a of prompt) out.push(`${heading(a.scenario)}\n\n${promptMarkdown(a)}`);
  out.push(
    `### Model router\n\nCost is USD per 1,000 runs (the models' price per token × tokens per run). Both baselines ` +
      `are computed from the ground truth on the same tasks. Regret counts reward only: a router that trades a ` +
      `little reward for a lot of cost shows some regret by design.`,
  );
  for (const a of router) out.push(`${heading(a.scenario)}\n\n${routerMarkdown(a)}`);
  out.push(
    `### Non-stationary scenarios\n\nRuns until on the new best arm: the learner's choices are read in windows of ` +
      `100 runs (those before the event included); the move is at the centre of the first window in which the new ` +
      `best arm has at least half of the runs, so a learner that switches cleanly k runs after the event scores k. ` +
      `One that never gets there counts as the runs left, and not as moved.\n\n${eventsMarkdown(agg)}`,
  );
  if (throughput?.length) {
    out.push(
      `### Throughput\n\nThe real pipeline with that many runs stored (written to the inbox before open, ingested on ` +
        `open); calls per second, sequential, median of 5 rounds that alternate the configs, after 200 warm-up calls. ` +
        `selectModel cycles through the tiers with a ` +
        `cap of $0.01 per 1k tokens; the last column is a full agent step (both selections and an awaited recordRun).\n\n` +
        throughputMarkdown(throughput),
    );
  }
  return out.join('\n\n');
}

/** Replaces the text between the markers in `file` (appending the markers at the end if absent). */
export function writeSection(file, text) {
  const block = `${SECTION_START}\n${text}\n${SECTION_END}`;
  let current = '';
  try {
    current = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
  }
  const start = current.indexOf(SECTION_START);
  const end = current.indexOf(SECTION_END);
  let next;
  if (start >= 0 && end > start) {
    next = current.slice(0, start) + block + current.slice(end + SECTION_END.length);
  } else {
    next = (current === '' ? '' : current.replace(/\n*$/, '\n\n')) + block + '\n';
  }
  fs.writeFileSync(file, next);
}

// ---- the chart ----

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

function niceStep(max, ticks) {
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
}

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Cumulative prompt regret vs runs, one panel per prompt scenario, one line per learner (mean over seeds) with
 * its 95% band. The uniform reference is left out: its linear regret would flatten every other line.
 */
export function regretSvg(agg, { seeds }) {
  const panels = agg.filter((a) => a.scenario.kind === 'prompt');
  const learners = [];
  for (const a of panels)
    for (const r of a.rows)
      if (!r.learner.reference && !learners.some((l) => l.id === r.learner.id)) learners.push(r.learner);
  const color = new Map(learners.map((l, i) => [l.id, PALETTE[i % PALETTE.length]]));
  const cols = 2;
  const pw = 470;
  const ph = 300;
  const m = { l: 58, r: 16, t: 34, b: 44 };
  const legendH = 28 + 20 * Math.ceil(learners.length / 3);
  const W = cols * pw;
  const H = legendH + Math.ceil(panels.length / cols) * ph + 24;
  const s = [];
  s.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="15" font-weight="600">Cumulative prompt regret (mean over ${seeds} seeds, 95% band) — lower is better</text>`,
  );
  learners.forEach((l, i) => {
    const x = 24 + (i % 3) * (W / 3);
    const y = 40 + 20 * Math.floor(i / 3);
    s.push(
      `<line x1="${x}" y1="${y - 4}" x2="${x + 24}" y2="${y - 4}" stroke="${color.get(l.id)}" stroke-width="2.5"/>`,
      `<text x="${x + 30}" y="${y}">${esc(label(l))}</text>`,
    );
  });
  panels.forEach((a, p) => {
    const ox = (p % cols) * pw;
    const oy = legendH + Math.floor(p / cols) * ph;
    const rows = a.rows.filter((r) => !r.learner.reference);
    const runs = rows[0].runs;
    const every = rows[0].curveEvery;
    const yMax = Math.max(1e-9, ...rows.flatMap((r) => r.curve.map((c) => c.hi)));
    const yStep = niceStep(yMax, 5);
    const yTop = Math.ceil(yMax / yStep) * yStep;
    const xStep = niceStep(runs, 5);
    const iw = pw - m.l - m.r;
    const ih = ph - m.t - m.b;
    const X = (x) => ox + m.l + (x / runs) * iw;
    const Y = (y) => oy + m.t + ih - (y / yTop) * ih;
    s.push(
      `<text x="${ox + m.l + iw / 2}" y="${oy + 18}" text-anchor="middle" font-weight="600">${esc(a.scenario.id)}</text>`,
    );
    for (let y = 0; y <= yTop + 1e-9; y += yStep) {
      s.push(
        `<line x1="${X(0)}" y1="${Y(y)}" x2="${X(runs)}" y2="${Y(y)}" stroke="#e5e5e5"/>`,
        `<text x="${X(0) - 6}" y="${Y(y) + 4}" text-anchor="end" fill="#444">${+y.toFixed(6)}</text>`,
      );
    }
    for (let x = 0; x <= runs; x += xStep) {
      s.push(
        `<line x1="${X(x)}" y1="${Y(0)}" x2="${X(x)}" y2="${Y(0) + 4}" stroke="#444"/>`,
        `<text x="${X(x)}" y="${Y(0) + 17}" text-anchor="middle" fill="#444">${x}</text>`,
      );
    }
    s.push(
      `<line x1="${X(0)}" y1="${Y(0)}" x2="${X(runs)}" y2="${Y(0)}" stroke="#444"/>`,
      `<line x1="${X(0)}" y1="${Y(0)}" x2="${X(0)}" y2="${Y(yTop)}" stroke="#444"/>`,
      `<text x="${X(runs / 2)}" y="${oy + ph - 8}" text-anchor="middle" fill="#444">runs</text>`,
      `<text transform="translate(${ox + 14} ${Y(yTop / 2)}) rotate(-90)" text-anchor="middle" fill="#444">cumulative regret</text>`,
    );
    for (const r of rows) {
      const c = color.get(r.learner.id);
      const pts = r.curve.map((q, i) => [X((i + 1) * every), q]);
      const band = [
        [X(0), Y(0)],
        ...pts.map(([x, q]) => [x, Y(q.hi)]),
        ...[...pts].reverse().map(([x, q]) => [x, Y(Math.max(0, q.lo))]),
      ];
      s.push(
        `<polygon points="${band.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="${c}" fill-opacity="0.12" stroke="none"/>`,
        `<polyline points="${[[X(0), Y(0)], ...pts.map(([x, q]) => [x, Y(q.mean)])].map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}" fill="none" stroke="${c}" stroke-width="2"/>`,
      );
    }
    for (const ev of a.scenario.events ?? []) {
      s.push(
        `<line x1="${X(ev.atRun)}" y1="${Y(0)}" x2="${X(ev.atRun)}" y2="${Y(yTop)}" stroke="#888" stroke-dasharray="4 3"/>`,
        `<text x="${X(ev.atRun) + 4}" y="${Y(yTop) + 12}" fill="#666">${esc(ev.addArm ? `${ev.addArm.id} added` : `${ev.arm} degrades`)}</text>`,
      );
    }
  });
  s.push('</svg>');
  return s.join('\n') + '\n';
}
