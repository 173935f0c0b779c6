// How writes under `.agent/` treat symbolic links (README, "Links in .agent/"). Files are never written through a
// link (atomic writes replace one). Folders (`.agent` itself, `inbox`, `sft`, `knowledge`, `lora`) are followed
// when they stay inside the workspace, or when the workspace is trusted: a user may put `lora/` on a bigger disk.
// In an untrusted workspace (a cloned repository may ship the links) a folder that leads out is refused.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { OutsideWorkspaceError } from '../errors';

/**
 * Creates `dir` (and the folders above it) under `root` for writing, after checking, in an untrusted workspace,
 * that no link on the way leads out of `root`. Throws OutsideWorkspaceError, having created nothing, when one does.
 */
export function prepareFolder(dir: string, root: string, trusted: boolean): void {
  if (!trusted) checkInside(dir, root);
  fs.mkdirSync(dir, { recursive: true });
}

function checkInside(dir: string, root: string): void {
  const base = path.resolve(root);
  // The deepest part of `dir` that exists (a link, dangling or not, counts): where a write would really go.
  let existing = path.resolve(dir);
  while (existing !== base && isWithin(base, existing) && !lexists(existing))
    existing = path.dirname(existing);
  if (existing === base || !isWithin(base, existing)) return;
  let real: string | undefined;
  try {
    real = fs.realpathSync(existing);
  } catch {
    real = undefined; // a dangling link: it leads nowhere in the workspace
  }
  if (real !== undefined && isWithin(fs.realpathSync(base), real)) return;
  throw new OutsideWorkspaceError(dir, existing, real ?? linkTarget(existing));
}

function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function lexists(file: string): boolean {
  try {
    fs.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** Where the first link at or above `file` points, for the message. */
function linkTarget(file: string): string {
  for (let p = file; p !== path.dirname(p); p = path.dirname(p)) {
    try {
      return path.resolve(path.dirname(p), fs.readlinkSync(p));
    } catch {
      // not a link: look higher
    }
  }
  return file;
}
