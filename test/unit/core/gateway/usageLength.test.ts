// The usage the gateway asks for on a client's behalf must never cost the client its answer: a streamed answer
// whose usage chunk is taken out loses the upstream's Content-Length, and an upstream that refuses
// `stream_options` is asked again without it.

import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Gateway } from '../../../../src/core/gateway/gateway';
import { LearningPipeline } from '../../../../src/core/pipeline';
import { DEFAULT_GATEWAY_ACCESS } from '../../../../src/core/workspace/gatewayConfig';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';

const SSE = [
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"hi"},"finish_reason":null}]}\n\n',
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n',
  'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}\n\n',
  'data: [DONE]\n\n',
].join('');

describe('gateway: an SSE upstream that sends Content-Length (not chunked)', () => {
  it('answers the client without the upstream length once the usage chunk is taken out, and the client gets every other byte', async () => {
    const upstream = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'content-length': Buffer.byteLength(SSE) });
        res.end(SSE);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const ws = makeWorkspace();
    writeAgentFile(ws, 'learning-config.json', { gateway: { port: 0 } });
    const pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {} });
    const gateway = new Gateway({
      recorder: pipeline,
      ollamaHost: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      access: () => ({ ...DEFAULT_GATEWAY_ACCESS }),
      log: () => {},
    });
    try {
      const url = await gateway.start();
      const answer = await new Promise<{ length: string | undefined; body: string }>((resolve, reject) => {
        const req = http.request(
          new URL('/v1/chat/completions', url),
          { method: 'POST', headers: { 'content-type': 'application/json' } },
          (res) => {
            let body = '';
            res.on('data', (d: Buffer) => (body += d.toString()));
            res.on('end', () => resolve({ length: res.headers['content-length'], body }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }));
      });

      assert.equal(answer.length, undefined);
      assert.equal(answer.body, SSE.replace(/data: \{[^\n]*"usage"[^\n]*\n\n/, ''));
    } finally {
      await gateway.stop();
      await pipeline.close();
      upstream.close();
      removeWorkspace(ws);
    }
  });

  it('asks an upstream that refuses stream_options again without it, and then never adds it for that upstream', async () => {
    const seen: unknown[] = [];
    const bodies: string[] = [];
    const upstream = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const parsed = JSON.parse(body) as { stream_options?: unknown };
        seen.push(parsed.stream_options);
        bodies.push(body);
        if (parsed.stream_options !== undefined) {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { message: "Unknown parameter: 'stream_options'." } }));
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(SSE);
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const ws = makeWorkspace();
    writeAgentFile(ws, 'learning-config.json', { gateway: { port: 0 } });
    const pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {} });
    const logs: string[] = [];
    const gateway = new Gateway({
      recorder: pipeline,
      ollamaHost: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`,
      access: () => ({ ...DEFAULT_GATEWAY_ACCESS }),
      log: (l) => logs.push(l),
    });
    try {
      const url = await gateway.start();
      // Spacing and a number past 2^53 that a re-serialisation would rewrite.
      const sent =
        '{ "model": "m", "stream": true, "seed": 12345678901234567890, "messages": [{"role": "user", "content": "x"}] }';
      const ask = () =>
        new Promise<{ status: number | undefined; body: string }>((resolve, reject) => {
          const req = http.request(
            new URL('/v1/chat/completions', url),
            { method: 'POST', headers: { 'content-type': 'application/json' } },
            (res) => {
              let body = '';
              res.on('data', (d: Buffer) => (body += d.toString()));
              res.on('end', () => resolve({ status: res.statusCode, body }));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end(sent);
        });

      const first = await ask();
      const second = await ask();

      assert.deepEqual([first.status, second.status], [200, 200]);
      assert.equal(first.body, SSE, 'the answer as the upstream sent it to a request without stream_options');
      assert.deepEqual(seen, [{ include_usage: true }, undefined, undefined], 'asked once, then never');
      assert.deepEqual(bodies.slice(1), [sent, sent], "asked again with the client's own bytes");
      assert.equal(logs.filter((l) => l.includes('refuses stream_options')).length, 1);
      await gateway.whenIdle();
      await pipeline.flush();
      assert.equal(pipeline.listRuns().runs.length, 2, 'both recorded');
    } finally {
      await gateway.stop();
      await pipeline.close();
      upstream.close();
      removeWorkspace(ws);
    }
  });
});
