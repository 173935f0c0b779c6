// Whether an agent's change was kept: the lines it inserted, and the share of them still in the file later.
// Lines are compared trimmed and as a multiset, so a reindent or a moved block still counts as kept.

function lineBag(text: string | undefined): Map<string, number> {
  const bag = new Map<string, number>();
  if (text === undefined) return bag;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line !== '') bag.set(line, (bag.get(line) ?? 0) + 1);
  }
  return bag;
}

/** The non-blank lines `after` has beyond those of `before` (undefined: a new file, or one not seen before). */
export function insertedLines(before: string | undefined, after: string): string[] {
  const old = lineBag(before);
  const inserted: string[] = [];
  for (const [line, n] of lineBag(after)) {
    for (let i = old.get(line) ?? 0; i < n; i++) inserted.push(line);
  }
  return inserted;
}

/** How many of `inserted` are still in `current` (undefined: the file is gone). */
export function keptCount(inserted: readonly string[], current: string | undefined): number {
  const now = lineBag(current);
  let kept = 0;
  for (const line of inserted) {
    const n = now.get(line) ?? 0;
    if (n > 0) {
      kept++;
      now.set(line, n - 1);
    }
  }
  return kept;
}

/** One file of a run's change: its text before (if known) and the lines the change inserted. */
export interface FileChange {
  before: string | undefined;
  /** The file did not exist before the change. */
  created?: boolean;
  /** The file's text at the end of this change, once a later run's change of the file began. */
  frozen?: { after: string | undefined };
  inserted: string[];
}

/**
 * The share of a change's inserted lines still present, over all its files, and whether the whole change was
 * reverted (every file back to its text before, or gone when it was new). Undefined when it inserted nothing.
 */
export function keptShare(
  changes: ReadonlyMap<string, FileChange>,
  read: (file: string) => string | undefined,
): { share: number; reverted: boolean } | undefined {
  let inserted = 0;
  let kept = 0;
  let reverted = changes.size > 0;
  for (const [file, change] of changes) {
    const current = read(file);
    inserted += change.inserted.length;
    kept += keptCount(change.inserted, current);
    if (current !== change.before) reverted = false;
  }
  if (reverted) return { share: 0, reverted: true };
  if (inserted === 0) return undefined;
  return { share: kept / inserted, reverted: false };
}
