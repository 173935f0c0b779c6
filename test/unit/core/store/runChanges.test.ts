// A run's change to the workspace (the files and the diff the run view shows): kept like a run's texts — journalled,
// held in the database until a save moves it to .agent/texts/, read back from there — and like a late signal in
// that it arrives after the run and a newer one replaces an older one.

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { LearningPipeline } from '../../../../src/core/pipeline';
import type { RunChange } from '../../../../src/core/learning/runChange';
import { readTextRecord } from '../../../support/savedRuns';

const PATCH = '--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1,1 +1,2 @@\n a\n+b\n';

function change(at: number, patch = PATCH): RunChange {
  return { at, files: [{ path: 'src/a.ts', added: 1, removed: 0, before: 'seen' }], patch };
}

describe("a run's change to the workspace", () => {
  let dir: string;
  let agentDir: string;
  let logs: string[];
  const open = () => LearningPipeline.open(dir, { log: (l) => logs.push(l), pollIntervalMs: 0 });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-change-'));
    agentDir = path.join(dir, '.agent');
    logs = [];
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function changeRows(): { held: number; refs: { segment: number; offset: number; length: number }[] } {
    const db = new Database(path.join(agentDir, 'experience.db'), { readonly: true });
    try {
      return {
        held: db.prepare('SELECT count(*) FROM run_changes').pluck().get() as number,
        refs: db.prepare('SELECT segment, offset, length FROM run_change_refs').all() as {
          segment: number;
          offset: number;
          length: number;
        }[],
      };
    } finally {
      db.close();
    }
  }

  it('is shown with its run, moved to .agent/texts/ at the save, and read back from there after a reopen', async () => {
    const p = await open();
    const { id } = await p.recordRun('task', 'model', 'default', {
      input: 'in',
      output: 'out',
      compile: true,
    });
    assert.equal(p.getRun(id)!.change, null, 'none before the editor saw one');
    assert.equal(await p.recordChange(id, change(1000)), true);
    assert.deepEqual(p.getRun(id)!.change, change(1000));
    assert.ok(logs.some((l) => l.includes(`🧾 Change for run ${id}: 1 file, 1 changed line`)));
    await p.close();

    const rows = changeRows();
    assert.equal(rows.held, 0, 'no change left in the database image');
    assert.equal(rows.refs.length, 1);
    const record = readTextRecord(
      agentDir,
      rows.refs[0]!.segment,
      rows.refs[0]!.offset,
      rows.refs[0]!.length,
    );
    assert.equal(record.id, id);
    assert.equal(record.output, PATCH, 'the diff, as the layout says: the record output');
    assert.deepEqual(JSON.parse(record.input), change(1000).files, 'the files as JSON: the record input');

    const again = await open();
    try {
      assert.deepEqual(again.getRun(id)!.change, change(1000));
      assert.equal(again.getRun(id)!.input, 'in', "the run's own texts are untouched");
    } finally {
      await again.close();
    }
  });

  it('keeps the newest: an older change changes nothing, a newer one replaces a moved one', async () => {
    const p = await open();
    const { id } = await p.recordRun('task', 'model', 'default', { input: 'in', output: 'out' });
    await p.recordChange(id, change(2000));
    assert.equal(await p.recordChange(id, change(1000, 'older')), false);
    await p.close();
    const q = await open();
    try {
      assert.equal(await q.recordChange(id, change(3000, 'newer\n')), true);
      assert.equal((q.getRun(id)!.change as RunChange).patch, 'newer\n');
    } finally {
      await q.close();
    }
    assert.equal(changeRows().refs.length, 1, 'the older ref is replaced, not kept beside it');
    const r = await open();
    try {
      assert.equal((r.getRun(id)!.change as RunChange).patch, 'newer\n');
    } finally {
      await r.close();
    }
  });

  it('refuses a change for a run that is not stored, and one with a wrong field, naming it', async () => {
    const p = await open();
    try {
      await assert.rejects(p.recordChange('no-such-run', change(1)), /No run with id no-such-run/);
      const { id } = await p.recordRun('task', 'model', 'default', { input: 'in', output: 'out' });
      await assert.rejects(
        p.recordChange(id, { ...change(1), files: [{ path: 'a', added: -1, removed: 0, before: 'seen' }] }),
        /Invalid change\.files\.0\.added/,
      );
      assert.equal(p.getRun(id)!.change, null);
    } finally {
      await p.close();
    }
  });

  it('arrives from another process through the inbox, and a broken change line is skipped with its field', async () => {
    const p = await open();
    try {
      const { id } = await p.recordRun('task', 'model', 'default', { input: 'in', output: 'out' });
      fs.writeFileSync(
        path.join(agentDir, 'inbox', 'agent.jsonl'),
        [
          JSON.stringify({ type: 'change', runId: id, change: { ...change(5), at: 'soon' } }),
          JSON.stringify({ type: 'change', runId: id, change: change(7) }),
        ].join('\n') + '\n',
      );
      await p.ingestInbox();
      assert.deepEqual(p.getRun(id)!.change, change(7));
      assert.ok(
        logs.some((l) => /Skipped inbox\/agent\.jsonl line 1: Invalid change\.at/.test(l)),
        logs.join('\n'),
      );
    } finally {
      await p.close();
    }
  });

  it('skips a change line whose run is not stored, saying so', async () => {
    const p = await open();
    try {
      fs.mkdirSync(path.join(agentDir, 'inbox'), { recursive: true });
      fs.writeFileSync(
        path.join(agentDir, 'inbox', 'agent.jsonl'),
        JSON.stringify({ type: 'change', runId: 'r-later', change: change(7) }) + '\n',
      );
      await p.ingestInbox();
      assert.ok(
        logs.some((l) =>
          l.includes('Skipped inbox/agent.jsonl line 1: a change for run r-later, which is not stored'),
        ),
        logs.join('\n'),
      );
    } finally {
      await p.close();
    }
  });

  it('says why when its record in .agent/texts/ is corrupt, and keeps the run, its texts and its reward', async () => {
    const p = await open();
    const { id, reward } = await p.recordRun('task', 'model', 'default', {
      input: 'in',
      output: 'out',
      compile: true,
    });
    await p.recordChange(id, change(1000));
    await p.close();
    const ref = changeRows().refs[0]!;
    const segment = path.join(agentDir, 'texts', `${String(ref.segment).padStart(6, '0')}.seg`);
    const bytes = fs.readFileSync(segment);
    bytes[ref.offset + ref.length - 1]! ^= 0xff;
    fs.writeFileSync(segment, bytes);

    const q = await open();
    try {
      const run = q.getRun(id)!;
      assert.equal(run.input, 'in');
      assert.equal(run.reward, reward);
      assert.equal((run.change as { unavailable: string }).unavailable !== undefined, true);
      assert.match((run.change as { unavailable: string }).unavailable, /checksum|CRC|corrupt/i);
    } finally {
      await q.close();
    }
  });
});
