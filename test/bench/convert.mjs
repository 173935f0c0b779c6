// LoRA conversion benchmark: a rank-16 PEFT adapter with Qwen2.5-Coder-7B's shapes (28 layers, hidden 3584,
// intermediate 18944, 28 heads / 4 key-value heads, all seven projections: ~40M parameters, synthetic values)
// converted to GGUF by the built-in converter in dist/core.js. `npm run bench:convert` (builds first).
// BENCH_RUNS=N changes the runs per case (5).
//
// Targets: median conversion time ≤ 2 s; peak resident memory ≤ 2× the adapter's size. Each conversion runs in a
// child process of its own, so its peak RSS (getrusage maxrss) is that conversion's alone, Node itself included.
// The adapter is written just before, so it is read from the page cache: the time is CPU plus the fsync'ed write.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../support/mulberry32.cjs';

const require = createRequire(import.meta.url);
const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), '..', '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const TARGET = { ms: 2000, memoryRatio: 2 };

const QWEN25_CODER_7B = { layers: 28, hidden: 3584, intermediate: 18944, heads: 28, kvHeads: 4, rank: 16 };

/** PEFT's tensors for the model: [name, [rows, cols]] with lora_A [r, in] and lora_B [out, r]. */
function adapterTensors(m) {
  const kv = (m.hidden / m.heads) * m.kvHeads;
  const projections = [
    ['self_attn.q_proj', m.hidden, m.hidden],
    ['self_attn.k_proj', kv, m.hidden],
    ['self_attn.v_proj', kv, m.hidden],
    ['self_attn.o_proj', m.hidden, m.hidden],
    ['mlp.gate_proj', m.intermediate, m.hidden],
    ['mlp.up_proj', m.intermediate, m.hidden],
    ['mlp.down_proj', m.hidden, m.intermediate],
  ];
  const tensors = [];
  for (let layer = 0; layer < m.layers; layer++) {
    for (const [module, out, inSize] of projections) {
      const base = `base_model.model.model.layers.${layer}.${module}`;
      tensors.push([`${base}.lora_A.weight`, [m.rank, inSize]]);
      tensors.push([`${base}.lora_B.weight`, [out, m.rank]]);
    }
  }
  return tensors;
}

/** Writes adapter_config.json and adapter_model.safetensors tensor by tensor (never the whole file in memory). */
function writeAdapter(dir, m, dtype) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'adapter_config.json'),
    JSON.stringify({
      peft_type: 'LORA',
      r: m.rank,
      lora_alpha: 32,
      bias: 'none',
      use_dora: false,
      use_rslora: false,
    }),
  );
  const bytesPer = dtype === 'F32' ? 4 : 2;
  const tensors = adapterTensors(m);
  const header = {};
  let offset = 0;
  for (const [name, shape] of tensors) {
    const size = shape[0] * shape[1] * bytesPer;
    header[name] = { dtype, shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const file = path.join(dir, 'adapter_model.safetensors');
  const fd = fs.openSync(file, 'w');
  try {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    fs.writeSync(fd, length);
    fs.writeSync(fd, json);
    const rand = mulberry32(42);
    let params = 0;
    for (const [, shape] of tensors) {
      const n = shape[0] * shape[1];
      params += n;
      const values = new Float32Array(n);
      for (let i = 0; i < n; i++) values[i] = (rand() - 0.5) * 0.04;
      const bytes =
        dtype === 'F32'
          ? new Uint8Array(values.buffer)
          : new Uint8Array(new Uint16Array(new Uint32Array(values.buffer).map((b) => b >>> 16)).buffer);
      fs.writeSync(fd, bytes);
    }
    fs.fsyncSync(fd); // so the runs below do not pay for writing the input back
    return { file, bytes: fs.statSync(file).size, params, tensors: tensors.length };
  } finally {
    fs.closeSync(fd);
  }
}

/** In the child: one conversion, timed, with the process's peak RSS. */
async function child([peftDir, out, arch, outType]) {
  const { convertLora } = require(path.join(ROOT, 'dist', 'core.js'));
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const result = await convertLora(peftDir, out, {
    arch,
    outType,
    heads: QWEN25_CODER_7B.heads,
    kvHeads: QWEN25_CODER_7B.kvHeads,
  });
  const ms = performance.now() - t0;
  process.stdout.write(
    JSON.stringify({ ms, rssBefore, maxRss: process.resourceUsage().maxRSS * 1024, bytes: result.bytes }),
  );
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;

async function parent() {
  const dist = path.join(ROOT, 'dist', 'core.js');
  if (!fs.existsSync(dist))
    throw new Error('dist/core.js is missing: run `node esbuild.js` (or npm run bench:convert)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'al-bench-convert-'));
  try {
    const cases = [
      { input: 'F32', arch: 'qwen2', outType: 'f32' },
      { input: 'F32', arch: 'qwen2', outType: 'f16' },
      { input: 'F32', arch: 'llama', outType: 'f32' },
      { input: 'BF16', arch: 'qwen2', outType: 'f16' },
      { input: 'BF16', arch: 'qwen2', outType: 'f32' },
    ];
    const adapters = {};
    for (const dtype of new Set(cases.map((c) => c.input))) {
      const t0 = performance.now();
      adapters[dtype] = writeAdapter(path.join(tmp, dtype), QWEN25_CODER_7B, dtype);
      const a = adapters[dtype];
      console.log(
        `adapter ${dtype}: ${a.tensors} tensors, ${(a.params / 1e6).toFixed(1)}M params, ${mb(a.bytes)} ` +
          `(written in ${Math.round(performance.now() - t0)} ms)`,
      );
    }
    console.log(
      `\nNode ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} ×${os.cpus().length}, ${RUNS} runs per case\n`,
    );
    console.log(
      'input  arch   out   median ms   min ms   peak RSS    RSS before   output      peak/adapter   targets',
    );
    let allMet = true;
    for (const c of cases) {
      const adapter = adapters[c.input];
      const out = path.join(tmp, `out-${c.input}-${c.arch}-${c.outType}.gguf`);
      const runs = [];
      for (let i = 0; i < RUNS; i++) {
        const r = spawnSync(
          process.execPath,
          ['--expose-gc', HERE, '--child', path.dirname(adapter.file), out, c.arch, c.outType],
          {
            encoding: 'utf8',
          },
        );
        if (r.status !== 0) throw new Error(`conversion failed: ${r.stderr}`);
        runs.push(JSON.parse(r.stdout));
      }
      const ms = median(runs.map((r) => r.ms));
      const peak = Math.max(...runs.map((r) => r.maxRss));
      const ratio = peak / adapter.bytes;
      const met = ms <= TARGET.ms && ratio <= TARGET.memoryRatio;
      allMet &&= met;
      console.log(
        `${c.input.padEnd(6)} ${c.arch.padEnd(6)} ${c.outType.padEnd(5)} ${ms.toFixed(0).padStart(9)}   ` +
          `${Math.min(...runs.map((r) => r.ms))
            .toFixed(0)
            .padStart(6)}   ${mb(peak).padStart(9)}   ` +
          `${mb(median(runs.map((r) => r.rssBefore))).padStart(10)}   ${mb(runs[0].bytes).padStart(9)}   ` +
          `${ratio.toFixed(2).padStart(12)}   ${met ? 'met' : 'MISSED'}`,
      );
    }
    console.log(
      '\nbf16 in, f32 out: the output alone is twice the adapter, and the converter holds the whole output in memory' +
        ' to write it atomically (writeFileAtomic), so that case cannot meet the memory target.',
    );
    console.log(
      `Targets: median ≤ ${TARGET.ms} ms and peak RSS ≤ ${TARGET.memoryRatio}× the adapter file: ${allMet ? 'all met' : 'not all met'}.`,
    );
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args.slice(1));
else await parent();
