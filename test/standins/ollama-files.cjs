// What the Ollama stand-in reads from model files: GGUF metadata (through Hugging Face's independent GGUF parser, not
// our writer's code), safetensors headers and Hugging Face config.json files.

'use strict';

const fs = require('node:fs');
const { OllamaError } = require('./ollama-env.cjs');

const GGUF_MAGIC = 'GGUF';
/** GGUF versions llama.cpp still loads (it refuses v1). */
const GGUF_VERSIONS = [2, 3];

/** llama_ftype (general.file_type) → the name Ollama reports as quantization_level. */
const FILE_TYPES = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  32: 'BF16',
};

function readPrefix(file, length) {
  const fd = fs.openSync(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = fs.readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

function isGguf(file) {
  return readPrefix(file, 4).toString('latin1') === GGUF_MAGIC;
}

/**
 * A GGUF file's metadata: `{version, metadata, parameterCount, fileType, kind, architecture}`. `name` is how errors
 * call the file. Throws "supplied file was not in GGUF format" (Ollama's words) for anything without the magic.
 */
async function readGguf(file, name) {
  const head = readPrefix(file, 8);
  if (head.length < 8 || head.subarray(0, 4).toString('latin1') !== GGUF_MAGIC)
    throw new OllamaError('supplied file was not in GGUF format', 400);
  const version = head.readUInt32LE(4);
  if (!GGUF_VERSIONS.includes(version))
    throw new OllamaError(
      `${name}: unsupported GGUF version ${version} (llama.cpp reads versions 2 and 3)`,
      400,
    );
  let parsed;
  try {
    const { gguf } = require('@huggingface/gguf');
    parsed = await gguf(file, { allowLocalFile: true });
  } catch (err) {
    throw new OllamaError(
      `${name}: invalid GGUF file: ${err instanceof Error ? err.message : String(err)}`,
      400,
    );
  }
  const metadata = parsed.metadata;
  let parameterCount = 0;
  for (const t of parsed.tensorInfos) parameterCount += t.shape.reduce((n, d) => n * Number(d), 1);
  const fileTypeNumber = Number(metadata['general.file_type'] ?? 0);
  return {
    version,
    metadata,
    parameterCount,
    fileType: FILE_TYPES[fileTypeNumber] ?? 'unknown',
    kind: String(metadata['general.type'] ?? 'model'),
    architecture:
      metadata['general.architecture'] === undefined ? '' : String(metadata['general.architecture']),
  };
}

/** A safetensors header (u64 LE length, JSON): `{tensors, parameterCount, dtype}`; throws on anything else. */
function readSafetensors(file, name) {
  const size = fs.statSync(file).size;
  const invalid = (why) => new OllamaError(`${name}: invalid safetensors file: ${why}`, 400);
  if (size < 8) throw invalid('shorter than its 8-byte header length');
  const length = Number(readPrefix(file, 8).readBigUInt64LE(0));
  if (length < 2 || length > size - 8 || length > 100_000_000)
    throw invalid(`header length ${length} is impossible`);
  let header;
  try {
    header = JSON.parse(
      readPrefix(file, 8 + length)
        .subarray(8)
        .toString('utf8'),
    );
  } catch {
    throw invalid('the header is not JSON');
  }
  if (!header || typeof header !== 'object' || Array.isArray(header))
    throw invalid('the header is not an object');
  let parameterCount = 0;
  let dtype = '';
  for (const [tensor, info] of Object.entries(header)) {
    if (tensor === '__metadata__') continue;
    if (
      !info ||
      typeof info.dtype !== 'string' ||
      !Array.isArray(info.shape) ||
      !Array.isArray(info.data_offsets)
    )
      throw invalid(`tensor ${tensor} lacks dtype, shape or data_offsets`);
    parameterCount += info.shape.reduce((n, d) => n * d, 1);
    dtype ||= info.dtype;
  }
  return { parameterCount, dtype };
}

/** A Hugging Face config.json, or an OllamaError worded as Ollama's converter words a missing one. */
function readConfig(file) {
  if (!fs.existsSync(file)) throw new OllamaError('open config.json: file does not exist', 400);
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new OllamaError(`config.json: ${err instanceof Error ? err.message : String(err)}`, 400);
  }
}

/** format.HumanNumber: 7615616512 → 7.6B, 494032768 → 494.03M. */
function humanNumber(n) {
  if (n >= 1e9) return Number.isInteger(n / 1e9) ? `${n / 1e9}B` : `${(n / 1e9).toFixed(1)}B`;
  if (n >= 1e6) return Number.isInteger(n / 1e6) ? `${n / 1e6}M` : `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${Math.round(n / 1e3)}K`;
  return String(n);
}

module.exports = { isGguf, readGguf, readSafetensors, readConfig, humanNumber, FILE_TYPES };
