import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LearningPipeline } from '../../../src/core/pipeline';
import { LazyPipeline, type AgentDirOrigin } from '../../../src/extension/lazyPipeline';

const RESULT = { input: 'make login work', output: 'done', compile: true };

describe('LazyPipeline', () => {
  let ws: string;
  let told: AgentDirOrigin[];
  let lazy: LazyPipeline;
  const agentDir = () => path.join(ws, '.agent');

  beforeEach(() => {
    ws = fs.mkdtempSync(path.join(os.tmpdir(), 'al-lazy-'));
    told = [];
    lazy = new LazyPipeline(
      ws,
      (root) => new LearningPipeline(root, { log: () => undefined, pollIntervalMs: 0 }),
      (origin) => told.push(origin),
    );
  });

  afterEach(async () => {
    await lazy.pipeline?.close();
    fs.rmSync(ws, { recursive: true, force: true });
  });

  it('opens nothing and creates no .agent/ in a folder that has none', () => {
    assert.equal(lazy.openIfPresent(), undefined);
    assert.equal(lazy.appeared(), undefined);
    assert.equal(lazy.pipeline, undefined);
    assert.equal(fs.existsSync(agentDir()), false);
    assert.deepEqual(told, []);
  });

  it('creates .agent/ on the first write, keeps the run, and tells once after it is on disk', async () => {
    const pipeline = lazy.openForWrite();
    const run = await pipeline.recordRun('fix-login', 'gpt-x', 'default', RESULT);

    assert.equal(run.recorded, true);
    assert.deepEqual(told, ['write']);
    assert.ok(fs.statSync(path.join(agentDir(), 'inbox')).isDirectory());
    assert.equal(pipeline.getRun(run.id)?.taskSlug, 'fix-login');
    // The same pipeline for later writes, and the watcher seeing our own folder is no news.
    assert.equal(lazy.openForWrite(), pipeline);
    assert.equal(lazy.appeared(), pipeline);
    assert.deepEqual(told, ['write']);
  });

  it('opens an existing .agent/ without telling anyone', async () => {
    fs.mkdirSync(agentDir());
    const pipeline = lazy.openIfPresent();
    assert.ok(pipeline);
    await pipeline.whenReady();
    assert.equal(lazy.openForWrite(), pipeline);
    assert.deepEqual(told, []);
  });

  it('opens when .agent/ appears from outside, and tells that once', async () => {
    assert.equal(lazy.openIfPresent(), undefined);
    // What the CLI does in a terminal: it creates the folder and writes a run into the inbox.
    fs.mkdirSync(path.join(agentDir(), 'inbox'), { recursive: true });
    const pipeline = lazy.appeared();
    assert.ok(pipeline);
    await pipeline.whenReady();
    assert.equal(lazy.appeared(), pipeline);
    assert.deepEqual(told, ['outside']);
  });
});
