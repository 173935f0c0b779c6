// Auto-export under the default config: the count that decides it is kept, not recounted by each recordRun; the
// export runs after the recordRun that made it due; close() leaves a complete experience.db without an await.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { Statement } from 'sql.js';
import { LearningPipeline, automationPort } from '../../../src/core/pipeline';
import { loadSqlJs } from '../../../src/core/store/sqljs';
import { mulberry32 } from '../../support/random';
import { makeWorkspace, removeWorkspace, writeAgentFile } from '../../support/workspace';
import { savedRunsWithTexts } from '../../support/savedRuns';

const ROOT = path.resolve(__dirname, '../../..');
const COUNT_SQL = /SELECT COUNT\(\*\) FROM runs WHERE role/;

/** Every SQL statement sql.js runs while `fn` does (the store binds each before it runs it). */
async function statementsDuring(fn: () => Promise<void>): Promise<string[]> {
  // sql.js's module does not export its Statement class: its prototype is reached through a statement.
  const db = new (await loadSqlJs()).Database();
  const probe = db.prepare('SELECT 1');
  const proto = Object.getPrototypeOf(probe) as Statement;
  probe.free();
  db.close();
  const bind = proto.bind;
  const seen: string[] = [];
  proto.bind = function (this: Statement, ...args: Parameters<Statement['bind']>) {
    seen.push(this.getSQL());
    return bind.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.bind = bind;
  }
  return seen;
}

/** What the saved file says: the role's high-quality runs after its last export, by an independent SQLite. */
function countInFile(ws: string, role: string, minReward: number): number {
  const db = new Database(path.join(ws, '.agent', 'experience.db'), { readonly: true, fileMustExist: true });
  try {
    const last = db
      .prepare("SELECT data FROM events WHERE kind = 'export' AND role = ? ORDER BY id DESC LIMIT 1")
      .pluck()
      .get(role) as string | undefined;
    const watermark = last === undefined ? 0 : (JSON.parse(last) as { watermarkPk: number }).watermarkPk;
    return db
      .prepare('SELECT COUNT(*) FROM runs WHERE role = ? AND pk > ? AND reward >= ?')
      .pluck()
      .get(role, watermark, minReward) as number;
  } finally {
    db.close();
  }
}

describe('auto-export under the default config', function () {
  this.timeout(120_000);
  let ws: string;
  const pipelines: LearningPipeline[] = [];

  beforeEach(() => (ws = makeWorkspace()));
  afterEach(async () => {
    for (const p of pipelines.splice(0)) await p.close();
    removeWorkspace(ws);
  });

  async function open(log: (line: string) => void = () => {}): Promise<LearningPipeline> {
    const p = await LearningPipeline.open(ws, { pollIntervalMs: 0, log });
    pipelines.push(p);
    return p;
  }

  const good = (i: number) => ({
    input: `task ${i}`,
    output: `answer ${i}`,
    compile: true,
    tests: { passed: 4, total: 4 },
  });

  it('counts no runs while recording: the high-quality count is kept, not queried by each recordRun', async () => {
    const p = await open();
    for (let i = 0; i < 30; i++) await p.recordRun('t', 'm', 'default', good(i));
    await p.flush();
    // The automation asks from its last training, auto-export from the last export: both stay kept.
    const sinceTraining = () => automationPort(p).highQualityRunsSince('coder', 5);
    const before = sinceTraining();
    const more = async () => {
      for (let i = 30; i < 60; i++) {
        await p.recordRun('t', 'm', 'default', good(i), i % 2 ? 'coder' : 'fixer');
        await p.recordFeedback(p.lastRunId()!, i % 3 ? 'accept' : 'reject');
        if (i % 10 === 0) sinceTraining();
      }
    };

    const executed = await statementsDuring(more);

    assert.ok(executed.length > 0, 'the spy sees the store’s statements');
    assert.deepEqual(
      executed.filter((sql) => COUNT_SQL.test(sql)),
      [],
      'no recordRun or recordFeedback counted the runs',
    );
    assert.equal(p.getStats().totals.runs, 60);
    assert.equal(sinceTraining(), before + 10, 'the ten coder runs accepted since');
  });

  it('keeps the count equal to the database’s answer through records, verdicts, late signals, the inbox, exports and config changes', async () => {
    writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 7, minReward: 0.7 } });
    const p = await open();
    const other = await open();
    assert.ok(p.isOwner && !other.isOwner);
    const port = automationPort(p);
    const rnd = mulberry32(0x5eed11);
    const ids: string[] = [];
    const roles = ['coder', 'fixer'];
    const result = (i: number) => ({
      input: `in ${i}`,
      output: `out ${i}`,
      compile: rnd() < 0.7,
      tests: { passed: Math.floor(rnd() * 5), total: 4 },
    });
    let agentLines = 0;
    let signals = 0;
    let minReward = 0.7;
    for (let step = 0; step < 120; step++) {
      const role = roles[Math.floor(rnd() * roles.length)]!;
      const r = rnd();
      if (r < 0.35) ids.push((await p.recordRun('t', 'm', 'default', result(step), role)).id);
      else if (r < 0.42 && ids.length > 0) {
        await p.recordFeedback(ids[Math.floor(rnd() * ids.length)]!, rnd() < 0.5 ? 'accept' : 'reject');
      } else if (r < 0.52 && ids.length > 0) {
        // A late signal from the editor on a recent run: type errors the agent did not report move its reward
        // across minReward.
        const value = rnd() < 0.5 ? 0 : 3;
        const recent = ids.slice(-8);
        await p.recordSignal(recent[Math.floor(rnd() * recent.length)]!, {
          kind: 'errors.type',
          value,
          source: 'editor:diagnostics',
        });
        signals++;
      } else if (r < 0.65) ids.push((await other.recordRun('t', 'm', 'default', result(step), role)).id);
      else if (r < 0.78 && ids.length > 0) {
        // An agent's verdict, written straight into the inbox, for a run the owner has (or will have).
        const line = {
          type: 'feedback',
          runId: ids[Math.floor(rnd() * ids.length)],
          verdict: rnd() < 0.5 ? 'accept' : 'reject',
        };
        fs.appendFileSync(path.join(ws, '.agent', 'inbox', 'agent.jsonl'), JSON.stringify(line) + '\n');
        agentLines++;
      } else if (r < 0.86) await p.ingestInbox();
      else if (r < 0.93) await p.exportDataset(role);
      else {
        minReward = [0.5, 0.7, 0.9][Math.floor(rnd() * 3)]!;
        writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 7, minReward } });
        assert.equal(p.reloadConfig(), undefined);
      }
      await p.flush(); // the queued auto-exports run, and the file is saved for the independent reader

      for (const name of p.roles()) {
        const watermark = port.lastEvent('export', name)?.data.watermarkPk ?? 0;
        let kept = -1;
        const executed = await statementsDuring(async () => {
          kept = port.highQualityRunsSince(name, watermark);
        });
        assert.deepEqual(
          executed.filter((sql) => COUNT_SQL.test(sql)),
          [],
          `step ${step}: answered from the count kept`,
        );
        assert.equal(kept, countInFile(ws, name, minReward), `step ${step}, ${name}`);
        assert.equal(p.getStats().roles.find((x) => x.role === name)?.highQualitySinceExport ?? 0, kept);
      }
    }
    assert.ok(agentLines > 0 && signals > 0 && ids.length > 30, 'the mix had every kind of step');
  });

  it('runs the auto-export after the recordRun that made it due, once per role, and logs as before', async () => {
    writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 3, minReward: 0.7 } });
    const logs: string[] = [];
    const p = await open((l) => logs.push(l));
    const dataset = path.join(ws, '.agent', 'sft', 'coder_sft.jsonl');
    for (let i = 0; i < 2; i++) await p.recordRun('t', 'm', 'default', good(i));

    const third = p.recordRun('t', 'm', 'default', good(2));
    const fourth = p.recordRun('t', 'm', 'default', good(3));
    await Promise.all([third, fourth]);

    assert.equal(fs.existsSync(dataset), false, 'recordRun resolved before the export ran');
    await p.flush();
    assert.deepEqual(
      logs.filter((l) => /xport/.test(l)),
      [
        '📦 Auto-exporting SFT dataset for coder...',
        '✅ Exported 4 coder examples to .agent/sft/coder_sft.jsonl',
      ],
      'one export for the two runs that found it due',
    );
    assert.equal(fs.readFileSync(dataset, 'utf8').trim().split('\n').length, 4);
  });

  describe('a long auto-export, taken a slice at a time', () => {
    const RUNS = 1500;
    /** Distinct runs with long texts, so that reading and scrubbing them takes many slices. */
    const long = (i: number) => ({
      ...good(i),
      input: `task ${i} `.repeat(600),
      output: `answer ${i} `.repeat(600),
    });

    async function recordUntilDue(p: LearningPipeline): Promise<void> {
      for (let i = 0; i < RUNS; i++) await p.recordRun('t', 'm', 'default', long(i));
    }

    it('lets the event loop run between slices, and leaves runs recorded meanwhile for the next export', async () => {
      writeAgentFile(ws, 'learning-config.json', {
        autoExport: { minRuns: RUNS, minReward: 0.7, maxExamples: 5000 },
      });
      const p = await open();
      const dataset = path.join(ws, '.agent', 'sft', 'coder_sft.jsonl');
      await recordUntilDue(p); // the last run queued the export

      let turns = 0;
      let during: Promise<unknown> | undefined;
      while (!fs.existsSync(dataset)) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turns++;
        // A run recorded while the export is being taken.
        during ??= p.recordRun('t', 'm', 'default', long(RUNS));
      }
      await during;
      await p.flush();

      assert.ok(turns > 5, `the export held the event loop: only ${turns} turns ran during it`);
      assert.equal(
        fs.readFileSync(dataset, 'utf8').trim().split('\n').length,
        RUNS,
        'the runs it began with',
      );
      assert.equal(p.getStats().roles.find((r) => r.role === 'coder')?.highQualitySinceExport, 1);
    });

    it('takes an export asked for (the command, the API) a slice at a time too', async () => {
      writeAgentFile(ws, 'learning-config.json', { autoExport: { enabled: false, maxExamples: 5000 } });
      const p = await open();
      await recordUntilDue(p);

      let turns = 0;
      let done = false;
      const exported = p.exportDataset('coder').finally(() => (done = true));
      while (!done) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        turns++;
      }

      assert.equal((await exported).count, RUNS);
      assert.ok(turns > 5, `the export held the event loop: only ${turns} turns ran during it`);
    });

    it('runs an auto-export that fell due during an asked-for export after it, never beside it', async () => {
      writeAgentFile(ws, 'learning-config.json', {
        autoExport: { minRuns: RUNS + 1, minReward: 0.7, maxExamples: 5000 },
      });
      const logs: string[] = [];
      const p = await open((l) => logs.push(l));
      await recordUntilDue(p); // one short of minRuns

      const asked = p.exportDataset('coder');
      await new Promise<void>((resolve) => setImmediate(resolve));
      await p.recordRun('t', 'm', 'default', long(RUNS)); // minRuns reached while the export is being taken
      await asked;
      await p.flush();

      // Its turn came after the asked-for export, which had reset the count: no longer due, so no second export.
      assert.deepEqual(
        logs.filter((l) => /xport/.test(l)),
        [`✅ Exported ${RUNS} coder examples to .agent/sft/coder_sft.jsonl`],
      );
    });

    it('runs an auto-export that a late signal made due after the one being taken, never beside it', async () => {
      writeAgentFile(ws, 'learning-config.json', {
        autoExport: { minRuns: RUNS, minReward: 0.7, maxExamples: 5000 },
      });
      const logs: string[] = [];
      const p = await open((l) => logs.push(l));
      await recordUntilDue(p);
      const first = p.lastRunId()!;
      while (!logs.includes('📦 Auto-exporting SFT dataset for coder...')) {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const during = await p.recordRun('t', 'm', 'default', long(RUNS)); // after the export began

      // No export is written yet, so every good run still counts as due: the signal asks for one too.
      await p.recordSignal(first, { kind: 'errors.type', value: 0, source: 'editor:diagnostics' });
      await p.flush();

      assert.deepEqual(
        logs.filter((l) => l.startsWith('✅ Exported')),
        [`✅ Exported ${RUNS} coder examples to .agent/sft/coder_sft.jsonl`],
        'one export, then the signal’s turn found it no longer due',
      );
      assert.equal(
        p.getStats().roles.find((r) => r.role === 'coder')?.highQualitySinceExport,
        1,
        'the run recorded during the export waits for the next',
      );
      assert.ok(during.recorded);
    });

    it('is finished by close() when close() comes in the middle', async () => {
      writeAgentFile(ws, 'learning-config.json', {
        autoExport: { minRuns: RUNS, minReward: 0.7, maxExamples: 5000 },
      });
      const logs: string[] = [];
      const p = await open((l) => logs.push(l));
      const dataset = path.join(ws, '.agent', 'sft', 'coder_sft.jsonl');
      await recordUntilDue(p);
      while (!logs.includes('📦 Auto-exporting SFT dataset for coder...')) {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.equal(fs.existsSync(dataset), false, 'the export is under way');

      await p.close();

      assert.equal(fs.readFileSync(dataset, 'utf8').trim().split('\n').length, RUNS);
      assert.equal(logs.filter((l) => l.startsWith('✅ Exported')).length, 1);
    });
  });

  it('runs a queued auto-export in close()', async () => {
    writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 1, minReward: 0.7 } });
    const p = await open();
    await p.recordRun('t', 'm', 'default', good(1));

    await p.close();

    assert.equal(
      fs
        .readFileSync(path.join(ws, '.agent', 'sft', 'coder_sft.jsonl'), 'utf8')
        .trim()
        .split('\n').length,
      1,
    );
  });

  it('leaves a complete experience.db and dataset when a script calls close() without await and exits at once', function () {
    execFileSync('node', ['esbuild.js'], { cwd: ROOT, stdio: 'ignore' });
    // The 40th run makes an auto-export due: queued, it is written on the way out.
    writeAgentFile(ws, 'learning-config.json', { autoExport: { minRuns: 40, minReward: 0.7 } });
    const script = `
      const { LearningPipeline } = require(${JSON.stringify(path.join(ROOT, 'dist', 'core.js'))});
      (async () => {
        const learning = new LearningPipeline(${JSON.stringify(ws)}, { log: () => {} });
        for (let i = 0; i < 40; i++) {
          await learning.recordRun('task-' + i, 'm', 'default', { input: 'in ' + i, output: 'out ' + i, compile: true });
        }
        learning.close();
        process.exit(0);
      })();
    `;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    assert.equal(child.status, 0, child.stderr);

    assertCompleteAfterExit(40);
    const dataset = fs.readFileSync(path.join(ws, '.agent', 'sft', 'coder_sft.jsonl'), 'utf8');
    assert.equal(dataset.trim().split('\n').length, 40, 'the queued auto-export is written');
  });

  /** What a process that exited during or right after close() must leave: every run saved, nothing to replay. */
  function assertCompleteAfterExit(runs: number): void {
    const db = new Database(path.join(ws, '.agent', 'experience.db'), {
      readonly: true,
      fileMustExist: true,
    });
    try {
      assert.equal(db.prepare('SELECT COUNT(*) FROM runs').pluck().get(), runs, 'every run is in the file');
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    } finally {
      db.close();
    }
    assert.deepEqual(fs.readdirSync(path.join(ws, '.agent', 'inbox')), [], 'no journal is left to replay');
    assert.deepEqual(
      fs.readdirSync(path.join(ws, '.agent')).filter((n) => n.includes('.tmp-')),
      [],
      'no temp file is left',
    );
  }

  // The n-th time the point is passed: open saves the new database once (no texts); with saves put off, close's is next.
  for (const [point, n] of [
    ['texts-written', 1],
    ['save-exported', 2],
    ['save-before-rename', 2],
  ] as const) {
    it(`leaves a complete experience.db when the process exits while close() is still saving (at ${point})`, function () {
      execFileSync('node', ['esbuild.js'], { cwd: ROOT, stdio: 'ignore' });
      const script = `
        const { LearningPipeline } = require(${JSON.stringify(path.join(ROOT, 'dist', 'core.js'))});
        (async () => {
          const learning = new LearningPipeline(${JSON.stringify(ws)}, {
            log: () => {},
            pollIntervalMs: 0,
            saveDelayMs: 600000,
          });
          for (let i = 0; i < 40; i++) {
            await learning.recordRun('task-' + i, 'm', 'default', { input: 'in ' + i, output: 'out ' + i, compile: true });
          }
          await learning.close();
          process.stdout.write('closed');
        })();
      `;
      const child = spawnSync(process.execPath, ['-e', script], {
        encoding: 'utf8',
        env: { ...process.env, AGENT_LEARNING_CRASH_POINT: `${point}:${n}:exit` },
      });
      assert.equal(child.status, 0, child.stderr);
      assert.equal(child.stdout, '', 'it exited inside the close');

      assertCompleteAfterExit(40);
      const texts = savedRunsWithTexts(path.join(ws, '.agent'));
      assert.deepEqual(
        texts.map((r) => r.output).sort(),
        Array.from({ length: 40 }, (_, i) => `out ${i}`).sort(),
        'every text can be read',
      );
    });
  }
});
