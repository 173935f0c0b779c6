// Where invalid config files are reported: as problems on the file (the Problems view and squiggles), not as a
// notification while the user is editing that file: with auto-save every half-typed state reaches the file watcher.
// Kept free of the vscode module so the rules are unit-tested.

import { ConfigError, type LearningError } from '../core/errors';

/** One issue at a 0-based position of its file. */
export interface ConfigProblem {
  line: number;
  column: number;
  message: string;
}

/** The error's issues by file (a combined error names several files); none when the files are valid. */
export function configProblems(error: ConfigError | undefined): Map<string, ConfigProblem[]> {
  const byFile = new Map<string, ConfigProblem[]>();
  for (const issue of error?.issues ?? []) {
    const file = issue.file ?? error!.file;
    const problems = byFile.get(file) ?? [];
    problems.push({
      line: Math.max(0, (issue.line ?? 1) - 1),
      column: Math.max(0, (issue.column ?? 1) - 1),
      message: `${issue.key ? `${issue.key}: ` : ''}${issue.reason}. The last valid settings stay in force.`,
    });
    byFile.set(file, problems);
  }
  return byFile;
}

/**
 * Whether a problem also deserves a notification: any that is not about config files, and a config error none of
 * whose files is open in an editor (changed by git, a script, another editor). One being edited shows it in place.
 */
export function notifyProblem(problem: LearningError, openFiles: ReadonlySet<string>): boolean {
  if (!(problem instanceof ConfigError)) return true;
  return ![...configProblems(problem).keys()].some((file) => openFiles.has(file));
}
