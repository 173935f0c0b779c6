// Reading the inbox a slice at a time (a poll, the import of a big file at open): each slice is bounded by time, a
// synchronous read in between still reads everything, every slice gets somewhere, and listeners are not flooded.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { openDurableStore } from '../../../support/durableStore';

const LINES = 20_000;
const result = (i: number) => ({ input: `in ${i}`, output: `out ${i}`, compile: true });
const agentLine = (i: number) =>
  JSON.stringify({
    type: 'run',
    id: `a-${i}`,
    taskSlug: 't',
    modelId: 'm',
    promptId: 'default',
    result: result(i),
  });
const agentFile = (n: number) => Array.from({ length: n }, (_, i) => agentLine(i)).join('\n') + '\n';

function savedIds(agent: string): Set<string> {
  const db = new Database(path.join(agent, 'experience.db'), { readonly: true, fileMustExist: true });
  try {
    return new Set(db.prepare('SELECT id FROM runs').pluck().all() as string[]);
  } finally {
    db.close();
  }
}

describe('durable store: the inbox read a slice at a time', function () {
  this.timeout(120_000);
  let dir: string;
  let agent: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-slices-'));
    agent = path.join(dir, '.agent');
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads and saves the whole inbox in closeSync while a poll waits for its next slice', async () => {
    const ds = await openDurableStore(agent, () => {});
    fs.writeFileSync(path.join(agent, 'inbox', 'agent.jsonl'), agentFile(LINES));
    const poll = ds.syncSliced(); // its first slice runs now; the rest wait for the event loop
    assert.ok(ds.db.maxPk() < LINES, 'the poll is cut into slices');

    ds.closeSync(); // what the exit hook does when the process exits now

    await poll;
    assert.equal(savedIds(agent).size, LINES);
  });

  it('keeps the runs a reader journalled when it takes over while its poll waits for its next slice', async () => {
    const owner = await openDurableStore(agent, () => {});
    const reader = await openDurableStore(agent, () => {});
    assert.equal(reader.isOwner, false);
    fs.writeFileSync(path.join(agent, 'inbox', 'agent.jsonl'), agentFile(LINES));
    const poll = reader.syncSliced();
    owner.closeSync();
    reader.record({
      id: 'mine',
      createdAt: 1,
      taskSlug: 't',
      modelId: 'm',
      promptId: 'default',
      role: 'coder',
      result: result(0),
    });

    reader.sync(); // e.g. recordFeedback for a run not known yet: the reader takes over the database nobody owns

    await reader.save();
    await poll;
    reader.closeSync();
    const saved = savedIds(agent);
    assert.ok(saved.has('mine'), 'the run the reader acknowledged is saved');
    assert.equal(saved.size, LINES + 1);
  });

  it('gets through the inbox when listing it alone takes longer than a slice', async () => {
    // Thousands of entries to list and look at before the file with runs: on a slow disk (a network share, WSL's
    // /mnt/c) a few dozen cost as much. Each slice reads at least one batch, so the import ends.
    fs.mkdirSync(path.join(agent, 'inbox'), { recursive: true });
    for (let i = 0; i < 4_000; i++)
      fs.mkdirSync(path.join(agent, 'inbox', `d${String(i).padStart(5, '0')}.jsonl`));
    fs.writeFileSync(path.join(agent, 'inbox', 'z-agent.jsonl'), agentFile(200));
    const ds = await openDurableStore(agent, () => {});
    assert.equal(ds.db.maxPk(), 200);
    ds.closeSync();
  });

  it('tells its listeners of an import at most about once a second, every run counted, the last call marked', async () => {
    fs.mkdirSync(path.join(agent, 'inbox'), { recursive: true });
    fs.writeFileSync(path.join(agent, 'inbox', 'agent.jsonl'), agentFile(LINES));
    const told: { runs: number; more: boolean }[] = [];
    const began = performance.now();
    const ds = await openDurableStore(agent, () => {}, {
      onExternalChange: (runs, _verdicts, more) => told.push({ runs, more: more ?? false }),
    });
    const seconds = (performance.now() - began) / 1000;
    assert.equal(
      told.reduce((a, b) => a + b.runs, 0),
      LINES,
    );
    assert.ok(told.length <= Math.ceil(seconds) + 1, `${told.length} notices in ${seconds.toFixed(1)} s`);
    assert.deepEqual(
      told.map((t) => t.more),
      [...told.slice(1).map(() => true), false],
      'one final call (a notification is shown once, with the total)',
    );
    ds.closeSync();
  });
});
