// Documentation fetched for the agent's prompt: off by default (it sends the library name out), cached under
// `.agent/knowledge/` with size and age limits, and never throws into the agent.

import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomicSync } from '../workspace/atomicFile';
import { prepareFolder } from '../workspace/links';
import type { LearningConfig } from '../workspace/config';
import { describe } from '../errors';
import { htmlToText } from './htmlText';

export interface WebKnowledge {
  text: string;
  source: string | null;
  fromCache: boolean;
  /** Why the text is empty, when it is. */
  error?: string;
}

interface CacheEntry {
  url: string;
  fetchedAt: number;
  text: string;
}

export class WebKnowledgeFetcher {
  constructor(
    private readonly dir: string,
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    /** Workspace Trust: while false, a cache folder that a link leads out of the workspace is not written. */
    private readonly trusted: () => boolean = () => true,
  ) {}

  async fetch(
    settings: LearningConfig['webKnowledge'],
    query: string,
    library: string,
  ): Promise<WebKnowledge> {
    if (!settings.enabled) {
      return { text: '', source: null, fromCache: false, error: 'webKnowledge.enabled is false' };
    }
    const url = settings.urlTemplate
      .replaceAll('{library}', encodeURIComponent(library))
      .replaceAll('{query}', encodeURIComponent(query));
    const cacheFile = path.join(
      this.dir,
      createHash('sha256').update(url).digest('hex').slice(0, 32) + '.json',
    );
    const cached = this.readCache(cacheFile);
    if (cached && this.now() - cached.fetchedAt < settings.maxAgeHours * 3_600_000) {
      return { text: cached.text, source: url, fromCache: true };
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(settings.timeoutMs), redirect: 'follow' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = truncate(await readText(res, settings), settings.maxBytes);
      this.store(cacheFile, { url, fetchedAt: this.now(), text }, settings.maxCacheBytes);
      return { text, source: url, fromCache: false };
    } catch (err) {
      const reason = `could not fetch ${url}: ${describe(err)}`;
      this.log(`⚠️ Web knowledge: ${reason}`);
      if (cached)
        return { text: cached.text, source: url, fromCache: true, error: `${reason} (stale cache used)` };
      return { text: '', source: url, fromCache: false, error: reason };
    }
  }

  /** Caches a fetched text; a cache that cannot be written costs the next call a fetch, not this call its text. */
  private store(file: string, entry: CacheEntry, maxCacheBytes: number): void {
    try {
      // `.agent/knowledge` → the workspace root.
      prepareFolder(this.dir, path.dirname(path.dirname(this.dir)), this.trusted());
      writeFileAtomicSync(file, JSON.stringify(entry));
      this.prune(maxCacheBytes);
    } catch (err) {
      this.log(`⚠️ Web knowledge: not cached: ${describe(err)}`);
    }
  }

  private readCache(file: string): CacheEntry | undefined {
    try {
      const v = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheEntry;
      return typeof v.text === 'string' && typeof v.fetchedAt === 'number' ? v : undefined;
    } catch {
      return undefined;
    }
  }

  /** Drops the oldest cache files until the folder fits. */
  private prune(maxBytes: number): void {
    const files = fs
      .readdirSync(this.dir)
      .filter((n) => n.endsWith('.json'))
      .map((n) => {
        const st = fs.statSync(path.join(this.dir, n));
        return { file: path.join(this.dir, n), size: st.size, mtime: st.mtimeMs };
      })
      .sort((a, b) => a.mtime - b.mtime);
    let total = files.reduce((t, f) => t + f.size, 0);
    for (const f of files) {
      if (total <= maxBytes) break;
      fs.rmSync(f.file, { force: true });
      total -= f.size;
    }
  }
}

/**
 * The body's text, read as a stream and only as far as it is needed: plain text up to `maxBytes`, HTML until its text
 * reaches `maxBytes`, JSON (whose readme may come last) whole; never past `maxDownloadBytes`, so an endless body
 * costs neither memory nor the whole timeout.
 */
async function readText(res: Response, settings: LearningConfig['webKnowledge']): Promise<string> {
  const contentType = res.headers.get('content-type') ?? '';
  const kind = contentType.includes('json') ? 'json' : contentType.includes('html') ? 'html' : 'text';
  // A few bytes more than maxBytes, so the cut in truncate() falls on a whole character.
  const wanted = settings.maxBytes + 4;
  const chunks: Buffer[] = [];
  let received = 0;
  let nextHtmlCheck = wanted;
  let complete = false;
  const reader = res.body?.getReader();
  if (reader) {
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          complete = true;
          break;
        }
        chunks.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
        received += value.byteLength;
        if (kind === 'text' && received >= wanted) break;
        // Checked at doubling sizes, so the page is extracted a bounded number of times over in all.
        if (kind === 'html' && received >= nextHtmlCheck) {
          if (Buffer.byteLength(htmlToText(Buffer.concat(chunks).toString('utf8'))) >= wanted) break;
          nextHtmlCheck = received * 2;
        }
        if (received >= settings.maxDownloadBytes) break;
      }
    } finally {
      if (!complete) await reader.cancel().catch(() => {});
    }
  }
  const body = Buffer.concat(chunks).toString('utf8');
  if (kind === 'json') {
    if (!complete) {
      throw new Error(
        `the document is larger than webKnowledge.maxDownloadBytes (${settings.maxDownloadBytes} bytes); ` +
          'raise it or point webKnowledge.urlTemplate at a smaller document',
      );
    }
    return readmeOf(body);
  }
  return kind === 'html' ? htmlToText(body) : body;
}

/** A registry JSON document's readme (or its description); the body as is when it has neither. */
function readmeOf(body: string): string {
  try {
    const v = JSON.parse(body) as { readme?: unknown; description?: unknown };
    if (typeof v.readme === 'string' && v.readme) return v.readme;
    if (typeof v.description === 'string') return v.description;
  } catch {
    // fall through to the raw body
  }
  return body;
}

function truncate(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= maxBytes) return text;
  // Cut on a character boundary.
  return buf
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}
