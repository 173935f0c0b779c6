// A run's change as the run view shows it: each changed file's unified diff, from the text the editor saw before
// the run to the text once the run's window closed. Pure: the texts come in, a RunChange goes out.

import { formatPatch, structuredPatch } from 'diff';
import { MAX_CHANGED_FILES, type ChangedFile, type RunChange } from '../../core/learning/runChange';

/** Lines of context around each hunk, as `git diff` shows. */
const CONTEXT_LINES = 3;
/**
 * The diff runs on the extension host's thread, one file at a time with the event loop let run between files: a
 * file's diff that takes longer than this (two large, unrelated texts) is described, not shown. Measured: a rewrite
 * of a 256 Ki-character file is ~40 ms; an 8,000-line new file ~30 ms.
 */
const DIFF_TIMEOUT_MS = 40;
/** Texts longer than this are not diffed (splitting them into lines alone takes longer than a diff may). */
export const MAX_DIFF_TEXT_CHARS = 256 * 1024;

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

/** The change of these files (those that differ), or undefined when none does. */
export async function runChangeOf(files: readonly FileTexts[], at: number): Promise<RunChange | undefined> {
  const changed: ChangedFile[] = [];
  const patches: string[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const before = file.created ? '' : file.before;
    const old = before ?? '';
    const now = file.after ?? '';
    if (old === now && (before !== undefined || file.after === undefined)) continue;
    if (changed.length === MAX_CHANGED_FILES) {
      patches.push(`# … and more files, not listed (a change lists at most ${MAX_CHANGED_FILES})\n`);
      break;
    }
    const state: ChangedFile['before'] = file.created ? 'new' : before === undefined ? 'unseen' : 'seen';
    const size = Math.max(old.length, now.length);
    if (size > MAX_DIFF_TEXT_CHARS) {
      changed.push({ path: file.path, added: 0, removed: 0, before: state });
      patches.push(
        `# ${file.path}: not diffed, ${lineCount(old)} lines before and ${lineCount(now)} after are too long to diff\n`,
      );
      continue;
    }
    const oldName = file.created ? '/dev/null' : `a/${file.path}`;
    const newName = file.after === undefined ? '/dev/null' : `b/${file.path}`;
    const patch = structuredPatch(oldName, newName, old, now, undefined, undefined, {
      context: CONTEXT_LINES,
      timeout: DIFF_TIMEOUT_MS,
    });
    if (!patch) {
      changed.push({ path: file.path, added: 0, removed: 0, before: state });
      patches.push(
        `# ${file.path}: not diffed, ${lineCount(old)} lines before and ${lineCount(now)} after differ too much\n`,
      );
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
    changed.push({ path: file.path, added, removed, before: state });
    patches.push(
      formatPatch(patch, { includeIndex: false, includeUnderline: false, includeFileHeaders: true }),
    );
  }
  return changed.length === 0 ? undefined : { at, files: changed, patch: patches.join('') };
}

function lineCount(text: string): number {
  if (text === '') return 0;
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n++;
  return text.endsWith('\n') ? n : n + 1;
}
