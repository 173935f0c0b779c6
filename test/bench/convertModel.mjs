// Model conversion benchmark: a synthetic Hugging Face folder with Qwen2.5-Coder-7B-Instruct's shapes (hidden 3584,
// intermediate 18944, 28 heads / 4 key-value heads, vocab 152064 with a 151,665-token BPE vocabulary and 151,387
// merges, untied lm_head, bf16 weights in ~4 GB shards with model.safetensors.index.json) converted to GGUF by
// convertModel. Runs dist/core.js when the core exports convertModel, else src/core/convert/modelConvert.ts through tsx.
//
//   node test/bench/convertModel.mjs            BENCH_LAYERS=28 (the whole 7B: 15 GB in, ~8 GB out for q8_0)
//   BENCH_LAYERS=4 BENCH_OUTTYPES=q8_0,f16 node test/bench/convertModel.mjs
//
// Each conversion runs in a child process of its own, so its peak RSS (getrusage maxrss) is that conversion's
// alone, Node (and tsx) included. The input was just written, so much of it is read from the page cache; the time
// includes the fsync of the output. Target: peak RSS bounded by the chunk buffers (≤ 600 MB, whatever the model's
// size), i.e. the model is streamed, never held.

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mulberry32 } from '../support/mulberry32.cjs';

const require = createRequire(import.meta.url);
const HERE = fileURLToPath(import.meta.url);
const ROOT = path.resolve(path.dirname(HERE), '..', '..');
const LAYERS = Number(process.env.BENCH_LAYERS ?? 28);
const OUT_TYPES = (process.env.BENCH_OUTTYPES ?? 'q8_0,f16').split(',');
const TARGET_RSS = 600e6;
const SHARD_BYTES = 4e9;

const M = { hidden: 3584, intermediate: 18944, heads: 28, kvHeads: 4, vocab: 152064, baseVocab: 151643 };

function tensors() {
  const { hidden: H, intermediate: I, vocab: V } = M;
  const kv = (H / M.heads) * M.kvHeads;
  const list = [['model.embed_tokens.weight', [V, H]]];
  for (let l = 0; l < LAYERS; l++) {
    const p = `model.layers.${l}.`;
    list.push(
      [`${p}input_layernorm.weight`, [H]],
      [`${p}self_attn.q_proj.weight`, [H, H]],
      [`${p}self_attn.q_proj.bias`, [H]],
      [`${p}self_attn.k_proj.weight`, [kv, H]],
      [`${p}self_attn.k_proj.bias`, [kv]],
      [`${p}self_attn.v_proj.weight`, [kv, H]],
      [`${p}self_attn.v_proj.bias`, [kv]],
      [`${p}self_attn.o_proj.weight`, [H, H]],
      [`${p}post_attention_layernorm.weight`, [H]],
      [`${p}mlp.gate_proj.weight`, [I, H]],
      [`${p}mlp.up_proj.weight`, [I, H]],
      [`${p}mlp.down_proj.weight`, [H, I]],
    );
  }
  list.push(['model.norm.weight', [H]], ['lm_head.weight', [V, H]]);
  return list;
}

/** Writes the shards tensor by tensor, in chunks: the generator never holds a tensor either. */
function writeModel(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const all = tensors();
  const shards = [[]];
  let size = 0;
  for (const t of all) {
    const bytes = t[1].reduce((n, d) => n * d, 1) * 2;
    if (size + bytes > SHARD_BYTES && shards.at(-1).length > 0) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1).push(t);
    size += bytes;
  }
  const weightMap = {};
  const rand = mulberry32(7);
  const chunk = new Uint16Array(1 << 22);
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  let params = 0;
  shards.forEach((list, i) => {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const header = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const [name, shape] of list) {
      const bytes = shape.reduce((n, d) => n * d, 1) * 2;
      header[name] = { dtype: 'BF16', shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
      weightMap[name] = file;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const fd = fs.openSync(path.join(dir, file), 'w');
    try {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(json.length));
      fs.writeSync(fd, length);
      fs.writeSync(fd, json);
      for (const [, shape] of list) {
        let left = shape.reduce((n, d) => n * d, 1);
        params += left;
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          for (let j = 0; j < n; j++) {
            f[0] = (rand() - 0.5) * 0.05;
            chunk[j] = bits[0] >>> 16;
          }
          fs.writeSync(fd, new Uint8Array(chunk.buffer, 0, n * 2));
          left -= n;
        }
      }
    } finally {
      fs.closeSync(fd);
    }
  });
  fs.writeFileSync(
    path.join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      hidden_size: M.hidden,
      intermediate_size: M.intermediate,
      num_hidden_layers: LAYERS,
      num_attention_heads: M.heads,
      num_key_value_heads: M.kvHeads,
      vocab_size: M.vocab,
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000.0,
      tie_word_embeddings: false,
      bos_token_id: 151643,
      eos_token_id: 151645,
    }),
  );
  writeTokenizer(dir);
  return { params, shards: shards.length, tensors: all.length };
}

function writeTokenizer(dir) {
  const vocab = {};
  for (let i = 0; i < M.baseVocab; i++) vocab[`t${i.toString(36)}`] = i;
  const merges = [];
  for (let i = 256; i < M.baseVocab; i++) merges.push(`t${(i % 256).toString(36)} t${(i >> 8).toString(36)}`);
  const added = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'].map((content, i) => ({
    id: M.baseVocab + i,
    content,
    special: true,
  }));
  const regex =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  fs.writeFileSync(
    path.join(dir, 'tokenizer.json'),
    JSON.stringify({
      added_tokens: added,
      pre_tokenizer: {
        type: 'Sequence',
        pretokenizers: [{ type: 'Split', pattern: { Regex: regex } }, { type: 'ByteLevel' }],
      },
      model: { type: 'BPE', vocab, merges },
    }),
  );
  fs.writeFileSync(
    path.join(dir, 'tokenizer_config.json'),
    JSON.stringify({ eos_token: '<|im_end|>', pad_token: '<|endoftext|>', chat_template: '{{ messages }}' }),
  );
}

/** In the child: one conversion, timed, with the process's peak RSS. */
async function child([hfDir, out, outType]) {
  let convertModel;
  try {
    ({ convertModel } = require(path.join(ROOT, 'dist', 'core.js')));
  } catch {
    // no dist build
  }
  if (!convertModel)
    ({ convertModel } = await import(
      pathToFileURL(path.join(ROOT, 'src', 'core', 'convert', 'modelConvert.ts')).href
    ));
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  const result = await convertModel(hfDir, out, { outType });
  const ms = performance.now() - t0;
  process.stdout.write(
    JSON.stringify({ ms, rssBefore, maxRss: process.resourceUsage().maxRSS * 1024, bytes: result.bytes }),
  );
}

/**
 * Reads the output back with Hugging Face's GGUF parser: the file ends where the last tensor does (offsets past
 * 4 GiB included), and lm_head's last row, the file's last bytes, holds the source's values (f16/f32 outputs).
 */
async function verify(hfDir, out, outType) {
  const { gguf } = await import('@huggingface/gguf');
  const g = await gguf(out, { allowLocalFile: true });
  const last = g.tensorInfos.at(-1);
  const count = last.shape.reduce((n, d) => n * d, 1n);
  const bytesPer = { q8_0: 34n / 32n, f16: 2n, bf16: 2n, f32: 4n }[outType];
  const end =
    g.tensorDataOffset + last.offset + (outType === 'q8_0' ? (count / 32n) * 34n : count * bytesPer);
  const size = BigInt(fs.statSync(out).size);
  if (last.name !== 'output.weight' || size < end || size - end >= 32n)
    throw new Error(`${out}: ${last.name} ends at ${end} but the file has ${size} bytes`);
  if (outType !== 'f16') return;
  const index = JSON.parse(fs.readFileSync(path.join(hfDir, 'model.safetensors.index.json'), 'utf8'));
  const shard = path.join(hfDir, index.weight_map['lm_head.weight']);
  const fd = fs.openSync(shard, 'r');
  const out16 = fs.openSync(out, 'r');
  try {
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const json = Buffer.alloc(Number(head.readBigUInt64LE(0)));
    fs.readSync(fd, json, 0, json.length, 8);
    const entry = JSON.parse(json.toString('utf8'))['lm_head.weight'];
    const row = M.hidden * 2;
    const src = Buffer.alloc(row);
    fs.readSync(fd, src, 0, row, 8 + json.length + entry.data_offsets[1] - row);
    const dst = Buffer.alloc(row);
    fs.readSync(out16, dst, 0, row, Number(end) - row);
    const f = Buffer.alloc(4);
    for (let i = 0; i < M.hidden; i++) {
      f.writeUInt32LE((src.readUInt16LE(2 * i) << 16) >>> 0);
      const want = f.readFloatLE(0);
      const h = dst.readUInt16LE(2 * i);
      const e = (h >> 10) & 0x1f;
      const m = (h & 0x3ff) / 1024;
      const got = (h & 0x8000 ? -1 : 1) * (e === 0 ? 2 ** -14 * m : 2 ** (e - 15) * (1 + m));
      if (Math.abs(got - want) > Math.max(Math.abs(want) * 2 ** -11, 2 ** -25))
        throw new Error(`output.weight[${i}] of the last row is ${got}, expected ${want}`);
    }
  } finally {
    fs.closeSync(fd);
    fs.closeSync(out16);
  }
}

const gb = (b) => `${(b / 1e9).toFixed(2)} GB`;
const mb = (b) => `${(b / 1e6).toFixed(0)} MB`;

async function parent() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'al-bench-model-'));
  try {
    const hfDir = path.join(tmp, 'merged');
    const t0 = performance.now();
    const m = writeModel(hfDir);
    const inputBytes = fs.readdirSync(hfDir).reduce((n, f) => n + fs.statSync(path.join(hfDir, f)).size, 0);
    console.log(
      `model: ${LAYERS} of 28 layers, ${m.tensors} tensors, ${(m.params / 1e9).toFixed(2)}B params, ` +
        `${gb(inputBytes)} in ${m.shards} shards (written in ${((performance.now() - t0) / 1000).toFixed(0)} s)`,
    );
    console.log(`Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'} ×${os.cpus().length}\n`);
    console.log('out    seconds   output     MB/s in   peak RSS   RSS before   target');
    for (const outType of OUT_TYPES) {
      const out = path.join(tmp, `model-${outType}.gguf`);
      const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
      const r = spawnSync(
        process.execPath,
        ['--import', pathToFileURL(tsx).href, HERE, '--child', hfDir, out, outType],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        },
      );
      if (r.status !== 0) throw new Error(`conversion failed: ${r.stderr}`);
      const run = JSON.parse(r.stdout);
      console.log(
        `${outType.padEnd(6)} ${(run.ms / 1000).toFixed(1).padStart(7)}   ${gb(run.bytes).padStart(8)}   ` +
          `${(inputBytes / 1e6 / (run.ms / 1000)).toFixed(0).padStart(7)}   ${mb(run.maxRss).padStart(8)}   ` +
          `${mb(run.rssBefore).padStart(10)}   ${run.maxRss <= TARGET_RSS ? 'met' : 'MISSED'}`,
      );
      await verify(hfDir, out, outType);
      fs.rmSync(out, { force: true });
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--child') await child(args.slice(1));
else await parent();
