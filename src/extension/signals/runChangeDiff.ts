// A run's change as the run view shows it: each changed file's unified diff, from the text the editor saw before
// the run to the text once the run's window closed. Pure but for yielding: the texts come in, a RunChange goes out.

import { formatPatch, structuredPatch } from 'diff';
import {
  MAX_CHANGED_FILES,
  MAX_PATCH_BYTES,
  type ChangedFile,
  type RunChange,
} from '../../core/learning/runChange';

/** Lines of context around each hunk, as `git diff` shows. */
const CONTEXT_LINES = 3;
/**
 * The diff runs on the extension host's thread, one file at a time with the event loop let run between files. A
 * file whose diff takes longer than this (two large, unrelated texts) is shown as replaced whole, which is what the
 * diff would say of it anyway. Measured: a rewrite of a 256 Ki-character file is ~40 ms.
 */
const DIFF_TIMEOUT_MS = 40;
/** Past this much diffing for one change, the remaining files are shown as replaced whole (no diff is computed). */
const DIFF_BUDGET_MS = 200;
/** Texts longer than this are not diffed (splitting them into lines alone takes longer than a diff may). */
export const MAX_DIFF_TEXT_CHARS = 256 * 1024;
/** Characters looked at for a NUL (or undecodable bytes) to tell a binary file, as git looks at its first 8,000. */
const BINARY_PROBE_CHARS = 8000;

export interface FileTexts {
  /** Relative to the workspace folder, with `/` separators. */
  path: string;
  /** The text before the run; undefined when the editor never saw it. */
  before: string | undefined;
  /** The file did not exist before the run. */
  created: boolean;
  /** The text now; undefined when the file is gone. */
  after: string | undefined;
}

/** Files the editor saw before first, then new ones, then those it never saw (often build output), then by path. */
const ORDER: Record<ChangedFile['before'], number> = { seen: 0, new: 1, unseen: 2 };

/** The change of these files (those that differ), or undefined when none does. */
export async function runChangeOf(files: readonly FileTexts[], at: number): Promise<RunChange | undefined> {
  const changed: ChangedFile[] = [];
  const patches: string[] = [];
  let patchBytes = 0;
  let diffMs = 0;
  let unlisted = 0;
  const keep = (file: ChangedFile, patch: string) => {
    if (changed.length === MAX_CHANGED_FILES) {
      unlisted++;
      return;
    }
    changed.push(file);
    // Past the cap the files are still listed; their text would only be cut off again.
    if (patchBytes > MAX_PATCH_BYTES) return;
    patches.push(patch);
    patchBytes += Buffer.byteLength(patch);
  };
  const sorted = files
    .map((f) => ({ ...f, state: stateOf(f) }))
    .sort((a, b) => ORDER[a.state] - ORDER[b.state] || a.path.localeCompare(b.path));
  for (const file of sorted) {
    const old = (file.created ? '' : file.before) ?? '';
    const now = file.after ?? '';
    if (file.after === undefined && (file.before === undefined || file.created)) {
      // Gone, and its text never seen (or it was new and is gone again: then there is nothing to show).
      if (!file.created)
        keep(note(file, 0, 0), `# ${file.path}: deleted; the editor had not seen its text\n`);
      continue;
    }
    if (old === now && file.before !== undefined) continue;
    if (changed.length === MAX_CHANGED_FILES) {
      unlisted++; // not diffed: it would not be listed
      continue;
    }
    if (isBinary(old) || isBinary(now)) {
      keep(note(file, 0, 0), `# ${file.path}: binary file changed\n`);
      continue;
    }
    const oldLines = lineCount(old);
    const newLines = lineCount(now);
    if (Math.max(old.length, now.length) > MAX_DIFF_TEXT_CHARS) {
      keep(
        note(file, 0, 0),
        `# ${file.path}: not diffed, ${oldLines} lines before and ${newLines} after are too long to diff\n`,
      );
      continue;
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    const oldName = file.created ? '/dev/null' : `a/${file.path}`;
    const newName = file.after === undefined ? '/dev/null' : `b/${file.path}`;
    const started = Date.now();
    const patch =
      diffMs < DIFF_BUDGET_MS
        ? structuredPatch(oldName, newName, old, now, undefined, undefined, {
            context: CONTEXT_LINES,
            timeout: DIFF_TIMEOUT_MS,
          })
        : undefined;
    diffMs += Date.now() - started;
    if (!patch) {
      keep(note(file, newLines, oldLines), replacedWhole(oldName, newName, old, now, oldLines, newLines));
      continue;
    }
    let added = 0;
    let removed = 0;
    for (const hunk of patch.hunks) {
      for (const line of hunk.lines) {
        if (line.startsWith('+')) added++;
        else if (line.startsWith('-')) removed++;
      }
    }
    if (added + removed === 0) continue;
    keep(
      note(file, added, removed),
      formatPatch(patch, { includeIndex: false, includeUnderline: false, includeFileHeaders: true }),
    );
  }
  if (unlisted > 0) {
    patches.push(
      `# … and ${unlisted} more file${unlisted === 1 ? '' : 's'}, not listed (a change lists ${MAX_CHANGED_FILES})\n`,
    );
  }
  return changed.length === 0 ? undefined : { at, files: changed, patch: patches.join('') };
}

function stateOf(file: FileTexts): ChangedFile['before'] {
  return file.created ? 'new' : file.before === undefined ? 'unseen' : 'seen';
}

function note(
  file: FileTexts & { state: ChangedFile['before'] },
  added: number,
  removed: number,
): ChangedFile {
  return { path: file.path, added, removed, before: file.state };
}

/** A NUL, or the replacement character a UTF-8 decode left for bytes that are not text. */
function isBinary(text: string): boolean {
  const probe = text.length > BINARY_PROBE_CHARS ? text.slice(0, BINARY_PROBE_CHARS) : text;
  return probe.includes('\u0000') || probe.includes('\uFFFD');
}

/** One hunk that removes every old line and adds every new one: a diff's answer for unrelated texts. */
function replacedWhole(
  oldName: string,
  newName: string,
  old: string,
  now: string,
  oldLines: number,
  newLines: number,
): string {
  const lines = (text: string, mark: string) =>
    text === ''
      ? ''
      : `${mark}${(text.endsWith('\n') ? text.slice(0, -1) : text).split('\n').join(`\n${mark}`)}\n`;
  return (
    `--- ${oldName}\n+++ ${newName}\n` +
    `@@ -${oldLines === 0 ? 0 : 1},${oldLines} +${newLines === 0 ? 0 : 1},${newLines} @@\n` +
    lines(old, '-') +
    lines(now, '+')
  );
}

function lineCount(text: string): number {
  if (text === '') return 0;
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') ? n : n + 1;
}
