// What our converters write, run by a real llama.cpp (node-llama-cpp's prebuilt CPU build, from the npm registry)
// and compared with what transformers computes from the Hugging Face files they were converted from: the next-token
// log-probabilities of every vocabulary token, at every position of a chat-formatted sequence, fed to both as the
// same token ids (so a tokenizer difference cannot hide a weight error). Two ways to deploy a fine-tune, for qwen2
// and for llama with llama3 rope scaling: the base GGUF (convert-model) with our GGUF LoRA adapter (convert-lora)
// against PEFT's base + adapter, and the GGUF of merge_lora.py's merge against the merged model. The models, the
// adapter, the merge and the reference log-probs come from python/tests/reference_logprobs.py, in the environment
// test/python/setup.sh makes.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Llama, Token } from 'node-llama-cpp' with { 'resolution-mode': 'import' };
import * as z from 'zod';
import { main } from '../../src/cli/main';
import { makeWorkspace, removeWorkspace } from '../support/workspace';

const ROOT = path.resolve(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const ARCHS = ['qwen2', 'llama'] as const;
type Arch = (typeof ARCHS)[number];

/**
 * f32 weights, an f32 KV cache and no flash attention: llama.cpp computes in f32 what the reference computes in
 * float64 from the same f32 weights, so only f32 rounding separates them (measured: at most 3.3e-6).
 */
const F32_TOLERANCE = 1e-4;
/**
 * q8_0 keeps 8 bits per weight (a block of 32 shares an f16 scale), and on the CPU llama.cpp also rounds the
 * activations to q8_0 before each of those matmuls; through two layers that moves log-probs by up to 0.08 to 0.20
 * here (mean KL per position 1.4e-4 to 5.1e-4). A wrong layout moves them by far more; measured by breaking the
 * converters on purpose: q/k rows not permuted (llama) 2.4 to 4.8, llama3's rope_freqs left out 1.8 to 4.4,
 * lora_alpha 5% off 0.3 (qwen2) and 0.9 (llama). The f32 checks catch all of these many times over; this bound
 * (1.5x the largest measured spread) is what q8_0's own rounding leaves room for.
 */
const Q8_0_TOLERANCE = 0.3;
/** Mean KL(reference ‖ llama.cpp) per position allowed for q8_0: 4x the largest measured. */
const Q8_0_KL = 2e-3;

const logProbsSchema = z.array(z.array(z.number()).min(2)).min(2);
const referenceSchema = z.record(
  z.enum(ARCHS),
  z.object({
    ids: z.array(z.number().int().nonnegative()).min(8),
    base: logProbsSchema,
    adapter: logProbsSchema,
    merged: logProbsSchema,
  }),
);
type Reference = z.infer<typeof referenceSchema>;
type LogProbs = number[][];

async function cli(argv: string[]): Promise<void> {
  let err = '';
  const code = await main(argv, {
    stdin: () => Promise.resolve(''),
    out: () => {},
    err: (s) => (err += s),
  });
  assert.equal(code, 0, `agent-learning ${argv.join(' ')}: ${err}`);
}

function maxAbsDiff(a: LogProbs, b: LogProbs): number {
  assert.equal(a.length, b.length, 'positions');
  let most = 0;
  a.forEach((row, i) => {
    assert.equal(row.length, b[i]!.length, 'vocabulary size');
    row.forEach((v, t) => (most = Math.max(most, Math.abs(v - b[i]![t]!))));
  });
  return most;
}

/** Mean over positions of KL(p ‖ q), from log-probs. */
function meanKl(p: LogProbs, q: LogProbs): number {
  let sum = 0;
  p.forEach((row, i) => row.forEach((lp, t) => (sum += Math.exp(lp) * (lp - q[i]![t]!))));
  return sum / p.length;
}

describe('llama.cpp (node-llama-cpp) runs our GGUF files as transformers runs their sources', function () {
  this.timeout(600_000);
  let dir: string;
  let reference: Reference;
  let llama: Llama;
  let loadFailed = false;
  const measured: string[] = [];

  const gguf = (arch: Arch, name: string) => path.join(dir, `${arch}-${name}.gguf`);

  before(async () => {
    assert.ok(fs.existsSync(PYTHON), `no ${PYTHON}: run "bash test/python/setup.sh" (npm test does)`);
    dir = makeWorkspace();
    execFileSync(PYTHON, ['-m', 'tests.reference_logprobs', dir], {
      cwd: path.join(ROOT, 'python'),
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, HF_HUB_OFFLINE: '1' },
    });
    reference = referenceSchema.parse(JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')));
    for (const arch of ARCHS) {
      const folder = path.join(dir, arch);
      for (const model of ['base', 'merged']) {
        for (const outType of ['f32', 'q8_0']) {
          const out = gguf(arch, `${model}-${outType}`);
          await cli(['convert-model', path.join(folder, model), '--out', out, '--outtype', outType]);
        }
      }
      // No --arch, --heads or --kv-heads: they come from the base's config.json beside the adapter, as after training.
      await cli(['convert-lora', path.join(folder, 'adapter'), '--out', gguf(arch, 'adapter')]);
    }
    // ESM only (top-level await), so imported, not required; build 'never': the prebuilt binary or a failure, no
    // download and no compilation.
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    llama = await getLlama({
      gpu: false,
      build: 'never',
      progressLogs: false,
      logLevel: LlamaLogLevel.error,
    });
  });

  after(async () => {
    // node-llama-cpp 3.21.1: a model that fails to load keeps the Llama from disposing (its dispose() never
    // resolves), so after a failed load the test leaves it to the process's exit.
    if (!loadFailed) await llama?.dispose();
    if (dir) removeWorkspace(dir);
    if (measured.length > 0)
      process.stdout.write(`max |Δ log-prob| vs transformers:\n  ${measured.join('\n  ')}\n`);
  });

  /** llama.cpp's log-probs of each of the `vocab` tokens after each prefix of `ids`. */
  async function llamaCppLogProbs(
    model: string,
    { ids, vocab }: { ids: readonly number[]; vocab: number },
    adapter?: string,
  ): Promise<LogProbs> {
    const loaded = await llama.loadModel({ modelPath: model }).catch((err: unknown) => {
      loadFailed = true;
      throw err;
    });
    try {
      const context = await loaded.createContext({
        contextSize: ids.length,
        batchSize: ids.length,
        sequences: 1,
        flashAttention: false,
        experimentalKvCacheKeyType: 'F32',
        experimentalKvCacheValueType: 'F32',
        ...(adapter ? { lora: { adapters: [{ filePath: adapter, scale: 1 }] } } : {}),
      });
      const results = await context
        .getSequence()
        .controlledEvaluate(ids.map((id) => [id as Token, { generateNext: { probabilities: true } }]));
      return results.map((r, i) => {
        const probabilities = r?.next.probabilities;
        assert.ok(probabilities, `no probabilities after token ${i}`);
        assert.equal(probabilities.size, vocab, 'a probability for every vocabulary token');
        const row = new Array<number>(vocab);
        for (const [token, p] of probabilities) row[token] = Math.log(p);
        return row;
      });
    } finally {
      await loaded.dispose();
    }
  }

  /** The token ids, and the vocabulary size transformers has (llama.cpp must give a probability for each). */
  const input = (arch: Arch) => ({ ids: reference[arch].ids, vocab: reference[arch].base[0]!.length });

  /** Asserts that llama.cpp's log-probs are within `bound` of the reference's everywhere; records the distance. */
  function assertWithin(label: string, actual: LogProbs, expected: LogProbs, bound: number): void {
    const diff = maxAbsDiff(actual, expected);
    measured.push(`${label}: ${diff.toExponential(2)}`);
    assert.ok(diff < bound, `${label}: max |Δ log-prob| ${diff} (bound ${bound})`);
  }

  for (const arch of ARCHS) {
    it(`${arch}: the f32 base + our LoRA adapter computes what PEFT computes, and the adapter matters`, async () => {
      const ref = reference[arch];
      const plain = await llamaCppLogProbs(gguf(arch, 'base-f32'), input(arch));
      const tuned = await llamaCppLogProbs(gguf(arch, 'base-f32'), input(arch), gguf(arch, 'adapter'));

      assertWithin(`${arch} f32 base`, plain, ref.base, F32_TOLERANCE);
      assertWithin(`${arch} f32 base + adapter`, tuned, ref.adapter, F32_TOLERANCE);
      // Not carried along unused: without the adapter llama.cpp would miss by this much, far beyond every bound here.
      const effect = maxAbsDiff(ref.base, ref.adapter);
      measured.push(`${arch} the adapter's own effect: ${effect.toExponential(2)}`);
      assert.ok(effect > 10 * Q8_0_TOLERANCE, `the adapter moves log-probs by only ${effect}`);
    });

    it(`${arch}: the f32 GGUF of merge_lora.py's merge computes the merged model`, async () => {
      const ref = reference[arch];
      const merged = await llamaCppLogProbs(gguf(arch, 'merged-f32'), input(arch));
      assertWithin(`${arch} f32 merged`, merged, ref.merged, F32_TOLERANCE);
    });

    for (const [what, model, adapter, expected] of [
      ['the q8_0 base with our LoRA adapter', 'base-q8_0', 'adapter', 'adapter'],
      ['the q8_0 GGUF of the merge', 'merged-q8_0', undefined, 'merged'],
    ] as const) {
      it(`${arch}: ${what} stays within q8_0's rounding`, async () => {
        const ref = reference[arch];
        const actual = await llamaCppLogProbs(gguf(arch, model), input(arch), adapter && gguf(arch, adapter));
        assertWithin(`${arch} q8_0 ${expected}`, actual, ref[expected], Q8_0_TOLERANCE);
        const kl = meanKl(ref[expected], actual);
        measured.push(`${arch} q8_0 ${expected}: mean KL ${kl.toExponential(2)}`);
        assert.ok(kl < Q8_0_KL, `mean KL per position ${kl}`);
      });
    }
  }
});
