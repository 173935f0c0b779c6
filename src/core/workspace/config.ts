// `.agent/learning-config.json`: the seed's keys and defaults, validated with zod; partial files merge over defaults.

import * as fs from 'node:fs';
import { findNodeAtLocation, parseTree, printParseErrorCode, type ParseError } from 'jsonc-parser';
import * as z from 'zod';
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

/** Files no run's change is made of, by default: agents' own logs and histories, build output, caches. */
export const EDITOR_SIGNALS_IGNORE = [
  '**/.aider*',
  '**/*.log',
  '**/dist/**',
  '**/out/**',
  '**/build/**',
  '**/coverage/**',
  '**/target/**',
  '**/.next/**',
  '**/__pycache__/**',
  '**/.venv/**',
] as const;

const configSchema = z
  .object({
    $schema: z
      .string()
      .optional()
      .describe('The JSON schema the editor validates this file with; ignored by Agent Learning.'),
    enabled: z
      .boolean()
      .default(true)
      .describe(
        'Master switch: false records no runs, so nothing is learned, exported, trained or deployed.',
      ),
    rewardWeights: z
      .object({
        compile: weight
          .default(0.25)
          .describe("Relative weight (0–1000) of the compile signal (0 or 1) in a run's reward."),
        tests: weight
          .default(0.25)
          .describe('Relative weight (0–1000) of the tests signal (share passed, 0–1).'),
        errors: weight
          .default(0.25)
          .describe('Relative weight (0–1000) of the errors signal (1 / (1 + errors): 1 with none).'),
        human: weight
          .default(0.25)
          .describe('Relative weight (0–1000) of the human verdict (accept 1, reject 0).'),
      })
      .strict()
      .prefault({})
      .refine((w) => w.compile + w.tests + w.errors + w.human > 0, 'at least one weight must be above 0')
      .describe(
        "How a run's reward (0–1) is made from its signals: a weighted mean, so only the weights' ratios matter; " +
          'a signal a run lacks is left out. At least one weight must be above 0.',
      ),
    promptBandit: z
      .object({
        epsilon: unit
          .default(0.1)
          .describe(
            'epsilon-greedy only: share of runs (0–1) that try a random variant instead of the best one.',
          ),
        variants: z
          .array(z.string().min(1).max(64))
          .min(1)
          .default(['default', 'detailed', 'concise'])
          .describe('Ids of the prompt variants the bandit chooses between (1–64 characters each).'),
        // Thompson sampling scaled to the rewards' observed spread: under half the seed's epsilon-greedy regret on the
        // learning benchmark (BENCHMARKS.md). 'thompson' is Beta Thompson, which treats every reward as pass/fail.
        algorithm: z
          .enum(ALGORITHMS)
          .default('thompson-variance')
          .describe(
            "How a variant is chosen. 'thompson-variance': Thompson sampling scaled to the rewards' spread (the " +
              "best on the learning benchmark); 'thompson': Beta Thompson (rewards as pass/fail); 'ucb1'; " +
              "'epsilon-greedy': the best, or a random one with probability epsilon.",
          ),
        window: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe(
            "Learn from each variant's last N runs only (and ignore changeDetection); 0: all history.",
          ),
        changeDetection: z
          .boolean()
          .default(true)
          .describe(
            "Forget a variant's runs from before its reward clearly dropped, so one that got worse is noticed " +
              'within tens of runs while the others keep their whole history.',
          ),
      })
      .strict()
      .prefault({})
      .describe("The prompt bandit: which prompt variant a run gets, learned from the runs' rewards."),
    modelRouter: z
      .object({
        epsilon: unit
          .default(0.1)
          .describe(
            'epsilon-greedy only: share of runs (0–1) that try a random model instead of the best one.',
          ),
        maxCostPerToken: z
          .number()
          .min(0)
          .default(0.002)
          .describe('Most a routed model may cost, in USD per 1,000 tokens (0.002 is $2 per 1M tokens).'),
        algorithm: z
          .enum(ALGORITHMS)
          .default('thompson-variance')
          .describe('How a model is chosen; the same choices as promptBandit.algorithm.'),
        window: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe("Learn from each model's last N runs only (and ignore changeDetection); 0: all history."),
        changeDetection: z
          .boolean()
          .default(true)
          .describe("Forget a model's runs from before its reward clearly dropped."),
        costTolerance: unit
          .default(0.02)
          .describe(
            'Reward points (0–1): a cheaper model is preferred while its (sampled) reward is within this of the best.',
          ),
      })
      .strict()
      .prefault({})
      .describe('The model router: which model a run gets, by reward, complexity tier and cost.'),
    autoExport: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe('Export SFT datasets (.agent/sft/{role}_sft.jsonl) automatically.'),
        minRuns: positiveInt
          .default(100)
          .describe(
            "Export a role's dataset once this many new runs with a reward of at least minReward arrived.",
          ),
        minReward: unit
          .default(0.7)
          .describe('Lowest reward (0–1) of a run that counts as high quality and goes into the dataset.'),
        maxExamples: positiveInt
          .default(1000)
          .describe("Most examples in one role's exported dataset (highest reward first)."),
      })
      .strict()
      .prefault({})
      .describe('Automatic export of high-reward runs as supervised fine-tuning (SFT) datasets.'),
    autoTrain: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe('Train a LoRA adapter automatically once a dataset is large enough.'),
        minExamples: positiveInt
          .default(500)
          .describe("Examples a role's exported dataset needs before the first training."),
        baseModel: z
          .string()
          .regex(MODEL_TAG_PATTERN, 'must be an Ollama model tag such as qwen2.5-coder:7b')
          .default('qwen2.5-coder:7b')
          .describe(
            'The Ollama model tag the adapter is trained for and deployed on, e.g. qwen2.5-coder:7b.',
          ),
        hfModel: z
          .string()
          .regex(
            /^[A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*$/,
            'must be a Hugging Face repo id (owner/name)',
          )
          .optional()
          .describe(
            'Hugging Face repo id (owner/name) of the weights to train; unset: the one matching baseModel.',
          ),
        loraRank: positiveInt
          .max(1024)
          .default(16)
          .describe("LoRA rank r (1–1024): the adapter's size and capacity."),
        loraAlpha: z
          .number()
          .positive()
          .default(32)
          .describe("LoRA alpha: the adapter's scale is alpha / rank."),
        epochs: positiveInt.max(100).default(3).describe('Passes over the dataset (1–100).'),
        batchSize: positiveInt
          .max(1024)
          .default(2)
          .describe('Examples per batch (1–1024); larger needs more GPU memory.'),
        learningRate: z
          .number()
          .positive()
          .max(1)
          .default(2e-4)
          .describe('Peak learning rate (above 0, at most 1).'),
        maxSeqLength: positiveInt
          .max(131072)
          .default(2048)
          .describe('Longest training example in tokens (up to 131072); longer ones are cut.'),
        gradientAccumulation: positiveInt
          .max(1024)
          .default(1)
          .describe(
            'Batches per optimizer step (gradient accumulation): a larger effective batch in the same memory.',
          ),
        maxSteps: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe('Stop after this many optimizer steps; 0: train every epoch.'),
        lrScheduler: z
          .enum(['linear', 'cosine', 'constant'])
          .default('linear')
          .describe('How the learning rate changes after warm-up.'),
        warmupRatio: z
          .number()
          .min(0)
          .lt(1)
          .default(0.05)
          .describe('Share of the training steps (0 to below 1) spent warming the learning rate up.'),
        allowCpu: z
          .boolean()
          .default(false)
          .describe('Train on the CPU when there is no CUDA GPU (slow: small base models only).'),
        loraDropout: z
          .number()
          .min(0)
          .lt(1)
          .optional()
          .describe(
            'LoRA dropout (0 to below 1); unset: 0.05 with PEFT, 0 with Unsloth (whose fast kernels need 0).',
          ),
        retrainMinNewExamples: positiveInt
          .default(200)
          .describe(
            'Continuous learning: train again once this many new high-quality runs arrived since the last training.',
          ),
        curriculum: z
          .boolean()
          .default(false)
          .describe(
            'Also train one adapter per complexity tier ({prefix}-{role}-{tier}) when a tier has enough data.',
          ),
      })
      .strict()
      .prefault({})
      .describe('Automatic LoRA fine-tuning on the exported datasets (Python, .venv).'),
    autoDeploy: z
      .object({
        enabled: z.boolean().default(true).describe('Import a trained adapter into Ollama automatically.'),
        modelNamePrefix: z
          .string()
          .regex(MODEL_PREFIX_PATTERN, 'must be lower-case letters, digits, ".", "_" or "-"')
          .default('my-coder-tuned')
          .describe(
            'Deployed models are named {prefix}-{role} (lower-case letters, digits, ".", "_" or "-").',
          ),
        temperature: z
          .number()
          .min(0)
          .max(2)
          .default(0.2)
          .describe("The deployed model's sampling temperature (0–2; lower is more deterministic)."),
        topP: unit
          .default(0.9)
          .describe('Nucleus sampling: sample from the most likely tokens up to this share (0–1).'),
        topK: positiveInt.default(40).describe('Top-k sampling: sample from this many most likely tokens.'),
        requireImprovement: z
          .boolean()
          .default(true)
          .describe(
            "Deploy gate: do not deploy an adapter whose held-out loss did not improve on the base model's.",
          ),
        method: z
          .enum(['auto', 'adapter', 'merged'])
          .default('auto')
          .describe(
            "'adapter': a Modelfile with ADAPTER (Ollama ≤ 0.34.0); 'merged': merge into the base model and import " +
              "it as GGUF (Ollama refuses ADAPTER from 0.34.1); 'auto': by the running Ollama's version.",
          ),
        // Written by us: from 0.34.1 Ollama does not quantise GGUF models at create time, and its safetensors import
        // takes neither qwen2 nor q4_K_M.
        quantize: z
          .enum(['q8_0', 'f16', 'bf16'])
          .default('q8_0')
          .describe("The merged model's GGUF number format (q8_0 is about half the size of f16)."),
      })
      .strict()
      .prefault({})
      .describe('Automatic deployment of trained adapters as Ollama models.'),
    driftDetection: z
      .object({
        enabled: z
          .boolean()
          .default(true)
          .describe("Roll a deployed model back when its reward falls below the base model's."),
        minPerformanceDrop: unit
          .default(0.05)
          .describe('Reward points (0–1): the drop against the base model that counts as drift.'),
        evaluationRuns: positiveInt
          .default(20)
          .describe('Runs of the deployed model before drift is first judged.'),
        method: z
          .enum(DRIFT_METHODS)
          .default('sprt')
          .describe(
            "'threshold': one comparison after evaluationRuns runs. 'sprt': a sequential test that looks from " +
              'evaluationRuns runs on and waits until the evidence is clear, so noise does not roll back.',
          ),
        maxEvaluationRuns: positiveInt
          .default(200)
          .describe('sprt: the most runs it watches; with no verdict by then the deployed model is kept.'),
      })
      .strict()
      .prefault({})
      .describe("Drift detection: compares a deployed model's rewards with the base model's."),
    storage: z
      .object({
        // Bounds the database, which must stay under 2 GiB.
        maxTextBytes: z
          .number()
          .int()
          .min(1024)
          .max(64 * 1024 * 1024)
          .default(256 * 1024)
          .describe(
            "Bytes (UTF-8, 1 KiB–64 MiB) kept of a run's input and of its output; a longer one is cut at a " +
              'character boundary and ends with a marker saying how much was kept.',
          ),
      })
      .strict()
      .prefault({})
      .describe('The run database (.agent/experience.db).'),
    webKnowledge: z
      .object({
        enabled: z
          .boolean()
          .default(false)
          .describe(
            "Fetch library documentation for the agent's prompt. Off by default: it sends the library name and query to urlTemplate.",
          ),
        urlTemplate: z
          .string()
          .refine((s) => /^https?:\/\//.test(s), 'must start with http:// or https://')
          .default('https://registry.npmjs.org/{library}')
          .describe('http(s) URL fetched; {library} and {query} are replaced, URL-encoded.'),
        maxBytes: positiveInt.default(100_000).describe('Bytes of text kept from one response.'),
        maxDownloadBytes: positiveInt
          .default(20_000_000)
          .describe(
            'Bytes read at most of a response body (a registry document is read whole for its readme).',
          ),
        maxAgeHours: z
          .number()
          .positive()
          .default(168)
          .describe('Hours a cached response is used before it is fetched again.'),
        timeoutMs: positiveInt.default(10_000).describe('Milliseconds a request may take.'),
        maxCacheBytes: positiveInt
          .default(20_000_000)
          .describe('Bytes the response cache may hold; the oldest go first.'),
      })
      .strict()
      .prefault({})
      .describe("Web knowledge: library documentation fetched for the agent's prompt."),
    // src/extension/editorSignals.ts
    editorSignals: z
      .object({
        // Only fills the gaps a run's agent left (learning/signals.ts).
        enabled: z
          .boolean()
          .default(true)
          .describe(
            'Take signals from the editor (diagnostics, task exit codes, kept lines) for runs that lack them.',
          ),
        // 0 by default: lines nobody looked at stay too, and a gateway run with no other signal would then score 1
        // and be exported.
        keptWeight: weight
          .default(0)
          .describe(
            "Relative weight (0–1000) of the implicit verdict (the share of the run's change still there), against " +
              "rewardWeights' 0.25 for an explicit one. 0: observed and shown, not learned from; e.g. 0.1 to learn.",
          ),
        settleMs: z
          .number()
          .int()
          .min(0)
          .max(60_000)
          .default(1500)
          .describe(
            'Milliseconds (0–60000) diagnostics must stay unchanged before they count (language servers report in bursts).',
          ),
        runWindowMs: z
          .number()
          .int()
          .min(0)
          .max(600_000)
          .default(30_000)
          .describe(
            "Milliseconds (0–600000) after a gateway run in which changed files are taken as that run's change; " +
              'its diff, shown with the run, is taken when they are over.',
          ),
        keptAfterSec: z
          .array(z.number().int().positive().max(86_400))
          .max(10)
          .default([30, 120, 600])
          .describe(
            'Seconds after the run (1–86400, at most 10) at which the share of the change still present is measured.',
          ),
        // Agents and builds write files that are no one's change (Aider's chat history, bundles, logs): were they
        // taken into a run, its diff would show them and a revert of the real change would never be seen.
        ignore: z
          .array(z.string().min(1).max(500))
          .max(200)
          .default([...EDITOR_SIGNALS_IGNORE])
          .describe(
            "Glob patterns (relative to the workspace folder) of files never taken as a run's change: agent logs, " +
              'build output. .agent/, .git/ and node_modules/ are never taken either.',
          ),
        testTasks: z
          .array(z.string().min(1).max(200))
          .max(50)
          .default([])
          .describe('Task names whose exit code is the tests signal; empty: the tasks in the Test group.'),
        buildTasks: z
          .array(z.string().min(1).max(200))
          .max(50)
          .default([])
          .describe('Task names whose exit code is the compile signal; empty: the tasks in the Build group.'),
      })
      .strict()
      .prefault({})
      .describe('Signals the editor observes on the files a run changed.'),
    gateway: gatewayConfigSchema
      .prefault({})
      .describe('The local OpenAI- and Ollama-compatible gateway that records the runs sent through it.'),
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

/** The config file's text → the configuration; invalid → ConfigError with each issue's key, line and column. */
export function parseConfigText(text: string, file: string): LearningConfig {
  return parseJsonFile(text, file, configSchema);
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
  return parseConfigText(text, file);
}

export function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((i) => {
    const path = i.path.map(String);
    const key = path.join('.');
    if (i.code === 'unrecognized_keys') {
      const keys = i.keys.map((k) => (key ? `${key}.${k}` : k));
      return {
        key: keys[0] ?? key,
        path: i.keys.length > 0 ? [...path, i.keys[0]!] : path,
        reason: `unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`,
      };
    }
    return { key, path, reason: i.message };
  });
}

function pathSegment(s: string): string | number {
  return /^\d+$/.test(s) ? Number(s) : s;
}

/** A character offset in `text` as a 1-based line and column. */
export function position(text: string, offset: number): { line: number; column: number } {
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
