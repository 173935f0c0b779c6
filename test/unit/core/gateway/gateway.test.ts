import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import * as net from 'node:net';
import {
  Gateway,
  UpstreamError,
  type GatewayOptions,
  type GatewayRun,
} from '../../../../src/core/gateway/gateway';
import {
  CHAT_ROLE,
  chatHeaders,
  chatModels,
  chatRequestBody,
  toolCallsOf,
} from '../../../../src/core/gateway/chatModels';
import { captureFor } from '../../../../src/core/gateway/capture';
import { isCut } from '../../../../src/core/store/storedText';
import { DEFAULT_GATEWAY_ACCESS, type GatewayAccess } from '../../../../src/core/workspace/gatewayConfig';
import { LearningPipeline } from '../../../../src/core/pipeline';
import { startChatUpstream, type ChatUpstream } from '../../../support/chatUpstream';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';
import { savedRunsWithTexts } from '../../../support/savedRuns';
import {
  REPLY,
  startClosingUpstream,
  type ClosingUpstream,
  type Fate,
} from '../../../support/closingUpstream';
import { holdFdatasync } from '../../../support/heldFdatasync';

const KEY = 'sk-test-0123456789abcdefSECRET';

interface StoredRun {
  id: string;
  source: string | null;
  role: string;
  task_slug: string;
  model_id: string;
  prompt_id: string;
  complexity: string | null;
  cost_tokens: number | null;
  duration_ms: number | null;
  reward: number;
  input: string;
  output: string;
}

describe('gateway (upstream: a loopback stand-in for Ollama and an OpenAI-compatible server)', () => {
  let ws: string;
  let upstream: ChatUpstream;
  let pipeline: LearningPipeline;
  let gateway: Gateway;
  let url: string;
  let logs: string[];
  let captured: GatewayRun[];

  /** The gateway on the workspace config's `gateway` section, with the user's `access` settings and options. */
  async function open(
    config: object = {},
    access: Partial<GatewayAccess> = {},
    options: Partial<GatewayOptions> = {},
    rest: object = {},
  ): Promise<void> {
    writeAgentFile(ws, 'learning-config.json', { gateway: { port: 0, ...config }, ...rest });
    logs = [];
    captured = [];
    const log = (line: string) => logs.push(line);
    pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log });
    gateway = new Gateway({
      recorder: pipeline,
      ollamaHost: upstream.host,
      access: () => ({ ...DEFAULT_GATEWAY_ACCESS, ...access }),
      log,
      ...options,
    });
    gateway.onDidCapture((run) => captured.push(run));
    url = await gateway.start();
  }

  beforeEach(async () => {
    ws = makeWorkspace();
    upstream = await startChatUpstream();
  });

  afterEach(async () => {
    await gateway?.stop();
    await pipeline?.close();
    await upstream.stop();
    removeWorkspace(ws);
  });

  /** Every run as saved in .agent/experience.db, read with an independent SQLite. */
  async function storedRuns(): Promise<StoredRun[]> {
    await gateway.whenIdle();
    await pipeline.flush();
    return savedRunsWithTexts(path.join(ws, '.agent')) as unknown as StoredRun[];
  }

  function openai(headers: Record<string, string> = {}): OpenAI {
    return new OpenAI({ baseURL: `${url}/v1`, apiKey: 'not-used', defaultHeaders: headers, maxRetries: 0 });
  }

  function ollama(): Ollama {
    return new Ollama({ host: url });
  }

  /** A raw request, for headers that fetch-based clients cannot set (Host) or browsers add (Origin). */
  function raw(
    method: string,
    pathname: string,
    headers: http.OutgoingHttpHeaders,
    body?: string | Buffer,
  ): Promise<{ status: number; body: string }> {
    const target = new URL(pathname, url);
    return new Promise((resolve, reject) => {
      const req = http.request(target, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString('utf8') }),
        );
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  /** Bytes written to the gateway as they are (request lines no HTTP client sends); its answer until it closes. */
  function rawSocket(text: string): Promise<string> {
    const { port } = new URL(url);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => socket.end(text));
      const chunks: Buffer[] = [];
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      socket.on('error', reject);
    });
  }

  describe('OpenAI dialect, with the openai client', () => {
    beforeEach(() => open());

    it('answers a chat completion as the upstream did and records it with the conversation, usage and model', async () => {
      const messages = [
        { role: 'system' as const, content: 'You write TypeScript.' },
        { role: 'user' as const, content: 'Add two numbers.' },
      ];
      const answer = await openai({ 'X-Agent-Learning-Task': 'add-numbers' }).chat.completions.create({
        model: 'qwen2.5-coder:7b',
        messages,
      });
      assert.equal(answer.choices[0]!.message.content, 'Hello from the stand-in');
      assert.equal(answer.usage?.total_tokens, 15);
      assert.equal(answer.system_fingerprint, 'fp_standin', 'unknown fields reach the client');

      const [run] = await storedRuns();
      assert.ok(run);
      assert.deepEqual(JSON.parse(run.input), { messages });
      assert.deepEqual(JSON.parse(run.output), { role: 'assistant', content: 'Hello from the stand-in' });
      assert.equal(run.model_id, 'qwen2.5-coder:7b');
      assert.equal(run.role, 'coder');
      assert.equal(run.task_slug, 'add-numbers');
      assert.equal(run.prompt_id, 'client');
      assert.equal(run.cost_tokens, 15, 'usage.total_tokens → costTokens');
      assert.ok(run.duration_ms !== null && run.duration_ms >= 0);
      assert.equal(
        upstream.requests[0]!.headers['x-agent-learning-task'],
        undefined,
        'our headers stay here',
      );
    });

    it('streams server-sent events through and records the run once, when the stream ends', async () => {
      const stream = await openai().chat.completions.create({
        model: 'qwen2.5-coder:7b',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      let text = '';
      let usage: number | undefined;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta.content ?? '';
        usage = chunk.usage?.total_tokens ?? usage;
      }
      assert.equal(text, 'Hello from the stand-in');
      assert.equal(usage, 15);
      const runs = await storedRuns();
      assert.equal(runs.length, 1);
      assert.equal(JSON.parse(runs[0]!.output).content, 'Hello from the stand-in');
      assert.equal(runs[0]!.cost_tokens, 15);
    });

    it('passes a stream byte for byte, the tokens of one read in one chunk rather than one chunk each', async () => {
      // The client's work grows with the chunks it is sent: an SSE upstream sends one per token.
      const body = JSON.stringify({
        model: 'qwen2.5-coder:7b',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const chunked = (base: string) =>
        new Promise<{ body: Buffer; chunks: number }>((resolve, reject) => {
          const req = http.request(
            `${base}/v1/chat/completions`,
            { method: 'POST', headers: { 'content-type': 'application/json' } },
            (res) => {
              const parts: Buffer[] = [];
              res.on('data', (c: Buffer) => parts.push(c));
              res.on('end', () => resolve({ body: Buffer.concat(parts), chunks: parts.length }));
            },
          );
          req.on('error', reject);
          req.end(body);
        });
      const direct = await chunked(upstream.url);
      const through = await chunked(url);
      assert.deepEqual(through.body, direct.body);
      assert.ok(direct.chunks >= 8, `the stand-in sends a chunk per event (${direct.chunks})`);
      assert.ok(through.chunks < direct.chunks / 2, `${through.chunks} chunks through the gateway`);
      assert.equal((await storedRuns()).length, 1);
    });

    it('relays the first token while the upstream still holds the rest of the answer', async () => {
      // Nothing on the way waits for a later event: not the batching of a read's chunks, not the usage filter (the
      // gateway asks this stream for its usage), not the run's copy. A gateway that did would leave this test
      // waiting for a token the upstream sends only once the client has the first.
      const stream = await openai().chat.completions.create({
        model: 'held-model',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      });
      let text = '';
      for await (const chunk of stream) {
        const piece = chunk.choices[0]?.delta.content ?? '';
        if (piece !== '' && text === '') {
          assert.equal(piece, 'Hello ');
          upstream.release();
        }
        text += piece;
        assert.equal(
          chunk.usage ?? undefined,
          undefined,
          'the usage chunk the gateway asked for stays with it',
        );
      }
      assert.equal(text, 'Hello from the stand-in');
      const [run] = await storedRuns();
      assert.equal(JSON.parse(run!.output).content, 'Hello from the stand-in');
      assert.equal(run!.cost_tokens, 15);
    });

    it('sends requests one after another over one kept-alive connection to the upstream', async () => {
      // A connection per request would cost each answer a TCP handshake before its first token, which a client
      // talking to the upstream directly (and keeping its connection alive) does not pay. The client here closes
      // its own connection after each answer: the gateway's to the upstream stays all the same.
      for (const stream of [false, true, false]) {
        const body = JSON.stringify({
          model: 'qwen2.5-coder:7b',
          messages: [{ role: 'user', content: 'hi' }],
          stream,
        });
        const answer = await raw(
          'POST',
          '/v1/chat/completions',
          { 'content-type': 'application/json', connection: 'close' },
          body,
        );
        assert.equal(answer.status, 200);
      }
      assert.equal(upstream.requests.length, 3);
      assert.equal(upstream.connections, 1);
      assert.equal((await storedRuns()).length, 3);
    });

    it('answers without waiting on the disk, and tells of a run only once its fdatasync (shared, async) ended', async () => {
      const inbox = fs.realpathSync(path.join(ws, '.agent', 'inbox'));
      // The first fdatasync is held until the test lets it go; any later one goes through.
      const held = holdFdatasync((file) => file.startsWith(inbox), 1);
      try {
        const ask = (content: string) =>
          openai().chat.completions.create({
            model: 'qwen2.5-coder:7b',
            messages: [{ role: 'user', content }],
          });
        const answers = await Promise.all([ask('one'), ask('two')]);
        assert.deepEqual(
          answers.map((a) => a.choices[0]?.message.content),
          ['Hello from the stand-in', 'Hello from the stand-in'],
        );
        await held.held(1);
        assert.equal(captured.length, 0, 'no run told of while its fdatasync runs');
        held.syncs[0]!.finish();
        await gateway.whenIdle();
        assert.equal(captured.length, 2);
        assert.ok(held.calls <= 2, `${held.calls} fdatasyncs for two runs`);
        assert.equal(held.syncCalls, 0, 'the event loop never waited on the disk');
      } finally {
        held.restore();
      }
    });

    it("records a stream's token counts when the client did not ask for them, and does not hand it the usage chunk", async () => {
      // Aider, like most agents, streams without stream_options: the run had no cost.
      const request = {
        model: 'qwen2.5-coder:7b',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { continuous_usage_stats: false },
      };
      const answer = await raw(
        'POST',
        '/v1/chat/completions',
        { host: 'localhost', 'content-type': 'application/json' },
        JSON.stringify(request),
      );
      assert.equal(answer.status, 200);
      const events = answer.body.split('\n\n').filter((e) => e !== '');
      assert.equal(events.at(-1), 'data: [DONE]');
      const chunks = events
        .slice(0, -1)
        .map((e) => JSON.parse(e.slice('data: '.length)) as Record<string, unknown>);
      assert.ok(chunks.length > 0 && chunks.every((c) => Array.isArray(c.choices) && c.choices.length === 1));
      assert.ok(!answer.body.includes('"usage"'), 'the client gets the stream it asked for');
      assert.deepEqual(upstream.requests[0]!.body?.stream_options, {
        continuous_usage_stats: false,
        include_usage: true,
      });
      const [run] = await storedRuns();
      assert.equal(run?.cost_tokens, 15);
      assert.equal(JSON.parse(run.output).content, 'Hello from the stand-in');
      assert.deepEqual(JSON.parse(run.input), { messages: request.messages });

      // With the openai client too.
      let text = '';
      for await (const chunk of await openai().chat.completions.create({
        model: 'qwen2.5-coder:7b',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      })) {
        assert.equal(chunk.usage, undefined);
        text += chunk.choices[0]!.delta.content ?? '';
      }
      assert.equal(text, 'Hello from the stand-in');
      assert.equal((await storedRuns())[1]?.cost_tokens, 15);
    });

    it('passes tool definitions, tool calls and tool results through and records them, streamed and not', async () => {
      const tools = [
        {
          type: 'function' as const,
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ];
      const messages = [
        { role: 'user' as const, content: 'Weather in Paris?' },
        {
          role: 'assistant' as const,
          content: null,
          tool_calls: [
            { id: 'call_0', type: 'function' as const, function: { name: 'get_weather', arguments: '{}' } },
          ],
        },
        { role: 'tool' as const, tool_call_id: 'call_0', content: 'Sunny' },
      ];
      const whole = await openai().chat.completions.create({ model: 'tool-model', messages, tools });
      assert.equal(whole.choices[0]!.message.tool_calls?.[0]?.id, 'call_standin_1');

      const stream = await openai().chat.completions.create({
        model: 'tool-model',
        messages,
        tools,
        stream: true,
      });
      for await (const chunk of stream) void chunk;
      const runs = await storedRuns();
      assert.equal(runs.length, 2);
      for (const run of runs) {
        assert.deepEqual(
          JSON.parse(run.input),
          { messages, tools },
          'the tool result is in the recorded input',
        );
        const out = JSON.parse(run.output) as { tool_calls: unknown[] };
        assert.deepEqual(out.tool_calls, [
          {
            id: 'call_standin_1',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
          },
        ]);
      }
      assert.deepEqual(upstream.requests[0]!.body?.messages, messages, 'forwarded unchanged');

      // Accepted, the run is a multi-turn SFT example: its own messages, the tool call, and the tools.
      await pipeline.recordFeedback(runs[0]!.id, 'accept');
      const exported = await pipeline.exportDataset('coder');
      assert.equal(exported.count, 1);
      const example = JSON.parse(fs.readFileSync(exported.file, 'utf8').trim()) as object;
      assert.deepEqual(example, {
        messages: [...messages, JSON.parse(runs[0]!.output) as object],
        tools,
      });
    });

    it('hands the upstream error status and body to the client as sent, and records no run', async () => {
      await assert.rejects(
        openai().chat.completions.create({
          model: 'missing-model',
          messages: [{ role: 'user', content: 'x' }],
        }),
        (err: InstanceType<typeof OpenAI.APIError>) => {
          assert.equal(err.status, 404);
          assert.match(err.message, /model "missing-model" not found, try pulling it first/);
          return true;
        },
      );
      assert.equal((await storedRuns()).length, 0);
      assert.ok(logs.some((l) => /upstream answered 404/.test(l)));
    });

    it('records a stream the client abandons as aborted, with what arrived, and never as high quality', async () => {
      const stream = await openai().chat.completions.create({
        model: 'hang-model',
        messages: [{ role: 'user', content: 'long task' }],
        stream: true,
      });
      let first = '';
      for await (const chunk of stream) {
        first += chunk.choices[0]?.delta.content ?? '';
        if (first) break; // the client library closes the connection
      }
      await upstream.hangClosed; // the gateway stopped the upstream's work too
      const [run] = await storedRuns();
      assert.ok(run, 'the aborted run is stored, not lost');
      const out = JSON.parse(run.output) as { content: string; aborted: boolean };
      assert.equal(out.aborted, true);
      assert.equal(out.content, 'Hello ');
      assert.equal(run.reward, 0);
      assert.equal(captured[0]?.aborted, true);
      await pipeline.recordFeedback(run.id, 'accept');
      const exported = await pipeline.exportDataset('coder');
      assert.equal(exported.count, 0, 'an aborted run is no training example, even accepted');
    });

    it('lists the upstream models (GET /v1/models) and, after them, the aliases it routes', async () => {
      // Agents that check a model name against this list refused `agent-learning/coder`.
      const models = await openai().models.list();
      assert.deepEqual(
        models.data.map((m) => [m.id, m.owned_by]),
        [
          ['qwen2.5-coder:7b', 'library'],
          ['auto', 'agent-learning'],
          ['agent-learning/auto', 'agent-learning'],
          ['agent-learning/coder', 'agent-learning'],
          ['agent-learning/fixer', 'agent-learning'],
          ['agent-learning/judge', 'agent-learning'],
        ],
      );
      assert.ok(models.data.slice(1).every((m) => m.object === 'model' && Number.isInteger(m.created)));
      const alias = await openai().models.retrieve('agent-learning/coder');
      assert.deepEqual(
        [alias.id, alias.object, alias.owned_by],
        ['agent-learning/coder', 'model', 'agent-learning'],
      );
      assert.deepEqual(
        upstream.requests.map((r) => r.path),
        ['/v1/models'],
        'an alias is answered here, not asked of the upstream',
      );
    });

    it("lists the roles that have runs and the config's default role as aliases too", async () => {
      await gateway.stop();
      await pipeline.close();
      await open({ defaultRole: 'reviewer' });
      await openai().chat.completions.create({
        model: 'agent-learning/planner',
        messages: [{ role: 'user', content: 'x' }],
      });
      await storedRuns();
      const ids = (await openai().models.list()).data.map((m) => m.id);
      assert.deepEqual(ids.slice(1), [
        'auto',
        'agent-learning/auto',
        'agent-learning/coder',
        'agent-learning/fixer',
        'agent-learning/judge',
        'agent-learning/planner',
        'agent-learning/reviewer',
      ]);
    });

    it('passes a model list it cannot read, or an error, as the upstream sent it', async () => {
      const other = await startChatUpstream();
      try {
        await gateway.stop();
        await open({}, { openaiBaseUrl: `${other.url}/nowhere` });
        const missing = await raw('GET', '/v1/models', { host: 'localhost' });
        assert.equal(missing.status, 404);
        assert.deepEqual(JSON.parse(missing.body), { error: '404 page not found' });
      } finally {
        await other.stop();
      }
    });
  });

  describe('Ollama dialect, with the ollama client', () => {
    beforeEach(() => open());

    it('streams /api/chat as NDJSON and records prompt_eval_count + eval_count as costTokens', async () => {
      const parts: string[] = [];
      const stream = await ollama().chat({
        model: 'qwen2.5-coder:7b',
        messages: [{ role: 'user', content: 'hi', images: ['aGVsbG8='] }],
        stream: true,
      });
      let last;
      for await (const part of stream) {
        parts.push(part.message.content);
        last = part;
      }
      assert.equal(parts.join(''), 'Hello from the stand-in');
      assert.equal(last?.eval_count, 4);
      const [run] = await storedRuns();
      assert.ok(run);
      assert.deepEqual(JSON.parse(run.input), {
        messages: [{ role: 'user', content: 'hi', images: ['aGVsbG8='] }],
      });
      assert.equal(JSON.parse(run.output).content, 'Hello from the stand-in');
      assert.equal(run.cost_tokens, 11 + 4);
    });

    it('sends each request to the Ollama host the setting names then, keeping the last good one for a bad value', async () => {
      await gateway.stop();
      await pipeline.close();
      const other = await startChatUpstream({ reply: 'Hello from the other host' });
      try {
        let host: string | undefined = upstream.host;
        await open(
          {},
          {},
          {
            ollamaHost: () => {
              if (host === 'throw') throw new Error('the setting could not be read');
              return host;
            },
          },
        );
        const ask = async () =>
          (await ollama().chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: false }))
            .message.content;
        assert.equal(await ask(), 'Hello from the stand-in');
        host = other.host; // the user changed agentLearning.ollamaHost while the gateway listens
        assert.equal(await ask(), 'Hello from the other host');
        assert.ok(
          logs.includes(`🔀 Gateway: Ollama requests now go to http://${other.host}`),
          logs.join('\n'),
        );
        host = 'http://[not a host';
        assert.equal(
          await ask(),
          'Hello from the other host',
          'a value that is not a URL keeps the last good one',
        );
        assert.ok(
          logs.some((l) => l.includes('"http://[not a host" is not a URL')),
          logs.join('\n'),
        );
        host = 'throw';
        assert.equal(
          await ask(),
          'Hello from the other host',
          'a setting that cannot be read changes nothing',
        );
        assert.equal(upstream.requests.length, 1);
        assert.equal(other.requests.length, 3);
      } finally {
        await other.stop();
      }
    });

    it('answers /api/chat without streaming, tool calls kept in the answer and the run', async () => {
      const answer = await ollama().chat({
        model: 'tool-model',
        messages: [{ role: 'user', content: 'weather?' }],
        tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
        stream: false,
      });
      const calls = [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }];
      assert.deepEqual(answer.message.tool_calls, calls);
      const [run] = await storedRuns();
      assert.deepEqual(JSON.parse(run!.output).tool_calls, calls);
      assert.equal(JSON.parse(run!.input).tools[0].function.name, 'get_weather');
    });

    it('records /api/generate, streamed and not, as a system and a user message', async () => {
      const whole = await ollama().generate({
        model: 'qwen2.5-coder:7b',
        prompt: 'p',
        system: 's',
        stream: false,
      });
      assert.equal(whole.response, 'Hello from the stand-in');
      let streamed = '';
      for await (const part of await ollama().generate({
        model: 'qwen2.5-coder:7b',
        prompt: 'p',
        stream: true,
      }))
        streamed += part.response;
      assert.equal(streamed, 'Hello from the stand-in');
      const runs = await storedRuns();
      assert.equal(runs.length, 2);
      assert.deepEqual(JSON.parse(runs[0]!.input).messages, [
        { role: 'system', content: 's' },
        { role: 'user', content: 'p' },
      ]);
      assert.deepEqual(JSON.parse(runs[1]!.input).messages, [{ role: 'user', content: 'p' }]);
      assert.ok(runs.every((r) => JSON.parse(r.output).content === 'Hello from the stand-in'));
    });

    it('records an abandoned /api/chat stream as aborted', async () => {
      const stream = await ollama().chat({
        model: 'hang-model',
        messages: [{ role: 'user', content: 'x' }],
        stream: true,
      });
      await assert.rejects(
        (async () => {
          for await (const part of stream) {
            if (part.message.content) stream.abort();
          }
        })(),
      );
      await upstream.hangClosed;
      const [run] = await storedRuns();
      assert.equal(JSON.parse(run!.output).aborted, true);
    });

    it('passes an upstream error (404 for a missing model) to the client as sent', async () => {
      await assert.rejects(
        ollama().chat({ model: 'missing-model', messages: [{ role: 'user', content: 'x' }] }),
        (err: Error & { status_code?: number }) => {
          assert.equal(err.status_code, 404);
          assert.equal(err.message, "model 'missing-model' not found");
          return true;
        },
      );
      assert.equal((await storedRuns()).length, 0);
    });

    it('forwards /api/tags (aliases added), /api/show and /api/version and records nothing for them', async () => {
      const { models } = await ollama().list();
      assert.deepEqual(
        models.map((m) => [m.name, m.model, m.details?.family]),
        [
          ['qwen2.5-coder:7b', 'qwen2.5-coder:7b', undefined],
          ['auto', 'auto', 'agent-learning'],
          ['agent-learning/auto', 'agent-learning/auto', 'agent-learning'],
          ['agent-learning/coder', 'agent-learning/coder', 'agent-learning'],
          ['agent-learning/fixer', 'agent-learning/fixer', 'agent-learning'],
          ['agent-learning/judge', 'agent-learning/judge', 'agent-learning'],
        ],
      );
      assert.equal(models[0]!.size, 1, "the upstream's entries as it sent them");
      assert.equal((await ollama().show({ model: 'qwen2.5-coder:7b' })).details.family, 'qwen2');
      const version = await raw('GET', '/api/version', { host: '127.0.0.1' });
      assert.deepEqual(JSON.parse(version.body), { version: '0.12.0' });
      assert.equal((await storedRuns()).length, 0);
    });
  });

  describe('routing', () => {
    beforeEach(async () => {
      writeAgentFile(ws, 'model_variants.json', {
        variants: [
          { id: 'cheap-model', costPer1kTokens: 0, tiers: ['small', 'medium', 'large'] },
          { id: 'dear-model', costPer1kTokens: 5, tiers: ['large'] },
        ],
      });
    });

    it('sends `auto` to the model the router picks and records the picked model, role and tier', async () => {
      await open();
      await openai().chat.completions.create({
        model: 'agent-learning/auto/fixer',
        messages: [{ role: 'user', content: 'x' }],
      });
      await ollama().chat({ model: 'auto', messages: [{ role: 'user', content: 'x' }], stream: false });
      assert.deepEqual(
        upstream.requests.map((r) => r.body?.model),
        ['cheap-model', 'cheap-model'],
      );
      const runs = await storedRuns();
      assert.deepEqual(
        runs.map((r) => [r.model_id, r.role, r.complexity]),
        [
          ['cheap-model', 'fixer', 'medium'],
          ['cheap-model', 'coder', 'medium'],
        ],
      );
    });

    it('answers /api/show of a listed alias with the model the router picks for it', async () => {
      // An Ollama client asks /api/show for a model it found in /api/tags; the upstream knows no alias.
      await open();
      const { models } = await ollama().list();
      assert.ok(models.some((m) => m.name === 'agent-learning/fixer'));
      const shown = await ollama().show({ model: 'agent-learning/fixer' });
      assert.deepEqual(shown.capabilities, ['completion', 'tools']);
      const old = await raw(
        'POST',
        '/api/show',
        { host: 'localhost', 'content-type': 'application/json' },
        JSON.stringify({ name: 'auto' }),
      );
      assert.equal(old.status, 200);
      await ollama().show({ model: 'qwen2.5-coder:7b' });
      assert.deepEqual(
        upstream.requests.filter((r) => r.path === '/api/show').map((r) => r.body),
        [{ model: 'cheap-model' }, { name: 'cheap-model' }, { model: 'qwen2.5-coder:7b' }],
      );
      assert.equal((await storedRuns()).length, 0);
    });

    it('takes the tier and cost cap from headers, and refuses an impossible one with 400', async () => {
      await open();
      const client = openai({ 'X-Agent-Learning-Tier': 'large', 'X-Agent-Learning-Max-Cost': '10' });
      // Both fit; with no runs yet either may be picked, but only `large` holds dear-model.
      await client.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] });
      assert.ok(['cheap-model', 'dear-model'].includes(upstream.requests[0]!.body?.model as string));
      const none = openai({ 'X-Agent-Learning-Tier': 'large', 'X-Agent-Learning-Max-Cost': '0' });
      writeAgentFile(ws, 'model_variants.json', {
        variants: [{ id: 'dear-model', costPer1kTokens: 5, tiers: ['large'] }],
      });
      pipeline.reloadConfig();
      await assert.rejects(
        none.chat.completions.create({ model: 'auto', messages: [{ role: 'user', content: 'x' }] }),
        (err: InstanceType<typeof OpenAI.APIError>) =>
          err.status === 400 && /No model variant/.test(err.message),
      );
      await assert.rejects(
        openai({ 'X-Agent-Learning-Role': 'Not A Role' }).chat.completions.create({
          model: 'auto',
          messages: [{ role: 'user', content: 'x' }],
        }),
        (err: InstanceType<typeof OpenAI.APIError>) =>
          err.status === 400 && /x-agent-learning-role/.test(err.message),
      );
    });

    it('passes any other model name through unchanged, role from the header', async () => {
      await open();
      await openai({ 'X-Agent-Learning-Role': 'judge' }).chat.completions.create({
        model: 'some/other:model',
        messages: [{ role: 'user', content: 'x' }],
      });
      assert.equal(upstream.requests[0]!.body?.model, 'some/other:model');
      const [run] = await storedRuns();
      assert.deepEqual([run!.model_id, run!.role, run!.complexity], ['some/other:model', 'judge', null]);
    });

    it('with gateway.promptVariants on, adds the variant text to the system message and records its id', async () => {
      writeAgentFile(ws, 'prompt_variants.json', { variants: [{ id: 'only', text: 'Be brief.' }] });
      await open({ promptVariants: true });
      writeAgentFile(ws, 'learning-config.json', {
        gateway: { port: 0, promptVariants: true },
        promptBandit: { variants: ['only'] },
      });
      pipeline.reloadConfig();
      const messages = [
        { role: 'system' as const, content: 'Agent rules.' },
        { role: 'user' as const, content: 'x' },
      ];
      await openai().chat.completions.create({ model: 'qwen2.5-coder:7b', messages });
      assert.deepEqual(upstream.requests[0]!.body?.messages, [
        { role: 'system', content: 'Be brief.\n\nAgent rules.' },
        { role: 'user', content: 'x' },
      ]);
      const [run] = await storedRuns();
      assert.equal(run!.prompt_id, 'only');
      assert.deepEqual(
        JSON.parse(run!.input).messages,
        messages,
        'the agent’s conversation; the variant by id',
      );
    });
  });

  describe('security', () => {
    it('refuses a Host that is not a loopback name (DNS rebinding) with 403 and a clear body', async () => {
      await open();
      const r = await raw(
        'POST',
        '/api/chat',
        { host: 'evil.example:11444', 'content-type': 'application/json' },
        '{}',
      );
      assert.equal(r.status, 403);
      assert.match(
        JSON.parse(r.body).error,
        /refused a request for host "evil.example:11444".*gateway.allowedHosts/,
      );
      for (const host of ['localhost:1', '127.0.0.1', '[::1]:5']) {
        assert.equal((await raw('GET', '/api/version', { host })).status, 200, host);
      }
      assert.equal(upstream.requests.filter((r) => r.path === '/api/chat').length, 0);
    });

    it('refuses a browser Origin that is not allowed, and lets an allowed one in', async () => {
      await open({}, { allowedOrigins: ['http://localhost:3000'] });
      const bad = await raw(
        'POST',
        '/v1/chat/completions',
        { host: 'localhost', origin: 'https://evil.example' },
        '{}',
      );
      assert.equal(bad.status, 403);
      assert.match(
        JSON.parse(bad.body).error.message,
        /origin "https:\/\/evil.example".*gateway.allowedOrigins/,
      );
      const good = await raw('GET', '/v1/models', { host: 'localhost', origin: 'http://localhost:3000' });
      assert.equal(good.status, 200);
      assert.equal(upstream.requests.length, 1);
    });

    it('answers each request by its own Host, Origin and the allowed names in force, however alike the last', async () => {
      // The gateway remembers its last answer (a client sends the same headers each time): a request unlike the
      // last, or a setting changed since, even in place, must be checked again.
      const access = { allowedHosts: [] as string[], allowedOrigins: [] as string[] };
      await open({}, access);
      const status = async (headers: http.OutgoingHttpHeaders) =>
        (await raw('GET', '/api/version', headers)).status;
      const evil = { host: 'evil.example:11444' };
      assert.deepEqual(
        [await status({ host: 'localhost' }), await status({ host: 'localhost' })],
        [200, 200],
      );
      assert.deepEqual([await status(evil), await status(evil)], [403, 403]);
      access.allowedHosts.push('evil.example');
      assert.equal(await status(evil), 200, 'allowed once the setting names it');
      access.allowedHosts.pop();
      assert.equal(await status(evil), 403, 'refused again once it does not');
      const page = { host: 'localhost', origin: 'http://localhost:3000' };
      assert.equal(await status(page), 403);
      access.allowedOrigins.push('http://localhost:3000');
      assert.equal(await status(page), 200);
      assert.equal(await status({ host: 'localhost', origin: 'http://localhost:3001' }), 403);
      assert.equal(await status({ host: 'localhost', 'sec-fetch-site': 'cross-site' }), 403);
      assert.equal(await status({ host: 'localhost' }), 200);
      assert.equal(upstream.requests.length, 5, 'only the allowed requests reached the upstream');
    });

    it('answers 413 to a body over gateway.maxBodyBytes without forwarding it', async () => {
      await open({ maxBodyBytes: 1000 });
      const big = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(2000) }] });
      const r = await raw(
        'POST',
        '/api/chat',
        { host: 'localhost', 'content-type': 'application/json' },
        big,
      );
      assert.equal(r.status, 413);
      assert.match(JSON.parse(r.body).error, /larger than 1000 bytes.*gateway.maxBodyBytes/);
      assert.equal(upstream.requests.length, 0);
    });

    it('sends the upstream key to its origin, and no key reaches .agent/ or the log', async () => {
      const openaiUpstream = await startChatUpstream();
      try {
        await open(
          {},
          { openaiBaseUrl: `${openaiUpstream.url}/v1` },
          { apiKey: () => ({ key: KEY, origin: openaiUpstream.url }) },
        );
        await openai().chat.completions.create({
          model: 'qwen2.5-coder:7b',
          messages: [{ role: 'user', content: 'x' }],
        });
        assert.equal(openaiUpstream.requests[0]!.headers.authorization, `Bearer ${KEY}`);
        assert.equal(upstream.requests.length, 0, 'the OpenAI dialect went to the configured upstream');
        await storedRuns();
        await pipeline.close();
        for (const file of walk(path.join(ws, '.agent'))) {
          assert.ok(!fs.readFileSync(file).includes(KEY), `${file} holds the key`);
          assert.ok(!fs.readFileSync(file).includes('not-used'), `${file} holds the client's Authorization`);
        }
        assert.ok(logs.length > 0);
        assert.ok(logs.every((l) => !l.includes(KEY) && !l.includes('Bearer')));
      } finally {
        await openaiUpstream.stop();
      }
    });

    it('never sends the key to the Ollama host, even when the OpenAI-compatible base shares its URL', async () => {
      // Before, a raw string-prefix match sent the key with /api/tags to any URL starting with openaiBaseUrl.
      await open({}, { openaiBaseUrl: upstream.url }, { apiKey: () => ({ key: KEY, origin: upstream.url }) });
      assert.equal((await raw('GET', '/api/tags', { host: 'localhost' })).status, 200);
      assert.equal(upstream.requests[0]!.path, '/api/tags');
      assert.equal(upstream.requests[0]!.headers.authorization, undefined);
    });

    it('sends the key to the same origin however the URL is spelt, and only under the base path', async () => {
      const openaiUpstream = await startChatUpstream();
      try {
        const origin = openaiUpstream.url;
        // Upper-case scheme and host never matched the lower-case target before, so the key was never sent.
        await open(
          {},
          { openaiBaseUrl: `${origin.toUpperCase()}/proxy/v1/` },
          { apiKey: () => ({ key: KEY, origin }) },
        );
        assert.equal((await raw('GET', '/v1/models', { host: 'localhost' })).status, 404);
        assert.equal(openaiUpstream.requests[0]!.path, '/proxy/v1/models');
        assert.equal(openaiUpstream.requests[0]!.headers.authorization, `Bearer ${KEY}`);
        // Dot segments leave the base path: the same origin, but not the API the key is for.
        await rawSocket('GET /v1/../../elsewhere HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        assert.equal(openaiUpstream.requests[1]!.path, '/elsewhere');
        assert.equal(openaiUpstream.requests[1]!.headers.authorization, undefined);
      } finally {
        await openaiUpstream.stop();
      }
    });

    it('does not send a key entered for another origin, and says so once with the origin to set it for', async () => {
      const openaiUpstream = await startChatUpstream();
      const withheld: string[] = [];
      try {
        await open(
          {},
          { openaiBaseUrl: `${openaiUpstream.url}/v1` },
          {
            apiKey: () => ({ key: KEY, origin: 'https://api.openai.com' }),
            onKeyWithheld: (origin) => withheld.push(origin),
          },
        );
        for (let i = 0; i < 2; i++) {
          await openai().chat.completions.create({
            model: 'qwen2.5-coder:7b',
            messages: [{ role: 'user', content: 'x' }],
          });
        }
        assert.ok(openaiUpstream.requests.every((r) => r.headers.authorization !== `Bearer ${KEY}`));
        assert.deepEqual(withheld, [openaiUpstream.url]);
        assert.equal(logs.filter((l) => /key was set for https:\/\/api\.openai\.com, not/.test(l)).length, 1);
      } finally {
        await openaiUpstream.stop();
      }
    });

    it('answers 400 to a request target that is not a path, and 500 to an unexpected error', async () => {
      // Before, both left the connection open and unanswered ("Invalid URL" / the error in the log only).
      await open();
      for (const line of ['GET http://evil.example/ HTTP/1.1', 'OPTIONS * HTTP/1.1']) {
        const answer = await rawSocket(`${line}\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
        assert.match(answer, /^HTTP\/1\.1 400 /, line);
        assert.match(answer, /is not a path; the gateway is not a proxy/, line);
      }
      await gateway.stop();
      const recorder = {
        recordRun: pipeline.recordRun.bind(pipeline),
        selectPrompt: pipeline.selectPrompt.bind(pipeline),
        getConfig: pipeline.getConfig.bind(pipeline),
        selectModel: () => {
          throw new Error('the router broke');
        },
      };
      gateway = new Gateway({ recorder, ollamaHost: upstream.host, log: (l) => logs.push(l) });
      url = await gateway.start();
      const r = await raw(
        'POST',
        '/v1/chat/completions',
        { host: 'localhost', 'content-type': 'application/json' },
        JSON.stringify({ model: 'auto', messages: [] }),
      );
      assert.equal(r.status, 500);
      assert.match(JSON.parse(r.body).error.message, /the router broke/);
      assert.equal(upstream.requests.length, 0);
    });

    it('answers loopback Host names only, exactly: refuses [::1]junk and *.localhost, takes localhost. and mapped IPv4', async () => {
      await open();
      for (const host of ['[::1]anything', '[::1]:80x', 'evil.localhost', 'localhost:1:2']) {
        assert.equal((await raw('GET', '/api/version', { host })).status, 403, host);
      }
      for (const host of ['localhost.', 'localhost.:8', '[::ffff:127.0.0.1]', '[::ffff:127.0.0.1]:9']) {
        assert.equal((await raw('GET', '/api/version', { host })).status, 200, host);
      }
    });

    it('refuses a cross-site or same-site browser request that sends no Origin', async () => {
      await open();
      for (const site of ['cross-site', 'same-site']) {
        const r = await raw('GET', '/v1/models', { host: 'localhost', 'sec-fetch-site': site });
        assert.equal(r.status, 403, site);
        assert.match(
          JSON.parse(r.body).error.message,
          new RegExp(`refused a ${site} browser request with no Origin`),
        );
      }
      for (const site of ['same-origin', 'none']) {
        assert.equal(
          (await raw('GET', '/v1/models', { host: 'localhost', 'sec-fetch-site': site })).status,
          200,
        );
      }
      assert.equal(upstream.requests.length, 2);
    });

    it('answers 502 with what to do when the upstream cannot be reached', async () => {
      await open();
      await upstream.stop();
      const r = await raw('GET', '/api/tags', { host: 'localhost' });
      assert.equal(r.status, 502);
      assert.match(
        JSON.parse(r.body).error,
        /cannot reach the upstream at http:\/\/127\.0\.0\.1:\d+ .*OLLAMA_HOST/,
      );
    });
  });
  describe("in-process completions (VS Code's chat models)", () => {
    const userSays = (text: string) => ({
      role: CHAT_ROLE.user,
      content: [{ value: text }],
      name: undefined,
    });

    beforeEach(() => {
      writeAgentFile(ws, 'model_variants.json', {
        variants: [
          { id: 'cheap-model', costPer1kTokens: 0, tiers: ['small', 'medium', 'large'] },
          { id: 'agent-learning-fixer', costPer1kTokens: 0, tiers: ['medium'], roles: ['fixer'] },
        ],
      });
    });

    it("streams a tuned model's answer to the caller and records it as a chat run of the model's role", async () => {
      await open();
      const tuned = chatModels({
        variants: pipeline.modelVariants(),
        prefix: 'agent-learning',
        roles: [],
        defaultRole: 'coder',
      }).find((m) => m.id === 'agent-learning-fixer')!;
      const pieces: string[] = [];
      const completion = await gateway.complete(chatRequestBody(tuned.id, [userSays('Fix the bug.')]), {
        source: 'chat',
        headers: chatHeaders(tuned),
        onText: (text) => pieces.push(text),
      });
      assert.deepEqual(pieces, ['Hello ', 'from ', 'the ', 'stand-in'], 'each piece as it arrived');
      assert.equal(completion.message.content, 'Hello from the stand-in');
      assert.equal(upstream.requests[0]!.path, '/v1/chat/completions');
      assert.equal(upstream.requests[0]!.body?.model, 'agent-learning-fixer');
      assert.equal(upstream.requests[0]!.body?.stream, true);

      const [run] = await storedRuns();
      assert.ok(run);
      assert.equal(run.source, 'chat');
      assert.equal(run.role, 'fixer', "the tuned model's role");
      assert.equal(run.model_id, 'agent-learning-fixer');
      assert.equal(run.cost_tokens, 15, 'the usage the gateway asked for');
      assert.ok(run.duration_ms !== null && run.duration_ms >= 0);
      assert.deepEqual(JSON.parse(run.input), { messages: [{ role: 'user', content: 'Fix the bug.' }] });
      assert.deepEqual(JSON.parse(run.output), { role: 'assistant', content: 'Hello from the stand-in' });
      assert.deepEqual(
        captured.map((c) => [c.source, c.role, c.modelId]),
        [['chat', 'fixer', 'agent-learning-fixer']],
      );
    });

    it("routes agent-learning/auto to the router's pick, recorded for the default role with its tier", async () => {
      await open({ defaultRole: 'judge' });
      await gateway.complete(chatRequestBody('agent-learning/auto', [userSays('x')]), { source: 'chat' });
      assert.equal(upstream.requests[0]!.body?.model, 'cheap-model');
      const [run] = await storedRuns();
      assert.deepEqual(
        [run!.source, run!.model_id, run!.role, run!.complexity],
        ['chat', 'cheap-model', 'judge', 'medium'],
      );
    });

    it('hands back tool calls whole, with parsed arguments, and records them', async () => {
      await open();
      const body = chatRequestBody('tool-model', [userSays('Weather in Paris?')], {
        tools: [{ name: 'get_weather', description: 'Weather', inputSchema: { type: 'object' } }],
      });
      const completion = await gateway.complete(body, { source: 'chat' });
      assert.deepEqual(toolCallsOf(completion.message), [
        { callId: 'call_standin_1', name: 'get_weather', input: { city: 'Paris' } },
      ]);
      const [run] = await storedRuns();
      assert.equal(JSON.parse(run!.output).tool_calls[0].function.arguments, '{"city":"Paris"}');
    });

    it("rejects with the upstream's own message and status, and records no run", async () => {
      await open();
      await assert.rejects(
        gateway.complete(chatRequestBody('missing-model', [userSays('x')]), { source: 'chat' }),
        (err: unknown) =>
          err instanceof UpstreamError &&
          err.status === 404 &&
          /model "missing-model" not found/.test(err.message),
      );
      assert.equal((await storedRuns()).length, 0);
    });

    it('keeps what arrived, as aborted, when the caller cancels mid-stream', async () => {
      await open();
      const abort = new AbortController();
      const completion = await gateway.complete(chatRequestBody('hang-model', [userSays('x')]), {
        source: 'chat',
        signal: abort.signal,
        onText: () => abort.abort(),
      });
      assert.equal(completion.message.content, 'Hello ');
      await upstream.hangClosed; // the upstream's work stopped too
      const [run] = await storedRuns();
      assert.deepEqual(JSON.parse(run!.output), { role: 'assistant', content: 'Hello ', aborted: true });
      assert.equal(run!.source, 'chat');
    });

    it('says where the upstream should be when it cannot be reached', async () => {
      await upstream.stop();
      await open();
      await assert.rejects(
        gateway.complete(chatRequestBody('cheap-model', [userSays('x')]), { source: 'chat' }),
        (err: unknown) =>
          err instanceof UpstreamError && err.status === 502 && /OLLAMA_HOST/.test(err.message),
      );
    });
  });

  describe('kept-alive upstream connections the upstream closes as a request arrives', () => {
    // A server with an idle timeout (uvicorn's 5 s: vLLM, llama-cpp-python) may close a kept-alive connection just
    // as the gateway sends the next request on it: the request is lost before any byte of an answer, and Node's
    // docs (http, request.reusedSocket) advise asking again. Here the upstream closes at exactly that moment.
    let closing: ClosingUpstream | undefined;

    afterEach(async () => {
      await closing?.stop();
      closing = undefined;
    });

    async function openOn(fateOf: (connection: number, index: number) => Fate): Promise<ClosingUpstream> {
      closing = await startClosingUpstream(fateOf);
      await open({}, { openaiBaseUrl: closing.baseUrl });
      return closing;
    }

    const ask = <S extends boolean>(stream: S) => ({
      model: 'qwen2.5-coder:7b',
      messages: [{ role: 'user' as const, content: 'hi' }],
      stream,
    });

    /**
     * A request's answer as the client saw it: `complete` false when the connection was cut mid-answer. `onData`:
     * called once, when the first bytes of the answer arrived.
     */
    function answerOf(
      body: object,
      onData?: () => void,
    ): Promise<{ status: number; body: string; complete: boolean }> {
      return new Promise((resolve, reject) => {
        const req = http.request(
          new URL('/v1/chat/completions', url),
          { method: 'POST', headers: { 'content-type': 'application/json' } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => {
              if (chunks.push(c) === 1) onData?.();
            });
            res.on('error', () => undefined);
            res.on('close', () =>
              resolve({
                status: res.statusCode!,
                body: Buffer.concat(chunks).toString('utf8'),
                complete: res.complete,
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    }

    const alarming = () => logs.filter((l) => /⚠️|❌/u.test(l));

    it('asks again on a fresh connection, and the client gets the answer and one run, not a 502', async () => {
      const upstream = await openOn((_connection, index) => (index === 1 ? 'answer' : 'close'));
      const first = await openai().chat.completions.create(ask(false));
      assert.equal(first.choices[0]!.message.content, REPLY);
      const second = await openai().chat.completions.create(ask(false));
      assert.equal(second.choices[0]!.message.content, REPLY);
      assert.equal(second.usage?.total_tokens, 15);

      assert.deepEqual(
        upstream.requests.map((r) => [r.connection, r.index, r.fate]),
        [
          [1, 1, 'answer'],
          [1, 2, 'close'],
          [2, 1, 'answer'],
        ],
      );
      assert.equal(upstream.connections, 2);
      const runs = await storedRuns();
      assert.equal(runs.length, 2, 'each request recorded once');
      assert.equal(captured.length, 2);
      assert.ok(runs.every((r) => JSON.parse(r.output).content === REPLY));
      assert.deepEqual(alarming(), [], 'a request asked again is no failure');
    });

    it('asks a stream again, and the client gets every event as the upstream sent them', async () => {
      const upstream = await openOn((_connection, index) => (index === 1 ? 'answer' : 'close'));
      const read = async () => {
        let text = '';
        for await (const chunk of await openai().chat.completions.create(ask(true))) {
          assert.equal(
            chunk.usage ?? undefined,
            undefined,
            'the usage chunk the gateway asked for stays with it',
          );
          text += chunk.choices[0]?.delta.content ?? '';
        }
        return text;
      };
      assert.equal(await read(), REPLY);
      assert.equal(await read(), REPLY);

      assert.equal(upstream.connections, 2);
      assert.deepEqual(
        upstream.requests.map((r) => r.fate),
        ['answer', 'close', 'answer'],
      );
      const runs = await storedRuns();
      assert.equal(runs.length, 2);
      assert.deepEqual(
        runs.map((r) => [JSON.parse(r.output).content, r.cost_tokens]),
        [
          [REPLY, 15],
          [REPLY, 15],
        ],
      );
      assert.deepEqual(alarming(), []);
    });

    it('asks again after a connection reset (RST) as well, and for an in-process completion', async () => {
      const upstream = await openOn((_connection, index) => (index === 1 ? 'answer' : 'reset'));
      const first = await answerOf(ask(true));
      const second = await answerOf(ask(true));
      assert.deepEqual([first.status, second.status], [200, 200]);
      assert.equal(second.body, first.body, 'the same bytes as an answer on a connection that stayed');
      // The connection asked on closes after its answer: the next request opens one to keep alive.
      assert.equal((await answerOf(ask(false))).status, 200);
      const completion = await gateway.complete(ask(false), { source: 'chat' });
      assert.equal(completion.message.content, REPLY);

      assert.deepEqual(
        upstream.requests.map((r) => [r.connection, r.index, r.fate]),
        [
          [1, 1, 'answer'],
          [1, 2, 'reset'],
          [2, 1, 'answer'],
          [3, 1, 'answer'],
          [3, 2, 'reset'],
          [4, 1, 'answer'],
        ],
      );
      const runs = await storedRuns();
      assert.equal(runs.length, 4);
      assert.deepEqual(
        runs.map((r) => r.source),
        ['gateway', 'gateway', 'gateway', 'chat'],
      );
      assert.deepEqual(alarming(), []);
    });

    it('answers 502 as before when a fresh connection is closed, without asking again', async () => {
      const upstream = await openOn(() => 'close');
      const answer = await answerOf(ask(false));
      assert.equal(answer.status, 502);
      assert.match(
        JSON.parse(answer.body).error.message,
        /cannot reach the upstream at http:\/\/127\.0\.0\.1:\d+/,
      );
      assert.equal(upstream.requests.length, 1);
      assert.equal((await storedRuns()).length, 0);
    });

    it('asks again only once: a second close is a 502', async () => {
      const upstream = await openOn((connection, index) =>
        connection === 1 && index === 1 ? 'answer' : 'close',
      );
      assert.equal((await answerOf(ask(false))).status, 200);
      const answer = await answerOf(ask(false));
      assert.equal(answer.status, 502);
      assert.match(JSON.parse(answer.body).error.message, /cannot reach the upstream/);
      assert.deepEqual(
        upstream.requests.map((r) => [r.connection, r.fate]),
        [
          [1, 'answer'],
          [1, 'close'],
          [2, 'close'],
        ],
      );
      assert.equal((await storedRuns()).length, 1);
    });

    for (const how of ['close', 'reset'] as const) {
      it(`cuts the client off as before when the connection closes (${how}) after the answer began, without asking again`, async () => {
        const upstream = await openOn((_connection, index) => (index === 1 ? 'answer' : 'hold'));
        assert.equal((await answerOf(ask(true))).complete, true);
        const cut = await answerOf(ask(true), () => upstream.drop(how));
        assert.equal(cut.status, 200);
        assert.equal(cut.complete, false, 'the client sees the answer cut, as the upstream cut it');
        assert.match(cut.body, /^data: \{/);
        assert.equal(upstream.requests.length, 2);
        assert.equal(upstream.connections, 1);
        const runs = await storedRuns();
        assert.equal(runs.length, 2);
        assert.equal(JSON.parse(runs[1]!.output).aborted, true, 'kept with what arrived, as aborted');
      });
    }
  });

  describe("the gateway's own work on each request's way", () => {
    /** What `socket._writeGeneric` is given: one chunk, or (a writev) the chunks of one send. */
    type Written = Buffer | string | { chunk: Buffer | string; encoding?: BufferEncoding };
    type WriteGeneric = (this: net.Socket, writev: boolean, data: unknown, ...rest: unknown[]) => unknown;

    /**
     * The sends to the kernel (one each: the client is woken once for each) the gateway makes on its clients'
     * connections while `during` runs, as bytes. A gateway's socket is the one whose local port is the gateway's.
     */
    async function sendsToClients(during: () => Promise<void>): Promise<Buffer[]> {
      const port = Number(new URL(url).port);
      const proto = net.Socket.prototype as unknown as { _writeGeneric: WriteGeneric };
      const original = proto._writeGeneric;
      const sends: Buffer[] = [];
      const bytes = (w: Written): Buffer =>
        Buffer.isBuffer(w)
          ? w
          : typeof w === 'string'
            ? Buffer.from(w, 'latin1')
            : bytes(typeof w.chunk === 'string' ? Buffer.from(w.chunk, w.encoding ?? 'utf8') : w.chunk);
      proto._writeGeneric = function (writev, data, ...rest) {
        if (this.localPort === port)
          sends.push(Buffer.concat(writev ? (data as Written[]).map(bytes) : [bytes(data as Written)]));
        return original.call(this, writev, data, ...rest);
      };
      try {
        await during();
      } finally {
        proto._writeGeneric = original;
      }
      return sends;
    }

    it('sends the head of an answer with its first bytes, in one send, as the upstream sent them', async () => {
      // Before, the head went alone and the bytes after it: two sends, and the client woken twice before its first
      // byte (on a loaded 2-core machine, a tenth of a millisecond or more each).
      await open();
      const whole = await sendsToClients(async () => {
        const answer = await openai().chat.completions.create({
          model: 'qwen2.5-coder:7b',
          messages: [{ role: 'user', content: 'hi' }],
        });
        assert.equal(answer.choices[0]!.message.content, 'Hello from the stand-in');
      });
      assert.equal(whole.length, 1, whole.map((s) => JSON.stringify(s.toString())).join('\n'));
      const [head, body] = whole[0]!.toString().split('\r\n\r\n');
      assert.match(head!, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(head!, /\r\ncontent-length: \d+/i);
      assert.equal(JSON.parse(body!).choices[0].message.content, 'Hello from the stand-in');

      // Streamed: the head and the first token (the upstream holds the rest) leave together.
      const streamed = await sendsToClients(async () => {
        let text = '';
        for await (const chunk of await openai().chat.completions.create({
          model: 'held-model',
          messages: [{ role: 'user', content: 'hi' }],
          stream: true,
        })) {
          const piece = chunk.choices[0]?.delta.content ?? '';
          if (piece !== '' && text === '') upstream.release();
          text += piece;
        }
        assert.equal(text, 'Hello from the stand-in');
      });
      const first = streamed[0]!.toString();
      assert.match(first, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n/);
      assert.match(first.split('\r\n\r\n')[1]!, /"content":"Hello "/);
      assert.equal((await storedRuns()).length, 2);
    });

    it('sends a head that comes alone at once, before any of the answer', async () => {
      // A model's server may send its head, then think: the client must get the head (and time out, show progress)
      // while the gateway waits for the first token. This upstream sends the token only once the client has the head.
      let headArrived!: () => void;
      const clientHasHead = new Promise<void>((resolve) => (headArrived = resolve));
      const thinking = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.flushHeaders();
          void clientHasHead.then(() =>
            res.end(
              'data: {"choices":[{"index":0,"delta":{"content":"late"}}]}\n\n' +
                'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n' +
                'data: [DONE]\n\n',
            ),
          );
        });
      });
      await new Promise<void>((resolve) => thinking.listen(0, '127.0.0.1', resolve));
      try {
        await open(
          {},
          { openaiBaseUrl: `http://127.0.0.1:${(thinking.address() as net.AddressInfo).port}/v1` },
        );
        const body = await new Promise<string>((resolve, reject) => {
          const req = http.request(
            `${url}/v1/chat/completions`,
            { method: 'POST', headers: { 'content-type': 'application/json' } },
            (res) => {
              assert.equal(res.statusCode, 200);
              headArrived();
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => resolve(text));
              res.on('error', reject);
            },
          );
          req.on('error', reject);
          req.end(JSON.stringify({ model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] }));
        });
        assert.match(body, /"late"/);
        assert.ok(!body.includes('"usage"'), 'the usage chunk the gateway asked for stays with it');
        assert.equal((await storedRuns())[0]?.cost_tokens, 2);
      } finally {
        await gateway.stop();
        await new Promise((resolve) => thinking.close(resolve));
      }
    });

    it('records an answer that has no bytes at all, as before the copy was set up only once bytes arrive', async () => {
      const silent = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': 0 });
          res.end();
        });
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      try {
        await open(
          {},
          { openaiBaseUrl: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}/v1` },
        );
        const answer = await raw(
          'POST',
          '/v1/chat/completions',
          { 'content-type': 'application/json' },
          JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
        );
        assert.deepEqual([answer.status, answer.body], [200, '']);
        const runs = await storedRuns();
        assert.equal(runs.length, 1);
        assert.equal(runs[0]!.model_id, 'm');
      } finally {
        await gateway.stop();
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it("forwards a streamed request's own bytes, with the usage request added and nothing else changed", async () => {
      // Before, the gateway parsed the request, added stream_options and serialised it all again: for a long
      // conversation as long as the round trip itself, before the upstream saw a byte; and numbers past 2^53,
      // escapes and spacing came out rewritten.
      await open();
      const sent =
        ' {\n  "model" : "qwen2.5-coder:7b", "stream": true, "seed": 12345678901234567890, "temperature": 1.0,\n' +
        '  "messages": [{"role": "user", "content": "caf\\u00e9 \\/ 1e400"}]\n}\n';
      const answer = await raw('POST', '/v1/chat/completions', { 'content-type': 'application/json' }, sent);
      assert.equal(answer.status, 200);
      assert.ok(!answer.body.includes('"usage"'), 'the client gets the stream it asked for');
      assert.equal(
        upstream.requests[0]!.raw.toString('utf8'),
        ` {"stream_options":{"include_usage":true},${sent.slice(2)}`,
      );
      const [run] = await storedRuns();
      assert.equal(run?.cost_tokens, 15);
      assert.deepEqual(JSON.parse(run!.input), { messages: [{ role: 'user', content: 'café / 1e400' }] });

      // A request with stream_options of its own has include_usage merged into them, as before.
      await raw(
        'POST',
        '/v1/chat/completions',
        { 'content-type': 'application/json' },
        JSON.stringify({ model: 'm', stream: true, stream_options: { x: 1 }, messages: [] }),
      );
      assert.deepEqual(upstream.requests[1]!.body?.stream_options, { x: 1, include_usage: true });
    });

    it('sends each request where the settings say at that moment, across a change of the OpenAI-compatible base', async () => {
      // The gateway keeps the upstream URLs it parsed: a changed base must not find the old one's.
      const other = await startChatUpstream({ reply: 'Hello from the other' });
      const access: Partial<GatewayAccess> = {};
      try {
        await open({}, access);
        const ask = async () =>
          (
            await openai().chat.completions.create({
              model: 'qwen2.5-coder:7b',
              messages: [{ role: 'user', content: 'hi' }],
            })
          ).choices[0]!.message.content;
        assert.equal(await ask(), 'Hello from the stand-in');
        access.openaiBaseUrl = `${other.url}/v1`;
        assert.equal(await ask(), 'Hello from the other');
        access.openaiBaseUrl = `${upstream.url}/v1/`;
        assert.equal(await ask(), 'Hello from the stand-in');
        delete access.openaiBaseUrl;
        assert.equal(await ask(), 'Hello from the stand-in');
        assert.deepEqual(
          [upstream.requests.length, other.requests.length],
          [3, 1],
          'each request went to the base in force when it came',
        );
        assert.equal((await storedRuns()).length, 4);
      } finally {
        await other.stop();
      }
    });
  });

  describe('bounded copy of the answer (storage.maxTextBytes)', () => {
    it('keeps the start of an answer past the bound, marked as cut, while the client gets every byte', async () => {
      const answer = 'word '.repeat(4000); // 20,000 bytes of content, over a 4 KiB bound
      await upstream.stop();
      upstream = await startChatUpstream({ reply: answer });
      await open({}, {}, {}, { storage: { maxTextBytes: 4096 } });
      let text = '';
      for await (const part of await ollama().chat({
        model: 'qwen2.5-coder:7b',
        messages: [{ role: 'user', content: 'loop' }],
        stream: true,
      }))
        text += part.message.content;
      assert.equal(text, answer, 'the client got the whole answer');
      const [run] = await storedRuns();
      assert.ok(isCut(run!.output), 'the run is marked as cut, so exports leave it out');
      assert.ok(Buffer.byteLength(run!.output) <= 4096 + 200);
      assert.match(run!.output, /^\{"role":"assistant","content":"word word /);
      assert.ok(
        logs.some((l) => /passed storage\.maxTextBytes; the run keeps the first \d+ of \d+ bytes/.test(l)),
      );
    });

    it('copies one endless line in linear time and bounded memory, and stops at the bound', () => {
      // Before, each chunk joined the unfinished line and searched it again from its start: 16 MiB took 11 s.
      const chunk = Buffer.alloc(16 * 1024, 'x'.charCodeAt(0));
      const unbounded = captureFor('ollama-chat', undefined, 64 * 1024 * 1024);
      const started = process.hrtime.bigint();
      for (let i = 0; i < 1024; i++) unbounded.push(chunk);
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      assert.ok(ms < 2000, `16 MiB in 16 KiB chunks took ${ms} ms`);
      assert.equal(unbounded.finish().cut, undefined);

      const bounded = captureFor('ollama-chat', undefined, 256 * 1024);
      for (let i = 0; i < 1024; i++) bounded.push(chunk);
      const late = Buffer.from('\n{"message":{"role":"assistant","content":"late"}}\n');
      bounded.push(late);
      const done = bounded.finish();
      assert.equal(done.message.content, '', 'nothing after the copy stopped');
      assert.ok(done.cut && done.cut.kept <= 256 * 1024 + chunk.length, JSON.stringify(done.cut));
      assert.equal(done.cut.total, 16 * 1024 * 1024 + late.length);
    });
  });
});

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : [p];
  });
}
