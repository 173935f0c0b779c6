// Starts a real Ollama server, built from its Go module by test/ollama/setup.sh, on loopback with a model store and
// home folder of its own, for the tests that deploy to it. See shared/notes/real-peers.md.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const OLLAMA_SETUP = path.resolve(__dirname, '..', 'ollama', 'setup.sh');

/** The versions setup.sh builds, read from the script so that they have one home. */
export const REAL_OLLAMA_VERSIONS = (() => {
  const script = fs.readFileSync(OLLAMA_SETUP, 'utf8');
  const pinned = (name: string) => {
    const m = new RegExp(`^${name}=(\\d+\\.\\d+\\.\\d+)$`, 'm').exec(script);
    if (!m) throw new Error(`${OLLAMA_SETUP} pins no ${name}`);
    return m[1]!;
  };
  return { adapter: pinned('OLLAMA_ADAPTER_VERSION'), newest: pinned('OLLAMA_NEWEST') };
})();

/** Where setup.sh puts a version's binary (outside the work tree, shared by every checkout). */
export function ollamaBinaryPath(version: string): string {
  const cache = process.env.AGENT_LEARNING_CACHE || path.join(os.homedir(), '.cache', 'agent-learning');
  return path.join(cache, 'ollama', version, 'ollama');
}

/** The built binary, or undefined when setup.sh has not built this version (its stamp comes after a whole build). */
export function findOllamaBinary(version: string): string | undefined {
  const binary = ollamaBinaryPath(version);
  return fs.existsSync(binary) && fs.existsSync(path.join(path.dirname(binary), '.built'))
    ? binary
    : undefined;
}

export interface RealOllama {
  version: string;
  binary: string;
  /** `127.0.0.1:PORT`, as OLLAMA_HOST takes it. */
  host: string;
  url: string;
  dir: string;
  /** What an `ollama` CLI process needs to reach this server and keep out of the user's home. */
  env: Record<string, string>;
  /**
   * The real `ollama` CLI behind a two-line script that sets HOME and OLLAMA_MODELS to this server's (`ollama
   * create` makes ~/.ollama/models/blobs), for code that runs `ollama` itself with OLLAMA_HOST of its own.
   */
  command: string;
  /** The same for another version's CLI (a CLI newer than its server). */
  commandWith(binary: string): string;
  /** Everything the server wrote so far (its log goes to stderr). */
  log(): string;
  /** Runs the `ollama` CLI against this server. */
  cli(args: string[], cwd?: string): Promise<{ code: number | null; output: string }>;
  stop(): Promise<void>;
}

const READY_WITHIN_MS = 60_000;
const STOP_WITHIN_MS = 20_000;

/** A GGUF model put in the store as `ollama pull` leaves one (no registry can be reached here). */
export interface PulledModel {
  /** `base:tiny`: in the default registry's library namespace, as a pulled library model is. */
  name: string;
  gguf: string;
  /** GGUF `general.architecture`, which Ollama also keeps in the config blob. */
  arch: string;
}

export interface RealOllamaOptions {
  pulled?: PulledModel[];
}

/**
 * `ollama serve` on 127.0.0.1 with a port the kernel picks (OLLAMA_HOST=127.0.0.1:0; Ollama logs the address it
 * got, so no other process can take the port between choosing and binding it), OLLAMA_MODELS and HOME in a fresh
 * temp folder; ready once GET /api/version answers.
 */
export async function startRealOllama(version: string, options: RealOllamaOptions = {}): Promise<RealOllama> {
  const binary = findOllamaBinary(version);
  if (!binary)
    throw new Error(
      `Ollama ${version} is not built: run "bash test/ollama/setup.sh" (it builds what is missing).`,
    );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `al-real-ollama-${version}-`));
  const home = path.join(dir, 'home');
  const models = path.join(dir, 'models');
  fs.mkdirSync(home);
  fs.mkdirSync(models);
  // Before the server starts: it reads the store into its model list once, at start.
  for (const m of options.pulled ?? []) writePulledModel(models, m);
  // No GPU libraries are looked for, and nothing is loaded beyond what a test asks for.
  const serverEnv = {
    HOME: home,
    OLLAMA_MODELS: models,
    OLLAMA_NUM_PARALLEL: '1',
    OLLAMA_MAX_LOADED_MODELS: '1',
    OLLAMA_KEEP_ALIVE: '0',
    OLLAMA_NOPRUNE: '1',
    // Loopback only: no model recommendations or cloud model lists from ollama.com.
    OLLAMA_NO_CLOUD: '1',
    CUDA_VISIBLE_DEVICES: '',
    HIP_VISIBLE_DEVICES: '',
  };
  const child = spawn(binary, ['serve'], {
    env: { ...process.env, ...serverEnv, OLLAMA_HOST: '127.0.0.1:0' },
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let wake = () => undefined as void;
  const onOutput = (b: Buffer) => {
    log += b.toString('utf8');
    wake();
  };
  child.stdout.on('data', onOutput);
  child.stderr.on('data', onOutput);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      wake();
      resolve();
    }),
  );
  /** Until the server writes something or exits. */
  const output = () => new Promise<void>((resolve) => (wake = resolve));

  const stop = async () => {
    if (exitCode === undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_WITHIN_MS);
      await exited;
      clearTimeout(timer);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  const fail = async (why: string): Promise<never> => {
    const tail = log.trim().split('\n').slice(-30).join('\n');
    await stop();
    throw new Error(`Ollama ${version} (${binary}) ${why}. Its log:\n${tail}`);
  };

  const deadline = Date.now() + READY_WITHIN_MS;
  let host: string | undefined;
  let version_: string | undefined;
  // Each turn waits on the server (its output, or a request's answer), never a fixed time.
  while (!version_) {
    if (exitCode !== undefined) return fail(`exited (${exitCode}) before answering`);
    if (Date.now() > deadline)
      return fail(`did not answer GET /api/version within ${READY_WITHIN_MS / 1000} s`);
    if (!host) {
      const m = /Listening on (127\.0\.0\.1:\d+)/.exec(log);
      if (m) host = m[1];
      else {
        await output();
        continue;
      }
    }
    try {
      const res = await fetch(`http://${host}/api/version`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) version_ = ((await res.json()) as { version?: string }).version ?? '';
      else await res.body?.cancel();
    } catch {
      // not accepting yet: the next turn asks again once the request has failed
      await Promise.race([output(), pause(200)]);
    }
  }
  if (version_ !== version) return fail(`says it is version ${JSON.stringify(version_)}`);

  const env = { OLLAMA_HOST: host!, HOME: home, OLLAMA_MODELS: models };
  const bin = path.join(dir, 'bin');
  fs.mkdirSync(bin);
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const commandWith = (cli: string) => {
    const script = path.join(bin, `ollama-${fs.readdirSync(bin).length}`);
    fs.writeFileSync(script, `#!/bin/sh\nHOME=${q(home)} OLLAMA_MODELS=${q(models)} exec ${q(cli)} "$@"\n`, {
      mode: 0o755,
    });
    return script;
  };
  const command = commandWith(binary);
  return {
    version,
    binary,
    host: host!,
    url: `http://${host}`,
    dir,
    env,
    command,
    commandWith,
    log: () => log,
    cli: (args, cwd = dir) =>
      new Promise((resolve) => {
        const p = spawn(binary, args, {
          cwd,
          env: { ...process.env, ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        p.stdout.on('data', (b: Buffer) => (output += b.toString('utf8')));
        p.stderr.on('data', (b: Buffer) => (output += b.toString('utf8')));
        p.on('close', (code) => resolve({ code, output }));
      }),
    stop,
  };
}

/**
 * Ollama's store as a pull writes it (manifest/paths.go, types/model/config.go): content-addressed blobs and a
 * Docker-style manifest under manifests/registry.ollama.ai/library/<model>/<tag>. Writing it stands in for the pull
 * only: an `ollama create` from a GGUF file cannot stand in, because from 0.34.0 it validates the file with
 * llama.cpp's llama-quantize, which a `go install` build does not have.
 */
function writePulledModel(models: string, m: PulledModel): void {
  const blobs = path.join(models, 'blobs');
  fs.mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer) => {
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    fs.writeFileSync(path.join(blobs, digest.replace(':', '-')), data);
    return { digest, size: data.length };
  };
  const weights = blob(fs.readFileSync(m.gguf));
  const config = blob(
    Buffer.from(
      JSON.stringify({
        model_format: 'gguf',
        model_family: m.arch,
        model_families: [m.arch],
        model_type: '',
        file_type: '',
        architecture: 'amd64',
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [weights.digest] },
      }),
    ),
  );
  const [model, tag = 'latest'] = m.name.split(':');
  const dir = path.join(models, 'manifests', 'registry.ollama.ai', 'library', model!);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, tag),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', ...config },
      layers: [{ mediaType: 'application/vnd.ollama.image.model', ...weights }],
    }),
  );
}

/** Only a bound on one wait for a server that is listening but not yet answering; the answer is what is awaited. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
