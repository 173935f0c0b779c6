import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  checkDataset,
  checkDisk,
  checkOllama,
  checkPython,
  parseRequirements,
  satisfies,
  trainingBlocker,
  type SetupCheckInput,
} from '../../../../src/core/automation/setupCheck';
import { defaultConfig } from '../../../../src/core/workspace/config';

const ROOT = path.resolve(__dirname, '../../../..');
const REQUIREMENTS = path.join(ROOT, 'python/requirements.txt');
const VENV_PYTHON = path.join(ROOT, '.venv/bin/python');

describe('Check Setup', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'al-setup-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  function input(over: Partial<SetupCheckInput> = {}): SetupCheckInput {
    return {
      python: 'python3',
      requirementsFile: REQUIREMENTS,
      ollamaHost: 'http://127.0.0.1:1',
      ollamaPath: 'ollama',
      dataDir: tmp,
      config: defaultConfig(),
      roles: [],
      ...over,
    };
  }

  /** A stand-in interpreter: a script that prints the probe's answer, with peft missing and torch too old. */
  function standInPython(): string {
    const file = path.join(tmp, 'python with space');
    fs.writeFileSync(
      file,
      '#!/bin/sh\ncat <<\'EOF\'\n{"python":"3.12.1","executable":"/opt/py/bin/python","packages":{"torch":"2.5.1+cu124",' +
        '"transformers":"5.1.0","peft":null,"accelerate":"1.10.0","safetensors":"0.6.2","tokenizers":"0.22.1"},' +
        '"cuda":{"available":false,"device":null},"mps":false}\nEOF\n',
      { mode: 0o755 },
    );
    return file;
  }

  it('reads the requirement ranges of python/requirements.txt and compares versions with them', () => {
    const reqs = parseRequirements(fs.readFileSync(REQUIREMENTS, 'utf8'));
    assert.deepEqual(reqs.find((r) => r.name === 'torch')?.specifiers, [
      ['>=', '2.6'],
      ['<', '3'],
    ]);
    assert.ok(!reqs.some((r) => r.name.startsWith('-') || r.name.startsWith('#')));
    assert.equal(
      satisfies('2.6.0+cu124', [
        ['>=', '2.6'],
        ['<', '3'],
      ]),
      true,
    );
    assert.equal(satisfies('2.5.1', [['>=', '2.6']]), false);
    assert.equal(satisfies('3.0.0', [['<', '3']]), false);
  });

  it('reports each package of the real .venv interpreter with its version', async function () {
    // Made by test/python/setup.sh, which `npm run test:unit` runs first.
    assert.ok(fs.existsSync(VENV_PYTHON), `${VENV_PYTHON} is missing: run bash test/python/setup.sh`);
    const lines = await checkPython(input({ python: VENV_PYTHON }));
    const byId = new Map(lines.map((l) => [l.id, l]));
    assert.equal(byId.get('python')?.status, 'ok');
    assert.match(byId.get('python')!.label, /^Python 3\.\d+\.\d+$/);
    for (const name of ['torch', 'transformers', 'peft', 'accelerate']) {
      const line = byId.get(`package:${name}`);
      assert.equal(line?.status, 'ok', `${name}: ${line?.label}`);
      assert.match(line.label, new RegExp(`^${name} \\d+\\.`));
    }
    assert.ok(byId.get('gpu'), 'no GPU line');
  });

  it('(stand-in python) reports a missing and a too-old package with an install fix, and no GPU', async () => {
    const python = standInPython();
    const config = defaultConfig();
    const lines = await checkPython(input({ python, config }));
    const peft = lines.find((l) => l.id === 'package:peft')!;
    assert.equal(peft.status, 'problem');
    assert.equal(peft.label, 'peft is missing');
    assert.deepEqual(peft.fix, {
      kind: 'install',
      command: python,
      args: ['-m', 'pip', 'install', '-r', REQUIREMENTS],
    });
    assert.equal(peft.fixLabel, 'Install Packages');
    const torch = lines.find((l) => l.id === 'package:torch')!;
    assert.equal(torch.label, 'torch 2.5.1+cu124 does not match >=2.6,<3');
    assert.equal(lines.find((l) => l.id === 'package:transformers')?.status, 'ok');
    const gpu = lines.find((l) => l.id === 'gpu')!;
    assert.equal(gpu.status, 'warning');
    assert.equal(gpu.label, 'No GPU (torch sees no CUDA GPU)');
    assert.deepEqual(gpu.fix, { kind: 'openConfig', key: 'autoTrain.allowCpu' });
  });

  it('offers to pick an interpreter when the configured one does not exist', async () => {
    const lines = await checkPython(input({ python: path.join(tmp, 'no-such-python') }));
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.status, 'problem');
    assert.match(lines[0]!.detail, /no-such-python was not found\. Pick an interpreter/);
    assert.deepEqual(lines[0]!.fix, { kind: 'pickInterpreter' });
  });

  it('reports an unreachable Ollama with Start Ollama and the host setting as fixes', async () => {
    // A port that was just free: nothing listens there.
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));

    const lines = await checkOllama(
      input({ ollamaHost: `http://127.0.0.1:${port}`, ollamaPath: '/opt/o llama' }),
    );
    assert.equal(lines[0]!.status, 'problem');
    assert.equal(lines[0]!.label, `Ollama is not reachable at http://127.0.0.1:${port}`);
    assert.deepEqual(lines[0]!.fix, { kind: 'startOllama', command: '/opt/o llama', args: ['serve'] });
    assert.deepEqual(lines[1]!.fix, { kind: 'openSetting', key: 'agentLearning.ollamaHost' });
  });

  it('(stand-in Ollama server) names the version and the deploy path that applies to it', async () => {
    let version = '0.34.2';
    const server = http.createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url === '/api/version' ? { version } : {}));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const host = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      let [line] = await checkOllama(input({ ollamaHost: host }));
      assert.equal(line!.status, 'ok');
      assert.equal(line!.label, `Ollama 0.34.2 at ${host}`);
      assert.match(line!.detail, /merged model/);
      version = '0.5.7';
      [line] = await checkOllama(input({ ollamaHost: host }));
      assert.match(line!.detail, /ADAPTER Modelfile/);
    } finally {
      server.close();
    }
  });

  it('says how many examples each role has against autoTrain.minExamples, with Export Now', () => {
    const config = defaultConfig();
    config.autoTrain.minExamples = 10;
    const lines = checkDataset(
      input({
        config,
        roles: [
          { role: 'coder', exportedExamples: 1 },
          { role: 'reviewer', exportedExamples: 12 },
        ],
      }),
    );
    assert.equal(lines[0]!.label, 'Dataset (coder): 1 example, training needs 10');
    assert.deepEqual(lines[0]!.fix, { kind: 'exportDataset', role: 'coder' });
    assert.equal(lines[1]!.status, 'ok');
    assert.equal(checkDataset(input()).at(0)?.label, 'Dataset: no runs recorded yet');
  });

  it('compares the free disk space with what the base model needs', () => {
    const config = defaultConfig();
    config.autoTrain.baseModel = 'qwen2.5:99999b';
    const tooBig = checkDisk(input({ config }));
    assert.equal(tooBig.status, 'problem');
    assert.match(tooBig.label, /^Disk: [\d.]+ [GM]B free, qwen2\.5:99999b needs about 599994\.0 GB$/);
    assert.deepEqual(tooBig.fix, { kind: 'openConfig', key: 'autoTrain.baseModel' });
    config.autoTrain.baseModel = 'qwen2.5-coder:0.5b';
    assert.equal(checkDisk(input({ config })).label.endsWith('needs about 3.0 GB'), true);
  });
});

describe('trainingBlocker', () => {
  const line = (id: string, status: 'ok' | 'problem', label: string) => ({ id, status, label, detail: '' });

  it('names what stops training in a few words, and nothing when all is there', () => {
    assert.equal(
      trainingBlocker([line('python', 'problem', 'Python: /usr/bin/py does not run')]),
      'Python does not run',
    );
    assert.equal(
      trainingBlocker([line('python', 'problem', 'Python 3.8.10')]),
      'Python 3.8.10 is older than 3.10',
    );
    assert.equal(
      trainingBlocker([
        line('python', 'ok', 'Python 3.12.1'),
        line('package:torch', 'problem', 'torch is missing'),
        line('package:peft', 'ok', 'peft 0.13.0'),
      ]),
      'torch is missing',
    );
    assert.equal(
      trainingBlocker([line('python', 'ok', 'Python 3.12.1'), line('gpu', 'problem', 'no GPU')]),
      null,
    );
  });
});
