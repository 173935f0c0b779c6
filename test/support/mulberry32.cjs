// Seeded randomness for tests and benchmarks: mulberry32 (Tommy Ettinger's 32-bit generator), small and good
// enough for sampling. Plain CommonJS so the TypeScript tests and the .mjs benchmarks share this one copy.

/** @param {number} seed @returns {() => number} uniform in [0, 1) */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

exports.mulberry32 = mulberry32;
