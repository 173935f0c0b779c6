// `.agent/learning-config.json`: the seed's keys and defaults, validated with zod; partial files merge over defaults.

import * as fs from 'node:fs';
import { findNodeAtLocation, parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import { z } from 'zod';
import { DRIFT_METHODS } from '../automation/drift';
import { ConfigError, type ConfigIssue } from '../errors';
import { gatewayConfigSchema } from './gatewayConfig';
import { MODEL_PREFIX_PATTERN, MODEL_TAG_PATTERN } from './names';

export const ALGORITHMS = ['epsilon-greedy', 'thompson', 'thompson-variance', 'ucb1'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

const unit = z.number().min(0).max(1);
const positiveInt = z.number().int().positive();
/** Relative weights: bounded so that their sum, and the weighted sum of signals, stay finite numbers. */
const weight = z.number().min(0).max(1000);

const configSchema = z
  .object({
    $schema: z.string().optional(),
    enabled: z.boolean().default(true),
    rewardWeights: z
      .object({
        compile: weight.default(0.25),
        tests: weight.default(0.25),
        errors: weight.default(0.25),
        human: weight.default(0.25),
      })
      .strict()
      .prefault({})
      .refine((w) => w.compile + w.tests + w.errors + w.human > 0, 'at least one weight must be above 0'),
    promptBandit: z
      .object({
        epsilon: unit.default(0.1),
        variants: z.array(z.string().min(1).max(64)).min(1).default(['default', 'detailed', 'concise']),
        /**
         * Thompson sampling scaled to the rewards' observed spread: under half the seed's epsilon-greedy regret on the
         * learning benchmark (BENCHMARKS.md). 'thompson' is Beta Thompson, which treats every reward as pass/fail.
         */
        algorithm: z.enum(ALGORITHMS).default('thompson-variance'),
        /** Learn from each variant's last N runs only (and ignore changeDetection); 0: all history. */
        window: z.number().int().min(0).default(0),
        /**
         * Forget a variant's runs from before its reward clearly dropped, so one that got worse is noticed within tens
         * of runs while the others keep their whole history.
         */
        changeDetection: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    modelRouter: z
      .object({
        epsilon: unit.default(0.1),
        /** USD per 1,000 tokens: 0.002 is $2 per 1M tokens, as the seed's comment says. */
        maxCostPerToken: z.number().min(0).default(0.002),
        algorithm: z.enum(ALGORITHMS).default('thompson-variance'),
        window: z.number().int().min(0).default(0),
        changeDetection: z.boolean().default(true),
        /** A cheaper model is preferred while its (sampled) reward is within this many points of the best. */
        costTolerance: unit.default(0.02),
      })
      .strict()
      .prefault({}),
    autoExport: z
      .object({
        enabled: z.boolean().default(true),
        minRuns: positiveInt.default(100),
        minReward: unit.default(0.7),
        maxExamples: positiveInt.default(1000),
      })
      .strict()
      .prefault({}),
    autoTrain: z
      .object({
        enabled: z.boolean().default(true),
        minExamples: positiveInt.default(500),
        baseModel: z
          .string()
          .regex(MODEL_TAG_PATTERN, 'must be an Ollama model tag such as qwen2.5-coder:7b')
          .default('qwen2.5-coder:7b'),
        hfModel: z
          .string()
          .regex(
            /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/,
            'must be a Hugging Face repo id (owner/name)',
          )
          .optional(),
        loraRank: positiveInt.max(1024).default(16),
        loraAlpha: z.number().positive().default(32),
        epochs: positiveInt.max(100).default(3),
        batchSize: positiveInt.max(1024).default(2),
        learningRate: z.number().positive().max(1).default(2e-4),
        maxSeqLength: positiveInt.max(131072).default(2048),
        /** Batches per optimizer step (gradient accumulation): a larger effective batch in the same memory. */
        gradientAccumulation: positiveInt.max(1024).default(1),
        /** Stop after this many optimizer steps (0: train every epoch). */
        maxSteps: z.number().int().min(0).default(0),
        lrScheduler: z.enum(['linear', 'cosine', 'constant']).default('linear'),
        warmupRatio: z.number().min(0).lt(1).default(0.05),
        /** Train on the CPU when there is no CUDA GPU (slow: small bases only). */
        allowCpu: z.boolean().default(false),
        /** LoRA dropout; unset: 0.05 with PEFT, 0 with Unsloth (whose fast kernels need 0). */
        loraDropout: z.number().min(0).lt(1).optional(),
        /** Continuous learning: train again once this many new high-quality runs arrived since the last training. */
        retrainMinNewExamples: positiveInt.default(200),
        /** Curriculum: also train one adapter per complexity tier (`{prefix}-{role}-{tier}`) when a tier has data. */
        curriculum: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    autoDeploy: z
      .object({
        enabled: z.boolean().default(true),
        modelNamePrefix: z
          .string()
          .regex(MODEL_PREFIX_PATTERN, 'must be lower-case letters, digits, ".", "_" or "-"')
          .default('my-coder-tuned'),
        temperature: z.number().min(0).max(2).default(0.2),
        topP: unit.default(0.9),
        topK: positiveInt.default(40),
        /** Deploy gate: do not deploy an adapter whose held-out loss did not improve on the base model's. */
        requireImprovement: z.boolean().default(true),
        /**
         * `adapter`: a Modelfile with ADAPTER (Ollama ≤ 0.34.0); `merged`: merge into the base with PEFT, convert
         * to a GGUF model and import that (Ollama refuses ADAPTER from 0.34.1); `auto`: by the running Ollama's version.
         */
        method: z.enum(['auto', 'adapter', 'merged']).default('auto'),
        /**
         * The merged model's GGUF type. Written by us: from 0.34.1 Ollama does not quantise GGUF models at create
         * time, and its safetensors import takes neither qwen2 nor q4_K_M.
         */
        quantize: z.enum(['q8_0', 'f16', 'bf16']).default('q8_0'),
      })
      .strict()
      .prefault({}),
    driftDetection: z
      .object({
        enabled: z.boolean().default(true),
        minPerformanceDrop: unit.default(0.05),
        evaluationRuns: positiveInt.default(20),
        /**
         * `threshold`: the seed's rule, one comparison after evaluationRuns runs. `sprt`: a sequential test that
         * looks from evaluationRuns runs on and waits until the evidence is clear, so noise does not roll back.
         */
        method: z.enum(DRIFT_METHODS).default('sprt'),
        /** sprt: the most runs it watches; with no verdict by then the tuned model is kept. */
        maxEvaluationRuns: positiveInt.default(200),
      })
      .strict()
      .prefault({}),
    storage: z
      .object({
        /**
         * A run's input and output are each kept up to this many bytes (UTF-8); a longer one is cut at a character
         * boundary and ends with a marker saying how much was kept. Bounds the database, which must stay under 2 GiB.
         */
        maxTextBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(256 * 1024),
      })
      .strict()
      .prefault({}),
    webKnowledge: z
      .object({
        /** Off by default: it sends the library name and query to the URL below. */
        enabled: z.boolean().default(false),
        /** `{library}` and `{query}` are replaced, URL-encoded. */
        urlTemplate: z
          .string()
          .refine((s) => /^https?:\/\//.test(s), 'must start with http:// or https://')
          .default('https://registry.npmjs.org/{library}'),
        maxBytes: positiveInt.default(100_000),
        /** The most of a response body read (a registry document is read whole for its readme). */
        maxDownloadBytes: positiveInt.default(20_000_000),
        maxAgeHours: z.number().positive().default(168),
        timeoutMs: positiveInt.default(10_000),
        maxCacheBytes: positiveInt.default(20_000_000),
      })
      .strict()
      .prefault({}),
    /** Signals the editor observes on the files a run changed (src/extension/editorSignals.ts). */
    editorSignals: z
      .object({
        /** Diagnostics and task exit codes only fill the gaps a run's agent left (learning/signals.ts). */
        enabled: z.boolean().default(true),
        /**
         * The implicit verdict's weight (the share of the change still there), against rewardWeights' 0.25 for an
         * explicit one. 0 by default: lines nobody looked at stay too, and a gateway run with no other signal would
         * then score 1 and be exported. It is observed and shown either way; raise it (e.g. 0.1) to learn from it.
         */
        keptWeight: weight.default(0),
        /** Diagnostics count once they have not changed for this long (language servers report in bursts). */
        settleMs: z.number().int().min(0).max(60_000).default(1500),
        /** Files changed within this long after a gateway run (or while it ran) are taken as that run's change. */
        runWindowMs: z.number().int().min(0).max(600_000).default(30_000),
        /** When the share of the change still present is measured, in seconds after the run. */
        keptAfterSec: z.array(z.number().int().positive().max(86_400)).max(10).default([30, 120, 600]),
        /** Task names whose exit code is the `tests` signal; empty: the tasks in the Test group. */
        testTasks: z.array(z.string().min(1).max(200)).max(50).default([]),
        /** Task names whose exit code is the `compile` signal; empty: the tasks in the Build group. */
        buildTasks: z.array(z.string().min(1).max(200)).max(50).default([]),
      })
      .strict()
      .prefault({}),
    /** The local OpenAI- and Ollama-compatible gateway (src/core/gateway), in gatewayConfig.ts. */
    gateway: gatewayConfigSchema.prefault({}),
  })
  .strict();

export type LearningConfig = z.output<typeof configSchema>;
export type LearningConfigInput = z.input<typeof configSchema>;

/** JSON Schema of the config file (what a user may write: every key optional), for the editor's validation. */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    title: 'Agent Learning configuration (.agent/learning-config.json)',
  };
}

export function defaultConfig(): LearningConfig {
  return configSchema.parse({});
}

/** Validates an already-parsed object (e.g. VS Code settings); throws ConfigError naming the keys. */
export function parseConfig(value: unknown, file = 'learning-config.json'): LearningConfig {
  const result = configSchema.safeParse(value);
  if (!result.success) throw new ConfigError(file, zodIssues(result.error));
  return result.data;
}

/** JSON text → value, with syntax errors and schema errors located by line and column. */
export function parseJsonFile<T>(raw: string, file: string, schema: z.ZodType<T>): T {
  const text = raw.replace(/^\uFEFF/, ''); // editors may save a byte-order mark; JSON.parse would reject it
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false });
  if (errors.length > 0 || !root) {
    throw new ConfigError(
      file,
      (errors.length ? errors : [{ error: 1, offset: 0, length: 0 } as ParseError]).slice(0, 5).map((e) => ({
        key: '',
        reason: `JSON syntax error: ${printParseErrorCode(e.error)}`,
        ...position(text, e.offset),
      })),
    );
  }
  const value: unknown = JSON.parse(text);
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ConfigError(
    file,
    zodIssues(result.error).map((issue) => {
      const node = findNodeAtLocation(root, issue.key ? issue.key.split('.').map(pathSegment) : []);
      return node ? { ...issue, ...position(text, node.offset) } : issue;
    }),
  );
}

/** Reads the config file: missing → defaults; invalid → ConfigError (the caller keeps its last good config). */
export function readConfigFile(file: string): LearningConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return defaultConfig();
    throw new ConfigError(file, [{ key: '', reason: `cannot read the file (${(err as Error).message})` }]);
  }
  return parseJsonFile(text, file, configSchema);
}

export function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((i) => {
    const key = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      const keys = i.keys.map((k) => (key ? `${key}.${k}` : k));
      return { key: keys[0] ?? key, reason: `unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}` };
    }
    return { key, reason: i.message };
  });
}

function pathSegment(s: string): string | number {
  return /^\d+$/.test(s) ? Number(s) : s;
}

function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}
