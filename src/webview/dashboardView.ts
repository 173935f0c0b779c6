// The dashboard's page: reward over time, model and prompt performance, automation per role, the timeline of
// events and live training progress, for one DashboardState. The skeleton and its charts are built once; each
// state updates the charts in place and rebuilds the tables.

import type {
  AutomationView,
  DashboardState,
  EventView,
  ModelView,
  PromptView,
  TrainingProgress,
} from '../protocol';
import { age } from './ageClock';
import type { ChartType } from 'chart.js';
import { ChartSlot, modelChart, promptChart, rewardChart } from './charts';
import { append, h, icon, notice, progress, type Child } from './dom';
import { formatCount, formatDateTime, formatReward, formatSeconds, formatUsd, truncate } from './format';
import { readChartTheme } from './theme';

interface ChartCard<T extends ChartType> {
  section: HTMLElement;
  slot: ChartSlot<T>;
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
  const section = h(
    'section',
    { class: `card card-${key}`, attrs: { 'data-card': key, 'aria-label': title } },
    h('h2', {}, title),
    h('p', { class: 'caption muted' }, caption),
    box,
    empty,
    details,
  );
  return { section, slot: new ChartSlot<T>(canvas), box, empty, details };
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
    'Per role: the thin line is the reward of each bucket of runs, the thick line its rolling mean over 20 points.',
    'No runs yet: the chart fills in as your agent records runs.',
  );
  private readonly models = chartCard<'bubble'>(
    'models',
    'Models',
    'Average reward against average cost; a bigger bubble has more runs.',
    'No model has runs yet.',
  );
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
    this.models.section,
    this.prompts.section,
    this.automation,
    this.timeline,
  );

  constructor(root: HTMLElement) {
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
    this.renderModelTable(state.models);
    this.renderPromptTable(state.prompts);
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
            `${formatCount(state.totalRuns)} runs recorded`,
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
    const series = state.rewardSeries.filter((s) => s.points.length > 0);
    this.show(this.reward, series.length > 0, () => {
      this.reward.slot.show(rewardChart(series, theme));
      this.reward.slot.canvas.setAttribute('aria-label', rewardSummary(series));
    });
    this.show(this.models, state.models.length > 0, () =>
      this.models.slot.show(modelChart(state.models, theme)),
    );
    this.show(this.prompts, state.prompts.length > 0, () => {
      // Chart.js sizes to its box; the box grows with the number of prompts, so bars keep a readable height.
      this.prompts.box.style.height = `${Math.min(480, 80 + 32 * state.prompts.length)}px`;
      this.prompts.slot.show(promptChart(state.prompts, theme));
    });
  }

  private show<T extends ChartType>(card: ChartCard<T>, hasData: boolean, draw: () => void): void {
    card.box.hidden = !hasData;
    card.empty.hidden = hasData;
    if (hasData) draw();
    else card.slot.destroy();
  }

  private renderModelTable(models: ModelView[]): void {
    this.models.details.replaceChildren();
    if (models.length === 0) return;
    append(
      this.models.details,
      table(
        'Models',
        ['Model', 'Runs', 'Reward', '95% interval', 'Tokens / run', '$ / 1k tokens'],
        models.map((m) => [
          name(m.id),
          formatCount(m.count),
          formatReward(m.avgReward),
          `${formatReward(m.low)}–${formatReward(m.high)}`,
          formatCount(m.avgCostTokens),
          formatUsd(m.costPer1kTokens),
        ]),
      ),
    );
  }

  private renderPromptTable(prompts: PromptView[]): void {
    this.prompts.details.replaceChildren();
    if (prompts.length === 0) return;
    append(
      this.prompts.details,
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
        ? h('span', {}, `${formatCount(a.lastExport.count)} examples, `, age(a.lastExport.at))
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

function rewardSummary(series: DashboardState['rewardSeries']): string {
  const parts = series.map(({ role, points }) => {
    const last = points[points.length - 1];
    return last
      ? `${truncate(role, 40)}: rolling mean ${formatReward(last.mean)} after ${formatCount(last.run)} runs`
      : truncate(role, 40);
  });
  return `Reward over time. ${parts.join('; ')}`;
}
