// A stored run for the store's own tests: the coder role, no signals, a distinct id, time and texts each call.

import type { RunRecord } from '../../src/core/learning/runResult';

let nextId = 0;

/** A run of the coder role with no signals; `fields` override any column. */
export function runRecord(fields: Partial<RunRecord> = {}): RunRecord {
  nextId++;
  return {
    id: `r-${nextId}`,
    createdAt: nextId * 1000,
    taskSlug: 't',
    role: 'coder',
    modelId: 'm',
    promptId: 'p',
    complexity: null,
    input: `input ${nextId}`,
    output: `output ${nextId}`,
    compile: null,
    testsPassed: null,
    testsTotal: null,
    lintErrors: null,
    typeErrors: null,
    schemaErrors: null,
    boundaryErrors: null,
    human: null,
    humanAt: null,
    reward: 0.5,
    costTokens: null,
    durationMs: null,
    iterations: null,
    source: null,
    ...fields,
  };
}
