import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChildProcessRunner, type Step } from '../../../../src/core/automation/steps';

/** A step that runs `script` with this test's own Node. */
function nodeStep(script: string, extra: Partial<Step> = {}): Step {
  return {
    id: 'train',
    title: 'test step',
    command: process.execPath,
    args: ['-e', script],
    cwd: '.',
    ...extra,
  };
}

describe('ChildProcessRunner', function () {
  this.timeout(30_000);
  let dir: string;

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-steps-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('hands the program its arguments as they are, with no shell to expand or split them', async () => {
    const args = ['$HOME', 'a; touch pwned', '"quoted" \\ $(whoami)', '*'];
    const step = nodeStep('console.log(JSON.stringify(process.argv.slice(1)))', { cwd: dir });

    const outcome = await new ChildProcessRunner().run({ ...step, args: [...step.args, ...args] });

    assert.equal(outcome.exitCode, 0);
    assert.deepEqual(JSON.parse(outcome.output!), args);
    assert.deepEqual(fs.readdirSync(dir), [], 'nothing ran the "touch"');
  });

  it("runs in the step's folder with the step's environment over the process's", async () => {
    const step = nodeStep(
      'console.log(JSON.stringify([process.cwd(), process.env.AL_STEP_VALUE, Boolean(process.env.PATH)]))',
      { cwd: dir, env: { AL_STEP_VALUE: 'from the step' } },
    );

    const outcome = await new ChildProcessRunner().run(step);

    assert.deepEqual(JSON.parse(outcome.output!), [fs.realpathSync(dir), 'from the step', true]);
  });

  it('reports the exit code and logs what the program wrote to stdout and stderr', async () => {
    const logged: string[] = [];

    const outcome = await new ChildProcessRunner((line) => logged.push(line)).run(
      nodeStep('console.log("to stdout"); console.error("to stderr"); process.exitCode = 3'),
    );

    assert.equal(outcome.exitCode, 3);
    assert.equal(outcome.error, undefined);
    assert.deepEqual([...logged].sort(), ['   to stderr', '   to stdout']);
  });

  it('keeps the last 40 lines, without the terminal codes the ollama CLI draws its progress with', async () => {
    const script = "for (let i = 1; i <= 50; i++) console.log('\\x1B[?25l\\x1B[1Gline ' + i + '\\x1B[K')";

    const outcome = await new ChildProcessRunner().run(nodeStep(script));

    assert.deepEqual(
      outcome.output!.split('\n'),
      Array.from({ length: 40 }, (_, i) => `line ${i + 11}`),
    );
  });

  it('logs whole lines, whatever chunks the pipe delivers them in, a character split between two included', async () => {
    // Each write waits for the one before to leave the child and then a moment, so the parent sees separate chunks.
    const script = `
      const parts = [Buffer.from('progress 5'), Buffer.from('0%\\ncaf'), Buffer.from([0xc3]), Buffer.from([0xa9]), Buffer.from(' done')];
      const next = () => { const p = parts.shift(); if (p) process.stdout.write(p, () => setTimeout(next, 30)); };
      next();`;
    const logged: string[] = [];

    const outcome = await new ChildProcessRunner((line) => logged.push(line)).run(nodeStep(script));

    assert.equal(outcome.exitCode, 0);
    assert.deepEqual(logged, ['   progress 50%', '   café done']);
    assert.equal(outcome.output, 'progress 50%\ncafé done');
  });

  it('reports a program that cannot start with no exit code and the reason', async () => {
    const outcome = await new ChildProcessRunner().run({
      ...nodeStep(''),
      command: path.join(dir, 'no-such-program'),
      args: [],
    });

    assert.equal(outcome.exitCode, undefined);
    assert.match(outcome.error ?? '', /ENOENT/);
  });

  it('reports a step stopped through its signal as cancelled, with no exit code', async () => {
    const controller = new AbortController();
    const running = new ChildProcessRunner().run(
      nodeStep('console.log("started"); setInterval(() => {}, 1000)'),
      controller.signal,
    );
    setTimeout(() => controller.abort(), 200);

    const outcome = await running;

    assert.equal(outcome.exitCode, undefined);
    assert.equal(outcome.error, 'cancelled');
  });
});
