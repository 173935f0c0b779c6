// The run result an agent hands to recordRun, validated at the edge; and the stored shape of a run.

import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import { InvalidInputError, LearningError } from '../errors';
import type { RunSource } from './signals';

export const COMPLEXITIES = ['small', 'medium', 'large'] as const;
export type Complexity = (typeof COMPLEXITIES)[number];

/** `value` as a complexity tier, or a LearningError naming it (`what`: "complexity" or "tier", as the caller says). */
export function checkComplexity(value: unknown, what = 'complexity'): Complexity {
  if (typeof value === 'string' && (COMPLEXITIES as readonly string[]).includes(value))
    return value as Complexity;
  throw new LearningError(`Unknown ${what} ${JSON.stringify(value)}; use small, medium or large.`);
}
export type Verdict = 'accept' | 'reject';

const count = z.number().int().min(0);

export const runResultSchema = z
  .object({
    input: z.string(),
    output: z.string(),
    compile: z.boolean().optional(),
    tests: z
      .object({ passed: count, total: count })
      .strict()
      .refine((t) => t.passed <= t.total, 'passed must not exceed total')
      .optional(),
    errors: z
      .object({
        lint: count.optional(),
        type: count.optional(),
        schema: count.optional(),
        boundary: count.optional(),
      })
      .strict()
      .optional(),
    human: z.enum(['accept', 'reject']).optional(),
    costTokens: count.optional(),
    durationMs: z.number().min(0).optional(),
    iterations: count.optional(),
    complexity: z.enum(COMPLEXITIES).optional(),
  })
  .strip();

export type RunResult = z.input<typeof runResultSchema>;
/** A run result as the schema keeps it (unknown fields dropped). */
export type ValidRunResult = z.output<typeof runResultSchema>;

/** A run as stored: the agent's result plus identity and the reward computed from it. */
export interface RunRecord {
  id: string;
  createdAt: number;
  taskSlug: string;
  role: string;
  modelId: string;
  promptId: string;
  complexity: Complexity | null;
  input: string;
  output: string;
  compile: boolean | null;
  testsPassed: number | null;
  testsTotal: number | null;
  lintErrors: number | null;
  typeErrors: number | null;
  schemaErrors: number | null;
  boundaryErrors: number | null;
  human: Verdict | null;
  humanAt: number | null;
  reward: number;
  costTokens: number | null;
  durationMs: number | null;
  iterations: number | null;
  /** Where the run came from; null for runs recorded before sources were kept. */
  source?: RunSource | null;
}

const idSchema = z.string().min(1).max(200);

/** Validates recordRun's arguments; throws InvalidInputError naming the first bad field. */
export function validateRunArgs(
  taskSlug: unknown,
  modelId: unknown,
  promptId: unknown,
  result: unknown,
): { taskSlug: string; modelId: string; promptId: string; result: ValidRunResult } {
  for (const [field, value] of [
    ['taskSlug', taskSlug],
    ['modelId', modelId],
    ['promptId', promptId],
  ] as const) {
    const r = idSchema.safeParse(value);
    if (!r.success)
      throw new InvalidInputError(field, `expected a non-empty string of at most 200 characters`);
  }
  const parsed = runResultSchema.safeParse(result);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = ['result', ...issue.path.map(String)].join('.');
    throw new InvalidInputError(field, issue.message);
  }
  return {
    taskSlug: taskSlug as string,
    modelId: modelId as string,
    promptId: promptId as string,
    result: parsed.data,
  };
}

export function checkVerdict(verdict: unknown): Verdict {
  if (verdict !== 'accept' && verdict !== 'reject') {
    throw new InvalidInputError('verdict', `expected "accept" or "reject", got ${JSON.stringify(verdict)}`);
  }
  return verdict;
}

/** Run ids are made by the writer (any process), sortable by time, unique without a central counter. */
export function newRunId(now: number): string {
  return `r-${now.toString(36)}-${idRandomHex()}`;
}

/** Random bytes for run ids, drawn from the system 256 ids' worth at a time: one draw per id cost more than the rest. */
let idBytes = Buffer.alloc(0);
let idAt = 0;
const ID_RANDOM_BYTES = 5;

function idRandomHex(): string {
  if (idAt + ID_RANDOM_BYTES > idBytes.length) {
    idBytes = randomBytes(256 * ID_RANDOM_BYTES);
    idAt = 0;
  }
  idAt += ID_RANDOM_BYTES;
  return idBytes.toString('hex', idAt - ID_RANDOM_BYTES, idAt);
}

/**
 * A validated result as a stored run, before its reward is computed (reward 0). Every field is named, with no
 * `...ids`: in Node 20, each field an object literal writes after a spread cost about half a KiB (measured; V8 makes
 * new hidden classes for it). With `...ids` a record cost 10 KiB, 1 GB over an import of 100k runs, most of it left
 * for full collections; 0.3 KiB now.
 */
export function toRunRecord(
  ids: {
    id: string;
    createdAt: number;
    taskSlug: string;
    role: string;
    modelId: string;
    promptId: string;
    source?: RunSource;
  },
  result: ValidRunResult,
): RunRecord {
  return {
    id: ids.id,
    createdAt: ids.createdAt,
    taskSlug: ids.taskSlug,
    role: ids.role,
    modelId: ids.modelId,
    promptId: ids.promptId,
    source: ids.source ?? null,
    complexity: result.complexity ?? null,
    input: result.input,
    output: result.output,
    compile: result.compile ?? null,
    testsPassed: result.tests?.passed ?? null,
    testsTotal: result.tests?.total ?? null,
    lintErrors: result.errors?.lint ?? null,
    typeErrors: result.errors?.type ?? null,
    schemaErrors: result.errors?.schema ?? null,
    boundaryErrors: result.errors?.boundary ?? null,
    human: result.human ?? null,
    humanAt: result.human ? ids.createdAt : null,
    reward: 0,
    costTokens: result.costTokens ?? null,
    durationMs: result.durationMs ?? null,
    iterations: result.iterations ?? null,
  };
}
