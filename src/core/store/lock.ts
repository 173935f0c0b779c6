// The writer lock: one process owns .agent/experience.db at a time; a lock left by a dead process is taken over.

import * as fs from 'node:fs';
import * as os from 'node:os';
import { randomBytes } from 'node:crypto';
import { NotAFileError } from '../errors';
import { openRegularFile } from '../workspace/regularFile';

interface LockContent {
  pid: number;
  host: string;
  nonce: string;
  since: number;
}

/** Something other than a file at the lock path: a directory, a symbolic link (even a dangling one), a FIFO. */
interface NotALock {
  kind: string;
}

type LockState = LockContent | NotALock | 'missing' | 'unreadable';

/** A lock file is a few dozen bytes; anything longer is not one of ours. */
const MAX_LOCK_BYTES = 4096;

/** Nonces of the locks this process holds (a process may hold locks of several workspaces). */
const HELD_HERE = new Set<string>();

/** A lock from another host whose file has not been touched for this long is considered abandoned. */
const FOREIGN_STALE_MS = 2 * 60_000;

/** Who holds the lock at `file` (pid and host), if a lock of ours is there. */
export function lockHolder(file: string): { pid: number; host: string } | undefined {
  const lock = readLock(file);
  return typeof lock === 'object' && 'pid' in lock ? { pid: lock.pid, host: lock.host } : undefined;
}

export class WriterLock {
  private readonly nonce = randomBytes(8).toString('hex');
  private held = false;

  constructor(
    readonly file: string,
    /** Where to report a lock path that held something else, which was moved aside. */
    private readonly log: (line: string) => void = () => {},
  ) {}

  get isHeld(): boolean {
    return this.held;
  }

  /** Takes the lock if it is free or stale. Never blocks. */
  tryAcquire(): boolean {
    if (this.held) return true;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.create()) {
        HELD_HERE.add(this.nonce);
        return (this.held = true);
      }
      const current = readLock(this.file);
      if (current === 'missing') continue;
      if (isNotALock(current)) {
        this.moveAside(current);
        continue;
      }
      if (!isStale(this.file, current)) return false;
      this.removeStale(current);
    }
    return false;
  }

  /** True while the file on disk is still ours (another process may have broken a lock it thought stale). */
  verify(): boolean {
    if (!this.held) return false;
    if (!isOurs(readLock(this.file), this.nonce)) {
      this.held = false;
      HELD_HERE.delete(this.nonce);
    }
    return this.held;
  }

  /** Refreshes the file's mtime so other hosts can tell we are alive. */
  touch(): void {
    if (!this.held) return;
    const now = new Date();
    try {
      fs.lutimesSync(this.file, now, now); // never through a link someone put in its place
    } catch {
      this.held = false;
      HELD_HERE.delete(this.nonce);
    }
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    HELD_HERE.delete(this.nonce);
    if (isOurs(readLock(this.file), this.nonce)) fs.rmSync(this.file, { force: true });
  }

  private create(): boolean {
    const content: LockContent = {
      pid: process.pid,
      host: os.hostname(),
      nonce: this.nonce,
      since: Date.now(),
    };
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'wx', 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    try {
      fs.writeFileSync(fd, JSON.stringify(content));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    return true;
  }

  /**
   * Moves the stale lock aside and checks that what was moved is the lock judged stale; if a live process
   * replaced it in between, it is put back.
   */
  private removeStale(stale: LockContent | 'unreadable'): void {
    const aside = `${this.file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      fs.renameSync(this.file, aside);
    } catch {
      return;
    }
    const moved = readLock(aside);
    const same = stale === 'unreadable' ? moved === 'unreadable' : isOurs(moved, stale.nonce);
    if (!same) {
      try {
        fs.linkSync(aside, this.file);
      } catch {
        // someone created a new lock meanwhile; theirs stands
      }
    }
    removeIfFile(aside);
  }

  /**
   * No process can hold the lock through a directory, a link or a FIFO at its path (locks are created with
   * O_EXCL, which fails on any of them), yet each stops every process from taking it, silently, for good. So it
   * is moved aside, a link removed (its target is left alone), anything else kept under a name that says why.
   */
  private moveAside(found: NotALock): void {
    const before = lstatOrUndefined(this.file);
    if (!before || before.isFile()) return;
    const aside = `${this.file}.not-a-lock-${Date.now()}-${randomBytes(2).toString('hex')}`;
    try {
      fs.renameSync(this.file, aside);
    } catch {
      return;
    }
    const moved = lstatOrUndefined(aside);
    if (!moved || moved.ino !== before.ino || moved.dev !== before.dev) {
      // Another process moved it first and took the lock, which this rename then moved: put that lock back.
      try {
        fs.linkSync(aside, this.file);
      } catch {
        // a newer lock stands
      }
      removeIfFile(aside);
      return;
    }
    if (moved.isSymbolicLink()) {
      const target = readLinkOrUndefined(aside);
      fs.rmSync(aside, { force: true });
      this.log(
        `⚠️ ${this.file} was a symbolic link${target === undefined ? '' : ` to ${target}`}, not a lock file; ` +
          'removed the link (its target is untouched) so that this workspace has an owner again.',
      );
    } else {
      this.log(
        `⚠️ ${this.file} was ${found.kind}, not a lock file; moved it to ${aside} (unchanged) ` +
          'so that this workspace has an owner again.',
      );
    }
  }
}

function isNotALock(state: LockState): state is NotALock {
  return typeof state === 'object' && 'kind' in state;
}

function isOurs(state: LockState, nonce: string): boolean {
  return typeof state === 'object' && !isNotALock(state) && state.nonce === nonce;
}

function readLock(file: string): LockState {
  let text: string;
  try {
    const { fd } = openRegularFile(file);
    try {
      const buf = Buffer.alloc(MAX_LOCK_BYTES + 1);
      const n = fs.readSync(fd, buf, 0, buf.length, 0);
      if (n > MAX_LOCK_BYTES) return 'unreadable';
      text = buf.subarray(0, n).toString('utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (err instanceof NotAFileError) return { kind: err.kind };
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
  try {
    const v = JSON.parse(text) as LockContent;
    if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.nonce === 'string') return v;
  } catch {
    // fall through
  }
  return 'unreadable';
}

function removeIfFile(file: string): void {
  if (lstatOrUndefined(file)?.isDirectory() === false) fs.rmSync(file, { force: true });
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch {
    return undefined;
  }
}

function readLinkOrUndefined(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}

function isStale(file: string, lock: LockContent | 'unreadable'): boolean {
  if (lock === 'unreadable') {
    // A writer killed between creating and filling the file; give a live one a moment to finish writing.
    return ageMs(file) > 5_000;
  }
  if (lock.host === os.hostname()) {
    // Our own pid: live if one of this process's locks holds it, else left before a restart that reused the pid.
    if (lock.pid === process.pid) return !HELD_HERE.has(lock.nonce);
    if (!isProcessAlive(lock.pid)) return true;
    // A live process with that pid that started after the lock was taken is not the one that took it.
    const started = processStartMs(lock.pid);
    return started !== undefined && started > lock.since + 1_000;
  }
  return ageMs(file) > FOREIGN_STALE_MS;
}

/** When a process started (Linux, from /proc); undefined where that cannot be told. */
function processStartMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime, in clock ticks since boot) comes after the parenthesised command name.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const btime = /^btime (\d+)$/m.exec(fs.readFileSync('/proc/stat', 'utf8'));
    if (!btime || !Number.isFinite(ticks)) return undefined;
    return Number(btime[1]) * 1000 + (ticks / 100) * 1000; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

function ageMs(file: string): number {
  try {
    return Date.now() - fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

export function isProcessAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
