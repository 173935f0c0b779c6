import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { WriterLock } from '../../../../src/core/store/lock';

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

describe('WriterLock', () => {
  let dir: string;
  let file: string;
  const held: WriterLock[] = [];

  /** A lock on `file`, released after the test. */
  function lock(): WriterLock {
    const l = new WriterLock(file);
    held.push(l);
    return l;
  }

  function writeLock(content: object | string): void {
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  }

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-lock-'));
    file = path.join(dir, 'experience.db.lock');
  });

  afterEach(() => {
    for (const l of held.splice(0)) l.release();
    fs.rmSync(dir, { recursive: true, force: true });
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
});
