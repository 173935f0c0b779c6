// A full disk: what held up in the adversarial pass (issue #14) stays held. The workspace lies on a real 1 MiB
// tmpfs, mounted in a mount namespace of the test's own (`unshare -m`, as root, or `-rm` in a user namespace), which
// fills up while runs are recorded: once the journal's allocated chunk is used up each is refused with ENOSPC, none
// is acknowledged and then lost, and once the space is back recording goes on and every acknowledged run and verdict
// is in a sound experience.db.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';

const ROOT = path.resolve(__dirname, '../../../..');
const SCENARIO = path.join(ROOT, 'test/fixtures/diskFull.ts');

interface Outcome {
  acknowledged: string[];
  acknowledgedWhileFull: number;
  verdicts: Record<string, 'accept' | 'reject'>;
  refused: string[];
  logs: string[];
  error?: string;
}

describe('disk full', function () {
  this.timeout(120_000);
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-diskfull-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses runs with ENOSPC while the disk is full, loses no acknowledged one, and records again once space is back', () => {
    const workspace = path.join(dir, 'workspace');
    const saved = path.join(dir, 'experience.db');
    fs.mkdirSync(workspace);
    // The scenario runs on the tmpfs; the database is copied out after it closed, since the mount goes with the namespace.
    const script =
      `mount -t tmpfs -o size=1m tmpfs "$1" && ` +
      `node --import tsx "$2" "$1" && cp "$1/.agent/experience.db" "$3" && ls -a "$1/.agent/inbox"`;
    const asRoot = process.getuid?.() === 0;
    const child = spawnSync(
      'unshare',
      [asRoot ? '-m' : '-rm', 'sh', '-c', script, 'sh', workspace, SCENARIO, saved],
      { cwd: ROOT, encoding: 'utf8' },
    );
    assert.equal(child.status, 0, `the scenario failed:\n${child.stdout}\n${child.stderr}`);
    const [first, ...inboxListing] = child.stdout.trim().split('\n');
    const outcome = JSON.parse(first!) as Outcome;
    assert.equal(outcome.error, undefined);

    // While the disk was full: the runs that fit in the journal file made ready before it filled (its first 64 KiB
    // allocated), then 40 runs refused, and the verdict too unless it fit, each saying why.
    assert.ok(outcome.acknowledgedWhileFull > 0, 'the journal file made ready took runs');
    assert.ok(outcome.refused.length === 40 || outcome.refused.length === 41, outcome.refused.join('\n'));
    for (const reason of outcome.refused) assert.match(reason, /ENOSPC|no space left/i);

    const db = new Database(saved, { readonly: true });
    try {
      assert.equal(db.prepare('PRAGMA integrity_check').pluck().get(), 'ok');
      const ids = new Set(db.prepare('SELECT id FROM runs').pluck().all() as string[]);
      for (const id of outcome.acknowledged) assert.ok(ids.has(id), `acknowledged run ${id} is missing`);
      assert.equal(ids.size, outcome.acknowledged.length, 'a refused run was stored after all');
      for (const [id, verdict] of Object.entries(outcome.verdicts)) {
        assert.equal(db.prepare('SELECT human FROM runs WHERE id = ?').pluck().get(id), verdict);
      }
    } finally {
      db.close();
    }
    // Everything is in the database: no journal is left to replay.
    assert.deepEqual(
      inboxListing.filter((n) => n.endsWith('.jsonl')),
      [],
      `journals left: ${inboxListing.join(' ')}`,
    );
  });
});
