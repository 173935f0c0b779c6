// "Check Setup": what training and deploying need, each checked on this machine and reported with a fix. The
// checks run real programs (the Python interpreter, Ollama's HTTP API) and read the disk; nothing is installed.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as z from 'zod';
import type { LearningConfig } from '../workspace/config';
import { compareVersions, deployMethodFor, OllamaClient } from './ollama';

export type CheckStatus = 'ok' | 'warning' | 'problem';

/** What one click does about a line; the host carries it out (a terminal task, a picker, a setting). */
export type SetupFix =
  | { kind: 'install'; command: string; args: string[] }
  | { kind: 'pickInterpreter' }
  | { kind: 'openSetting'; key: string }
  | { kind: 'openConfig'; key: string }
  | { kind: 'startOllama'; command: string; args: string[] }
  | { kind: 'exportDataset'; role: string };

export interface SetupCheckLine {
  id: string;
  status: CheckStatus;
  /** One line: what was found. */
  label: string;
  /** What it means and what the fix does. */
  detail: string;
  fix?: SetupFix;
  fixLabel?: string;
}

export interface Requirement {
  name: string;
  /** `[['>=', '2.6'], ['<', '3']]` */
  specifiers: [string, string][];
}

/** The requirement lines of python/requirements.txt (`name>=a,<b`); comments, options and blank lines skipped. */
export function parseRequirements(text: string): Requirement[] {
  return text.split('\n').flatMap((raw) => {
    const line = raw.replace(/#.*/, '').trim();
    const m = /^([A-Za-z0-9_.-]+)\s*(.*)$/.exec(line);
    if (!line || line.startsWith('-') || !m) return [];
    const specifiers = m[2]!
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .flatMap((s): [string, string][] => {
        const sm = /^(>=|<=|==|!=|>|<|~=)\s*(\S+)$/.exec(s);
        return sm ? [[sm[1]!, sm[2]!]] : [];
      });
    return [{ name: m[1]!, specifiers }];
  });
}

/** Whether `version` meets every specifier (numeric comparison; a local part like `+cu124` is ignored). */
export function satisfies(version: string, specifiers: [string, string][]): boolean {
  return specifiers.every(([op, want]) => {
    const c = compareVersions(version, want);
    switch (op) {
      case '>=':
      case '~=':
        return c >= 0;
      case '<=':
        return c <= 0;
      case '>':
        return c > 0;
      case '<':
        return c < 0;
      case '==':
        return c === 0;
      default:
        return c !== 0;
    }
  });
}

/** The interpreter's report: its version, each package's installed version (null: missing), torch's devices. */
const probeSchema = z.object({
  python: z.string(),
  executable: z.string(),
  packages: z.record(z.string(), z.string().nullable()),
  cuda: z.object({ available: z.boolean(), device: z.string().nullable() }).nullable(),
  mps: z.boolean(),
});
type Probe = z.infer<typeof probeSchema>;

/** Prints probeSchema as JSON; the package names come in as argv, never as code. */
const PROBE_SCRIPT = `
import json, sys
from importlib import metadata
out = {"python": sys.version.split()[0], "executable": sys.executable, "packages": {}, "cuda": None, "mps": False}
for name in sys.argv[1:]:
    try:
        out["packages"][name] = metadata.version(name)
    except Exception:
        out["packages"][name] = None
if out["packages"].get("torch"):
    try:
        import torch
        ok = torch.cuda.is_available()
        out["cuda"] = {"available": ok, "device": torch.cuda.get_device_name(0) if ok else None}
        out["mps"] = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    except Exception:
        pass
print(json.dumps(out))
`;

export interface SetupCheckInput {
  python: string;
  /** python/requirements.txt of the extension. */
  requirementsFile: string;
  /** `agentLearning.ollamaHost`. */
  ollamaHost: string;
  /** `agentLearning.ollamaPath`. */
  ollamaPath: string;
  /** Where the base model's weights and the merged model go (the workspace's folder). */
  dataDir: string;
  config: LearningConfig;
  /** Examples in the latest export of each role (LearningStats.roles). */
  roles: { role: string; exportedExamples: number }[];
  /** For tests: how long the interpreter may take (importing torch can take seconds). */
  pythonTimeoutMs?: number;
  fetchFn?: (url: string, init?: RequestInit) => Promise<Response>;
}

export async function checkSetup(input: SetupCheckInput): Promise<SetupCheckLine[]> {
  const [python, ollama] = await Promise.all([checkPython(input), checkOllama(input)]);
  return [...python, ...ollama, checkDisk(input), ...checkDataset(input)];
}

export async function checkPython(input: SetupCheckInput): Promise<SetupCheckLine[]> {
  const requirements = parseRequirements(fs.readFileSync(input.requirementsFile, 'utf8'));
  let probe: Probe;
  try {
    const stdout = await run(
      input.python,
      ['-c', PROBE_SCRIPT, ...requirements.map((r) => r.name)],
      input.pythonTimeoutMs ?? 60_000,
    );
    probe = probeSchema.parse(JSON.parse(stdout.trim().split('\n').at(-1) ?? ''));
  } catch (err) {
    return [
      {
        id: 'python',
        status: 'problem',
        label: `Python: ${input.python} does not run`,
        detail: `${(err as Error).message.split('\n')[0]}. Pick an interpreter (Python 3.10 or newer) or set agentLearning.pythonPath.`,
        fix: { kind: 'pickInterpreter' },
        fixLabel: 'Pick Interpreter',
      },
    ];
  }
  const lines: SetupCheckLine[] = [
    {
      id: 'python',
      status: compareVersions(probe.python, '3.10') >= 0 ? 'ok' : 'problem',
      label: `Python ${probe.python}`,
      detail: probe.executable,
      fix: { kind: 'pickInterpreter' },
      fixLabel: 'Pick Another Interpreter',
    },
  ];
  const install: SetupFix = {
    kind: 'install',
    command: input.python,
    args: ['-m', 'pip', 'install', '-r', input.requirementsFile],
  };
  for (const r of requirements) {
    const version = probe.packages[r.name] ?? null;
    const wanted = r.specifiers.map(([op, v]) => `${op}${v}`).join(',');
    if (version === null) {
      lines.push({
        id: `package:${r.name}`,
        status: 'problem',
        label: `${r.name} is missing`,
        detail: `Training needs ${r.name}${wanted}. Installs python/requirements.txt with this interpreter's pip.`,
        fix: install,
        fixLabel: 'Install Packages',
      });
    } else if (!satisfies(version, r.specifiers)) {
      lines.push({
        id: `package:${r.name}`,
        status: 'problem',
        label: `${r.name} ${version} does not match ${wanted}`,
        detail: 'Installs the versions of python/requirements.txt with this interpreter’s pip.',
        fix: install,
        fixLabel: 'Install Packages',
      });
    } else {
      lines.push({ id: `package:${r.name}`, status: 'ok', label: `${r.name} ${version}`, detail: wanted });
    }
  }
  lines.push(gpuLine(probe, input.config));
  return lines;
}

function gpuLine(probe: Probe, config: LearningConfig): SetupCheckLine {
  if (probe.cuda?.available) {
    return {
      id: 'gpu',
      status: 'ok',
      label: `GPU: ${probe.cuda.device ?? 'CUDA'}`,
      detail: 'Training uses it.',
    };
  }
  if (probe.mps) return { id: 'gpu', status: 'ok', label: 'GPU: Apple (MPS)', detail: 'Training uses it.' };
  const why = probe.cuda ? 'torch sees no CUDA GPU' : 'unknown until torch is installed';
  return {
    id: 'gpu',
    status: 'warning',
    label: `No GPU (${why})`,
    detail: config.autoTrain.allowCpu
      ? 'autoTrain.allowCpu is on: training runs on the CPU, slowly.'
      : 'Training refuses to run on the CPU unless autoTrain.allowCpu is set (slow: small models only).',
    fix: { kind: 'openConfig', key: 'autoTrain.allowCpu' },
    fixLabel: 'Open autoTrain.allowCpu',
  };
}

export async function checkOllama(input: SetupCheckInput): Promise<SetupCheckLine[]> {
  const client = new OllamaClient(input.ollamaHost, input.fetchFn, 5_000);
  try {
    const version = await client.version();
    const configured = input.config.autoDeploy.method;
    const method = configured === 'auto' ? deployMethodFor(version) : configured;
    const how =
      method === 'merged'
        ? 'creates a merged model (Ollama 0.34.1 and later take no LoRA ADAPTER)'
        : 'creates the model from the base and an ADAPTER Modelfile';
    return [
      {
        id: 'ollama',
        status: 'ok',
        label: `Ollama ${version} at ${client.baseUrl}`,
        detail: `Deploying ${how}${configured === 'auto' ? '' : ' (autoDeploy.method)'}.`,
      },
    ];
  } catch (err) {
    return [
      {
        id: 'ollama',
        status: 'problem',
        label: `Ollama is not reachable at ${client.baseUrl}`,
        detail: `${(err as Error).message} Starts "${input.ollamaPath} serve" in a terminal.`,
        fix: { kind: 'startOllama', command: input.ollamaPath, args: ['serve'] },
        fixLabel: 'Start Ollama',
      },
      {
        id: 'ollamaHost',
        status: 'warning',
        label: 'Ollama runs elsewhere?',
        detail: 'Set agentLearning.ollamaHost to where it listens.',
        fix: { kind: 'openSetting', key: 'agentLearning.ollamaHost' },
        fixLabel: 'Open Setting',
      },
    ];
  }
}

/** Bytes per parameter in the bf16 weights, times the copies a deploy keeps: the download, the merge, the GGUF. */
const BYTES_PER_PARAMETER = 2 * 3;

export function checkDisk(input: SetupCheckInput): SetupCheckLine {
  const base = input.config.autoTrain.baseModel;
  const size = /(\d+(?:\.\d+)?)b\b/i.exec(base.split(':')[1] ?? '');
  const free = freeBytes(input.dataDir);
  const freeText = free === undefined ? 'unknown' : formatBytes(free);
  if (!size) {
    return {
      id: 'disk',
      status: 'warning',
      label: `Disk: ${freeText} free`,
      detail: `The size of ${base} is not in its tag, so the space it needs is unknown.`,
    };
  }
  const needed = Number(size[1]) * 1e9 * BYTES_PER_PARAMETER;
  const enough = free === undefined || free >= needed;
  return {
    id: 'disk',
    status: enough ? 'ok' : 'problem',
    label: `Disk: ${freeText} free, ${base} needs about ${formatBytes(needed)}`,
    detail: enough
      ? 'Room for the base model’s weights, the merged model and its GGUF.'
      : 'Free some space, or pick a smaller autoTrain.baseModel.',
    fix: enough ? undefined : { kind: 'openConfig', key: 'autoTrain.baseModel' },
    fixLabel: enough ? undefined : 'Open autoTrain.baseModel',
  };
}

export function checkDataset(input: SetupCheckInput): SetupCheckLine[] {
  const min = input.config.autoTrain.minExamples;
  if (input.roles.length === 0) {
    return [
      {
        id: 'dataset',
        status: 'warning',
        label: 'Dataset: no runs recorded yet',
        detail: `Training needs ${min} exported examples (autoTrain.minExamples).`,
      },
    ];
  }
  return input.roles.map(({ role, exportedExamples }) => {
    const enough = exportedExamples >= min;
    return {
      id: `dataset:${role}`,
      status: enough ? 'ok' : 'warning',
      label: `Dataset (${role}): ${exportedExamples} ${exportedExamples === 1 ? 'example' : 'examples'}, training needs ${min}`,
      detail: enough
        ? 'Enough to train.'
        : 'Exports the runs with a high reward now; or lower autoTrain.minExamples.',
      fix: enough ? undefined : { kind: 'exportDataset', role },
      fixLabel: enough ? undefined : 'Export Now',
    };
  });
}

function freeBytes(dir: string): number | undefined {
  try {
    const s = fs.statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

function formatBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : `${Math.round(n / 1e6)} MB`;
}

function run(command: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        reject(
          new Error(
            code === 'ENOENT'
              ? `${command} was not found`
              : `${command} failed: ${(stderr || err.message).trim().split('\n').at(-1)}`,
          ),
        );
      } else resolve(stdout);
    });
  });
}

/**
 * What stops training with this interpreter, from `checkPython`'s lines, in a few words for the dashboard's
 * automation table ("torch is missing", "Python does not run"); null when nothing does.
 */
export function trainingBlocker(lines: readonly SetupCheckLine[]): string | null {
  const python = lines.find((l) => l.id === 'python');
  if (python?.status === 'problem')
    return python.label.endsWith('does not run')
      ? 'Python does not run'
      : `${python.label} is older than 3.10`;
  const missing = lines.filter((l) => l.id.startsWith('package:') && l.status === 'problem');
  return missing.length === 0 ? null : missing.map((l) => l.label).join('; ');
}
