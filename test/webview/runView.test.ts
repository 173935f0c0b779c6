import assert from 'node:assert/strict';
import type { RunDetailView } from '../../src/protocol';
import { HOSTILE, runViewState } from './support/fixtures';
import { usePage, type WebviewPage } from './support/harness';

describe('run view webview (Chromium)', () => {
  const open = usePage('run');

  const text = (v: WebviewPage, selector: string) => v.page.locator(selector).innerText();

  it('shows the conversation, the output with its code block as code, every signal and the reward breakdown', async () => {
    const v = await open();
    await v.send({ type: 'run', state: runViewState() });
    await v.page.locator('[data-section="output"]').waitFor();

    assert.equal(await text(v, 'h1 .task'), 'fix-login');
    assert.deepEqual(await v.page.locator('.turn .turn-role').allInnerTexts(), ['system', 'user']);
    assert.match(await text(v, '.turn[data-role="user"]'), /Fix the login redirect\./);
    assert.equal(await text(v, '[data-section="output"] .code-block code'), 'redirect(url + search);');
    assert.equal(await text(v, '[data-section="output"] .code-language'), 'ts');
    assert.deepEqual(await v.page.locator('[data-section="output"] .prose').allInnerTexts(), [
      'The redirect lost the query string.',
      'Done.',
    ]);

    assert.equal(await text(v, '[data-signal="compile"] td:nth-child(2)'), 'compiled');
    assert.equal(await text(v, '[data-signal="tests"] td:nth-child(2)'), '9 / 10 passed');
    assert.equal(await text(v, '[data-signal="lint"] td:nth-child(2)'), '1 error');
    assert.equal(await text(v, '[data-signal="type"] td:nth-child(2)'), '0 errors');
    assert.equal(await text(v, '[data-signal="schema"] td:nth-child(2)'), 'not reported');
    assert.equal(await text(v, '[data-signal="human"] td:nth-child(2)'), 'no verdict');
    assert.match(await text(v, '[data-signal="compile"] td:last-child'), /^from the agent, /);

    assert.equal(await text(v, '.reward-value'), '0.82');
    assert.deepEqual(
      await v.page
        .locator('.breakdown tbody tr')
        .evaluateAll((rows) => rows.map((r) => Array.from(r.children, (c) => (c as HTMLElement).innerText))),
      [
        ['Compile', '1.00', '0.30', '38%', '0.38'],
        ['Tests', '0.90', '0.30', '38%', '0.34'],
        ['Lint, type, schema and boundary errors', '0.50', '0.20', '25%', '0.13'],
      ],
    );
    assert.equal(await text(v, '[data-fact="model"] dd'), 'qwen2.5-coder:7b');
    assert.equal(await text(v, '[data-fact="tier"] dd'), 'medium');
    assert.equal(await text(v, '[data-fact="cost"] dd'), '2,345 tokens');
    assert.equal(await text(v, '[data-fact="duration"] dd'), '12 s');
    assert.equal(await text(v, '[data-fact="iterations"] dd'), '2');
    assert.equal(await text(v, '[data-fact="source"] dd'), 'gateway');
    await v.page.locator('.observed-signals summary').click(); // the list of every observed signal is folded
    assert.match(await text(v, '[data-observed="kept"]'), /^Kept: .* — editor:kept, /);
    await v.screenshot('run-view-dark');
  });

  it('shows the files the run changed and their diff, each line classed as added, removed or context', async () => {
    const v = await open();
    await v.send({ type: 'run', state: runViewState() });
    await v.page.locator('[data-section="change"]').waitFor();
    assert.match(await text(v, '.change-summary'), /^2 files changed, \+3 −1 · observed by the editor, /);
    assert.deepEqual(await v.page.locator('.changed-files li').allInnerTexts(), [
      'src/login.ts +2 −1',
      'src/redirect.test.ts +1 −0 (new file)',
    ]);
    const lines = await v.page
      .locator('pre.diff .diff-line')
      .evaluateAll((spans) => spans.map((s) => [s.className.replace('diff-line ', ''), s.textContent]));
    assert.deepEqual(lines, [
      ['diff-file', '--- a/src/login.ts\n'],
      ['diff-file', '+++ b/src/login.ts\n'],
      ['diff-hunk', '@@ -1,2 +1,3 @@\n'],
      ['diff-context', ' const url = base;\n'],
      ['diff-del', '-redirect(url);\n'],
      ['diff-add', '+++ x; // an added line that reads like a file header\n'],
      ['diff-add', '+redirect(url + search);\n'],
      ['diff-file', '--- /dev/null\n'],
      ['diff-file', '+++ b/src/redirect.test.ts\n'],
      ['diff-hunk', '@@ -0,0 +1 @@\n'],
      ['diff-add', "+test('keeps the query', () => {});\n"],
      ['diff-note', '\\ No newline at end of file\n'],
    ]);
    const [added, removed] = await v.page
      .locator('.diff-add, .diff-del')
      .evaluateAll((spans) => spans.slice(0, 2).map((s) => getComputedStyle(s).backgroundColor));
    assert.notEqual(added, 'rgba(0, 0, 0, 0)', 'added lines have the diff editor background');
    assert.notEqual(removed, 'rgba(0, 0, 0, 0)', 'removed lines too');
    assert.equal(await v.page.locator('pre.diff').getAttribute('tabindex'), '0', 'scrolls from the keyboard');
  });

  it('shows no change section for a run that changed no file, and says why one cannot be read', async () => {
    const v = await open();
    await v.send({ type: 'run', state: runViewState({ change: null }) });
    await v.page.locator('[data-section="signals"]').waitFor();
    assert.equal(await v.page.locator('[data-section="change"]').count(), 0);
    await v.send({
      type: 'run',
      state: runViewState({ change: { at: 1, unavailable: 'its record in 000001.seg is corrupt' } }),
    });
    await v.page.locator('[data-section="change"]').waitFor();
    assert.match(
      await text(v, '[data-section="change"]'),
      /change cannot be read: its record in 000001\.seg is corrupt/,
    );
    // A state saved before changes were shown (no `change` key) is still taken.
    const old: Partial<RunDetailView> = { ...runViewState().run! };
    delete old.change;
    await v.send({ type: 'run', state: { ...runViewState(), run: old as RunDetailView } });
    await v.page.locator('[data-section="change"]').waitFor({ state: 'detached' });
  });

  it("shows a gateway run's output, recorded as the assistant's message, as its text and tool calls", async () => {
    const v = await open();
    const output = JSON.stringify({
      role: 'assistant',
      content: `Reading the file first.\n${HOSTILE.imgOnerror}`,
      thinking: 'The user wants the redirect fixed.',
      tool_calls: [
        {
          id: 'c1',
          type: 'function',
          function: { name: 'read_file', arguments: JSON.stringify({ path: HOSTILE.scriptBreakout }) },
        },
        { function: { name: 'run_tests', arguments: { filter: 'login' } } }, // Ollama's: an object
        { function: { name: 'cut', arguments: '{"path": "src/a' } }, // a stream cut mid-arguments
      ],
      aborted: true,
    });
    await v.send({ type: 'run', state: runViewState({ output }) });
    await v.page.locator('[data-section="output"]').waitFor();

    assert.match(await text(v, '[data-section="output"] .notice'), /went away before the answer ended/);
    assert.equal(
      await v.page.locator('[data-section="output"] .text-block .prose').textContent(),
      `Reading the file first.\n${HOSTILE.imgOnerror}`,
    );
    await v.page.locator('.thinking summary').click();
    assert.equal(await text(v, '.thinking .prose'), 'The user wants the redirect fixed.');
    assert.deepEqual(await v.page.locator('.tool-call figcaption').allTextContents(), [
      'tool call: read_file',
      'tool call: run_tests',
      'tool call: cut',
    ]);
    assert.deepEqual(await v.page.locator('.tool-call code').allTextContents(), [
      JSON.stringify({ path: HOSTILE.scriptBreakout }, null, 2),
      '{\n  "filter": "login"\n}',
      '{"path": "src/a',
    ]);
    assert.equal(await v.page.locator('#root img, #root script').count(), 0);
    assert.equal(await v.pwned(), undefined);
    assert.deepEqual(await v.cspViolations(), []);
  });

  it('shows a plain input as text, and says when the run is not in the history', async () => {
    const v = await open();
    await v.send({ type: 'run', state: runViewState({ input: 'just a prompt', output: '' }) });
    await v.page.locator('[data-section="input"]').waitFor();
    assert.equal(await text(v, '[data-section="input"] .prose'), 'just a prompt');
    assert.equal(await text(v, '[data-section="output"] p'), '(empty)');
    await v.send({ type: 'run', state: { version: 1, runId: 'gone', run: null, undo: null } });
    await v.page.getByText('There is no run with id gone').waitFor();
  });

  it('says why the texts cannot be read, and still shows the signals and the verdict buttons', async () => {
    const v = await open();
    const reason = 'texts/000001.seg at byte 0: checksum mismatch (corrupt)';
    await v.send({ type: 'run', state: runViewState({ input: '', output: '', textsUnavailable: reason }) });
    await v.page.locator('[data-section="texts"]').waitFor();
    assert.equal(
      (await text(v, '[data-section="texts"] .notice')).trim(),
      `This run's texts cannot be read: ${reason}.`,
    );
    assert.equal(await v.page.locator('[data-section="input"], [data-section="output"]').count(), 0);
    assert.equal(await v.page.getByRole('button', { name: 'Accept' }).count(), 1);
  });

  it('posts Accept, Reject, Clear, Undo and Next/Previous for the run shown', async () => {
    const v = await open();
    await v.send({ type: 'run', state: runViewState() });
    await v.page.getByRole('button', { name: 'Accept run fix-login' }).click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'feedback', runId: 'r1', verdict: 'accept' });
    // Clear and Undo are disabled until there is a verdict and something to undo.
    assert.ok(await v.page.getByRole('button', { name: 'Clear the verdict of run fix-login' }).isDisabled());
    assert.ok(await v.page.getByRole('button', { name: 'Nothing to undo' }).isDisabled());

    const accepted = runViewState({ human: 'accept', humanAt: Date.now() });
    await v.send({ type: 'run', state: { ...accepted, undo: { verdict: null } } });
    assert.equal(
      await v.page.getByRole('button', { name: 'Accept run fix-login' }).getAttribute('aria-pressed'),
      'true',
    );
    assert.match(await text(v, '.verdict-state'), /^Accepted /);
    assert.match(await text(v, '[data-signal="human"] td:last-child'), /^you, /);
    await v.page.getByRole('button', { name: 'Reject run fix-login' }).click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'feedback', runId: 'r1', verdict: 'reject' });
    await v.page.getByRole('button', { name: 'Clear the verdict of run fix-login' }).click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'clearVerdict', runId: 'r1' });
    await v.page.getByRole('button', { name: 'Undo: back to no verdict' }).click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'undoVerdict', runId: 'r1' });
    await v.page.getByRole('button', { name: 'Next', exact: true }).click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'navigate', direction: 'next' });
    await v.page.getByRole('button', { name: 'Previous', exact: true }).click();
    assert.deepEqual((await v.posted()).at(-1), { type: 'navigate', direction: 'previous' });
  });

  it('works from the keyboard: Tab reaches Accept first, Enter presses it, focus stays after the update', async () => {
    const v = await open();
    await v.send({ type: 'run', state: runViewState() });
    await v.page.keyboard.press('Tab');
    assert.equal(
      await v.page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
      'Accept run fix-login',
    );
    await v.page.keyboard.press('Enter');
    assert.deepEqual((await v.posted()).at(-1), { type: 'feedback', runId: 'r1', verdict: 'accept' });
    await v.send({ type: 'run', state: runViewState({ human: 'accept', humanAt: Date.now() }) });
    assert.equal(
      await v.page.evaluate(() => document.activeElement?.getAttribute('aria-label')),
      'Accept run fix-login',
    );
    await v.page.keyboard.press('Tab');
    await v.page.keyboard.press('Space');
    assert.deepEqual((await v.posted()).at(-1), { type: 'feedback', runId: 'r1', verdict: 'reject' });
    // The code block can be reached and scrolled from the keyboard.
    const focusable = await v.page.locator('.code-block pre').getAttribute('tabindex');
    assert.equal(focusable, '0');
  });

  it('shows hostile run data as text, runs no script and breaks no CSP rule', async () => {
    const v = await open();
    const hostile = Object.values(HOSTILE);
    const state = runViewState({
      taskSlug: HOSTILE.imgOnerror,
      modelId: HOSTILE.scriptBreakout,
      promptId: HOSTILE.long,
      role: HOSTILE.rtl,
      complexity: HOSTILE.emoji,
      input: JSON.stringify({ messages: hostile.map((h) => ({ role: h, content: h })) }),
      output: `${HOSTILE.imgOnerror}\n\`\`\`${HOSTILE.scriptBreakout}\n${HOSTILE.scriptBreakout}\n\`\`\`\n${HOSTILE.long}`,
      change: {
        at: 1,
        files: [{ path: HOSTILE.imgOnerror, added: 1, removed: 1, before: 'unseen' }],
        patch: `--- a/${HOSTILE.scriptBreakout}\n@@ -1 +1 @@\n-${HOSTILE.imgOnerror}\n+${HOSTILE.scriptBreakout}\n`,
      },
    });
    await v.send({ type: 'run', state });
    await v.page.locator('[data-section="output"]').waitFor();

    assert.equal(await v.page.locator('h1 .task').textContent(), HOSTILE.imgOnerror);
    assert.equal(await v.page.locator('[data-fact="model"] dd').textContent(), HOSTILE.scriptBreakout);
    assert.equal(await v.page.locator('[data-fact="prompt"] dd').textContent(), HOSTILE.long);
    assert.deepEqual(await v.page.locator('.turn .turn-role').allTextContents(), hostile);
    assert.deepEqual(await v.page.locator('.turn .prose').allTextContents(), hostile);
    assert.equal(await v.page.locator('[data-section="output"] code').textContent(), HOSTILE.scriptBreakout);
    assert.equal(await v.page.locator('.changed-path').textContent(), HOSTILE.imgOnerror);
    assert.equal(await v.page.locator('.diff-add').textContent(), `+${HOSTILE.scriptBreakout}\n`);
    assert.equal(await v.page.locator('#root img, #root script, #root iframe').count(), 0);
    assert.equal(await v.pwned(), undefined);
    assert.deepEqual(await v.cspViolations(), []);
    const label = await v.page.locator('.verdict-bar .button').first().getAttribute('aria-label');
    assert.ok(label && label.length < 80, label ?? '');
    const overflow = await v.page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    assert.equal(overflow, 0, 'no horizontal scrolling');
  });

  it('shows hostile data from an embedded state as text too, before any message', async () => {
    const v = await open();
    await v.load({
      pageId: 'p1',
      state: runViewState({ taskSlug: HOSTILE.scriptBreakout, output: HOSTILE.imgOnerror }),
    });
    assert.equal(await v.page.locator('h1 .task').textContent(), HOSTILE.scriptBreakout);
    assert.equal(await v.page.locator('[data-section="output"] .prose').textContent(), HOSTILE.imgOnerror);
    assert.equal(await v.pwned(), undefined);
  });

  it('ignores and logs messages that are not in the protocol', async () => {
    const v = await open();
    await v.send({ type: 'run', state: runViewState() });
    const before = await text(v, '#root');
    await v.send({ type: 'run', state: { ...runViewState(), version: 2 } });
    await v.send({ type: 'run', state: { ...runViewState(), run: { id: 'x' } } });
    await v.send({ type: 'sidebar', state: {} });
    assert.equal(await text(v, '#root'), before);
    assert.equal(v.warnings.filter((w) => w.startsWith('Agent Learning')).length, 3, v.warnings.join('\n'));
  });
});
