import assert from 'node:assert/strict';
import { GgmlType } from '../../../../src/core/convert/gguf';
import {
  copyHalfRows,
  decodeRows,
  encodeF32Bits,
  f16ToF32Table,
  f32BitsToBf16,
  f32BitsToF16,
} from '../../../../src/core/convert/numeric';

// The converters' number formats at the values where conversions go wrong: zeros' signs, subnormals, the edges of
// the range, ties, infinities and NaNs. Expectations are IEEE 754 bit patterns, as NumPy/PyTorch produce them.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function bitsOf(v: number): number {
  f32[0] = v;
  return u32[0]!;
}
function valueOf(bits: number): number {
  u32[0] = bits;
  return f32[0]!;
}

/** An f16 NaN whose quiet bit (the top mantissa bit) is clear. */
function signallingF16(h: number): boolean {
  return (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0 && (h & 0x200) === 0;
}

describe('numeric', () => {
  describe('f32BitsToF16', () => {
    const cases: Array<[string, number, number]> = [
      ['+0', bitsOf(0), 0x0000],
      ['-0 keeps its sign', bitsOf(-0), 0x8000],
      ['1', bitsOf(1), 0x3c00],
      ['-2', bitsOf(-2), 0xc000],
      ['the largest half, 65504', bitsOf(65504), 0x7bff],
      ['65519, just below the tie', bitsOf(65519), 0x7bff],
      ['65520, the tie above the largest half, to infinity', bitsOf(65520), 0x7c00],
      ['1e38, too large, to infinity', bitsOf(1e38), 0x7c00],
      ['-1e38 to -infinity', bitsOf(-1e38), 0xfc00],
      ['+infinity', bitsOf(Infinity), 0x7c00],
      ['-infinity', bitsOf(-Infinity), 0xfc00],
      ['the default NaN', 0x7fc00000, 0x7e00],
      ['a signalling NaN, made quiet', 0x7f800001, 0x7e00],
      ['a NaN payload, kept in the top bits', 0xffc02000, 0xfe01],
      ['the smallest normal half, 2^-14', bitsOf(2 ** -14), 0x0400],
      ['the largest subnormal half', bitsOf(1023 * 2 ** -24), 0x03ff],
      ['the smallest subnormal half, 2^-24', bitsOf(2 ** -24), 0x0001],
      ['2^-25, the tie below it, to even (zero)', bitsOf(2 ** -25), 0x0000],
      ['1.5 · 2^-24, a tie, to even (2)', bitsOf(1.5 * 2 ** -24), 0x0002],
      ['just above 2^-25, up to the smallest subnormal', bitsOf(2 ** -25) + 1, 0x0001],
      ['2^-26, far below, to zero', bitsOf(2 ** -26), 0x0000],
      ['-2^-26 to -0', bitsOf(-(2 ** -26)), 0x8000],
      ['an f32 subnormal to zero', 1, 0x0000],
      ['1 + 2^-11, a tie, to even (1)', bitsOf(1 + 2 ** -11), 0x3c00],
      ['1 + 3 · 2^-11, a tie, to even (up)', bitsOf(1 + 3 * 2 ** -11), 0x3c02],
      ['1 + 2^-11 + 2^-23, above the tie, up', bitsOf(1 + 2 ** -11 + 2 ** -23), 0x3c01],
      ['2047.5 · 2^-11 carries into the exponent', bitsOf(2 - 2 ** -11), 0x4000],
    ];
    for (const [what, bits, half] of cases) {
      it(`rounds ${what}`, () => {
        assert.equal(f32BitsToF16(bits).toString(16), half.toString(16));
      });
    }

    it('round-trips every half through f32, quieting only signalling NaNs', () => {
      const table = f16ToF32Table();
      for (let h = 0; h < 65536; h++) {
        const back = f32BitsToF16(table[h]!);
        assert.equal(back, signallingF16(h) ? h | 0x200 : h, `half 0x${h.toString(16)}`);
      }
    });
  });

  describe('f16ToF32Table', () => {
    it('decodes zeros, subnormals, normals, infinities and NaNs exactly', () => {
      const table = f16ToF32Table();
      assert.ok(Object.is(valueOf(table[0x0000]!), 0));
      assert.ok(Object.is(valueOf(table[0x8000]!), -0));
      assert.equal(valueOf(table[0x0001]!), 2 ** -24);
      assert.equal(valueOf(table[0x03ff]!), 1023 * 2 ** -24);
      assert.equal(valueOf(table[0x0400]!), 2 ** -14);
      assert.equal(valueOf(table[0x3c00]!), 1);
      assert.equal(valueOf(table[0x7bff]!), 65504);
      assert.equal(valueOf(table[0xc000]!), -2);
      assert.equal(valueOf(table[0x7c00]!), Infinity);
      assert.equal(valueOf(table[0xfc00]!), -Infinity);
      assert.equal(table[0x7e00], 0x7fc00000);
      assert.equal(table[0x7c01], 0x7f802000, 'a NaN payload moves to the top of the f32 mantissa');
    });
  });

  describe('f32BitsToBf16', () => {
    const cases: Array<[string, number, number]> = [
      ['1', bitsOf(1), 0x3f80],
      ['-0 keeps its sign', bitsOf(-0), 0x8000],
      ['a tie, to even (down)', 0x3f808000, 0x3f80],
      ['a tie, to even (up)', 0x3f818000, 0x3f82],
      ['above the tie, up', 0x3f808001, 0x3f81],
      ['the largest f32, to infinity', 0x7f7fffff, 0x7f80],
      ['+infinity', bitsOf(Infinity), 0x7f80],
      ['-infinity', bitsOf(-Infinity), 0xff80],
      ['a signalling NaN, made quiet', 0x7f800001, 0x7fc0],
      ['a negative NaN, made quiet', 0xff810000, 0xffc1],
      ['an f32 subnormal below the tie, to zero', 0x00007fff, 0x0000],
      ['an f32 subnormal tie, to even (zero)', 0x00008000, 0x0000],
      ['an f32 subnormal above it, to a bf16 subnormal', 0x00018000, 0x0002],
    ];
    for (const [what, bits, bf16] of cases) {
      it(`rounds ${what}`, () => {
        assert.equal(f32BitsToBf16(bits).toString(16), bf16.toString(16));
      });
    }

    it('round-trips every bfloat16 through decodeRows, quieting only signalling NaNs', () => {
      const all = new Uint16Array(65536).map((_, i) => i);
      const bits = new Uint32Array(65536);
      decodeRows(new Uint8Array(all.buffer), 'BF16', bits, 1, 65536);
      for (let b = 0; b < 65536; b++) {
        const nan = (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
        assert.equal(f32BitsToBf16(bits[b]!), nan ? b | 0x40 : b, `bf16 0x${b.toString(16)}`);
      }
    });
  });

  describe('decodeRows', () => {
    const order = Int32Array.of(2, 0, 1);

    it('decodes each dtype to f32 bits, taking output row r from input row order[r]', () => {
      const values = [1, -2, 0.5, -0, -384, 2 ** -24]; // 3 rows of 2, exact in every dtype
      const f32Raw = new Uint8Array(Float32Array.from(values).buffer);
      const f16Raw = new Uint8Array(Uint16Array.from(values, (v) => f32BitsToF16(bitsOf(v))).buffer);
      const bf16Raw = new Uint8Array(Uint16Array.from(values, (v) => bitsOf(v) >>> 16).buffer);
      const expected = [-384, 2 ** -24, 1, -2, 0.5, -0];
      for (const [dtype, raw] of [
        ['F32', f32Raw],
        ['F16', f16Raw],
        ['BF16', bf16Raw],
      ] as const) {
        const dst = new Uint32Array(6);
        decodeRows(raw, dtype, dst, 3, 2, order);
        assert.deepEqual([...new Float32Array(dst.buffer)], expected, dtype);
        const plain = new Uint32Array(6);
        decodeRows(raw, dtype, plain, 3, 2);
        assert.deepEqual(plain.subarray(0, 2), dst.subarray(2, 4), `${dtype} without an order`);
      }
    });

    it('reads a raw buffer at any byte offset', () => {
      const backing = new Uint8Array(8 + 8);
      new Float32Array(backing.buffer, 8, 2).set([3, 4]);
      const dst = new Uint32Array(2);
      decodeRows(backing.subarray(8), 'F32', dst, 1, 2);
      assert.deepEqual([...new Float32Array(dst.buffer)], [3, 4]);
    });
  });

  describe('copyHalfRows', () => {
    it('copies 2-byte values bit for bit, signalling NaNs included, reordering rows', () => {
      const src = Uint16Array.of(0x7c01, 0x8000, 0x0001, 0x3c00, 0xfd00, 0x7bff);
      const out = new Uint8Array(2 + 12).subarray(2);
      copyHalfRows(new Uint8Array(src.buffer), out, 3, 2, Int32Array.of(1, 2, 0));
      assert.deepEqual(
        [...new Uint16Array(out.buffer, out.byteOffset, 6)],
        [0x0001, 0x3c00, 0xfd00, 0x7bff, 0x7c01, 0x8000],
      );
    });
  });

  describe('encodeF32Bits', () => {
    const values = Float32Array.from({ length: 32 }, (_, i) => (i === 0 ? 127 : i === 1 ? -127 : i - 16));
    values[2] = 2.5;
    values[3] = -2.5;
    const bits = new Uint32Array(values.buffer);

    it('writes F32 as the bits themselves and F16/BF16 into the output at its offset', () => {
      assert.deepEqual(
        encodeF32Bits(GgmlType.F32, bits, 4, new Uint8Array(0)),
        new Uint8Array(values.buffer, 0, 16),
      );
      const out = new Uint8Array(4 + 64).subarray(4);
      const f16 = encodeF32Bits(GgmlType.F16, bits, 3, out);
      assert.equal(f16.byteOffset, 4);
      assert.deepEqual([...new Uint16Array(f16.buffer, f16.byteOffset, 3)], [0x57f0, 0xd7f0, 0x4100]);
      const bf16 = encodeF32Bits(GgmlType.BF16, bits, 3, out);
      assert.deepEqual([...new Uint16Array(bf16.buffer, bf16.byteOffset, 3)], [0x42fe, 0xc2fe, 0x4020]);
    });

    it('quantizes Q8_0 blocks: an f16 scale max|x|/127, then values rounded half away from zero', () => {
      const scaled = Float32Array.from(values, (v) => v / 2); // scale 127/2/127 = 0.5
      const out = encodeF32Bits(GgmlType.Q8_0, new Uint32Array(scaled.buffer), 32, new Uint8Array(64));
      assert.equal(out.length, 34);
      assert.equal(out[0]! | (out[1]! << 8), 0x3800, 'the scale 0.5 as f16');
      const q = [...new Int8Array(out.buffer, 2, 32)];
      assert.deepEqual(q.slice(0, 4), [127, -127, 3, -3], '2.5 and -2.5 round away from zero');
      assert.deepEqual(q.slice(4), [...values.slice(4)]);
    });

    it('quantizes an all-zero block to a zero scale and zeros', () => {
      const out = encodeF32Bits(GgmlType.Q8_0, new Uint32Array(64), 64, new Uint8Array(128));
      assert.deepEqual(out, new Uint8Array(68));
    });
  });
});
