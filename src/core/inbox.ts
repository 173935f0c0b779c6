// `.agent/inbox/*.jsonl`: the append-only journal every process writes runs and feedback to, fsync'ed per entry,
// and the format an agent may write itself. The process that owns the database ingests these files.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { syncDirectory } from './atomicFile';
import { isProcessAlive } from './lock';

/** One line of an inbox file. `id`/`createdAt`/`at` are filled in by our writers; agents may leave them out. */
export const inboxEntrySchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('run'),
    id: z.string().min(1).max(200).optional(),
    createdAt: z.number().int().nonnegative().optional(),
    taskSlug: z.unknown(),
    modelId: z.unknown(),
    promptId: z.unknown(),
    role: z.unknown().optional(),
    result: z.unknown(),
  }),
  z.object({
    type: z.literal('feedback'),
    runId: z.string().min(1).max(200),
    verdict: z.unknown(),
    at: z.number().int().nonnegative().optional(),
  }),
]);
export type InboxEntry = z.output<typeof inboxEntrySchema>;

export interface InboxLine {
  /** Byte offset of the line's start: with the file name, a stable identity for entries written without an id. */
  offset: number;
  lineNumber: number;
  entry?: InboxEntry;
  error?: string;
}

const HOST = os
  .hostname()
  .replace(/[^A-Za-z0-9.]/g, '_')
  .slice(0, 64);
const NAME_PATTERN = /^\d+-(.*)-(\d+)-[0-9a-f]{8}\.jsonl$/;

/** A new journal file name for this process: sortable by creation time, with host and pid for cleanup. */
export function newInboxFileName(now: number): string {
  return `${String(now).padStart(13, '0')}-${HOST}-${process.pid}-${randomBytes(4).toString('hex')}.jsonl`;
}

/**
 * Whether the process that wrote `name` can still append to it. Files named by our writers carry host and pid;
 * other files (an agent's own) count as finished once untouched for a minute.
 */
export function writerMayAppend(name: string, mtimeMs: number, now: number): boolean {
  const m = NAME_PATTERN.exec(name);
  if (m && m[1] === HOST) return isProcessAlive(Number(m[2]));
  return now - mtimeMs < 60_000;
}

/** Appends entries to one file of the inbox; each append is on disk (fdatasync) before it returns. */
export class InboxWriter {
  private file: string;
  private created = false;

  constructor(
    private readonly dir: string,
    private readonly now: () => number,
  ) {
    this.file = path.join(dir, newInboxFileName(now()));
  }

  get currentFile(): string {
    return this.file;
  }

  /** `midway` runs between the two halves of the line's write (crash tests: a torn append). */
  append(entry: InboxEntry, midway?: () => void): void {
    const line = Buffer.from(JSON.stringify(entry) + '\n');
    // Opened per append: if the owner removed a finished file, the next append recreates it and loses nothing.
    const fd = fs.openSync(this.file, 'a', 0o644);
    try {
      if (midway) {
        const half = line.length >> 1;
        fs.writeSync(fd, line.subarray(0, half));
        midway();
        fs.writeSync(fd, line.subarray(half));
      } else fs.writeSync(fd, line);
      fs.fdatasyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    if (!this.created) {
      syncDirectory(this.dir);
      this.created = true;
    }
  }

  /** Starts a new file; the old one is returned so that it can be removed once its entries are saved. */
  rotate(): string {
    const old = this.file;
    this.file = path.join(this.dir, newInboxFileName(this.now()));
    this.created = false;
    return old;
  }
}

/** Reads the complete lines of `file` from `fromOffset`; a trailing line without newline is left for later. */
export function readInboxFile(
  file: string,
  fromOffset: number,
): { lines: InboxLine[]; endOffset: number; size: number; mtimeMs: number } {
  let buf: Buffer;
  let size: number;
  let mtimeMs: number;
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const st = fs.fstatSync(fd);
      size = st.size;
      mtimeMs = st.mtimeMs;
      if (size <= fromOffset) return { lines: [], endOffset: Math.min(size, fromOffset), size, mtimeMs };
      buf = Buffer.alloc(size - fromOffset);
      fs.readSync(fd, buf, 0, buf.length, fromOffset);
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      return { lines: [], endOffset: fromOffset, size: 0, mtimeMs: 0 };
    throw err;
  }
  const lines: InboxLine[] = [];
  let start = 0;
  let lineNumber = 0;
  for (;;) {
    const nl = buf.indexOf(10, start);
    if (nl < 0) break;
    lineNumber++;
    const text = buf.subarray(start, nl).toString('utf8').trim();
    const offset = fromOffset + start;
    start = nl + 1;
    if (text === '') continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      lines.push({ offset, lineNumber, error: 'not valid JSON' });
      continue;
    }
    const parsed = inboxEntrySchema.safeParse(json);
    if (parsed.success) lines.push({ offset, lineNumber, entry: parsed.data });
    else {
      const issue = parsed.error.issues[0]!;
      lines.push({ offset, lineNumber, error: `${issue.path.join('.') || 'entry'}: ${issue.message}` });
    }
  }
  return { lines, endOffset: fromOffset + start, size, mtimeMs };
}
