// The Ollama HTTP API, as far as deploying needs it: the server's version, whether a model exists, its digest and
// architecture. Creating models goes through the `ollama` CLI (see deploy.ts), which users can rerun by hand.

import { LearningError } from '../errors';

export const DEFAULT_OLLAMA_HOST = 'http://127.0.0.1:11434';

/**
 * `ollama create` rejects Modelfiles with `ADAPTER` from this version on (ollama/ollama#14969); models built that
 * way still serve. From here on an adapter is merged into the base and imported as safetensors instead.
 */
export const ADAPTER_REMOVED_IN = '0.34.1';

export type DeployMethod = 'adapter' | 'merged';

export interface OllamaModelInfo {
  name: string;
  digest: string;
  /** GGUF `general.architecture` (`qwen2`, `llama`, …), from /api/show. */
  arch: string | undefined;
  template: string | undefined;
  quantization: string | undefined;
}

export class OllamaError extends LearningError {}

/** What an unstamped build says: `go install github.com/ollama/ollama@…` without Ollama's release -ldflags. */
export const UNSTAMPED_VERSION = '0.0.0';

/** The server answered, but not as Ollama does: `answer` says how (status and the start of the body). */
class OllamaAnswerError extends OllamaError {
  constructor(
    message: string,
    readonly answer: string,
  ) {
    super(message);
  }
}

type Fetch = (url: string, init?: RequestInit) => Promise<Response>;

export class OllamaClient {
  readonly baseUrl: string;

  constructor(
    host: string = DEFAULT_OLLAMA_HOST,
    private readonly fetchFn: Fetch = fetch,
    private readonly timeoutMs = 10_000,
  ) {
    this.baseUrl = normaliseHost(host);
  }

  async version(): Promise<string> {
    // The first request of every deploy: whatever answers here decides whether the server is Ollama at all.
    const notOllama = (answer: string) =>
      new OllamaError(
        `Something at ${this.baseUrl} answered GET /api/version with ${answer}, so it is not Ollama: is another ` +
          'program using that port? Start Ollama ("ollama serve") on a free port and set "agentLearning.ollamaHost" ' +
          '(OLLAMA_HOST for the CLI) to it.',
      );
    let body: { version?: unknown } | undefined;
    try {
      body = (await this.request('GET', '/api/version')) as { version?: unknown };
    } catch (err) {
      if (err instanceof OllamaAnswerError) throw notOllama(err.answer);
      throw err;
    }
    if (typeof body?.version !== 'string') throw notOllama('JSON without a version');
    return body.version;
  }

  /** The model, or undefined when Ollama does not have it. */
  async show(name: string): Promise<OllamaModelInfo | undefined> {
    const shown = (await this.request('POST', '/api/show', { model: name }, true)) as
      | {
          template?: string;
          details?: { quantization_level?: string };
          model_info?: Record<string, unknown>;
        }
      | undefined;
    if (!shown) return undefined;
    // /api/show has no digest; /api/tags lists it for every local model.
    const digest = (await this.tags()).find((m) => sameModel(m.name, name))?.digest ?? '';
    const arch = shown.model_info?.['general.architecture'];
    return {
      name,
      digest,
      arch: typeof arch === 'string' ? arch : undefined,
      template: shown.template || undefined,
      quantization: shown.details?.quantization_level,
    };
  }

  async tags(): Promise<{ name: string; digest: string }[]> {
    const body = (await this.request('GET', '/api/tags')) as {
      models?: { name?: string; digest?: string }[];
    };
    return (body.models ?? []).flatMap((m) =>
      typeof m.name === 'string' ? [{ name: m.name, digest: String(m.digest ?? '') }] : [],
    );
  }

  private async request(method: string, route: string, body?: unknown, notFoundIsUndefined = false) {
    let res: Response;
    try {
      res = await this.fetchFn(this.baseUrl + route, {
        method,
        headers: body === undefined ? undefined : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new OllamaError(
        `Ollama is not reachable at ${this.baseUrl} (${(err as Error).message}). Start it with "ollama serve" ` +
          '(or the Ollama app), or set "agentLearning.ollamaHost" to where it runs.',
      );
    }
    if (res.status === 404 && notFoundIsUndefined) return undefined;
    const text = await res.text();
    if (!res.ok) {
      let reason = text;
      try {
        reason = String((JSON.parse(text) as { error?: unknown }).error ?? text);
      } catch {
        // not JSON: the text itself is the best reason we have
      }
      throw new OllamaAnswerError(
        `Ollama ${method} ${route} failed (${res.status}): ${reason.slice(0, 500)}`,
        `${res.status} ${reason.slice(0, 100).trim()}`.trim(),
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new OllamaAnswerError(
        `Ollama ${method} ${route} answered something that is not JSON.`,
        `${res.status} and a body that is not JSON`,
      );
    }
  }
}

/** `127.0.0.1:11434`, `0.0.0.0`, `http://host:port/` → a base URL, as the `ollama` CLI reads OLLAMA_HOST. */
export function normaliseHost(host: string): string {
  let h = host.trim().replace(/\/+$/, '');
  // Like Ollama's envconfig.Host: no scheme and no port means 11434; a URL without a port keeps its scheme's.
  const schemeless = !/^https?:\/\//.test(h);
  if (schemeless) h = `http://${h}`;
  const url = new URL(h);
  if (!url.port && schemeless) url.port = '11434';
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  return url.toString().replace(/\/+$/, '');
}

/** The deploy path for an Ollama version: `ADAPTER` Modelfiles up to 0.34.0, a merged model from 0.34.1. */
export function deployMethodFor(version: string): DeployMethod {
  return compareVersions(version, ADAPTER_REMOVED_IN) >= 0 ? 'merged' : 'adapter';
}

/** Numeric comparison of dotted versions (`0.34.1`, `v0.5.12-rc1` → its numbers); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) => (v.match(/\d+(\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/** `qwen2.5-coder:7b` is listed as such; a name without a tag means `:latest`. */
function sameModel(listed: string, asked: string): boolean {
  const full = (n: string) => (n.includes(':') ? n : `${n}:latest`);
  return full(listed) === full(asked);
}
