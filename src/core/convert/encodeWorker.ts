// A worker thread of the converters' encode pool (encodePool.ts): decodes a chunk of safetensors rows to float32
// (permuting llama's q/k rows) and encodes it as a ggml type, with the very functions the main thread would use, so
// the output is the same bytes. Both buffers go back to the main thread, which reuses them.

import { parentPort } from 'node:worker_threads';
import { ropeRowOrder } from './architectures';
import { decodeRows, encodeF32Bits } from './numeric';
import type { EncodeReply, EncodeRequest } from './encodePool';

let bits = new Uint32Array(0);

parentPort!.on('message', (job: EncodeRequest) => {
  const count = job.rows * job.cols;
  if (bits.length < count) bits = new Uint32Array(count);
  const raw = new Uint8Array(job.raw, 0, job.rawLength);
  const order = job.rowsPerHead ? ropeRowOrder(job.rows, job.rows / job.rowsPerHead) : undefined;
  decodeRows(raw, job.dtype, bits, job.rows, job.cols, order);
  const out = new Uint8Array(job.out);
  const encoded = encodeF32Bits(job.type, bits, count, out);
  // F32 comes back as a view of `bits`: copy it into the buffer that travels back.
  if (encoded.buffer !== out.buffer) out.set(encoded);
  const reply: EncodeReply = { id: job.id, raw: job.raw, out: job.out, length: encoded.length };
  parentPort!.postMessage(reply, [job.raw, job.out]);
});
