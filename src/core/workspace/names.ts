// Strict patterns for names that become file names, command arguments or Ollama model names.

import { InvalidInputError } from '../errors';
import { COMPLEXITIES } from '../learning/runResult';

/** Roles become file names (`sft/{role}_sft.jsonl`), so they are kept to a safe alphabet. */
export const ROLE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;
export const BUILTIN_ROLES = ['coder', 'fixer', 'judge'] as const;

/** Ollama model tags: `name[:tag]` with an optional namespace, no shell metacharacters. */
export const MODEL_TAG_PATTERN =
  /^[a-z0-9][a-z0-9._-]{0,63}(\/[a-z0-9][a-z0-9._-]{0,63})?(:[a-zA-Z0-9._-]{1,64})?$/;

/** The prefix of deployed model names (`{prefix}-{role}`). */
export const MODEL_PREFIX_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export function checkRole(role: unknown, field = 'role'): string {
  const problem = roleProblem(role);
  if (problem !== undefined) throw new InvalidInputError(field, problem);
  return role as string;
}

/** Whether `role` is one a dataset, an adapter and a model can be named for (runs from older versions may not be). */
export function isRole(role: unknown): role is string {
  return roleProblem(role) === undefined;
}

function roleProblem(role: unknown): string | undefined {
  if (typeof role !== 'string' || !ROLE_PATTERN.test(role)) {
    return `${JSON.stringify(role)} is not a valid role; use a lower-case name matching ${ROLE_PATTERN} (e.g. coder, fixer, judge)`;
  }
  // A tier's adapter is named `{role}-{tier}`: role "coder-large" would share its dataset, adapter and Ollama
  // model with role "coder"'s large tier.
  const tier = COMPLEXITIES.find((t) => role.endsWith(`-${t}`));
  if (!tier) return undefined;
  const stem = role.slice(0, -tier.length - 1);
  return `${JSON.stringify(role)} ends in "-${tier}", which names the ${tier} tier of role ${JSON.stringify(stem)}; pick another name (e.g. ${stem}_${tier})`;
}
