// The sidebar's content for one SidebarState: KPIs, progress per role, the best arms, recent runs with
// Accept/Reject, and the actions; or the not-ready and first-run (how to connect an agent) states.

import type {
  BestArmView,
  RoleProgressView,
  RunRow,
  SidebarState,
  Verdict,
  WebviewCommand,
} from '../protocol';
import { age } from './ageClock';
import { button, h, icon, notice, progress, type Child } from './dom';
import {
  formatCount,
  formatCountOf,
  formatDurationMs,
  formatReward,
  formatRewardDelta,
  truncate,
} from './format';
import { RovingFocus } from './rovingFocus';

export interface SidebarActions {
  feedback(runId: string, verdict: Verdict): void;
  /** Opens the run in the run view (an editor tab). */
  openRun(runId: string): void;
  command(command: WebviewCommand): void;
  /** A code block's Copy button. */
  copy(text: string): void;
}

/** The window the KPIs' average reward is computed over (SidebarState.kpis, from the store's recentStats(100)). */
const RECENT_WINDOW = 100;
/** Rewards closer than this to the previous window's read as flat: two decimals is all the view shows. */
const TREND_EPSILON = 0.005;

/** activate() rather than .exports: the exports are undefined until Agent Learning has activated. */
export const API_SNIPPET = [
  '// package.json: "extensionDependencies": ["agent-learning.agent-learning"]',
  "const api = await vscode.extensions.getExtension('agent-learning.agent-learning').activate();",
  'const result = { input: prompt, output: code, compile: true, tests: { passed: 9, total: 10 } };',
  "await api.recordRun(taskSlug, modelId, promptId, result, 'coder');",
].join('\n');

/**
 * Works as written in a VS Code terminal opened on the folder: the extension puts `agent-learning` on its PATH
 * (src/extension/cliOnPath.ts); the CLI is not on the npm registry, so `npx agent-learning` would not.
 */
export const CLI_SNIPPET =
  `echo '{"taskSlug":"fix-login","modelId":"qwen2.5-coder:7b","promptId":"default","role":"coder",` +
  `"result":{"input":"Fix the login redirect","output":"return redirect(next)","compile":true}}' | agent-learning record`;

/** How long a Copy button says "Copied" before it reads "Copy" again. */
const COPIED_MS = 2000;

/**
 * `runFocus` keeps the latest runs' Tab stop across renders: the page passes the same one each time (the list is
 * one Tab stop, the arrow keys move within it).
 */
export function sidebarContent(
  state: SidebarState | undefined,
  actions: SidebarActions,
  now: number,
  runFocus = new RovingFocus(),
): Child[] {
  if (!state) return [notice('loading~spin', 'Connecting to Agent Learning…')];
  const problems = problemList(state.problems);
  if (!state.ready) {
    return [problems, notice('loading~spin', `Opening the experience database of ${state.workspaceName}…`)];
  }
  const restricted =
    !state.trusted &&
    notice(
      'shield',
      'Restricted Mode: recording and feedback work; training and deploy wait until you trust this workspace.',
    );
  if (state.kpis.runs === 0) return [problems, restricted, firstRun(state, actions)];
  return [
    problems,
    restricted,
    kpis(state),
    actionBar(state, actions),
    roleProgress(state.roles),
    best(state.bestModel, state.bestPrompt),
    recentRuns(state.recentRuns, actions, now, runFocus),
    footer(actions),
  ];
}

function problemList(problems: string[]): Child {
  if (problems.length === 0) return null;
  return h(
    'ul',
    { class: 'problems', attrs: { 'aria-label': 'Problems' } },
    ...problems.map((p) => h('li', { class: 'problem' }, icon('warning'), h('span', {}, p))),
  );
}

function section(title: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'section' }, h('h2', { class: 'section-title' }, title), ...children);
}

function firstRun(state: SidebarState, actions: SidebarActions): HTMLElement {
  return h(
    'section',
    { class: 'section first-run' },
    h('h2', { class: 'first-run-title' }, icon('plug'), h('span', {}, 'Connect your agent')),
    h(
      'p',
      {},
      `No runs recorded in ${state.workspaceName} yet. Agent Learning learns from the runs your coding agent ` +
        'records: each run with its result (compile, tests, errors, your verdict) becomes a reward, and good runs ' +
        'become training data.',
    ),
    h('h3', {}, 'From a VS Code extension'),
    codeBlock('Extension API example', API_SNIPPET, actions),
    h('h3', {}, 'From a terminal, a script or a CLI agent'),
    h(
      'p',
      { class: 'muted' },
      'In a VS Code terminal (Terminal: Create New Terminal) on this folder, the agent-learning command is on the PATH:',
    ),
    codeBlock('Command line example', CLI_SNIPPET, actions),
    h('p', { class: 'muted' }, 'Runs appear here as they arrive.'),
    h(
      'div',
      { class: 'button-row' },
      configButton(actions),
      button({
        label: 'Show Log',
        icon: 'output',
        focusKey: 'cmd:showLog',
        onClick: () => actions.command('showLog'),
      }),
    ),
  );
}

/** A code block with a Copy button that says "Copied" (to screen readers too, through its status region). */
function codeBlock(label: string, text: string, actions: SidebarActions): HTMLElement {
  const status = h('span', { class: 'copy-status', attrs: { role: 'status' } });
  const copy = button({
    label: 'Copy',
    icon: 'copy',
    kind: 'icon',
    ariaLabel: `Copy ${label.toLowerCase()}`,
    focusKey: `copy:${label}`,
    onClick: () => {
      actions.copy(text);
      status.textContent = 'Copied';
      copy.querySelector('.codicon')?.classList.replace('codicon-copy', 'codicon-check');
      setTimeout(() => {
        status.textContent = '';
        copy.querySelector('.codicon')?.classList.replace('codicon-check', 'codicon-copy');
      }, COPIED_MS);
    },
  });
  return h(
    'div',
    { class: 'code-block' },
    h('pre', { class: 'snippet', attrs: { 'aria-label': label, tabindex: '0' } }, h('code', {}, text)),
    h('div', { class: 'code-block-actions' }, status, copy),
  );
}

function kpis(state: SidebarState): HTMLElement {
  const { runs, avgReward, previousAvgReward, avgCost, avgDuration } = state.kpis;
  const windowSize = Math.min(runs, RECENT_WINDOW);
  return h(
    'dl',
    { class: 'kpis', attrs: { 'aria-label': 'Key figures' } },
    kpi('runs', 'Runs', formatCount(runs)),
    kpi('avg-reward', 'Avg reward', formatReward(avgReward), [
      h('span', {}, `last ${formatCount(windowSize)}`),
      trend(avgReward, previousAvgReward),
    ]),
    // No run reported a cost: "—", not "0 tokens" (nor a duration: "—", not "0 ms").
    avgCost === null
      ? kpi('avg-cost', 'Avg cost', '—', 'no run reported tokens')
      : kpi('avg-cost', 'Avg cost', formatCount(avgCost), avgCost === 1 ? 'token per run' : 'tokens per run'),
    kpi('avg-duration', 'Avg duration', formatDurationMs(avgDuration), 'per run'),
  );
}

function kpi(key: string, label: string, value: string, note: Child | Child[] = null): HTMLElement {
  const notes = Array.isArray(note) ? note : [note];
  return h(
    'div',
    { class: 'kpi', attrs: { 'data-kpi': key } },
    h('dt', { class: 'kpi-label' }, label),
    // Element Timing: the browser records when this figure is first painted (test/bench/ui.ts reads it).
    h('dd', { class: 'kpi-value', attrs: { elementtiming: `kpi-${key}` } }, value),
    ...notes.map((n) => n && h('dd', { class: 'kpi-note muted' }, n)),
  );
}

function trend(current: number, previous: number | null): HTMLElement {
  if (previous === null) return h('span', { class: 'trend muted' }, `trend after ${RECENT_WINDOW * 2} runs`);
  const delta = current - previous;
  const direction = delta > TREND_EPSILON ? 'up' : delta < -TREND_EPSILON ? 'down' : 'flat';
  const codicon = { up: 'arrow-up', down: 'arrow-down', flat: 'dash' }[direction];
  return h(
    'span',
    {
      class: `trend trend-${direction}`,
      attrs: { title: `The ${RECENT_WINDOW} runs before averaged ${formatReward(previous)}` },
    },
    icon(codicon),
    h('span', {}, `${formatRewardDelta(delta)} vs the ${RECENT_WINDOW} before`),
  );
}

function actionBar(state: SidebarState, actions: SidebarActions): HTMLElement {
  const untrusted = 'Needs a trusted workspace';
  return h(
    'div',
    { class: 'actions' },
    button({
      label: 'Open Dashboard',
      icon: 'graph-line',
      kind: 'primary',
      focusKey: 'cmd:openDashboard',
      onClick: () => actions.command('openDashboard'),
    }),
    h(
      'div',
      { class: 'button-row' },
      button({
        label: 'Export',
        icon: 'export',
        title: 'Export the SFT datasets now',
        focusKey: 'cmd:export',
        onClick: () => actions.command('export'),
      }),
      button({
        label: 'Train',
        icon: 'mortar-board',
        title: state.trusted ? 'Train a LoRA adapter on the exported data' : untrusted,
        disabled: !state.trusted,
        focusKey: 'cmd:train',
        onClick: () => actions.command('train'),
      }),
      button({
        label: 'Deploy',
        icon: 'rocket',
        title: state.trusted ? 'Deploy the trained adapter to Ollama' : untrusted,
        disabled: !state.trusted,
        focusKey: 'cmd:deploy',
        onClick: () => actions.command('deploy'),
      }),
    ),
  );
}

function roleProgress(roles: RoleProgressView[]): Child {
  if (roles.length === 0) return null;
  return section(
    'Next export and training',
    ...roles.map((r) =>
      h(
        'div',
        { class: 'role', attrs: { 'data-role': r.role } },
        h(
          'div',
          { class: 'role-head' },
          h('span', { class: 'role-name', attrs: { title: truncate(r.role, 200), dir: 'auto' } }, r.role),
          h('span', { class: 'muted' }, formatCountOf(r.runs, 'run')),
        ),
        progress(
          r.highQualitySinceExport,
          r.exportThreshold,
          `${formatCount(r.highQualitySinceExport)} / ${formatCount(r.exportThreshold)} high-quality runs to export`,
        ),
        progress(
          r.exportedExamples,
          r.trainThreshold,
          `${formatCount(r.exportedExamples)} / ${formatCount(r.trainThreshold)} examples to train`,
        ),
        r.lastExport &&
          h(
            'div',
            { class: 'muted small' },
            `Last export: ${formatCountOf(r.lastExport.count, 'example')}, `,
            age(r.lastExport.at),
          ),
      ),
    ),
  );
}

/**
 * The leading model and prompt: "best" only once its 95% interval is clear of every other's, else "leading, not
 * yet sure" (a mean over a few runs can lead by chance).
 */
function best(model: BestArmView | null, prompt: BestArmView | null): Child {
  if (!model && !prompt) return null;
  const row = (label: string, arm: BestArmView | null) =>
    arm &&
    h(
      'div',
      { class: 'best-row', attrs: { 'data-best': label.toLowerCase() } },
      h('dt', {}, label),
      h(
        'dd',
        {},
        h('span', { class: 'name', attrs: { title: truncate(arm.id, 200), dir: 'auto' } }, arm.id),
        h(
          'span',
          { class: `best-status ${arm.separated ? 'best-sure' : 'best-leading'}` },
          arm.separated ? 'best' : 'leading, not yet sure',
        ),
        h(
          'span',
          { class: 'muted' },
          `${formatReward(arm.avgReward)} (95% ${formatReward(arm.low)}–${formatReward(arm.high)}) · ${formatCountOf(arm.count, 'run')}`,
        ),
      ),
    );
  const sure = [model, prompt].every((arm) => !arm || arm.separated);
  return section(
    sure ? 'Best so far' : 'Leading so far',
    h('dl', { class: 'best' }, row('Model', model), row('Prompt', prompt)),
  );
}

function recentRuns(runs: RunRow[], actions: SidebarActions, now: number, focus: RovingFocus): Child {
  if (runs.length === 0) return null;
  const list = h(
    'ul',
    { class: 'runs', attrs: { 'aria-label': 'Latest runs' } },
    ...runs.map((run) => runItem(run, actions, now)),
  );
  focus.attach(list);
  return section('Latest runs', list);
}

function rewardClass(reward: number): string {
  if (!Number.isFinite(reward)) return '';
  return reward >= 0.7 ? 'reward-high' : reward >= 0.4 ? 'reward-mid' : 'reward-low';
}

/**
 * A part of a run's "role · model · age" line with the dot after it, kept together: the line breaks only between
 * parts, so a dot never starts a line (media/sidebar.css, .run-meta).
 */
function metaPart(content: HTMLElement): HTMLElement {
  return h('span', { class: 'meta-part' }, content, ' ·');
}

function runItem(run: RunRow, actions: SidebarActions, now: number): HTMLElement {
  const task = truncate(run.taskSlug, 60);
  const verdictButton = (verdict: Verdict) => {
    const chosen = run.human === verdict;
    const word = verdict === 'accept' ? 'Accept' : 'Reject';
    return button({
      label: word,
      icon: verdict === 'accept' ? 'check' : 'close',
      kind: 'icon',
      ariaLabel: `${word} run ${task}`,
      title: chosen ? `${word}ed` : word,
      pressed: chosen,
      focusKey: `${verdict}:${run.id}`,
      onClick: () => actions.feedback(run.id, verdict),
    });
  };
  return h(
    'li',
    { class: 'run', attrs: { 'data-run-id': run.id } },
    h(
      'button',
      {
        class: 'task link',
        attrs: {
          type: 'button',
          title: `Open run ${truncate(run.taskSlug, 200)}`,
          'aria-label': `Open run ${task}`,
          dir: 'auto',
          'data-focus-key': `open:${run.id}`,
        },
        onClick: () => actions.openRun(run.id),
      },
      run.taskSlug,
    ),
    h(
      'span',
      { class: `reward ${rewardClass(run.reward)}`, attrs: { title: 'Reward' } },
      formatReward(run.reward),
    ),
    h(
      'span',
      { class: 'run-meta' },
      metaPart(
        h('span', { class: 'run-role', attrs: { title: truncate(run.role, 200), dir: 'auto' } }, run.role),
      ),
      ' ',
      metaPart(
        h(
          'span',
          { class: 'run-model', attrs: { title: truncate(run.modelId, 200), dir: 'auto' } },
          run.modelId,
        ),
      ),
      ' ',
      age(run.createdAt, now),
    ),
    h(
      'span',
      { class: 'verdict', attrs: { role: 'group', 'aria-label': `Verdict for ${task}` } },
      verdictButton('accept'),
      verdictButton('reject'),
    ),
  );
}

/**
 * Opens `.agent/learning-config.json`, and is named for it: "Settings" read as VS Code's settings, which hold
 * other keys (the Python interpreter, the Ollama host, the gateway's access).
 */
function configButton(actions: SidebarActions): HTMLElement {
  return button({
    label: 'Learning Config',
    title:
      'Open .agent/learning-config.json: what Agent Learning records, learns, exports, trains and deploys',
    icon: 'json',
    focusKey: 'cmd:openConfig',
    onClick: () => actions.command('openConfig'),
  });
}

function footer(actions: SidebarActions): HTMLElement {
  return h(
    'div',
    { class: 'footer button-row' },
    configButton(actions),
    button({
      label: 'Log',
      icon: 'output',
      focusKey: 'cmd:showLog',
      onClick: () => actions.command('showLog'),
    }),
  );
}
