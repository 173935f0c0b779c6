import assert from 'node:assert/strict';
import { LearningPipeline } from '../../../src/core/pipeline';
import { VerdictDesk } from '../../../src/extension/verdictHistory';
import { makeWorkspace, removeWorkspace } from '../../support/workspace';

describe('VerdictDesk (Accept / Reject / Clear with Undo)', () => {
  let ws: string;
  let pipeline: LearningPipeline;

  beforeEach(async () => {
    ws = makeWorkspace();
    pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {} });
  });
  afterEach(async () => {
    await pipeline.close();
    removeWorkspace(ws);
  });

  it('undoes a changed verdict back to the previous verdict, not to none, and a first verdict back to none', async () => {
    const desk = new VerdictDesk(() => pipeline);
    const { id, reward } = await pipeline.recordRun('t', 'm', 'p', {
      input: 'i',
      output: 'o',
      compile: true,
      tests: { passed: 1, total: 2 },
    });
    const accepted = await desk.set(id, 'accept');
    await desk.set(id, 'reject');
    assert.equal(pipeline.getRun(id)!.human, 'reject');

    assert.deepEqual(await desk.undo(id), { reward: accepted.reward, verdict: 'accept' });
    assert.equal(pipeline.getRun(id)!.human, 'accept');
    assert.deepEqual(await desk.undo(id), { reward, verdict: null });
    assert.equal(pipeline.getRun(id)!.human, null);
    assert.equal(pipeline.getRun(id)!.reward, reward);
    assert.equal(await desk.undo(id), undefined);
    assert.equal(desk.history.peek(id), undefined);
  });

  it('undoes a Clear back to the verdict it cleared, and a repeated verdict adds nothing to undo', async () => {
    const desk = new VerdictDesk(() => pipeline);
    const { id } = await pipeline.recordRun('t', 'm', 'p', { input: 'i', output: 'o', human: 'reject' });
    await desk.set(id, null);
    assert.equal(pipeline.getRun(id)!.human, null);
    await desk.set(id, null);
    assert.deepEqual(desk.history.peek(id), { verdict: 'reject' });
    await desk.undo(id);
    assert.equal(pipeline.getRun(id)!.human, 'reject');
  });
});
