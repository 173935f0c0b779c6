// The local gateway: an HTTP server that speaks the OpenAI and Ollama wire protocols, forwards each request to the
// user's Ollama (or an OpenAI-compatible upstream) byte for byte, streams the answer back as it arrives, and records
// every completion as a run. Only the `agent-learning/…` model aliases (and the opt-in prompt variant) change what
// is forwarded.

import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, InvalidInputError, LearningError, NoEligibleModelError } from '../errors';
import { Emitter } from '../events';
import type { Complexity, RunResult } from '../learning/runResult';
import type { SelectedModel, SelectedPrompt } from '../learning/selection';
import type { LearningConfig } from '../workspace/config';
import type { GatewayConfig } from '../workspace/gatewayConfig';
import { normaliseHost, DEFAULT_OLLAMA_HOST } from '../automation/ollama';
import {
  captureFor,
  conversationOf,
  withSystemText,
  type Completion,
  type CompletionKind,
  type Conversation,
} from './capture';
import { HEADERS, routeRequest, type RouteRequest } from './routing';
import { refusalFor } from './security';

/** The prompt id of runs whose system prompt is the agent's own (no prompt variant was added). */
export const CLIENT_PROMPT_ID = 'client';

/** What the gateway needs from a `LearningPipeline`. */
export interface GatewayRecorder {
  recordRun(
    taskSlug: string,
    modelId: string,
    promptId: string,
    result: RunResult,
    role?: string,
    options?: { source?: 'gateway' },
  ): Promise<{ id: string; reward: number; recorded?: boolean }>;
  selectModel(complexity?: Complexity, maxCostPerToken?: number, role?: string): SelectedModel;
  selectPrompt(role?: string): SelectedPrompt;
  getConfig(): { config: LearningConfig };
}

export interface GatewayOptions {
  recorder: GatewayRecorder;
  /** The user's Ollama (`agentLearning.ollamaHost`, OLLAMA_HOST); default http://127.0.0.1:11434. */
  ollamaHost?: string;
  /** The OpenAI-compatible upstream's key (VS Code: SecretStorage). Default: the variable `gateway.apiKeyEnv` in env. */
  apiKey?: () => string | undefined;
  /** Where `apiKeyEnv` is read when there is no `apiKey`. */
  env?: Record<string, string | undefined>;
  /** Overrides `gateway.port` (0: any free port). */
  port?: number;
  log?: (line: string) => void;
  /** Clock in ms, for run durations. */
  now?: () => number;
}

/** A completion that became a run (or would have, with learning disabled). */
export interface GatewayRun {
  id: string;
  recorded: boolean;
  aborted: boolean;
  modelId: string;
  promptId: string;
  role: string;
  taskSlug: string;
  costTokens: number | undefined;
}

/** Request headers the gateway answers itself or that describe the hop, not the request. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'origin',
  'referer',
  'accept-encoding',
  ...Object.values(HEADERS),
]);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'trailer', 'upgrade']);

const COMPLETIONS: Record<string, CompletionKind> = {
  '/v1/chat/completions': 'openai-chat',
  '/api/chat': 'ollama-chat',
  '/api/generate': 'ollama-generate',
};

type Json = Record<string, unknown>;

/** The body was larger than `gateway.maxBodyBytes`. */
class BodyTooLarge extends Error {}

interface Exchange {
  kind: CompletionKind;
  route: RouteRequest;
  modelId: string;
  promptId: string;
  conversation: Conversation;
  started: number;
}

export class Gateway {
  private server: http.Server | undefined;
  private address: AddressInfo | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly ollamaBase: string;
  private readonly agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly didCapture = new Emitter<GatewayRun>();

  /** Fired once per completion, when it has been recorded (streamed: when the stream ended or the client left). */
  readonly onDidCapture = this.didCapture.event;

  constructor(private readonly options: GatewayOptions) {
    this.ollamaBase = normaliseHost(options.ollamaHost || DEFAULT_OLLAMA_HOST);
    this.log = options.log ?? ((line) => console.log(line));
    this.now = options.now ?? Date.now;
  }

  /** `http://127.0.0.1:PORT` while listening. */
  get url(): string | undefined {
    if (!this.address) return undefined;
    const host = this.address.family === 'IPv6' ? `[${this.address.address}]` : this.address.address;
    return `http://${host}:${this.address.port}`;
  }

  get port(): number | undefined {
    return this.address?.port;
  }

  /** Listens on `gateway.bindAddress` and `gateway.port`; rejects with a LearningError when it cannot. */
  async start(): Promise<string> {
    if (this.server) return this.url!;
    const config = this.config();
    const port = this.options.port ?? config.port;
    const server = http.createServer({ noDelay: true }, (req, res) => this.track(this.handle(req, res)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          new LearningError(
            err.code === 'EADDRINUSE'
              ? `The gateway cannot listen on ${config.bindAddress}:${port}: the port is in use. Set "gateway.port" ` +
                  'in .agent/learning-config.json to a free port (0: any free port).'
              : `The gateway cannot listen on ${config.bindAddress}:${port}: ${err.message}`,
          ),
        );
      });
      server.listen(port, config.bindAddress, () => resolve());
    });
    this.server = server;
    this.address = server.address() as AddressInfo;
    const openai = config.openaiBaseUrl ?? `${this.ollamaBase}/v1`;
    this.log(
      `🔀 Gateway listening on ${this.url} (Ollama: ${this.ollamaBase}; OpenAI-compatible: ${openai})`,
    );
    return this.url!;
  }

  /** Resolves once every request in flight has been answered and its run recorded. */
  async whenIdle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** Stops listening, cuts open streams (recorded as aborted) and waits for their runs. Safe to call twice. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.address = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    await this.whenIdle();
    this.agents.http.destroy();
    this.agents.https.destroy();
    this.log('🔀 Gateway stopped.');
  }

  dispose(): void {
    void this.stop();
    this.didCapture.dispose();
  }

  private config(): GatewayConfig {
    return this.options.recorder.getConfig().config.gateway;
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.log(`❌ Gateway: ${describe(err)}`));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = this.now();
    const config = this.config();
    const pathname = (req.url ?? '/').split('?')[0]!;
    const refusal = refusalFor(req.headers, config);
    if (refusal) {
      req.resume();
      return this.fail(res, pathname, refusal.status, refusal.message);
    }
    let body: Buffer;
    try {
      body = await readBody(req, config.maxBodyBytes);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      res.setHeader('connection', 'close');
      return this.fail(
        res,
        pathname,
        413,
        `Agent Learning gateway: the request body is larger than ${config.maxBodyBytes} bytes. Send less, or raise ` +
          '"gateway.maxBodyBytes" in .agent/learning-config.json.',
      );
    }
    const kind = req.method === 'POST' ? COMPLETIONS[pathname] : undefined;
    let exchange: Exchange | undefined;
    if (kind) {
      const request = parseObject(body);
      // Not JSON: forwarded as it came, so the client gets the upstream's own error.
      if (request) {
        try {
          const prepared = this.prepare(kind, request, req.headers, config, started);
          exchange = prepared.exchange;
          if (prepared.body !== request) body = Buffer.from(JSON.stringify(prepared.body));
        } catch (err) {
          if (err instanceof InvalidInputError || err instanceof NoEligibleModelError)
            return this.fail(res, pathname, 400, `Agent Learning gateway: ${err.message}`);
          throw err;
        }
      }
    }
    await this.forward(req, res, pathname, body, config, exchange);
  }

  /** Routes the aliases and adds the prompt variant; the body to forward is `request` itself when nothing changed. */
  private prepare(
    kind: CompletionKind,
    request: Json,
    headers: http.IncomingHttpHeaders,
    config: GatewayConfig,
    started: number,
  ): { body: Json; exchange: Exchange } {
    const route = routeRequest(request.model, headers, config);
    let body = request;
    let modelId = typeof request.model === 'string' && request.model !== '' ? request.model : 'unknown';
    if (route.route) {
      const picked = this.options.recorder.selectModel(
        route.route.tier,
        route.route.maxCostPerToken,
        route.role,
      );
      modelId = picked.id;
      body = { ...body, model: picked.id };
    }
    let promptId = CLIENT_PROMPT_ID;
    if (config.promptVariants) {
      const prompt = this.options.recorder.selectPrompt(route.role);
      promptId = prompt.id;
      body = withSystemText(kind, body, prompt.text);
    }
    // The conversation as the agent wrote it: the variant's text is known by its id, as for every other run.
    const conversation = conversationOf(kind, request);
    return {
      body,
      exchange: { kind, route, modelId: modelId.slice(0, 200), promptId, conversation, started },
    };
  }

  private upstreamUrl(pathname: string, search: string, config: GatewayConfig): URL {
    if (config.openaiBaseUrl && (pathname === '/v1' || pathname.startsWith('/v1/'))) {
      return new URL(config.openaiBaseUrl.replace(/\/+$/, '') + pathname.slice(3) + search);
    }
    return new URL(this.ollamaBase + pathname + search);
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    pathname: string,
    body: Buffer,
    config: GatewayConfig,
    exchange: Exchange | undefined,
  ): Promise<void> {
    const search = (req.url ?? '').slice(pathname.length);
    const target = this.upstreamUrl(pathname, search, config);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!NOT_FORWARDED.has(name) && value !== undefined) headers[name] = value;
    }
    // The capture reads the bytes it forwards: a compressed answer could not be recorded.
    headers['accept-encoding'] = 'identity';
    if (body.length > 0 || req.method === 'POST' || req.method === 'PUT')
      headers['content-length'] = body.length;
    if (config.openaiBaseUrl && target.href.startsWith(config.openaiBaseUrl.replace(/\/+$/, ''))) {
      const key = this.options.apiKey?.() ?? this.options.env?.[config.apiKeyEnv];
      if (key) headers.authorization = `Bearer ${key}`;
    }
    const secure = target.protocol === 'https:';
    return new Promise<void>((resolve) => {
      let settled = false;
      let capture: ReturnType<typeof captureFor> | undefined;
      const done = (aborted: boolean) => {
        if (settled) return;
        settled = true;
        if (exchange && capture) this.track(this.record(exchange, capture.finish(), aborted));
        resolve();
      };
      const upstream = (secure ? https : http).request(
        target,
        { method: req.method, headers, agent: secure ? this.agents.https : this.agents.http },
        (upRes) => {
          const status = upRes.statusCode ?? 502;
          const out: http.OutgoingHttpHeaders = {};
          for (const [name, value] of Object.entries(upRes.headers)) {
            if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
          }
          res.writeHead(status, out);
          // Headers now, not with the first token: streaming clients wait on them.
          res.flushHeaders();
          if (exchange && status >= 200 && status < 300)
            capture = captureFor(exchange.kind, upRes.headers['content-type']);
          else if (exchange)
            this.log(`⚠️ Gateway: the upstream answered ${status} to ${pathname}; no run recorded.`);
          upRes.on('data', (chunk: Buffer) => {
            // To the client first: the copy is parsed after the bytes are on their way.
            if (!res.write(chunk)) {
              upRes.pause();
              res.once('drain', () => upRes.resume());
            }
            capture?.push(chunk);
          });
          upRes.on('end', () => {
            res.end();
            done(false);
          });
          upRes.on('error', () => {
            res.destroy();
            done(true);
          });
        },
      );
      upstream.on('socket', (socket) => socket.setNoDelay(true));
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (!res.headersSent) {
          const where = `${target.protocol}//${target.host}`;
          this.fail(
            res,
            pathname,
            502,
            `Agent Learning gateway: cannot reach the upstream at ${where} (${err.code ?? err.message}). Start ` +
              'Ollama, or set "agentLearning.ollamaHost" / OLLAMA_HOST (or "gateway.openaiBaseUrl") to where it runs.',
          );
          settled = true;
          resolve();
        } else {
          res.destroy();
          done(true);
        }
      });
      // The client left before the answer ended: stop the upstream's work and keep what arrived, as aborted.
      res.on('close', () => {
        if (res.writableFinished) return;
        upstream.destroy();
        done(true);
      });
      upstream.end(body);
    });
  }

  private async record(exchange: Exchange, completion: Completion, aborted: boolean): Promise<void> {
    const { route, conversation } = exchange;
    // An aborted run is kept with what arrived and marked in its output; with no quality signal its reward is 0,
    // below every export threshold, and the SFT export skips it even if feedback raises it later.
    const output = aborted ? { ...completion.message, aborted: true } : completion.message;
    const result: RunResult = {
      input: JSON.stringify(conversation),
      output: JSON.stringify(output),
      durationMs: Math.max(0, this.now() - exchange.started),
      ...(completion.tokens !== undefined && { costTokens: completion.tokens }),
      ...(route.route && { complexity: route.route.tier }),
    };
    try {
      const run = await this.options.recorder.recordRun(
        route.taskSlug,
        exchange.modelId,
        exchange.promptId,
        result,
        route.role,
        { source: 'gateway' },
      );
      this.didCapture.fire({
        id: run.id,
        recorded: run.recorded !== false,
        aborted,
        modelId: exchange.modelId,
        promptId: exchange.promptId,
        role: route.role,
        taskSlug: route.taskSlug,
        costTokens: completion.tokens,
      });
    } catch (err) {
      this.log(`❌ Gateway: could not record the run of ${exchange.modelId}: ${describe(err)}`);
    }
  }

  /** An error in the dialect the path speaks: Ollama's `{error}` or OpenAI's `{error: {message, type}}`. */
  private fail(res: http.ServerResponse, pathname: string, status: number, message: string): void {
    const ollama = !pathname.startsWith('/v1');
    const type =
      status === 403
        ? 'forbidden'
        : status === 413
          ? 'request_too_large'
          : status === 400
            ? 'invalid_request_error'
            : 'upstream_error';
    const body = JSON.stringify(ollama ? { error: message } : { error: { message, type, code: status } });
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  }
}

function parseObject(body: Buffer): Json | undefined {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** The whole request body, or BodyTooLarge as soon as it passes `limit` (the declared length is checked first). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      return reject(new BodyTooLarge());
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
