import assert from 'node:assert/strict';
import { savedRunsWithTexts } from '../../support/savedRuns';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultConfig } from '../../../src/core/workspace/config';
import {
  ConfigError,
  InvalidInputError,
  NoEligibleModelError,
  OutsideWorkspaceError,
} from '../../../src/core/errors';
import { Exporter } from '../../../src/core/dataset/exporter';
import { LearningPipeline } from '../../../src/core/pipeline';
import { toRunRecord, type RunResult } from '../../../src/core/learning/runResult';
import { loadSqlJs } from '../../../src/core/store/sqljs';
import { Store } from '../../../src/core/store/store';
import { holdFdatasync } from '../../support/heldFdatasync';
import { mulberry32 } from '../../support/random';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../support/workspace';

const MODEL_VARIANTS = {
  variants: [
    { id: 'cheap', costPer1kTokens: 0.0005, tiers: ['small', 'medium'] },
    { id: 'pricey', costPer1kTokens: 0.01, tiers: ['small', 'medium', 'large'] },
  ],
};

describe('LearningPipeline', () => {
  let ws: string;
  let pipeline: LearningPipeline;

  beforeEach(() => {
    ws = makeWorkspace();
  });

  afterEach(async () => {
    await pipeline?.close();
    removeWorkspace(ws);
  });

  async function open(seed = 1): Promise<LearningPipeline> {
    pipeline = await LearningPipeline.open(ws, {
      pollIntervalMs: 0,
      log: () => {},
      random: mulberry32(seed),
    });
    return pipeline;
  }

  function agentPath(name: string): string {
    return path.join(ws, '.agent', name);
  }

  /** A file in .agent/ last written an hour before this process started (a stale temp file must be that old). */
  function writeOldAgentFile(name: string, content: string): void {
    writeAgentFile(ws, name, content);
    const then = (Date.now() - process.uptime() * 1000 - 3_600_000) / 1000;
    fs.utimesSync(agentPath(name), then, then);
  }

  describe('selectPrompt', () => {
    it('returns one of the configured variants, with its text', async () => {
      await open();
      const seen = new Set<string>();

      for (let i = 0; i < 30; i++) {
        const prompt = pipeline.selectPrompt();
        assert.ok(['default', 'detailed', 'concise'].includes(prompt.id), prompt.id);
        assert.ok(prompt.text.length > 0, `variant ${prompt.id} has no text`);
        seen.add(prompt.id);
      }

      assert.equal(seen.size, 3, 'with no runs yet every variant is untried and gets picked');
    });

    it('treats prompt ids named like Object.prototype members as plain names, in selection and export', async () => {
      const ids = ['constructor', 'toString', '__proto__', 'hasOwnProperty'];
      writeAgentFile(ws, 'learning-config.json', { promptBandit: { variants: ids } });
      await open();

      for (let i = 0; i < 20; i++) {
        const prompt = pipeline.selectPrompt();
        assert.ok(ids.includes(prompt.id), prompt.id);
        assert.equal(prompt.text, '', `${prompt.id} has no built-in text`);
        await pipeline.recordRun(`task-${i}`, 'toString', prompt.id, {
          input: `task ${i}`,
          output: 'code',
          compile: true,
        });
      }
      const exported = await pipeline.exportDataset('coder');

      assert.equal(exported.count, 20);
      const lines = fs.readFileSync(exported.file, 'utf8').trim().split('\n');
      for (const line of lines) {
        const roles = (JSON.parse(line) as { messages: { role: string }[] }).messages.map((m) => m.role);
        assert.deepEqual(roles, ['user', 'assistant'], 'no system message from a prototype member');
      }
    });

    it('converges on the prompt whose runs score clearly higher', async () => {
      await open(99);
      const picks: string[] = [];
      for (let i = 0; i < 60; i++) {
        const prompt = pipeline.selectPrompt();
        picks.push(prompt.id);
        // detailed: reward 1; the others: (1 + 0.25) / 2 = 0.625
        const result: RunResult = {
          input: `task ${i}`,
          output: 'code',
          compile: true,
          tests: { passed: prompt.id === 'detailed' ? 4 : 1, total: 4 },
        };
        await pipeline.recordRun(`task-${i}`, 'model-a', prompt.id, result);
      }
      // With epsilon 0.1 over three arms, exploitation alone picks detailed in about 90% of the rounds after the
      // first three; 40 of 60 leaves ample room for the exploration rounds.
      assert.ok(picks.filter((p) => p === 'detailed').length >= 40, picks.join(','));

      writeAgentFile(ws, 'learning-config.json', {
        promptBandit: { algorithm: 'epsilon-greedy', epsilon: 0, window: 0 },
      });
      assert.equal(pipeline.reloadConfig(), undefined);

      for (let i = 0; i < 20; i++) {
        const prompt = pipeline.selectPrompt();
        assert.equal(prompt.id, 'detailed');
        assert.equal(prompt.reason, 'exploit');
      }
    });
  });

  describe('with a window', () => {
    it('learns from each prompt’s last `window` runs only, so a prompt that got worse loses its lead', async () => {
      writeAgentFile(ws, 'learning-config.json', {
        promptBandit: { algorithm: 'epsilon-greedy', epsilon: 0, window: 5 },
      });
      await open();
      const record = (promptId: string, good: boolean) =>
        pipeline.recordRun('t', 'model-a', promptId, { input: 'i', output: 'o', compile: good });
      for (let i = 0; i < 50; i++) {
        await record('detailed', true);
        await record('default', i % 2 === 0);
        await record('concise', false);
      }
      assert.equal(pipeline.selectPrompt().id, 'detailed');

      // detailed breaks; over all history it would still lead (50 good of 55), over its last 5 runs it does not.
      for (let i = 0; i < 5; i++) {
        await record('detailed', false);
        await record('default', true);
      }

      const chosen = pipeline.selectPrompt();
      assert.equal(chosen.id, 'default');
      assert.equal(chosen.count, 5);
      assert.equal(chosen.meanReward, 1);
    });
  });

  describe('with change detection', () => {
    // ε-greedy with ε 0 exploits the best mean, so the choice shows which runs each prompt is judged by.
    const config = { promptBandit: { algorithm: 'epsilon-greedy', epsilon: 0, changeDetection: true } };
    const record = (promptId: string, good: boolean) =>
      pipeline.recordRun('t', 'model-a', promptId, { input: 'i', output: 'o', compile: good });

    async function detailedThenBroken(): Promise<string[]> {
      for (let i = 0; i < 100; i++) {
        await record('detailed', true);
        await record('default', i % 5 < 2); // 0.4
        if (i < 20) await record('concise', false);
      }
      assert.equal(pipeline.selectPrompt().id, 'detailed');
      const broken: string[] = [];
      for (let i = 0; i < 30; i++) broken.push((await record('detailed', false)).id);
      return broken;
    }

    it('forgets a prompt’s runs from before its reward dropped, and only that prompt’s', async () => {
      writeAgentFile(ws, 'learning-config.json', config);
      await open();

      await detailedThenBroken();

      // Over all history detailed would still lead (100 good of 130); since its drop it scores 0.
      const chosen = pipeline.selectPrompt();
      assert.equal(chosen.id, 'default');
      assert.equal(chosen.count, 100, 'default keeps its whole history');
      assert.equal(pipeline.getInsights(0).preferredPrompt, 'default');

      writeAgentFile(ws, 'learning-config.json', {
        promptBandit: { ...config.promptBandit, changeDetection: false },
      });
      assert.equal(pipeline.reloadConfig(), undefined);
      assert.equal(pipeline.selectPrompt().id, 'detailed');
    });

    it('follows verdicts that change the rewards of the runs since the drop', async () => {
      writeAgentFile(ws, 'learning-config.json', config);
      await open();
      const broken = await detailedThenBroken();
      assert.equal(pipeline.selectPrompt().id, 'default');

      // Accepted, a run that did not compile scores 0.5: detailed's runs since the drop now beat default's 0.4.
      for (const id of broken) await pipeline.recordFeedback(id, 'accept');

      const chosen = pipeline.selectPrompt();
      assert.equal(chosen.id, 'detailed');
      assert.ok(chosen.count >= 10 && chosen.count <= 30, `judged by ${chosen.count} runs`);
      assert.equal(chosen.meanReward, 0.5);
    });
  });

  describe('recordFeedback', () => {
    it("raises an accepted run's reward and moves the prompt and model averages with it", async () => {
      await open();
      const { id, reward: before } = await pipeline.recordRun('t1', 'model-a', 'concise', {
        input: 'in',
        output: 'out',
        compile: false,
      });
      await pipeline.recordRun('t2', 'model-b', 'detailed', { input: 'in2', output: 'out2', compile: true });
      assert.equal(before, 0);

      const { reward: after } = await pipeline.recordFeedback(id, 'accept');

      assert.equal(after, 0.5);
      const stats = pipeline.getStats();
      assert.deepEqual(
        stats.promptPerformance.find((p) => p.prompt_id === 'concise'),
        { prompt_id: 'concise', avg_reward: 0.5, count: 1 },
      );
      assert.equal(stats.modelPerformance.find((m) => m.model_name === 'model-a')!.avg_reward, 0.5);
      assert.equal(stats.modelPerformance.find((m) => m.model_name === 'model-b')!.avg_reward, 1);
      assert.equal(stats.recentStats.avgReward, 0.75);
      const run = stats.recentRuns.find((r) => r.id === id)!;
      assert.equal(run.reward, 0.5);
      assert.equal(run.human, 'accept');
    });

    it('lowers the reward of a run rejected after it was accepted', async () => {
      await open();
      const { id } = await pipeline.recordRun('t', 'm', 'default', {
        input: 'i',
        output: 'o',
        compile: true,
      });
      await pipeline.recordFeedback(id, 'accept');

      const { reward } = await pipeline.recordFeedback(id, 'reject');

      assert.equal(reward, 0.5);
      assert.equal(pipeline.getStats().promptPerformance[0]!.avg_reward, 0.5);
    });

    it('throws for a run id it does not know', async () => {
      await open();

      await assert.rejects(
        pipeline.recordFeedback('r-no-such-run', 'accept'),
        /No run with id r-no-such-run/,
      );
    });

    it('throws InvalidInputError for a verdict other than accept or reject', async () => {
      await open();
      const { id } = await pipeline.recordRun('t', 'm', 'default', {
        input: 'i',
        output: 'o',
        compile: true,
      });

      await assert.rejects(
        pipeline.recordFeedback(id, 'maybe' as 'accept'),
        (err: unknown) => err instanceof InvalidInputError && err.field === 'verdict',
      );
    });
  });

  describe('selectModel', () => {
    it('reports an invalid model_variants.json and keeps the previous variants in force', async () => {
      writeAgentFile(ws, 'model_variants.json', MODEL_VARIANTS);
      await open();
      const invalid = writeAgentFile(ws, 'model_variants.json', {
        variants: [{ id: 'free', costPer1kTokens: -1, tiers: ['small'] }],
      });
      const bytes = fs.readFileSync(invalid);

      pipeline.reloadConfig();

      const { error } = pipeline.getConfig();
      assert.ok(error instanceof ConfigError, String(error));
      assert.ok(error.file.endsWith('model_variants.json'), error.file);
      assert.ok(
        error.issues.some((i) => i.key === 'variants.0.costPer1kTokens'),
        JSON.stringify(error.issues),
      );
      assert.equal(pipeline.selectModel('small', 0.002).id, 'cheap');
      assert.throws(() => pipeline.selectModel('large', 0.002), NoEligibleModelError);

      await pipeline.close();
      assert.deepEqual(fs.readFileSync(invalid), bytes, 'a file the user is editing is not overwritten');
    });
  });

  describe('configuration', () => {
    for (const [what, text] of [
      ['an out-of-range value', '{ "autoExport": { "minRuns": 0 } }\n'],
      ['a JSON syntax error', '{ "autoExport": { "minRuns": 5, } \n'],
    ] as const) {
      it(`keeps the defaults for a learning-config.json with ${what} and does not rewrite it`, async () => {
        const file = writeAgentFile(ws, 'learning-config.json', text);
        await open();

        const { config, error } = pipeline.getConfig();
        await pipeline.recordRun('t', 'm', 'default', { input: 'i', output: 'o', compile: true });
        await pipeline.close();

        assert.deepEqual(config, defaultConfig());
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(fs.readFileSync(file, 'utf8'), text);
      });
    }
  });

  describe('reloadConfigIfChanged', () => {
    it("ignores the pipeline's own mirror writes and reports a user's edit once", async () => {
      await open();
      await pipeline.flush(); // writes prompt_variants.json and model_variants.json again
      const changes: string[] = [];
      pipeline.onDidChange((e) => changes.push(e.source));

      assert.equal(pipeline.reloadConfigIfChanged(), false);
      assert.deepEqual(changes, []);

      writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 9 } });
      assert.equal(pipeline.reloadConfigIfChanged(), true);
      assert.equal(pipeline.reloadConfigIfChanged(), false);

      assert.deepEqual(changes, ['config']);
      assert.equal(pipeline.getConfig().config.autoExport.minRuns, 9);
    });

    it('does not take an edit made while it writes the mirror files for its own write', async () => {
      let editNow = false;
      pipeline = await LearningPipeline.open(ws, {
        pollIntervalMs: 0,
        log: () => {},
        random: mulberry32(1),
        // The mirrors' write asks the time after it has checked the files and before it writes them.
        now: () => {
          if (editNow) {
            editNow = false;
            writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 11 } });
          }
          return Date.now();
        },
      });
      editNow = true;
      await pipeline.flush();
      assert.equal(editNow, false, 'the edit was made during the flush');

      assert.equal(pipeline.reloadConfigIfChanged(), true);
      assert.equal(pipeline.getConfig().config.autoExport.minRuns, 11);
    });
  });

  it('opens, and releases the database at close, when counting the high-quality runs at open fails', async () => {
    const seed = Exporter.prototype.seed;
    Exporter.prototype.seed = () => Promise.reject(new Error('the count failed'));
    const logs: string[] = [];
    try {
      pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: (line) => logs.push(line) });
    } finally {
      Exporter.prototype.seed = seed;
    }
    assert.equal(pipeline.isOwner, true);
    assert.ok(logs.includes('⚠️ the count failed'), logs.join('\n'));
    await pipeline.recordRun('t', 'm', 'default', { input: 'i', output: 'o' });
    await pipeline.close();

    const next = await open(); // the lock was released
    assert.equal(next.isOwner, true);
    assert.equal(next.getStats().totals.runs, 1);
  });

  it('records nothing while learning is disabled, without failing the agent', async () => {
    writeAgentFile(ws, 'learning-config.json', { enabled: false });
    await open();

    const result = await pipeline.recordRun('t', 'm', 'default', { input: 'i', output: 'o', compile: true });

    assert.deepEqual(result, { id: '', reward: 1, recorded: false });
    assert.equal(pipeline.getStats().totals.runs, 0);
  });

  describe('recordRun', () => {
    const valid: RunResult = { input: 'i', output: 'o', compile: true };
    const cases: { name: string; result: unknown; field: string }[] = [
      {
        name: 'more tests passed than exist',
        result: { ...valid, tests: { passed: 5, total: 3 } },
        field: 'result.tests',
      },
      { name: 'no input', result: { output: 'o', compile: true }, field: 'result.input' },
      { name: 'a verdict of maybe', result: { ...valid, human: 'maybe' }, field: 'result.human' },
      {
        name: 'a negative error count',
        result: { ...valid, errors: { lint: -1 } },
        field: 'result.errors.lint',
      },
      { name: 'no result at all', result: undefined, field: 'result' },
    ];

    for (const c of cases) {
      it(`throws InvalidInputError naming ${c.field} for ${c.name} and records nothing`, async () => {
        await open();
        await pipeline.recordRun('t', 'm', 'default', valid);

        await assert.rejects(
          pipeline.recordRun('t', 'm', 'default', c.result as RunResult),
          (err: unknown) => err instanceof InvalidInputError && err.field === c.field,
        );

        assert.equal(pipeline.getStats().totals.runs, 1);
      });
    }

    it('with groupCommit, puts runs that arrive together on disk with one fdatasync, and says none is recorded before it ends', async () => {
      const logs: string[] = [];
      pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: (line) => logs.push(line) });
      const inbox = fs.realpathSync(agentPath('inbox'));
      const held = holdFdatasync((file) => file.startsWith(inbox));
      try {
        const told: string[] = [];
        pipeline.onDidRecordRun((run) => told.push(run.id));
        const settled: string[] = [];
        const runs = ['a', 'b', 'c'].map((task) =>
          pipeline
            .recordRun(task, 'm', 'default', valid, 'coder', { groupCommit: true })
            .then((run) => (settled.push(task), run)),
        );
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(held.syncs.length, 1, 'one fdatasync for the three');
        for (const task of ['"a"', '"b"', '"c"'])
          assert.ok(held.syncs[0]!.data.includes(`"taskSlug":${task}`));
        assert.deepEqual([settled, told, logs.filter((l) => l.startsWith('✅'))], [[], [], []]);
        held.syncs[0]!.finish();
        const recorded = await Promise.all(runs);
        assert.deepEqual(
          told,
          recorded.map((r) => r.id),
        );
        assert.equal(logs.filter((l) => l.startsWith('✅ Recorded run')).length, 3);
        assert.equal(held.syncCalls, 0, 'the event loop never waited on the disk');
      } finally {
        held.restore();
      }
      await pipeline.close();
      assert.deepEqual(
        savedRunsWithTexts(path.join(ws, '.agent'))
          .map((r) => r.task_slug)
          .sort(),
        ['a', 'b', 'c'],
      );
    });

    it('with groupCommit, refuses every run an fdatasync covered when it fails, and records the next ones', async () => {
      await open();
      const inbox = fs.realpathSync(agentPath('inbox'));
      const held = holdFdatasync((file) => file.startsWith(inbox));
      try {
        const runs = ['a', 'b'].map((task) =>
          pipeline.recordRun(task, 'm', 'default', valid, 'coder', { groupCommit: true }),
        );
        await new Promise((resolve) => setImmediate(resolve));
        assert.equal(held.syncs.length, 1);
        held.syncs[0]!.finish(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
        for (const run of runs) await assert.rejects(run, /EIO/);
        const next = pipeline.recordRun('c', 'm', 'default', valid, 'coder', { groupCommit: true });
        await new Promise((resolve) => setImmediate(resolve));
        held.syncs[1]!.finish();
        assert.equal((await next).recorded, true);
      } finally {
        held.restore();
      }
    });

    it('without groupCommit, puts each run on disk before recordRun returns to the event loop', async () => {
      await open();
      const inbox = fs.realpathSync(agentPath('inbox'));
      const held = holdFdatasync((file) => file.startsWith(inbox));
      try {
        await Promise.all(['a', 'b'].map((task) => pipeline.recordRun(task, 'm', 'default', valid)));
        assert.deepEqual([held.syncCalls, held.syncs.length], [2, 0], 'one fdatasync each, at once');
      } finally {
        held.restore();
      }
    });

    it('keeps every run when the reward weights are out of bounds: the config is reported, the defaults stay', async () => {
      // With 1e308 the weights' sum overflowed, the reward was NaN, and recordRun said "recorded" for a dropped run.
      writeAgentFile(ws, 'learning-config.json', { rewardWeights: { compile: 1e308, tests: 1e308 } });
      await open();

      const result = await pipeline.recordRun('t', 'm', 'default', {
        ...valid,
        tests: { passed: 1, total: 2 },
      });

      assert.equal(result.recorded, true);
      assert.equal(result.reward, 0.75);
      const [problem] = pipeline.problems();
      assert.ok(problem instanceof ConfigError && problem.issues[0]?.key === 'rewardWeights.compile');
      await pipeline.close();
      const store = Store.open(await loadSqlJs(), fs.readFileSync(agentPath('experience.db')));
      assert.ok(store instanceof Store);
      assert.equal(store.getRun(result.id)?.reward, 0.75);
      store.close();
    });

    it("stores a task slug with a lone surrogate as valid UTF-8 that Python's sqlite3 reads, U+FFFD in its place", async () => {
      await open();

      const { id } = await pipeline.recordRun('fix-\uD83D-bug', 'm', 'default', {
        ...valid,
        output: 'x\uDC00',
      });

      await pipeline.close();
      const read = execFileSync(
        'python3',
        [
          '-c',
          // The database with Python's sqlite3, the output from .agent/texts/ by its documented layout.
          [
            'import sqlite3, sys, json, struct, zlib',
            'db = sqlite3.connect(sys.argv[1] + "/experience.db")',
            'slug, seg, off, n = db.execute("SELECT task_slug, segment, offset, length FROM runs r ' +
              'JOIN run_text_refs x ON x.pk = r.pk WHERE id = ?", (sys.argv[2],)).fetchone()',
            'rec = open(sys.argv[1] + "/texts/%06d.seg" % seg, "rb").read()[off:off + n]',
            'magic, ver, codec, _, id_len, pay_len, in_len, crc = struct.unpack("<4sBBHIIII", rec[:24])',
            'assert zlib.crc32(rec[24:]) == crc',
            'pay = rec[24 + id_len:]',
            'plain = zlib.decompress(pay, -15) if codec == 1 else pay',
            'print(json.dumps([slug, plain[in_len:].decode("utf-8")]))',
          ].join('\n'),
          agentPath(''),
          id,
        ],
        { encoding: 'utf8' },
      );
      assert.deepEqual(JSON.parse(read), ['fix-\uFFFD-bug', 'x\uFFFD']);
    });

    it('cuts a text over storage.maxTextBytes with a visible marker and says so in the log', async () => {
      writeAgentFile(ws, 'learning-config.json', { storage: { maxTextBytes: 2048 } });
      const logs: string[] = [];
      pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: (l) => logs.push(l) });

      const { id, recorded } = await pipeline.recordRun('t', 'm', 'default', {
        ...valid,
        output: 'o'.repeat(50_000),
      });

      assert.equal(recorded, true);
      assert.ok(logs.some((l) => l.includes(`Run ${id}: its output is 48.8 KiB; kept the first 2.0 KiB`)));
      await pipeline.close();
      const { output } = savedRunsWithTexts(agentPath('')).find((r) => r.id === id)!;
      assert.ok(Buffer.byteLength(output) <= 2048);
      assert.match(output, /^o+\n…\[truncated by Agent Learning: kept \d+ of 50000 bytes\]$/);
    });

    it('throws InvalidInputError naming taskSlug for an empty task slug', async () => {
      await open();

      await assert.rejects(
        pipeline.recordRun('', 'm', 'default', valid),
        (err: unknown) => err instanceof InvalidInputError && err.field === 'taskSlug',
      );
      assert.equal(pipeline.getStats().totals.runs, 0);
    });
  });

  it('removes temp files that stopped processes left in .agent/ and sft/ on start, and no others', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = [
      `prompt_variants.json.tmp-${dead}-0123abcd`,
      `last-export-coder.txt.tmp-${dead}-89abcdef`,
      `sft/coder_sft.jsonl.tmp-${dead}-00ff00ff`,
    ];
    const live = [`model_variants.json.tmp-${process.ppid}-0123abcd`, 'sft/coder_sft.jsonl'];
    // A dead-looking pid may be a live writer in another container: a fresh temp file may still be written.
    const fresh = `prompt_variants.json.tmp-${dead}-fedcba98`;
    for (const name of [...stale, ...live]) writeOldAgentFile(name, 'x');
    writeAgentFile(ws, fresh, 'x');

    await open();

    for (const name of stale) assert.ok(!fs.existsSync(agentPath(name)), `${name} removed`);
    for (const name of [...live, fresh]) assert.ok(fs.existsSync(agentPath(name)), `${name} kept`);
  });

  it("leaves the database's temp files to the database's owner when it is not the owner", async () => {
    await open(); // the owner
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // e.g. the owner's pid, seen from another container
    const ownersTemp = `experience.db.tmp-${dead}-0123abcd`;
    writeOldAgentFile(ownersTemp, 'being saved');

    const reader = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {} });
    try {
      assert.equal(fs.readFileSync(agentPath(ownersTemp), 'utf8'), 'being saved');
    } finally {
      await reader.close();
    }
  });

  describe('in an untrusted workspace', () => {
    let outside: string;

    beforeEach(() => {
      outside = fs.mkdtempSync(path.join(path.dirname(ws), 'al-outside-'));
      fs.writeFileSync(path.join(outside, 'victim'), 'precious');
    });

    afterEach(() => fs.rmSync(outside, { recursive: true, force: true }));

    function openUntrusted(): Promise<LearningPipeline> {
      const logs: string[] = [];
      return LearningPipeline.open(ws, { pollIntervalMs: 0, log: (l) => logs.push(l), trusted: () => false });
    }

    it('records runs but exports through no sft/ link out of the workspace, saying why', async () => {
      writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 1, minReward: 0 } });
      fs.symlinkSync(outside, agentPath('sft'));
      pipeline = await openUntrusted();

      await pipeline.recordRun('t', 'm', 'default', { input: 'i', output: 'o', compile: true });
      await assert.rejects(
        pipeline.exportDataset('coder'),
        (err: unknown) =>
          err instanceof OutsideWorkspaceError && /Replace the link with a folder/.test(err.message),
      );

      assert.equal(pipeline.getStats().totals.runs, 1);
      assert.deepEqual(fs.readdirSync(outside), ['victim']);
    });

    for (const link of ['.agent', '.agent/inbox']) {
      it(`refuses to open when ${link} is a link out of the workspace, writing nothing there`, async () => {
        if (link === '.agent') fs.symlinkSync(outside, path.join(ws, '.agent'));
        else {
          fs.mkdirSync(agentPath(''));
          fs.symlinkSync(outside, agentPath('inbox'));
        }

        await assert.rejects(openUntrusted(), OutsideWorkspaceError);

        assert.deepEqual(fs.readdirSync(outside), ['victim']);
        assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'precious');
      });
    }

    it('follows links that stay inside the workspace', async () => {
      fs.mkdirSync(path.join(ws, 'datasets'));
      fs.mkdirSync(agentPath(''));
      fs.symlinkSync(path.join(ws, 'datasets'), agentPath('sft'));
      pipeline = await openUntrusted();

      await pipeline.recordRun('t', 'm', 'default', { input: 'i', output: 'o', compile: true });
      const exported = await pipeline.exportDataset('coder');

      assert.equal(exported.count, 1);
      assert.deepEqual(fs.readdirSync(path.join(ws, 'datasets')), ['coder_sft.jsonl', 'coder_sft.memo']);
    });
  });

  describe('close', () => {
    it('writes prompt_variants.json and model_variants.json with the statistics from the store', async () => {
      await open();
      await pipeline.recordRun('t', 'model-a', 'detailed', { input: 'a', output: 'b', compile: true });
      await pipeline.recordRun('t', 'model-a', 'detailed', { input: 'c', output: 'd', compile: false });

      await pipeline.close();

      const prompts = JSON.parse(fs.readFileSync(agentPath('prompt_variants.json'), 'utf8')) as {
        variants: { id: string; text: string }[];
        active: { id: string; text: string }[];
        stats: Record<string, { id: string; n: number; meanReward: number }[]>;
      };
      assert.deepEqual(prompts.variants, [], 'the user part starts empty');
      assert.deepEqual(
        prompts.active.map((v) => v.id),
        ['default', 'detailed', 'concise'],
      );
      assert.deepEqual(prompts.stats['*'], [{ id: 'detailed', n: 2, meanReward: 0.5 }]);
      assert.deepEqual(prompts.stats['coder'], [{ id: 'detailed', n: 2, meanReward: 0.5 }]);
      const models = JSON.parse(fs.readFileSync(agentPath('model_variants.json'), 'utf8')) as {
        stats: Record<string, { id: string; n: number; meanReward: number }[]>;
      };
      assert.deepEqual(models.stats['*'], [{ id: 'model-a', n: 2, meanReward: 0.5 }]);
    });

    it('keeps what the user wrote in prompt_variants.json when it rewrites the stats', async () => {
      await open();
      await pipeline.recordRun('t', 'model-a', 'default', { input: 'a', output: 'b', compile: true });
      await pipeline.flush();
      const file = agentPath('prompt_variants.json');
      const mine = { id: 'terse', text: 'Answer in one function.' };
      const edited = JSON.parse(fs.readFileSync(file, 'utf8')) as { variants: object[] };
      edited.variants.push(mine);
      fs.writeFileSync(file, JSON.stringify(edited, null, 2));

      await pipeline.recordRun('t', 'model-a', 'default', { input: 'c', output: 'd', compile: true });
      await pipeline.close();

      const after = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        variants: object[];
        active: { id: string }[];
      };
      assert.deepEqual(after.variants, [mine]);
      assert.deepEqual(
        after.active.map((v) => v.id),
        ['default', 'detailed', 'concise', 'terse'],
      );
    });

    it('drops a built-in prompt removed from promptBandit.variants, even after the mirror was written', async () => {
      await open();
      await pipeline.close();
      writeAgentFile(ws, 'learning-config.json', { promptBandit: { variants: ['default'] } });
      await open();
      for (let i = 0; i < 10; i++) assert.equal(pipeline.selectPrompt().id, 'default');
    });

    it('keeps every run across a close and a reopen', async () => {
      await open();
      const { id } = await pipeline.recordRun('t', 'm', 'default', {
        input: 'a',
        output: 'b',
        compile: true,
      });
      await pipeline.close();

      await open();

      assert.deepEqual(
        pipeline.getStats().recentRuns.map((r) => r.id),
        [id],
      );
    });
  });

  it("keeps an older version's runs under a role now refused in the stats, but names no dataset or adapter for it", async () => {
    pipeline = await LearningPipeline.open(ws, { log: () => {}, pollIntervalMs: 0 });
    await pipeline.recordRun('t', 'm', 'default', { input: 'i', output: 'o', compile: true });
    await pipeline.close();
    // As an older version recorded it, before roles ending in a tier were refused: straight into the database.
    const file = path.join(ws, '.agent', 'experience.db');
    const store = Store.open(await loadSqlJs(), fs.readFileSync(file));
    assert.ok(store instanceof Store);
    const old = toRunRecord(
      { id: 'old-1', createdAt: 1, taskSlug: 't', role: 'coder-large', modelId: 'm', promptId: 'default' },
      { input: 'i', output: 'o' },
    );
    store.insertRun({ ...old, reward: 1 });
    fs.writeFileSync(file, store.export());
    store.close();

    pipeline = await LearningPipeline.open(ws, { log: () => {}, pollIntervalMs: 0 });

    assert.deepEqual({ ...pipeline.getStats().totals.byRole }, { coder: 1, 'coder-large': 1 });
    assert.deepEqual(pipeline.roles(), ['coder']);
  });
});
