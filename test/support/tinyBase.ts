// The tiny random Qwen2 of python/tests/tiny_models.py as the base model of a deploy test: put in a Hugging Face
// cache folder under a tag's repository id, as a download leaves it (so training and merging load it offline), and
// converted to a GGUF for a real Ollama to hold as the pulled base.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const CLI = path.join(ROOT, 'src', 'cli', 'main.ts');

/** The tests' environment (test/python/setup.sh links it); absent on a machine that has not made it. */
export const VENV_PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
/** An Ollama tag the base table maps to a repository, and that repository. */
export const TINY_BASE_TAG = 'qwen2.5-coder:0.5b';
export const TINY_BASE_REPO = 'Qwen/Qwen2.5-Coder-0.5B-Instruct';

export interface TinyBase {
  /** For HF_HUB_CACHE: the folder that holds the base as `models--Qwen--…/snapshots/…`. */
  hubCache: string;
  snapshot: string;
  /** The base converted by our convert-model (f16), for Ollama's store. */
  gguf: string;
}

/** Builds the tiny base into `dir` (a fresh folder of the caller's). */
export function makeTinyBase(dir: string): TinyBase {
  const hubCache = path.join(dir, 'hub');
  const repoDir = path.join(hubCache, `models--${TINY_BASE_REPO.replace('/', '--')}`);
  const snapshot = path.join(repoDir, 'snapshots', '0123abcd');
  execFileSync(VENV_PYTHON, ['-m', 'tests.tiny_models', path.join(dir, 'tiny')], {
    cwd: path.join(ROOT, 'python'),
    stdio: 'ignore',
  });
  fs.mkdirSync(path.dirname(snapshot), { recursive: true });
  fs.renameSync(path.join(dir, 'tiny', 'qwen2'), snapshot);
  fs.mkdirSync(path.join(repoDir, 'refs'));
  fs.writeFileSync(path.join(repoDir, 'refs', 'main'), '0123abcd');
  const gguf = path.join(dir, 'base.gguf');
  execFileSync(TSX, [CLI, 'convert-model', snapshot, '--out', gguf, '--outtype', 'f16']);
  return { hubCache, snapshot, gguf };
}
