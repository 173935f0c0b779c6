// The Ollama stand-in's environment: where the server listens (OLLAMA_HOST, read as Ollama's envconfig.Host reads
// it), which version it claims (FAKE_OLLAMA_VERSION) and what that version accepts, and where it keeps its state and
// call log (FAKE_OLLAMA_DIR).

'use strict';

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const DEFAULT_VERSION = '0.34.1';

/** A failure the CLI prints as `Error: <message>` (exit 1) and the server answers with `{"error": message}`. */
class OllamaError extends Error {
  /** @param {string} message @param {number} [status] the HTTP status the server answers with */
  constructor(message, status = 500) {
    super(message);
    this.status = status;
  }
}

function version() {
  return process.env.FAKE_OLLAMA_VERSION || DEFAULT_VERSION;
}

/** Numeric comparison of dotted versions (`0.34.1`, `v0.35.0-rc1` → its numbers); missing parts count as 0. */
function compareVersions(a, b) {
  const parts = (v) => (String(v).match(/\d+(\.\d+)*/)?.[0] ?? '0').split('.').map(Number);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}

/**
 * What `ollama create` takes at a version. 0.34.1 (ollama/ollama#14969) removed LoRA adapters (the CLI refuses
 * `ADAPTER`, /api/create answers 400 to `adapters`), removed create-time quantization of GGUF models ("quantize GGUF
 * models with llama.cpp tools before importing"), and imports safetensors folders only through its MLX engine, which
 * knows fewer architectures (not Qwen2) and other quantization types (int4, int8, nvfp4, mxfp4, mxfp8).
 */
function createRules(v) {
  const modern = compareVersions(v, '0.34.1') >= 0;
  return { adapters: !modern, quantizeGguf: !modern, safetensors: modern ? 'mlx' : 'convert' };
}

/**
 * OLLAMA_HOST as Ollama parses it: `host:port`, `scheme://host:port/path`, a bare host or IP; a missing port is 11434,
 * or 80/443 when the scheme is given explicitly.
 */
function host(value = process.env.OLLAMA_HOST ?? '') {
  const s = value.trim();
  let scheme = 'http';
  let hostport = s;
  let defaultPort = '11434';
  const sep = s.indexOf('://');
  if (sep >= 0) {
    scheme = s.slice(0, sep);
    hostport = s.slice(sep + 3);
    if (scheme === 'http') defaultPort = '80';
    else if (scheme === 'https') defaultPort = '443';
  }
  const slash = hostport.indexOf('/');
  if (slash >= 0) hostport = hostport.slice(0, slash);
  let split = splitHostPort(hostport);
  if (!split) {
    const bare = hostport.replace(/^\[/, '').replace(/\]$/, '');
    split = { host: net.isIP(bare) ? bare : hostport || '127.0.0.1', port: defaultPort };
  }
  let port = split.port;
  if (!/^\d+$/.test(port) || Number(port) > 65535) port = defaultPort;
  return { scheme, host: split.host, port: Number(port) };
}

/** Go's net.SplitHostPort: null where Go returns an error (no port, too many colons). */
function splitHostPort(hostport) {
  if (hostport.startsWith('[')) {
    const end = hostport.indexOf(']');
    if (end < 0 || hostport[end + 1] !== ':') return null;
    return { host: hostport.slice(1, end), port: hostport.slice(end + 2) };
  }
  const colon = hostport.lastIndexOf(':');
  if (colon < 0 || hostport.slice(0, colon).includes(':')) return null;
  return { host: hostport.slice(0, colon), port: hostport.slice(colon + 1) };
}

function baseUrl(h = host()) {
  const name = h.host.includes(':') ? `[${h.host}]` : h.host;
  return `${h.scheme}://${name}:${h.port}`;
}

/** FAKE_OLLAMA_DIR, created if missing: models.json, blobs/, server.json and calls.jsonl live there. */
function stateDir() {
  const dir = process.env.FAKE_OLLAMA_DIR;
  if (!dir)
    throw new OllamaError(
      'FAKE_OLLAMA_DIR must be set: the Ollama stand-in keeps its models and call log there',
    );
  const resolved = path.resolve(dir);
  fs.mkdirSync(resolved, { recursive: true });
  return resolved;
}

/** One JSON line per CLI invocation or HTTP request; a single append, so concurrent writers do not interleave. */
function logCall(dir, record) {
  fs.appendFileSync(path.join(dir, 'calls.jsonl'), `${JSON.stringify(record)}\n`);
}

module.exports = {
  OllamaError,
  version,
  compareVersions,
  createRules,
  host,
  baseUrl,
  stateDir,
  logCall,
};
