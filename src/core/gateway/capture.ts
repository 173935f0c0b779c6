// What the gateway records of a completion: the conversation a request carried, in the SFT `messages` shape, and
// the completion its response carried (streamed or not, OpenAI or Ollama), with the upstream's token counts.
// The response is parsed from a copy of the bytes already forwarded; nothing here holds the client up.

/** The three completion endpoints the gateway records. */
export type CompletionKind = 'openai-chat' | 'ollama-chat' | 'ollama-generate';

type Json = Record<string, unknown>;

export interface Conversation {
  messages: unknown[];
  /** The tool definitions offered, as the request gave them (OpenAI's fine-tuning format keeps them beside messages). */
  tools?: unknown[];
}

export interface Completion {
  /** The assistant's message: `content`, and `tool_calls` / `thinking` / `images` when the upstream sent them. */
  message: Json;
  /** The model the upstream says answered. */
  model: string | undefined;
  /** Prompt + completion tokens, from OpenAI `usage` or Ollama `prompt_eval_count` / `eval_count`. */
  tokens: number | undefined;
  /** `stop`, `tool_calls`, `length`, Ollama's `done_reason` …; undefined while the response was cut short. */
  finishReason: string | undefined;
  /**
   * Set when the copy stopped at its bound (`storage.maxTextBytes`): the bytes of the response copied and the bytes
   * that arrived. The client got them all; the run keeps only the start.
   */
  cut?: { kept: number; total: number };
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The conversation of a parsed request body, tool results and images included, unknown fields kept. */
export function conversationOf(kind: CompletionKind, body: Json): Conversation {
  const tools = Array.isArray(body.tools) ? { tools: body.tools } : {};
  if (kind !== 'ollama-generate') {
    return { messages: Array.isArray(body.messages) ? body.messages : [], ...tools };
  }
  const user: Json = { role: 'user', content: typeof body.prompt === 'string' ? body.prompt : '' };
  if (Array.isArray(body.images)) user.images = body.images;
  const system =
    typeof body.system === 'string' && body.system !== '' ? [{ role: 'system', content: body.system }] : [];
  return { messages: [...system, user], ...tools };
}

/**
 * Adds a prompt variant's text to the request's system message (a new first one when there is none). Returns the
 * body to forward; the caller's object is not changed.
 */
export function withSystemText(kind: CompletionKind, body: Json, text: string): Json {
  if (text === '') return body;
  if (kind === 'ollama-generate') {
    const system = typeof body.system === 'string' && body.system !== '' ? `${text}\n\n${body.system}` : text;
    return { ...body, system };
  }
  const messages = Array.isArray(body.messages) ? [...(body.messages as unknown[])] : [];
  const first = messages[0];
  if (isObject(first) && first.role === 'system' && typeof first.content === 'string') {
    messages[0] = { ...first, content: `${text}\n\n${first.content}` };
  } else {
    messages.unshift({ role: 'system', content: text });
  }
  return { ...body, messages };
}

/** Accumulates a completion from response bytes as they pass; `finish()` gives what arrived. */
export interface CompletionCapture {
  push(chunk: Buffer): void;
  finish(): Completion;
}

/**
 * A capture for the response's framing: server-sent events (OpenAI `stream: true`), JSON lines (Ollama, streamed
 * or not: a single object is one line) or one JSON document (OpenAI without `stream`). `maxBytes` bounds the copy
 * (one line, the whole document, the text gathered): past it the copy stops and the completion says it was cut.
 * `onText` gets each piece of a streamed answer's text as it is gathered (an in-process caller shows it as it comes).
 */
export function captureFor(
  kind: CompletionKind,
  contentType: string | undefined,
  maxBytes: number,
  onText?: (text: string) => void,
): CompletionCapture {
  const bound = new Bound(maxBytes);
  if (kind !== 'openai-chat') return new OllamaCapture(kind, bound, onText);
  if (/^text\/event-stream/i.test(contentType ?? '')) return new OpenAiStreamCapture(bound, onText);
  return new WholeJsonCapture((doc) => openAiWhole(doc), bound);
}

/** How much of a response a capture copies: it stops for good at the first thing that would pass `max` bytes. */
class Bound {
  /** Bytes of the response that arrived. */
  received = 0;
  /** Bytes of the response copied when the copy stopped; undefined while it goes on. */
  stoppedAt: number | undefined;
  private kept = 0;
  constructor(readonly max: number) {}

  get stopped(): boolean {
    return this.stoppedAt !== undefined;
  }

  /** Whether `bytes` more may be kept; false (and stopped from then on) once they would pass the bound. */
  take(bytes: number): boolean {
    if (this.stopped) return false;
    if (this.kept + bytes > this.max) {
      this.stop();
      return false;
    }
    this.kept += bytes;
    return true;
  }

  stop(): void {
    this.stoppedAt ??= this.received;
  }

  cut(): Completion['cut'] {
    return this.stoppedAt === undefined ? undefined : { kept: this.stoppedAt, total: this.received };
  }
}

/**
 * Splits bytes into lines, across chunk boundaries; decodes UTF-8 per line so no character is split. Only each new
 * chunk is searched for the newline (the unfinished line waits as a list of chunks), and a line longer than the
 * bound stops the copy.
 */
class Lines {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  constructor(
    private readonly bound: Bound,
    private readonly onLine: (line: string) => void,
  ) {}
  push(chunk: Buffer): void {
    this.bound.received += chunk.length;
    let start = 0;
    let nl: number;
    while (!this.bound.stopped && (nl = chunk.indexOf(10, start)) >= 0) {
      // A line within one chunk is decoded in place; one that spans chunks is joined first.
      const line = this.pending.length ? Buffer.concat([...this.pending, chunk.subarray(start, nl)]) : chunk;
      const from = this.pending.length ? 0 : start;
      let to = this.pending.length ? line.length : nl;
      this.pending = [];
      this.pendingBytes = 0;
      if (to - from > this.bound.max) this.bound.stop();
      else {
        if (to > from && line[to - 1] === CR) to--;
        this.onLine(line.toString('utf8', from, to));
      }
      start = nl + 1;
    }
    if (this.bound.stopped) {
      this.pending = [];
      return;
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      // Copied: the caller's buffer may be reused once this returns.
      if (this.pendingBytes > this.bound.max) {
        this.bound.stop();
        this.pending = [];
      } else this.pending.push(Buffer.from(chunk.subarray(start)));
    }
  }
  end(): void {
    if (this.pending.length && !this.bound.stopped) this.onLine(Buffer.concat(this.pending).toString('utf8'));
    this.pending = [];
    this.pendingBytes = 0;
  }
}

const CR = 13;

function bytes(text: string): number {
  return Buffer.byteLength(text);
}

function parse(text: string): Json | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

function sum(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined && b === undefined ? undefined : (a ?? 0) + (b ?? 0);
}

function openAiTokens(usage: unknown): number | undefined {
  if (!isObject(usage)) return undefined;
  return count(usage.total_tokens) ?? sum(count(usage.prompt_tokens), count(usage.completion_tokens));
}

function openAiWhole(doc: Json): Completion {
  const choice = Array.isArray(doc.choices) && isObject(doc.choices[0]) ? doc.choices[0] : {};
  const message = isObject(choice.message) ? choice.message : { role: 'assistant', content: '' };
  return {
    message,
    model: typeof doc.model === 'string' ? doc.model : undefined,
    tokens: openAiTokens(doc.usage),
    finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : undefined,
  };
}

class WholeJsonCapture implements CompletionCapture {
  private chunks: Buffer[] = [];
  constructor(
    private readonly read: (doc: Json) => Completion,
    private readonly bound: Bound,
  ) {}
  push(chunk: Buffer): void {
    this.bound.received += chunk.length;
    if (this.bound.take(chunk.length)) this.chunks.push(Buffer.from(chunk));
    else this.chunks = [];
  }
  finish(): Completion {
    const doc = this.bound.stopped ? undefined : parse(Buffer.concat(this.chunks).toString('utf8'));
    if (doc) return this.read(doc);
    const cut = this.bound.cut();
    return {
      message: { role: 'assistant', content: '' },
      model: undefined,
      tokens: undefined,
      finishReason: undefined,
      ...(cut && { cut }),
    };
  }
}

/** A JSON string literal, exactly as JSON's grammar has it (no raw control characters). */
const JSON_STRING = String.raw`"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"`;
const JSON_NUMBER = String.raw`-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?`;
/**
 * The chunk that carries one token of text, as OpenAI, Ollama's `/v1` and most servers send it (no whitespace,
 * these keys in this order, `usage: null` when usage was asked for): the whole document is matched, so a chunk
 * that matches is valid JSON whose every key is one of these, each once. Groups: the model, the content.
 */
const TOKEN_CHUNK = new RegExp(
  String.raw`^\{"id":${JSON_STRING},"object":"chat\.completion\.chunk","created":${JSON_NUMBER},` +
    String.raw`"model":(${JSON_STRING}),(?:"system_fingerprint":(?:${JSON_STRING}|null),)?` +
    String.raw`"choices":\[\{"index":0,"delta":\{(?:"role":"assistant",)?"content":(${JSON_STRING})\},` +
    String.raw`(?:"logprobs":null,)?"finish_reason":null\}\](?:,"usage":null)?\}$`,
);

/**
 * What the capture reads of a token chunk, without parsing it whole (JSON.parse of each of a stream's chunks was
 * the gateway's largest cost per request): the model and the delta's content. Undefined for any other chunk,
 * which is parsed as JSON.
 */
function tokenChunk(data: string): Json | undefined {
  const m = TOKEN_CHUNK.exec(data);
  if (!m) return undefined;
  return { model: jsonString(m[1]!), choices: [{ delta: { content: jsonString(m[2]!) } }] };
}

/** A JSON string literal's value: its text as it stands when it has no escapes. */
function jsonString(literal: string): string {
  return literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1);
}

interface ToolCallParts {
  id?: string;
  type?: string;
  name: string;
  arguments: string;
}

/** OpenAI chat-completion chunks: content deltas appended, tool calls assembled by index, usage when sent. */
class OpenAiStreamCapture implements CompletionCapture {
  private content = '';
  private refusal = '';
  private readonly toolCalls = new Map<number, ToolCallParts>();
  private model: string | undefined;
  private tokens: number | undefined;
  private finishReason: string | undefined;
  private readonly lines: Lines;

  constructor(
    private readonly bound: Bound,
    private readonly onText?: (text: string) => void,
  ) {
    this.lines = new Lines(bound, (line) => this.onLine(line));
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  private onLine(line: string): void {
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (data === '[DONE]') return;
    const doc = tokenChunk(data) ?? parse(data);
    if (!doc) return;
    if (typeof doc.model === 'string') this.model = doc.model;
    this.tokens = openAiTokens(doc.usage) ?? this.tokens;
    const choice = Array.isArray(doc.choices) && isObject(doc.choices[0]) ? doc.choices[0] : undefined;
    if (!choice) return;
    if (typeof choice.finish_reason === 'string') this.finishReason = choice.finish_reason;
    const delta = isObject(choice.delta) ? choice.delta : {};
    // The text gathered is bounded too: a model that loops, or an upstream that streams forever, stops the copy.
    if (!this.bound.take(typeof delta.content === 'string' ? bytes(delta.content) : 0)) return;
    if (!this.bound.take(typeof delta.refusal === 'string' ? bytes(delta.refusal) : 0)) return;
    if (typeof delta.content === 'string' && delta.content !== '') {
      this.content += delta.content;
      this.onText?.(delta.content);
    }
    if (typeof delta.refusal === 'string') this.refusal += delta.refusal;
    if (!Array.isArray(delta.tool_calls)) return;
    for (const part of delta.tool_calls as unknown[]) {
      if (!isObject(part)) continue;
      const index = count(part.index) ?? this.toolCalls.size;
      const call = this.toolCalls.get(index) ?? { name: '', arguments: '' };
      if (typeof part.id === 'string') call.id = part.id;
      if (typeof part.type === 'string') call.type = part.type;
      const fn = isObject(part.function) ? part.function : {};
      const size =
        (typeof fn.name === 'string' ? bytes(fn.name) : 0) +
        (typeof fn.arguments === 'string' ? bytes(fn.arguments) : 0);
      if (!this.bound.take(size)) return;
      if (typeof fn.name === 'string') call.name += fn.name;
      if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
      this.toolCalls.set(index, call);
    }
  }

  finish(): Completion {
    this.lines.end();
    const message: Json = { role: 'assistant', content: this.content };
    if (this.refusal) message.refusal = this.refusal;
    if (this.toolCalls.size) {
      message.tool_calls = [...this.toolCalls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, c]) => ({
          ...(c.id !== undefined && { id: c.id }),
          type: c.type ?? 'function',
          function: { name: c.name, arguments: c.arguments },
        }));
    }
    const cut = this.bound.cut();
    return {
      message,
      model: this.model,
      tokens: this.tokens,
      finishReason: this.finishReason,
      ...(cut && { cut }),
    };
  }
}

/** Ollama's JSON lines (`/api/chat`: `message` parts; `/api/generate`: `response` parts); counts on the last. */
class OllamaCapture implements CompletionCapture {
  private content = '';
  private thinking = '';
  private readonly toolCalls: unknown[] = [];
  private images: unknown;
  private model: string | undefined;
  private tokens: number | undefined;
  private finishReason: string | undefined;
  private readonly lines: Lines;

  constructor(
    private readonly kind: CompletionKind,
    private readonly bound: Bound,
    private readonly onText?: (text: string) => void,
  ) {
    this.lines = new Lines(bound, (line) => this.onLine(line));
  }

  push(chunk: Buffer): void {
    this.lines.push(chunk);
  }

  private onLine(line: string): void {
    const doc = parse(line);
    if (!doc) return;
    if (typeof doc.model === 'string') this.model = doc.model;
    const part = this.kind === 'ollama-chat' ? (isObject(doc.message) ? doc.message : {}) : doc;
    const text = this.kind === 'ollama-chat' ? part.content : doc.response;
    // Tool calls and images are counted by the line that carried them (within a few bytes of their own size).
    const extra = Array.isArray(part.tool_calls) || (part.images !== undefined && part.images !== null);
    const size =
      (typeof text === 'string' ? bytes(text) : 0) +
      (typeof part.thinking === 'string' ? bytes(part.thinking) : 0) +
      (extra ? bytes(line) : 0);
    if (!this.bound.take(size)) return;
    if (typeof text === 'string' && text !== '') {
      this.content += text;
      this.onText?.(text);
    }
    if (typeof part.thinking === 'string') this.thinking += part.thinking;
    if (Array.isArray(part.tool_calls)) this.toolCalls.push(...(part.tool_calls as unknown[]));
    if (part.images !== undefined && part.images !== null) this.images = part.images;
    if (doc.done === true) {
      this.tokens = sum(count(doc.prompt_eval_count), count(doc.eval_count));
      this.finishReason = typeof doc.done_reason === 'string' ? doc.done_reason : 'stop';
    }
  }

  finish(): Completion {
    this.lines.end();
    const message: Json = { role: 'assistant', content: this.content };
    if (this.thinking) message.thinking = this.thinking;
    if (this.toolCalls.length) message.tool_calls = this.toolCalls;
    if (this.images !== undefined) message.images = this.images;
    const cut = this.bound.cut();
    return {
      message,
      model: this.model,
      tokens: this.tokens,
      finishReason: this.finishReason,
      ...(cut && { cut }),
    };
  }
}
