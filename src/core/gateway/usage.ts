// Token counts for streamed OpenAI requests whose client did not ask for them. An OpenAI-compatible server sends the
// usage of a stream only when asked (`stream_options.include_usage`), in one extra chunk whose `choices` is empty;
// most agents (Aider, for one) stream without asking, so their runs would carry no cost. The gateway asks for them,
// and takes that extra chunk out of what the client gets, so the client sees the stream it asked for.

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The body to forward for a streamed `/v1/chat/completions` request that does not ask for usage: the same, asking.
 * Undefined when nothing needs to change (not streamed, or the client asked itself).
 */
export function withUsageRequested(body: Json): Json | undefined {
  if (body.stream !== true) return undefined;
  const options = isObject(body.stream_options) ? body.stream_options : {};
  if (options.include_usage === true) return undefined;
  return { ...body, stream_options: { ...options, include_usage: true } };
}

/** What withUsageRequestedBytes adds to a request: the object's first member. */
const USAGE_MEMBER = Buffer.from('"stream_options":{"include_usage":true},');
const OPEN_BRACE = 0x7b;

/**
 * withUsageRequested on the request's own bytes (`bytes`, which parse to `body`): `"stream_options":
 * {"include_usage":true}` added as the object's first member, every other byte as the client sent it, where a
 * re-serialisation would rewrite numbers past 2^53, escapes and spacing, and cost a long conversation far more.
 * Undefined when nothing needs to change, or the body has a `stream_options` of its own (withUsageRequested merges
 * into it).
 */
export function withUsageRequestedBytes(bytes: Buffer, body: Json): Buffer | undefined {
  // `stream: true`: the object has a member, which the added one's comma goes before.
  if (body.stream !== true || body.stream_options !== undefined) return undefined;
  let at = 0;
  while (at < bytes.length && isJsonSpace(bytes[at]!)) at++;
  if (bytes[at] !== OPEN_BRACE) return undefined;
  return Buffer.concat([bytes.subarray(0, at + 1), USAGE_MEMBER, bytes.subarray(at + 1)]);
}

/** JSON's whitespace: space, tab, line feed, carriage return. */
function isJsonSpace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d;
}

/**
 * Passes server-sent events through, less the usage-only chunk (`choices: []` with a `usage` object) the gateway
 * asked for. Events are passed whole, as soon as their closing blank line arrives; bytes of an unfinished event wait
 * for the rest (an upstream sends each chunk's event in one piece, so in practice nothing waits). The bytes kept are
 * the upstream's own: only an event that names `usage` is decoded and looked at, and the rest is passed as it came.
 */
export class UsageChunkFilter {
  private pending: Buffer = EMPTY;

  /** The bytes to send on for `chunk`: every event it completes, except the usage chunk. */
  push(chunk: Buffer): Buffer {
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = lastEventEnd(data);
    if (end < 0) {
      // Copied: the caller's buffer may be reused once this returns.
      this.pending = Buffer.from(data);
      return EMPTY;
    }
    this.pending = end === data.length ? EMPTY : Buffer.from(data.subarray(end));
    return withoutUsageOnly(data.subarray(0, end));
  }

  /** What is left when the upstream's answer ends (an event without its closing blank line), passed as it came. */
  end(): Buffer {
    const rest = this.pending;
    this.pending = EMPTY;
    return rest;
  }
}

const EMPTY = Buffer.alloc(0);
const USAGE = Buffer.from('"usage"');
const NULL_USAGE = Buffer.from('"usage":null');
const LF = 10;
const CR = 13;

/** The offset just past the last blank line (`\n\n` or `\r\n\r\n`) in `data`, or -1. */
function lastEventEnd(data: Buffer): number {
  const lf = data.lastIndexOf('\n\n');
  // A later CRLF blank line can only lie after the last LF one: only that tail is searched (not all of a long
  // answer that has none).
  const from = Math.max(0, lf);
  const crlf = data.subarray(from).lastIndexOf('\r\n\r\n');
  return Math.max(lf < 0 ? -1 : lf + 2, crlf < 0 ? -1 : from + crlf + 4);
}

/**
 * `complete` (whole events) less its usage-only events. An event runs from one blank line (`\r?\n\r?\n`) to the
 * next; only the events around an occurrence of `"usage"` are decoded, so a long answer costs one search.
 */
function withoutUsageOnly(complete: Buffer): Buffer {
  let at = complete.indexOf(USAGE);
  if (at < 0) return complete;
  const kept: Buffer[] = [];
  let copied = 0;
  while (at >= 0) {
    // `"usage":null` (OpenAI names it in every chunk of a stream that asked for usage) cannot make its event the
    // usage chunk: only another mention of the key, one with an object, can.
    if (
      at + NULL_USAGE.length <= complete.length &&
      complete.compare(NULL_USAGE, 0, NULL_USAGE.length, at, at + NULL_USAGE.length) === 0
    ) {
      at = complete.indexOf(USAGE, at + NULL_USAGE.length);
      continue;
    }
    const start = eventStart(complete, at);
    const end = eventEnd(complete, at);
    if (isUsageOnly(complete.toString('utf8', start, end))) {
      kept.push(complete.subarray(copied, start));
      copied = end;
    }
    at = complete.indexOf(USAGE, end);
  }
  if (copied === 0) return complete;
  kept.push(complete.subarray(copied));
  return Buffer.concat(kept);
}

/** Whether `data[i]` is the newline that closes a blank line (`\n\n`, `\n\r\n`, `\r\n\n`, `\r\n\r\n`). */
function closesBlankLine(data: Buffer, i: number): boolean {
  if (data[i] !== LF) return false;
  const before = data[i - 1] === CR ? i - 2 : i - 1;
  return before >= 0 && data[before] === LF;
}

/** The start of the event holding the byte at `at`: just past the last blank line before it, or 0. */
function eventStart(data: Buffer, at: number): number {
  for (let i = at - 1; i > 0; i--) if (closesBlankLine(data, i)) return i + 1;
  return 0;
}

/** The end of the event holding the byte at `at`: just past the blank line that closes it, or the data's end. */
function eventEnd(data: Buffer, at: number): number {
  for (let i = data.indexOf(LF, at); i >= 0; i = data.indexOf(LF, i + 1))
    if (closesBlankLine(data, i)) return i + 1;
  return data.length;
}

function isUsageOnly(event: string): boolean {
  const lines = event.split(/\r?\n/).filter((l) => l.startsWith('data:'));
  if (lines.length === 0) return false;
  try {
    const doc: unknown = JSON.parse(lines.map((l) => l.slice(5).trim()).join('\n'));
    return isObject(doc) && Array.isArray(doc.choices) && doc.choices.length === 0 && isObject(doc.usage);
  } catch {
    return false;
  }
}
