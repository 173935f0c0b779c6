// `npm run bench:gateway`: what the gateway adds to a completion, against the same upstream called directly, in
// the same run: time to the first token and to the last byte (median, p99), streamed (SSE) and not, and throughput
// at 16 concurrent streams. The upstream is the loopback stand-in (test/support/chatUpstream.ts); every gateway
// request is recorded into a real pipeline, as in use. Targets: ≤ 1 ms median added to the first token, ≤ 5%
// throughput loss. Prints a report; writes nothing.

import * as http from 'node:http';
import * as os from 'node:os';
import { Gateway, type GatewayRecorder } from '../../src/core/gateway/gateway';
import { LearningPipeline } from '../../src/core/pipeline';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../support/workspace';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
const STREAMS = 16;
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 4000);

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Timing {
  firstMs: number;
  lastMs: number;
  bytes: number;
}

/** One chat completion over raw HTTP: ms to the first body byte (the first token when streamed) and to the last. */
function complete(base: string, stream: boolean, words: string): Promise<Timing> {
  const body = JSON.stringify({ model: 'bench-model', stream, messages: [{ role: 'user', content: words }] });
  const start = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - start) / 1e6;
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${base}/v1/chat/completions`,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let firstMs = -1;
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          if (firstMs < 0) firstMs = ms();
          bytes += c.length;
        });
        res.on('end', () => resolve({ firstMs, lastMs: ms(), bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

async function latency(direct: string, gateway: string, stream: boolean) {
  const d: Timing[] = [];
  const g: Timing[] = [];
  for (let i = 0; i < 20; i++) {
    await complete(direct, stream, 'warm');
    await complete(gateway, stream, 'warm');
  }
  // Interleaved, so drift in the machine's load falls on both alike.
  for (let i = 0; i < REQUESTS; i++) {
    d.push(await complete(direct, stream, `req ${i}`));
    g.push(await complete(gateway, stream, `req ${i}`));
  }
  const row = (pick: (t: Timing) => number) => {
    const dm = quantile(d.map(pick), 0.5);
    const gm = quantile(g.map(pick), 0.5);
    const d99 = quantile(d.map(pick), 0.99);
    const g99 = quantile(g.map(pick), 0.99);
    return {
      directMedian: dm,
      gatewayMedian: gm,
      addedMedian: gm - dm,
      directP99: d99,
      gatewayP99: g99,
      addedP99: g99 - d99,
    };
  };
  return { first: row((t) => t.firstMs), last: row((t) => t.lastMs) };
}

/** Completed streamed requests per second with 16 clients, each sending back to back, for THROUGHPUT_MS. */
async function throughput(base: string): Promise<{ perSecond: number; bytesPerSecond: number }> {
  const end = performance.now() + THROUGHPUT_MS;
  let done = 0;
  let bytes = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: STREAMS }, async () => {
      while (performance.now() < end) {
        const t = await complete(base, true, 'throughput');
        done++;
        bytes += t.bytes;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: done / seconds, bytesPerSecond: bytes / seconds };
}

async function main(): Promise<void> {
  // 256 tokens per answer, one per SSE event; the upstream runs in a process of its own, as a real one does.
  const reply = Array.from({ length: 256 }, (_, i) => `w${i} `).join('');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(__dirname, '../support/chatUpstreamMain.ts'), JSON.stringify({ reply })],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const upstream = JSON.parse(
    await new Promise<string>((resolve) =>
      readline.createInterface({ input: child.stdout! }).once('line', resolve),
    ),
  ) as { url: string; host: string };
  const ws = makeWorkspace();
  writeAgentFile(ws, 'learning-config.json', { gateway: { port: 0 }, autoExport: { enabled: false } });
  const pipeline = await LearningPipeline.open(ws, { log: () => undefined });
  let recorded = 0;
  // BENCH_NO_RECORD=1: forward and capture only, to tell the recording's share of the cost from the forwarding's.
  const noRecord = process.env.BENCH_NO_RECORD === '1';
  const recorder: GatewayRecorder = noRecord
    ? {
        recordRun: () => Promise.resolve({ id: 'not-recorded', reward: 0 }),
        selectModel: (...a) => pipeline.selectModel(...a),
        selectPrompt: (r) => pipeline.selectPrompt(r),
        getConfig: () => pipeline.getConfig(),
      }
    : pipeline;
  const gateway = new Gateway({ recorder, ollamaHost: upstream.host, log: () => undefined });
  gateway.onDidCapture(() => recorded++);
  const url = await gateway.start();
  try {
    const streamed = await latency(upstream.url, url, true);
    const whole = await latency(upstream.url, url, false);
    const tDirect1 = await throughput(upstream.url);
    const tGateway = await throughput(url);
    const tDirect2 = await throughput(upstream.url);
    await gateway.whenIdle();
    const tDirect = (tDirect1.perSecond + tDirect2.perSecond) / 2;
    const loss = 1 - tGateway.perSecond / tDirect;
    const f = (n: number) => n.toFixed(3);
    const lines = [
      `Gateway overhead — ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}, ` +
        `${REQUESTS} requests per row (interleaved with direct), loopback stand-in upstream, 256-token answers`,
      '',
      '| request | measure | direct median | gateway median | added median | direct p99 | gateway p99 | added p99 |',
      '|---|---|---|---|---|---|---|---|',
      ...(
        [
          ['streamed (SSE)', 'first token', streamed.first],
          ['streamed (SSE)', 'last byte', streamed.last],
          ['not streamed', 'first byte', whole.first],
          ['not streamed', 'last byte', whole.last],
        ] as const
      ).map(
        ([what, measure, r]) =>
          `| ${what} | ${measure} | ${f(r.directMedian)} ms | ${f(r.gatewayMedian)} ms | ${f(r.addedMedian)} ms | ` +
          `${f(r.directP99)} ms | ${f(r.gatewayP99)} ms | ${f(r.addedP99)} ms |`,
      ),
      '',
      `Throughput, ${STREAMS} concurrent streams, ${THROUGHPUT_MS} ms each: direct ${tDirect.toFixed(1)} req/s ` +
        `(${tDirect1.perSecond.toFixed(1)} before, ${tDirect2.perSecond.toFixed(1)} after), gateway ` +
        `${tGateway.perSecond.toFixed(1)} req/s (${(tGateway.bytesPerSecond / 1e6).toFixed(1)} MB/s): ` +
        `${(loss * 100).toFixed(1)}% loss (target ≤ 5%)`,
      `First token added (median): ${f(streamed.first.addedMedian)} ms (target ≤ 1 ms). Runs ${noRecord ? 'captured, not recorded (BENCH_NO_RECORD)' : 'recorded'}: ${recorded}.`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await gateway.stop();
    await pipeline.close();
    child.kill('SIGTERM');
    agent.destroy();
    removeWorkspace(ws);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
