// Runs the built CLI (`agent-learning`, dist/cli.js) as an agent outside VS Code would. Shared by both suites;
// in VS Code's extension host process.execPath is Electron, so that suite passes the Node binary to use.

import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const CLI = path.resolve(__dirname, '../../dist/cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  stdin = '',
  options: { node?: string; cli?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.node ?? process.execPath, [options.cli ?? CLI, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(stdin);
  });
}

/** The run id `agent-learning record` printed for its single input line. */
export function recordedId(result: CliResult): string {
  if (result.code !== 0)
    throw new Error(`agent-learning record exited with ${result.code}: ${result.stderr}`);
  const printed = JSON.parse(result.stdout.trim()) as { id?: unknown };
  if (typeof printed.id !== 'string' || printed.id === '') throw new Error(`no run id in ${result.stdout}`);
  return printed.id;
}
