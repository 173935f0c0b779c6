// The capture of a streamed OpenAI answer: the token chunks it reads without parsing them whole must give exactly
// what JSON.parse gives, whatever their text holds, and every other chunk is parsed.

import assert from 'node:assert/strict';
import { captureFor } from '../../../../src/core/gateway/capture';
import { mulberry32 } from '../../../support/random';

type Json = Record<string, unknown>;

/** What a stream's chunks say, read with JSON.parse: the text, the last model, the finish reason, the usage. */
function expected(payloads: string[]) {
  let content = '';
  let model: string | undefined;
  let finishReason: string | undefined;
  let tokens: number | undefined;
  for (const p of payloads) {
    let doc: unknown;
    try {
      doc = JSON.parse(p);
    } catch {
      continue;
    }
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) continue;
    const d = doc as Json;
    if (typeof d.model === 'string') model = d.model;
    const usage = d.usage as Json | null | undefined;
    if (usage && typeof usage.total_tokens === 'number') tokens = usage.total_tokens;
    const choice = Array.isArray(d.choices) ? (d.choices[0] as Json | undefined) : undefined;
    if (!choice || typeof choice !== 'object') continue;
    if (typeof choice.finish_reason === 'string') finishReason = choice.finish_reason;
    const delta = choice.delta as Json | undefined;
    if (delta && typeof delta.content === 'string') content += delta.content;
  }
  return { content, model, finishReason, tokens };
}

function captured(payloads: string[]) {
  const capture = captureFor('openai-chat', 'text/event-stream', Infinity);
  capture.push(Buffer.from(payloads.map((p) => `data: ${p}\n\n`).join('') + 'data: [DONE]\n\n'));
  const c = capture.finish();
  return { content: c.message.content, model: c.model, finishReason: c.finishReason, tokens: c.tokens };
}

/** A token chunk as OpenAI sends it (keys in its order, no whitespace). */
const chunk = (content: unknown, model = 'gpt-x', extra = '') =>
  `{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":${JSON.stringify(model)},` +
  `"system_fingerprint":"fp_1","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},` +
  `"logprobs":null,"finish_reason":null}]${extra}}`;

describe('gateway capture of a streamed OpenAI answer', () => {
  it('reads token chunks exactly as JSON.parse does, whatever their text holds', () => {
    const random = mulberry32(13);
    const alphabet = [
      'a',
      ' ',
      '"',
      '\\',
      '/',
      '\n',
      '\t',
      '\u0000',
      '\u001f',
      'é',
      '€',
      '😀',
      '\u2028',
      '}',
      ']',
      ',',
    ];
    const text = () =>
      Array.from(
        { length: Math.floor(random() * 12) },
        () => alphabet[Math.floor(random() * alphabet.length)],
      ).join('');
    for (let round = 0; round < 200; round++) {
      const payloads = Array.from({ length: 20 }, () => chunk(text(), text()));
      // Escapes JSON.stringify does not write: \u for any character, \/ for a slash.
      payloads.push(chunk('x').replace('"content":"x"', '"content":"\\u0041\\/\\u00e9\\ud83d\\ude00"'));
      assert.deepEqual(captured(payloads), expected(payloads), `round ${round}`);
    }
  });

  it('parses any other chunk whole: the last of two model keys, other keys, spaces, a finish, usage', () => {
    const payloads = [
      chunk('a').replace('"model":"gpt-x"', '"model":"first","model":"second"'),
      chunk('b').replace('"delta":{', '"delta":{"refusal":null,'),
      chunk('c').replace('"content":"c"', '"content": "c"'),
      chunk('d').replace('"model"', '"\\u006dodel"'),
      chunk(7),
      chunk('e').replace('"finish_reason":null', '"finish_reason":"length"'),
      chunk('f', 'gpt-x', ',"usage":null'),
      '{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-x","choices":[],' +
        '"usage":{"prompt_tokens":3,"completion_tokens":6,"total_tokens":9}}',
      chunk('g').slice(0, -1), // cut short: not JSON
    ];
    const got = captured(payloads);
    assert.deepEqual(got, expected(payloads));
    assert.deepEqual(got, { content: 'abcdef', model: 'gpt-x', finishReason: 'length', tokens: 9 });
  });
});
