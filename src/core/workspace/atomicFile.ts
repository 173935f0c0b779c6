// Crash-safe file replacement: write a temp file, fsync it, rename it over the target, fsync the directory.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export const TEMP_MARKER = '.tmp-';

export async function writeFileAtomic(
  file: string,
  data: Uint8Array | string,
  beforeRename?: () => void,
): Promise<void> {
  const tmp = `${file}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await fs.promises.open(tmp, 'w', 0o644);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await fs.promises.rm(tmp, { force: true }); // e.g. disk full: leave no half-written temp file behind
    throw err;
  }
  await handle.close();
  beforeRename?.();
  try {
    await fs.promises.rename(tmp, file);
  } catch (err) {
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  syncDirectory(path.dirname(file));
}

export function writeFileAtomicSync(file: string, data: Uint8Array | string): void {
  const tmp = `${file}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(tmp, 'w', 0o644);
  try {
    fs.writeFileSync(fd, data);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirectory(path.dirname(file));
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
