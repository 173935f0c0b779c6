// Which Hugging Face repository an Ollama base tag was built from, and its architecture: training needs the
// Hugging Face weights, conversion and Ollama need the architecture (llama.cpp refuses an adapter of another one).

import { LearningError } from '../errors';
import { isArchitecture, type Architecture } from '../convert/architectures';

export interface BaseModel {
  /** The Ollama tag as configured (`autoTrain.baseModel`). */
  tag: string;
  /** Hugging Face repository id of the same weights, unquantised. */
  hfModel: string;
  arch: Architecture;
  /** Attention and key/value heads: llama's q/k rows are permuted by them in conversion. */
  heads?: number;
  kvHeads?: number;
}

interface Family {
  /** Ollama model name before the `:`. */
  name: string;
  arch: Architecture;
  /**
   * Size tag → Hugging Face repo of the instruct weights (what Ollama's untagged variants are). Maps: the size comes
   * from the configured tag, and `qwen2.5-coder:constructor` is a valid one.
   */
  sizes: ReadonlyMap<string, string>;
  /** Size tag → [attention heads, key/value heads] (from each repo's config.json); llama needs them. */
  heads?: ReadonlyMap<string, [number, number]>;
  /** The size Ollama's `latest` tag points at. */
  latest: string;
  /** Hugging Face repo of the base (non-instruct) weights for `{size}-base` tags, when Ollama ships them. */
  base?: (size: string) => string;
}

const QWEN_CODER_SIZES = ['0.5b', '1.5b', '3b', '7b', '14b', '32b'];
const QWEN_SIZES = ['0.5b', '1.5b', '3b', '7b', '14b', '32b', '72b'];

const FAMILIES: Family[] = [
  {
    name: 'qwen2.5-coder',
    arch: 'qwen2',
    sizes: new Map(QWEN_CODER_SIZES.map((s) => [s, `Qwen/Qwen2.5-Coder-${s.toUpperCase()}-Instruct`])),
    latest: '7b',
    base: (s) => `Qwen/Qwen2.5-Coder-${s.toUpperCase()}`,
  },
  {
    name: 'qwen2.5',
    arch: 'qwen2',
    sizes: new Map(QWEN_SIZES.map((s) => [s, `Qwen/Qwen2.5-${s.toUpperCase()}-Instruct`])),
    latest: '7b',
    base: (s) => `Qwen/Qwen2.5-${s.toUpperCase()}`,
  },
  {
    name: 'llama3.3',
    arch: 'llama',
    sizes: new Map([['70b', 'meta-llama/Llama-3.3-70B-Instruct']]),
    heads: new Map([['70b', [64, 8]]]),
    latest: '70b',
  },
  {
    name: 'llama3.2',
    arch: 'llama',
    sizes: new Map([
      ['1b', 'meta-llama/Llama-3.2-1B-Instruct'],
      ['3b', 'meta-llama/Llama-3.2-3B-Instruct'],
    ]),
    heads: new Map([
      ['1b', [32, 8]],
      ['3b', [24, 8]],
    ]),
    latest: '3b',
  },
  {
    name: 'llama3.1',
    arch: 'llama',
    sizes: new Map([
      ['8b', 'meta-llama/Llama-3.1-8B-Instruct'],
      ['70b', 'meta-llama/Llama-3.1-70B-Instruct'],
      ['405b', 'meta-llama/Llama-3.1-405B-Instruct'],
    ]),
    heads: new Map([
      ['8b', [32, 8]],
      ['70b', [64, 8]],
      ['405b', [128, 8]],
    ]),
    latest: '8b',
    base: (s) => `meta-llama/Llama-3.1-${s.toUpperCase()}`,
  },
  {
    name: 'llama3',
    arch: 'llama',
    sizes: new Map([
      ['8b', 'meta-llama/Meta-Llama-3-8B-Instruct'],
      ['70b', 'meta-llama/Meta-Llama-3-70B-Instruct'],
    ]),
    heads: new Map([
      ['8b', [32, 8]],
      ['70b', [64, 8]],
    ]),
    latest: '8b',
    base: (s) => `meta-llama/Meta-Llama-3-${s.toUpperCase()}`,
  },
];

/** Every tag the table knows, for documentation and error messages. */
export function knownBaseTags(): string[] {
  return FAMILIES.flatMap((f) => [...f.sizes.keys()].map((s) => `${f.name}:${s}`));
}

/**
 * Resolves an Ollama tag such as `qwen2.5-coder:7b` (also `:latest`, `:7b-instruct`, `:7b-instruct-q4_K_M`,
 * `:7b-base`). `hfModel` (config `autoTrain.hfModel`) overrides the repository; the architecture must still be
 * known, from the table or from `arch` (what Ollama's /api/show reports for the base).
 */
export function resolveBaseModel(tag: string, hfModel?: string, arch?: string): BaseModel {
  const found = lookup(tag);
  const resolvedArch = found?.arch ?? (isArchitecture(arch) ? arch : undefined);
  const repo = hfModel ?? found?.hfModel;
  // The head counts belong to the tag's weights; an overriding repository may differ, so its config decides.
  const heads = hfModel === undefined ? found?.heads : undefined;
  if (!repo) {
    throw new LearningError(
      `Agent Learning does not know which Hugging Face model the Ollama tag "${tag}" was built from. ` +
        `Set "autoTrain.hfModel" in .agent/learning-config.json to its repository (e.g. "Qwen/Qwen2.5-Coder-7B-Instruct"), ` +
        `or use a known tag: ${knownBaseTags().join(', ')}.`,
    );
  }
  if (!resolvedArch) {
    throw new LearningError(
      `The architecture of "${tag}" is unknown${arch ? ` (Ollama reports "${arch}")` : ''}: adapters can be ` +
        'built for qwen2 and llama models. Pick a Qwen2.5 or Llama 3.x base model.',
    );
  }
  return { tag, hfModel: repo, arch: resolvedArch, ...(heads && { heads: heads[0], kvHeads: heads[1] }) };
}

interface Found {
  hfModel: string;
  arch: Architecture;
  heads?: [number, number];
}

function lookup(tag: string): Found | undefined {
  const [name, rawTag = 'latest'] = tag.replace(/^library\//, '').split(':') as [string, string?];
  const family = FAMILIES.find((f) => f.name === name);
  if (!family) return undefined;
  const found = (size: string, hfModel: string): Found => {
    const heads = family.heads?.get(size);
    return { hfModel, arch: family.arch, ...(heads && { heads }) };
  };
  if (rawTag === 'latest') return found(family.latest, family.sizes.get(family.latest)!);
  // `7b-instruct-q4_K_M` → size `7b`, variant `instruct`; the quantisation does not change the source weights.
  const [size, variant] = rawTag.split('-') as [string, string?];
  const instruct = family.sizes.get(size);
  if (!instruct) return undefined;
  if (variant === 'base') return family.base ? found(size, family.base(size)) : undefined;
  return found(size, instruct);
}
