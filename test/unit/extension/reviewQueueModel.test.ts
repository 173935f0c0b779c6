import assert from 'node:assert/strict';
import { LearningPipeline } from '../../../src/core/pipeline';
import { QUEUE_PAGE_SIZE, ReviewQueueModel } from '../../../src/extension/reviewQueueModel';
import { makeWorkspace, removeWorkspace } from '../../support/workspace';

describe('ReviewQueueModel', () => {
  let ws: string;
  let pipeline: LearningPipeline;
  let ids: string[];

  before(async () => {
    ws = makeWorkspace();
    pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {} });
    ids = [];
    for (let i = 0; i < QUEUE_PAGE_SIZE + 30; i++) {
      const role = i % 2 ? 'coder' : 'reviewer';
      ids.push(
        (await pipeline.recordRun(`t${i}`, 'm', 'p', { input: 'i', output: 'o', compile: true }, role)).id,
      );
    }
  });
  after(async () => {
    await pipeline.close();
    removeWorkspace(ws);
  });

  const model = () => new ReviewQueueModel((filter, options) => pipeline.listRuns(filter, options));

  it('loads one page of runs without a verdict, newest first, and the next one on Load more', () => {
    const q = model();
    assert.equal(q.runs.length, QUEUE_PAGE_SIZE);
    assert.equal(q.runs[0]!.id, ids.at(-1));
    assert.ok(q.hasMore);
    assert.ok(q.loadMore());
    assert.equal(q.runs.length, ids.length);
    assert.ok(!q.hasMore);
    assert.equal(q.describe(), 'no verdict · newest first');
  });

  it('goes to the next and previous run, loading the next page at the end of the loaded ones', () => {
    const q = model();
    assert.equal(q.neighbour(ids.at(-1), 'next')!.id, ids.at(-2));
    assert.equal(q.neighbour(ids.at(-2), 'previous')!.id, ids.at(-1));
    assert.equal(q.neighbour(ids.at(-1), 'previous'), undefined);
    const lastLoaded = q.runs.at(-1)!.id;
    assert.equal(q.neighbour(lastLoaded, 'next')!.id, ids[ids.length - QUEUE_PAGE_SIZE - 1]);
    assert.equal(q.runs.length, ids.length);
  });

  it('finds the next run after one that left the queue (judged) by where it was', async () => {
    const q = model();
    const judged = q.runs[3]!.id;
    const index = q.indexOf(judged)!;
    const expected = q.runs[4]!.id;
    await pipeline.recordFeedback(judged, 'accept');
    q.reload();
    assert.equal(q.neighbour(judged, 'next', index)!.id, expected);
    await pipeline.clearFeedback(judged);
  });

  it('filters by role and says so', () => {
    const q = model();
    q.filter = { verdict: 'none', role: 'coder' };
    q.order = 'uncertain';
    q.reload();
    assert.ok(q.runs.every((r) => r.role === 'coder'));
    assert.equal(q.describe(), 'no verdict · role coder · least certain first');
  });
});
