// Which workspace files are never a run's change (`editorSignals.ignore`): glob patterns over the path relative to
// the workspace folder, with `/` separators, dot files matched like any other.

import { Minimatch } from 'minimatch';

/** Whether a relative path matches one of `globs`. */
export function ignoreMatcher(globs: readonly string[]): (relativePath: string) => boolean {
  const patterns = globs.map((g) => new Minimatch(g, { dot: true, nocomment: true, nonegate: true }));
  return (relativePath) => {
    const p = relativePath.replace(/\\/g, '/');
    return patterns.some((m) => m.match(p));
  };
}
