// Lays out GGUF v3 files, llama.cpp's model format: magic, version, counts, metadata key/values, tensor infos, then
// each tensor's data at an aligned offset. Only the value and tensor types this project writes are supported.
// Format: ggml-org/ggml docs/gguf.md; checked against gguf-py's writer and llama.cpp's reader.

export const GGUF_ALIGNMENT = 32; // general.alignment's default; we never write another

/** ggml tensor types (ggml.h `enum ggml_type`). */
export const GgmlType = { F32: 0, F16: 1 } as const;
export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];
const TYPE_BYTES: Readonly<Record<GgmlType, number>> = { [GgmlType.F32]: 4, [GgmlType.F16]: 2 };

/** GGUF metadata value types (gguf.h `enum gguf_type`). */
const VALUE_TYPE = { uint32: 4, float32: 6, string: 8 } as const;

export type GgufValue =
  { type: 'string'; value: string } | { type: 'uint32'; value: number } | { type: 'float32'; value: number };

export interface GgufTensorInfo {
  name: string;
  /** ggml order: `ne[0]` is the contiguous dimension, the reverse of a PyTorch shape. */
  ne: readonly number[];
  type: GgmlType;
}

export interface GgufLayout {
  /** The whole file: everything but the tensor data written; the data regions are zero for the caller to fill. */
  bytes: Uint8Array;
  /** Each tensor's data region within `bytes`, in the order the tensors were given; each starts aligned. */
  data: Uint8Array[];
}

// llama.cpp's limits: GGML_MAX_NAME is 64 bytes with the terminating NUL, GGML_MAX_DIMS is 4.
const MAX_NAME_BYTES = 63;
const MAX_DIMS = 4;

/** Builds the file in one buffer, so it can be written atomically; tensor data is left for the caller to fill. */
export function layoutGguf(
  metadata: ReadonlyMap<string, GgufValue>,
  tensors: readonly GgufTensorInfo[],
): GgufLayout {
  const encoder = new TextEncoder();
  const names = tensors.map((t) => encoder.encode(t.name));
  if (new Set(tensors.map((t) => t.name)).size !== tensors.length)
    throw new Error('GGUF tensor names must be unique');
  tensors.forEach((t, i) => {
    if (names[i]!.length > MAX_NAME_BYTES) throw new Error(`GGUF tensor name too long: ${t.name}`);
    if (t.ne.length < 1 || t.ne.length > MAX_DIMS || !t.ne.every((d) => Number.isSafeInteger(d) && d > 0))
      throw new Error(`GGUF tensor ${t.name} has invalid dimensions [${t.ne.join(', ')}]`);
  });
  const entries = [...metadata].map(([key, value]) => ({
    key: encoder.encode(key),
    value,
    text: value.type === 'string' ? encoder.encode(value.value) : undefined,
  }));

  let headerSize = 4 + 4 + 8 + 8;
  for (const e of entries) headerSize += 8 + e.key.length + 4 + (e.text ? 8 + e.text.length : 4);
  for (let i = 0; i < tensors.length; i++)
    headerSize += 8 + names[i]!.length + 4 + 8 * tensors[i]!.ne.length + 4 + 8;
  const dataStart = align(headerSize);
  const offsets: number[] = [];
  let dataSize = 0;
  for (const t of tensors) {
    offsets.push(dataSize);
    dataSize = align(dataSize + byteSize(t));
  }

  const bytes = new Uint8Array(dataStart + dataSize);
  const view = new DataView(bytes.buffer);
  let at = 0;
  const u32 = (v: number) => {
    view.setUint32(at, v, true);
    at += 4;
  };
  const u64 = (v: number) => {
    view.setBigUint64(at, BigInt(v), true);
    at += 8;
  };
  const str = (b: Uint8Array) => {
    u64(b.length);
    bytes.set(b, at);
    at += b.length;
  };
  bytes.set(encoder.encode('GGUF'), 0);
  at = 4;
  u32(3);
  u64(tensors.length);
  u64(entries.length);
  for (const e of entries) {
    str(e.key);
    u32(VALUE_TYPE[e.value.type]);
    const v = e.value;
    if (v.type === 'string') str(e.text!);
    else if (v.type === 'uint32') u32(v.value);
    else {
      view.setFloat32(at, v.value, true);
      at += 4;
    }
  }
  tensors.forEach((t, i) => {
    str(names[i]!);
    u32(t.ne.length);
    for (const d of t.ne) u64(d);
    u32(t.type);
    u64(offsets[i]!);
  });
  return {
    bytes,
    data: tensors.map((t, i) =>
      bytes.subarray(dataStart + offsets[i]!, dataStart + offsets[i]! + byteSize(t)),
    ),
  };
}

function byteSize(t: GgufTensorInfo): number {
  return t.ne.reduce((n, d) => n * d, 1) * TYPE_BYTES[t.type];
}

function align(n: number): number {
  return Math.ceil(n / GGUF_ALIGNMENT) * GGUF_ALIGNMENT;
}
