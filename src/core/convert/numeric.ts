// The converters' number formats, all worked on as bit patterns so NaN payloads and -0 survive and nothing depends
// on float rounding: float16/bfloat16 ↔ float32, reading safetensors rows into float32 (reordering rows on the
// way), and writing float32 as a ggml type (F32, F16, BF16, Q8_0), bit-exact with gguf-py and ggml.

import { GgmlType, ggmlBlock } from './gguf';

/** The safetensors dtypes the converters read (fine-tunes are saved in one of them). */
export const SOURCE_DTYPES = ['BF16', 'F16', 'F32'] as const;
export type SourceDtype = (typeof SOURCE_DTYPES)[number];

export function isSourceDtype(dtype: string): dtype is SourceDtype {
  return (SOURCE_DTYPES as readonly string[]).includes(dtype);
}

/** IEEE 754 binary32 → binary16 bits, rounding to nearest even like NumPy and PyTorch's `.to(float16)`. */
export function f32BitsToF16(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  let mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13)); // inf, quiet NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    // subnormal half (or zero): shift the mantissa, with its implicit 1, into place and round
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mantissa & ((1 << shift) - 1);
    let h = mantissa >>> shift;
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry correctly bumps the exponent, up to inf
  return sign | h;
}

let f16Table: Uint32Array | undefined;

/** binary16 bits → binary32 bits for all 65,536 halves (256 KiB, built on first use). */
export function f16ToF32Table(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >>> 10) & 0x1f;
    let mantissa = h & 0x3ff;
    if (exponent === 0x1f) table[h] = sign | 0x7f800000 | (mantissa << 13);
    else if (exponent !== 0) table[h] = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
    else if (mantissa === 0) table[h] = sign;
    else {
      // subnormal half: normalise it
      let e = -14;
      while ((mantissa & 0x400) === 0) {
        mantissa <<= 1;
        e--;
      }
      table[h] = sign | ((e + 127) << 23) | ((mantissa & 0x3ff) << 13);
    }
  }
  f16Table = table;
  return table;
}

/** ggml_compute_fp32_to_bf16 (and gguf-py's BF16): NaN made quiet, otherwise round to nearest even. */
export function f32BitsToBf16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return (bits >>> 16) | 0x40;
  return (bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16; // below 2^32 for every non-NaN pattern
}

/** Copies `rows` rows of `cols` values; output row r is input row order[r] (all of them in one go without one). */
function eachRow(
  rows: number,
  cols: number,
  order: Int32Array | undefined,
  copy: (from: number, to: number, n: number) => void,
): void {
  if (!order) copy(0, 0, rows * cols);
  else for (let r = 0; r < rows; r++) copy(order[r]! * cols, r * cols, cols);
}

/** Raw little-endian rows → float32 bit patterns; output row r is input row order[r]. Exact for every dtype. */
export function decodeRows(
  raw: Uint8Array,
  dtype: SourceDtype,
  dst: Uint32Array,
  rows: number,
  cols: number,
  order?: Int32Array,
): void {
  if (dtype === 'F32') {
    const src = new Uint32Array(raw.buffer, raw.byteOffset, rows * cols);
    eachRow(rows, cols, order, (from, to, n) => dst.set(src.subarray(from, from + n), to));
    return;
  }
  const src = new Uint16Array(raw.buffer, raw.byteOffset, rows * cols);
  if (dtype === 'F16') {
    const table = f16ToF32Table();
    eachRow(rows, cols, order, (from, to, n) => {
      for (let i = 0; i < n; i++) dst[to + i] = table[src[from + i]!]!;
    });
  } else {
    eachRow(rows, cols, order, (from, to, n) => {
      for (let i = 0; i < n; i++) dst[to + i] = src[from + i]! << 16;
    });
  }
}

/** Raw little-endian rows of 2-byte values copied bit for bit into `dst`; output row r is input row order[r]. */
export function copyHalfRows(
  raw: Uint8Array,
  dst: Uint8Array,
  rows: number,
  cols: number,
  order?: Int32Array,
): void {
  const src = new Uint16Array(raw.buffer, raw.byteOffset, rows * cols);
  const out = new Uint16Array(dst.buffer, dst.byteOffset, rows * cols);
  eachRow(rows, cols, order, (from, to, n) => out.set(src.subarray(from, from + n), to));
}

/**
 * `count` float32 bit patterns as ggml `type` data. F32 is `bits` itself; the others are written into `out`
 * (2 bytes a value at the most), which is returned cut to length.
 */
export function encodeF32Bits(type: GgmlType, bits: Uint32Array, count: number, out: Uint8Array): Uint8Array {
  switch (type) {
    case GgmlType.F32:
      return new Uint8Array(bits.buffer, bits.byteOffset, count * 4);
    case GgmlType.F16: {
      const dst = new Uint16Array(out.buffer, out.byteOffset, count);
      for (let i = 0; i < count; i++) dst[i] = f32BitsToF16(bits[i]!);
      return out.subarray(0, count * 2);
    }
    case GgmlType.BF16: {
      const dst = new Uint16Array(out.buffer, out.byteOffset, count);
      for (let i = 0; i < count; i++) dst[i] = f32BitsToBf16(bits[i]!);
      return out.subarray(0, count * 2);
    }
    case GgmlType.Q8_0:
      return out.subarray(0, encodeQ8_0(new Float32Array(bits.buffer, bits.byteOffset, count), count, out));
  }
}

const Q8_0 = ggmlBlock(GgmlType.Q8_0);

// Scratch for the f16 bits of a block's scale (encodeQ8_0 is synchronous, so sharing it is safe).
const scale = new Float32Array(1);
const scaleBits = new Uint32Array(scale.buffer);

/**
 * Q8_0 blocks of 32 values: an f16 scale d = max|x| / 127 and 32 int8 q = round(x · (1/d)), rounding half away
 * from zero, all in float32: bit-exact with gguf-py's quants.Q8_0 and ggml's quantize_row_q8_0_ref. Returns the
 * bytes written to `out`.
 */
function encodeQ8_0(values: Float32Array, count: number, out: Uint8Array): number {
  const q = new Int8Array(out.buffer, out.byteOffset, out.byteLength);
  const blocks = count / Q8_0.values;
  for (let b = 0; b < blocks; b++) {
    const from = b * Q8_0.values;
    let amax = 0;
    for (let j = 0; j < Q8_0.values; j++) {
      const a = Math.abs(values[from + j]!);
      if (a > amax) amax = a;
    }
    const d = Math.fround(amax / 127);
    const id = d === 0 ? 0 : Math.fround(1 / d);
    scale[0] = d;
    const half = f32BitsToF16(scaleBits[0]!);
    const at = b * Q8_0.bytes;
    out[at] = half & 0xff;
    out[at + 1] = half >>> 8;
    for (let j = 0; j < Q8_0.values; j++) {
      const v = Math.fround(values[from + j]! * id);
      q[at + 2 + j] = v < 0 ? -Math.floor(0.5 - v) : Math.floor(v + 0.5);
    }
  }
  return blocks * Q8_0.bytes;
}
