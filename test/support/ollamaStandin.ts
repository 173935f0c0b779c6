// Starts the Ollama stand-in (test/standins/ollama) on a free loopback port, for tests that deploy.

import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';

export const OLLAMA_STANDIN = path.resolve(__dirname, '..', 'standins', 'ollama');
export const PYTHON_STANDIN = path.resolve(__dirname, '..', 'standins', 'python');

export interface OllamaStandin {
  host: string;
  dir: string;
  /** What the `ollama` CLI needs in its environment to reach this server. */
  env: Record<string, string>;
  calls(): { argv?: string[]; modelfile?: string; exitCode?: number; method?: string; path?: string }[];
  stop(): Promise<void>;
}

export async function startOllama(version: string): Promise<OllamaStandin> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-ollama-'));
  const env = { FAKE_OLLAMA_DIR: dir, FAKE_OLLAMA_VERSION: version };
  const child: ChildProcess = spawn(OLLAMA_STANDIN, ['serve'], {
    env: { ...process.env, ...env, OLLAMA_HOST: '127.0.0.1:0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    // Like Ollama, the stand-in logs to stderr; the stream is drained for the server's whole life.
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream }).on('line', (line) => {
        const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(line);
        if (m) resolve(Number(m[1]));
      });
    }
    child.once('exit', (code) => reject(new Error(`the Ollama stand-in exited (${code}) before listening`)));
  });
  const host = `127.0.0.1:${port}`;
  return {
    host,
    dir,
    env: { ...env, OLLAMA_HOST: host },
    calls: () =>
      fs.existsSync(path.join(dir, 'calls.jsonl'))
        ? fs
            .readFileSync(path.join(dir, 'calls.jsonl'), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as ReturnType<OllamaStandin['calls']>[number])
        : [],
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => {
          fs.rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
