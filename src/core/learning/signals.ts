// Signals that arrive after a run was recorded (from the editor: diagnostics, tasks, whether the change was kept),
// validated at the edge, and how they fill the gaps in what the agent reported before the reward is computed.

import * as z from 'zod';
import { InvalidInputError } from '../errors';
import type { RewardSignals } from './reward';

/**
 * `compile`: 1 compiled, 0 did not. `tests`: the share of tests that passed (a test task's exit code: 1 or 0).
 * `errors.type` / `errors.lint`: counts. `kept`: the share of the change still in the files, an implicit verdict
 * (0 after a revert).
 */
export const SIGNAL_KINDS = ['compile', 'tests', 'errors.type', 'errors.lint', 'kept'] as const;
export type SignalKind = (typeof SIGNAL_KINDS)[number];

/** Where a run came from: the library API, the CLI, an inbox line, the gateway, the editor's chat. */
export const RUN_SOURCES = ['api', 'cli', 'inbox', 'gateway', 'chat'] as const;
export type RunSource = (typeof RUN_SOURCES)[number];

/** One observed signal as stored: the latest of each (kind, source) per run. */
export interface ObservedSignal {
  kind: SignalKind;
  value: number;
  /** Who observed it: `editor:diagnostics`, `editor:task`, `editor:kept`, or a caller's own `name:detail`. */
  source: string;
  /** When it was observed (ms since the epoch). */
  at: number;
}

const signalSchema = z
  .object({
    kind: z.enum(SIGNAL_KINDS),
    value: z.number().finite(),
    source: z
      .string()
      .max(64)
      .regex(/^[a-z][a-z0-9-]*(:[a-z0-9._-]+)?$/, 'expected a name such as "editor:diagnostics"'),
    at: z.number().int().nonnegative().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    const share = s.kind === 'tests' || s.kind === 'kept' || s.kind === 'compile';
    if (share && (s.value < 0 || s.value > 1))
      ctx.addIssue({ code: 'custom', path: ['value'], message: `${s.kind} takes a value from 0 to 1` });
    if (s.kind === 'compile' && s.value !== 0 && s.value !== 1)
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'compile takes 1 (compiled) or 0 (did not)' });
    if (!share && (!Number.isInteger(s.value) || s.value < 0))
      ctx.addIssue({ code: 'custom', path: ['value'], message: `${s.kind} takes a count (0, 1, 2, …)` });
  });

export type SignalInput = z.input<typeof signalSchema>;

/** A signal from a caller or an inbox line, or InvalidInputError naming the field; `now` when it gave no time. */
export function checkSignal(input: unknown, now: number): ObservedSignal {
  const parsed = signalSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidInputError(['signal', ...issue.path.map(String)].join('.'), issue.message);
  }
  return { ...parsed.data, at: parsed.data.at ?? now };
}

export function checkRunSource(value: unknown): RunSource {
  if (typeof value === 'string' && (RUN_SOURCES as readonly string[]).includes(value))
    return value as RunSource;
  throw new InvalidInputError(
    'source',
    `expected one of ${RUN_SOURCES.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/**
 * The signals a reward is computed from: what the agent reported wins; an observed signal fills a gap the agent
 * left (the latest of its kind, whichever observer saw it). The implicit verdict (`kept`) counts only while there is
 * no explicit one: Accept or Reject always says more than whether lines stayed.
 */
export function withObserved(run: RewardSignals, observed: readonly ObservedSignal[]): RewardSignals {
  // The signals alone, each named: a copy of the whole run (`{ ...run }`) with `kept` written after it cost half a
  // KiB more per run (see toRunRecord).
  const out: RewardSignals = {
    compile: run.compile,
    testsPassed: run.testsPassed,
    testsTotal: run.testsTotal,
    lintErrors: run.lintErrors,
    typeErrors: run.typeErrors,
    schemaErrors: run.schemaErrors,
    boundaryErrors: run.boundaryErrors,
    human: run.human,
    kept: null,
  };
  if (observed.length === 0) return out; // most runs: nothing observed
  const latest = new Map<SignalKind, ObservedSignal>();
  for (const s of observed) {
    const seen = latest.get(s.kind);
    if (!seen || s.at > seen.at || (s.at === seen.at && s.source > seen.source)) latest.set(s.kind, s);
  }
  const value = (kind: SignalKind) => latest.get(kind)?.value;
  const compile = value('compile');
  if (out.compile === null && compile !== undefined) out.compile = compile >= 0.5;
  const tests = value('tests');
  if (out.testsTotal === null && tests !== undefined) {
    // A share as passed / total: only their ratio enters the reward.
    out.testsPassed = tests;
    out.testsTotal = 1;
  }
  const typeErrors = value('errors.type');
  if (out.typeErrors === null && typeErrors !== undefined) out.typeErrors = typeErrors;
  const lintErrors = value('errors.lint');
  if (out.lintErrors === null && lintErrors !== undefined) out.lintErrors = lintErrors;
  const kept = value('kept');
  out.kept = out.human === null && kept !== undefined ? kept : null;
  return out;
}
