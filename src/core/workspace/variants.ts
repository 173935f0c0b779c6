// `.agent/prompt_variants.json` and `.agent/model_variants.json`: variant lists users may edit, plus bandit
// statistics written from the store (never read back as truth: the database is).

import * as fs from 'node:fs';
import * as z from 'zod';
import { writeFileAtomicSync } from './atomicFile';
import { parseJsonFile, type Algorithm } from './config';
import { ConfigError } from '../errors';
import { isRole, ROLE_PATTERN } from './names';
import { COMPLEXITIES } from '../learning/runResult';

export interface PromptVariant {
  id: string;
  text: string;
}

export interface ModelVariant {
  id: string;
  /** USD per 1,000 tokens, the unit of `modelRouter.maxCostPerToken`. 0 for local models. */
  costPer1kTokens: number;
  tiers: (typeof COMPLEXITIES)[number][];
  /** Roles the model serves (a tuned model: the role it was trained for); absent: every role. */
  roles?: string[];
}

/** A Map, not an object literal: prompt ids come from config and `constructor` is a valid one (STYLE 17). */
export const BUILTIN_PROMPTS: ReadonlyMap<string, string> = new Map([
  ['default', 'You are an expert software engineer. Implement the task below with complete, working code.'],
  [
    'detailed',
    'You are an expert software engineer. First restate the requirements and the edge cases, then implement the ' +
      'task below with complete, working, tested code, and briefly explain the key decisions.',
  ],
  [
    'concise',
    'You are an expert software engineer. Implement the task below with minimal, correct code. No explanations.',
  ],
]);

export const DEFAULT_MODELS: ModelVariant[] = [
  { id: 'qwen2.5-coder:7b', costPer1kTokens: 0, tiers: ['small', 'medium', 'large'] },
  { id: 'qwen2.5-coder:32b', costPer1kTokens: 0, tiers: ['medium', 'large'] },
];

const statsSchema = z.unknown();

const promptFileSchema = z
  .object({
    $comment: z.string().optional(),
    variants: z
      .array(z.object({ id: z.string().min(1).max(64), text: z.string().max(20_000).optional() }).strict())
      .default([]),
    /** Written by us: the variants in use (config ids plus the file's), for the user to see. Never read. */
    active: z.unknown().optional(),
    algorithm: z.string().optional(),
    stats: statsSchema.optional(),
    updatedAt: z.string().optional(),
  })
  .strict();

const modelFileSchema = z
  .object({
    $comment: z.string().optional(),
    variants: z
      .array(
        z
          .object({
            id: z.string().min(1).max(200),
            costPer1kTokens: z.number().min(0).default(0),
            tiers: z
              .array(z.enum(COMPLEXITIES))
              .min(1)
              .default([...COMPLEXITIES]),
            roles: z
              .array(
                z
                  .string()
                  .refine(
                    isRole,
                    `a role matches ${ROLE_PATTERN} and does not end in -small, -medium or -large`,
                  ),
              )
              .min(1)
              .optional(),
          })
          .strict(),
      )
      .min(1, 'list at least one model'),
    algorithm: z.string().optional(),
    stats: statsSchema.optional(),
    updatedAt: z.string().optional(),
  })
  .strict();

export interface ArmSummary {
  id: string;
  n: number;
  meanReward: number;
}

/**
 * Reads the user-editable part of a variants file. Missing → undefined. Invalid → ConfigError; the caller keeps
 * what it had.
 */
export function readPromptVariants(
  file: string,
): { variants: { id: string; text?: string }[]; stats?: unknown } | undefined {
  const text = readIfExists(file);
  return text === undefined ? undefined : parseJsonFile(text, file, promptFileSchema);
}

export function readModelVariants(file: string): { variants: ModelVariant[]; stats?: unknown } | undefined {
  const text = readIfExists(file);
  return text === undefined ? undefined : parseJsonFile(text, file, modelFileSchema);
}

/** Active prompts: the config's ids plus any the file adds, with the file's texts where given. */
export function mergePrompts(
  configIds: string[],
  fromFile: { id: string; text?: string }[] | undefined,
): PromptVariant[] {
  const byId = new Map<string, PromptVariant>();
  for (const id of configIds) byId.set(id, { id, text: BUILTIN_PROMPTS.get(id) ?? '' });
  for (const v of fromFile ?? [])
    byId.set(v.id, { id: v.id, text: v.text ?? BUILTIN_PROMPTS.get(v.id) ?? '' });
  return [...byId.values()];
}

/**
 * `variants` is the user's part and is written back exactly as read; `active`, `stats` and `updatedAt` are ours.
 * The built-in variants stay in the config's list (promptBandit.variants), so removing one there removes it.
 */
export function writePromptMirror(
  file: string,
  userVariants: { id: string; text?: string }[],
  active: PromptVariant[],
  algorithm: Algorithm,
  stats: Record<string, ArmSummary[]>,
  now: number,
): boolean {
  return writeMirror(file, {
    $comment:
      'Add prompts or override a prompt\'s text in "variants" ({"id": "...", "text": "..."}); remove built-in ones ' +
      'from promptBandit.variants in learning-config.json. "active", "stats" and "updatedAt" are written by ' +
      'Agent Learning from .agent/experience.db.',
    variants: userVariants,
    active,
    algorithm,
    stats,
    updatedAt: new Date(now).toISOString(),
  });
}

export function writeModelMirror(
  file: string,
  variants: ModelVariant[],
  algorithm: Algorithm,
  stats: Record<string, ArmSummary[]>,
  now: number,
): boolean {
  return writeMirror(file, {
    $comment:
      'Edit "variants" to add models (costPer1kTokens in USD per 1,000 tokens; tiers small/medium/large). ' +
      '"stats" is written by Agent Learning from .agent/experience.db.',
    algorithm,
    variants,
    stats,
    updatedAt: new Date(now).toISOString(),
  });
}

/**
 * Writes the mirror unless the file on disk is invalid (a user's half-finished edit is never overwritten) or already
 * says the same but for `updatedAt`, which then stays the time the statistics last changed: each open wrote both
 * files, fsync'ed, for nothing. Returns whether it wrote.
 */
function writeMirror(file: string, content: { updatedAt: string; [key: string]: unknown }): boolean {
  const text = readIfExists(file);
  if (text !== undefined) {
    let current: unknown;
    try {
      current = JSON.parse(text);
    } catch {
      return false;
    }
    if (text === mirrorText({ ...content, updatedAt: updatedAtOf(current) })) return false;
  }
  writeFileAtomicSync(file, mirrorText(content));
  return true;
}

function mirrorText(content: object): string {
  return JSON.stringify(content, null, 2) + '\n';
}

function updatedAtOf(mirror: unknown): unknown {
  return typeof mirror === 'object' && mirror !== null
    ? (mirror as { updatedAt?: unknown }).updatedAt
    : undefined;
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ConfigError(file, [{ key: '', reason: `cannot read the file (${(err as Error).message})` }]);
  }
}
