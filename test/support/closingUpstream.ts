// An OpenAI-compatible upstream written on `net` (real sockets, no http module), for the gateway's tests of kept-alive
// connections the upstream closes: it numbers each connection and the requests on it, and `fateOf` says what
// becomes of each request. A server with an idle timeout (uvicorn's 5 s: vLLM, llama-cpp-python) closes a kept-alive
// connection at a moment of its own; when that moment is the one the next request arrives, the request is lost
// before any byte of an answer. Here that moment is chosen, so the race is met on every run.

import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * `answer`: a 200 with `Connection: keep-alive` (SSE, chunked, for a streamed request; JSON otherwise). `close`: the
 * connection is closed (FIN) as the request arrives, unanswered. `reset`: the same with a RST. `hold`: the answer's
 * head and first event (of a JSON answer: its first bytes) are sent, and the rest waits until `drop()`.
 */
export type Fate = 'answer' | 'close' | 'reset' | 'hold';

export interface ClosingUpstreamRequest {
  /** 1 for the first connection accepted. */
  connection: number;
  /** 1 for a connection's first request. */
  index: number;
  body: Record<string, unknown> | undefined;
  fate: Fate;
}

export interface ClosingUpstream {
  /** `http://127.0.0.1:PORT/v1`, as `openaiBaseUrl` takes it. */
  baseUrl: string;
  requests: ClosingUpstreamRequest[];
  readonly connections: number;
  /** Closes the connections of `hold` requests, with a FIN or a RST. */
  drop(how: 'close' | 'reset'): void;
  stop(): Promise<void>;
}

export const REPLY = 'Hello from the stand-in';

export async function startClosingUpstream(
  fateOf: (connection: number, index: number) => Fate,
): Promise<ClosingUpstream> {
  const requests: ClosingUpstreamRequest[] = [];
  const sockets = new Set<net.Socket>();
  const held = new Set<net.Socket>();
  let connections = 0;

  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // The gateway's side may see the close first and reset: nothing to do here.
    socket.on('error', () => undefined);
    let index = 0;
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n');
        if (headEnd < 0) return;
        const head = pending.toString('latin1', 0, headEnd);
        const length = Number(/\r\ncontent-length:[ \t]*(\d+)/i.exec(head)?.[1] ?? 0);
        const end = headEnd + 4 + length;
        if (pending.length < end) return;
        const body = parse(pending.subarray(headEnd + 4, end));
        pending = pending.subarray(end);
        const fate = fateOf(connection, ++index);
        requests.push({ connection, index, body, fate });
        if (fate === 'hold') held.add(socket);
        if (!serve(socket, body, fate)) return;
      }
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    get connections() {
      return connections;
    },
    drop: (how) => {
      for (const socket of held) {
        if (how === 'reset') socket.resetAndDestroy();
        else socket.destroy();
      }
      held.clear();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

/** Answers or closes as `fate` says; false when the connection is gone or held. */
function serve(socket: net.Socket, body: Record<string, unknown> | undefined, fate: Fate): boolean {
  if (fate === 'close') {
    socket.destroy();
    return false;
  }
  if (fate === 'reset') {
    socket.resetAndDestroy();
    return false;
  }
  const model = typeof body?.model === 'string' ? body.model : 'm';
  const id = 'chatcmpl-closing';
  const usage = { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 };
  if (body?.stream !== true) {
    const text = JSON.stringify({
      id,
      object: 'chat.completion',
      created: 1_700_000_000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: REPLY }, finish_reason: 'stop' }],
      usage,
    });
    const head =
      'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: keep-alive\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n`;
    if (fate === 'hold') {
      socket.write(head + text.slice(0, 20));
      return false;
    }
    socket.write(head + text);
    return true;
  }
  const event = (choices: unknown[], extra: object = {}) => {
    const data = `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1_700_000_000, model, choices, ...extra })}\n\n`;
    return `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;
  };
  const head =
    'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: keep-alive\r\n' +
    'Transfer-Encoding: chunked\r\n\r\n';
  const first = event([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]);
  if (fate === 'hold') {
    socket.write(head + first);
    return false;
  }
  let answer = head + first;
  for (const word of REPLY.split(/(?<= )/)) {
    answer += event([{ index: 0, delta: { content: word }, finish_reason: null }]);
  }
  answer += event([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  const options = body.stream_options as { include_usage?: boolean } | undefined;
  if (options?.include_usage) answer += event([], { usage });
  const done = 'data: [DONE]\n\n';
  answer += `${done.length.toString(16)}\r\n${done}\r\n0\r\n\r\n`;
  socket.write(answer);
  return true;
}

function parse(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
