// The layout of `<workspace>/.agent/` (README, "Files"), the one place that knows its names: path strings, no I/O.

import * as path from 'node:path';
import { InvalidInputError } from '../errors';
import { checkRole } from './names';

/** The folder's name under the workspace root. */
export const AGENT_DIR = '.agent';
const CONFIG = 'learning-config.json';
const PROMPT_VARIANTS = 'prompt_variants.json';
const MODEL_VARIANTS = 'model_variants.json';
const DATABASE = 'experience.db';

/** `.agent/`'s parts that grow large or hold run data, as `.gitignore` patterns relative to the workspace root. */
export const LARGE_AGENT_PATHS = [DATABASE + '*', 'inbox/', 'texts/', 'sft/', 'lora/', 'knowledge/'].map(
  (p) => `/${AGENT_DIR}/${p}`,
);

/** All of `.agent/`, as a `.gitignore` pattern relative to the workspace root. */
export const AGENT_DIR_PATTERN = `/${AGENT_DIR}/`;

/** `<workspaceRoot>/.agent`, absolute. */
export function agentDirOf(workspaceRoot: string): string {
  return path.join(path.resolve(workspaceRoot), AGENT_DIR);
}

export function configFile(agentDir: string): string {
  return path.join(agentDir, CONFIG);
}

export function promptVariantsFile(agentDir: string): string {
  return path.join(agentDir, PROMPT_VARIANTS);
}

export function modelVariantsFile(agentDir: string): string {
  return path.join(agentDir, MODEL_VARIANTS);
}

/** The files users edit (the config and the variants lists), which the pipeline rereads when they change. */
export function configFiles(agentDir: string): string[] {
  return [configFile(agentDir), promptVariantsFile(agentDir), modelVariantsFile(agentDir)];
}

/** The same files as a glob relative to the workspace root, for file watchers. */
export const CONFIG_FILES_GLOB = `${AGENT_DIR}/{${[CONFIG, PROMPT_VARIANTS, MODEL_VARIANTS].join(',')}}`;

export function databaseFile(agentDir: string): string {
  return path.join(agentDir, DATABASE);
}

/**
 * The size and CRC-32 of the image the owner last saved: a file that still matches them is the image SQLite wrote,
 * so opening it skips the integrity check (hundreds of ms at 100k runs). Anything else is checked as before.
 */
export function databaseChecksumFile(agentDir: string): string {
  return `${databaseFile(agentDir)}.sum`;
}

/** Present while a process owns the database. */
export function lockFile(agentDir: string): string {
  return `${databaseFile(agentDir)}.lock`;
}

/** Where an unreadable database is moved aside, never overwritten (`:` and `.` are not safe in every file name). */
export function corruptDatabaseFile(agentDir: string, at: number): string {
  return `${databaseFile(agentDir)}.corrupt-${new Date(at).toISOString().replace(/[:.]/g, '-')}`;
}

/** Journals of runs and verdicts not yet saved into the database. */
export function inboxDir(agentDir: string): string {
  return path.join(agentDir, 'inbox');
}

/** Runs' input and output texts, in append-only segments the database points into (store/textSegments.ts). */
export function textsDir(agentDir: string): string {
  return path.join(agentDir, 'texts');
}

/** The web knowledge cache. */
export function knowledgeDir(agentDir: string): string {
  return path.join(agentDir, 'knowledge');
}

/**
 * `coder`, or `coder-large` for one complexity tier: names a dataset, an adapter's folder and files, and the Ollama
 * model. Both parts are checked here too, so no key can name a path outside `.agent/` (callers check tiers against
 * the complexities first; this only refuses what could escape).
 */
export function adapterKey(role: string, tier?: string): string {
  checkRole(role);
  if (!tier) return role;
  if (!/^[a-z]+$/.test(tier))
    throw new InvalidInputError('tier', `${JSON.stringify(tier)} is not a tier name`);
  return `${role}-${tier}`;
}

/** The exported SFT datasets. */
export function sftDir(agentDir: string): string {
  return path.join(agentDir, 'sft');
}

/** The exported SFT dataset of a role, or of one of its tiers. */
export function sftFile(agentDir: string, role: string, tier?: string): string {
  return path.join(sftDir(agentDir), `${adapterKey(role, tier)}_sft.jsonl`);
}

/** What the last export of that dataset read of its runs (a cache: see ExportMemo), beside the dataset. */
export function exportMemoFile(agentDir: string, role: string, tier?: string): string {
  return path.join(sftDir(agentDir), `${adapterKey(role, tier)}_sft.memo`);
}

/** When the last export of that dataset ran, how many examples, and where. */
export function lastExportFile(agentDir: string, role: string, tier?: string): string {
  return path.join(agentDir, `last-export-${adapterKey(role, tier)}.txt`);
}

/** The files of one adapter: a role's, or a role's for one complexity tier (curriculum). */
export interface AdapterPaths {
  /** `coder` or `coder-large`: names files, folders, the Modelfile and the Ollama model. */
  key: string;
  role: string;
  tier: string | undefined;
  dataset: string;
  dir: string;
  /** Where a training writes; becomes `trained` only when it succeeds, so a failure loses nothing. */
  training: string;
  trained: string;
  progress: string;
  gguf: string;
  ggufBackup: string;
  /** The merged Hugging Face model, kept only while it is converted. */
  mergedHf: string;
  merged: string;
  mergedBackup: string;
  launcher: string;
  lastTrain: string;
  modelfile: string;
}

export function adapterPaths(agentDir: string, role: string, tier?: string): AdapterPaths {
  const key = adapterKey(role, tier);
  const dir = path.join(agentDir, 'lora', key);
  return {
    key,
    role,
    tier,
    dataset: sftFile(agentDir, role, tier),
    dir,
    training: path.join(dir, 'training'),
    trained: path.join(dir, 'trained'),
    progress: path.join(dir, 'training', 'progress.jsonl'),
    gguf: path.join(dir, 'adapter.gguf'),
    ggufBackup: path.join(dir, 'adapter.backup.gguf'),
    mergedHf: path.join(dir, 'merged-hf'),
    merged: path.join(dir, 'merged.gguf'),
    mergedBackup: path.join(dir, 'merged.backup.gguf'),
    launcher: path.join(agentDir, `train_${key}.py`),
    lastTrain: path.join(agentDir, `last-train-${key}.txt`),
    modelfile: path.join(agentDir, `Modelfile.${key}`),
  };
}
