// experience.db.sum: the size and CRC-32 of the image the owner last saved. A database file that still matches them
// is byte for byte the image SQLite itself wrote from a database that passed its checks, so opening it can skip
// `PRAGMA quick_check`, which reads every page (~240 ms warm and ~700 ms cold at 100k runs, against 10 ms for the
// CRC). A missing, stale, unreadable or hostile sum only means the check runs, as it always did.

import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { openRegularFile } from '../workspace/regularFile';
import { exportedImage } from './liveImage';

export interface ImageSum {
  size: number;
  crc32: number;
}

/** The sum is a line of JSON; anything longer is not ours. */
const MAX_SUM_BYTES = 256;

export function imageSum(image: Uint8Array): ImageSum {
  return { size: image.length, crc32: zlib.crc32(image) };
}

/** imageSum, a slice at a time with the event loop let run before each (exportedImage's slices). */
export async function imageSumSliced(image: Uint8Array): Promise<ImageSum> {
  const sliced = exportedImage(image);
  for await (const slice of sliced.slices()) void slice; // summed as they are taken
  return sliced.sum() ?? imageSum(image);
}

/** Whether `bytes` are the image `sum` describes. */
export function matchesSum(bytes: Uint8Array, sum: ImageSum | undefined): boolean {
  return sum !== undefined && sum.size === bytes.length && sum.crc32 === zlib.crc32(bytes);
}

/** The sum at `file`, or undefined when it is missing, not a regular file (never followed or waited on) or malformed. */
export function readImageSum(file: string): ImageSum | undefined {
  let opened;
  try {
    opened = openRegularFile(file);
  } catch {
    return undefined;
  }
  try {
    if (opened.stat.size > MAX_SUM_BYTES) return undefined;
    const value: unknown = JSON.parse(fs.readFileSync(opened.fd, 'utf8'));
    if (typeof value !== 'object' || value === null) return undefined;
    const { size, crc32 } = value as Record<string, unknown>;
    return Number.isSafeInteger(size) && Number.isSafeInteger(crc32)
      ? { size: size as number, crc32: crc32 as number }
      : undefined;
  } catch {
    return undefined;
  } finally {
    fs.closeSync(opened.fd);
  }
}

/**
 * Writes the sum, best effort and without an fsync: a sum lost in a crash only costs one integrity check. Whatever is
 * at `file` is removed first and the new file created exclusively, so a link planted there is never written through.
 */
export function writeImageSum(file: string, sum: ImageSum): void {
  try {
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, JSON.stringify(sum) + '\n', { flag: 'wx', mode: 0o644 });
  } catch {
    // A directory or an unwritable folder at the path: the next open checks the database instead.
  }
}

/** writeImageSum off the event loop: removing a file can wait for the file system's journal (100 ms seen). */
export async function writeImageSumAsync(file: string, sum: ImageSum): Promise<void> {
  try {
    await fs.promises.rm(file, { force: true });
    await fs.promises.writeFile(file, JSON.stringify(sum) + '\n', { flag: 'wx', mode: 0o644 });
  } catch {
    // As writeImageSum: the next open checks the database instead.
  }
}
