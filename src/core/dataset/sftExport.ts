// SFT export: a role's high-reward runs as chat `messages` JSONL (TRL, Unsloth, OpenAI fine-tuning), best first,
// deduplicated, secrets scrubbed, written atomically.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../workspace/atomicFile';
import { scrubSecrets } from './secrets';
import type { StoreReader } from '../store/store';

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
  const seen = new Set<string>();
  const lines: string[] = [];
  let duplicatesSkipped = 0;
  let secretsRedacted = 0;
  const watermarkPk = store.maxPk();
  for (const run of store.exportCandidates(opts.role, opts.minReward, opts.tier)) {
    if (lines.length >= opts.maxExamples) break;
    if (run.output.trim() === '') continue;
    const key = createHash('sha256')
      .update(normalise(run.input))
      .update('\0')
      .update(normalise(run.output))
      .digest('hex');
    if (seen.has(key)) {
      duplicatesSkipped++;
      continue;
    }
    seen.add(key);
    const parts = [opts.systemPrompt(run.promptId, run.role), run.input, run.output].map(scrubSecrets);
    for (const p of parts) secretsRedacted += Object.values(p.found).reduce((a, b) => a + b, 0);
    const [system, user, assistant] = parts.map((p) => p.text) as [string, string, string];
    const messages = [
      ...(system ? [{ role: 'system', content: system }] : []),
      { role: 'user', content: user },
      { role: 'assistant', content: assistant },
    ];
    lines.push(JSON.stringify({ messages }));
  }
  fs.mkdirSync(path.dirname(opts.file), { recursive: true });
  writeFileAtomicSync(opts.file, lines.length ? lines.join('\n') + '\n' : '');
  return {
    role: opts.role,
    file: opts.file,
    count: lines.length,
    duplicatesSkipped,
    secretsRedacted,
    watermarkPk,
    minReward: opts.minReward,
  };
}

/** Whitespace-only differences do not make a new example. */
function normalise(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
