// Late signals the editor observes (recordSignal) and each run's source, through the pipeline on real files.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LearningError } from '../../../src/core/errors';
import { LearningPipeline } from '../../../src/core/pipeline';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../support/workspace';

const RESULT = { input: 'fix the login', output: 'done', compile: true };
const DIAGNOSTICS = 'editor:diagnostics';

describe('LearningPipeline: signals observed after a run, and run sources', () => {
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

  /** A prompt arm's mean reward from the arm sums the bandit reads (kept by the store's triggers). */
  function promptSum(p: LearningPipeline, arm: string): number | undefined {
    return p.getStats().promptPerformance.find((s) => s.prompt_id === arm)?.avg_reward;
  }

  it('changes the reward when a late diagnostic arrives, and the bandit and router sums follow', async () => {
    const { id, reward } = await pipeline.recordRun('t', 'model-a', 'default', RESULT);
    assert.equal(reward, 1, 'compiled, nothing else said');
    const after = await pipeline.recordSignal(id, { kind: 'errors.type', value: 1, source: DIAGNOSTICS });
    assert.equal(after.reward, (1 * 0.25 + 0.5 * 0.25) / 0.5);
    assert.equal(pipeline.getRun(id)!.reward, after.reward);
    assert.equal(promptSum(pipeline, 'default'), after.reward);
    assert.equal(
      pipeline.getStats().modelPerformance.find((m) => m.model_name === 'model-a')?.avg_reward,
      after.reward,
    );
    assert.deepEqual(
      pipeline.getRun(id)!.breakdown.map((t) => [t.signal, t.score]),
      [
        ['compile', 1],
        ['errors', 0.5],
      ],
    );
  });

  it("lets the agent's own value win over an observed one of the same kind", async () => {
    const { id, reward } = await pipeline.recordRun('t', 'model-a', 'default', {
      ...RESULT,
      errors: { type: 0 },
    });
    const after = await pipeline.recordSignal(id, { kind: 'errors.type', value: 5, source: DIAGNOSTICS });
    assert.equal(after.reward, reward);
    const run = pipeline.getRun(id)!;
    assert.equal(run.typeErrors, 0);
    assert.deepEqual(
      run.signals.map((s) => [s.kind, s.value, s.source]),
      [['errors.type', 5, DIAGNOSTICS]],
      'still shown as observed',
    );
  });

  it('keeps observed signals under a later verdict and after clearing it', async () => {
    const { id } = await pipeline.recordRun('t', 'model-a', 'default', { input: 'i', output: 'o' });
    const observed = await pipeline.recordSignal(id, { kind: 'errors.lint', value: 1, source: DIAGNOSTICS });
    assert.equal(observed.reward, 0.5);
    assert.equal((await pipeline.recordFeedback(id, 'accept')).reward, 0.75);
    assert.equal((await pipeline.clearFeedback(id)).reward, 0.5);
  });

  it('refuses a signal for an unknown run, and a malformed one, storing nothing', async () => {
    await assert.rejects(
      pipeline.recordSignal('r-nope', { kind: 'tests', value: 1, source: 'editor:task' }),
      (e) => e instanceof LearningError && /No run with id r-nope/.test(e.message),
    );
    const { id } = await pipeline.recordRun('t', 'model-a', 'default', RESULT);
    await assert.rejects(
      pipeline.recordSignal(id, { kind: 'tests', value: 7, source: 'editor:task' }),
      /Invalid signal\.value: tests takes a value from 0 to 1/,
    );
    assert.deepEqual(pipeline.getRun(id)!.signals, []);
  });

  it('applies a signal an agent wrote to the inbox before its run, once the run arrives', async () => {
    writeAgentFile(
      ws,
      'inbox/agent-signals.jsonl',
      [
        JSON.stringify({
          type: 'signal',
          runId: 'agent-run-1',
          kind: 'tests',
          value: 0,
          source: 'ci:junit',
          at: 5,
        }),
        JSON.stringify({ type: 'signal', runId: 'agent-run-1', kind: 'tests', value: 9, source: 'ci:junit' }),
        JSON.stringify({
          type: 'run',
          id: 'agent-run-1',
          taskSlug: 't',
          modelId: 'm',
          promptId: 'p',
          result: RESULT,
        }),
        JSON.stringify({
          type: 'run',
          id: 'agent-run-2',
          taskSlug: 't',
          modelId: 'm',
          promptId: 'p',
          result: RESULT,
          source: 'cli',
        }),
      ].join('\n') + '\n',
    );
    await pipeline.ingestInbox();
    const run = pipeline.getRun('agent-run-1')!;
    assert.equal(run.reward, 0.5, 'compiled, tests failed');
    assert.equal(run.source, 'inbox', 'a line that names no source');
    assert.deepEqual(
      run.signals,
      [{ kind: 'tests', value: 0, source: 'ci:junit', at: 5 }],
      'the invalid one skipped',
    );
    assert.equal(pipeline.getRun('agent-run-2')!.source, 'cli');
  });

  it('records where each run came from: the API by default, the gateway and chat when they say so', async () => {
    const api = await pipeline.recordRun('t', 'm', 'p', RESULT);
    const gateway = await pipeline.recordRun('t', 'm', 'p', RESULT, 'coder', { source: 'gateway' });
    assert.equal(pipeline.getRun(api.id)!.source, 'api');
    assert.equal(pipeline.getRun(gateway.id)!.source, 'gateway');
    await assert.rejects(
      pipeline.recordRun('t', 'm', 'p', RESULT, 'coder', { source: 'telepathy' as never }),
      /Invalid source/,
    );
    await assert.rejects(
      pipeline.recordRun('t', 'm', 'p', RESULT, 'coder', { files: [42 as never] }),
      /Invalid files/,
    );
  });

  it('tells onDidRecordRun the source and the files the run changed (not stored)', async () => {
    const seen: { source: string; files: string[] }[] = [];
    pipeline.onDidRecordRun((e) => seen.push({ source: e.source, files: e.files }));
    await pipeline.recordRun('t', 'm', 'p', RESULT, 'coder', { source: 'gateway', files: ['src/a.ts'] });
    assert.deepEqual(seen, [{ source: 'gateway', files: ['src/a.ts'] }]);
  });

  it('gives the same state after a crash: the journal replays every signal once', async () => {
    await pipeline.close();
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, '../../fixtures/signalCrash.ts'), ws],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const id = child.stdout.trim();
    assert.equal(
      fs.existsSync(path.join(ws, '.agent', 'experience.db')),
      true,
      'the first save of an empty db',
    );
    for (let round = 0; round < 2; round++) {
      pipeline = await open();
      const run = pipeline.getRun(id)!;
      assert.equal(run.reward, (1 + 0.25 + 0) / 3, `round ${round}: compiled, 3 type errors, tests failed`);
      assert.equal(run.signals.length, 2);
      assert.equal(
        pipeline.getStats().promptPerformance.find((s) => s.prompt_id === 'default')?.count,
        1,
        'the run once',
      );
      assert.equal(promptSum(pipeline, 'default'), run.reward);
      await pipeline.close();
    }
    pipeline = undefined as unknown as LearningPipeline;
  });
});
