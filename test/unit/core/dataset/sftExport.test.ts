import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidInputError } from '../../../../src/core/errors';
import { LearningPipeline } from '../../../../src/core/pipeline';
import type { RunResult } from '../../../../src/core/learning/runResult';
import { mulberry32 } from '../../../support/random';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';

interface Message {
  role: string;
  content: string;
}

/** Reward 1: compiled, nothing else known. */
function good(i: number | string): RunResult {
  return { input: `task ${i}`, output: `solution ${i}`, compile: true };
}

/** Reward 0: did not compile. */
function poor(i: number | string): RunResult {
  return { input: `bad task ${i}`, output: `broken ${i}`, compile: false };
}

describe('SFT export (through LearningPipeline)', () => {
  let ws: string;
  let logs: string[];
  let pipeline: LearningPipeline;

  beforeEach(() => {
    ws = makeWorkspace();
    logs = [];
  });

  afterEach(async () => {
    await pipeline?.close();
    removeWorkspace(ws);
  });

  async function open(config: object = {}): Promise<LearningPipeline> {
    writeAgentFile(ws, 'learning-config.json', config);
    pipeline = await LearningPipeline.open(ws, {
      pollIntervalMs: 0,
      log: (line) => logs.push(line),
      random: mulberry32(1),
    });
    return pipeline;
  }

  function sftFile(role: string): string {
    return path.join(ws, '.agent', 'sft', `${role}_sft.jsonl`);
  }

  function readExamples(role: string): Message[][] {
    return fs
      .readFileSync(sftFile(role), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => (JSON.parse(l) as { messages: Message[] }).messages);
  }

  function userInputs(role: string): string[] {
    return readExamples(role).map((m) => m.find((x) => x.role === 'user')!.content);
  }

  async function record(result: RunResult, role = 'coder', promptId = 'default'): Promise<number> {
    return (await pipeline.recordRun('task', 'model-a', promptId, result, role)).reward;
  }

  it('auto-exports when the high-quality runs of a role reach minRuns, with the seed log lines', async () => {
    await open({ autoExport: { minRuns: 5 } });
    for (let i = 0; i < 4; i++) await record(good(i));
    await record(poor(0));
    assert.ok(!fs.existsSync(sftFile('coder')), 'four high-quality runs are below the threshold');

    await record(good(4));
    await pipeline.flush(); // the auto-export runs after the recordRun that made it due

    assert.equal(readExamples('coder').length, 5);
    assert.ok(fs.existsSync(path.join(ws, '.agent', 'last-export-coder.txt')));
    assert.deepEqual(
      logs.filter((l) => l.startsWith('📦') || l.startsWith('✅ Exported')),
      [
        '📦 Auto-exporting SFT dataset for coder...',
        '✅ Exported 5 coder examples to .agent/sft/coder_sft.jsonl',
      ],
    );
  });

  it('does not auto-export when autoExport.enabled is false', async () => {
    await open({ autoExport: { enabled: false, minRuns: 2 } });

    for (let i = 0; i < 5; i++) await record(good(i));

    assert.ok(!fs.existsSync(sftFile('coder')));
    assert.deepEqual(
      logs.filter((l) => l.startsWith('📦')),
      [],
    );
  });

  it('auto-exports when a human verdict lifts a run to minReward', async () => {
    await open({ autoExport: { minRuns: 2 } });
    await record(good(1));
    // did not compile, but all tests passed and no errors: (0 + 1 + 1) / 3 = 0.67, below 0.7
    const { id } = await pipeline.recordRun('task', 'model-a', 'default', {
      input: 'task lifted',
      output: 'code',
      compile: false,
      tests: { passed: 2, total: 2 },
      errors: { lint: 0 },
    });
    assert.ok(!fs.existsSync(sftFile('coder')));

    await pipeline.recordFeedback(id, 'accept'); // (0 + 1 + 1 + 1) / 4 = 0.75
    await pipeline.flush(); // the auto-export runs after the recordRun that made it due

    assert.deepEqual(userInputs('coder').sort(), ['task 1', 'task lifted']);
  });

  it('leaves out runs with an empty output', async () => {
    await open();
    await record({ input: 'task empty', output: '  \n', compile: true });
    await record(good('full'));

    await pipeline.exportDataset('coder');

    assert.deepEqual(userInputs('coder'), ['task full']);
  });

  it('keeps runs whose reward reaches minReward and leaves out those below', async () => {
    await open({ autoExport: { minReward: 0.7 } });
    await record(good('kept'));
    await record(poor('dropped'));
    // 7 of 10 tests passed, nothing else known: exactly 0.7, on the bar
    await record({ input: 'task borderline', output: 'ok', tests: { passed: 7, total: 10 } });
    // compiled but most tests failed: (1 + 0.25) / 2 = 0.625, below the bar
    await record({ input: 'task below', output: 'meh', compile: true, tests: { passed: 1, total: 4 } });

    await pipeline.exportDataset('coder');

    assert.deepEqual(userInputs('coder').sort(), ['task borderline', 'task kept']);
  });

  it('writes each example as system, user and assistant messages, the system text from the prompt variant used', async () => {
    writeAgentFile(ws, 'prompt_variants.json', { variants: [{ id: 'terse', text: 'Answer tersely.' }] });
    await open();
    await record(
      { input: 'add two numbers', output: 'const add = (a, b) => a + b;', compile: true },
      'coder',
      'terse',
    );

    await pipeline.exportDataset('coder');

    const lines = fs.readFileSync(sftFile('coder'), 'utf8').split('\n');
    assert.deepEqual(JSON.parse(lines[0]!), {
      messages: [
        { role: 'system', content: 'Answer tersely.' },
        { role: 'user', content: 'add two numbers' },
        { role: 'assistant', content: 'const add = (a, b) => a + b;' },
      ],
    });
    assert.deepEqual(lines.slice(1), [''], 'one JSON object per line, newline-terminated');
  });

  it('puts the best-rewarded runs first', async () => {
    await open();
    await record({ input: 'task 0.75', output: 'x', compile: true, tests: { passed: 1, total: 2 } });
    await record({ input: 'task 1', output: 'y', compile: true, tests: { passed: 2, total: 2 } });
    await record({ input: 'task 0.9', output: 'z', compile: true, tests: { passed: 4, total: 5 } });

    await pipeline.exportDataset('coder');

    assert.deepEqual(userInputs('coder'), ['task 1', 'task 0.9', 'task 0.75']);
  });

  it('writes at most maxExamples examples, keeping the best', async () => {
    await open({ autoExport: { maxExamples: 3 } });
    for (let i = 0; i < 4; i++)
      await record({ input: `ok ${i}`, output: 'o', compile: true, tests: { passed: 3, total: 4 } });
    for (let i = 0; i < 3; i++) await record(good(`best ${i}`));

    const result = await pipeline.exportDataset('coder');

    assert.equal(result.count, 3);
    assert.deepEqual(userInputs('coder').sort(), ['task best 0', 'task best 1', 'task best 2']);
  });

  it('removes exact duplicates and duplicates that differ only in whitespace', async () => {
    await open();
    const base = {
      input: 'write add(a, b)',
      output: 'function add(a, b) {\n  return a + b;\n}',
      compile: true,
    };
    await record(base);
    await record(base);
    await record({ ...base, input: '  write   add(a, b)\n', output: 'function add(a, b) { return a + b; }' });
    await record(good('other'));

    const result = await pipeline.exportDataset('coder');

    assert.equal(result.count, 2);
    assert.equal(result.duplicatesSkipped, 2);
    assert.equal(readExamples('coder').length, 2);
  });

  it('scrubs secrets in inputs and outputs before they reach the file', async () => {
    await open();
    await record({
      input: 'Use the key AKIAIOSFODNN7EXAMPLE to upload',
      output: 'API_KEY="abc123def456"\nupload(API_KEY)',
      compile: true,
    });

    const result = await pipeline.exportDataset('coder');

    const text = fs.readFileSync(sftFile('coder'), 'utf8');
    assert.ok(!text.includes('AKIAIOSFODNN7EXAMPLE'), text);
    assert.ok(!text.includes('abc123def456'), text);
    assert.match(text, /\[REDACTED:/);
    assert.equal(result.secretsRedacted, 2);
  });

  it('keeps each role in its own file', async () => {
    await open({ autoExport: { minRuns: 2 } });
    await record(good('fix 1'), 'fixer');
    await record(good('code 1'), 'coder');
    await record(good('fix 2'), 'fixer');
    await pipeline.flush(); // the auto-export runs after the recordRun that made it due

    assert.deepEqual(userInputs('fixer').sort(), ['task fix 1', 'task fix 2']);
    assert.ok(!fs.existsSync(sftFile('coder')), 'coder has one high-quality run, below minRuns 2');

    await record(good('code 2'), 'coder');
    await pipeline.flush();

    assert.deepEqual(userInputs('coder').sort(), ['task code 1', 'task code 2']);
  });

  it('counts only the high-quality runs since the last export toward the next one', async () => {
    await open({ autoExport: { minRuns: 3 } });
    for (let i = 0; i < 3; i++) await record(good(i));
    await pipeline.flush(); // the auto-export runs after the recordRun that made it due
    const exports = () => logs.filter((l) => l.startsWith('📦 Auto-exporting'));
    assert.equal(exports().length, 1);

    await record(good(3));
    await record(good(4));
    for (let i = 0; i < 3; i++) await record(poor(i));

    assert.equal(exports().length, 1, 'two high-quality runs since the export are below minRuns 3');
    assert.equal(pipeline.getStats().roles.find((r) => r.role === 'coder')!.highQualitySinceExport, 2);

    await record(good(5));
    await pipeline.flush();

    assert.equal(exports().length, 2);
    assert.ok(logs.includes('✅ Exported 6 coder examples to .agent/sft/coder_sft.jsonl'), logs.join('\n'));
    assert.equal(pipeline.getStats().roles.find((r) => r.role === 'coder')!.highQualitySinceExport, 0);
  });

  it('exports a role on demand with exportDataset, below the threshold', async () => {
    await open();
    await record(good('a'), 'fixer');
    await record(good('b'), 'fixer');

    const result = await pipeline.exportDataset('fixer');

    assert.equal(result.count, 2);
    assert.equal(result.file, sftFile('fixer'));
    assert.deepEqual(userInputs('fixer').sort(), ['task a', 'task b']);
    const marker = fs.readFileSync(path.join(ws, '.agent', 'last-export-fixer.txt'), 'utf8');
    assert.match(marker, /2 examples/);
  });

  for (const role of ['../etc', 'Coder', 'a b', 'x'.repeat(40), '']) {
    it(`rejects the role name ${JSON.stringify(role)} and writes nothing`, async () => {
      await open({ autoExport: { minRuns: 1 } });

      await assert.rejects(
        pipeline.recordRun('task', 'model-a', 'default', good(1), role),
        (err: unknown) => err instanceof InvalidInputError && err.field === 'role',
      );
      await assert.rejects(pipeline.exportDataset(role), InvalidInputError);

      assert.equal(pipeline.getStats().totals.runs, 0);
      const written = fs.readdirSync(path.join(ws, '.agent'), { recursive: true }).map(String);
      assert.deepEqual(
        written.filter((f) => f.includes('sft') || f.startsWith('last-export')),
        [],
      );
      assert.deepEqual(
        fs.readdirSync(ws).filter((f) => f !== '.agent'),
        [],
      );
    });
  }
});
