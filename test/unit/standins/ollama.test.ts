// The Ollama stand-in (test/standins/ollama) against what real Ollama does on the points our tests rely on: the
// CLI's output and exit codes, the HTTP API, Modelfile parsing, and what `ollama create` accepts before and after
// 0.34.1 (ollama/ollama#14969). Each server runs as a child process on a free port in its own folder.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { convertLora } from '../../../src/core/convert/loraConvert';
import { SMALL, syntheticTensors, writeAdapter, writeSafetensors } from '../../support/peft';
import { makeWorkspace, removeWorkspace } from '../../support/workspace';

const ROOT = path.resolve(__dirname, '../../..');
const OLLAMA = path.join(ROOT, 'test/standins/ollama');
const CONNECT_ERROR = 'Error: could not connect to ollama app, is it running?\n';
const ADAPTER_REMOVED =
  'Error: ADAPTER is no longer supported in Modelfiles; merge the adapter into the base model and import it with ' +
  'FROM (see ollama/ollama#14969)\n';

interface Server {
  dir: string;
  version: string;
  port: number;
  child: ChildProcess;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `ollama serve` on port 0 and waits for its "Listening on" log line, which names the port it got. */
async function startServer(dir: string, version: string): Promise<Server> {
  const child = spawn(OLLAMA, ['serve'], {
    env: { ...process.env, FAKE_OLLAMA_DIR: dir, FAKE_OLLAMA_VERSION: version, OLLAMA_HOST: '127.0.0.1:0' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let log = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      log += chunk;
      const m = /msg="Listening on 127\.0\.0\.1:(\d+) \(version ([^)]+)\)"/.exec(log);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`ollama serve exited with ${code}: ${log}`)));
  });
  return { dir, version, port, child };
}

async function stopServer(server: Server | undefined): Promise<void> {
  if (!server || server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/** Runs the stand-in CLI against `server` (its folder, port and version unless `env` says otherwise). */
function ollama(
  server: Server,
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Run {
  const res = spawnSync(OLLAMA, args, {
    cwd: options.cwd ?? server.dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      FAKE_OLLAMA_DIR: server.dir,
      FAKE_OLLAMA_VERSION: server.version,
      OLLAMA_HOST: `127.0.0.1:${server.port}`,
      ...options.env,
    },
  });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

/** The stand-in's JSON, as far as these tests look into it. */
interface Listed {
  name: string;
  digest: string;
  details: { family: string; quantization_level: string } & Record<string, unknown>;
}

interface Shown {
  template?: string;
  system?: string;
  modelfile: string;
  parameters?: string;
  messages?: { role: string; content: string }[];
  capabilities: string[];
  model_info: Record<string, unknown>;
  details: { parent_model: string } & Record<string, unknown>;
}

/** A model as models.json keeps it. */
interface Stored {
  name: string;
  digest: string;
  architecture: string;
  quantizationLevel: string;
  contextLength: number;
  system: string;
  parameters: Record<string, unknown>;
  from: { kind: string; name?: string; path?: string };
  adapters: { path?: string }[];
}

interface Call {
  kind: 'cli' | 'http';
  argv?: string[];
  cwd?: string;
  modelfile?: string;
  exitCode?: number;
  method?: string;
  path?: string;
  body?: Record<string, unknown> | null;
}

async function api<T = Record<string, unknown>>(
  server: Server,
  method: string,
  route: string,
  body?: unknown,
) {
  const res = await fetch(`http://127.0.0.1:${server.port}${route}`, {
    method,
    ...(body !== undefined && {
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    }),
  });
  const text = await res.text();
  const isJson = res.headers.get('content-type')?.startsWith('application/json') && text;
  return { status: res.status, text, json: isJson ? (JSON.parse(text) as T) : undefined };
}

async function tags(server: Server): Promise<Listed[]> {
  return (await api<{ models: Listed[] }>(server, 'GET', '/api/tags')).json?.models ?? [];
}

async function show(server: Server, model: string): Promise<Shown | undefined> {
  return (await api<Shown>(server, 'POST', '/api/show', { model })).json;
}

/** A port nothing listens on (taken, then given back). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

type GgufValue = string | { u32: number } | { f32: number };

/** A small GGUF file written byte by byte from the spec (v3, F32 tensors, 32-byte alignment). */
function writeGguf(
  file: string,
  kv: Record<string, GgufValue>,
  tensors: { name: string; dims: number[] }[],
  options: { magic?: string; version?: number } = {},
): void {
  const u32 = (n: number) => Buffer.from(new Uint32Array([n]).buffer);
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  const parts = [
    Buffer.from(options.magic ?? 'GGUF', 'latin1'),
    u32(options.version ?? 3),
    u64(tensors.length),
    u64(Object.keys(kv).length),
  ];
  for (const [key, value] of Object.entries(kv)) {
    parts.push(str(key));
    if (typeof value === 'string') parts.push(u32(8), str(value));
    else if ('u32' in value) parts.push(u32(4), u32(value.u32));
    else parts.push(u32(6), Buffer.from(new Float32Array([value.f32]).buffer));
  }
  const align = (n: number) => Math.ceil(n / 32) * 32;
  let offset = 0;
  const data: Buffer[] = [];
  for (const t of tensors) {
    parts.push(str(t.name), u32(t.dims.length), ...t.dims.map(u64), u32(0), u64(offset));
    const bytes = t.dims.reduce((n, d) => n * d, 1) * 4;
    data.push(Buffer.alloc(align(bytes)));
    offset += align(bytes);
  }
  const header = Buffer.concat(parts);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(
    file,
    Buffer.concat([header, Buffer.alloc(align(header.length) - header.length), ...data]),
  );
}

function writeLoraAdapter(file: string, arch: string, overrides: Record<string, GgufValue> = {}): void {
  writeGguf(
    file,
    {
      'general.architecture': arch,
      'general.type': 'adapter',
      'adapter.type': 'lora',
      'adapter.lora.alpha': { f32: 16 },
      ...overrides,
    },
    [
      { name: 'blk.0.attn_q.weight.lora_a', dims: [8, 2] },
      { name: 'blk.0.attn_q.weight.lora_b', dims: [2, 8] },
    ],
  );
}

function writeModelGguf(file: string, fileType: number): void {
  writeGguf(
    file,
    {
      'general.architecture': 'qwen2',
      'general.type': 'model',
      'general.file_type': { u32: fileType },
      'qwen2.context_length': { u32: 4096 },
    },
    [{ name: 'token_embd.weight', dims: [8, 4] }],
  );
}

/** A Hugging Face model folder: config.json and model.safetensors, as merge_and_unload + save_pretrained leave. */
function writeSafetensorsModel(dir: string, architecture: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({ architectures: [architecture], max_position_embeddings: 32768 }),
  );
  writeSafetensors(path.join(dir, 'model.safetensors'), [
    { name: 'model.embed_tokens.weight', dtype: 'BF16', shape: [4, 8], data: new Uint8Array(64) },
  ]);
}

function writeModelfile(dir: string, text: string, name = 'Modelfile'): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function calls(server: Server): Call[] {
  return fs
    .readFileSync(path.join(server.dir, 'calls.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Call);
}

function stored(server: Server, name: string): Stored | undefined {
  const saved = JSON.parse(fs.readFileSync(path.join(server.dir, 'models.json'), 'utf8')) as {
    models: Stored[];
  };
  return saved.models.find((m) => m.name === name);
}

describe('Ollama stand-in', () => {
  let root: string;
  /** 0.34.1: no ADAPTER, no create-time quantization of GGUF, safetensors only through MLX. */
  let modern: Server;
  /** 0.34.0: the last version that takes ADAPTER and quantizes with llama.cpp's K-quants. */
  let legacy: Server;

  before(async () => {
    root = makeWorkspace();
    fs.mkdirSync(path.join(root, 'modern'));
    fs.mkdirSync(path.join(root, 'legacy'));
    [modern, legacy] = await Promise.all([
      startServer(path.join(root, 'modern'), '0.34.1'),
      startServer(path.join(root, 'legacy'), '0.34.0'),
    ]);
    assert.equal(ollama(modern, ['pull', 'qwen2.5-coder:7b']).status, 0);
    assert.equal(ollama(legacy, ['pull', 'qwen2.5-coder:7b']).status, 0);
  });

  after(async () => {
    await Promise.all([stopServer(modern), stopServer(legacy)]);
    removeWorkspace(root);
  });

  describe('serve and --version', () => {
    it('writes server.json with the port it listens on and its pid', () => {
      const info = JSON.parse(fs.readFileSync(path.join(modern.dir, 'server.json'), 'utf8'));
      assert.deepEqual(info, { port: modern.port, pid: modern.child.pid });
    });

    it("prints the server's version, warning when the client's differs", () => {
      assert.deepEqual(ollama(modern, ['--version']), {
        status: 0,
        stdout: 'ollama version is 0.34.1\n',
        stderr: '',
      });
      const older = ollama(modern, ['-v'], { env: { FAKE_OLLAMA_VERSION: '0.34.0' } });
      assert.equal(older.stdout, 'ollama version is 0.34.1\nWarning: client version is 0.34.0\n');
    });

    it('warns instead of printing a version when no server answers', async () => {
      const run = ollama(modern, ['--version'], { env: { OLLAMA_HOST: `127.0.0.1:${await closedPort()}` } });
      assert.deepEqual(run, {
        status: 0,
        stdout:
          'Warning: could not connect to a running Ollama instance\nWarning: client version is 0.34.1\n',
        stderr: '',
      });
    });

    it('reads OLLAMA_HOST with or without a scheme', () => {
      for (const host of [`http://127.0.0.1:${modern.port}`, `127.0.0.1:${modern.port}/`])
        assert.equal(
          ollama(modern, ['-v'], { env: { OLLAMA_HOST: host } }).stdout,
          'ollama version is 0.34.1\n',
        );
    });

    it('fails every command that needs the server with the connect error when none runs', async () => {
      const env = { OLLAMA_HOST: `127.0.0.1:${await closedPort()}` };
      writeModelfile(path.join(root, 'offline'), 'FROM qwen2.5-coder:7b\n');
      for (const args of [
        ['create', 'x', '-f', path.join(root, 'offline', 'Modelfile')],
        ['list'],
        ['pull', 'llama3'],
      ])
        assert.deepEqual(ollama(modern, args, { env }), { status: 1, stdout: '', stderr: CONNECT_ERROR });
    });

    it('fails unknown commands and flags with exit code 1', () => {
      const unknown = ollama(modern, ['frobnicate']);
      assert.equal(unknown.status, 1);
      assert.match(unknown.stderr, /^Error: unknown command "frobnicate" for "ollama"/);
      assert.deepEqual(ollama(modern, ['list', '--bogus']), {
        status: 1,
        stdout: '',
        stderr: 'Error: unknown flag: --bogus\n',
      });
      assert.equal(ollama(modern, ['create']).stderr, 'Error: accepts 1 arg(s), received 0\n');
    });
  });

  describe('pull, list, show, cp and rm', () => {
    it('pulls a library model: /api/tags and /api/show give its digest, architecture and quantization', async () => {
      const listed = (await tags(modern)).find((m) => m.name === 'qwen2.5-coder:7b');
      assert.equal(listed?.digest, createHash('sha256').update('qwen2.5-coder:7b').digest('hex'));
      assert.deepEqual(listed?.details, {
        parent_model: '',
        format: 'gguf',
        family: 'qwen2',
        families: ['qwen2'],
        parameter_size: '7B',
        quantization_level: 'Q4_K_M',
      });
      const shown = await show(modern, 'qwen2.5-coder:7b');
      assert.equal(shown?.model_info['general.architecture'], 'qwen2');
      assert.deepEqual(shown?.capabilities, ['completion']);
      assert.match(shown?.template ?? '', /<\|im_start\|>/);
      // The legacy request field still works.
      assert.equal((await api(modern, 'POST', '/api/show', { name: 'QWEN2.5-coder:7b' })).status, 200);
    });

    it('refuses to pull a model family it does not know, and answers 404 for unknown models', async () => {
      assert.deepEqual(ollama(modern, ['pull', 'mistral:7b']), {
        status: 1,
        stdout: '',
        stderr: 'pulling manifest\nError: pull model manifest: file does not exist\n',
      });
      const missing = await api(modern, 'POST', '/api/show', { model: 'nothing:here' });
      assert.deepEqual([missing.status, missing.json], [404, { error: "model 'nothing:here' not found" }]);
    });

    it('pulls over HTTP, as one JSON object with stream false or as NDJSON progress', async () => {
      const once = await api(modern, 'POST', '/api/pull', { model: 'llama3.2:1b', stream: false });
      assert.deepEqual([once.status, once.json], [200, { status: 'success' }]);
      const streamed = await api(modern, 'POST', '/api/pull', { model: 'qwen2.5:0.5b' });
      const lines = streamed.text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(lines.at(-1), { status: 'success' });
      assert.equal(lines[0].status, 'pulling manifest');
    });

    it('lists, copies and removes models', () => {
      assert.deepEqual(ollama(modern, ['cp', 'qwen2.5-coder:7b', 'coder-copy']), {
        status: 0,
        stdout: "copied 'qwen2.5-coder:7b' to 'coder-copy'\n",
        stderr: '',
      });
      const list = ollama(modern, ['list']).stdout.split('\n');
      assert.match(list[0] ?? '', /^NAME\s+\tID\s+\tSIZE\s+\tMODIFIED\s+\t$/);
      const copy = list.find((l) => l.startsWith('coder-copy:latest'));
      assert.match(copy ?? '', /^coder-copy:latest\s*\t[0-9a-f]{12}\s*\t4\.2 GB\s*\t/);
      assert.deepEqual(ollama(modern, ['rm', 'coder-copy']), {
        status: 0,
        stdout: "deleted 'coder-copy'\n",
        stderr: '',
      });
      assert.deepEqual(ollama(modern, ['rm', 'coder-copy']), {
        status: 1,
        stdout: '',
        stderr: "Error: model 'coder-copy' not found\n",
      });
    });
  });

  describe('create with ADAPTER', () => {
    it('takes a LoRA adapter on 0.34.0, resolving its path against the Modelfile folder, not the working one', async () => {
      const dir = path.join(root, 'adapter-ok');
      writeLoraAdapter(path.join(dir, 'adapter.gguf'), 'qwen2');
      const modelfile = writeModelfile(
        dir,
        [
          'FROM qwen2.5-coder:7b',
          'ADAPTER ./adapter.gguf',
          'PARAMETER temperature 0.2',
          'PARAMETER num_ctx 4096',
          'PARAMETER stop "<|im_end|>"',
          '',
        ].join('\n'),
      );

      const run = ollama(legacy, ['create', 'coder-tuned', '-f', modelfile], { cwd: root });

      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout, '');
      const progress = run.stderr.split('\n');
      assert.equal(progress[0], 'gathering model components');
      assert.ok(progress.some((l) => /^using existing layer sha256:[0-9a-f]{64}$/.test(l)));
      assert.ok(progress.some((l) => /^creating new layer sha256:[0-9a-f]{64}$/.test(l)));
      assert.deepEqual(progress.slice(-3), ['writing manifest', 'success', '']);
      const model = stored(legacy, 'coder-tuned:latest');
      assert.equal(model?.adapters[0]?.path, path.join(dir, 'adapter.gguf'));
      assert.deepEqual(model?.from, { kind: 'model', name: 'qwen2.5-coder:7b' });
      assert.equal(model?.architecture, 'qwen2');
      assert.equal(model?.quantizationLevel, 'Q4_K_M');
      assert.deepEqual(model?.parameters, { stop: ['<|im_end|>'], temperature: 0.2, num_ctx: 4096 });
      const shown = await show(legacy, 'coder-tuned');
      assert.equal(shown?.details.parent_model, 'qwen2.5-coder:7b');
      assert.match(shown?.modelfile ?? '', /^ADAPTER .*sha256-[0-9a-f]{64}$/m);
      assert.match(shown?.parameters ?? '', /^temperature {20}0\.2$/m);
      assert.ok(
        (await tags(legacy)).some((m) => m.name === 'coder-tuned:latest' && m.digest === model?.digest),
      );
    });

    it('refuses ADAPTER on 0.34.1 in the CLI, before any request reaches /api/create', () => {
      const dir = path.join(root, 'adapter-modern');
      writeLoraAdapter(path.join(dir, 'adapter.gguf'), 'qwen2');
      const modelfile = writeModelfile(dir, 'FROM qwen2.5-coder:7b\nadapter ./adapter.gguf\n');
      const before = calls(modern).length;

      assert.deepEqual(ollama(modern, ['create', 'coder-tuned', '-f', modelfile]), {
        status: 1,
        stdout: '',
        stderr: ADAPTER_REMOVED,
      });
      assert.deepEqual(
        calls(modern)
          .slice(before)
          .map((c) => c.path ?? c.argv?.[0]),
        ['/', 'create'],
      );
    });

    it("follows the server's version when FAKE_OLLAMA_VERSION is set for the server only", () => {
      const dir = path.join(root, 'adapter-one-install');
      writeLoraAdapter(path.join(dir, 'adapter.gguf'), 'qwen2');
      const modelfile = writeModelfile(dir, 'FROM qwen2.5-coder:7b\nADAPTER ./adapter.gguf\n');
      const env = { FAKE_OLLAMA_VERSION: '' };
      assert.equal(ollama(legacy, ['-v'], { env }).stdout, 'ollama version is 0.34.0\n');
      assert.equal(ollama(legacy, ['create', 'one-install', '-f', modelfile], { env }).status, 0);
      assert.equal(
        ollama(modern, ['create', 'one-install', '-f', modelfile], { env }).stderr,
        ADAPTER_REMOVED,
      );
    });

    it('answers 400 to adapters sent to /api/create on 0.34.1', async () => {
      const res = await api(modern, 'POST', '/api/create', {
        model: 'x',
        from: 'qwen2.5-coder:7b',
        adapters: { 'adapter.gguf': `sha256:${'0'.repeat(64)}` },
      });
      assert.deepEqual([res.status, res.json], [400, { error: 'LoRA adapters are no longer supported' }]);
    });

    it('rejects a GGUF model as ADAPTER, a file that is not GGUF, and an adapter for another architecture', () => {
      const dir = path.join(root, 'adapter-bad');
      writeModelGguf(path.join(dir, 'model.gguf'), 1);
      fs.writeFileSync(path.join(dir, 'junk.gguf'), 'GGML not really');
      writeLoraAdapter(path.join(dir, 'llama.gguf'), 'llama');
      writeLoraAdapter(path.join(dir, 'ia3.gguf'), 'qwen2', { 'adapter.type': 'ia3' });
      const expected: Record<string, RegExp> = {
        'model.gguf':
          /^Error: model\.gguf is not a LoRA adapter: its general\.type is "model", not "adapter"$/m,
        'junk.gguf': /^Error: supplied file was not in GGUF format$/m,
        'llama.gguf':
          /^Error: llama\.gguf is a LoRA adapter for llama, but the model is qwen2: llama\.cpp refuses/m,
        'ia3.gguf': /^Error: ia3\.gguf is not a LoRA adapter: its adapter\.type is "ia3", not "lora"$/m,
      };
      for (const [file, error] of Object.entries(expected)) {
        const modelfile = writeModelfile(
          dir,
          `FROM qwen2.5-coder:7b\nADAPTER ${file}\n`,
          `Modelfile.${file}`,
        );
        const run = ollama(legacy, ['create', 'bad-adapter', '-f', modelfile]);
        assert.equal(run.status, 1, file);
        assert.match(run.stderr, error);
      }
      const missing = writeModelfile(dir, 'FROM qwen2.5-coder:7b\nADAPTER ./gone.gguf\n', 'Modelfile.gone');
      assert.match(
        ollama(legacy, ['create', 'bad-adapter', '-f', missing]).stderr,
        /^Error: stat .*gone\.gguf: no such file or directory$/m,
      );
      assert.equal(stored(legacy, 'bad-adapter:latest'), undefined);
    });

    it('takes an adapter written by our own convert-lora', async () => {
      const dir = path.join(root, 'converted');
      writeAdapter(path.join(dir, 'peft'), syntheticTensors(SMALL));
      await convertLora(path.join(dir, 'peft'), path.join(dir, 'coder.gguf'), { arch: 'qwen2' });
      const modelfile = writeModelfile(dir, 'FROM qwen2.5-coder:7b\nADAPTER coder.gguf\n');
      const run = ollama(legacy, ['create', 'coder-converted', '-f', modelfile]);
      assert.equal(run.status, 0, run.stderr);
    });
  });

  describe('create from files and model names', () => {
    it('imports a safetensors folder with --quantize q4_K_M on 0.34.0 and reports Q4_K_M', async () => {
      const dir = path.join(root, 'merged');
      writeSafetensorsModel(path.join(dir, 'weights'), 'Qwen2ForCausalLM');
      const modelfile = writeModelfile(dir, 'FROM ./weights\n');

      const run = ollama(legacy, ['create', 'coder-merged', '--quantize', 'q4_K_M', '-f', modelfile]);

      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /^converting model$/m);
      assert.match(run.stderr, /^quantizing F16 model to Q4_K_M$/m);
      const listed = (await tags(legacy)).find((m) => m.name === 'coder-merged:latest');
      assert.equal(listed?.details.quantization_level, 'Q4_K_M');
      assert.equal(listed?.details.family, 'qwen2');
      assert.equal(stored(legacy, 'coder-merged:latest')?.from.path, path.join(dir, 'weights'));
    });

    it('refuses that import on 0.34.1: q4_K_M is no quantization type there, and MLX has no Qwen2', () => {
      const dir = path.join(root, 'merged-modern');
      writeSafetensorsModel(path.join(dir, 'weights'), 'Qwen2ForCausalLM');
      const modelfile = writeModelfile(dir, 'FROM ./weights\n');
      const quantized = ollama(modern, ['create', 'coder-merged', '-q', 'q4_K_M', '-f', modelfile]);
      assert.equal(quantized.status, 1);
      assert.match(
        quantized.stderr,
        /^Error: unsupported quantize type "q4_K_M": supported types are int4, int8, nvfp4, mxfp4, mxfp8$/m,
      );
      const plain = ollama(modern, ['create', 'coder-merged', '-f', modelfile]);
      assert.match(plain.stderr, /^Error: unsupported MLX architecture: model "Qwen2ForCausalLM"$/m);

      writeSafetensorsModel(path.join(dir, 'llama'), 'LlamaForCausalLM');
      const llama = writeModelfile(dir, 'FROM ./llama\n', 'Modelfile.llama');
      assert.equal(ollama(modern, ['create', 'llama-merged', '-q', 'int4', '-f', llama]).status, 0);
      assert.equal(stored(modern, 'llama-merged:latest')?.quantizationLevel, 'int4');
    });

    it('quantizes an F16 GGUF on 0.34.0 but not a quantized one, and quantizes no GGUF on 0.34.1', () => {
      const dir = path.join(root, 'gguf');
      writeModelGguf(path.join(dir, 'f16.gguf'), 1);
      writeModelGguf(path.join(dir, 'q8.gguf'), 7);
      const f16 = writeModelfile(dir, 'FROM ./f16.gguf\n', 'Modelfile.f16');
      const q8 = writeModelfile(dir, 'FROM ./q8.gguf\n', 'Modelfile.q8');

      assert.equal(ollama(legacy, ['create', 'from-f16', '-f', f16, '-q', 'q8_0']).status, 0);
      assert.equal(stored(legacy, 'from-f16:latest')?.quantizationLevel, 'Q8_0');
      assert.equal(stored(legacy, 'from-f16:latest')?.contextLength, 4096);
      assert.match(
        ollama(legacy, ['create', 'from-q8', '-f', q8, '-q', 'q4_K_M']).stderr,
        /^Error: quantization is only supported for F16 and F32 models$/m,
      );
      assert.match(
        ollama(legacy, [
          'create',
          'from-base',
          '-f',
          writeModelfile(dir, 'FROM qwen2.5-coder:7b\n'),
          '-q',
          'q4_K_M',
        ]).stderr,
        /^Error: quantization is only supported for F16 and F32 models$/m,
      );
      const gguf =
        /^Error: create-time quantization is only supported for safetensors imports; quantize GGUF models/m;
      assert.match(ollama(modern, ['create', 'from-f16', '-f', f16, '-q', 'q4_K_M']).stderr, gguf);
      assert.match(
        ollama(modern, ['create', 'from-base', '-f', path.join(dir, 'Modelfile'), '-q', 'q8_0']).stderr,
        gguf,
      );
      assert.equal(ollama(modern, ['create', 'from-f16', '-f', f16]).status, 0);
      assert.equal(stored(modern, 'from-f16:latest')?.quantizationLevel, 'F16');
    });

    it('refuses a GGUF adapter as FROM, in the words of each version', () => {
      const dir = path.join(root, 'adapter-as-model');
      writeLoraAdapter(path.join(dir, 'lora.gguf'), 'qwen2');
      const modelfile = writeModelfile(dir, 'FROM ./lora.gguf\n');
      assert.match(
        ollama(modern, ['create', 'x', '-f', modelfile]).stderr,
        /^Error: LoRA adapters are no longer supported: lora\.gguf is a LoRA adapter$/m,
      );
      assert.match(
        ollama(legacy, ['create', 'x', '-f', modelfile]).stderr,
        /^Error: lora\.gguf is a LoRA adapter, not a model/m,
      );
    });

    it('fails FROM an unknown model as a failed pull, and pulls a known one first, as Ollama does', () => {
      const dir = path.join(root, 'from-names');
      const unknown = writeModelfile(dir, 'FROM no-such-family:1b\n', 'Modelfile.unknown');
      assert.match(
        ollama(modern, ['create', 'x', '-f', unknown]).stderr,
        /^Error: pull model manifest: file does not exist$/m,
      );
      const known = writeModelfile(dir, 'FROM codellama:7b\n', 'Modelfile.known');
      const run = ollama(modern, ['create', 'my-codellama', '-f', known]);
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stderr, /^pulling manifest$/m);
      assert.equal(stored(modern, 'my-codellama:latest')?.architecture, 'llama');
      assert.ok(stored(modern, 'codellama:7b'));
    });

    it('parses Modelfiles as Ollama does: any case, comments, quoted and triple-quoted values', async () => {
      const dir = path.join(root, 'parsing');
      const modelfile = writeModelfile(
        dir,
        [
          '# a comment',
          'from qwen2.5-coder:7b',
          'Template """{{ .System }}',
          '<|user|>{{ .Prompt }}"""',
          'SYSTEM "You are terse."',
          'parameter top_k 20',
          'PARAMETER stop <|a|>',
          'PARAMETER stop <|b|>',
          'MESSAGE user hello there',
          '',
        ].join('\n'),
      );
      assert.equal(ollama(modern, ['create', 'parsed', '-f', modelfile]).status, 0);
      const shown = await show(modern, 'parsed');
      assert.equal(shown?.template, '{{ .System }}\n<|user|>{{ .Prompt }}');
      assert.equal(shown?.system, 'You are terse.');
      assert.deepEqual(shown?.messages, [{ role: 'user', content: 'hello there' }]);
      assert.deepEqual(stored(modern, 'parsed:latest')?.parameters, { stop: ['<|a|>', '<|b|>'], top_k: 20 });
      assert.equal(
        ollama(modern, ['show', 'parsed', '--parameters']).stdout,
        `${'stop'.padEnd(30)} "<|a|>"\n${'stop'.padEnd(30)} "<|b|>"\n${'top_k'.padEnd(30)} 20\n`,
      );
    });

    it('reports Modelfile errors as Ollama words them', () => {
      const dir = path.join(root, 'parse-errors');
      const cases: [string, string][] = [
        ['FROM qwen2.5-coder:7b\nBOGUS x\n', 'Error: (line 2): command must be one of "from", "license",'],
        ['PARAMETER temperature 0.5\n', 'Error: no FROM line'],
        ['FROM qwen2.5-coder:7b\nPARAMETER wat 1\n', "Error: unknown parameter 'wat'"],
        ['FROM qwen2.5-coder:7b\nPARAMETER num_ctx big\n', 'Error: invalid int value [big]'],
        ['FROM qwen2.5-coder:7b\nSYSTEM """open\n', 'Error: unexpected EOF'],
      ];
      cases.forEach(([text, error], i) => {
        const run = ollama(modern, ['create', 'broken', '-f', writeModelfile(dir, text, `Modelfile.${i}`)]);
        assert.equal(run.status, 1, text);
        // PARAMETERs are typed while "gathering model components", after the Modelfile parsed.
        assert.ok(run.stderr.split('\n').at(-2)?.startsWith(error), `${text}: ${run.stderr}`);
      });
      assert.equal(
        ollama(modern, ['create', 'broken', '-f', path.join(dir, 'nope')]).stderr,
        "Error: specified Modelfile wasn't found\n",
      );
    });

    it('reads ./Modelfile from the working folder when -f is not given', () => {
      const dir = path.join(root, 'implicit');
      writeModelfile(dir, 'FROM qwen2.5-coder:7b\nSYSTEM implicit\n');
      assert.equal(ollama(modern, ['create', 'implicit'], { cwd: dir }).status, 0);
      assert.equal(stored(modern, 'implicit:latest')?.system, 'implicit');
    });
  });

  describe('call log and state', () => {
    it('logs each CLI call with argv, cwd, the Modelfile text and exit code, and each HTTP request', () => {
      const dir = path.join(root, 'logged');
      const text = 'FROM qwen2.5-coder:7b\nSYSTEM logged\n';
      const modelfile = writeModelfile(dir, text);
      ollama(modern, ['create', 'logged', '-f', modelfile], { cwd: dir });
      const log = calls(modern);
      const cli = log.filter((c) => c.kind === 'cli').at(-1);
      assert.deepEqual(cli, {
        kind: 'cli',
        argv: ['create', 'logged', '-f', modelfile],
        cwd: dir,
        modelfile: text,
        exitCode: 0,
      });
      const create = log.filter((c) => c.path === '/api/create').at(-1);
      assert.equal(create?.method, 'POST');
      assert.equal(create?.body?.model, 'logged');
      assert.equal(create?.body?.from, 'qwen2.5-coder:7b');
      assert.equal(create?.body?.system, 'logged');
    });

    it('logs failed calls with their exit code', async () => {
      const env = { OLLAMA_HOST: `127.0.0.1:${await closedPort()}` };
      ollama(modern, ['list'], { env });
      assert.deepEqual(calls(modern).at(-1), { kind: 'cli', argv: ['list'], cwd: modern.dir, exitCode: 1 });
    });

    it('keeps its models across a restart', async () => {
      const dir = path.join(root, 'restart');
      fs.mkdirSync(dir);
      let server: Server | undefined = await startServer(dir, '0.34.1');
      try {
        assert.equal(ollama(server, ['pull', 'llama3:8b']).status, 0);
        await stopServer(server);
        server = await startServer(dir, '0.34.1');
        assert.deepEqual(
          (await tags(server)).map((m) => m.name),
          ['llama3:8b'],
        );
      } finally {
        await stopServer(server);
      }
    });
  });
});
