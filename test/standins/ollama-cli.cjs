// The `ollama` command line of the stand-in: cobra-style arguments (flags before or after names), the same output
// streams as Ollama (results on stdout; progress and `Error: …` on stderr), and, like the real CLI, every command but
// `serve` talks to the server over HTTP. Each invocation is logged to FAKE_OLLAMA_DIR/calls.jsonl.

'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const {
  OllamaError,
  version: clientVersion,
  createRules,
  baseUrl,
  stateDir,
  logCall,
} = require('./ollama-env.cjs');
const { decode, parseModelfile, parameterValue, DEPRECATED_PARAMETERS } = require('./ollama-modelfile.cjs');
const { parseName } = require('./ollama-names.cjs');

const ADAPTER_REMOVED =
  'ADAPTER is no longer supported in Modelfiles; merge the adapter into the base model and import it with FROM ' +
  '(see ollama/ollama#14969)';
const CONNECT_ERROR = 'could not connect to ollama app, is it running?';

const bool = { type: 'bool' };
/** Subcommands: accepted positional count [min, max] and flags (long name → {short, type}). */
const COMMANDS = {
  serve: { args: [0, 0], flags: {}, run: serveCommand, needsServer: false },
  create: {
    args: [1, 1],
    flags: {
      file: { short: 'f', type: 'string' },
      quantize: { short: 'q', type: 'string' },
      experimental: bool,
    },
    run: createCommand,
  },
  show: {
    args: [1, 1],
    flags: {
      license: bool,
      modelfile: bool,
      parameters: bool,
      system: bool,
      template: bool,
      verbose: { short: 'v', ...bool },
    },
    run: showCommand,
  },
  pull: { args: [1, 1], flags: { insecure: bool }, run: pullCommand },
  list: { args: [0, 1], flags: {}, run: listCommand },
  cp: { args: [2, 2], flags: {}, run: copyCommand },
  rm: { args: [1, Infinity], flags: {}, run: removeCommand },
};
const ALIASES = { ls: 'list' };
/** Real subcommands the stand-in does not play: they fail loudly rather than pretend. */
const NOT_IMPLEMENTED = ['run', 'stop', 'push', 'ps', 'signin', 'signout', 'launch'];

const HELP = `Large language model runner

Usage:
  ollama [flags]
  ollama [command]

Available Commands:
  serve       Start ollama
  create      Create a model from a Modelfile
  show        Show information for a model
  run         Run a model
  stop        Stop a running model
  pull        Pull a model from a registry
  push        Push a model to a registry
  list        List models
  ps          List running models
  cp          Copy a model
  rm          Remove a model
  help        Help about any command

Flags:
  -h, --help      help for ollama
  -v, --version   Show version information

Use "ollama [command] --help" for more information about a command.
`;

/** Runs one invocation; resolves to the exit code, after logging the call. */
async function main(argv) {
  const out = (s) => process.stdout.write(s);
  const err = (s) => process.stderr.write(s);
  const call = { kind: 'cli', argv, cwd: process.cwd() };
  let dir;
  let code;
  try {
    dir = stateDir();
    code = await dispatch(argv, { out, err, call, dir });
  } catch (e) {
    err(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    code = 1;
  }
  if (dir) logCall(dir, { ...call, exitCode: code });
  return code;
}

async function dispatch(argv, io) {
  const root = { version: false, help: false };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('-') && argv[i] !== '-'; i++) {
    const a = argv[i];
    if (a === '-v' || a === '--version') root.version = true;
    else if (a === '-h' || a === '--help') root.help = true;
    else if (a === '--') break;
    else
      throw new OllamaError(
        a.startsWith('--') ? `unknown flag: ${a}` : `unknown shorthand flag: '${a[1]}' in ${a}`,
      );
  }
  const [word, ...rest] = argv.slice(argv[i] === '--' ? i + 1 : i);
  if (root.help || (!word && !root.version) || word === 'help') {
    io.out(HELP);
    return 0;
  }
  if (!word) return versionCommand(io);
  const name = ALIASES[word] ?? word;
  if (NOT_IMPLEMENTED.includes(name))
    throw new OllamaError(`the Ollama stand-in does not implement "ollama ${name}"`);
  const command = COMMANDS[name];
  if (!command) {
    io.err(`Error: unknown command "${word}" for "ollama"\nRun 'ollama --help' for usage.\n`);
    return 1;
  }
  const { flags, args, help } = parseFlags(rest, command.flags);
  if (help) {
    io.out(`Usage:\n  ollama ${name}${Object.keys(command.flags).length ? ' [flags]' : ''}\n`);
    return 0;
  }
  checkArgCount(args.length, command.args);
  // Like cobra's PreRunE checkServerHeartbeat: nothing happens before the server answers.
  if (command.needsServer !== false) await heartbeat();
  return (await command.run(args, flags, io)) ?? 0;
}

/** pflag: `--name value`, `--name=value`, `-n value`, `-nvalue`, `-n=value`, bools without a value, `--` ends flags. */
function parseFlags(argv, spec) {
  const flags = {};
  const args = [];
  let help = false;
  const byShort = Object.fromEntries(Object.entries(spec).map(([long, s]) => [s.short, long]));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      args.push(a);
      continue;
    }
    let long;
    let inline;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      long = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      inline = eq >= 0 ? a.slice(eq + 1) : undefined;
      if (long === 'help') {
        help = true;
        continue;
      }
      if (!spec[long]) throw new OllamaError(`unknown flag: --${long}`);
    } else {
      const short = a[1];
      if (short === 'h') {
        help = true;
        continue;
      }
      long = byShort[short];
      if (!long) throw new OllamaError(`unknown shorthand flag: '${short}' in ${a}`);
      if (a.length > 2) inline = a[2] === '=' ? a.slice(3) : a.slice(2);
    }
    if (spec[long].type === 'bool') {
      flags[long] = inline === undefined ? true : ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(inline);
    } else if (inline !== undefined) {
      flags[long] = inline;
    } else if (i + 1 < argv.length) {
      flags[long] = argv[++i];
    } else {
      throw new OllamaError(
        a.startsWith('--')
          ? `flag needs an argument: --${long}`
          : `flag needs an argument: '${a[1]}' in ${a}`,
      );
    }
  }
  return { flags, args, help };
}

function checkArgCount(got, [min, max]) {
  if (got >= min && got <= max) return;
  if (min === max) throw new OllamaError(`accepts ${min} arg(s), received ${got}`);
  if (max === Infinity) throw new OllamaError(`requires at least ${min} arg(s), only received ${got}`);
  throw new OllamaError(`accepts between ${min} and ${max} arg(s), received ${got}`);
}

// ---- HTTP to the server -------------------------------------------------------------------------------------------

/**
 * One request to the server. JSON bodies, or a file streamed from `upload`; NDJSON responses are passed line by line
 * to `onLine`. Resolves to {status, body} (body parsed as JSON where it is JSON).
 */
function request(method, route, { body, upload, onLine } = {}) {
  const url = new URL(route, `${baseUrl()}/`);
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const headers = {};
    let payload;
    if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(payload);
    } else if (upload) {
      headers['Content-Length'] = fs.statSync(upload).size;
    }
    const req = client.request(url, { method, headers, agent: false }, (res) => {
      let buffered = '';
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        if (!onLine) return void (text += chunk);
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) onLine(JSON.parse(line));
        }
      });
      res.on('end', () => {
        if (onLine && buffered.trim()) onLine(JSON.parse(buffered));
        let parsed = text;
        try {
          parsed = text ? JSON.parse(text) : null;
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (upload) fs.createReadStream(upload).on('error', reject).pipe(req);
    else req.end(payload);
  });
}

/** A request whose HTTP error becomes an OllamaError carrying the server's `error` text, as Ollama's client does. */
async function call(method, route, options) {
  const res = await request(method, route, options);
  if (res.status >= 400) {
    const message = res.body && typeof res.body === 'object' ? res.body.error : res.body;
    throw new OllamaError(String(message || `${res.status}`));
  }
  return res.body;
}

async function heartbeat() {
  try {
    await request('HEAD', '/');
  } catch (e) {
    if (/** @type {NodeJS.ErrnoException} */ (e).code === 'ECONNREFUSED')
      throw new OllamaError(CONNECT_ERROR);
    throw new OllamaError(`Head "${baseUrl()}/": ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Streams progress lines to stderr (one line per new status) and fails on an `error` line. */
async function streamProgress(route, body, io) {
  let last = '';
  let failure = null;
  const res = await request('POST', route, {
    body,
    onLine: (line) => {
      if (line.error) failure = String(line.error);
      else if (line.status && line.status !== last) {
        last = line.status;
        io.err(line.digest ? `${line.status}... 100%\n` : `${line.status}\n`);
      }
    },
  });
  if (failure) throw new OllamaError(failure);
  if (res.status >= 400) throw new OllamaError(String(res.body?.error ?? res.status));
}

// ---- Commands -----------------------------------------------------------------------------------------------------

/**
 * The version the CLI is: FAKE_OLLAMA_VERSION, or where a test set it only for the server, the server's, as if both
 * came from one install (a CLI that silently disagreed with its server would only confuse tests).
 */
async function cliVersion() {
  if (process.env.FAKE_OLLAMA_VERSION) return clientVersion();
  const server = await call('GET', '/api/version').catch(() => null);
  return typeof server?.version === 'string' ? server.version : clientVersion();
}

/** `ollama -v`: the server's version, and warnings when there is none or it differs from the client's. */
async function versionCommand(io) {
  let server = '';
  try {
    server = String((await call('GET', '/api/version'))?.version ?? '');
  } catch {
    io.out('Warning: could not connect to a running Ollama instance\n');
  }
  if (server) io.out(`ollama version is ${server}\n`);
  const client = process.env.FAKE_OLLAMA_VERSION ? clientVersion() : server || clientVersion();
  if (server !== client) io.out(`Warning: client version is ${client}\n`);
  return 0;
}

async function serveCommand(_args, _flags, io) {
  const { serve } = require('./ollama-server.cjs');
  await serve(io.dir, clientVersion());
  return 0;
}

async function createCommand([model], flags, io) {
  if (flags.experimental)
    throw new OllamaError('the Ollama stand-in does not implement "ollama create --experimental"');
  if (!parseName(model).valid) throw new OllamaError(`invalid model name: ${model}`);
  let text;
  let relativeDir;
  const named = flags.file ? path.resolve(flags.file) : path.resolve('Modelfile');
  if (fs.existsSync(named)) {
    text = decode(fs.readFileSync(named));
    relativeDir = path.dirname(named);
  } else if (flags.file) {
    throw new OllamaError("specified Modelfile wasn't found");
  } else {
    // No Modelfile: Ollama imports the current folder.
    text = 'FROM .\n';
    relativeDir = process.cwd();
  }
  io.call.modelfile = text;
  const commands = parseModelfile(text);
  // 0.34.1+ refuses ADAPTER in the CLI, before anything reaches the server (ollama/ollama#14969).
  if (!createRules(await cliVersion()).adapters && commands.some((c) => c.name === 'adapter'))
    throw new OllamaError(ADAPTER_REMOVED);

  io.err('gathering model components\n');
  const req = await gatherComponents(commands, relativeDir, io);
  req.model = model;
  if (flags.quantize) req.quantize = flags.quantize;
  for (const group of ['files', 'adapters']) {
    if (!req[group]) continue;
    const byName = {};
    for (const [file, digest] of Object.entries(req[group])) {
      await uploadBlob(file, digest, io);
      // Ollama names uploaded files by their base name (its own TODO notes that nested files collide).
      byName[path.basename(file)] = digest;
    }
    req[group] = byName;
  }
  await streamProgress('/api/create', req, io);
  return 0;
}

/**
 * parser.CreateRequest: FROM and ADAPTER paths resolved against the Modelfile's folder (`~/` against the home
 * folder) and hashed; a FROM that names no file is a model name. `_standin` carries the resolved paths, which the
 * real API has no field for, so the stand-in can record them.
 */
async function gatherComponents(commands, relativeDir, io) {
  const req = {};
  const parameters = {};
  const licenses = [];
  const messages = [];
  const sources = {};
  for (const c of commands) {
    switch (c.name) {
      case 'model': {
        const p = expandPath(c.args, relativeDir);
        if (!fs.existsSync(p)) {
          req.from = c.args;
          break;
        }
        req.files = { ...req.files, ...(await fileDigests(p)) };
        sources.from = p;
        break;
      }
      case 'adapter': {
        const p = expandPath(c.args, relativeDir);
        if (!fs.existsSync(p)) throw new OllamaError(`stat ${p}: no such file or directory`);
        req.adapters = await fileDigests(p);
        sources.adapter = p;
        break;
      }
      case 'draft':
        throw new OllamaError('the Ollama stand-in does not implement DRAFT');
      case 'template':
      case 'system':
      case 'renderer':
      case 'parser':
        req[c.name] = c.args;
        break;
      case 'license':
        licenses.push(c.args);
        break;
      case 'requires':
        if (!/^v?\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(c.args))
          throw new OllamaError('requires must be a valid semver (e.g. 0.14.0)');
        req.requires = c.args.replace(/^v/, '');
        break;
      case 'message': {
        const sep = c.args.indexOf(': ');
        messages.push({ role: c.args.slice(0, sep), content: c.args.slice(sep + 2) });
        break;
      }
      default: {
        if (DEPRECATED_PARAMETERS.includes(c.name)) {
          io.out(`warning: parameter ${c.name} is deprecated\n`);
          break;
        }
        const value = parameterValue(c.name, c.args);
        parameters[c.name] = Array.isArray(value) ? [...(parameters[c.name] ?? []), ...value] : value;
      }
    }
  }
  if (Object.keys(parameters).length) req.parameters = parameters;
  if (licenses.length) req.license = licenses;
  if (messages.length) req.messages = messages;
  req._standin = sources;
  return req;
}

/** parser.expandPath: absolute as is; `~` and `~/…` in the home folder; anything else against `relativeDir`. */
function expandPath(p, relativeDir) {
  if (path.isAbsolute(p)) return path.resolve(p);
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  if (p.startsWith('~')) throw new OllamaError(`failed to find user '${p.slice(1).split('/')[0]}'`);
  return path.resolve(relativeDir, p);
}

/** A file → its digest; a folder → the files Ollama takes from it (parser.filesForModel) → their digests. */
async function fileDigests(p) {
  const files = fs.statSync(p).isDirectory() ? filesForModel(p) : [p];
  const digests = {};
  for (const f of files) digests[f] = await digestOf(f);
  return digests;
}

function filesForModel(dir) {
  const glob = (sub, pattern) => {
    const folder = path.join(dir, sub);
    if (!fs.existsSync(folder) || !fs.statSync(folder).isDirectory()) return [];
    return fs
      .readdirSync(folder)
      .filter((f) => pattern.test(f) && fs.statSync(path.join(folder, f)).isFile())
      .sort()
      .map((f) => path.join(folder, f));
  };
  const subdirs = fs
    .readdirSync(dir)
    .filter((d) => fs.statSync(path.join(dir, d)).isDirectory())
    .sort();
  const inSubdirs = (pattern) => subdirs.flatMap((d) => glob(d, pattern));
  let files = glob('', /^model.*\.safetensors$/);
  if (files.length) files.push(...inSubdirs(/^model.*\.safetensors$/));
  else files = glob('', /^consolidated.*\.safetensors$/);
  if (!files.length) files = glob('', /^pytorch_model.*\.bin$/);
  if (!files.length) files = glob('', /^consolidated.*\.pth$/);
  if (!files.length) files = glob('', /\.gguf$/);
  if (!files.length) files = glob('', /\.bin$/);
  if (!files.length) throw new OllamaError('no Modelfile or safetensors files found');
  files.push(...glob('', /\.json$/), ...inSubdirs(/\.json$/), ...glob('', /^chat_template\.jinja$/));
  const tokenizer = glob('', /^tokenizer\.model$/);
  files.push(...(tokenizer.length ? tokenizer : inSubdirs(/^tokenizer\.model$/)));
  return files;
}

function digestOf(file) {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(`sha256:${hash.digest('hex')}`))
      .on('error', reject);
  });
}

async function uploadBlob(file, digest, io) {
  io.err(`copying file ${digest} 100%\n`);
  const route = `/api/blobs/${digest}`;
  if ((await request('HEAD', route)).status === 200) return;
  await call('POST', route, { upload: file });
}

async function pullCommand([model], flags, io) {
  await streamProgress('/api/pull', { model, insecure: Boolean(flags.insecure) }, io);
  return 0;
}

async function showCommand([model], flags, io) {
  const chosen = ['license', 'modelfile', 'parameters', 'system', 'template'].filter((f) => flags[f]);
  if (chosen.length > 1)
    throw new OllamaError(
      "only one of '--license', '--modelfile', '--parameters', '--system', or '--template' can be specified",
    );
  const shown = await call('POST', '/api/show', { body: { model } });
  if (chosen.length) {
    io.out(`${shown[chosen[0]] ?? ''}\n`);
    return 0;
  }
  const info = shown.model_info ?? {};
  const arch = info['general.architecture'];
  const rows = [
    ['architecture', arch],
    ['parameters', shown.details?.parameter_size],
    ['context length', info[`${arch}.context_length`]],
    ['quantization', shown.details?.quantization_level],
  ].filter(([, v]) => v !== undefined && v !== '');
  let text = `  Model\n${rows.map(([k, v]) => `    ${String(k).padEnd(20)}${v}\n`).join('')}\n`;
  text += `  Capabilities\n${(shown.capabilities ?? []).map((c) => `    ${c}\n`).join('')}\n`;
  if (shown.parameters)
    text += `  Parameters\n${shown.parameters
      .split('\n')
      .map((l) => `    ${l.replace(/ {2,}/, '    ')}\n`)
      .join('')}\n`;
  if (shown.license)
    text += `  License\n${shown.license
      .split('\n')
      .slice(0, 2)
      .map((l) => `    ${l}\n`)
      .join('')}\n`;
  io.out(text);
  return 0;
}

async function listCommand(args, _flags, io) {
  const { models } = await call('GET', '/api/tags');
  const rows = models
    .filter((m) => !args[0] || m.name.startsWith(args[0]))
    .map((m) => [m.name, m.digest.slice(0, 12), humanBytes(m.size), humanTime(new Date(m.modified_at))]);
  io.out(table(['NAME', 'ID', 'SIZE', 'MODIFIED'], rows));
  return 0;
}

async function copyCommand([source, destination], _flags, io) {
  await call('POST', '/api/copy', { body: { source, destination } });
  io.out(`copied '${source}' to '${destination}'\n`);
  return 0;
}

async function removeCommand(names, _flags, io) {
  for (const model of names) {
    await call('DELETE', '/api/delete', { body: { model } });
    io.out(`deleted '${model}'\n`);
  }
  return 0;
}

/** tablewriter as `ollama list` configures it: no borders, cells padded to their column and each followed by a tab. */
function table(header, rows) {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => `${r.map((cell, i) => `${cell.padEnd(widths[i])}\t`).join('')}\n`).join('');
}

/** format.HumanBytes: decimal units, one decimal under 10. */
function humanBytes(b) {
  const units = [
    [1e12, 'TB'],
    [1e9, 'GB'],
    [1e6, 'MB'],
    [1e3, 'KB'],
  ];
  for (const [size, unit] of units) {
    if (b < size) continue;
    const v = b / size;
    return v >= 10 || Number.isInteger(v) ? `${Math.trunc(v)} ${unit}` : `${v.toFixed(1)} ${unit}`;
  }
  return `${b} B`;
}

/** format.HumanTime for the past. */
function humanTime(t) {
  const seconds = Math.floor((Date.now() - t.getTime()) / 1000);
  if (seconds < 1) return 'Less than a second ago';
  if (seconds === 1) return '1 second ago';
  if (seconds < 60) return `${seconds} seconds ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes === 1) return 'About a minute ago';
  if (minutes < 60) return `${minutes} minutes ago`;
  const hours = Math.round(seconds / 3600);
  if (hours === 1) return 'About an hour ago';
  if (hours < 48) return `${hours} hours ago`;
  if (hours < 24 * 14) return `${Math.floor(hours / 24)} days ago`;
  if (hours < 24 * 60) return `${Math.floor(hours / 24 / 7)} weeks ago`;
  if (hours < 24 * 730) return `${Math.floor(hours / 24 / 30)} months ago`;
  return `${Math.floor(hours / 24 / 365)} years ago`;
}

module.exports = { main };
