// `ollama serve` in the stand-in: Ollama's HTTP API (JSON, NDJSON progress for pull and create) over the models and
// blobs in FAKE_OLLAMA_DIR, each request logged to calls.jsonl.

'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { OllamaError, host, logCall } = require('./ollama-env.cjs');
const { checkCreate, runCreate, pull } = require('./ollama-create.cjs');
const { FILE_TYPES } = require('./ollama-files.cjs');
const { renderModelfile } = require('./ollama-modelfile.cjs');
const { parseName } = require('./ollama-names.cjs');
const { Store } = require('./ollama-store.cjs');

const FILE_TYPE_NUMBERS = Object.fromEntries(
  Object.entries(FILE_TYPES).map(([n, name]) => [name, Number(n)]),
);

/** Serves until SIGTERM or SIGINT; resolves then. The "Listening on" line goes to stderr, as Ollama's log does. */
function serve(dir, version) {
  const store = new Store(dir);
  const where = host();
  const server = http.createServer((req, res) => {
    handle(req, res, store, dir, version).catch((err) => {
      if (!res.headersSent) json(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.end();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      const e = /** @type {NodeJS.ErrnoException} */ (err);
      const reason = e.code === 'EADDRINUSE' ? 'bind: address already in use' : e.message;
      reject(new OllamaError(`listen tcp ${where.host}:${where.port}: ${reason}`));
    });
    server.listen(where.port, where.host, () => {
      const addr = /** @type {import('node:net').AddressInfo} */ (server.address());
      fs.writeFileSync(
        path.join(dir, 'server.json'),
        `${JSON.stringify({ port: addr.port, pid: process.pid })}\n`,
      );
      const listening = `Listening on ${addr.address}:${addr.port} (version ${version})`;
      process.stderr.write(
        `time=${new Date().toISOString()} level=INFO source=routes.go:1 msg="${listening}"\n`,
      );
      const stop = () => {
        server.close(() => resolve());
        server.closeAllConnections();
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
  });
}

const ROUTES = {
  '/': ['GET', 'HEAD'],
  '/api/version': ['GET', 'HEAD'],
  '/api/tags': ['GET', 'HEAD'],
  '/api/ps': ['GET'],
  '/api/show': ['POST'],
  '/api/delete': ['DELETE'],
  '/api/pull': ['POST'],
  '/api/create': ['POST'],
  '/api/copy': ['POST'],
};

async function handle(req, res, store, dir, version) {
  const route = new URL(req.url ?? '/', 'http://stand-in').pathname;
  const method = req.method ?? 'GET';
  const blob = /^\/api\/blobs\/([^/]+)$/.exec(route);
  if (blob && (method === 'HEAD' || method === 'POST')) {
    const bytes = await handleBlob(req, res, store, decodeURIComponent(blob[1] ?? ''), method);
    logCall(dir, { kind: 'http', method, path: route, body: method === 'POST' ? { bytes } : null });
    return;
  }
  const text = await readBody(req);
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  logCall(dir, { kind: 'http', method, path: route, body });
  const allowed = ROUTES[route];
  if (!allowed) return plain(res, 404, '404 page not found');
  if (!allowed.includes(method)) return plain(res, 405, '405 method not allowed');
  if (typeof body === 'string') return json(res, 400, { error: 'invalid JSON in request body' });

  switch (route) {
    case '/':
      return plain(res, 200, 'Ollama is running');
    case '/api/version':
      return json(res, 200, { version });
    case '/api/tags':
      return json(res, 200, { models: store.list().map(listEntry) });
    case '/api/ps':
      return json(res, 200, { models: [] });
    case '/api/show':
      return show(res, store, body);
    case '/api/delete': {
      if (!body) return json(res, 400, { error: 'missing request body' });
      const raw = body.model || body.name || '';
      const name = parseName(raw);
      if (!name.valid) return json(res, 400, { error: `name "${raw}" is invalid` });
      if (!store.delete(name)) return json(res, 404, { error: `model '${raw}' not found` });
      return plain(res, 200, '');
    }
    case '/api/copy':
      return copy(res, store, body);
    case '/api/pull': {
      if (!body) return json(res, 400, { error: 'missing request body' });
      const name = parseName(body.model || body.name);
      if (!name.valid) return json(res, 400, { error: 'invalid model name' });
      return progress(res, body, (emit) => pull(name, store, emit));
    }
    default: {
      let plan;
      try {
        plan = checkCreate(body, store, version);
      } catch (err) {
        return json(res, errorStatus(err), { error: errorMessage(err) });
      }
      return progress(res, body, (emit) => runCreate(plan, body, store, emit));
    }
  }
}

/** HEAD and POST /api/blobs/sha256:<hex>; resolves to the bytes received. */
async function handleBlob(req, res, store, digest, method) {
  if (!store.blobPath(digest)) {
    req.resume();
    json(res, 400, { error: 'invalid digest format' });
    return 0;
  }
  if (method === 'HEAD') {
    plain(res, store.hasBlob(digest) ? 200 : 404, '');
    return 0;
  }
  const written = await store.writeBlob(digest, req);
  if (written.mismatch)
    json(res, 400, { error: `digest mismatch, expected "${digest}", got "${written.mismatch}"` });
  else plain(res, 201, '');
  return written.bytes;
}

function show(res, store, body) {
  if (!body) return json(res, 400, { error: 'missing request body' });
  const raw = body.model || body.name || '';
  if (!raw) return json(res, 400, { error: 'model is required' });
  const m = store.get(parseName(raw));
  if (!m) return json(res, 404, { error: `model '${raw}' not found` });
  const parameters = Object.entries(m.parameters ?? {})
    .flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => `${k.padEnd(30)} ${goValue(x)}`))
    .join('\n');
  const modelInfo = {
    'general.architecture': m.architecture,
    'general.parameter_count': m.parameterCount,
    'general.quantization_version': 2,
  };
  if (FILE_TYPE_NUMBERS[m.quantizationLevel] !== undefined)
    modelInfo['general.file_type'] = FILE_TYPE_NUMBERS[m.quantizationLevel];
  if (m.contextLength) modelInfo[`${m.architecture}.context_length`] = m.contextLength;
  // Ollama leaves out empty fields (omitempty).
  const shown = {
    license: (m.license ?? []).join('\n'),
    modelfile: renderModelfile(m, (digest) => store.blobPath(digest)),
    parameters,
    template: m.template,
    system: m.system,
    details: { ...details(m), parent_model: m.parentModel ?? '' },
    messages: m.messages?.length ? m.messages : undefined,
    model_info: modelInfo,
    capabilities: ['completion'],
    modified_at: m.modifiedAt,
  };
  for (const key of Object.keys(shown)) if (shown[key] === '' || shown[key] === undefined) delete shown[key];
  return json(res, 200, shown);
}

function copy(res, store, body) {
  if (!body) return json(res, 400, { error: 'missing request body' });
  const src = parseName(body.source);
  const dst = parseName(body.destination);
  if (!src.valid) return json(res, 400, { error: `source "${body.source}" is invalid` });
  if (!dst.valid) return json(res, 400, { error: `destination "${body.destination}" is invalid` });
  const m = store.get(src);
  if (!m) return json(res, 404, { error: `model "${body.source}" not found` });
  store.put({ ...structuredClone(m), key: dst.key, name: dst.display, modifiedAt: new Date().toISOString() });
  return plain(res, 200, '');
}

/** /api/tags' entry; `parent_model` is always empty there, as in Ollama (only /api/show fills it). */
function listEntry(m) {
  return {
    name: m.name,
    model: m.name,
    modified_at: m.modifiedAt,
    size: m.size,
    digest: m.digest,
    details: { parent_model: '', ...details(m) },
  };
}

function details(m) {
  return {
    format: m.format,
    family: m.family,
    families: m.families,
    parameter_size: m.parameterSize,
    quantization_level: m.quantizationLevel,
  };
}

/** Go's %#v for a parameter value, as /api/show formats `parameters`. */
function goValue(v) {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}

/**
 * Pull and create answer NDJSON progress ending in {"status":"success"} or {"error": …}; with "stream": false, one
 * JSON object, or the error with its status (500 unless the failure says otherwise).
 */
async function progress(res, body, work) {
  if (body.stream === false) {
    try {
      await work(() => {});
      return json(res, 200, { status: 'success' });
    } catch (err) {
      return json(res, errorStatus(err), { error: errorMessage(err) });
    }
  }
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  const emit = (status, extra = {}) => res.write(`${JSON.stringify({ status, ...extra })}\n`);
  try {
    await work(emit);
    res.end(`${JSON.stringify({ status: 'success' })}\n`);
  } catch (err) {
    res.end(`${JSON.stringify({ error: errorMessage(err) })}\n`);
  }
}

const errorStatus = (err) => (err instanceof OllamaError ? err.status : 500);
const errorMessage = (err) => (err instanceof Error ? err.message : String(err));

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res, status, value) {
  const text = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

function plain(res, status, text) {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

module.exports = { serve };
