// A run's change to the workspace: the files it changed and their unified diff, as the editor saw them once the run's
// window closed. It arrives after the run, like an observed signal, and is shown beside the run for review; it adds
// nothing to the reward (the signals the editor observes on those files do).

import * as z from 'zod';
import { InvalidInputError } from '../errors';
import { boundText } from '../store/storedText';

/** The most a change's diff keeps; a longer one is cut with a visible marker (a diff that long is not reviewed). */
export const MAX_PATCH_BYTES = 256 * 1024;
/** Files one change lists; more are counted in the diff's cut, not listed. */
export const MAX_CHANGED_FILES = 200;

const fileSchema = z.object({
  /** Relative to the workspace folder, with `/` separators. */
  path: z.string().min(1).max(4096),
  added: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
  /**
   * `seen`: the editor knew the file's text before the change; `new`: the file did not exist; `unseen`: written on
   * disk without the editor having seen it before, so its diff shows the whole file as added.
   */
  before: z.enum(['seen', 'new', 'unseen']),
});

const changeSchema = z.object({
  at: z.number().int().nonnegative(),
  files: z.array(fileSchema).max(MAX_CHANGED_FILES),
  patch: z.string(),
});

export type ChangedFile = z.output<typeof fileSchema>;
export type RunChange = z.output<typeof changeSchema>;

/** `input` as a RunChange, its diff bounded, or an InvalidInputError naming the field and the reason. */
export function checkRunChange(input: unknown): RunChange {
  const parsed = changeSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(['change', ...issue.path.map(String)].join('.'), issue.message);
  }
  return { ...parsed.data, patch: boundText(parsed.data.patch, MAX_PATCH_BYTES).text };
}
