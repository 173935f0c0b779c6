// The dashboard's page: reward over time, model and prompt performance, automation per role, the timeline of
// events and live training progress, for one DashboardState. The skeleton and its charts are built once; each
// state updates the charts in place and rebuilds the tables.

import type {
  AutomationView,
  BestArmView,
  DashboardState,
  EventView,
  HistoryView,
  ModelView,
  PromptView,
  TrainingProgress,
} from '../protocol';
import { age } from './ageClock';
import type { ChartType } from 'chart.js';
import { eventMarkers, modelCostPlot, type EventMarker } from './chartData';
import { ChartSlot, choiceChart, historyChart, modelChart, promptChart } from './charts';
import { append, h, icon, notice, progress, type Child } from './dom';
import {
  formatCount,
  formatCountOf,
  formatDateTime,
  formatReward,
  formatSeconds,
  formatTokens,
  formatUsd,
  truncate,
} from './format';
import { readChartTheme } from './theme';

interface ChartCard<T extends ChartType> {
  section: HTMLElement;
  slot: ChartSlot<T>;
  caption: HTMLElement;
  box: HTMLElement;
  empty: HTMLElement;
  details: HTMLElement;
}

function chartCard<T extends ChartType>(
  key: string,
  title: string,
  caption: string,
  emptyText: string,
): ChartCard<T> {
  const canvas = h('canvas', { attrs: { role: 'img', 'aria-label': title } });
  const box = h('div', { class: 'chart-box' }, canvas);
  const empty = h('p', { class: 'empty muted' }, emptyText);
  const details = h('div', { class: 'details' });
  const captionText = h('p', { class: 'caption muted' }, caption);
  const section = h(
    'section',
    { class: `card card-${key}`, attrs: { 'data-card': key, 'aria-label': title } },
    h('h2', {}, title),
    captionText,
    box,
    empty,
    details,
  );
  return { section, slot: new ChartSlot<T>(canvas), caption: captionText, box, empty, details };
}

export class DashboardView {
  private state: DashboardState | undefined;
  private training: TrainingProgress | null = null;
  private readonly header = h('header', { class: 'header' });
  private readonly notices = h('div', { class: 'notices' });
  private readonly trainingCard = h('section', {
    class: 'card card-training',
    attrs: { 'data-card': 'training', 'aria-label': 'Training' },
  });
  private readonly reward = chartCard<'line'>(
    'reward',
    'Reward over time',
    'All roles on one axis of runs in the order recorded. Per role: the thin line is the mean reward of each ' +
      'window of runs, the thick line its rolling mean, the dashed line its baseline (the mean of its first runs). ' +
      'Marks along the top: exports, trainings, deploys, drift alarms and rollbacks.',
    'No runs yet: the chart fills in as your agent records runs.',
  );
  private readonly promptShare = chartCard<'line'>(
    'prompt-share',
    'Prompts chosen',
    'Share of the runs (all roles) that used each prompt, per window of runs: a bandit that learns picks its best more often.',
    'No prompt has runs yet.',
  );
  private readonly modelShare = chartCard<'line'>(
    'model-share',
    'Models chosen',
    'Share of the runs (all roles) that used each model, per window of runs: a router that learns sends more to what works.',
    'No model has runs yet.',
  );
  private readonly models = chartCard<'bubble'>(
    'models',
    'Models',
    'Average reward against average cost per run; a bigger bubble has more runs.',
    'No model has runs yet.',
  );
  /** The events marked on the reward chart, as text for screen readers and tests (the canvas is a picture). */
  private readonly markerList = h('ul', {
    class: 'visually-hidden chart-markers',
    attrs: { 'aria-label': 'Marked events' },
  });
  private readonly prompts = chartCard<'bar' | 'line'>(
    'prompts',
    'Prompts',
    'Mean reward (◆) with its 95% interval; ★ marks the prompt the bandit prefers now.',
    'No prompt has runs yet.',
  );
  private readonly automation = h('section', {
    class: 'card card-automation',
    attrs: { 'data-card': 'automation', 'aria-label': 'Automation' },
  });
  private readonly timeline = h('section', {
    class: 'card card-timeline',
    attrs: { 'data-card': 'timeline', 'aria-label': 'Timeline' },
  });
  private readonly grid = h(
    'div',
    { class: 'grid' },
    this.reward.section,
    this.promptShare.section,
    this.modelShare.section,
    this.models.section,
    this.prompts.section,
    this.automation,
    this.timeline,
  );

  constructor(root: HTMLElement) {
    this.reward.details.append(this.markerList);
    append(root, this.header, this.notices, this.trainingCard, this.grid);
    this.render(undefined);
  }

  render(state: DashboardState | undefined): void {
    this.state = state;
    if (state) this.training = state.training;
    this.renderHeader();
    this.renderTraining();
    const ready = state?.ready ?? false;
    this.grid.hidden = !ready;
    this.trainingCard.hidden = !ready;
    if (!state || !ready) return;
    this.drawCharts();
    this.renderModelTable(state.models, state.bestModel);
    this.renderPromptTable(state.prompts, state.bestPrompt);
    this.renderAutomation(state.automation);
    this.renderTimeline(state.events);
  }

  setTraining(progress: TrainingProgress | null): void {
    this.training = progress;
    if (this.state) this.state = { ...this.state, training: progress };
    this.renderTraining();
  }

  /** The state as shown now, live training included, for the page to save. */
  current(): DashboardState | undefined {
    return this.state;
  }

  /** Redraws the charts in the current theme's colours. */
  retheme(): void {
    if (this.state?.ready) this.drawCharts();
  }

  private renderHeader(): void {
    const state = this.state;
    this.header.replaceChildren();
    append(
      this.header,
      h(
        'h1',
        {},
        icon('graph-line'),
        h('span', {}, 'Agent Learning'),
        state ? h('span', { class: 'workspace' }, state.workspaceName) : null,
      ),
      state?.ready
        ? // Marked for Element Timing: painted in the same frame as the charts and tables (one render task).
          h(
            'p',
            { class: 'muted total-runs', attrs: { elementtiming: 'total-runs' } },
            `${formatCountOf(state.totalRuns, 'run')} recorded`,
          )
        : null,
    );
    const notices: Child[] = [];
    if (!state) notices.push(notice('loading~spin', 'Connecting to Agent Learning…'));
    else if (!state.ready)
      notices.push(notice('loading~spin', `Opening the experience database of ${state.workspaceName}…`));
    if (state && !state.trusted) {
      notices.push(
        notice('shield', 'Restricted Mode: training and deploy wait until you trust this workspace.'),
      );
    }
    if (state?.ready && state.totalRuns === 0) {
      notices.push(
        notice('info', 'No runs yet. The Agent Learning sidebar shows how to connect your agent.'),
      );
    }
    this.notices.replaceChildren();
    append(this.notices, ...notices);
  }

  private renderTraining(): void {
    const t = this.training;
    const body: Child[] = [h('h2', {}, icon('mortar-board'), h('span', {}, 'Training'))];
    if (!t) {
      body.push(h('p', { class: 'muted' }, 'No training running.'));
    } else {
      const pct = t.total > 0 ? Math.round((100 * Math.min(t.step, t.total)) / t.total) : 0;
      body.push(
        h('p', { class: 'training-role' }, `LoRA adapter for ${t.role}`),
        progress(t.step, t.total, `step ${formatCount(t.step)} / ${formatCount(t.total)} (${pct}%)`),
        h(
          'dl',
          { class: 'training-figures' },
          h('dt', {}, 'Loss'),
          h('dd', { attrs: { 'data-figure': 'loss' } }, t.loss === null ? '—' : t.loss.toFixed(4)),
          h('dt', {}, 'Time left'),
          h('dd', { attrs: { 'data-figure': 'eta' } }, t.etaS === null ? '—' : formatSeconds(t.etaS)),
        ),
      );
    }
    this.trainingCard.replaceChildren();
    append(this.trainingCard, ...body);
  }

  private drawCharts(): void {
    const state = this.state;
    if (!state) return;
    const theme = readChartTheme();
    const history = state.history;
    const markers = eventMarkers(state.events);
    this.show(this.reward, history.runs.length > 0, () => {
      this.reward.slot.show(historyChart(history, markers, theme));
      this.reward.slot.canvas.setAttribute('aria-label', rewardSummary(history));
    });
    this.renderMarkers(history.runs.length > 0 ? markers : []);
    const { choices } = history;
    this.show(this.promptShare, choices.prompts.length > 0, () =>
      this.promptShare.slot.show(
        choiceChart({ runs: choices.runs, series: choices.prompts }, 'prompt', theme),
      ),
    );
    this.show(this.modelShare, choices.models.length > 0, () =>
      this.modelShare.slot.show(choiceChart({ runs: choices.runs, series: choices.models }, 'model', theme)),
    );
    const plot = modelCostPlot(state.models);
    this.models.caption.textContent =
      plot.unit === 'usd'
        ? 'Average reward against average cost per run in dollars (prices from model_variants.json); a bigger bubble has more runs.'
        : 'Average reward against average tokens per run (not every model has a price in model_variants.json, so not in dollars); a bigger bubble has more runs.';
    this.show(this.models, plot.points.length > 0, () => {
      this.models.slot.show(modelChart(plot, theme));
      this.models.slot.canvas.setAttribute(
        'aria-label',
        `Models by reward and cost. ${plot.points
          .map(
            (p) =>
              `${truncate(p.model.id, 40)}: reward ${formatReward(p.model.avgReward)}, ${plot.unit === 'usd' ? formatUsd(p.cost) : formatTokens(p.cost)} per run`,
          )
          .join('; ')}`,
      );
    });
    this.show(this.prompts, state.prompts.length > 0, () => {
      // Chart.js sizes to its box; the box grows with the number of prompts, so bars keep a readable height.
      this.prompts.box.style.height = `${Math.min(480, 80 + 32 * state.prompts.length)}px`;
      this.prompts.slot.show(promptChart(state.prompts, theme));
    });
  }

  private renderMarkers(markers: EventMarker[]): void {
    this.markerList.replaceChildren(
      ...markers.map((m) =>
        h(
          'li',
          { attrs: { 'data-kind': m.kind, 'data-run': String(m.run), dir: 'auto' } },
          `${m.label} after run ${formatCount(m.run)}: ${truncate(m.event.message, 200)}`,
        ),
      ),
    );
  }

  private show<T extends ChartType>(card: ChartCard<T>, hasData: boolean, draw: () => void): void {
    card.box.hidden = !hasData;
    card.empty.hidden = hasData;
    if (hasData) draw();
    else card.slot.destroy();
  }

  private renderModelTable(models: ModelView[], best: BestArmView | null): void {
    this.models.details.replaceChildren();
    if (models.length === 0) return;
    append(
      this.models.details,
      bestLine('model', best),
      table(
        'Models',
        ['Model', 'Runs', 'Reward', '95% interval', 'Tokens / run', '$ / run', '$ / 1k tokens'],
        models.map((m) => [
          name(m.id),
          formatCount(m.count),
          formatReward(m.avgReward),
          `${formatReward(m.low)}–${formatReward(m.high)}`,
          m.avgCostTokens === null ? '—' : formatCount(m.avgCostTokens),
          formatUsd(
            m.avgCostTokens === null || m.costPer1kTokens === null
              ? null
              : (m.avgCostTokens / 1000) * m.costPer1kTokens,
          ),
          formatUsd(m.costPer1kTokens),
        ]),
      ),
    );
  }

  private renderPromptTable(prompts: PromptView[], best: BestArmView | null): void {
    this.prompts.details.replaceChildren();
    if (prompts.length === 0) return;
    append(
      this.prompts.details,
      bestLine('prompt', best),
      table(
        'Prompts',
        ['Prompt', 'Runs', 'Reward', '95% interval', 'Bandit'],
        prompts.map((p) => [
          name(p.id),
          formatCount(p.count),
          formatReward(p.avgReward),
          `${formatReward(p.low)}–${formatReward(p.high)}`,
          p.preferred ? h('span', { class: 'preferred' }, icon('star-full'), h('span', {}, 'preferred')) : '',
        ]),
      ),
    );
  }

  private renderAutomation(automation: AutomationView[]): void {
    const rows = automation.map((a) => [
      name(a.role),
      onOff(a.autoExport),
      a.autoTrain && a.trainBlocked ? blocked(a.trainBlocked) : onOff(a.autoTrain),
      onOff(a.autoDeploy),
      adapterState(a.adapter),
      progress(
        a.exportProgress.current,
        a.exportProgress.threshold,
        `${formatCount(a.exportProgress.current)} / ${formatCount(a.exportProgress.threshold)} runs`,
      ),
      progress(
        a.trainProgress.current,
        a.trainProgress.threshold,
        `${formatCount(a.trainProgress.current)} / ${formatCount(a.trainProgress.threshold)} examples`,
      ),
      a.lastExport
        ? h('span', {}, `${formatCountOf(a.lastExport.count, 'example')}, `, age(a.lastExport.at))
        : 'never',
    ]);
    this.automation.replaceChildren(
      h('h2', {}, 'Automation'),
      h(
        'p',
        { class: 'caption muted' },
        'Per role: which steps run by themselves, and how far each is from its next run.',
      ),
    );
    append(
      this.automation,
      rows.length === 0
        ? h('p', { class: 'empty muted' }, 'No role has runs yet.')
        : table(
            'Automation',
            [
              'Role',
              'Auto export',
              'Auto train',
              'Auto deploy',
              'Adapter',
              'Next export',
              'Next training',
              'Last export',
            ],
            rows,
          ),
    );
  }

  private renderTimeline(events: EventView[]): void {
    const sorted = [...events].sort((a, b) => b.at - a.at);
    this.timeline.replaceChildren(h('h2', {}, 'Timeline'));
    append(
      this.timeline,
      sorted.length === 0
        ? h('p', { class: 'empty muted' }, 'No exports, trainings, deployments or drift alarms yet.')
        : h(
            'ol',
            { class: 'timeline' },
            ...sorted.map((e) => {
              const kind = eventKind(e.kind);
              return h(
                'li',
                { class: `event event-${kind}`, attrs: { 'data-event-id': String(e.id) } },
                icon(EVENT_KINDS[kind].icon),
                h(
                  'div',
                  { class: 'event-body' },
                  h(
                    'div',
                    { class: 'event-head' },
                    h(
                      'span',
                      { class: 'event-kind', attrs: { title: truncate(e.kind, 200), dir: 'auto' } },
                      EVENT_KINDS[kind].label || e.kind,
                    ),
                    e.role
                      ? h(
                          'span',
                          { class: 'chip', attrs: { title: truncate(e.role, 200), dir: 'auto' } },
                          e.role,
                        )
                      : null,
                    h('span', { class: 'muted' }, age(e.at), ` · ${formatDateTime(e.at)}`),
                  ),
                  h('div', { class: 'event-message', attrs: { dir: 'auto' } }, e.message),
                ),
              );
            }),
          ),
    );
  }
}

/** How the timeline shows the event kinds it knows; others show their kind as it is. */
const EVENT_KINDS = {
  export: { icon: 'export', label: 'Export' },
  training: { icon: 'mortar-board', label: 'Training' },
  deploy: { icon: 'rocket', label: 'Deploy' },
  drift: { icon: 'warning', label: 'Drift alarm' },
  rollback: { icon: 'discard', label: 'Rollback' },
  other: { icon: 'circle-filled', label: '' },
} as const;

function eventKind(kind: string): keyof typeof EVENT_KINDS {
  const k = kind.toLowerCase();
  if (k.startsWith('export')) return 'export';
  if (k.startsWith('train')) return 'training';
  if (k.startsWith('deploy')) return 'deploy';
  if (k.startsWith('drift')) return 'drift';
  if (k.startsWith('rollback') || k.startsWith('roll-back')) return 'rollback';
  return 'other';
}

function name(text: string): HTMLElement {
  return h('span', { class: 'name', attrs: { title: truncate(text, 200), dir: 'auto' } }, text);
}

/** Auto-train is on but cannot run: says so, with the reason, rather than a plain "on" that never happens. */
function blocked(reason: string): HTMLElement {
  return h('span', { class: 'blocked' }, icon('warning'), h('span', {}, `on, but ${reason}`));
}

function adapterState(adapter: AutomationView['adapter']): HTMLElement | string {
  if (adapter === 'trained')
    return h('span', { class: 'trained' }, icon('package'), h('span', {}, 'trained, not deployed'));
  return adapter === 'deployed' ? 'deployed' : '—';
}

function onOff(on: boolean): HTMLElement {
  return h(
    'span',
    { class: on ? 'on' : 'off' },
    icon(on ? 'check' : 'circle-slash'),
    h('span', {}, on ? 'on' : 'off'),
  );
}

function table(label: string, headers: string[], rows: (string | Node)[][]): HTMLElement {
  const wrap = h(
    'div',
    { class: 'table-wrap', attrs: { role: 'region', 'aria-label': `${label} table` } },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...headers.map((text) => h('th', { attrs: { scope: 'col' } }, text)))),
      h('tbody', {}, ...rows.map((cells) => h('tr', {}, ...cells.map((cell) => h('td', {}, cell))))),
    ),
  );
  tableSizes.observe(wrap);
  tableSizes.observe(wrap.firstElementChild!);
  return wrap;
}

/**
 * Makes a table's wrapper a Tab stop while the table is wider than it, so the arrow keys can scroll it, and no
 * Tab stop while it fits, where it would do nothing. Watches the wrapper (the column narrows) and the table (its
 * content widens as fonts load); a wrapper that a new state replaced is let go.
 */
const tableSizes = new ResizeObserver((entries) => {
  for (const { target } of entries) {
    const wrap = target.classList.contains('table-wrap') ? target : target.parentElement;
    if (!wrap?.isConnected) {
      tableSizes.unobserve(target);
      continue;
    }
    if (wrap.scrollWidth > wrap.clientWidth) wrap.setAttribute('tabindex', '0');
    else wrap.removeAttribute('tabindex');
  }
});

/**
 * "Best so far" only once the leader's interval is clear of every other's; before that it is "leading, not yet
 * sure", since a mean over a few runs can lead by chance.
 */
function bestLine(what: 'model' | 'prompt', best: BestArmView | null): Child {
  if (!best) return null;
  return h(
    'p',
    { class: `best ${best.separated ? 'best-sure' : 'best-leading'}`, attrs: { 'data-best': what } },
    icon(best.separated ? 'pass' : 'question'),
    h('span', { class: 'best-label' }, best.separated ? 'Best so far:' : 'Leading, not yet sure:'),
    ' ',
    name(best.id),
    h(
      'span',
      { class: 'muted' },
      best.separated
        ? ` — ${formatReward(best.avgReward)}, its 95% interval (${formatReward(best.low)}–${formatReward(best.high)}) clear of every other ${what}'s`
        : ` — ${formatReward(best.avgReward)}, but its 95% interval (${formatReward(best.low)}–${formatReward(best.high)}) still overlaps another ${what}'s`,
    ),
  );
}

function rewardSummary(history: HistoryView): string {
  const parts = history.roles.map(({ role, mean, baseline }) => {
    const last = mean.at(-1);
    const runs = history.runs.at(-1) ?? 0;
    if (last === null || last === undefined) return truncate(role, 40);
    const from = baseline
      ? ` (baseline ${formatReward(baseline.reward)} over its first ${formatCountOf(baseline.runs, 'run')})`
      : '';
    return `${truncate(role, 40)}: rolling mean ${formatReward(last)} after ${formatCountOf(runs, 'run')}${from}`;
  });
  return `Reward over time. ${parts.join('; ')}`;
}
