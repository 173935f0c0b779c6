// `agent-learning`: record runs, give feedback, print stats and export datasets from scripts and CLI agents.
// Exit codes: 0 ok, 1 failed, 2 bad usage.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { readConfigFile, defaultConfig, type LearningConfig } from '../core/workspace/config';
import { LearningError, byteSize, describe } from '../core/errors';
import { InboxWriter } from '../core/store/inbox';
import { WriterLock } from '../core/store/lock';
import {
  convertLora,
  LORA_ARCHITECTURES,
  LORA_OUT_TYPES,
  type ConvertLoraOptions,
} from '../core/convert/loraConvert';
import { convertModel, MODEL_OUT_TYPES, type ModelOutType } from '../core/convert/modelConvert';
import { removeOwnPartialOutputs } from '../core/convert/partialOutputs';
import { Automation } from '../core/automation/automation';
import { checkRole } from '../core/workspace/names';
import { agentDirOf, configFile, inboxDir, lockFile } from '../core/workspace/agentDir';
import { automationPort, LearningPipeline, type LearningStats } from '../core/pipeline';
import { computeReward } from '../core/learning/reward';
import {
  checkVerdict,
  newRunId,
  toRunRecord,
  validateRunArgs,
  type RunRecord,
} from '../core/learning/runResult';
import { ChildProcessRunner } from '../core/automation/steps';
import type { Tools } from '../core/automation/training';
import { Gateway } from '../core/gateway/gateway';
import { isLoopbackName } from '../core/gateway/security';
import { normaliseHost, DEFAULT_OLLAMA_HOST } from '../core/automation/ollama';
import { DEFAULT_GATEWAY_ACCESS, httpOrigin, type GatewayAccess } from '../core/workspace/gatewayConfig';

const USAGE = `Usage: agent-learning <command> [options]

Commands:
  record                      Record runs: one JSON object, or JSON lines, on stdin:
                              {"taskSlug":"…","modelId":"…","promptId":"…","role":"coder","result":{"input":"…","output":"…",…}}
  feedback <runId> accept|reject
                              A human verdict for a run
  stats [--json]              Rewards, model and prompt performance, progress per role
  show <runId> [--json]       One run: its signals, reward and breakdown, input and output, and the diff of the
                              files it changed (from .agent/texts/)
  export [--role R]           Write .agent/sft/{role}_sft.jsonl now (every role with runs when --role is omitted)
  compact                     Rebuild .agent/experience.db in full 8 KiB pages, smaller and cheaper to save (a
                              database grown over many runs or releases); close VS Code on this folder first
  convert-lora <peft-dir> --out FILE.gguf [--arch qwen2|llama] [--outtype f32|f16] [--heads N] [--kv-heads N]
                              Convert a PEFT LoRA adapter to a GGUF adapter for llama.cpp and Ollama (ADAPTER).
                              --arch and, for llama, the head counts come from <peft-dir>/config.json when it
                              holds the base model's config; --outtype defaults to f32, like llama.cpp's script
  convert-model <hf-dir> --out FILE.gguf [--outtype q8_0|f16|bf16|f32] [--threads N]
                              Convert a Hugging Face qwen2/llama model folder (e.g. a merged fine-tune) to a GGUF
                              model for llama.cpp and Ollama (FROM ./FILE.gguf); --outtype defaults to q8_0,
                              --threads (encoding threads) to one a core, at most 4
  train --role R [--tier T]   Train a LoRA adapter on .agent/sft/{role}_sft.jsonl (python/train_lora.py)
  deploy --role R [--tier T] [--force]
                              Convert (or merge) the trained adapter and create {prefix}-{role} in Ollama;
                              --force deploys even when the held-out loss did not improve
  rollback --role R [--tier T]
                              Re-create the model from the previous adapter, or withdraw it from the router
  serve [--port N] [--openai-base-url URL] [--bind ADDR] [--allow-origin O]... [--allow-host H]...
                              Run the local OpenAI- and Ollama-compatible gateway (config "gateway"; default port
                              11444) that forwards to OLLAMA_HOST and records every completion, until Ctrl+C.
                              /v1 goes to --openai-base-url (or AGENT_LEARNING_UPSTREAM_URL; default: OLLAMA_HOST's
                              /v1), with the key in AGENT_LEARNING_UPSTREAM_API_KEY, sent to that origin only.
                              --bind: the address to listen on (default 127.0.0.1; another one lets the network in);
                              --allow-origin / --allow-host: a browser origin / Host name to let in (repeatable).
                              These are never read from .agent/learning-config.json.
  Environment for train/deploy/rollback: AGENT_LEARNING_PYTHON (default python3), OLLAMA_HOST
  (default 127.0.0.1:11434), AGENT_LEARNING_OLLAMA (the ollama CLI, default ollama)

Options:
  --workspace DIR             The folder that holds .agent/ (default: the current directory)
  --help                      This text
`;

class UsageError extends Error {}

interface Io {
  stdin: () => Promise<string>;
  out: (s: string) => void;
  err: (s: string) => void;
}

export async function main(argv: string[], io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        workspace: { type: 'string' },
        role: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        out: { type: 'string' },
        arch: { type: 'string' },
        outtype: { type: 'string' },
        heads: { type: 'string' },
        'kv-heads': { type: 'string' },
        threads: { type: 'string' },
        tier: { type: 'string' },
        force: { type: 'boolean' },
        port: { type: 'string' },
        'openai-base-url': { type: 'string' },
        bind: { type: 'string' },
        'allow-origin': { type: 'string', multiple: true },
        'allow-host': { type: 'string', multiple: true },
      },
    });
  } catch (err) {
    io.err(`${describe(err)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    io.out(USAGE);
    return 0;
  }
  const workspace = path.resolve(values.workspace ?? process.cwd());
  try {
    switch (command) {
      case 'record':
        expectArgs(rest, 0, 'record');
        return await record(workspace, await io.stdin(), io);
      case 'feedback': {
        expectArgs(rest, 2, 'feedback <runId> accept|reject');
        const verdict = rest[1];
        if (verdict !== 'accept' && verdict !== 'reject')
          throw new UsageError('feedback takes accept or reject');
        return await feedback(workspace, rest[0]!, verdict, io);
      }
      case 'stats':
        expectArgs(rest, 0, 'stats');
        return await stats(workspace, values.json ?? false, io);
      case 'show':
        expectArgs(rest, 1, 'show <runId>');
        return await show(workspace, rest[0]!, values.json ?? false, io);
      case 'export':
        expectArgs(rest, 0, 'export');
        return await exportCmd(workspace, values.role, io);
      case 'compact':
        expectArgs(rest, 0, 'compact');
        return await compact(workspace, io);
      case 'convert-lora':
        expectArgs(rest, 1, 'convert-lora <peft-dir> --out FILE.gguf');
        return await convertLoraCmd(rest[0]!, values, io);
      case 'convert-model':
        expectArgs(rest, 1, 'convert-model <hf-dir> --out FILE.gguf');
        return await convertModelCmd(rest[0]!, values, io);
      case 'train':
      case 'deploy':
      case 'rollback':
        expectArgs(rest, 0, `${command} --role R`);
        if (!values.role) throw new UsageError(`${command} needs --role R`);
        return await automationCmd(workspace, command, values.role, values.tier, values.force ?? false, io);
      case 'serve':
        expectArgs(rest, 0, 'serve [--port N]');
        return await serve(
          workspace,
          values.port,
          serveAccess(values, process.env, (line) => io.err(`${line}\n`)),
          process.env.AGENT_LEARNING_UPSTREAM_API_KEY || undefined,
          io,
        );
      case undefined:
        throw new UsageError('a command is required');
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`agent-learning: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    io.err(`agent-learning: ${describe(err)}\n`);
    return 1;
  }
}

function withReward(run: RunRecord, config: LearningConfig): RunRecord {
  return { ...run, reward: computeReward(run, config.rewardWeights) };
}

/** Reading commands never create .agent/ in a folder that has none. */
function requireAgentDir(workspace: string): void {
  if (!fs.existsSync(agentDirOf(workspace))) {
    throw new LearningError(
      `${workspace} has no .agent/ folder: nothing recorded here yet (or pass --workspace DIR).`,
    );
  }
}

function expectArgs(rest: string[], n: number, form: string): void {
  if (rest.length !== n) throw new UsageError(`usage: agent-learning ${form}`);
}

/**
 * Appends each run to the inbox (durable at once, and safe while VS Code owns the database), then, when no
 * process owns the database, ingests it so thresholds and auto-export run.
 */
async function record(workspace: string, input: string, io: Io): Promise<number> {
  const agentDir = agentDirOf(workspace);
  let config: LearningConfig;
  try {
    config = readConfigFile(configFile(agentDir));
  } catch (err) {
    io.err(
      `agent-learning: ${describe(err).replace(/ Fix the file;.*$/, '')} The runs are recorded; the rewards printed here use the default weights.\n`,
    );
    config = defaultConfig();
  }
  const items = parseJsonInput(input);
  if (items.length === 0)
    throw new UsageError('record reads one JSON object or JSON lines on stdin; got nothing');
  const writer = new InboxWriter(inboxDir(agentDir), Date.now);
  let failed = 0;
  fs.mkdirSync(inboxDir(agentDir), { recursive: true });
  for (const item of items) {
    try {
      if ('error' in item) throw new LearningError(item.error);
      const v = item.value as Record<string, unknown>;
      const args = validateRunArgs(v.taskSlug, v.modelId, v.promptId, v.result);
      const role = checkRole(v.role ?? 'coder');
      const createdAt = Date.now();
      const id = newRunId(createdAt);
      writer.append({ type: 'run', id, createdAt, ...args, role, source: 'cli' });
      const { reward } = withReward(toRunRecord({ id, createdAt, ...args, role }, args.result), config);
      io.out(JSON.stringify({ id, reward }) + '\n');
    } catch (err) {
      failed++;
      io.err(`agent-learning: ${items.length > 1 ? `line ${item.line}: ` : ''}${describe(err)}\n`);
    }
  }
  if (failed < items.length) await ingestIfUnowned(workspace, agentDir, io);
  return failed > 0 ? 1 : 0;
}

async function ingestIfUnowned(workspace: string, agentDir: string, io: Io): Promise<void> {
  const probe = new WriterLock(lockFile(agentDir), (l) => io.err(l + '\n'));
  if (!probe.tryAcquire()) return; // the owner (e.g. VS Code) ingests within a second
  probe.release();
  const pipeline = await LearningPipeline.open(workspace, {
    pollIntervalMs: 0,
    log: (l) => io.err(l + '\n'),
  });
  await pipeline.close();
}

async function feedback(workspace: string, runId: string, verdict: string, io: Io): Promise<number> {
  requireAgentDir(workspace);
  const pipeline = await LearningPipeline.open(workspace, {
    pollIntervalMs: 0,
    log: (l) => io.err(l + '\n'),
  });
  try {
    const r = await pipeline.recordFeedback(runId, checkVerdict(verdict));
    io.out(JSON.stringify({ id: r.id, reward: Number.isNaN(r.reward) ? null : r.reward }) + '\n');
    return 0;
  } finally {
    await pipeline.close();
  }
}

async function stats(workspace: string, json: boolean, io: Io): Promise<number> {
  requireAgentDir(workspace);
  const pipeline = await LearningPipeline.open(workspace, {
    pollIntervalMs: 0,
    log: (l) => io.err(l + '\n'),
  });
  try {
    const s = pipeline.getStats();
    io.out(json ? JSON.stringify(s, null, 2) + '\n' : formatStats(s));
    return 0;
  } finally {
    await pipeline.close();
  }
}

/** Prints one run with its texts: the way to read them outside VS Code now that they live beside the database. */
async function show(workspace: string, runId: string, json: boolean, io: Io): Promise<number> {
  requireAgentDir(workspace);
  const pipeline = await LearningPipeline.open(workspace, {
    pollIntervalMs: 0,
    log: (l) => io.err(l + '\n'),
  });
  try {
    const run = pipeline.getRun(runId);
    if (!run) {
      io.err(`agent-learning: no run with id ${JSON.stringify(runId)}\n`);
      return 1;
    }
    if (json) {
      io.out(JSON.stringify(run, null, 2) + '\n');
      return 0;
    }
    const { input, output, signals, breakdown, textsUnavailable, change, ...fields } = run;
    const lines = Object.entries(fields)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
    for (const t of breakdown) {
      lines.push(
        `reward term ${t.signal}: score ${t.score.toFixed(2)} × share ${t.share.toFixed(2)} (weight ${t.weight})`,
      );
    }
    for (const s of signals) {
      lines.push(`signal ${s.kind} = ${s.value} from ${s.source} at ${new Date(s.at).toISOString()}`);
    }
    if (textsUnavailable) lines.push(`texts: cannot be read (${textsUnavailable})`);
    let changed = '';
    if (change && 'unavailable' in change) lines.push(`change: cannot be read (${change.unavailable})`);
    else if (change) {
      const label = { seen: '', new: ' (new)', unseen: ' (earlier text not seen)' };
      const files = change.files
        .map((f) => `${f.path} +${f.added} -${f.removed}${label[f.before]}`)
        .join(', ');
      changed = `\n--- change (observed ${new Date(change.at).toISOString()}: ${files}) ---\n${change.patch}`;
    }
    io.out(
      visible(`${lines.join('\n')}\n\n--- input ---\n${input}\n--- output ---\n${output}${changed}`) + '\n',
    );
    return 0;
  } finally {
    await pipeline.close();
  }
}

/**
 * Run data as a terminal shows it: control characters but newline and tab written as `\x1b`-style escapes, so
 * a model's output (or a cloned .agent/) cannot move the cursor, retitle the terminal or set the clipboard. `--json`
 * gives the texts exactly.
 */
function visible(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

async function exportCmd(workspace: string, role: string | undefined, io: Io): Promise<number> {
  if (role !== undefined) checkRole(role);
  requireAgentDir(workspace);
  const pipeline = await LearningPipeline.open(workspace, {
    pollIntervalMs: 0,
    log: (l) => io.out(l + '\n'),
  });
  try {
    const roles = role ? [role] : pipeline.roles();
    if (roles.length === 0) {
      io.err('agent-learning: no runs recorded yet, nothing to export\n');
      return 1;
    }
    for (const r of roles) await pipeline.exportDataset(r);
    return 0;
  } finally {
    await pipeline.close();
  }
}

async function compact(workspace: string, io: Io): Promise<number> {
  requireAgentDir(workspace);
  const pipeline = await LearningPipeline.open(workspace, {
    pollIntervalMs: 0,
    log: (l) => io.out(l + '\n'),
  });
  try {
    const started = Date.now();
    const { beforeBytes, afterBytes } = await pipeline.compactDatabase();
    io.out(
      `🗜️ Rebuilt .agent/experience.db: ${byteSize(beforeBytes)} → ${byteSize(afterBytes)} ` +
        `(${((Date.now() - started) / 1000).toFixed(1)} s). Every run, verdict and signal is kept.\n`,
    );
    return 0;
  } finally {
    await pipeline.close();
  }
}

async function convertLoraCmd(
  peftDir: string,
  values: { out?: string; arch?: string; outtype?: string; heads?: string; 'kv-heads'?: string },
  io: Io,
): Promise<number> {
  if (!values.out) throw new UsageError('convert-lora needs --out FILE.gguf');
  const oneOf = <T extends string>(value: string | undefined, allowed: readonly T[], flag: string) => {
    if (value !== undefined && !(allowed as readonly string[]).includes(value))
      throw new UsageError(`${flag} takes ${allowed.join(' or ')}`);
    return value as T | undefined;
  };
  const count = (value: string | undefined, flag: string) => {
    if (value !== undefined && !/^[1-9][0-9]{0,5}$/.test(value))
      throw new UsageError(`${flag} takes a positive integer`);
    return value === undefined ? undefined : Number(value);
  };
  const options: ConvertLoraOptions = {
    arch: oneOf(values.arch, LORA_ARCHITECTURES, '--arch'),
    outType: oneOf(values.outtype, LORA_OUT_TYPES, '--outtype'),
    heads: count(values.heads, '--heads'),
    kvHeads: count(values['kv-heads'], '--kv-heads'),
  };
  const outFile = path.resolve(values.out);
  const r = await removingPartialOutputOnSignal(outFile, () =>
    convertLora(path.resolve(peftDir), outFile, options),
  );
  io.out(
    `Wrote ${r.file}: ${r.tensors} tensors, ${r.arch}, ${r.outType}, lora_alpha ${r.alpha}, ` +
      `${(r.bytes / 1e6).toFixed(1)} MB\n`,
  );
  return 0;
}

async function convertModelCmd(
  hfDir: string,
  values: { out?: string; outtype?: string; threads?: string },
  io: Io,
): Promise<number> {
  if (!values.out) throw new UsageError('convert-model needs --out FILE.gguf');
  const outType = values.outtype as ModelOutType | undefined;
  if (outType !== undefined && !MODEL_OUT_TYPES.includes(outType))
    throw new UsageError(`--outtype takes ${MODEL_OUT_TYPES.join(' or ')}`);
  if (values.threads !== undefined && !/^[1-9][0-9]{0,2}$/.test(values.threads))
    throw new UsageError('--threads takes a positive integer');
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  const outFile = path.resolve(values.out);
  const r = await removingPartialOutputOnSignal(outFile, () =>
    convertModel(path.resolve(hfDir), outFile, { outType, threads }),
  );
  io.out(
    `Wrote ${r.file}: ${r.tensors} tensors, ${r.arch}, ${r.outType}, ${(r.bytes / 1e6).toFixed(1)} MB\n`,
  );
  return 0;
}

/**
 * Ctrl-C or a kill (the automation stopping a deploy) during a conversion: its partial output, as big as the model,
 * is removed before the process ends by the same signal, so the caller still sees how it ended.
 */
async function removingPartialOutputOnSignal<T>(outFile: string, convert: () => Promise<T>): Promise<T> {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  const onSignal = (signal: NodeJS.Signals): void => {
    removeOwnPartialOutputs(outFile);
    for (const s of signals) process.removeListener(s, onSignal);
    process.kill(process.pid, signal);
  };
  for (const s of signals) process.on(s, onSignal);
  try {
    return await convert();
  } finally {
    for (const s of signals) process.removeListener(s, onSignal);
  }
}

/** The seed's "Get Learning Stats" printout, plus progress per role. */
export function formatStats(s: LearningStats): string {
  const lines = [
    `Recent Stats (last ${s.recentStats.count} runs):`,
    `  Avg Reward: ${s.recentStats.avgReward.toFixed(2)}`,
    `  Avg Cost: ${Math.round(s.recentStats.avgCost)} tokens`,
    `  Avg Duration: ${Math.round(s.recentStats.avgDuration)}ms`,
    '',
    'Model Performance:',
    ...s.modelPerformance.map((m) => `  ${m.model_name}: ${m.avg_reward.toFixed(2)} (${m.count} runs)`),
    '',
    'Prompt Performance:',
    ...s.promptPerformance.map((p) => `  ${p.prompt_id}: ${p.avg_reward.toFixed(2)} (${p.count} runs)`),
    '',
    `Runs: ${s.totals.runs}`,
    ...s.roles.map(
      (r) =>
        `  ${r.role}: ${r.runs} runs · ${r.highQualitySinceExport} / ${r.exportThreshold} high-quality runs to export` +
        ` · ${r.exportedExamples} / ${r.trainThreshold} examples to train`,
    ),
  ];
  return lines.join('\n') + '\n';
}

function parseJsonInput(
  input: string,
): ({ line: number; value: unknown } | { line: number; error: string })[] {
  const trimmed = input.trim();
  if (trimmed === '') return [];
  try {
    const whole: unknown = JSON.parse(trimmed);
    if (!Array.isArray(whole)) return [{ line: 1, value: whole }];
  } catch {
    // not one document: JSON lines
  }
  return input
    .split('\n')
    .map((text, i) => ({ text: text.trim(), line: i + 1 }))
    .filter((l) => l.text !== '')
    .map(({ text, line }) => {
      try {
        return { line, value: JSON.parse(text) as unknown };
      } catch {
        return { line, error: 'not valid JSON' };
      }
    });
}

function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    if (process.stdin.isTTY) return resolve('');
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

if (require.main === module) {
  main(process.argv.slice(2), {
    stdin: readStdin,
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`agent-learning: ${describe(err)}\n`);
      process.exitCode = 1;
    },
  );
}

/** The automation's steps as child processes, their output on stderr; the process owns the database meanwhile. */
async function automationCmd(
  workspace: string,
  command: 'train' | 'deploy' | 'rollback',
  role: string,
  tier: string | undefined,
  force: boolean,
  io: Io,
): Promise<number> {
  requireAgentDir(workspace);
  checkRole(role);
  const log = (line: string) => io.err(`${line}\n`);
  const pipeline = await LearningPipeline.open(workspace, { log, pollIntervalMs: 0 });
  try {
    const automation = new Automation(automationPort(pipeline), {
      runner: new ChildProcessRunner(log),
      tools: cliTools(),
      ollamaHost: process.env.OLLAMA_HOST || undefined,
      log,
    });
    const opts = tier === undefined ? {} : { tier };
    if (command === 'train') {
      const r = await automation.train(role, opts);
      io.out(`${JSON.stringify({ key: r.key, dir: r.dir, eval: r.eval ?? null })}\n`);
    } else if (command === 'deploy') {
      io.out(`${JSON.stringify(await automation.deploy(role, { ...opts, force }))}\n`);
    } else {
      io.out(`${JSON.stringify(await automation.rollback(role, opts))}\n`);
    }
    return 0;
  } finally {
    await pipeline.close();
  }
}

function cliTools(): Tools {
  // Bundled, this file is dist/cli.js with python/ beside dist/; from source (tsx) it is src/cli/main.ts.
  const root = path.resolve(__dirname, '..', fs.existsSync(path.join(__dirname, 'cli.js')) ? '' : '..');
  return {
    python: process.env.AGENT_LEARNING_PYTHON || 'python3',
    pythonDir: path.join(root, 'python'),
    node: process.execPath,
    // The way this process was started (a loader from source; nothing when bundled) runs the conversion too.
    nodeArgs: process.execArgv,
    cli: fs.existsSync(path.join(__dirname, 'cli.js')) ? path.join(__dirname, 'cli.js') : __filename,
    ollama: process.env.AGENT_LEARNING_OLLAMA || 'ollama',
  };
}

/**
 * Where the gateway forwards, binds and whom it lets in: from flags and the environment only, never from the
 * workspace's config (a cloned repository must not choose where the key and the conversations go).
 */
function serveAccess(
  values: {
    'openai-base-url'?: string;
    bind?: string;
    'allow-origin'?: string[];
    'allow-host'?: string[];
  },
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): GatewayAccess {
  const openaiBaseUrl = values['openai-base-url'] ?? (env.AGENT_LEARNING_UPSTREAM_URL || undefined);
  if (openaiBaseUrl !== undefined) {
    const from =
      values['openai-base-url'] !== undefined ? '--openai-base-url' : 'AGENT_LEARNING_UPSTREAM_URL';
    try {
      httpOrigin(openaiBaseUrl, from);
    } catch (err) {
      throw new UsageError(describe(err));
    }
  }
  const bindAddress = values.bind ?? DEFAULT_GATEWAY_ACCESS.bindAddress;
  if (bindAddress.trim() === '') throw new UsageError('--bind takes an address, such as 127.0.0.1');
  if (!isLoopbackName(bindAddress.toLowerCase().replace(/^\[|\]$/g, ''))) {
    warn(
      `⚠️ Gateway: --bind ${bindAddress} lets other machines on the network use your models` +
        (openaiBaseUrl ? ' and spend your upstream key' : '') +
        ' and read what they send; the Host check does not stop them. Bind 127.0.0.1 unless you mean it.',
    );
  }
  for (const origin of values['allow-origin'] ?? []) {
    try {
      httpOrigin(origin, '--allow-origin');
    } catch (err) {
      throw new UsageError(describe(err));
    }
  }
  return {
    ...(openaiBaseUrl !== undefined && { openaiBaseUrl }),
    bindAddress,
    allowedOrigins: values['allow-origin'] ?? [],
    allowedHosts: values['allow-host'] ?? [],
  };
}

/** The gateway until SIGINT or SIGTERM; then open streams are recorded as aborted and the database saved. */
async function serve(
  workspace: string,
  portArg: string | undefined,
  access: GatewayAccess,
  apiKey: string | undefined,
  io: Io,
): Promise<number> {
  if (portArg !== undefined && !/^\d{1,5}$/.test(portArg)) throw new UsageError('--port takes a port number');
  const port = portArg === undefined ? undefined : Number(portArg);
  if (port !== undefined && port > 65535) throw new UsageError('--port takes a port number up to 65535');
  const log = (line: string) => io.err(`${line}\n`);
  const keyOrigin = new URL(
    access.openaiBaseUrl ?? `${normaliseHost(process.env.OLLAMA_HOST || DEFAULT_OLLAMA_HOST)}/v1`,
  ).origin;
  const pipeline = await LearningPipeline.open(workspace, { log });
  const gateway = new Gateway({
    recorder: pipeline,
    ollamaHost: process.env.OLLAMA_HOST || undefined,
    access: () => access,
    // The user's own key for the upstream they named (or, with none named, Ollama's /v1 on OLLAMA_HOST).
    apiKey: () => (apiKey === undefined ? undefined : { key: apiKey, origin: keyOrigin }),
    port,
    log,
  });
  try {
    const url = await gateway.start();
    io.out(`${JSON.stringify({ url, openai: `${url}/v1`, ollama: url })}\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    return 0;
  } finally {
    await gateway.stop();
    await pipeline.close();
  }
}
