import assert from 'node:assert/strict';
import { configJsonSchema, defaultConfig } from '../../../../src/core/workspace/config';

// The editor's completion and hover for .agent/learning-config.json come from this schema
// (esbuild.js writes it to dist/learning-config.schema.json): every key must explain itself.

interface JsonSchema {
  description?: string;
  default?: unknown;
  properties?: Record<string, JsonSchema>;
}

/** Every property of the schema, by its dotted key, nested objects included. */
function properties(schema: JsonSchema, prefix = ''): Map<string, JsonSchema> {
  const out = new Map<string, JsonSchema>();
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const dotted = prefix ? `${prefix}.${key}` : key;
    out.set(dotted, child);
    for (const [k, v] of properties(child, dotted)) out.set(k, v);
  }
  return out;
}

/** The leaves (non-object values) of the defaults, by dotted key. */
function leaves(value: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(value).flatMap(([key, v]) => {
    const dotted = prefix ? `${prefix}.${key}` : key;
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? leaves(v as Record<string, unknown>, dotted)
      : [[dotted, v] as [string, unknown]];
  });
}

describe('config JSON schema', () => {
  const schema = configJsonSchema() as JsonSchema;
  const props = properties(schema);

  it('describes every key, sections and nested keys alike', () => {
    assert.ok(props.size > 80, `expected the whole config, got ${props.size} keys`);
    const missing = [...props].filter(([, p]) => !p.description?.trim()).map(([key]) => key);
    assert.deepEqual(missing, [], `keys without a description: ${missing.join(', ')}`);
  });

  it("shows every key's default, equal to the default in force", () => {
    for (const [key, value] of leaves(defaultConfig())) {
      const prop = props.get(key);
      assert.ok(prop, `${key} is missing from the schema`);
      assert.deepEqual(prop.default, value, `${key}: schema default`);
    }
    assert.equal(props.get('autoExport.minRuns')?.default, 100);
    assert.equal(props.get('storage.maxTextBytes')?.default, 256 * 1024);
  });

  it('names the unit of keys that have one', () => {
    const units: [string, RegExp][] = [
      ['storage.maxTextBytes', /\bbytes\b/i],
      ['gateway.maxBodyBytes', /\bbytes\b/i],
      ['webKnowledge.timeoutMs', /\bmilliseconds\b/i],
      ['editorSignals.settleMs', /\bmilliseconds\b/i],
      ['editorSignals.keptAfterSec', /\bseconds\b/i],
      ['webKnowledge.maxAgeHours', /\bhours\b/i],
      ['modelRouter.maxCostPerToken', /USD per 1,000 tokens/],
      ['gateway.maxCostPerToken', /USD per 1,000 tokens/],
      ['autoExport.minReward', /0–1/],
      ['autoTrain.warmupRatio', /share/i],
    ];
    for (const [key, unit] of units) assert.match(props.get(key)?.description ?? '', unit, key);
  });

  it('tells where to set the keys a workspace may not set', () => {
    assert.match(
      props.get('gateway.openaiBaseUrl')?.description ?? '',
      /agentLearning\.gateway\.openaiBaseUrl/,
    );
  });
});
