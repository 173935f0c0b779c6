// The run view's content for one RunViewState: the task and its verdict controls, the conversation (input), the
// output with its code blocks as code, the files it changed with their diff, every signal with its source and time, the reward's breakdown, and the
// run's facts. Every value from run data is a text node (dom.ts): a run is agent output, never markup.

import type {
  ChangedFileView,
  ObservedSignalView,
  RewardTermView,
  RunChangeView,
  RunDetailView,
  RunViewState,
  Verdict,
} from '../protocol';
import { assistantOf, conversationOf, segmentsOf } from './conversation';
import { button, h, icon, notice, type Child } from './dom';
import {
  formatCount,
  formatDateTime,
  formatDurationMs,
  formatReward,
  formatTokens,
  truncate,
} from './format';

export interface RunViewActions {
  feedback(runId: string, verdict: Verdict): void;
  clear(runId: string): void;
  undo(runId: string): void;
  navigate(direction: 'next' | 'previous'): void;
}

const SIGNAL_NAMES: Record<RewardTermView['signal'], string> = {
  compile: 'Compile',
  tests: 'Tests',
  errors: 'Lint, type, schema and boundary errors',
  human: 'Your verdict',
  kept: 'Change kept (implicit verdict)',
};

/** How each observed kind reads, and the row of the signals table it fills when the agent left it empty. */
// A Map: the kind is run data, and `constructor` must not find Object.prototype's.
const OBSERVED = new Map<string, { row: string; name: string; value: (v: number) => string }>([
  ['compile', { row: 'compile', name: 'Compile', value: (v) => (v >= 0.5 ? 'compiled' : 'did not compile') }],
  [
    'tests',
    {
      row: 'tests',
      name: 'Tests',
      value: (v) => (v >= 1 ? 'passed' : v <= 0 ? 'failed' : `${Math.round(v * 100)}% passed`),
    },
  ],
  ['errors.lint', { row: 'lint', name: 'Lint', value: (v) => errors(v) }],
  ['errors.type', { row: 'type', name: 'Type check', value: (v) => errors(v) }],
  ['kept', { row: 'kept', name: 'Kept', value: (v) => `${Math.round(v * 100)}% of the change kept` }],
]);

function errors(n: number): string {
  return `${formatCount(n)} error${n === 1 ? '' : 's'}`;
}

/** The latest observed signal of each table row, as the reward takes it (learning/signals.ts's withObserved). */
function latestObserved(signals: readonly ObservedSignalView[]): Map<string, ObservedSignalView> {
  const latest = new Map<string, ObservedSignalView>();
  for (const s of signals) {
    const row = OBSERVED.get(s.kind)?.row;
    if (row === undefined) continue;
    const seen = latest.get(row);
    if (!seen || s.at > seen.at || (s.at === seen.at && s.source > seen.source)) latest.set(row, s);
  }
  return latest;
}

export function runViewContent(state: RunViewState | undefined, actions: RunViewActions): Child[] {
  if (!state) return [notice('loading~spin', 'Loading the run…')];
  const run = state.run;
  if (!run) {
    return [
      notice('warning', `There is no run with id ${truncate(state.runId, 80)} in this workspace's history.`),
      navigation(actions),
    ];
  }
  return [
    header(run, state, actions),
    ...(run.textsUnavailable === null
      ? [conversation(run.input), output(run.output)]
      : [
          section(
            'Input and output',
            'texts',
            notice('warning', `This run's texts cannot be read: ${truncate(run.textsUnavailable, 300)}.`),
          ),
        ]),
    ...(run.change ? [changes(run.change)] : []),
    signals(run),
    reward(run),
    facts(run),
  ];
}

function header(run: RunDetailView, state: RunViewState, actions: RunViewActions): HTMLElement {
  const task = truncate(run.taskSlug, 60);
  const verdictButton = (verdict: Verdict) => {
    const word = verdict === 'accept' ? 'Accept' : 'Reject';
    return button({
      label: word,
      icon: verdict === 'accept' ? 'thumbsup' : 'thumbsdown',
      kind: run.human === verdict ? 'primary' : 'secondary',
      ariaLabel: `${word} run ${task}`,
      pressed: run.human === verdict,
      focusKey: verdict,
      onClick: () => actions.feedback(run.id, verdict),
    });
  };
  const verdictWords =
    run.human === null
      ? 'No verdict yet'
      : `${run.human === 'accept' ? 'Accepted' : 'Rejected'}${run.humanAt === null ? '' : ` ${formatDateTime(run.humanAt)}`}`;
  return h(
    'header',
    { class: 'run-header' },
    h(
      'h1',
      {},
      icon('history'),
      h('span', { class: 'task', attrs: { dir: 'auto', title: truncate(run.taskSlug, 200) } }, run.taskSlug),
    ),
    h(
      'p',
      { class: 'muted run-summary' },
      h('span', { class: 'run-role', attrs: { dir: 'auto' } }, run.role),
      ' · ',
      h('span', { class: 'run-model', attrs: { dir: 'auto' } }, run.modelId),
      ' · ',
      h('span', { class: 'run-prompt', attrs: { dir: 'auto' } }, run.promptId),
      ' · ',
      h('span', { class: 'run-source' }, sourceWords(run.source)),
      ' · ',
      formatDateTime(run.createdAt),
    ),
    h(
      'div',
      { class: 'verdict-bar button-row', attrs: { role: 'group', 'aria-label': `Verdict for ${task}` } },
      verdictButton('accept'),
      verdictButton('reject'),
      button({
        label: 'Clear',
        icon: 'circle-slash',
        ariaLabel: `Clear the verdict of run ${task}`,
        disabled: run.human === null,
        focusKey: 'clear',
        onClick: () => actions.clear(run.id),
      }),
      button({
        label: 'Undo',
        icon: 'discard',
        ariaLabel: state.undo
          ? `Undo: back to ${state.undo.verdict === null ? 'no verdict' : state.undo.verdict}`
          : 'Nothing to undo',
        disabled: state.undo === null,
        focusKey: 'undo',
        onClick: () => actions.undo(run.id),
      }),
      h('span', { class: 'verdict-state', attrs: { role: 'status' } }, verdictWords),
    ),
    navigation(actions),
  );
}

function sourceWords(source: string | null): string {
  return source === null ? 'source not recorded' : `via ${source}`;
}

function navigation(actions: RunViewActions): HTMLElement {
  return h(
    'nav',
    { class: 'button-row run-nav', attrs: { 'aria-label': 'Review queue' } },
    button({
      label: 'Previous',
      icon: 'arrow-up',
      title: 'Previous run in the review queue',
      focusKey: 'previous',
      onClick: () => actions.navigate('previous'),
    }),
    button({
      label: 'Next',
      icon: 'arrow-down',
      title: 'Next run in the review queue',
      focusKey: 'next',
      onClick: () => actions.navigate('next'),
    }),
  );
}

function section(title: string, name: string, ...children: Child[]): HTMLElement {
  return h(
    'section',
    { class: 'section', attrs: { 'data-section': name } },
    h('h2', { class: 'section-title' }, title),
    ...children,
  );
}

function conversation(input: string): HTMLElement {
  const turns = conversationOf(input);
  if (!turns) return section('Input', 'input', textBlock(input));
  return section(
    'Conversation',
    'input',
    h(
      'ol',
      { class: 'turns' },
      ...turns.map((turn) =>
        h(
          'li',
          { class: 'turn', attrs: { 'data-role': turn.role.slice(0, 40) } },
          h('div', { class: 'turn-role', attrs: { dir: 'auto' } }, turn.role),
          textBlock(turn.text),
        ),
      ),
    ),
  );
}

function output(text: string): HTMLElement {
  const message = assistantOf(text);
  if (!message) return section('Output', 'output', textBlock(text));
  return section(
    'Output',
    'output',
    message.aborted
      ? notice('warning', 'The client went away before the answer ended: this is what had arrived.')
      : null,
    message.thinking === undefined
      ? null
      : h(
          'details',
          { class: 'thinking' },
          h('summary', {}, 'Thinking'),
          h('div', { class: 'prose', attrs: { dir: 'auto' } }, message.thinking),
        ),
    message.text === '' && message.toolCalls.length > 0 ? null : textBlock(message.text),
    ...message.toolCalls.map((call) =>
      h(
        'figure',
        { class: 'code-block tool-call' },
        h('figcaption', { class: 'code-language' }, `tool call: ${call.name}`),
        h('pre', { attrs: { tabindex: '0' } }, h('code', {}, call.arguments)),
      ),
    ),
  );
}

/** Prose as pre-wrapped text, fenced code as <pre><code> with its language named; nothing parsed as markup. */
function textBlock(text: string): HTMLElement {
  if (text === '') return h('p', { class: 'muted' }, '(empty)');
  return h(
    'div',
    { class: 'text-block' },
    ...segmentsOf(text).map((s) =>
      s.kind === 'text'
        ? h('div', { class: 'prose', attrs: { dir: 'auto' } }, s.text)
        : h(
            'figure',
            { class: 'code-block' },
            s.language ? h('figcaption', { class: 'code-language' }, s.language) : null,
            h('pre', { attrs: { tabindex: '0' } }, h('code', {}, s.text)),
          ),
    ),
  );
}

const BEFORE_WORDS: Record<ChangedFileView['before'], string | null> = {
  seen: null,
  new: 'new file',
  unseen: 'the editor had not seen it before the run: shown whole, as added',
};

/** The files the run changed and their diff, every line a text node with its kind as a class (never markup). */
function changes(change: RunChangeView): HTMLElement {
  const when = `observed by the editor, ${formatDateTime(change.at)}`;
  if ('unavailable' in change) {
    return section(
      'Changes',
      'change',
      notice('warning', `This run's change cannot be read: ${truncate(change.unavailable, 300)}.`),
    );
  }
  const added = change.files.reduce((n, f) => n + f.added, 0);
  const removed = change.files.reduce((n, f) => n + f.removed, 0);
  const n = change.files.length;
  return section(
    'Changes',
    'change',
    h(
      'p',
      { class: 'muted change-summary' },
      `${formatCount(n)} file${n === 1 ? '' : 's'} changed, +${formatCount(added)} −${formatCount(removed)} · ${when}`,
    ),
    h(
      'ul',
      { class: 'changed-files' },
      ...change.files.map((f) => {
        const note = BEFORE_WORDS[f.before];
        return h(
          'li',
          { attrs: { 'data-file': f.path.slice(0, 200) } },
          h('span', { class: 'changed-path', attrs: { dir: 'auto', title: truncate(f.path, 500) } }, f.path),
          ' ',
          h('span', { class: 'diff-add-count' }, `+${formatCount(f.added)}`),
          ' ',
          h('span', { class: 'diff-del-count' }, `−${formatCount(f.removed)}`),
          note === null ? null : h('span', { class: 'muted' }, ` (${note})`),
        );
      }),
    ),
    h(
      'pre',
      {
        class: 'diff',
        attrs: { tabindex: '0', 'aria-label': `Diff of ${formatCount(n)} file${n === 1 ? '' : 's'}` },
      },
      ...diffLines(change.patch),
    ),
  );
}

/**
 * The diff's lines, each classed by what it is. Inside a hunk its header's counts say which lines belong to it, so
 * an added line that reads "++ x" is not taken for a file header.
 */
function diffLines(patch: string): HTMLElement[] {
  const lines = patch.endsWith('\n') ? patch.slice(0, -1).split('\n') : patch.split('\n');
  let oldLeft = 0;
  let newLeft = 0;
  return lines.map((line) => {
    let kind: string;
    if (line.startsWith('\\') || line.startsWith('…[truncated by Agent Learning')) {
      kind = 'diff-note'; // "\ No newline at end of file", or where the stored diff was cut
    } else if (oldLeft > 0 || newLeft > 0) {
      kind = line.startsWith('+') ? 'diff-add' : line.startsWith('-') ? 'diff-del' : 'diff-context';
      if (kind !== 'diff-add') oldLeft--;
      if (kind !== 'diff-del') newLeft--;
    } else {
      const hunk = /^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(line);
      if (hunk) {
        oldLeft = Number(hunk[1] ?? 1);
        newLeft = Number(hunk[2] ?? 1);
        kind = 'diff-hunk';
      } else kind = line.startsWith('--- ') || line.startsWith('+++ ') ? 'diff-file' : 'diff-note';
    }
    return h('span', { class: `diff-line ${kind}` }, `${line}\n`);
  });
}

function signals(run: RunDetailView): HTMLElement {
  const agent = `from the agent, ${formatDateTime(run.createdAt)}`;
  const count = (n: number | null, what: string) =>
    n === null ? null : `${formatCount(n)} ${what}${n === 1 ? '' : 's'}`;
  const rows: [string, string, string | null][] = [
    ['compile', 'Compile', run.compile === null ? null : run.compile ? 'compiled' : 'did not compile'],
    [
      'tests',
      'Tests',
      run.testsTotal === null
        ? null
        : `${formatCount(run.testsPassed ?? 0)} / ${formatCount(run.testsTotal)} passed`,
    ],
    ['lint', 'Lint', count(run.lintErrors, 'error')],
    ['type', 'Type check', count(run.typeErrors, 'error')],
    ['schema', 'Schema', count(run.schemaErrors, 'error')],
    ['boundary', 'Boundaries', count(run.boundaryErrors, 'error')],
  ];
  rows.push(['kept', 'Kept', null]);
  const observed = latestObserved(run.signals);
  // What the agent reported wins; an observed signal fills the row it left empty.
  const shown = rows.map(([key, name, value]): [string, string, string | null, string] => {
    if (value !== null) return [key, name, value, agent];
    const s = observed.get(key);
    if (!s) return [key, name, null, '—'];
    return [
      key,
      name,
      OBSERVED.get(s.kind)!.value(s.value),
      `observed by ${s.source}, ${formatDateTime(s.at)}`,
    ];
  });
  const human = run.human === null ? null : `${run.human === 'accept' ? 'accepted' : 'rejected'}`;
  return section(
    'Signals',
    'signals',
    h(
      'table',
      { class: 'signals' },
      h(
        'thead',
        {},
        h('tr', {}, h('th', {}, 'Signal'), h('th', {}, 'Value'), h('th', {}, 'Source and time')),
      ),
      h(
        'tbody',
        {},
        ...shown.map(([key, name, value, origin]) =>
          h(
            'tr',
            { attrs: { 'data-signal': key } },
            h('th', { attrs: { scope: 'row' } }, name),
            h('td', { class: value === null ? 'muted' : '' }, value ?? 'not reported'),
            h('td', { class: 'muted' }, origin),
          ),
        ),
        h(
          'tr',
          { attrs: { 'data-signal': 'human' } },
          h('th', { attrs: { scope: 'row' } }, 'Human'),
          h('td', { class: human === null ? 'muted' : '' }, human ?? 'no verdict'),
          h(
            'td',
            { class: 'muted' },
            human === null || run.humanAt === null ? '—' : `you, ${formatDateTime(run.humanAt)}`,
          ),
        ),
      ),
    ),
    observedList(run.signals),
  );
}

/** Every signal observed after the run, with its origin and time (the table above shows the ones that count). */
function observedList(signals: readonly ObservedSignalView[]): HTMLElement | null {
  if (signals.length === 0) return null;
  return h(
    'details',
    { class: 'observed-signals' },
    h('summary', {}, `Observed after the run (${formatCount(signals.length)})`),
    h(
      'ul',
      {},
      ...signals.map((s) =>
        h(
          'li',
          { attrs: { 'data-observed': s.kind } },
          `${OBSERVED.get(s.kind)?.name ?? s.kind}: ${OBSERVED.get(s.kind)?.value(s.value) ?? String(s.value)} — ${s.source}, ${formatDateTime(s.at)}`,
        ),
      ),
    ),
  );
}

function reward(run: RunDetailView): HTMLElement {
  const total = run.breakdown.reduce((sum, t) => sum + t.contribution, 0);
  // The stored reward was computed with the weights of its time; the breakdown uses today's.
  const differs = run.breakdown.length > 0 && Math.abs(Math.min(1, Math.max(0, total)) - run.reward) > 0.005;
  return section(
    'Reward',
    'reward',
    h(
      'p',
      { class: 'reward-total' },
      h('span', { class: 'reward-value' }, formatReward(run.reward)),
      ' reward',
    ),
    run.breakdown.length === 0
      ? h('p', { class: 'muted' }, 'No signal was reported: a run nothing vouches for scores 0.')
      : h(
          'table',
          { class: 'breakdown' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'Signal'),
              h('th', {}, 'Score'),
              h('th', {}, 'Weight'),
              h('th', {}, 'Share'),
              h('th', {}, 'Adds'),
            ),
          ),
          h(
            'tbody',
            {},
            ...run.breakdown.map((t) =>
              h(
                'tr',
                { attrs: { 'data-term': t.signal } },
                h('th', { attrs: { scope: 'row' } }, SIGNAL_NAMES[t.signal]),
                h('td', {}, formatReward(t.score)),
                h('td', {}, formatReward(t.weight)),
                h('td', {}, `${Math.round(t.share * 100)}%`),
                h('td', {}, formatReward(t.contribution)),
              ),
            ),
          ),
        ),
    differs
      ? h(
          'p',
          { class: 'muted' },
          `Today's rewardWeights would give ${formatReward(total)}; the stored reward used the weights of its time.`,
        )
      : null,
  );
}

function facts(run: RunDetailView): HTMLElement {
  const row = (key: string, name: string, value: string) =>
    h(
      'div',
      { class: 'fact', attrs: { 'data-fact': key } },
      h('dt', {}, name),
      h('dd', { attrs: { dir: 'auto' } }, value),
    );
  return section(
    'Run',
    'facts',
    h(
      'dl',
      { class: 'facts' },
      row('model', 'Model', run.modelId),
      row('prompt', 'Prompt', run.promptId),
      row('source', 'Source', run.source ?? '—'),
      row('role', 'Role', run.role),
      row('tier', 'Tier', run.complexity ?? '—'),
      row('cost', 'Cost', run.costTokens === null ? '—' : formatTokens(run.costTokens)),
      row('duration', 'Duration', run.durationMs === null ? '—' : formatDurationMs(run.durationMs)),
      row('iterations', 'Iterations', run.iterations === null ? '—' : formatCount(run.iterations)),
      row('id', 'Run id', run.id),
    ),
  );
}
