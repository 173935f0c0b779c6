// A conversion's partial outputs: the temp files (`<out>.tmp-<pid>-<hex>`, as big as a merged model) that the
// atomic writers rename over the output. A failed write removes its own; these cover the runs that could not: the
// stale ones of dead processes are removed when a conversion of the same output starts, and this process's own
// when it is interrupted.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { TEMP_MARKER } from '../workspace/atomicFile';

interface PartialOutput {
  file: string;
  pid: number;
}

function partialOutputsOf(outFile: string): PartialOutput[] {
  const dir = path.dirname(outFile);
  const prefix = path.basename(outFile) + TEMP_MARKER;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const found: PartialOutput[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(\d+)-[0-9a-f]+$/.exec(name.slice(prefix.length));
    if (m) found.push({ file: path.join(dir, name), pid: Number(m[1]) });
  }
  return found;
}

/**
 * Removes the partial outputs for `outFile` left by processes that are gone (killed, out of memory, power cut),
 * and returns them. One is only taken as stale when its process is not running and it was last written before
 * this process started, so a live conversion's file is never touched, nor one of a process whose id cannot be
 * seen from here (another container sharing the folder keeps writing it).
 */
export function removeStalePartialOutputs(outFile: string): string[] {
  const startedAt = Date.now() - process.uptime() * 1000;
  const removed: string[] = [];
  for (const { file, pid } of partialOutputsOf(outFile)) {
    if (pid === process.pid || isRunning(pid)) continue;
    try {
      if (fs.statSync(file).mtimeMs >= startedAt) continue;
      fs.rmSync(file, { force: true });
      removed.push(file);
    } catch {
      // gone already, or not ours to remove: the conversion does not depend on it
    }
  }
  return removed;
}

/** Removes this process's partial outputs for `outFile` at once (from a signal handler, before exiting). */
export function removeOwnPartialOutputs(outFile: string): void {
  for (const { file, pid } of partialOutputsOf(outFile)) {
    if (pid === process.pid) fs.rmSync(file, { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // someone else's process, running
  }
}
