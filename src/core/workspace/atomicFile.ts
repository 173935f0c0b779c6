// Crash-safe file replacement: write a temp file, fsync it, rename it over the target, fsync the directory.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export const TEMP_MARKER = '.tmp-';

/** `<file>.tmp-<pid>-<8 hex>`: the writer's pid, so a later start can tell a dead writer's leftovers from live ones. */
const TEMP_NAME = /\.tmp-(\d+)-[0-9a-f]{8}$/;

function tempName(file: string): string {
  return `${file}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * The rename replaces whatever is at `file`, a link included: a link planted there is never written through. The
 * temp file is created with `wx`, so it is never a link either; it is removed on every failure.
 */
export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  beforeRename?: () => void,
): Promise<void> {
  const tmp = tempName(file);
  const handle = await fs.promises.open(tmp, 'wx', 0o644);
  try {
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) await handle.writeFile(data);
      else await writeSlices(handle, data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    beforeRename?.();
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true }); // e.g. disk full: leave no half-written temp file behind
    throw err;
  }
  syncDirectory(path.dirname(file));
}

/** Each slice is written whole before the next is asked for: a producer may hand out the same buffer again. */
async function writeSlices(
  handle: fs.promises.FileHandle,
  slices: Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
): Promise<void> {
  for await (const slice of slices) {
    for (let at = 0; at < slice.length;) {
      const { bytesWritten } = await handle.write(slice, at, slice.length - at);
      at += bytesWritten;
    }
  }
}

export function writeFileAtomicSync(
  file: string,
  data: Uint8Array | string | Iterable<Uint8Array>,
  beforeRename?: () => void,
): void {
  const tmp = tempName(file);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    try {
      if (typeof data === 'string' || data instanceof Uint8Array) fs.writeFileSync(fd, data);
      else for (const slice of data) fs.writeFileSync(fd, slice);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    beforeRename?.();
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirectory(path.dirname(file));
}

/**
 * Like writeFileAtomicSync without the fsyncs, for a cache whose reader checks what it reads: a crash may leave it
 * torn or empty, never half old and half new.
 */
export function writeCacheFileSync(file: string, data: Uint8Array | string): void {
  const tmp = tempName(file);
  try {
    fs.writeFileSync(tmp, data, { flag: 'wx', mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

/** A temp file younger than this is kept whoever wrote it: atomic writes take seconds, not minutes. */
const MIN_STALE_AGE_MS = 60_000;

export interface StaleTempOptions {
  /** Targets (base names) whose temp files are left alone, to the owner that cleans them (the database's). */
  leave?: readonly string[];
  /** Only files last written before this time are removed. Default: when this process started. */
  writtenBefore?: number;
}

/**
 * Removes the temp files in `dir` whose writer is gone (killed between creating and renaming one), keeping those
 * of live processes, which may still be writing. A pid that looks dead may be a live writer in another PID
 * namespace (an agent in a container on the bind-mounted repository), so a file is only taken as stale when it was
 * also last written before this process started and at least a minute ago. Returns the names removed; a missing
 * folder has none.
 */
export function removeStaleTempFiles(
  dir: string,
  isAlive: (pid: number) => boolean,
  options: StaleTempOptions = {},
): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const startedAt = options.writtenBefore ?? Date.now() - process.uptime() * 1000;
  const before = Math.min(startedAt, Date.now() - MIN_STALE_AGE_MS);
  const leave = (options.leave ?? []).map((target) => target + TEMP_MARKER);
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || leave.some((prefix) => name.startsWith(prefix)) || isAlive(Number(m[1]))) continue;
    try {
      const st = fs.lstatSync(path.join(dir, name));
      if (st.isDirectory() || st.mtimeMs >= before) continue;
      fs.rmSync(path.join(dir, name), { force: true });
      removed.push(name);
    } catch {
      // gone meanwhile, or not ours to remove: the next start tries again
    }
  }
  return removed;
}

/** syncDirectory on libuv's threads: the directory's fsync (5–10 ms on ext4) off the event loop. Never rejects. */
export function syncDirectoryAsync(dir: string): Promise<void> {
  return syncPathAsync(dir);
}

/**
 * fsync of a file or directory through a descriptor of its own, on libuv's threads; best effort, never rejects (a
 * file system that refuses it, or a path gone meanwhile).
 */
export async function syncPathAsync(target: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(target, 'r');
    await handle.sync();
  } catch {
    // best effort, as syncDirectory
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Makes a rename or a new file in `dir` durable. Some file systems refuse fsync on directories: that is fine. */
export function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // best effort (e.g. EISDIR/EINVAL on some platforms)
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
