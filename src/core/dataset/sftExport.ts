// SFT export: a role's high-reward runs as chat `messages` JSONL (TRL, Unsloth, OpenAI fine-tuning), best first,
// deduplicated, secrets scrubbed, written atomically.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../workspace/atomicFile';
import { scrubSecrets } from './secrets';
import { performance } from 'node:perf_hooks';
import type { ExportCandidate, StoreReader } from '../store/store';

export interface ExportOptions {
  role: string;
  /** Only runs of this complexity tier (curriculum adapters). */
  tier?: string;
  minReward: number;
  maxExamples: number;
  /** The system message for a run, from the prompt variant it used. */
  systemPrompt: (promptId: string, role: string) => string;
  file: string;
  /** What the last export of the same dataset learned of its runs, used and then renewed by this one. */
  memo?: ExportMemo;
}

export interface ExportResult {
  role: string;
  file: string;
  count: number;
  duplicatesSkipped: number;
  secretsRedacted: number;
  /** Highest run pk at export time: runs after it count toward the next export. */
  watermarkPk: number;
  minReward: number;
}

/**
 * What an export learned of each run it read, for the next export of the same dataset: the dedup key and the
 * scrubbed messages. A run's texts never change, so an auto-export, which mostly takes the same best runs as the last
 * one, reads, decompresses, hashes and scrubs only the runs that are new to it. Entries are keyed by pk and id (a
 * database set aside and begun afresh reuses pks); only the last export's runs are kept.
 */
export class ExportMemo {
  private last = new Map<string, MemoEntry>();
  private next = new Map<string, MemoEntry>();
  private nextBytes = 0;

  /** A new export begins: what an unfinished one gathered is dropped. */
  begin(): void {
    this.next = new Map();
    this.nextBytes = 0;
  }

  get(pk: number, id: string): MemoEntry | undefined {
    return this.last.get(`${pk}:${id}`);
  }

  /**
   * Keeps what this export learned of a run for the next one. An example's messages are kept only while it is not a
   * duplicate (another run gives the same example) and the memo is under MAX_MEMO_CHARS; otherwise just its key.
   */
  keep(pk: number, id: string, entry: MemoEntry, duplicate: boolean): void {
    let kept = entry;
    if (entry.kind === 'example') {
      const chars = entry.messages.length + (entry.tools?.length ?? 0);
      if (duplicate || this.nextBytes + chars > MAX_MEMO_CHARS) kept = { kind: 'key', key: entry.key };
      else this.nextBytes += chars;
    }
    this.next.set(`${pk}:${id}`, kept);
  }

  /** The export was written: its runs are what the next one may reuse. */
  finished(): void {
    this.last = this.next;
    this.next = new Map();
    this.nextBytes = 0;
  }
}

/** The most characters of scrubbed messages a memo keeps (about 64 MiB): a dataset of huge runs is read each time. */
const MAX_MEMO_CHARS = 32 * 2 ** 20;

/**
 * A run as an export sees it, its system message aside (that follows the prompt variant's text, which may change).
 * `messages` is the JSON of its messages without the brackets, `tools` the JSON of its tools: a flat string costs
 * far less memory than the objects. `key`: an example whose messages were not kept (see ExportMemo.keep), which an
 * export can use only when it is a duplicate again.
 */
type MemoEntry =
  | { kind: 'empty' } // no output: never an example
  | { kind: 'aborted'; key: string } // a stream the client abandoned: counted for dedup, never an example
  | { kind: 'example'; key: string; messages: string; tools?: string; redacted: number }
  | { kind: 'key'; key: string };

export function exportSft(store: StoreReader, opts: ExportOptions): ExportResult {
  const job = new SftExport(() => store, opts);
  job.step(Infinity);
  return job.finish();
}

/**
 * An export taken a slice at a time (`step`), so that an auto-export never holds the event loop for long: the
 * candidates come best first through the (role, reward, pk) index, so reading stops at the run that completes
 * maxExamples (a role's duplicates cost only the rows read before then, never a pass over its history), and runs
 * recorded after it began are left for the next export (its watermark).
 */
export class SftExport {
  private readonly seen = new Set<string>();
  private readonly lines: string[] = [];
  private duplicatesSkipped = 0;
  private secretsRedacted = 0;
  private readonly watermarkPk: number;
  private store: StoreReader;
  private candidates: Iterator<ExportCandidate>;
  /** The last candidate taken (reward, pk): where reading goes on if the database is reloaded between slices. */
  private last: [number, number] | undefined;
  private exhausted = false;
  /** Runs the memo has: read without their texts. */
  private readonly known: ((pk: number, id: string) => boolean) | undefined;

  /** `source`: the store now; a process that does not own the database reloads it (a new Store) when it changes. */
  constructor(
    private readonly source: () => StoreReader,
    private readonly opts: ExportOptions,
  ) {
    this.store = source();
    this.watermarkPk = this.store.maxPk();
    const memo = opts.memo;
    this.known = memo && ((pk, id) => this.knownNow(memo, pk, id));
    memo?.begin();
    this.candidates = this.store.exportCandidates(
      opts.role,
      opts.minReward,
      opts.tier,
      this.watermarkPk,
      undefined,
      this.known,
    );
    if (opts.maxExamples <= 0) this.exhausted = true;
  }

  /** Whether every example is taken (or there are no more candidates). */
  get done(): boolean {
    return this.exhausted || this.lines.length >= this.opts.maxExamples;
  }

  /** Takes candidates for about `budgetMs` (at least one), or until done. */
  step(budgetMs: number): void {
    if (this.done) return;
    const store = this.source();
    if (store !== this.store) {
      // Reloaded between slices (the old one is closed): the same query on the new one, from where it left off.
      this.store = store;
      const { role, minReward, tier } = this.opts;
      this.candidates = store.exportCandidates(
        role,
        minReward,
        tier,
        this.watermarkPk,
        this.last,
        this.known,
      );
    }
    const until = performance.now() + budgetMs;
    do {
      const next = this.candidates.next();
      if (next.done) {
        this.exhausted = true;
        return;
      }
      this.take(next.value);
    } while (!this.done && performance.now() < until);
  }

  /** Writes the dataset (atomically) with what was taken. */
  finish(): ExportResult {
    const { opts, lines } = this;
    fs.mkdirSync(path.dirname(opts.file), { recursive: true });
    writeFileAtomicSync(opts.file, lines.length ? lines.join('\n') + '\n' : '');
    opts.memo?.finished();
    return {
      role: opts.role,
      file: opts.file,
      count: lines.length,
      duplicatesSkipped: this.duplicatesSkipped,
      secretsRedacted: this.secretsRedacted,
      watermarkPk: this.watermarkPk,
      minReward: opts.minReward,
    };
  }

  private take(run: ExportCandidate): void {
    this.last = [run.reward, run.pk];
    const entry = (run.known && this.opts.memo?.get(run.pk, run.id)) || digest(run);
    const duplicate = entry.kind !== 'empty' && this.seen.has(entry.key);
    this.opts.memo?.keep(run.pk, run.id, entry, duplicate);
    if (entry.kind === 'empty') return;
    if (duplicate) {
      this.duplicatesSkipped++;
      return;
    }
    this.seen.add(entry.key);
    if (entry.kind === 'aborted') return;
    if (entry.kind === 'key')
      throw new Error(`export memo: run ${run.id} was taken as known without its messages`);
    const system = scrubSecrets(this.opts.systemPrompt(run.promptId, run.role));
    this.secretsRedacted += entry.redacted + count(system.found);
    // The same bytes as JSON.stringify({ messages: [system?, ...messages], tools? }).
    const head = system.text ? JSON.stringify({ role: 'system', content: system.text }) + ',' : '';
    const tools = entry.tools === undefined ? '' : `,"tools":${entry.tools}`;
    this.lines.push(`{"messages":[${head}${entry.messages}]${tools}}`);
  }

  /** Whether a run can be taken without its texts: its memo entry, if any, has what this export needs of it. */
  private knownNow(memo: ExportMemo, pk: number, id: string): boolean {
    const entry = memo.get(pk, id);
    return entry !== undefined && (entry.kind !== 'key' || this.seen.has(entry.key));
  }
}

/** What an export takes from a run's texts: its dedup key and its messages, secrets scrubbed (system message aside). */
function digest(run: ExportCandidate): MemoEntry {
  if (run.output.trim() === '') return { kind: 'empty' };
  const key = createHash('sha256')
    .update(normalise(run.input))
    .update('\0')
    .update(normalise(run.output))
    .digest('hex');
  const recorded = recordedChat(run.input, run.output);
  if (recorded === 'aborted') return { kind: 'aborted', key };
  let redacted = 0;
  const scrub = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const r = scrubSecrets(value);
      redacted += count(r.found);
      return r.text;
    }
    if (Array.isArray(value)) return value.map(scrub);
    if (typeof value === 'object' && value !== null)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v)]));
    return value;
  };
  // A run recorded as a conversation (the gateway's): its own messages, tool calls and tools.
  const messages = recorded
    ? scrub([...recorded.messages, recorded.reply])
    : [
        { role: 'user', content: scrub(run.input) },
        { role: 'assistant', content: scrub(run.output) },
      ];
  return {
    kind: 'example',
    key,
    messages: JSON.stringify(messages).slice(1, -1),
    ...(recorded && recorded.tools && { tools: JSON.stringify(scrub(recorded.tools)) }),
    redacted,
  };
}

function count(found: Record<string, number>): number {
  return Object.values(found).reduce((a, b) => a + b, 0);
}

function normalise(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * A run whose input is `{"messages": [...]}` and whose output is the assistant's message (as the gateway records
 * them), or `aborted` for one the client abandoned mid-stream: never a training example. Undefined: plain text.
 */
function recordedChat(
  input: string,
  output: string,
): { messages: unknown[]; tools?: unknown[]; reply: Record<string, unknown> } | 'aborted' | undefined {
  if (!input.startsWith('{"messages":') || !output.startsWith('{')) return undefined;
  try {
    const conversation = JSON.parse(input) as { messages?: unknown; tools?: unknown };
    const reply = JSON.parse(output) as Record<string, unknown>;
    if (!Array.isArray(conversation.messages) || reply.role !== 'assistant') return undefined;
    if (reply.aborted === true) return 'aborted';
    return {
      messages: conversation.messages,
      ...(Array.isArray(conversation.tools) && { tools: conversation.tools }),
      reply,
    };
  } catch {
    return undefined;
  }
}
