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

/**
 * Passes server-sent events through, less the usage-only chunk (`choices: []` with a `usage` object) the gateway
 * asked for. Events are passed whole, as soon as their closing blank line arrives; bytes of an unfinished event wait
 * for the rest (an upstream sends each chunk's event in one piece, so in practice nothing waits).
 */
export class UsageChunkFilter {
  private pending: Buffer = Buffer.alloc(0);

  /** The bytes to send on for `chunk`: every event it completes, except the usage chunk. */
  push(chunk: Buffer): Buffer {
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const end = lastEventEnd(data);
    if (end < 0) {
      // Copied: the caller's buffer may be reused once this returns.
      this.pending = Buffer.from(data);
      return Buffer.alloc(0);
    }
    this.pending = Buffer.from(data.subarray(end));
    const complete = data.subarray(0, end);
    // The usage chunk is one event among many: only a part that names `usage` is looked at closely.
    if (complete.indexOf('"usage"') < 0) return complete;
    const kept = splitEvents(complete.toString('utf8')).filter((event) => !isUsageOnly(event));
    return Buffer.from(kept.join(''), 'utf8');
  }

  /** What is left when the upstream's answer ends (an event without its closing blank line), passed as it came. */
  end(): Buffer {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    return rest;
  }
}

/** The offset just past the last blank line (`\n\n` or `\r\n\r\n`) in `data`, or -1. */
function lastEventEnd(data: Buffer): number {
  const lf = data.lastIndexOf('\n\n');
  const crlf = data.lastIndexOf('\r\n\r\n');
  return Math.max(lf < 0 ? -1 : lf + 2, crlf < 0 ? -1 : crlf + 4);
}

/** Complete events, each with its closing blank line. */
function splitEvents(text: string): string[] {
  return text.split(/(?<=\r?\n\r?\n)/);
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
