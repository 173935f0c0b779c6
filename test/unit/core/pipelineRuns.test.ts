// The pipeline's read API for the run view and the review queue (getRun, listRuns) and taking a verdict back.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LearningPipeline } from '../../../src/core/pipeline';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../support/workspace';

describe('LearningPipeline: reading runs and taking verdicts back', () => {
  let ws: string;
  let pipeline: LearningPipeline;
  let clock: number;

  beforeEach(async () => {
    ws = makeWorkspace();
    clock = 1_700_000_000_000;
    pipeline = await open();
  });

  afterEach(async () => {
    await pipeline?.close();
    removeWorkspace(ws);
  });

  function open(): Promise<LearningPipeline> {
    return LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {}, now: () => (clock += 1000) });
  }

  /** Runs `cli-<n>` for each of `ns` in the inbox file `file`, as the CLI or an agent writes them. */
  function writeInboxRuns(file: string, ...ns: number[]): void {
    const result = { input: 'i', output: 'o', compile: true };
    const lines = ns.map((n) =>
      JSON.stringify({ type: 'run', taskSlug: `cli-${n}`, modelId: 'm', promptId: 'p', result }),
    );
    writeAgentFile(ws, path.join('inbox', file), lines.map((l) => l + '\n').join(''));
  }

  it('gives one run with its input, output, every signal and a breakdown that adds up to its reward', async () => {
    const { id, reward } = await pipeline.recordRun(
      'fix-login',
      'qwen2.5-coder:7b',
      'detailed',
      {
        input: '{"messages":[{"role":"user","content":"fix it"}]}',
        output: 'Here:\n```ts\nlogin();\n```',
        compile: true,
        tests: { passed: 3, total: 4 },
        errors: { lint: 1, type: 0 },
        costTokens: 1234,
        durationMs: 5600,
        iterations: 2,
        complexity: 'large',
      },
      'reviewer',
    );
    const run = pipeline.getRun(id)!;
    assert.equal(run.taskSlug, 'fix-login');
    assert.equal(run.role, 'reviewer');
    assert.equal(run.complexity, 'large');
    assert.equal(run.output, 'Here:\n```ts\nlogin();\n```');
    assert.equal(run.input, '{"messages":[{"role":"user","content":"fix it"}]}');
    assert.deepEqual(
      [run.compile, run.testsPassed, run.testsTotal, run.lintErrors, run.typeErrors, run.schemaErrors],
      [true, 3, 4, 1, 0, null],
    );
    assert.deepEqual([run.costTokens, run.durationMs, run.iterations], [1234, 5600, 2]);
    assert.deepEqual(
      run.breakdown.map((t) => t.signal),
      ['compile', 'tests', 'errors'],
    );
    const total = run.breakdown.reduce((sum, t) => sum + t.contribution, 0);
    assert.ok(Math.abs(total - reward) < 1e-12, `${total} vs ${reward}`);
    assert.ok(Math.abs(run.breakdown.reduce((s, t) => s + t.share, 0) - 1) < 1e-12);
    assert.equal(pipeline.getRun('no-such-run'), undefined);
  });

  it('pages the runs without a verdict newest first, and filters them', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const r = await pipeline.recordRun(`t${i}`, i % 2 ? 'a' : 'b', 'p', {
        input: 'i',
        output: 'o',
        compile: i % 3 > 0,
      });
      ids.push(r.id);
    }
    await pipeline.recordFeedback(ids[11]!, 'accept');
    const first = pipeline.listRuns({ verdict: 'none' }, { limit: 5 });
    assert.deepEqual(
      first.runs.map((r) => r.id),
      ids.slice(6, 11).reverse(),
    );
    const second = pipeline.listRuns({ verdict: 'none' }, { limit: 5, after: first.next });
    assert.deepEqual(
      second.runs.map((r) => r.id),
      ids.slice(1, 6).reverse(),
    );
    assert.deepEqual(
      pipeline.listRuns({ model: 'a', verdict: 'accept' }).runs.map((r) => r.id),
      [ids[11]],
    );
    // A caller asking for a page of a million gets a bounded page.
    assert.equal(pipeline.listRuns({}, { limit: 1e6 }).runs.length, 12);
  });

  it('clears a verdict: the reward is what it was before, and the clearing survives a restart', async () => {
    const { id, reward } = await pipeline.recordRun('t', 'm', 'p', {
      input: 'i',
      output: 'o',
      compile: true,
      tests: { passed: 1, total: 2 },
    });
    const rejected = await pipeline.recordFeedback(id, 'reject');
    assert.ok(rejected.reward < reward);
    const cleared = await pipeline.clearFeedback(id);
    assert.equal(cleared.reward, reward);
    assert.equal(pipeline.getRun(id)!.human, null);
    await pipeline.close();
    pipeline = await open();
    assert.equal(pipeline.getRun(id)!.human, null);
    assert.equal(pipeline.getRun(id)!.reward, reward);
    await assert.rejects(pipeline.clearFeedback('missing'), /No run with id missing/);
  });

  it('takes a clearing written to the inbox by another process, and an older verdict does not bring it back', async () => {
    const { id, reward } = await pipeline.recordRun('t', 'm', 'p', {
      input: 'i',
      output: 'o',
      compile: true,
    });
    await pipeline.recordFeedback(id, 'reject');
    const at = clock + 10_000;
    writeAgentFile(
      ws,
      path.join('inbox', 'agent-1.jsonl'),
      [
        JSON.stringify({ type: 'feedback', runId: id, verdict: null, at }),
        JSON.stringify({ type: 'feedback', runId: id, verdict: 'reject', at: at - 1 }),
        '',
      ].join('\n'),
    );
    assert.equal(await pipeline.ingestInbox(), 2);
    const run = pipeline.getRun(id)!;
    assert.equal(run.human, null);
    assert.equal(run.reward, reward);
    assert.ok(fs.existsSync(path.join(ws, '.agent', 'inbox')));
  });

  it('tells onDidIngestRuns how many runs other processes wrote, once per batch, and not for verdicts', async () => {
    const batches: number[] = [];
    pipeline.onDidIngestRuns((runs) => batches.push(runs));
    writeInboxRuns('cli-1.jsonl', 1, 2, 3);
    assert.equal(await pipeline.ingestInbox(), 3);
    const [newest] = pipeline.listRuns({}, { order: 'newest', limit: 1 }).runs;
    writeAgentFile(
      ws,
      path.join('inbox', 'cli-2.jsonl'),
      JSON.stringify({ type: 'feedback', runId: newest!.id, verdict: 'accept' }) + '\n',
    );
    assert.equal(await pipeline.ingestInbox(), 1);
    assert.deepEqual(batches, [3]);
  });

  it('tells onDidIngestRuns of the runs a dead owner saved when it takes over, and no more after', async () => {
    const saved = (name: string) => {
      for (const f of ['experience.db', 'experience.db.sum'])
        fs.copyFileSync(path.join(ws, '.agent', f), path.join(ws, `${name}-${f}`));
    };
    const restore = (name: string) => {
      for (const f of ['experience.db', 'experience.db.sum'])
        fs.copyFileSync(path.join(ws, `${name}-${f}`), path.join(ws, '.agent', f));
    };
    for (let i = 0; i < 2; i++) await pipeline.recordRun(`t${i}`, 'm', 'p', { input: 'i', output: 'o' });
    await pipeline.close();
    saved('two');
    pipeline = await open();
    for (let i = 2; i < 5; i++) await pipeline.recordRun(`t${i}`, 'm', 'p', { input: 'i', output: 'o' });
    await pipeline.close();
    saved('five');
    restore('two');

    const owner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      const lock = { pid: owner.pid, host: os.hostname(), nonce: '0123456789abcdef', since: Date.now() };
      fs.writeFileSync(path.join(ws, '.agent', 'experience.db.lock'), JSON.stringify(lock));
      pipeline = await open(); // a reader of the two runs saved
      const batches: number[] = [];
      pipeline.onDidIngestRuns((runs) => batches.push(runs));
      restore('five'); // the owner's last save, its journal gone with it
      owner.kill('SIGKILL');
      await once(owner, 'exit');

      assert.equal(await pipeline.ingestInbox(), 0); // taking over: the saved database, nothing in the inbox
      assert.equal(pipeline.getStats().totals.runs, 5);
      writeInboxRuns('cli-1.jsonl', 1);
      assert.equal(await pipeline.ingestInbox(), 1);
      assert.deepEqual(batches, [3, 1]);
    } finally {
      owner.kill('SIGKILL');
    }
  });

  it('does not tell onDidIngestRuns again of runs it told of, when it takes over from an owner that died', async () => {
    await pipeline.close();
    // The owner: another process, alive while this one reads the inbox as a reader, then killed.
    const owner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)']);
    try {
      const lock = { pid: owner.pid, host: os.hostname(), nonce: '0123456789abcdef', since: Date.now() };
      fs.writeFileSync(path.join(ws, '.agent', 'experience.db.lock'), JSON.stringify(lock));
      pipeline = await open();
      const batches: number[] = [];
      pipeline.onDidIngestRuns((runs) => batches.push(runs));
      writeInboxRuns('cli-1.jsonl', 1, 2, 3);
      assert.equal(await pipeline.ingestInbox(), 3);
      owner.kill('SIGKILL');
      await once(owner, 'exit');

      // Its database has none of the three: taking over, this process reads them again into the one it saved.
      assert.equal(await pipeline.ingestInbox(), 3);
      await pipeline.recordRun('own', 'm', 'p', { input: 'i', output: 'o' });
      writeInboxRuns('cli-2.jsonl', 4);
      assert.equal(await pipeline.ingestInbox(), 1);

      assert.equal(pipeline.getStats().totals.runs, 5);
      assert.deepEqual(batches, [3, 1]);
    } finally {
      owner.kill('SIGKILL');
    }
  });
});
