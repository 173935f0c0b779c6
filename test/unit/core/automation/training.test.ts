import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeployGateError } from '../../../../src/core/errors';
import {
  launcherSource,
  parseProgressLine,
  ProgressTail,
  readLastTrain,
  readTrainEval,
  trainerArgs,
  trainerExitReason,
  trainStep,
  writeLastTrain,
  type Tools,
} from '../../../../src/core/automation/training';
import { adapterPaths } from '../../../../src/core/workspace/agentDir';
import { defaultConfig, parseConfig } from '../../../../src/core/workspace/config';

const tools: Tools = {
  python: 'python3',
  pythonDir: path.resolve('python'),
  node: process.execPath,
  cli: path.resolve('dist/cli.js'),
  ollama: 'ollama',
};

describe('training', () => {
  describe('trainerArgs', () => {
    const p = adapterPaths('/w/.agent', 'coder');

    it('passes every autoTrain setting to train_lora.py as its own argument', () => {
      const config = parseConfig({
        autoTrain: {
          gradientAccumulation: 4,
          maxSteps: 50,
          lrScheduler: 'cosine',
          warmupRatio: 0.1,
          loraDropout: 0,
        },
      });
      const args = trainerArgs(p, 'Qwen/Qwen2.5-Coder-7B-Instruct', config);
      const flag = (name: string) => args[args.indexOf(name) + 1];
      assert.equal(flag('--grad-accum'), '4');
      assert.equal(flag('--max-steps'), '50');
      assert.equal(flag('--lr-scheduler'), 'cosine');
      assert.equal(flag('--warmup-ratio'), '0.1');
      assert.equal(flag('--lora-dropout'), '0');
      assert.equal(flag('--output'), p.training);
      assert.ok(!args.includes('--allow-cpu'), 'the CPU only when asked for');
      assert.ok(
        trainerArgs(p, 'm/n', parseConfig({ autoTrain: { allowCpu: true } })).includes('--allow-cpu'),
      );
    });

    it('leaves the dropout to the trainer (0.05 with PEFT, 0 with Unsloth) when it is not configured', () => {
      const args = trainerArgs(p, 'Qwen/Qwen2.5-Coder-7B-Instruct', defaultConfig());
      assert.ok(!args.includes('--lora-dropout'));
      assert.equal(args[args.indexOf('--lr-scheduler') + 1], 'linear');
    });

    it('refuses a schedule train_lora.py does not know, naming the key', () => {
      assert.throws(() => parseConfig({ autoTrain: { lrScheduler: 'step' } }), /autoTrain\.lrScheduler/);
    });
  });

  describe('readTrainEval', () => {
    it("carries the gate's reason into the deploy gate's message", () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-eval-'));
      const reason =
        'the held-out loss fell by 0.0100 per example on average over 3 examples, but by less than its noise';
      fs.writeFileSync(
        path.join(dir, 'eval.json'),
        JSON.stringify({
          eval_loss_before: 2,
          eval_loss_after: 1.99,
          improved: false,
          gate: { passed: false, reason },
          truncated_examples: 2,
        }),
      );
      const evaluation = readTrainEval(dir);
      assert.equal(evaluation?.improved, false);
      assert.equal(evaluation?.truncatedExamples, 2);
      const gate = new DeployGateError(
        'coder',
        evaluation?.lossBefore,
        evaluation?.lossAfter,
        evaluation?.gateReason,
      );
      assert.match(gate.message, /less than its noise/);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  });

  describe('plans and progress files', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-plans-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('passes the config to the trainer as an argument list', () => {
      const config = parseConfig({ autoTrain: { loraRank: 8, epochs: 1, learningRate: 0.0001 } });
      const p = adapterPaths(path.join(dir, '.agent'), 'coder');
      const step = trainStep(p, 'Qwen/Qwen2.5-Coder-7B-Instruct', config, tools, dir);
      assert.equal(step.command, 'python3');
      assert.equal(step.args[0], path.join(tools.pythonDir, 'train_lora.py'));
      const flag = (name: string) => step.args[step.args.indexOf(name) + 1];
      assert.equal(flag('--rank'), '8');
      assert.equal(flag('--alpha'), '32');
      assert.equal(flag('--epochs'), '1');
      assert.equal(flag('--learning-rate'), '0.0001');
      assert.equal(flag('--data'), path.join(dir, '.agent', 'sft', 'coder_sft.jsonl'));
      assert.equal(flag('--output'), path.join(dir, '.agent', 'lora', 'coder', 'training'));
      assert.equal(
        adapterPaths(path.join(dir, '.agent'), 'coder', 'large').dataset,
        path.join(dir, '.agent', 'sft', 'coder-large_sft.jsonl'),
      );
    });

    it('writes a launcher that runs the shipped trainer with the same arguments, even with quotes in paths', () => {
      const agentDir = path.join(dir, `it's "odd" \\ dir`, '.agent');
      fs.mkdirSync(agentDir, { recursive: true });
      const p = adapterPaths(agentDir, 'coder');
      // A stand-in train_lora.py that prints the arguments it got.
      const pythonDir = path.join(dir, 'py');
      fs.mkdirSync(pythonDir);
      fs.writeFileSync(
        path.join(pythonDir, 'train_lora.py'),
        'import json, sys\nprint(json.dumps(sys.argv[1:]))\n',
      );
      const config = defaultConfig();
      fs.writeFileSync(
        p.launcher,
        launcherSource(p, 'Qwen/Qwen2.5-Coder-7B-Instruct', config, { ...tools, pythonDir }),
      );
      const out = execFileSync('python3', [p.launcher, '--allow-cpu'], { encoding: 'utf8' });
      const step = trainStep(p, 'Qwen/Qwen2.5-Coder-7B-Instruct', config, { ...tools, pythonDir }, dir);
      assert.deepEqual(JSON.parse(out), [...step.args.slice(1), '--allow-cpu']);
    });

    it('parses progress lines and follows a growing progress file', () => {
      assert.deepEqual(parseProgressLine('{"step":3,"total":10,"loss":1.5,"eta_s":12}'), {
        step: 3,
        total: 10,
        loss: 1.5,
        etaS: 12,
      });
      assert.equal(parseProgressLine('Loading checkpoint shards'), undefined);
      assert.equal(parseProgressLine('{"step":-1,"total":10}'), undefined);
      const file = path.join(dir, 'progress.jsonl');
      const seen: number[] = [];
      const tail = new ProgressTail(file, (p) => seen.push(p.step), 60_000);
      tail.poll(); // no file yet
      fs.writeFileSync(file, '{"step":1,"total":3,"loss":2,"eta_s":5}\n{"step":2,"to');
      tail.poll();
      fs.appendFileSync(file, 'tal":3,"loss":1.5,"eta_s":2}\n');
      tail.dispose();
      assert.deepEqual(seen, [1, 2]);
    });

    it('keeps last-train tracking in .agent/last-train-{role}.txt', () => {
      const file = path.join(dir, 'last-train-coder.txt');
      assert.equal(readLastTrain(file), undefined);
      writeLastTrain(file, { at: '2026-11-25T10:00:00.000Z', examples: 505, watermarkPk: 1234 });
      assert.equal(fs.readFileSync(file, 'utf8'), '2026-11-25T10:00:00.000Z\n505 examples\nwatermark 1234\n');
      assert.deepEqual(readLastTrain(file), {
        at: '2026-11-25T10:00:00.000Z',
        examples: 505,
        watermarkPk: 1234,
      });
    });
  });

  describe('trainerExitReason', () => {
    it("says which input of the merger is wrong, not the trainer's dataset", () => {
      assert.match(trainerExitReason(3, 'train'), /dataset/);
      assert.match(trainerExitReason(3, 'merge'), /adapter .*other shapes.*tokenizer/);
      assert.doesNotMatch(trainerExitReason(3, 'merge'), /dataset/);
    });

    it('names the setting that trains a small model without a GPU', () => {
      assert.match(trainerExitReason(5), /"autoTrain\.allowCpu"/);
    });
  });
});
