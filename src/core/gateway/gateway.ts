// The local gateway: an HTTP server that speaks the OpenAI and Ollama wire protocols, forwards each request to the
// user's Ollama (or an OpenAI-compatible upstream) byte for byte, streams the answer back as it arrives, and records
// every completion as a run. Only the `agent-learning/…` model aliases, the opt-in prompt variant and, for a streamed
// OpenAI request that does not ask for them, the token counts (usage.ts) change what is forwarded.

import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { describe, InvalidInputError, LearningError, NoEligibleModelError } from '../errors';
import { Emitter } from '../events';
import type { Complexity, RunResult } from '../learning/runResult';
import type { RunSource } from '../learning/signals';
import type { SelectedModel, SelectedPrompt } from '../learning/selection';
import type { LearningConfig } from '../workspace/config';
import { DEFAULT_GATEWAY_ACCESS, type GatewayAccess, type GatewayConfig } from '../workspace/gatewayConfig';
import { normaliseHost, DEFAULT_OLLAMA_HOST } from '../automation/ollama';
import { withCutMarker } from '../store/storedText';
import {
  captureFor,
  conversationOf,
  withSystemText,
  type Completion,
  type CompletionCapture,
  type CompletionKind,
  type Conversation,
} from './capture';
import { aliasNames, openAiAlias, withAliases } from './aliases';
import { HEADERS, routeRequest, type RouteRequest } from './routing';
import { RefusalCheck } from './security';
import { UsageChunkFilter, withUsageRequested, withUsageRequestedBytes } from './usage';

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
    options?: { source?: RunSource; groupCommit?: boolean },
  ): Promise<{ id: string; reward: number; recorded?: boolean }>;
  selectModel(complexity?: Complexity, maxCostPerToken?: number, role?: string): SelectedModel;
  selectPrompt(role?: string): SelectedPrompt;
  getConfig(): { config: LearningConfig };
  /** Roles that have runs: listed as `agent-learning/<role>` model aliases beside the built-in ones. */
  roles?(): string[];
}

export interface GatewayOptions {
  recorder: GatewayRecorder;
  /**
   * The user's Ollama (`agentLearning.ollamaHost`, OLLAMA_HOST); default http://127.0.0.1:11434. A function is asked
   * at each request, so that a change of the setting applies to the next one; a value that is not a URL keeps the
   * last good one.
   */
  ollamaHost?: string | (() => string | undefined);
  /**
   * Where `/v1` goes, the address to bind and whom to let in: the user's settings, read at each request (VS Code:
   * user settings; `serve`: flags and environment). Default: loopback only, `/v1` to the Ollama host.
   */
  access?: () => GatewayAccess;
  /**
   * The OpenAI-compatible upstream's key and the origin it was given for (VS Code: SecretStorage; `serve`:
   * AGENT_LEARNING_UPSTREAM_API_KEY). Sent only on `/v1` requests forwarded to exactly that origin.
   */
  apiKey?: () => UpstreamKey | undefined;
  /** Called (once per origin) when a `/v1` request went to another origin than the key's, without the key. */
  onKeyWithheld?: (upstreamOrigin: string, keyOrigin: string) => void;
  /** Overrides `gateway.port` (0: any free port). */
  port?: number;
  log?: (line: string) => void;
  /** Clock in ms, for run durations. */
  now?: () => number;
}

/** An upstream API key and the origin (`https://api.example.com`, as `URL.origin` writes it) it may be sent to. */
export interface UpstreamKey {
  key: string;
  origin: string;
}

/** A completion that became a run (or would have, with learning disabled). */
export interface GatewayRun {
  id: string;
  /** `gateway` for HTTP requests, `chat` for VS Code's chat models (complete()). */
  source: RunSource;
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

/**
 * The errors of a connection the upstream closed: ECONNRESET (a RST, or the close Node reports as "socket hang up",
 * which has this code), EPIPE (the request written to a connection already closed) and ECONNABORTED (the same on
 * Windows). Met on a kept-alive connection before any answer, they are the idle-timeout race of request.reusedSocket
 * in Node's http docs: the request went nowhere, and is asked again on a fresh connection. Not these: a refused
 * connection or a timeout (a fresh connection fares no better), a malformed answer (the upstream did answer).
 */
const CLOSED_CONNECTION = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** A read's bytes are passed on in writes of about this size: a socket's default buffer (highWaterMark). */
const FLUSH_BYTES = 16 * 1024;

/** The model lists the gateway adds its aliases to. */
const LISTINGS: Record<string, 'openai' | 'ollama'> = {
  '/v1/models': 'openai',
  '/api/tags': 'ollama',
};

type Json = Record<string, unknown>;

/** How many upstream URLs the gateway keeps parsed: a client asks for a few paths, over and over. */
const PARSED_URLS = 64;

/** The body was larger than `gateway.maxBodyBytes`. */
class BodyTooLarge extends Error {}

interface Exchange {
  kind: CompletionKind;
  route: RouteRequest;
  modelId: string;
  promptId: string;
  conversation: Conversation;
  started: number;
  /** The gateway asked for the stream's usage (the client did not): its usage chunk is not the client's. */
  usageAsked: boolean;
  /**
   * The request as it was before the gateway asked for usage, for an upstream that refuses `stream_options`: the
   * client's own bytes when nothing else was changed.
   */
  withoutUsage?: Json | Buffer;
  source: RunSource;
}

/**
 * Where the upstream's answer goes: the HTTP client's response, or an in-process caller (complete()). Both get the
 * same forwarding, capture and recording.
 */
interface AnswerSink {
  /** The upstream answered: its status and headers, hop-by-hop ones left out. */
  head(status: number, headers: http.OutgoingHttpHeaders): void;
  /** Passes bytes on; false when the caller is behind, and `resume` is called once it has caught up. */
  write(chunk: Buffer, resume: () => void): boolean;
  end(last?: Buffer): void;
  /** The upstream broke off after the answer had begun. */
  cut(): void;
  /** The gateway's own error, before any answer (the upstream cannot be reached). */
  fail(status: number, message: string): void;
  readonly started: boolean;
  /** Calls `gone` (once) when the caller leaves before the answer ended. */
  onGone(gone: () => void): void;
}

/** A completion asked in-process: VS Code's chat models. */
export interface CompleteOptions {
  /** The run's source (`chat`). */
  source: RunSource;
  /** Aborting cuts the upstream's answer; the run is kept with what arrived, marked aborted. */
  signal?: AbortSignal;
  /** Each piece of the answer's text, as it arrives. */
  onText?: (text: string) => void;
  /** Stand-ins for the X-Agent-Learning-* headers (task, tier, cost cap), as an HTTP client would send them. */
  headers?: http.IncomingHttpHeaders;
}

/** The upstream answered a complete() with an error status; `message` is its own error text. */
export class UpstreamError extends LearningError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export class Gateway {
  private server: http.Server | undefined;
  private address: AddressInfo | undefined;
  private readonly pending = new Set<Promise<unknown>>();
  /** The Ollama host as last asked (GatewayOptions.ollamaHost) and its normalised base. */
  private ollama: { host: string; base: string };
  /** Upstream URLs as parsed, by base and path (upstreamUrl); at most PARSED_URLS. Never changed once parsed. */
  private readonly urls = new Map<string, { target: URL; openai?: URL }>();
  /** Who may use the gateway, answered again only for a request unlike the last (see RefusalCheck). */
  private readonly refusals = new RefusalCheck();
  /** OpenAI bases that refused the `stream_options` the gateway adds (see relay). */
  private readonly refusesUsage = new Set<string>();
  private readonly agents = {
    http: new http.Agent({ keepAlive: true }),
    https: new https.Agent({ keepAlive: true }),
  };
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly didCapture = new Emitter<GatewayRun>();
  private readonly withheldFrom = new Set<string>();

  /** Fired once per completion, when it has been recorded (streamed: when the stream ended or the client left). */
  readonly onDidCapture = this.didCapture.event;

  constructor(private readonly options: GatewayOptions) {
    const host = this.ollamaHostNow(DEFAULT_OLLAMA_HOST);
    this.ollama = { host, base: normaliseHost(host) };
    this.log = options.log ?? ((line) => console.log(line));
    this.now = options.now ?? Date.now;
  }

  /** The option's host now: a value that is not a string counts as none; a getter that throws gives `unchanged`. */
  private ollamaHostNow(unchanged: string): string {
    const { ollamaHost } = this.options;
    let host: unknown;
    try {
      host = typeof ollamaHost === 'function' ? ollamaHost() : ollamaHost;
    } catch {
      return unchanged;
    }
    return typeof host === 'string' && host !== '' ? host : DEFAULT_OLLAMA_HOST;
  }

  /** Where Ollama's own API is, as the option says now; a change is logged, a value that is not a URL once. */
  private get ollamaBase(): string {
    const host = this.ollamaHostNow(this.ollama.host);
    if (host !== this.ollama.host) {
      const was = this.ollama.base;
      try {
        this.ollama = { host, base: normaliseHost(host) };
        if (this.ollama.base !== was) this.log(`🔀 Gateway: Ollama requests now go to ${this.ollama.base}`);
      } catch {
        this.ollama = { host, base: was };
        this.log(
          `⚠️ Gateway: the Ollama host ${JSON.stringify(host)} is not a URL; requests still go to ${was}`,
        );
      }
    }
    return this.ollama.base;
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
    const { bindAddress } = this.access();
    const port = this.options.port ?? config.port;
    const server = http.createServer({ noDelay: true }, (req, res) => this.track(this.handle(req, res)));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          new LearningError(
            err.code === 'EADDRINUSE'
              ? `The gateway cannot listen on ${bindAddress}:${port}: the port is in use. Set "gateway.port" ` +
                  'in .agent/learning-config.json to a free port (0: any free port).'
              : `The gateway cannot listen on ${bindAddress}:${port}: ${err.message}`,
          ),
        );
      });
      server.listen(port, bindAddress, () => resolve());
    });
    this.server = server;
    this.address = server.address() as AddressInfo;
    const openai = this.openaiBase(this.access());
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

  /**
   * A completion asked in-process, as VS Code's chat models ask: an OpenAI chat-completion body, routed (the
   * `agent-learning/…` aliases), given the prompt variant when configured, forwarded to the `/v1` upstream and
   * recorded with `options.source`, exactly as a `POST /v1/chat/completions` would be. Needs no listener: the
   * gateway need not be started. Resolves with the completion the caller was shown (tool calls included) once the
   * answer ended or `signal` cut it; rejects with UpstreamError for an upstream's error answer, InvalidInputError or
   * NoEligibleModelError when the alias cannot be routed, LearningError when the upstream cannot be reached.
   */
  async complete(request: Json, options: CompleteOptions): Promise<Completion> {
    const kind: CompletionKind = 'openai-chat';
    const prepared = this.prepare(
      kind,
      request,
      options.headers ?? {},
      this.config(),
      this.now(),
      options.source,
    );
    let status = 0;
    let shown: ReturnType<typeof captureFor> | undefined;
    const errorBody: Buffer[] = [];
    let failure: LearningError | undefined;
    const sink: AnswerSink = {
      head: (code, headers) => {
        status = code;
        // The caller's own copy: unbounded, as it shows the whole answer; the run's copy keeps its bound.
        if (code >= 200 && code < 300) {
          const type = headers['content-type'];
          shown = captureFor(
            kind,
            Array.isArray(type) ? type[0] : type?.toString(),
            Infinity,
            options.onText,
          );
        }
      },
      write: (chunk) => {
        if (shown) shown.push(chunk);
        else if (errorBody.length < 64) errorBody.push(Buffer.from(chunk));
        return true;
      },
      end: (last) => {
        if (last?.length) sink.write(last, () => undefined);
      },
      cut: () => {
        failure ??= new LearningError(`The upstream broke off its answer (${prepared.exchange.modelId}).`);
      },
      fail: (code, message) => {
        failure = new UpstreamError(code, message);
      },
      get started() {
        return status !== 0;
      },
      onGone: (gone) => {
        // After the chunk in hand is captured (as a client's leaving is an event of its own): a caller that aborts
        // from onText keeps in the run what it was shown.
        const leave = () => queueMicrotask(gone);
        if (options.signal?.aborted) leave();
        else options.signal?.addEventListener('abort', leave, { once: true });
      },
    };
    await this.relay(
      'POST',
      '/v1/chat/completions',
      '',
      { 'content-type': 'application/json' },
      Buffer.from(JSON.stringify(prepared.body)),
      this.access(),
      prepared.exchange,
      sink,
    );
    if (options.signal?.aborted) return (shown ?? captureFor(kind, undefined, Infinity)).finish();
    if (failure) throw failure;
    if (!shown) {
      throw new UpstreamError(
        status,
        `The upstream answered ${status}: ${upstreamMessage(Buffer.concat(errorBody).toString('utf8'))}`,
      );
    }
    return shown.finish();
  }

  dispose(): void {
    void this.stop();
    this.didCapture.dispose();
  }

  private config(): GatewayConfig {
    return this.options.recorder.getConfig().config.gateway;
  }

  private access(): GatewayAccess {
    return this.options.access?.() ?? DEFAULT_GATEWAY_ACCESS;
  }

  /** Where `/v1` requests go: the user's OpenAI-compatible upstream, else the Ollama host's own `/v1`. */
  private openaiBase(access: GatewayAccess): string {
    return (access.openaiBaseUrl ?? `${this.ollamaBase}/v1`).replace(/\/+$/, '');
  }

  private track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.log(`❌ Gateway: ${describe(err)}`));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }

  /** Every request gets an answer: an unexpected error is a 500 (or, once the answer has begun, a cut connection). */
  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      await this.answer(req, res);
    } catch (err) {
      req.resume();
      if (!res.headersSent) {
        this.fail(res, pathnameOf(req), 500, `Agent Learning gateway: ${describe(err)}`);
      } else {
        res.destroy();
      }
      throw err;
    }
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = this.now();
    const pathname = pathnameOf(req);
    // Absolute-form (`GET http://host/`) and asterisk-form (`OPTIONS *`) targets: a proxy's, not the gateway's.
    if (!(req.url ?? '').startsWith('/')) {
      req.resume();
      res.setHeader('connection', 'close');
      return this.fail(
        res,
        pathname,
        400,
        `Agent Learning gateway: the request target ${JSON.stringify((req.url ?? '').slice(0, 200))} is not a path; ` +
          'the gateway is not a proxy. Use its base URL (http://127.0.0.1:PORT/v1 or http://127.0.0.1:PORT).',
      );
    }
    const config = this.config();
    const access = this.access();
    const refusal = this.refusals.check(req.headers, access);
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
    const listing = req.method === 'GET' ? LISTINGS[pathname] : undefined;
    // `GET /v1/models/{id}` of an alias: the upstream knows no such model; the gateway does.
    if (req.method === 'GET' && pathname.startsWith('/v1/models/')) {
      const id = decodePath(pathname.slice('/v1/models/'.length));
      if (id !== undefined && this.aliases(config).includes(id)) {
        return sendJson(res, 200, openAiAlias(id, Math.floor(this.now() / 1000)));
      }
    }
    const kind = req.method === 'POST' ? COMPLETIONS[pathname] : undefined;
    const show = req.method === 'POST' && pathname === '/api/show';
    let exchange: Exchange | undefined;
    if (kind || show) {
      const request = parseObject(body);
      // Not JSON: forwarded as it came, so the client gets the upstream's own error.
      if (request) {
        try {
          if (kind) {
            const prepared = this.prepare(kind, request, req.headers, config, started, 'gateway');
            exchange = prepared.exchange;
            // Only the usage request added to the client's body: added to its bytes, which go as they came (a
            // re-serialisation would cost a long conversation as much as a round trip, and rewrite its numbers).
            const asked =
              prepared.body !== request && exchange.withoutUsage === request
                ? withUsageRequestedBytes(body, request)
                : undefined;
            if (asked) {
              exchange.withoutUsage = body;
              body = asked;
            } else if (prepared.body !== request) body = Buffer.from(JSON.stringify(prepared.body));
          } else {
            const shown = this.showAlias(request, req.headers, config);
            if (shown) body = Buffer.from(JSON.stringify(shown));
          }
        } catch (err) {
          if (err instanceof InvalidInputError || err instanceof NoEligibleModelError)
            return this.fail(res, pathname, 400, `Agent Learning gateway: ${err.message}`);
          throw err;
        }
      }
    }
    await this.forward(req, res, pathname, body, access, exchange, listing);
  }

  /**
   * `/api/show` of an alias (Ollama clients ask it for the capabilities of a model they found in `/api/tags`): the
   * model the router picks for it now. Undefined for any other model name.
   */
  private showAlias(
    request: Json,
    headers: http.IncomingHttpHeaders,
    config: GatewayConfig,
  ): Json | undefined {
    // `name` is what Ollama's API took before `model`.
    const field =
      typeof request.model === 'string' ? 'model' : typeof request.name === 'string' ? 'name' : undefined;
    if (!field) return undefined;
    const route = routeRequest(request[field], headers, config);
    if (!route.route) return undefined;
    const picked = this.options.recorder.selectModel(
      route.route.tier,
      route.route.maxCostPerToken,
      route.role,
    );
    return { ...request, [field]: picked.id };
  }

  /** The model aliases to list: the built-in roles, the default role and every role with runs. */
  private aliases(config: GatewayConfig): string[] {
    return aliasNames([config.defaultRole, ...(this.options.recorder.roles?.() ?? [])]);
  }

  /** Routes the aliases and adds the prompt variant; the body to forward is `request` itself when nothing changed. */
  private prepare(
    kind: CompletionKind,
    request: Json,
    headers: http.IncomingHttpHeaders,
    config: GatewayConfig,
    started: number,
    source: RunSource,
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
    // A streamed OpenAI answer carries token counts only when asked for; the run needs them.
    const asking = kind === 'openai-chat' ? withUsageRequested(body) : undefined;
    const withoutUsage = asking ? body : undefined;
    if (asking) body = asking;
    // The conversation as the agent wrote it: the variant's text is known by its id, as for every other run.
    const conversation = conversationOf(kind, request);
    return {
      body,
      exchange: {
        kind,
        route,
        modelId: modelId.slice(0, 200),
        promptId,
        conversation,
        started,
        usageAsked: asking !== undefined,
        ...(withoutUsage !== undefined && { withoutUsage }),
        source,
      },
    };
  }

  /**
   * The upstream URL of a request; `openai`: the base it went under, for a `/v1` request. Parsed once per base and
   * path: the URLs are shared by the requests that ask for them, and read, never changed.
   */
  private upstreamUrl(
    pathname: string,
    search: string,
    access: GatewayAccess,
  ): { target: URL; openai?: URL } {
    const v1 = pathname === '/v1' || pathname.startsWith('/v1/');
    const base = v1 ? this.openaiBase(access) : this.ollamaBase;
    // A request target has no line break: the last one ends the base.
    const key = `${base}\n${pathname}${search}`;
    let urls = this.urls.get(key);
    if (!urls) {
      urls = v1
        ? { target: new URL(base + pathname.slice(3) + search), openai: new URL(base) }
        : { target: new URL(base + pathname + search) };
      if (this.urls.size >= PARSED_URLS) this.urls.clear();
      this.urls.set(key, urls);
    }
    return urls;
  }

  /**
   * The key, for a `/v1` request whose target has exactly the key's origin (scheme, host, port) and lies under the
   * configured base path (at a segment boundary); nothing for any other request.
   */
  private keyFor(target: URL, openai: URL | undefined): string | undefined {
    if (!openai) return undefined;
    const key = this.options.apiKey?.();
    if (!key?.key) return undefined;
    const basePath = openai.pathname.replace(/\/+$/, '');
    const under = target.pathname === basePath || target.pathname.startsWith(`${basePath}/`);
    if (target.origin !== openai.origin || !under) return undefined;
    if (target.origin !== key.origin) {
      if (!this.withheldFrom.has(target.origin)) {
        this.withheldFrom.add(target.origin);
        this.log(
          `⚠️ Gateway: the upstream key was set for ${key.origin || 'no origin (before keys had one)'}, not ` +
            `${target.origin}; requests to ` +
            `${target.origin} go without it. Set the key again for ${target.origin} to send it there.`,
        );
        this.options.onKeyWithheld?.(target.origin, key.origin);
      }
      return undefined;
    }
    return key.key;
  }

  private forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    pathname: string,
    body: Buffer,
    access: GatewayAccess,
    exchange: Exchange | undefined,
    listing?: 'openai' | 'ollama',
  ): Promise<void> {
    const search = (req.url ?? '').slice(pathname.length);
    const headers: http.OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (!NOT_FORWARDED.has(name) && value !== undefined) headers[name] = value;
    }
    /** Bytes of the answer were handed to the response: the head went with the first of them. */
    let wrote = false;
    const sink: AnswerSink = {
      head: (status, out) => {
        res.writeHead(status, out);
        // The answer's first bytes usually came in the same read as its head: both go in one write (the write of
        // the bytes, queued before this turn of the event loop ends), so the client is woken once, not twice. A
        // head that came alone goes alone, at the end of this turn, not with the first token: streaming clients
        // wait on it.
        setImmediate(() => {
          if (!wrote && !res.destroyed) res.flushHeaders();
        });
      },
      write: (chunk, resume) => {
        wrote = true;
        if (res.write(chunk)) return true;
        res.once('drain', resume);
        return false;
      },
      end: (last) => {
        wrote = true;
        res.end(last);
      },
      cut: () => res.destroy(),
      fail: (status, message) => this.fail(res, pathname, status, message),
      get started() {
        return res.headersSent;
      },
      onGone: (gone) =>
        res.on('close', () => {
          if (!res.writableFinished) gone();
        }),
    };
    const onListing = listing
      ? (upRes: http.IncomingMessage, done: () => void) => this.answerListing(res, upRes, listing, done)
      : undefined;
    return this.relay(
      req.method ?? 'GET',
      pathname,
      search,
      headers,
      body,
      access,
      exchange,
      sink,
      onListing,
    );
  }

  /**
   * Sends a request to the upstream and its answer to `sink` as it arrives, capturing the completion of `exchange`
   * from a copy of the bytes and recording it once the answer ended (or the caller left: aborted). `fresh`: on a
   * connection of its own, not a kept-alive one: the request is asked again after a kept-alive connection closed.
   */
  private relay(
    method: string,
    pathname: string,
    search: string,
    headers: http.OutgoingHttpHeaders,
    body: Buffer,
    access: GatewayAccess,
    exchange: Exchange | undefined,
    sink: AnswerSink,
    onListing?: (upRes: http.IncomingMessage, done: () => void) => void,
    fresh = false,
  ): Promise<void> {
    const { target, openai } = this.upstreamUrl(pathname, search, access);
    if (exchange?.withoutUsage !== undefined && openai && this.refusesUsage.has(openai.href)) {
      // This upstream refused `stream_options` before: the request goes as the client sent it.
      body = requestBytes(exchange.withoutUsage);
      exchange = { ...exchange, usageAsked: false, withoutUsage: undefined };
    }
    // The capture reads the bytes it forwards: a compressed answer could not be recorded.
    headers['accept-encoding'] = 'identity';
    if (body.length > 0 || method === 'POST' || method === 'PUT') headers['content-length'] = body.length;
    const key = this.keyFor(target, openai);
    if (key) headers.authorization = `Bearer ${key}`;
    const secure = target.protocol === 'https:';
    return new Promise<void>((resolve) => {
      let settled = false;
      let answered = false;
      /**
       * The run's copy of the answer, set up the first time it has bytes to read: they have gone to the caller by
       * then. Undefined when the answer makes no run.
       */
      let copy: (() => CompletionCapture) | undefined;
      /** The answer's bytes that arrived in this turn of the event loop and are not yet passed on. */
      let batch: Buffer[] = [];
      let batchBytes = 0;
      const taken = (): Buffer | undefined => {
        const chunk = batch.length > 1 ? Buffer.concat(batch, batchBytes) : batch[0];
        batch = [];
        batchBytes = 0;
        return chunk;
      };
      /** Bytes passed on, not yet copied: the capture reads them once the response has written them out. */
      let uncaptured: Buffer[] = [];
      const captureNow = () => {
        if (copy) for (const chunk of uncaptured) copy().push(chunk);
        uncaptured = [];
      };
      const done = (aborted: boolean) => {
        if (settled) return;
        settled = true;
        // What arrived before the caller left is the run's too.
        captureNow();
        const rest = taken();
        if (rest) copy?.().push(rest);
        if (exchange && copy) this.track(this.record(exchange, copy().finish(), aborted));
        resolve();
      };
      const upstream = (secure ? https : http).request(
        target,
        // `agent: false`: a connection of its own, closed after the answer, not another kept-alive one that the
        // upstream may have closed as well.
        { method, headers, agent: fresh ? false : secure ? this.agents.https : this.agents.http },
        (upRes) => {
          answered = true;
          const status = upRes.statusCode ?? 502;
          const ok = status >= 200 && status < 300;
          if (exchange?.withoutUsage !== undefined && openai && (status === 400 || status === 422)) {
            // A strict upstream may refuse the `stream_options` the gateway added: asked once more without it
            // (and never again), the client gets the answer it would have had without the gateway.
            const retry = { ...exchange, usageAsked: false, withoutUsage: undefined };
            const refused = exchange.withoutUsage;
            const chunks: Buffer[] = [];
            upRes.on('data', (chunk: Buffer) => chunks.push(chunk));
            upRes.on('error', () => {
              sink.cut();
              done(true);
            });
            upRes.on('end', () => {
              const answer = Buffer.concat(chunks);
              if (answer.includes('stream_options')) {
                this.refusesUsage.add(openai.href);
                this.log(
                  `⚠️ Gateway: ${openai.origin} refuses stream_options; streamed runs through it get token ` +
                    'counts only when the client asks for them.',
                );
                settled = true;
                const again = requestBytes(refused);
                resolve(this.relay(method, pathname, search, headers, again, access, retry, sink, onListing));
                return;
              }
              const out: http.OutgoingHttpHeaders = {};
              for (const [name, value] of Object.entries(upRes.headers)) {
                if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
              }
              sink.head(status, out);
              this.log(`⚠️ Gateway: the upstream answered ${status} to ${pathname}; no run recorded.`);
              sink.end(answer);
              done(false);
            });
            return;
          }
          if (onListing && ok) {
            onListing(upRes, () => done(false));
            return;
          }
          const contentType = upRes.headers['content-type'];
          const filter =
            exchange?.usageAsked && ok && /^text\/event-stream/i.test(contentType ?? '')
              ? new UsageChunkFilter()
              : undefined;
          const out: http.OutgoingHttpHeaders = {};
          for (const [name, value] of Object.entries(upRes.headers)) {
            // The filter takes out the usage chunk the gateway asked for: the upstream's length no longer holds.
            if (filter && name === 'content-length') continue;
            if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
          }
          sink.head(status, out);
          if (exchange && ok) {
            const { kind } = exchange;
            let capture: CompletionCapture | undefined;
            copy = () =>
              (capture ??= captureFor(
                kind,
                contentType,
                this.options.recorder.getConfig().config.storage.maxTextBytes,
              ));
          } else if (exchange)
            this.log(`⚠️ Gateway: the upstream answered ${status} to ${pathname}; no run recorded.`);
          // A chunked answer comes as one 'data' event per chunk (an SSE upstream: one per token), many per read
          // from the socket. They are passed on together, once the read's events are in: one write to the client,
          // one chunk on its side, one pass of the filter and the capture, where each event cost them all. No byte
          // waits for a later read, so the first token is not held up.
          const flush = () => {
            const chunk = taken();
            if (!chunk || settled) return;
            const forwarded = filter ? filter.push(chunk) : chunk;
            if (forwarded.length > 0 && !sink.write(forwarded, () => upRes.resume())) upRes.pause();
            // To the client first: a response's writes go out when the tick ends (node corks them until then), so
            // the copy is parsed in a tick queued after that one. It reads the usage chunk the client does not get.
            if (copy && uncaptured.push(chunk) === 1) process.nextTick(captureNow);
          };
          /** The answer's last bytes went to the caller. */
          let ended = false;
          const end = () => {
            if (ended) return;
            ended = true;
            flush();
            sink.end(filter?.end());
          };
          upRes.on('data', (chunk: Buffer) => {
            batchBytes += chunk.length;
            const first = batch.push(chunk) === 1;
            // The upstream's whole answer is in (its message is complete, and this was the last of it the stream
            // holds): it goes now, not after the stream's 'end', which comes a tick later, after Node has put the
            // upstream's connection back (a whole non-streamed answer, and a stream's last events, come so).
            if (upRes.complete && upRes.readableLength === 0) end();
            else if (first) queueMicrotask(flush);
            // A batch as large as the response buffers goes at once: its write fills the buffer and pauses the
            // rest of the read, so the client gets the first of a long read without waiting for all of it.
            else if (batchBytes >= FLUSH_BYTES) flush();
          });
          upRes.on('end', () => {
            end();
            done(false);
          });
          upRes.on('error', () => {
            // After the whole answer went to the caller, nothing was cut.
            if (ended) return done(false);
            flush();
            sink.cut();
            done(true);
          });
        },
      );
      upstream.on('socket', (socket) => socket.setNoDelay(true));
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (!answered && upstream.reusedSocket && !fresh && CLOSED_CONNECTION.has(err.code ?? '')) {
          // The upstream closed the kept-alive connection as the request arrived (see CLOSED_CONNECTION): nothing of
          // an answer came, nothing is recorded; asked once more, the caller gets the answer it would have had.
          settled = true;
          resolve(
            this.relay(method, pathname, search, headers, body, access, exchange, sink, onListing, true),
          );
          return;
        }
        if (!sink.started) {
          const where = `${target.protocol}//${target.host}`;
          sink.fail(
            502,
            `Agent Learning gateway: cannot reach the upstream at ${where} (${err.code ?? err.message}). Start ` +
              'Ollama, or set "agentLearning.ollamaHost" / OLLAMA_HOST (or the OpenAI-compatible upstream: ' +
              'agentLearning.gateway.openaiBaseUrl, or serve --openai-base-url) to where it runs.',
          );
          settled = true;
          resolve();
        } else {
          sink.cut();
          done(true);
        }
      });
      // The client left before the answer ended: stop the upstream's work and keep what arrived, as aborted.
      sink.onGone(() => {
        upstream.destroy();
        done(true);
      });
      upstream.end(body);
    });
  }

  /** The upstream's model list, read whole (it is small), with the aliases added; anything unexpected as it came. */
  private answerListing(
    res: http.ServerResponse,
    upRes: http.IncomingMessage,
    listing: 'openai' | 'ollama',
    done: () => void,
  ): void {
    const chunks: Buffer[] = [];
    upRes.on('data', (chunk: Buffer) => chunks.push(chunk));
    upRes.on('error', () => {
      res.destroy();
      done();
    });
    upRes.on('end', () => {
      let body = Buffer.concat(chunks);
      const encoding = upRes.headers['content-encoding'];
      const listed =
        encoding === undefined || encoding === 'identity'
          ? withAliases(listing, parseObject(body), this.aliases(this.config()), this.now())
          : undefined;
      if (listed) body = Buffer.from(JSON.stringify(listed));
      const out: http.OutgoingHttpHeaders = {};
      for (const [name, value] of Object.entries(upRes.headers)) {
        if (!HOP_BY_HOP.has(name) && name !== 'content-length' && value !== undefined) out[name] = value;
      }
      out['content-length'] = body.length;
      res.writeHead(upRes.statusCode ?? 200, out);
      res.end(body);
      done();
    });
  }

  private async record(exchange: Exchange, completion: Completion, aborted: boolean): Promise<void> {
    const { route, conversation } = exchange;
    // An aborted run is kept with what arrived and marked in its output; with no quality signal its reward is 0,
    // below every export threshold, and the SFT export skips it even if feedback raises it later.
    const output = aborted ? { ...completion.message, aborted: true } : completion.message;
    // A copy stopped at storage.maxTextBytes is marked as the store marks a text it cuts: exports leave it out.
    const cut = completion.cut;
    if (cut) {
      this.log(
        `⚠️ Gateway: the answer of ${exchange.modelId} passed storage.maxTextBytes; the run keeps the first ` +
          `${cut.kept} of ${cut.total} bytes, marked as cut (the client got it all).`,
      );
    }
    const result: RunResult = {
      input: JSON.stringify(conversation),
      output: cut ? withCutMarker(JSON.stringify(output), cut.kept, cut.total) : JSON.stringify(output),
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
        // Recorded after the answer: the gateway need not wait on the disk, only on the run being on it.
        { source: exchange.source, groupCommit: true },
      );
      this.didCapture.fire({
        id: run.id,
        source: exchange.source,
        recorded: run.recorded !== false,
        aborted,
        modelId: exchange.modelId,
        promptId: exchange.promptId,
        role: route.role,
        taskSlug: route.taskSlug,
        costTokens: completion.tokens,
      });
    } catch (err) {
      // A failed fdatasync leaves the run in the database, which the next save may keep: "not on disk yet", not
      // "gone" (the client got its answer either way).
      this.log(
        `❌ Gateway: the run of ${exchange.modelId} is not safely recorded: ${describe(err)}. It may still be ` +
          'kept by the next save of the database.',
      );
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
    sendJson(res, status, ollama ? { error: message } : { error: { message, type, code: status } });
  }
}

/** The message of an upstream's error body (OpenAI `{error: {message}}`, Ollama `{error}`), else its start. */
function upstreamMessage(text: string): string {
  const doc = parseObject(Buffer.from(text));
  const error = doc?.error;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && typeof (error as Json).message === 'string')
    return (error as Json).message as string;
  return text.slice(0, 500) || '(no body)';
}

/** A request body to send: bytes as they are, a changed request serialised. */
function requestBytes(request: Json | Buffer): Buffer {
  return Buffer.isBuffer(request) ? request : Buffer.from(JSON.stringify(request));
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** A path segment's text, or undefined when its percent-encoding is broken. */
function decodePath(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function pathnameOf(req: http.IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!;
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
    // One chunk (a request that came in one read) is the body as it is, not copied.
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}
