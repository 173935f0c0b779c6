// The real fs.fdatasync (the callback one), held until a test lets it go: to see what a group commit shares, and
// what its callers hear before the disk answered. A failure is the test's error instead of the real call.

import fs from 'node:fs';

type Done = (err: NodeJS.ErrnoException | null) => void;

export interface HeldSync {
  fd: number;
  /** The file's data when the fdatasync was asked for (its zero-filled tail left out). */
  data: string;
  /** Runs the real fdatasync and then the caller's callback; with `err`, calls back with that error instead. */
  finish(err?: NodeJS.ErrnoException): void;
}

export interface HeldFdatasync {
  /** Every fdatasync held so far, in order. */
  readonly syncs: HeldSync[];
  /** fdatasync calls (callback ones) on the covered files, held or let through. */
  readonly calls: number;
  /** fdatasyncSync calls on the covered files (the event loop waiting on the disk). */
  readonly syncCalls: number;
  /** Resolves once `count` fdatasyncs are held. */
  held(count: number): Promise<void>;
  restore(): void;
}

/**
 * Holds the first `hold` fdatasyncs of files whose path `covers` (default: all of them); later ones, and those of
 * other files, go straight through.
 */
export function holdFdatasync(covers: (file: string) => boolean, hold = Infinity): HeldFdatasync {
  const realAsync = fs.fdatasync;
  const realSync = fs.fdatasyncSync;
  const fileOf = (fd: number) => fs.readlinkSync(`/proc/self/fd/${fd}`);
  const held: HeldSync[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  let calls = 0;
  let syncCalls = 0;
  (fs as { fdatasync: unknown }).fdatasync = (fd: number, done: Done) => {
    if (!covers(fileOf(fd))) return realAsync(fd, done);
    calls++;
    if (held.length >= hold) return realAsync(fd, done);
    held.push({
      fd,
      data: fs.readFileSync(`/proc/self/fd/${fd}`, 'utf8').replace(/\0+$/, ''),
      finish: (err) => (err ? done(err) : realAsync(fd, done)),
    });
    for (const w of waiting.filter((w) => w.count <= held.length)) w.resolve();
  };
  fs.fdatasyncSync = (fd: number) => {
    if (covers(fileOf(fd))) syncCalls++;
    realSync(fd);
  };
  return {
    syncs: held,
    get calls() {
      return calls;
    },
    get syncCalls() {
      return syncCalls;
    },
    held: (count) =>
      held.length >= count ? Promise.resolve() : new Promise((resolve) => waiting.push({ count, resolve })),
    restore: () => {
      fs.fdatasync = realAsync;
      fs.fdatasyncSync = realSync;
    },
  };
}
