import assert from 'node:assert/strict';
import {
  UsageChunkFilter,
  withUsageRequested,
  withUsageRequestedBytes,
} from '../../../../src/core/gateway/usage';

const event = (doc: object | string) => `data: ${typeof doc === 'string' ? doc : JSON.stringify(doc)}\n\n`;
const text = event({ id: 'c', choices: [{ index: 0, delta: { content: 'hi "usage"' } }], usage: null });
const usage = event({
  id: 'c',
  choices: [],
  usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 },
});
const done = event('[DONE]');

/** What the client gets when the upstream's bytes arrive cut at `cuts`. */
function through(stream: string, cuts: number[]): string {
  const filter = new UsageChunkFilter();
  const bytes = Buffer.from(stream, 'utf8');
  const out: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(filter.push(bytes.subarray(at, cut)));
    at = cut;
  }
  out.push(filter.end());
  return Buffer.concat(out).toString('utf8');
}

describe('gateway usage request', () => {
  it('asks for usage on a streamed request only, keeping the other stream options', () => {
    assert.equal(withUsageRequested({ model: 'm', messages: [] }), undefined);
    assert.equal(withUsageRequested({ stream: true, stream_options: { include_usage: true } }), undefined);
    assert.deepEqual(withUsageRequested({ model: 'm', stream: true, stream_options: { x: 1 } }), {
      model: 'm',
      stream: true,
      stream_options: { x: 1, include_usage: true },
    });
  });

  it("asks for usage in the request's own bytes: one member added first, every other byte as it came", () => {
    const sent = '\r\n\t {"stream" : true, "seed": 12345678901234567890, "t": 1.0, "c": "\\u00e9"}\n';
    const asked = withUsageRequestedBytes(Buffer.from(sent), JSON.parse(sent) as Record<string, unknown>);
    assert.equal(
      asked?.toString(),
      '\r\n\t {"stream_options":{"include_usage":true},"stream" : true, "seed": 12345678901234567890, "t": 1.0, "c": "\\u00e9"}\n',
    );
    assert.deepEqual(
      JSON.parse(asked!.toString()),
      withUsageRequested(JSON.parse(sent) as Record<string, unknown>),
    );
    // Nothing to ask, or stream_options of the client's own to merge into (withUsageRequested's work).
    for (const body of [
      '{"stream":false}',
      '{"model":"m"}',
      '{"stream":true,"stream_options":{"include_usage":true}}',
      '{"stream":true,"stream_options":{"x":1}}',
      '{"stream":true,"stream_options":null}',
    ]) {
      assert.equal(
        withUsageRequestedBytes(Buffer.from(body), JSON.parse(body) as Record<string, unknown>),
        undefined,
        body,
      );
    }
  });

  it('drops the usage-only chunk and passes every other byte, wherever the chunks are cut', () => {
    const stream = text + usage + done;
    const bytes = Buffer.byteLength(stream);
    for (let cut = 0; cut <= bytes; cut++) {
      assert.equal(through(stream, [cut]), text + done, `cut at ${cut}`);
    }
    assert.equal(
      through(
        stream,
        Array.from({ length: bytes }, (_, i) => i),
      ),
      text + done,
      'one byte at a time',
    );
  });

  it("passes the upstream's own bytes, invalid UTF-8 included, when it drops the usage chunk beside them", () => {
    const filter = new UsageChunkFilter();
    // A byte that is not UTF-8 (0xff) in an event before the usage chunk, all in one read: decoding and
    // re-encoding the events would hand the client U+FFFD (three other bytes) in its place.
    const before = Buffer.concat([
      Buffer.from('data: {"choices":[{"delta":{"content":"a'),
      Buffer.from([0xff]),
    ]);
    const odd = Buffer.concat([before, Buffer.from('"}}]}\n\n')]);
    const out = Buffer.concat([filter.push(Buffer.concat([odd, Buffer.from(usage + done)])), filter.end()]);
    assert.deepEqual(out, Buffer.concat([odd, Buffer.from(done)]));
  });

  it('passes an event that names "usage" near the end of a read, which is no usage chunk, without throwing', () => {
    for (const event of ['data: {"type":"usage"}\n\n', ': keepalive "usage"\n\n', 'data: "usage"\n\n']) {
      const filter = new UsageChunkFilter();
      const out = Buffer.concat([filter.push(Buffer.from(event)), filter.end()]);
      assert.equal(out.toString(), event);
    }
  });

  it('drops the usage chunk from an answer of many events in one read, and keeps every event around it', () => {
    const tokens = Array.from({ length: 300 }, (_, i) =>
      event({ id: 'c', choices: [{ index: 0, delta: { content: `w${i} ` } }], usage: null }),
    ).join('');
    const filter = new UsageChunkFilter();
    const out =
      filter.push(Buffer.from(tokens + usage + text + done)).toString('utf8') + filter.end().toString();
    assert.equal(out, tokens + text + done);
  });

  it('drops the usage chunk of a stream whose every chunk says "usage":null, as OpenAI sends it', () => {
    const nulls = Array.from({ length: 50 }, (_, i) =>
      event({ id: 'c', choices: [{ index: 0, delta: { content: `w${i}` } }], usage: null }),
    ).join('');
    // A chunk that names usage twice is read as JSON reads it: the last one counts.
    const twice = 'data: {"id":"c","choices":[],"usage":null,"usage":{"total_tokens":4}}\n\n';
    const lastNull = 'data: {"id":"c","choices":[],"usage":{"total_tokens":4},"usage":null}\n\n';
    const stream = nulls + lastNull + usage + twice + done;
    assert.equal(through(stream, []), nulls + lastNull + done);
    assert.equal(through(stream, [100, 1000, Buffer.byteLength(nulls) + 30]), nulls + lastNull + done);
  });

  it('understands CRLF events, keeps comments and events it cannot parse, and passes an unfinished tail', () => {
    const crlf = (s: string) => s.replace(/\n/g, '\r\n');
    const stream =
      ': keep-alive\n\n' + crlf(text) + crlf(usage) + 'data: {"usage": \n\n' + crlf(done) + 'data: tail';
    assert.equal(
      through(stream, [5, 40]),
      ': keep-alive\n\n' + crlf(text) + 'data: {"usage": \n\n' + crlf(done) + 'data: tail',
    );
  });
});
