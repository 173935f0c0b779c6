// Seeded randomness for tests (one implementation, shared with the benchmarks).

export { mulberry32 } from './mulberry32.cjs';
