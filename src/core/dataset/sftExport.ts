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

  /** `source`: the store now; a process that does not own the database reloads it (a new Store) when it changes. */
  constructor(
    private readonly source: () => StoreReader,
    private readonly opts: ExportOptions,
  ) {
    this.store = source();
    this.watermarkPk = this.store.maxPk();
    this.candidates = this.store.exportCandidates(opts.role, opts.minReward, opts.tier, this.watermarkPk);
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
      this.candidates = store.exportCandidates(role, minReward, tier, this.watermarkPk, this.last);
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
    const { opts, lines } = this;
    this.last = [run.reward, run.pk];
    if (run.output.trim() === '') return;
    const key = createHash('sha256')
      .update(normalise(run.input))
      .update('\0')
      .update(normalise(run.output))
      .digest('hex');
    if (this.seen.has(key)) {
      this.duplicatesSkipped++;
      return;
    }
    this.seen.add(key);
    const system = opts.systemPrompt(run.promptId, run.role);
    const recorded = recordedChat(run.input, run.output);
    if (recorded === 'aborted') return;
    if (recorded) {
      // A run recorded as a conversation (the gateway's): its own messages, tool calls and tools.
      const scrub = (value: unknown): unknown => {
        if (typeof value === 'string') {
          const r = scrubSecrets(value);
          this.secretsRedacted += Object.values(r.found).reduce((a, b) => a + b, 0);
          return r.text;
        }
        if (Array.isArray(value)) return value.map(scrub);
        if (typeof value === 'object' && value !== null)
          return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v)]));
        return value;
      };
      const messages = [
        ...(system ? [{ role: 'system', content: system }] : []),
        ...recorded.messages,
        recorded.reply,
      ];
      lines.push(JSON.stringify(scrub({ messages, ...(recorded.tools && { tools: recorded.tools }) })));
      return;
    }
    const parts = [system, run.input, run.output].map(scrubSecrets);
    for (const p of parts) this.secretsRedacted += Object.values(p.found).reduce((a, b) => a + b, 0);
    const [systemText, user, assistant] = parts.map((p) => p.text) as [string, string, string];
    const messages = [
      ...(systemText ? [{ role: 'system', content: systemText }] : []),
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ];
    lines.push(JSON.stringify({ messages }));
  }
}

/** Whitespace-only differences do not make a new example. */
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
