// /api/create in the Ollama stand-in: the public request shape (`from`, `files` and `adapters` naming uploaded blobs,
// `template`, `system`, `parameters`, `quantize`, …), checked the way server/create.go checks it at the configured
// version, with GGUF adapters also held to llama.cpp's load-time rules (type, LoRA kind, architecture).

'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const { OllamaError, createRules } = require('./ollama-env.cjs');
const { isGguf, readGguf, readSafetensors, readConfig, humanNumber } = require('./ollama-files.cjs');
const { libraryModel } = require('./ollama-library.cjs');
const { MODEL_MEDIA_TYPE } = require('./ollama-modelfile.cjs');
const { parseName } = require('./ollama-names.cjs');
const { DIGEST } = require('./ollama-store.cjs');

const ADAPTER_MEDIA_TYPE = 'application/vnd.ollama.image.adapter';
/** What Ollama up to 0.34.0 quantizes F16/F32 weights to (llama.cpp K-quants). */
const GGUF_QUANTIZATIONS = ['Q4_K_M', 'Q4_K_S', 'Q8_0'];
/** What the MLX importer of 0.34.1+ takes for safetensors folders. */
const MLX_QUANTIZATIONS = ['int4', 'int8', 'nvfp4', 'mxfp4', 'mxfp8'];
/** Hugging Face architectures Ollama's own safetensors converter (≤ 0.34.0) handles, of those the stand-in knows. */
const CONVERTER_ARCHITECTURES = { Qwen2ForCausalLM: 'qwen2', LlamaForCausalLM: 'llama' };
/** Hugging Face architectures the MLX engine (0.34.1+) runs, of those the stand-in knows: no Qwen2. */
const MLX_ARCHITECTURES = { LlamaForCausalLM: 'llama', Qwen3ForCausalLM: 'qwen3' };
const BITS = { F32: 32, F16: 16, BF16: 16, Q8_0: 8.5, Q4_K_S: 4.6, Q4_K_M: 4.85 };

const sha256 = (data) => `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
const bad = (message) => new OllamaError(message, 400);

/**
 * The checks /api/create makes before it starts streaming (answered with HTTP 400): adapters on a version that
 * dropped them, the model name, the uploaded files and the quantization type.
 */
function checkCreate(request, store, version) {
  if (!request || typeof request !== 'object') throw bad('missing request body');
  const rules = createRules(version);
  if (request.adapters && Object.keys(request.adapters).length && !rules.adapters)
    throw bad('LoRA adapters are no longer supported');
  const adapters = fileEntries(request.adapters, store);
  const name = parseName(request.model || request.name);
  if (!name.valid) throw bad('invalid model name');
  const files = fileEntries(request.files, store);
  const fileType = detectType(files);
  const quantize = String(request.quantize || request.quantization || '');
  if (quantize && !rules.quantizeGguf) {
    if (fileType === 'gguf' || (fileType === '' && request.from))
      throw bad(
        'create-time quantization is only supported for safetensors imports; quantize GGUF models with llama.cpp tools before importing',
      );
    if (!MLX_QUANTIZATIONS.includes(quantize.toLowerCase()))
      throw bad(
        `unsupported quantize type "${quantize}": supported types are ${MLX_QUANTIZATIONS.join(', ')}`,
      );
  }
  return { rules, name, files, fileType, adapters, quantize };
}

function fileEntries(map, store) {
  if (map === undefined || map === null) return [];
  if (typeof map !== 'object' || Array.isArray(map))
    throw bad('files and adapters map file names to digests');
  return Object.keys(map)
    .sort()
    .map((file) => {
      const digest = String(map[file]);
      const parts = file.split('/');
      if (file === '.' || /[\\:]/.test(file) || parts.some((p) => p === '' || p === '.' || p === '..'))
        throw bad(`file path must be relative: ${file}`);
      if (!DIGEST.test(digest)) throw bad(`invalid digest for ${file}: invalid digest format`);
      if (!store.hasBlob(digest)) throw bad(`blob not found for ${file} (digest ${digest})`);
      return { file, digest: digest.replace('sha256-', 'sha256:'), path: store.blobPath(digest) };
    });
}

function detectType(files) {
  let type = '';
  for (const f of files) {
    let t = '';
    if (f.file.endsWith('.safetensors')) t = 'safetensors';
    else if (f.file.endsWith('.gguf') || isGguf(f.path)) t = 'gguf';
    if (!t) continue;
    if (type && type !== t) throw bad(`mixed model file types: found both ${type} and ${t} inputs`);
    type = t;
  }
  return type;
}

/**
 * The streaming part of /api/create: builds and stores the model, reporting progress through `emit(status)`.
 * Errors carry the HTTP status a non-streaming request answers with.
 */
async function runCreate(plan, request, store, emit) {
  const { rules, name, files, fileType, adapters, quantize } = plan;
  const hints = request._standin && typeof request._standin === 'object' ? request._standin : {};
  let base;
  if (fileType === 'safetensors' && rules.safetensors === 'mlx')
    base = importWithMlx(request, files, quantize, emit);
  else if (request.from) base = await baseModel(String(request.from), store, emit);
  else if (fileType === 'gguf') base = await importGguf(files, rules, emit);
  else if (fileType === 'safetensors') base = convertSafetensors(files, emit);
  else if (files.length) throw bad('unknown type');
  else throw bad("neither 'from' or 'files' was specified");
  if (base.from.kind !== 'model' && typeof hints.from === 'string') base.from.path = hints.from;

  const adapterLayers = [];
  for (const a of adapters) adapterLayers.push(await checkAdapter(a, base.architecture, emit));
  if (adapterLayers.length && typeof hints.adapter === 'string') adapterLayers.at(-1).path = hints.adapter;

  if (quantize && rules.quantizeGguf) quantizeModel(base, quantize, emit);

  const parameters = { ...base.parameters, ...(request.parameters ?? {}) };
  const template = request.template ?? base.template ?? '';
  const system = request.system ?? base.system ?? '';
  const license = request.license === undefined ? base.license : [request.license].flat().map(String);
  const messages = request.messages ?? base.messages ?? [];
  const layers = [
    base.modelLayer,
    ...adapterLayers.map((a) => ({ mediaType: ADAPTER_MEDIA_TYPE, digest: a.digest, size: a.size })),
    ...textLayer('template', template),
    ...textLayer('system', system),
    ...textLayer('params', Object.keys(parameters).length ? JSON.stringify(parameters) : ''),
    ...license.flatMap((l) => textLayer('license', l)),
    ...textLayer('messages', messages.length ? JSON.stringify(messages) : ''),
  ];
  for (const layer of layers)
    emit(`${store.knows(layer.digest) ? 'using existing' : 'creating new'} layer ${layer.digest}`);
  emit('writing manifest');

  const details = {
    format: base.format,
    family: base.architecture,
    families: [base.architecture],
    parameterSize: humanNumber(base.parameterCount),
    quantizationLevel: base.quantizationLevel,
  };
  const model = {
    key: name.key,
    name: name.display,
    // Like a manifest digest: the hash of what the model is made of.
    digest: sha256(JSON.stringify({ layers: layers.map((l) => l.digest), details })).slice(7),
    modifiedAt: new Date().toISOString(),
    size: layers.reduce((n, l) => n + l.size, 0),
    ...details,
    architecture: base.architecture,
    parameterCount: base.parameterCount,
    contextLength: base.contextLength,
    parentModel: base.parentModel,
    from: base.from,
    adapters: adapterLayers.map(({ file, digest, path, architecture }) => ({
      file,
      digest,
      path,
      architecture,
    })),
    parameters,
    template,
    system,
    license,
    messages,
    layers,
  };
  store.put(model);
  return model;
}

function textLayer(kind, text) {
  if (!text) return [];
  return [
    {
      mediaType: `application/vnd.ollama.image.${kind}`,
      digest: sha256(text),
      size: Buffer.byteLength(text),
    },
  ];
}

/** FROM a model name: a local model, else pulled from the library as `ollama create` does. */
async function baseModel(from, store, emit) {
  const name = parseName(from);
  if (!name.valid) throw bad('invalid model name');
  const model = store.get(name) ?? pull(name, store, emit);
  const modelLayer = model.layers.find((l) => l.mediaType === MODEL_MEDIA_TYPE);
  return {
    from: { kind: 'model', name: model.name },
    parentModel: model.name,
    architecture: model.architecture,
    format: model.format,
    quantizationLevel: model.quantizationLevel,
    parameterCount: model.parameterCount,
    contextLength: model.contextLength,
    modelLayer,
    parameters: model.parameters,
    template: model.template,
    system: model.system,
    license: model.license,
    messages: model.messages,
  };
}

/** `ollama pull` of a library model: registers it (nothing is downloaded) or fails as the registry would. */
function pull(name, store, emit) {
  emit('pulling manifest');
  const lib = libraryModel(name);
  if (!lib) throw new OllamaError('pull model manifest: file does not exist', 500);
  const modelLayer = { mediaType: MODEL_MEDIA_TYPE, digest: `sha256:${lib.digest}`, size: lib.size };
  emit(`pulling ${lib.digest.slice(0, 12)}`, {
    digest: modelLayer.digest,
    total: lib.size,
    completed: lib.size,
  });
  emit('verifying sha256 digest');
  emit('writing manifest');
  const layers = [
    modelLayer,
    ...textLayer('template', lib.template),
    ...textLayer('params', JSON.stringify(lib.parameters)),
    ...lib.license.flatMap((l) => textLayer('license', l)),
  ];
  const model = {
    key: name.key,
    name: name.display,
    digest: lib.digest,
    modifiedAt: new Date().toISOString(),
    size: layers.reduce((n, l) => n + l.size, 0),
    format: lib.format,
    family: lib.family,
    families: [lib.family],
    parameterSize: lib.parameterSize,
    quantizationLevel: lib.quantizationLevel,
    architecture: lib.architecture,
    parameterCount: lib.parameterCount,
    contextLength: lib.contextLength,
    parentModel: '',
    from: { kind: 'library', name: name.display },
    adapters: [],
    parameters: lib.parameters,
    template: lib.template,
    system: '',
    license: lib.license,
    messages: [],
    layers,
  };
  store.put(model);
  return model;
}

/** FROM a .gguf file: a model (not an adapter), its architecture and file type from its metadata. */
async function importGguf(files, rules, emit) {
  const ggufs = files.filter((f) => f.file.endsWith('.gguf') || isGguf(f.path));
  const main = ggufs[0];
  emit('parsing GGUF');
  const info = await readGguf(main.path, main.file);
  if (info.kind === 'adapter')
    throw bad(
      rules.adapters
        ? `${main.file} is a LoRA adapter, not a model: put the base model in FROM and the adapter in ADAPTER`
        : `LoRA adapters are no longer supported: ${main.file} is a LoRA adapter`,
    );
  const arch = info.architecture;
  return {
    from: { kind: 'gguf', file: main.file, digest: main.digest },
    parentModel: main.file,
    architecture: arch,
    format: 'gguf',
    quantizationLevel: info.fileType,
    parameterCount: info.parameterCount,
    contextLength: Number(info.metadata[`${arch}.context_length`] ?? 0),
    modelLayer: { mediaType: MODEL_MEDIA_TYPE, digest: main.digest, size: fs.statSync(main.path).size },
    parameters: {},
    license: [],
  };
}

function configAndWeights(files) {
  const configFile = files.find((f) => f.file === 'config.json');
  const config = configFile ? readConfig(configFile.path) : readConfig('');
  const weights = files.filter((f) => f.file.endsWith('.safetensors'));
  const headers = weights.map((f) => readSafetensors(f.path, f.file));
  return {
    hfArchitecture: Array.isArray(config.architectures) ? String(config.architectures[0] ?? '') : '',
    contextLength: Number(config.max_position_embeddings ?? 0),
    parameterCount: headers.reduce((n, h) => n + h.parameterCount, 0),
    dtype: headers[0]?.dtype ?? '',
    bytes: weights.reduce((n, f) => n + fs.statSync(f.path).size, 0),
    digest: sha256(weights.map((f) => f.digest).join('\n')),
  };
}

/** FROM a safetensors folder on Ollama ≤ 0.34.0: converted to an F16 GGUF by Ollama's own converter. */
function convertSafetensors(files, emit) {
  emit('converting model');
  const w = configAndWeights(files);
  const arch = CONVERTER_ARCHITECTURES[w.hfArchitecture];
  if (!arch) throw bad(`unsupported architecture "${w.hfArchitecture}"`);
  return {
    from: { kind: 'safetensors', files: files.map((f) => f.file) },
    parentModel: '',
    architecture: arch,
    format: 'gguf',
    quantizationLevel: 'F16',
    parameterCount: w.parameterCount,
    contextLength: w.contextLength,
    modelLayer: {
      mediaType: MODEL_MEDIA_TYPE,
      digest: sha256(`${w.digest} F16`),
      size: w.parameterCount * 2,
    },
    parameters: {},
    license: [],
  };
}

/** FROM a safetensors folder on Ollama 0.34.1+: only the MLX engine imports it, and only its architectures. */
function importWithMlx(request, files, quantize, emit) {
  if (request.from) throw bad('safetensors imports do not support FROM model overlays');
  const w = configAndWeights(files);
  if (!w.hfArchitecture) throw bad('unsupported MLX architecture: config.json does not name an architecture');
  const arch = MLX_ARCHITECTURES[w.hfArchitecture];
  if (!arch) throw bad(`unsupported MLX architecture: model "${w.hfArchitecture}"`);
  const level = quantize ? quantize.toLowerCase() : w.dtype;
  emit(quantize ? `importing and quantizing to ${level}` : 'importing safetensors');
  return {
    from: { kind: 'safetensors', files: files.map((f) => f.file) },
    parentModel: '',
    architecture: arch,
    format: 'safetensors',
    quantizationLevel: level,
    parameterCount: w.parameterCount,
    contextLength: w.contextLength,
    modelLayer: { mediaType: MODEL_MEDIA_TYPE, digest: sha256(`${w.digest} ${level}`), size: w.bytes },
    parameters: {},
    license: [],
  };
}

/**
 * An ADAPTER file (Ollama ≤ 0.34.0). Ollama itself only checks that it is GGUF and leaves the rest to llama.cpp at
 * load time; the stand-in applies llama.cpp's checks here, so a broken adapter fails at create, visibly.
 */
async function checkAdapter(adapter, modelArchitecture, emit) {
  if (adapter.file.endsWith('.safetensors'))
    throw bad(`the Ollama stand-in only imports GGUF LoRA adapters, and ${adapter.file} is safetensors`);
  if (!adapter.file.endsWith('.gguf') && !isGguf(adapter.path)) throw bad('unknown type');
  emit('parsing GGUF');
  const info = await readGguf(adapter.path, adapter.file);
  if (info.kind !== 'adapter')
    throw bad(`${adapter.file} is not a LoRA adapter: its general.type is "${info.kind}", not "adapter"`);
  const loraType = String(info.metadata['adapter.type'] ?? '');
  if (loraType !== 'lora')
    throw bad(`${adapter.file} is not a LoRA adapter: its adapter.type is "${loraType}", not "lora"`);
  if (info.architecture !== modelArchitecture)
    throw bad(
      `${adapter.file} is a LoRA adapter for ${info.architecture || 'no architecture'}, but the model is ` +
        `${modelArchitecture}: llama.cpp refuses to load it ("model arch and LoRA arch mismatch")`,
    );
  return {
    file: adapter.file,
    digest: adapter.digest,
    size: fs.statSync(adapter.path).size,
    architecture: info.architecture,
  };
}

/** `--quantize` on Ollama ≤ 0.34.0: llama.cpp K-quants of F16/F32 weights only. */
function quantizeModel(base, quantize, emit) {
  const target = quantize.toUpperCase();
  if (!GGUF_QUANTIZATIONS.includes(target)) throw bad(`unsupported quantization type ${quantize}`);
  if (!['F16', 'F32'].includes(base.quantizationLevel))
    throw bad('quantization is only supported for F16 and F32 models');
  emit(`quantizing ${base.quantizationLevel} model to ${target}`);
  const size = Math.round((base.modelLayer.size * BITS[target]) / BITS[base.quantizationLevel]);
  base.modelLayer = {
    mediaType: MODEL_MEDIA_TYPE,
    digest: sha256(`${base.modelLayer.digest} ${target}`),
    size,
  };
  base.quantizationLevel = target;
}

module.exports = { checkCreate, runCreate, pull };
