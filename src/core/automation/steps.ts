// A step of training or deploying as data: a program and its arguments (never a shell line), run by whichever
// runner the host has: VS Code Tasks in the extension, child processes in the CLI and tests.

import { spawn } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';

export type StepId = 'train' | 'convert' | 'merge' | 'create';

export interface Step {
  id: StepId;
  /** Shown as the task's or log's name, e.g. "Train LoRA adapter (coder)". */
  title: string;
  command: string;
  args: string[];
  cwd: string;
  env?: Record<string, string>;
}

export interface StepOutcome {
  /** undefined when the process could not be started or was cancelled. */
  exitCode: number | undefined;
  /** The last lines the process wrote, when the runner can see them (a terminal task cannot). */
  output?: string;
  /** Why it did not start, when it did not. */
  error?: string;
}

export interface StepRunner {
  run(step: Step, signal?: AbortSignal): Promise<StepOutcome>;
}

/**
 * A line without terminal control sequences: the `ollama` CLI draws its progress with them even into a pipe
 * (`\x1B[?25l\x1B[1Ggathering model components \x1B[K`), which a log or an error message should not show.
 */
// CSI sequences (ESC [ parameters, final byte), then any other ESC pair.
// eslint-disable-next-line no-control-regex -- matching the escape character is the point
const CONTROL_SEQUENCE = /\x1B\[[0-?]*[ -/]*[@-~]|\x1B[@-_]/g;

function plainText(line: string): string {
  return line.replace(CONTROL_SEQUENCE, '').trimEnd();
}

/** Runs steps as child processes, without a shell; output goes to `log` line by line and the tail is kept. */
export class ChildProcessRunner implements StepRunner {
  constructor(private readonly log: (line: string) => void = () => undefined) {}

  run(step: Step, signal?: AbortSignal): Promise<StepOutcome> {
    return new Promise((resolve) => {
      const child = spawn(step.command, step.args, {
        cwd: step.cwd,
        env: { ...process.env, ...step.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        signal,
      });
      const tail: string[] = [];
      const onLine = (raw: string) => {
        const line = plainText(raw);
        if (!line) return;
        this.log(`   ${line}`);
        tail.push(line);
        if (tail.length > 40) tail.shift();
      };
      const streams = [lineReader(onLine), lineReader(onLine)] as const;
      child.stdout.on('data', streams[0].data);
      child.stderr.on('data', streams[1].data);
      let startError: string | undefined;
      child.on('error', (err) => {
        startError = err.name === 'AbortError' ? 'cancelled' : err.message;
      });
      child.on('close', (code) => {
        for (const stream of streams) stream.end();
        resolve({
          exitCode: startError ? undefined : (code ?? undefined),
          output: tail.join('\n'),
          ...(startError !== undefined && { error: startError }),
        });
      });
    });
  }
}

/**
 * Whole lines from a stream's chunks: a pipe delivers chunks wherever the writer's writes fell, so a line (or a
 * UTF-8 character) can span two; the rest waits for the next chunk, and `end` gives what is left.
 */
function lineReader(onLine: (line: string) => void): { data: (chunk: Buffer) => void; end: () => void } {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  return {
    data: (chunk) => {
      // A lone \r redraws the line (progress bars): each state is a line of its own.
      const lines = (rest + decoder.write(chunk)).split(/\r\n|\n|\r(?!$)/);
      rest = lines.pop()!;
      for (const line of lines) onLine(line);
    },
    end: () => {
      const last = rest + decoder.end();
      rest = '';
      if (last) onLine(last);
    },
  };
}
