// A run's change as the run view shows it: each changed file's unified diff, from the text the editor saw before
// the run to the text once the run's window closed. Pure: the texts come in, a RunChange goes out.

import { formatPatch, structuredPatch } from 'diff';
import { MAX_CHANGED_FILES, type ChangedFile, type RunChange } from '../../core/learning/runChange';

/** Lines of context around each hunk, as `git diff` shows. */
const CONTEXT_LINES = 3;
/** A diff that takes longer than this to compute (two huge, unrelated texts) is described, not shown. */
const DIFF_TIMEOUT_MS = 250;

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
export function runChangeOf(files: readonly FileTexts[], at: number): RunChange | undefined {
  const changed: ChangedFile[] = [];
  const patches: string[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    const before = file.created ? '' : file.before;
    const old = before ?? '';
    const now = file.after ?? '';
    if (old === now && (before !== undefined || file.after === undefined)) continue;
    const oldName = file.created ? '/dev/null' : `a/${file.path}`;
    const newName = file.after === undefined ? '/dev/null' : `b/${file.path}`;
    const patch = structuredPatch(oldName, newName, old, now, undefined, undefined, {
      context: CONTEXT_LINES,
      timeout: DIFF_TIMEOUT_MS,
    });
    const state: ChangedFile['before'] = file.created ? 'new' : before === undefined ? 'unseen' : 'seen';
    if (changed.length === MAX_CHANGED_FILES) {
      patches.push(`# … and more files, not listed (a change lists at most ${MAX_CHANGED_FILES})\n`);
      break;
    }
    if (!patch) {
      changed.push({ path: file.path, added: 0, removed: 0, before: state });
      patches.push(`# ${file.path}: too different to diff in ${DIFF_TIMEOUT_MS} ms\n`);
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
