// Adds entries to a workspace's `.gitignore` when the user asks (the first time `.agent/` is created): appended
// after what is there, in the file's own line endings, never twice.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from './atomicFile';
import { openRegularFile } from './regularFile';

/**
 * `existing` with the `entries` it lacks appended, or `undefined` when it has them all. An entry counts as present
 * with or without its leading or trailing slash (`.agent`, `/.agent/`), since each of those ignores the folder.
 */
export function withGitignoreEntries(existing: string, entries: readonly string[]): string | undefined {
  const eol = existing.includes('\r\n') ? '\r\n' : '\n';
  const present = new Set(existing.split(/\r?\n/).map(normalise));
  const missing = [...new Set(entries)].filter((e) => !present.has(normalise(e)));
  if (missing.length === 0) return undefined;
  const separator = existing === '' || existing.endsWith('\n') ? '' : eol;
  return existing + separator + missing.map((e) => e + eol).join('');
}

/**
 * Appends the `entries` `<root>/.gitignore` lacks, creating the file if there is none. Returns the entries added.
 * Anything but a regular file at that path (a link, a FIFO) is left alone: throws `NotAFileError`.
 */
export function addToGitignore(root: string, entries: readonly string[]): string[] {
  const file = path.join(root, '.gitignore');
  let existing = '';
  try {
    const { fd } = openRegularFile(file);
    try {
      existing = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const next = withGitignoreEntries(existing, entries);
  if (next === undefined) return [];
  writeFileAtomicSync(file, next);
  const before = new Set(existing.split(/\r?\n/).map(normalise));
  return entries.filter((e) => !before.has(normalise(e)));
}

/** A line as the pattern it stands for: `.agent`, `/.agent/` and `.agent/ ` all name the same folder. */
function normalise(line: string): string {
  return line.trim().replace(/^\//, '').replace(/\/$/, '');
}
