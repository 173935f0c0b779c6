import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isProcessAlive, WriterLock } from '../../../../src/core/store/lock';

const OPEN_ONCE = path.resolve(__dirname, '../../../fixtures/openOnce.ts');

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

/** A process that has exited, so its pid names no one (until the system reuses it). */
async function deadPid(): Promise<number> {
  const dead = spawn('node', ['-e', '0']);
  await exited(dead);
  return dead.pid!;
}

/** Sets a file's modification time `ms` into the past. */
function age(file: string, ms: number): void {
  const then = new Date(Date.now() - ms);
  fs.utimesSync(file, then, then);
}

describe('WriterLock', () => {
  let dir: string;
  let file: string;
  const held: WriterLock[] = [];
  let logs: string[];

  /** A lock on `file`, released after the test; what it reports goes to `logs`. */
  function lock(): WriterLock {
    const l = new WriterLock(file, (line) => logs.push(line));
    held.push(l);
    return l;
  }

  /** Our own lock file now holds the path: a regular file naming this process. */
  function assertOurLockFile(): void {
    assert.equal(fs.lstatSync(file).isFile(), true);
    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).pid, process.pid);
  }

  function writeLock(content: object | string): void {
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  }

  beforeEach(() => {
    logs = [];
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-lock-'));
    file = path.join(dir, 'experience.db.lock');
  });

  afterEach(() => {
    for (const l of held.splice(0)) l.release();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lets one holder at a time take the lock, and the next once it is released', () => {
    const first = lock();
    const second = lock();

    assert.equal(first.tryAcquire(), true);
    assert.equal(second.tryAcquire(), false);
    first.release();

    assert.equal(fs.existsSync(file), false);
    assert.equal(second.tryAcquire(), true);
    assert.equal(second.isHeld, true);
  });

  it('takes over a lock left by a dead process', async () => {
    writeLock({ pid: await deadPid(), host: os.hostname(), nonce: 'x', since: 0 });

    assert.equal(lock().tryAcquire(), true);
  });

  it('takes over a lock that names its own pid but was not taken by it (a pid reused after a restart)', () => {
    writeLock({ pid: process.pid, host: os.hostname(), nonce: 'from-before-the-restart', since: 0 });

    assert.equal(lock().tryAcquire(), true);
  });

  it('takes over a lock whose pid now belongs to a process started after the lock was taken', async () => {
    const other = spawn('node', ['-e', 'setInterval(() => {}, 1000)']);
    try {
      writeLock({ pid: other.pid, host: os.hostname(), nonce: 'old', since: Date.now() - 3_600_000 });

      assert.equal(lock().tryAcquire(), true);
    } finally {
      other.kill();
      await exited(other);
    }
  });

  it('respects a lock held by a live process that took it', async () => {
    const other = spawn('node', ['-e', 'setInterval(() => {}, 1000)']);
    try {
      writeLock({ pid: other.pid, host: os.hostname(), nonce: 'theirs', since: Date.now() + 60_000 });

      assert.equal(lock().tryAcquire(), false);
      assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).nonce, 'theirs', 'their lock is left as it was');
    } finally {
      other.kill();
      await exited(other);
    }
  });

  it("gives another host's lock two minutes without a touch before taking it over", () => {
    writeLock({ pid: 1, host: 'another-host', nonce: 'theirs', since: 0 });
    age(file, 60_000);
    assert.equal(lock().tryAcquire(), false);

    age(file, 3 * 60_000);
    assert.equal(lock().tryAcquire(), true);
  });

  it('gives an unreadable lock (its writer may still be filling it) five seconds before taking it over', () => {
    writeLock('{"pid": 12');
    assert.equal(lock().tryAcquire(), false);

    age(file, 10_000);
    assert.equal(lock().tryAcquire(), true);
  });

  it('knows it lost the lock once another process broke it, and then leaves the new lock alone', () => {
    const mine = lock();
    assert.equal(mine.tryAcquire(), true);
    assert.equal(mine.verify(), true);
    writeLock({ pid: 1, host: 'another-host', nonce: 'theirs', since: 0 });

    assert.equal(mine.verify(), false);
    assert.equal(mine.isHeld, false);
    mine.release();

    assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).nonce, 'theirs');
  });

  it('takes the lock past a dangling symbolic link at its path, saying so, and creates nothing where it pointed', () => {
    const nowhere = path.join(dir, 'elsewhere', 'missing.lock');
    fs.symlinkSync(nowhere, file);

    assert.equal(lock().tryAcquire(), true);

    assertOurLockFile();
    assert.equal(fs.existsSync(path.dirname(nowhere)), false);
    assert.deepEqual(logs, [
      `⚠️ ${file} was a symbolic link to ${nowhere}, not a lock file; removed the link (its target is untouched) ` +
        'so that this workspace has an owner again.',
    ]);
  });

  it('takes the lock past a link to a file elsewhere, and never touches that file through a link', () => {
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'keep me');
    age(victim, 3_600_000);
    const before = fs.statSync(victim).mtimeMs;
    fs.symlinkSync(victim, file);
    const mine = lock();
    assert.equal(mine.tryAcquire(), true);
    // Someone puts the link back in place of the lock while it is held; the periodic touch must not follow it.
    fs.rmSync(file);
    fs.symlinkSync(victim, file);

    mine.touch();
    mine.release();

    assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me');
    assert.equal(fs.statSync(victim).mtimeMs, before);
    assert.equal(fs.lstatSync(file).isSymbolicLink(), true, 'not ours to remove');
  });

  it('moves a directory at the lock path aside, keeping what is in it, and takes the lock', () => {
    fs.mkdirSync(file);
    fs.writeFileSync(path.join(file, 'notes.txt'), 'mine');

    assert.equal(lock().tryAcquire(), true);

    assertOurLockFile();
    const aside = fs.readdirSync(dir).filter((n) => n.startsWith('experience.db.lock.not-a-lock-'));
    assert.equal(aside.length, 1);
    assert.equal(fs.readFileSync(path.join(dir, aside[0]!, 'notes.txt'), 'utf8'), 'mine');
    assert.equal(logs.length, 1);
    assert.match(logs[0]!, /was a directory, not a lock file; moved it to .*not-a-lock-.* \(unchanged\)/);
  });

  it('moves a FIFO at the lock path aside at once instead of waiting on it', function () {
    this.timeout(60_000);
    execFileSync('mkfifo', [file]);

    const child = spawnSync(process.execPath, ['--import', 'tsx', OPEN_ONCE, 'lock', file], {
      encoding: 'utf8',
      timeout: 30_000,
    });

    assert.equal(child.signal, null, 'it did not hang');
    const result = JSON.parse(child.stdout) as { acquired: boolean; logs: string[] };
    assert.equal(result.acquired, true);
    assert.match(result.logs[0]!, /was a FIFO \(named pipe\), not a lock file/);
    const aside = fs.readdirSync(dir).find((n) => n.startsWith('experience.db.lock.not-a-lock-'))!;
    assert.equal(fs.lstatSync(path.join(dir, aside)).isFIFO(), true, 'kept aside');
  });

  it('tells a live process from one that has exited', async () => {
    assert.equal(isProcessAlive(process.pid), true);
    assert.equal(isProcessAlive(await deadPid()), false);
  });
});
