import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DeployGateError } from '../../../../src/core/errors';
import { readTrainEval, trainerArgs } from '../../../../src/core/automation/training';
import { adapterPaths } from '../../../../src/core/workspace/agentDir';
import { defaultConfig, parseConfig } from '../../../../src/core/workspace/config';

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
});
