// Bounded waits on conditions: every wait in the e2e suite has a deadline and says what it waited for when it
// fails. Nothing here sleeps to synchronise; the short interval is how often a condition is looked at.

import * as fs from 'node:fs';
import * as path from 'node:path';

export interface WaitOptions {
  timeoutMs?: number;
  /** How often the condition is evaluated (default 100 ms). */
  intervalMs?: number;
}

export class WaitTimeoutError extends Error {
  override name = 'WaitTimeoutError';
}

/**
 * Resolves with the first value of `probe` that is neither undefined, null nor false. A probe that throws counts
 * as "not yet"; its last error is part of the timeout message, with `detail()` when given (e.g. a log tail).
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitOptions & { detail?: () => string } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 100;
  const started = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== null && value !== false) return value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    const elapsed = Date.now() - started;
    if (elapsed >= timeoutMs) {
      const parts = [`Timed out after ${elapsed} ms waiting for ${what}`];
      if (lastError)
        parts.push(`last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`);
      if (options.detail) parts.push(options.detail());
      throw new WaitTimeoutError(parts.join('\n'));
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, timeoutMs - elapsed)));
  }
}

/**
 * Waits until `file` exists and `parse` accepts its content (default: any content). Writers in this suite
 * rename complete files into place, so a file that exists is whole; `parse` may still throw to mean "not yet".
 */
export async function waitForFile<T = string>(
  file: string,
  options: WaitOptions & { parse?: (text: string) => T | undefined; detail?: () => string } = {},
): Promise<T> {
  const parse = options.parse ?? ((text: string) => text as unknown as T);
  return waitFor(
    `${path.basename(file)} in ${path.dirname(file)}`,
    () => (fs.existsSync(file) ? parse(fs.readFileSync(file, 'utf8')) : undefined),
    options,
  );
}

/** Waits until `file` holds JSON (written atomically by its producer) and returns it parsed. */
export function waitForJson<T>(
  file: string,
  options: WaitOptions & { detail?: () => string } = {},
): Promise<T> {
  return waitForFile<T>(file, { ...options, parse: (text) => JSON.parse(text) as T });
}

/** `promise`, or an error once `ms` have passed without it settling. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
