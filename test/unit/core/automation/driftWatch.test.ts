import assert from 'node:assert/strict';
import { DriftWatch } from '../../../../src/core/automation/driftWatch';
import type { Notice, RollbackOutcome } from '../../../../src/core/automation/automation';
import { COMPLEXITIES } from '../../../../src/core/learning/runResult';
import { LearningPipeline, automationPort } from '../../../../src/core/pipeline';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../../support/workspace';

const CONFIG = {
  autoExport: { enabled: false },
  autoTrain: { enabled: false },
  driftDetection: { evaluationRuns: 10, method: 'threshold' },
};
const BASE = 'qwen2.5-coder:7b';
const TUNED = 'my-coder-tuned-coder';

// A real pipeline in a throwaway workspace (it satisfies AutomationPort); the rollback is a stand-in, so no
// trainer or Ollama runs here. Automation's own tests drive the watch through train, deploy and rollback.
describe('DriftWatch: judges each deployed model on its runs since the deploy', () => {
  let ws: string;
  let pipeline: LearningPipeline;
  let logs: string[];
  let notices: Notice[];
  let rollbacks: { role: string; tier: string | undefined; reason: string }[];
  let trusted: boolean;
  let onRollback: () => Promise<RollbackOutcome['action']>;
  let watch: DriftWatch;
  let task = 0;

  beforeEach(async () => {
    ws = makeWorkspace();
    writeAgentFile(ws, 'learning-config.json', CONFIG);
    pipeline = await LearningPipeline.open(ws, { log: () => undefined, pollIntervalMs: 0 });
    logs = [];
    notices = [];
    rollbacks = [];
    trusted = true;
    onRollback = async () => 'restored';
    watch = new DriftWatch(automationPort(pipeline), {
      trusted: () => trusted,
      log: (l) => logs.push(l),
      notify: (n) => notices.push(n),
      // As Automation's rollback does: the watch is told to stop before the previous model is put back.
      rollback: async (role, opts) => {
        rollbacks.push({ role, tier: opts.tier, reason: opts.reason });
        const key = opts.tier ? `${role}-${opts.tier}` : role;
        watch.stop(key, role, opts.tier);
        return { key, model: TUNED, action: await onRollback() };
      },
    });
  });

  afterEach(async () => {
    await pipeline.close();
    removeWorkspace(ws);
  });

  async function record(n: number, model: string, reward: 'good' | 'bad', role = 'coder'): Promise<void> {
    for (let i = 0; i < n; i++, task++) {
      await pipeline.recordRun(
        `task-${task}`,
        model,
        'default',
        {
          input: `Write function number ${task}`,
          output: `def f${task}():\n    return ${task}\n`,
          compile: reward === 'good',
          tests: { passed: reward === 'good' ? 4 : 0, total: 4 },
          complexity: 'medium',
        },
        role,
      );
    }
  }

  /** What a deploy leaves behind: the model in the router and an evaluation from the newest run on. */
  function deployed(model = TUNED, role = 'coder'): void {
    automationPort(pipeline).addModelVariant({
      id: model,
      costPer1kTokens: 0,
      tiers: [...COMPLEXITIES],
      roles: [role],
    });
    watch.watch({ key: role, role, tier: undefined, model, deployPk: automationPort(pipeline).lastRunPk() });
  }

  function deployEvent(role: string, model: string): void {
    automationPort(pipeline).recordEvent('deploy', role, `Deployed ${model}`, {
      key: role,
      role,
      model,
      method: 'adapter',
      base: BASE,
      baseDigest: 'sha256:base',
      deployPk: automationPort(pipeline).lastRunPk(),
      backupBaseDigest: null,
      ollamaVersion: '0.34.0',
      evalLossBefore: null,
      evalLossAfter: null,
    });
  }

  it('sends the role its runs to the deployed model and waits while it has too few', async () => {
    await record(12, BASE, 'good');
    deployed();
    assert.equal(pipeline.selectModel('medium', undefined, 'coder').reason, 'evaluating');
    await record(4, TUNED, 'bad');
    await watch.check();
    assert.deepEqual(watch.evaluating(), [{ key: 'coder', model: TUNED, runs: 4 }]);
    assert.equal(automationPort(pipeline).lastEvent('drift', 'coder'), undefined);
    assert.equal(automationPort(pipeline).lastEvent('evaluated', 'coder'), undefined);
  });

  it('keeps a model that does as well as the base, records the verdict and stops evaluating it', async () => {
    await record(12, BASE, 'good');
    deployed();
    await record(10, TUNED, 'good');
    await watch.check();
    const kept = automationPort(pipeline).lastEvent('evaluated', 'coder')!;
    assert.match(kept.message, /^Kept my-coder-tuned-coder: /);
    assert.equal(kept.data.decision, 'keep');
    assert.equal(kept.data.runs, 10);
    assert.deepEqual(watch.evaluating(), []);
    assert.notEqual(pipeline.selectModel('medium', undefined, 'coder').reason, 'evaluating');
    assert.ok(logs.some((l) => l.startsWith('✅ my-coder-tuned-coder passed drift detection')));
    assert.deepEqual(rollbacks, []);
  });

  it('records drift and asks for a rollback with the reason, then says the previous model is back', async () => {
    await record(12, BASE, 'good');
    deployed();
    await record(10, TUNED, 'bad');
    await watch.check();
    const drift = automationPort(pipeline).lastEvent('drift', 'coder')!;
    assert.equal(drift.data.decision, 'rollback');
    assert.ok(drift.data.drop! > 0.05);
    assert.equal(rollbacks.length, 1);
    assert.equal(rollbacks[0]!.role, 'coder');
    assert.equal(rollbacks[0]!.tier, undefined);
    assert.ok(drift.message.endsWith(rollbacks[0]!.reason));
    assert.deepEqual(watch.evaluating(), []);
    assert.equal(notices.length, 1);
    assert.equal(notices[0]!.severity, 'warning');
    assert.match(
      notices[0]!.message,
      /did worse than the model it replaced .*the previous adapter is back\.$/,
    );
  });

  it('compares with the role’s runs before the deploy when neither the model nor the base tag has any', async () => {
    await record(12, 'qwen2.5-coder:32b', 'good');
    deployed();
    await record(10, TUNED, 'bad');
    await watch.check();
    assert.equal(automationPort(pipeline).lastEvent('drift', 'coder')!.data.baselineMean, 1);
    assert.equal(rollbacks.length, 1);
  });

  it('withdraws a drifting model without a rollback in an untrusted workspace (no Ollama)', async () => {
    await record(12, BASE, 'good');
    deployed();
    await record(10, TUNED, 'bad');
    trusted = false;
    await watch.check();
    assert.deepEqual(rollbacks, []);
    assert.deepEqual(watch.evaluating(), []);
    for (let i = 0; i < 20; i++)
      assert.notEqual(pipeline.selectModel('medium', undefined, 'coder').id, TUNED);
    assert.ok(logs.some((l) => l.startsWith('↩️ Withdrew my-coder-tuned-coder')));
    assert.match(notices[0]!.message, /it was withdrawn from the model router\.$/);
  });

  it('tells the user when the rollback after drift fails', async () => {
    await record(12, BASE, 'good');
    deployed();
    await record(10, TUNED, 'bad');
    onRollback = async () => {
      throw new Error('ollama create failed');
    };
    await watch.check();
    assert.deepEqual(notices, [
      {
        severity: 'error',
        message: 'Rolling back my-coder-tuned-coder after drift failed: ollama create failed',
      },
    ]);
    assert.ok(logs.includes('❌ ollama create failed'));
  });

  it('joins a check asked for while one runs, and looks once more so a change meanwhile is judged', async () => {
    await record(12, BASE, 'good', 'fixer');
    deployed('my-fixer-tuned-fixer', 'fixer');
    await record(12, BASE, 'good');
    deployed();
    await record(10, TUNED, 'bad');
    let joined: Promise<void> | undefined;
    // The fixer's model was judged (too few runs) before the coder's drift; its runs arrive during the rollback.
    onRollback = async () => {
      await record(10, 'my-fixer-tuned-fixer', 'good', 'fixer');
      joined = watch.check();
      return 'restored';
    };
    const first = watch.check();
    await first;
    assert.equal(joined, first);
    assert.match(
      automationPort(pipeline).lastEvent('evaluated', 'fixer')!.message,
      /^Kept my-fixer-tuned-fixer/,
    );
    assert.deepEqual(watch.evaluating(), []);
  });

  it('restores the evaluations a previous process left open: a deploy with no verdict after it', async () => {
    await record(12, BASE, 'good');
    await record(12, BASE, 'good', 'fixer');
    deployEvent('coder', TUNED);
    await record(3, TUNED, 'good');
    deployEvent('fixer', 'my-fixer-tuned-fixer');
    automationPort(pipeline).recordEvent('evaluated', 'fixer', 'Kept my-fixer-tuned-fixer', {
      key: 'fixer',
      model: 'my-fixer-tuned-fixer',
      decision: 'keep',
      baselineMean: 1,
      tunedMean: 1,
      drop: 0,
      runs: 10,
    });
    automationPort(pipeline).addModelVariant({
      id: TUNED,
      costPer1kTokens: 0,
      tiers: [...COMPLEXITIES],
      roles: ['coder'],
    });
    watch.restore();
    assert.deepEqual(watch.evaluating(), [{ key: 'coder', model: TUNED, runs: 3 }]);
    assert.equal(pipeline.selectModel('medium', undefined, 'coder').reason, 'evaluating');
  });

  it('restores nothing when drift detection is off', async () => {
    writeAgentFile(ws, 'learning-config.json', { ...CONFIG, driftDetection: { enabled: false } });
    await pipeline.close();
    pipeline = await LearningPipeline.open(ws, { log: () => undefined, pollIntervalMs: 0 });
    await record(12, BASE, 'good');
    deployEvent('coder', TUNED);
    const off = new DriftWatch(automationPort(pipeline), {
      trusted: () => true,
      log: () => undefined,
      notify: () => undefined,
      rollback: () => Promise.reject(new Error('not called')),
    });
    off.restore();
    assert.deepEqual(off.evaluating(), []);
  });
});
