// `npm run bench:gateway`: what the gateway adds to a completion, against the same upstream called directly, in
// the same run: time to the first token and to the last byte (median, p99), streamed (SSE) and not, and throughput
// at 16 concurrent streams. The upstream is the loopback stand-in (test/support/chatUpstream.ts); every gateway
// request is recorded by `agent-learning serve` (built: dist/cli.js), in a process of its own with the default
// config, as users run it; the client (this process) and the upstream are processes of their own too. Throughput is
// measured twice: tokens back to back (the relay's own cost, a worst case) and paced like a fast model. Targets:
// ≤ 1 ms median added to the first token, ≤ 5% throughput loss. Prints a report; writes nothing.
//
// The stand-in writes an answer's 256 tokens in one burst of CPU that never waits, which no model does. Through the
// gateway, the upstream process woken by the gateway's request can take the gateway's CPU (2 cores here) until the
// burst is over, so the first token waits for the last to be written. One more row has the upstream pause after
// its first token for as long as a fast model takes for one (BENCH_PACE_MS), then write the rest as before: the
// gateway's own cost on the way to the first token.

import * as http from 'node:http';
import * as os from 'node:os';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { makeWorkspace, removeWorkspace } from '../support/workspace';

const CLI = path.resolve(__dirname, '../../dist/cli.js');
/** ms between tokens in the paced throughput row (BENCH_PACE_MS). */
const PACE_MS = Number(process.env.BENCH_PACE_MS ?? 10);

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 300);
/**
 * ms between one measured request's end and the next's start (BENCH_GAP_MS): an agent reads an answer before it asks
 * again, and by then the gateway has recorded the last run. Back to back (0) is reported beside it.
 */
const GAP_MS = Number(process.env.BENCH_GAP_MS ?? 20);
const STREAMS = 16;
const THROUGHPUT_MS = Number(process.env.BENCH_THROUGHPUT_MS ?? 4000);

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

interface Timing {
  firstMs: number;
  lastMs: number;
  bytes: number;
}

/** One chat completion over raw HTTP: ms to the first body byte (the first token when streamed) and to the last. */
function complete(base: string, stream: boolean, words: string, model = 'bench-model'): Promise<Timing> {
  const body = JSON.stringify({ model, stream, messages: [{ role: 'user', content: words }] });
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

/** `model`: `paused-model` has the stand-in pause after its first token (chatUpstream.ts). */
async function latency(direct: string, gateway: string, stream: boolean, gapMs = GAP_MS, model?: string) {
  const d: Timing[] = [];
  const g: Timing[] = [];
  for (let i = 0; i < 20; i++) {
    await complete(direct, stream, 'warm', model);
    await complete(gateway, stream, 'warm', model);
  }
  // Interleaved, so drift in the machine's load falls on both alike, and in alternating order: the request after a
  // gateway request shares the CPU with the gateway recording that run, and always sending the direct one then made
  // the direct side slower and the gateway's added time look smaller.
  const gap = () => (gapMs > 0 ? sleep(gapMs) : Promise.resolve());
  for (let i = 0; i < REQUESTS; i++) {
    const sides: [string, Timing[]][] = [
      [direct, d],
      [gateway, g],
    ];
    if (i % 2 === 1) sides.reverse();
    for (const [base, into] of sides) {
      await gap();
      into.push(await complete(base, stream, `req ${i}`, model));
    }
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

/**
 * A stand-in upstream in a process of its own, `chunkDelayMs` between its tokens; `paused-model` answers pause
 * PACE_MS after their first token.
 */
async function startUpstream(chunkDelayMs: number): Promise<{ url: string; host: string; stop: () => void }> {
  // 256 tokens per answer, one per SSE event.
  const reply = Array.from({ length: 256 }, (_, i) => `w${i} `).join('');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(__dirname, '../support/chatUpstreamMain.ts'),
      JSON.stringify({ reply, chunkDelayMs, pauseAfterFirstMs: PACE_MS }),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const line = await new Promise<string>((resolve) =>
    readline.createInterface({ input: child.stdout! }).once('line', resolve),
  );
  return { ...(JSON.parse(line) as { url: string; host: string }), stop: () => child.kill('SIGTERM') };
}

interface ServedGateway {
  url: string;
  /** Stops it (SIGTERM: it saves and closes) and resolves once it has exited. */
  stop(): Promise<void>;
}

/** `agent-learning serve` on a workspace with the default config, as a user runs it (its own process). */
async function startGateway(ws: string, upstreamHost: string): Promise<ServedGateway> {
  const child = spawn(process.execPath, [CLI, 'serve', '--workspace', ws, '--port', '0'], {
    env: { ...process.env, OLLAMA_HOST: upstreamHost },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const line = await new Promise<string>((resolve) =>
    readline.createInterface({ input: child.stdout! }).once('line', resolve),
  );
  return {
    url: (JSON.parse(line) as { url: string }).url,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Runs in the workspace's experience.db, read once its gateway has closed. */
function runsIn(ws: string): number {
  const db = new Database(path.join(ws, '.agent', 'experience.db'), { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM runs').pluck().get() as number;
  } finally {
    db.close();
  }
}

async function main(): Promise<void> {
  const upstream = await startUpstream(0);
  const paced = await startUpstream(PACE_MS);
  const ws = makeWorkspace();
  const gateway = await startGateway(ws, upstream.host);
  const pacedWs = makeWorkspace();
  const pacedGateway = await startGateway(pacedWs, paced.host);
  try {
    const streamed = await latency(upstream.url, gateway.url, true);
    const backToBack = await latency(upstream.url, gateway.url, true, 0);
    const paused = await latency(upstream.url, gateway.url, true, GAP_MS, 'paused-model');
    const whole = await latency(upstream.url, gateway.url, false);
    const tDirect1 = await throughput(upstream.url);
    const tGateway = await throughput(gateway.url);
    const tDirect2 = await throughput(upstream.url);
    const pDirect1 = await throughput(paced.url);
    const pGateway = await throughput(pacedGateway.url);
    const pDirect2 = await throughput(paced.url);
    const tDirect = (tDirect1.perSecond + tDirect2.perSecond) / 2;
    const pDirect = (pDirect1.perSecond + pDirect2.perSecond) / 2;
    const loss = 1 - tGateway.perSecond / tDirect;
    const pacedLoss = 1 - pGateway.perSecond / pDirect;
    const f = (n: number) => n.toFixed(3);
    await gateway.stop();
    await pacedGateway.stop();
    const lines = [
      `Gateway overhead — ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}, ` +
        `${REQUESTS} requests per row (interleaved with direct, ${GAP_MS} ms apart), loopback stand-in upstream, ` +
        '256-token answers; ' +
        'the gateway is `agent-learning serve` in its own process, default config, every run recorded',
      '',
      '| request | measure | direct median | gateway median | added median | direct p99 | gateway p99 | added p99 |',
      '|---|---|---|---|---|---|---|---|',
      ...(
        [
          ['streamed (SSE)', 'first token', streamed.first],
          ['streamed, back to back', 'first token', backToBack.first],
          [`streamed, upstream pausing ${PACE_MS} ms after its first token`, 'first token', paused.first],
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
      `Throughput, ${STREAMS} concurrent streams, ${THROUGHPUT_MS} ms each, tokens back to back (worst case): direct ` +
        `${tDirect.toFixed(1)} req/s (${tDirect1.perSecond.toFixed(1)} before, ${tDirect2.perSecond.toFixed(1)} after), ` +
        `gateway ${tGateway.perSecond.toFixed(1)} req/s (${(tGateway.bytesPerSecond / 1e6).toFixed(1)} MB/s): ` +
        `${(loss * 100).toFixed(1)}% loss (target ≤ 5%)`,
      `Throughput, ${STREAMS} concurrent streams, a token every ${PACE_MS} ms (${Math.round(1000 / PACE_MS)} tokens/s a ` +
        `stream, faster than a local 7B model on a GPU): direct ${pDirect.toFixed(2)} req/s, gateway ` +
        `${pGateway.perSecond.toFixed(2)} req/s: ${(pacedLoss * 100).toFixed(1)}% loss (target ≤ 5%)`,
      `First token added (median): ${f(streamed.first.addedMedian)} ms (target ≤ 1 ms); with the upstream ` +
        `pausing after its first token: ${f(paused.first.addedMedian)} ms. Runs recorded: ` +
        `${runsIn(ws) + runsIn(pacedWs)} (every request through the gateway, warm-ups included).`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await Promise.all([gateway.stop(), pacedGateway.stop()]);
    upstream.stop();
    paced.stop();
    agent.destroy();
    removeWorkspace(ws);
    removeWorkspace(pacedWs);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
