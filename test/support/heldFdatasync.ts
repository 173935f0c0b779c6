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
  /** fdatasyncSync calls on the files held ones would cover (the event loop waiting on the disk). */
  readonly syncCalls: number;
  restore(): void;
}

/** Holds the fdatasyncs of files whose path `covers`; any other goes straight through. */
export function holdFdatasync(covers: (file: string) => boolean): HeldFdatasync {
  const realAsync = fs.fdatasync;
  const realSync = fs.fdatasyncSync;
  const fileOf = (fd: number) => fs.readlinkSync(`/proc/self/fd/${fd}`);
  const held: HeldSync[] = [];
  let syncCalls = 0;
  (fs as { fdatasync: unknown }).fdatasync = (fd: number, done: Done) => {
    if (!covers(fileOf(fd))) return realAsync(fd, done);
    held.push({
      fd,
      data: fs.readFileSync(`/proc/self/fd/${fd}`, 'utf8').replace(/\0+$/, ''),
      finish: (err) => (err ? done(err) : realAsync(fd, done)),
    });
  };
  fs.fdatasyncSync = (fd: number) => {
    if (covers(fileOf(fd))) syncCalls++;
    realSync(fd);
  };
  return {
    syncs: held,
    get syncCalls() {
      return syncCalls;
    },
    restore: () => {
      fs.fdatasync = realAsync;
      fs.fdatasyncSync = realSync;
    },
  };
}
