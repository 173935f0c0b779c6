// A stand-in chat upstream on a loopback port, for the gateway's tests and benchmark: Ollama's chat API
// (`/api/chat`, `/api/generate` as NDJSON, streamed or not; `/api/tags`, `/api/show`, `/api/version`) and the
// OpenAI-compatible one (`/v1/chat/completions` with and without SSE streaming; `/v1/models`), with the wire
// formats the real servers use. Ollama's own stand-in (test/standins/ollama) serves deploys and cannot generate.
//
// Behaviour by model name: `missing…` → 404 as each dialect words it; `tool…` → a tool call (to the first tool
// offered); `hang…` → streams the first token, then waits until the client goes away; `held…` → streams the first
// token, then waits for `release()`; `paused…` → waits `pauseAfterFirstMs` after the first token (a model takes a
// while for each token; this stand-in otherwise writes them all in one burst). Anything else answers `reply`
// (default "Hello from the stand-in") one word per chunk.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface UpstreamRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
  /** The body's bytes as they arrived. */
  raw: Buffer;
}

export interface ChatUpstream {
  url: string;
  /** host:port, as OLLAMA_HOST takes it. */
  host: string;
  requests: UpstreamRequest[];
  /** Resolves when a `hang…` request's client has gone away. */
  hangClosed: Promise<void>;
  /** Lets `held…` requests send the rest of their answer. */
  release(): void;
  /** TCP connections accepted so far (a client that keeps its connection alive opens one). */
  readonly connections: number;
  stop(): Promise<void>;
}

export interface ChatUpstreamOptions {
  reply?: string;
  /** Pause between chunks (ms); 0 writes them back to back. */
  chunkDelayMs?: number;
  /** Prompt tokens reported for every request. */
  promptTokens?: number;
  /** Pause after the first token of a `paused…` model's answer (ms). */
  pauseAfterFirstMs?: number;
}

type Json = Record<string, unknown>;

export async function startChatUpstream(options: ChatUpstreamOptions = {}): Promise<ChatUpstream> {
  const reply = options.reply ?? 'Hello from the stand-in';
  const words = reply.split(/(?<= )/);
  const promptTokens = options.promptTokens ?? 11;
  const requests: UpstreamRequest[] = [];
  let hangClosed!: () => void;
  const hang = new Promise<void>((resolve) => (hangClosed = resolve));
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let connections = 0;

  const server = http.createServer({ noDelay: true }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      let body: Json | undefined;
      try {
        body = chunks.length ? (JSON.parse(raw.toString('utf8')) as Json) : undefined;
      } catch {
        body = undefined;
      }
      const path = (req.url ?? '/').split('?')[0]!;
      requests.push({ method: req.method ?? '', path, headers: req.headers, body, raw });
      void serve(req, res, path, body);
    });
  });

  server.on('connection', () => connections++);

  const pause = () =>
    options.chunkDelayMs ? new Promise((r) => setTimeout(r, options.chunkDelayMs)) : Promise.resolve();
  /** What a model that is not `hang…` does after its first token. */
  const afterFirst = (model: string): Promise<unknown> => {
    if (model.startsWith('held')) return released;
    if (model.startsWith('paused')) return new Promise((r) => setTimeout(r, options.pauseAfterFirstMs ?? 0));
    return Promise.resolve();
  };

  const json = (res: http.ServerResponse, status: number, value: unknown) => {
    const text = JSON.stringify(value);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };

  async function serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    body: Json | undefined,
  ) {
    const model = typeof body?.model === 'string' ? body.model : '';
    const firstTool = Array.isArray(body?.tools)
      ? (body.tools[0] as { function?: { name?: string } })
      : undefined;
    const toolName = firstTool?.function?.name ?? 'get_weather';
    switch (`${req.method} ${path}`) {
      case 'GET /api/version':
        return json(res, 200, { version: '0.12.0' });
      case 'GET /api/tags':
        return json(res, 200, { models: [{ name: 'qwen2.5-coder:7b', model: 'qwen2.5-coder:7b', size: 1 }] });
      case 'POST /api/show':
        return json(res, 200, {
          modelfile: '# stand-in',
          details: { family: 'qwen2' },
          capabilities: ['completion', 'tools'],
        });
      case 'GET /v1/models':
        return json(res, 200, {
          object: 'list',
          data: [{ id: 'qwen2.5-coder:7b', object: 'model', owned_by: 'library' }],
        });
      case 'POST /v1/chat/completions':
        return openAi(res, body ?? {}, model, toolName);
      case 'POST /api/chat':
      case 'POST /api/generate':
        return ollama(res, body ?? {}, model, toolName, path === '/api/chat');
      default:
        return json(res, 404, { error: `404 page not found` });
    }
  }

  async function openAi(res: http.ServerResponse, body: Json, model: string, toolName: string) {
    if (model.startsWith('missing')) {
      return json(res, 404, {
        error: {
          message: `model "${model}" not found, try pulling it first`,
          type: 'api_error',
          param: null,
          code: null,
        },
      });
    }
    const created = 1_700_000_000;
    const id = 'chatcmpl-standin';
    const tool = model.startsWith('tool');
    const toolCall = {
      id: 'call_standin_1',
      type: 'function',
      function: { name: toolName, arguments: '{"city":"Paris"}' },
    };
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: words.length,
      total_tokens: promptTokens + words.length,
    };
    if (body.stream !== true) {
      return json(res, 200, {
        id,
        object: 'chat.completion',
        created,
        model,
        system_fingerprint: 'fp_standin',
        choices: [
          {
            index: 0,
            message: tool
              ? { role: 'assistant', content: null, tool_calls: [toolCall] }
              : { role: 'assistant', content: reply },
            finish_reason: tool ? 'tool_calls' : 'stop',
          },
        ],
        usage,
      });
    }
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const send = (choice: Json | undefined, extra: Json = {}) =>
      res.write(
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: choice ? [choice] : [], ...extra })}\n\n`,
      );
    send({ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null });
    if (tool) {
      send({
        index: 0,
        delta: { tool_calls: [{ index: 0, ...toolCall, function: { name: toolName, arguments: '' } }] },
        finish_reason: null,
      });
      for (const part of ['{"city"', ':"Paris"}']) {
        await pause();
        send({
          index: 0,
          delta: { tool_calls: [{ index: 0, function: { arguments: part } }] },
          finish_reason: null,
        });
      }
    } else {
      for (const [i, w] of words.entries()) {
        send({ index: 0, delta: { content: w }, finish_reason: null });
        if (model.startsWith('hang')) return hangUntilClosed(res);
        if (i === 0) await afterFirst(model);
        await pause();
      }
    }
    send({ index: 0, delta: {}, finish_reason: tool ? 'tool_calls' : 'stop' });
    const wantsUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage;
    if (wantsUsage) send(undefined, { usage });
    res.end('data: [DONE]\n\n');
  }

  async function ollama(
    res: http.ServerResponse,
    body: Json,
    model: string,
    toolName: string,
    chat: boolean,
  ) {
    if (model.startsWith('missing')) return json(res, 404, { error: `model '${model}' not found` });
    const tool = chat && model.startsWith('tool');
    const at = '2025-01-01T00:00:00Z';
    const part = (text: string, extra: Json = {}) =>
      chat
        ? { model, created_at: at, message: { role: 'assistant', content: text, ...extra }, done: false }
        : { model, created_at: at, response: text, done: false };
    const last = {
      ...part(''),
      done: true,
      done_reason: 'stop',
      total_duration: 1000,
      prompt_eval_count: promptTokens,
      eval_count: words.length,
    };
    const toolCalls = [{ function: { name: toolName, arguments: { city: 'Paris' } } }];
    if (body.stream === false) {
      const whole = tool ? part('', { tool_calls: toolCalls }) : part(reply);
      return json(res, 200, { ...last, ...whole, done: true });
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    if (tool) res.write(JSON.stringify(part('', { tool_calls: toolCalls })) + '\n');
    else {
      for (const [i, w] of words.entries()) {
        res.write(JSON.stringify(part(w)) + '\n');
        if (model.startsWith('hang')) return hangUntilClosed(res);
        if (i === 0) await afterFirst(model);
        await pause();
      }
    }
    res.end(JSON.stringify(last) + '\n');
  }

  function hangUntilClosed(res: http.ServerResponse) {
    res.on('close', () => hangClosed());
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    hangClosed: hang,
    release,
    get connections() {
      return connections;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
