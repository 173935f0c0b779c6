import assert from 'node:assert/strict';
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { LearningPipeline } from '../../../../src/core/pipeline';
import {
  CorruptDatabaseError,
  DatabaseTooLargeError,
  DuplicateRunError,
  LearningError,
  NewerSchemaError,
} from '../../../../src/core/errors';
import {
  DurableStore,
  type DurableStoreOptions,
  type ValidRun,
} from '../../../../src/core/store/durableStore';
import { computeReward } from '../../../../src/core/learning/reward';
import { defaultConfig } from '../../../../src/core/workspace/config';
import { savedRunsWithTexts } from '../../../support/savedRuns';
import { openDurableStore } from '../../../support/durableStore';
import { holdFdatasync, type HeldFdatasync } from '../../../support/heldFdatasync';

const ROOT = path.resolve(__dirname, '../../../..');
const RECORDER = path.join(ROOT, 'test/fixtures/recorder.cjs');

const quiet = { log: () => {}, pollIntervalMs: 0 };

function run(i: number, extra: Record<string, unknown> = {}) {
  return { input: `input ${i}`, output: `output ${i}`, compile: true, ...extra };
}

/** Run ids in the saved file, read with an independent SQLite (better-sqlite3), plus its integrity check. */
function savedRuns(dir: string): { ids: Set<string>; integrity: string } {
  const db = new Database(path.join(dir, '.agent', 'experience.db'), { readonly: true, fileMustExist: true });
  try {
    const ids = new Set(db.prepare('SELECT id FROM runs').pluck().all() as string[]);
    const integrity = db.pragma('integrity_check', { simple: true }) as string;
    return { ids, integrity };
  } finally {
    db.close();
  }
}

/** The inbox's files holding an entry: the owner's next journal, made ahead of time, holds only zeros until used. */
function journalsWithEntries(inbox: string): string[] {
  return fs.readdirSync(inbox).filter((name) => {
    const bytes = fs.readFileSync(path.join(inbox, name));
    return bytes.length > 0 && bytes[0] !== 0;
  });
}

/** Resolves with the child's stdout lines so far once `until` says so (or it exits). */
function readLines(child: ChildProcess, until: (lines: string[]) => boolean): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const lines: string[] = [];
    let buffer = '';
    let stderr = '';
    let settled = false;
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      const parts = buffer.split('\n');
      buffer = parts.pop()!;
      lines.push(...parts);
      if (!settled && until(lines)) {
        settled = true;
        resolve(lines);
      }
    });
    child.on('exit', (code, signal) => {
      if (settled) return;
      settled = true;
      if (code === 0 || signal) resolve(lines);
      else reject(new Error(`child exited ${code}: ${stderr}`));
    });
  });
}

/** An inbox line an agent might write: a run with an id of its own. */
function agentRun(id: string, taskSlug = id, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: 'run',
    id,
    taskSlug,
    modelId: 'm',
    promptId: 'default',
    result: run(1, extra),
  });
}

/** Records the paths removed synchronously (fs.rmSync, fs.unlinkSync) until `stop()`. */
function syncUnlinks(): { paths: string[]; stop: () => void } {
  const { rmSync, unlinkSync } = nodeFs;
  const paths: string[] = [];
  nodeFs.rmSync = (p, options) => {
    paths.push(String(p));
    rmSync(p, options);
  };
  nodeFs.unlinkSync = (p) => {
    paths.push(String(p));
    unlinkSync(p);
  };
  return {
    paths,
    stop: () => {
      nodeFs.rmSync = rmSync;
      nodeFs.unlinkSync = unlinkSync;
    },
  };
}

/** Sets a file's modification time ten minutes back: an agent's file its writer is done with. */
function finished(file: string): void {
  const longAgo = new Date(Date.now() - 10 * 60_000);
  fs.utimesSync(file, longAgo, longAgo);
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

describe('durable store', function () {
  let dir: string;

  before(function () {
    this.timeout(120_000);
    execFileSync('node', ['esbuild.js'], { cwd: ROOT, stdio: 'ignore' });
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-durable-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps every resolved run when the recording process is killed with SIGKILL, 20 times over', async function () {
    this.timeout(180_000);
    const resolved: string[] = [];
    let seed = 12345;
    const nextRandom = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 20; round++) {
      // Saves every 5 ms so that kills land in saves as well as in appends.
      const child = spawn('node', [RECORDER, dir, '100000', `k${round}`, '5'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const killAfter = 1 + Math.floor(nextRandom() * 300);
      const lines = await readLines(child, (l) => l.filter((x) => x.startsWith('r-')).length >= killAfter);
      child.kill('SIGKILL');
      await exited(child);
      resolved.push(...lines.filter((x) => x.startsWith('r-')));
    }
    const p = await LearningPipeline.open(dir, quiet);
    assert.equal(p.getStats().totals.runs >= resolved.length, true);
    await p.close();
    const { ids, integrity } = savedRuns(dir);
    assert.equal(integrity, 'ok');
    const missing = resolved.filter((id) => !ids.has(id));
    assert.deepEqual(missing, [], `${missing.length} of ${resolved.length} resolved runs lost`);
    // Nothing left behind: no stale lock, no temp files, inbox drained.
    const agent = fs.readdirSync(path.join(dir, '.agent'));
    assert.deepEqual(
      agent.filter((n) => n.includes('.tmp-') || n.endsWith('.lock')),
      [],
    );
    assert.deepEqual(fs.readdirSync(path.join(dir, '.agent', 'inbox')), []);
  });

  for (const point of [
    'append-partial:40',
    'texts-written:2',
    'save-exported:2',
    'save-before-rename:2',
    'save-renamed:2',
  ]) {
    it(`keeps every resolved run when the process dies at ${point}`, async function () {
      this.timeout(60_000);
      const child = spawn('node', [RECORDER, dir, '100000', 'c', '5'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, AGENT_LEARNING_CRASH_POINT: point },
      });
      const lines = await readLines(child, () => false);
      assert.equal(child.signalCode, 'SIGKILL', 'the crash point was reached');
      const resolved = lines.filter((x) => x.startsWith('r-'));
      assert.ok(resolved.length > 0);
      const p = await LearningPipeline.open(dir, quiet);
      await p.close();
      const { ids, integrity } = savedRuns(dir);
      assert.equal(integrity, 'ok');
      assert.deepEqual(
        resolved.filter((id) => !ids.has(id)),
        [],
      );
      assert.deepEqual(fs.readdirSync(path.join(dir, '.agent', 'inbox')), [], 'the inbox is drained');
      // Every run's texts are readable where the database says (and written by the documented layout).
      const texts = savedRunsWithTexts(path.join(dir, '.agent'));
      assert.ok(texts.every((r) => r.input.startsWith(`input c `) && r.output.startsWith(`output c `)));
    });
  }

  it('loses nothing when two processes record 500 runs each at the same time', async function () {
    this.timeout(120_000);
    const children = ['a', 'b'].map((label) =>
      spawn('node', [RECORDER, dir, '500', label], { stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    const outputs = await Promise.all(children.map((c) => readLines(c, (l) => l.includes('done'))));
    await Promise.all(children.map(exited));
    const roles = outputs.map((l) => l.find((x) => x.startsWith('ready')));
    assert.deepEqual([...roles].sort(), ['ready owner', 'ready reader'], 'one owner, one inbox writer');
    const ids = outputs.flatMap((l) => l.filter((x) => x.startsWith('r-')));
    assert.equal(ids.length, 1000);
    const p = await LearningPipeline.open(dir, quiet);
    assert.equal(p.getStats().totals.runs, 1000);
    await p.close();
    const saved = savedRuns(dir);
    assert.equal(saved.ids.size, 1000);
    assert.deepEqual(
      ids.filter((id) => !saved.ids.has(id)),
      [],
    );
  });

  it('lets a second pipeline on the same workspace record through the inbox, and the owner ingests it', async () => {
    const owner = await LearningPipeline.open(dir, quiet);
    const other = await LearningPipeline.open(dir, quiet);
    assert.equal(owner.isOwner, true);
    assert.equal(other.isOwner, false);
    const { id } = await other.recordRun('t', 'm', 'default', run(1), 'fixer');
    assert.equal(owner.getStats().totals.runs, 0);
    let changes = 0;
    owner.onDidChange(() => changes++);
    assert.equal(await owner.ingestInbox(), 1);
    assert.equal(changes > 0, true);
    assert.equal(owner.getStats().totals.byRole.fixer, 1);
    assert.equal(owner.getStats().recentRuns[0]!.id, id);
    await other.close();
    await owner.close();
    assert.equal(savedRuns(dir).ids.has(id), true);
  });

  it('hands the database to a waiting process when its owner closes, losing neither side’s runs', async () => {
    const first = await LearningPipeline.open(dir, quiet);
    const second = await LearningPipeline.open(dir, quiet);
    const a = await first.recordRun('t', 'm', 'default', run(1));
    const b = await second.recordRun('t', 'm', 'default', run(2));
    await first.close();

    await second.ingestInbox();

    assert.equal(second.isOwner, true);
    assert.equal(second.getStats().totals.runs, 2);
    const c = await second.recordRun('t', 'm', 'default', run(3));
    await second.close();
    const { ids } = savedRuns(dir);
    assert.deepEqual([...ids].sort(), [a.id, b.id, c.id].sort());
    assert.deepEqual(fs.readdirSync(path.join(dir, '.agent', 'inbox')), []);
  });

  it('shows a waiting process what the owner saved', async () => {
    const owner = await LearningPipeline.open(dir, quiet);
    const reader = await LearningPipeline.open(dir, quiet);
    await owner.recordRun('t', 'm', 'default', run(1));
    await owner.recordFeedback(owner.lastRunId()!, 'reject');
    assert.equal(reader.getStats().totals.runs, 0);
    await owner.flush();
    // The journal is gone with the save: only the reloaded file can tell the reader about the run.
    assert.deepEqual(journalsWithEntries(path.join(dir, '.agent', 'inbox')), []);

    await reader.ingestInbox();

    assert.equal(reader.isOwner, false);
    assert.equal(reader.getStats().totals.runs, 1);
    assert.equal(reader.getStats().recentRuns[0]!.human, 'reject');
    await reader.close();
    await owner.close();
  });

  it('leaves auto-export to the owner, so two windows never both export', async () => {
    fs.mkdirSync(path.join(dir, '.agent'), { recursive: true });
    fs.writeFileSync(path.join(dir, '.agent', 'learning-config.json'), '{"autoExport":{"minRuns":3}}');
    const ownerLogs: string[] = [];
    const owner = await LearningPipeline.open(dir, { ...quiet, log: (l) => ownerLogs.push(l) });
    const other = await LearningPipeline.open(dir, quiet);
    for (let i = 0; i < 3; i++) await other.recordRun('t', 'm', 'default', run(i));
    assert.equal(fs.existsSync(path.join(dir, '.agent', 'sft', 'coder_sft.jsonl')), false);

    await owner.ingestInbox();

    assert.ok(
      ownerLogs.includes('✅ Exported 3 coder examples to .agent/sft/coder_sft.jsonl'),
      ownerLogs.join('\n'),
    );
    await other.close();
    await owner.close();
  });

  it('averages cost over the runs that reported one', async () => {
    const p = await LearningPipeline.open(dir, quiet);
    await p.recordRun('t', 'm', 'default', { ...run(1), costTokens: 1000 });
    await p.recordRun('t', 'm', 'default', run(2));
    assert.equal(p.getStats().modelPerformance[0]!.avg_cost, 1000);
    await p.close();
  });

  it('ingests inbox lines an agent wrote itself, skips invalid ones with a located message, and never duplicates on replay', async () => {
    const inbox = path.join(dir, '.agent', 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const entry = {
      type: 'run',
      taskSlug: 't',
      modelId: 'm',
      promptId: 'default',
      role: 'judge',
      result: run(1),
    };
    fs.writeFileSync(
      path.join(inbox, 'my-agent.jsonl'),
      [
        JSON.stringify(entry),
        '{not json',
        JSON.stringify({ ...entry, result: { input: 'x' } }),
        JSON.stringify({ ...entry, result: run(2) }),
        '',
      ].join('\n') + JSON.stringify({ ...entry, result: run(3) }), // no trailing newline: not complete yet
    );
    const logs: string[] = [];
    const p = await LearningPipeline.open(dir, { ...quiet, log: (l) => logs.push(l) });
    assert.equal(p.getStats().totals.runs, 2);
    assert.equal(
      logs.some((l) => l.includes('inbox/my-agent.jsonl line 2') && l.includes('not valid JSON')),
      true,
    );
    assert.equal(
      logs.some((l) => l.includes('line 3') && l.includes('result.output')),
      true,
    );
    // The agent finishes its last line later.
    fs.appendFileSync(path.join(inbox, 'my-agent.jsonl'), '\n');
    assert.equal(await p.ingestInbox(), 1);
    assert.equal(p.getStats().totals.runs, 3);
    await p.close();
    const again = await LearningPipeline.open(dir, quiet);
    assert.equal(again.getStats().totals.runs, 3);
    await again.close();
  });

  it('never deletes a file outside the inbox, whatever the saved progress says', async () => {
    const first = await LearningPipeline.open(dir, quiet);
    await first.recordRun('t', 'm', 'default', run(1));
    await first.close();
    const victim = path.join(dir, 'victim.txt');
    fs.writeFileSync(victim, 'keep me');
    const st = fs.statSync(victim);
    const db = new Database(path.join(dir, '.agent', 'experience.db'));
    db.prepare('INSERT INTO inbox_progress (file, offset, ino, birth) VALUES (?, ?, ?, ?)').run(
      '../../victim.txt',
      st.size,
      st.ino,
      st.birthtimeMs,
    );
    db.close();

    const p = await LearningPipeline.open(dir, quiet);
    await p.recordRun('t', 'm', 'default', run(2));
    await p.close();

    assert.equal(fs.readFileSync(victim, 'utf8'), 'keep me');
  });

  it('reads a new file under a reused name as new, even with the same lines', async () => {
    const inbox = path.join(dir, '.agent', 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const line =
      JSON.stringify({ type: 'run', taskSlug: 't', modelId: 'm', promptId: 'default', result: run(1) }) +
      '\n';
    fs.writeFileSync(path.join(inbox, 'agent.jsonl'), line);
    const p = await LearningPipeline.open(dir, quiet);
    assert.equal(p.getStats().totals.runs, 1);

    fs.rmSync(path.join(inbox, 'agent.jsonl'));
    fs.writeFileSync(path.join(inbox, 'agent.jsonl'), line);
    await p.ingestInbox();

    assert.equal(p.getStats().totals.runs, 2);
    await p.close();
  });

  it('reads a rewritten (shorter) file again from its start', async () => {
    const inbox = path.join(dir, '.agent', 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const entry = (i: number) =>
      JSON.stringify({ type: 'run', taskSlug: `t${i}`, modelId: 'm', promptId: 'default', result: run(i) }) +
      '\n';
    const file = path.join(inbox, 'agent.jsonl');
    fs.writeFileSync(file, entry(1) + entry(2));
    const logs: string[] = [];
    const p = await LearningPipeline.open(dir, { ...quiet, log: (l) => logs.push(l) });

    fs.truncateSync(file, 0);
    fs.appendFileSync(file, entry(3));
    await p.ingestInbox();

    assert.deepEqual(
      p
        .getStats()
        .recentRuns.map((r) => r.taskSlug)
        .sort(),
      ['t1', 't2', 't3'],
    );
    assert.ok(logs.some((l) => l.includes('agent.jsonl was replaced or rewritten')));
    await p.close();
  });

  it('takes a last line without a newline once its writer is gone, and removes the file after saving', async () => {
    const inbox = path.join(dir, '.agent', 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const file = path.join(inbox, 'agent.jsonl');
    fs.writeFileSync(
      file,
      JSON.stringify({ type: 'run', taskSlug: 'last', modelId: 'm', promptId: 'default', result: run(1) }),
    );
    const longAgo = new Date(Date.now() - 10 * 60_000);
    fs.utimesSync(file, longAgo, longAgo); // an agent's file untouched for ten minutes: its writer is done

    const p = await LearningPipeline.open(dir, quiet);

    assert.deepEqual(
      p.getStats().recentRuns.map((r) => r.taskSlug),
      ['last'],
    );
    await p.close();
    assert.equal(fs.existsSync(file), false);
  });

  it('removes journals that dead writers left empty', async () => {
    const inbox = path.join(dir, '.agent', 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const dead = spawn('node', ['-e', '0']);
    await exited(dead);
    const host = os
      .hostname()
      .replace(/[^A-Za-z0-9.]/g, '_')
      .slice(0, 64);
    const journal = path.join(inbox, `0000000000001-${host}-${dead.pid}-0123abcd.jsonl`);
    fs.writeFileSync(journal, Buffer.alloc(65536)); // preallocated, then killed before its first entry

    const p = await LearningPipeline.open(dir, quiet);
    await p.recordRun('t', 'm', 'default', run(1));
    await p.close();

    assert.deepEqual(fs.readdirSync(inbox), []);
  });

  it('applies feedback written to the inbox before its run was ingested', async () => {
    const inbox = path.join(dir, '.agent', 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    fs.writeFileSync(
      path.join(inbox, '1-feedback.jsonl'),
      JSON.stringify({ type: 'feedback', runId: 'agent-run-1', verdict: 'reject', at: 10 }) + '\n',
    );
    fs.writeFileSync(
      path.join(inbox, '2-run.jsonl'),
      JSON.stringify({
        type: 'run',
        id: 'agent-run-1',
        createdAt: 5,
        taskSlug: 't',
        modelId: 'm',
        promptId: 'default',
        result: run(1),
      }) + '\n',
    );
    const p = await LearningPipeline.open(dir, quiet);
    const [r] = p.getStats().recentRuns;
    assert.equal(r!.human, 'reject');
    assert.equal(r!.reward, 0.5); // compile 1, human 0, equal weights
    await p.close();
  });

  it('keeps a corrupt database aside and starts fresh', async () => {
    const agent = path.join(dir, '.agent');
    fs.mkdirSync(agent, { recursive: true });
    const garbage = Buffer.from('this is not a database '.repeat(100));
    fs.writeFileSync(path.join(agent, 'experience.db'), garbage);
    const logs: string[] = [];
    const p = await LearningPipeline.open(dir, { ...quiet, log: (l) => logs.push(l) });
    const [problem] = p.problems();
    assert.ok(problem instanceof CorruptDatabaseError);
    assert.match(problem.message, /kept aside as .*experience\.db\.corrupt-/);
    const aside = fs.readdirSync(agent).filter((n) => n.startsWith('experience.db.corrupt-'));
    assert.equal(aside.length, 1);
    assert.deepEqual(fs.readFileSync(path.join(agent, aside[0]!)), garbage);
    await p.recordRun('t', 'm', 'default', run(1));
    await p.close();
    assert.equal(savedRuns(dir).ids.size, 1);
    assert.equal(
      logs.some((l) => l.includes('kept aside')),
      true,
    );
  });

  it('keeps a foreign SQLite file aside instead of writing into it', async () => {
    const agent = path.join(dir, '.agent');
    fs.mkdirSync(agent, { recursive: true });
    const foreign = new Database(path.join(agent, 'experience.db'));
    foreign.exec('CREATE TABLE customers (name TEXT); INSERT INTO customers VALUES (1)');
    foreign.close();
    const before = fs.readFileSync(path.join(agent, 'experience.db'));
    const p = await LearningPipeline.open(dir, quiet);
    assert.ok(p.problems()[0] instanceof CorruptDatabaseError);
    await p.close();
    const aside = fs.readdirSync(agent).find((n) => n.startsWith('experience.db.corrupt-'))!;
    assert.deepEqual(fs.readFileSync(path.join(agent, aside)), before);
  });

  /** Overwrites the root page of table runs in the saved file with 0xff bytes; returns the file's new bytes. */
  function damageRunsRoot(file: string): Buffer {
    const db = new Database(file, { readonly: true });
    const root = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").pluck().get() as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.close();
    const damaged = fs.readFileSync(file);
    damaged.fill(0xff, (root - 1) * pageSize, root * pageSize);
    fs.writeFileSync(file, damaged);
    return damaged;
  }

  it('writes experience.db.sum with each save; a file that no longer matches it is checked and kept aside when corrupt', async () => {
    const agent = path.join(dir, '.agent');
    const file = path.join(agent, 'experience.db');
    const sumOf = (bytes: Buffer) => ({ size: bytes.length, crc32: zlib.crc32(bytes) });
    let p = await LearningPipeline.open(dir, quiet);
    for (let i = 0; i < 30; i++) await p.recordRun('t', 'm', 'default', run(1));
    await p.close();
    assert.deepEqual(JSON.parse(fs.readFileSync(`${file}.sum`, 'utf8')), sumOf(fs.readFileSync(file)));

    // A file from before sums (or one another SQLite tool wrote): checked at open, then summed by the owner.
    fs.rmSync(`${file}.sum`);
    p = await LearningPipeline.open(dir, quiet);
    assert.equal(p.getStats().totals.runs, 30);
    assert.deepEqual(p.problems(), []);
    await p.close();
    assert.deepEqual(JSON.parse(fs.readFileSync(`${file}.sum`, 'utf8')), sumOf(fs.readFileSync(file)));

    // Damaged since: the sum no longer matches, so the check runs and finds it.
    const damaged = damageRunsRoot(file);
    p = await LearningPipeline.open(dir, quiet);
    assert.ok(p.problems()[0] instanceof CorruptDatabaseError);
    await p.close();
    const aside = fs.readdirSync(agent).find((n) => n.startsWith('experience.db.corrupt-'))!;
    assert.deepEqual(fs.readFileSync(path.join(agent, aside)), damaged);
  });

  it('sums the file on disk at open, not the database its open migrated (sql.js keeps the read bytes as its file)', async () => {
    const agent = path.join(dir, '.agent');
    const file = path.join(agent, 'experience.db');
    let p = await LearningPipeline.open(dir, quiet);
    for (let i = 0; i < 30; i++) await p.recordRun('t', 'm', 'default', run(1));
    await p.close();
    // As version 3 left it (no table of changes yet), with no sum: the open migrates it in memory and saves later.
    const db = new Database(file);
    db.exec('DROP TABLE run_changes; DROP TABLE run_change_refs; PRAGMA user_version = 3');
    db.close();
    fs.rmSync(`${file}.sum`);
    const onDisk = fs.readFileSync(file);

    p = await LearningPipeline.open(dir, quiet);
    const sum = JSON.parse(fs.readFileSync(`${file}.sum`, 'utf8')) as unknown;
    await p.close();

    assert.deepEqual(sum, { size: onDisk.length, crc32: zlib.crc32(onDisk) });
  });

  it('checks a database whose sum matches when the workspace is not trusted (a cloned .agent/ may ship both)', async () => {
    const agent = path.join(dir, '.agent');
    const file = path.join(agent, 'experience.db');
    const p = await LearningPipeline.open(dir, quiet);
    for (let i = 0; i < 30; i++) await p.recordRun('t', 'm', 'default', run(1));
    await p.close();
    // Damaged, with a sum made to match it.
    const damaged = damageRunsRoot(file);
    fs.writeFileSync(`${file}.sum`, JSON.stringify({ size: damaged.length, crc32: zlib.crc32(damaged) }));

    const untrusted = await LearningPipeline.open(dir, { ...quiet, trusted: () => false });

    assert.ok(untrusted.problems()[0] instanceof CorruptDatabaseError, 'checked, found damaged, kept aside');
    await untrusted.close();
    const aside = fs.readdirSync(agent).find((n) => n.startsWith('experience.db.corrupt-'))!;
    assert.deepEqual(fs.readFileSync(path.join(agent, aside)), damaged);
  });

  it('neither follows a link at experience.db.sum nor waits on a FIFO there, and replaces them with its sum', async function () {
    this.timeout(60_000);
    const agent = path.join(dir, '.agent');
    const sumFile = path.join(agent, 'experience.db.sum');
    fs.mkdirSync(agent, { recursive: true });
    const outside = path.join(dir, 'outside.txt');
    fs.writeFileSync(outside, 'not yours\n');
    fs.symlinkSync(outside, sumFile);
    let p = await LearningPipeline.open(dir, quiet);
    await p.recordRun('t', 'm', 'default', run(1));
    await p.close();
    assert.equal(fs.readFileSync(outside, 'utf8'), 'not yours\n', 'the link target is untouched');
    assert.equal(fs.lstatSync(sumFile).isFile(), true);

    fs.rmSync(sumFile);
    execFileSync('mkfifo', [sumFile]);
    // In a process of its own, as a FIFO opened the plain way would hang it for good.
    const child = spawn('node', [RECORDER, dir, '2', 'f'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const limit = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const lines = await readLines(child, () => false).finally(() => clearTimeout(limit));
    assert.equal(child.signalCode, null, 'the recorder finished instead of hanging');
    assert.equal(lines.at(-1), 'done');
    assert.equal(fs.lstatSync(sumFile).isFile(), true);
    p = await LearningPipeline.open(dir, quiet);
    assert.equal(p.getStats().totals.runs, 3);
    await p.close();
  });

  it('neither follows a link at experience.db nor waits on a FIFO there: the open says what is there', async function () {
    this.timeout(60_000);
    const agent = path.join(dir, '.agent');
    const dbFile = path.join(agent, 'experience.db');
    fs.mkdirSync(agent, { recursive: true });
    // In a process of its own, as a FIFO opened the plain way would hang it for good.
    const open = () =>
      spawnSync(
        'node',
        [
          '-e',
          `require(${JSON.stringify(path.join(ROOT, 'dist/core.js'))}).LearningPipeline.open(process.argv[1], ` +
            `{ pollIntervalMs: 0, log() {} }).then(() => console.log('opened'), (e) => { console.log(e.message); ` +
            'process.exit(3); })',
          dir,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );

    const outside = path.join(dir, 'elsewhere.db');
    fs.writeFileSync(outside, 'not a database of this workspace\n');
    fs.symlinkSync(outside, dbFile);
    const linked = open();
    assert.equal(linked.status, 3, linked.stdout + linked.stderr);
    assert.match(linked.stdout, /experience\.db is a symbolic link, not a file; it was left as it is/);
    assert.equal(
      fs.readFileSync(outside, 'utf8'),
      'not a database of this workspace\n',
      'the link target is untouched',
    );
    assert.equal(fs.lstatSync(dbFile).isSymbolicLink(), true);

    fs.rmSync(dbFile);
    execFileSync('mkfifo', [dbFile]);
    const fifo = open();
    assert.equal(fifo.signal, null, 'the open finished instead of hanging');
    assert.equal(fifo.status, 3, fifo.stdout + fifo.stderr);
    assert.match(fifo.stdout, /experience\.db is a FIFO \(named pipe\), not a file/);
  });

  it('refuses a database from a newer schema version and leaves it untouched', async () => {
    const p = await LearningPipeline.open(dir, quiet);
    await p.recordRun('t', 'm', 'default', run(1));
    await p.close();
    const file = path.join(dir, '.agent', 'experience.db');
    const db = new Database(file);
    db.pragma('user_version = 99');
    db.close();
    const before = fs.readFileSync(file);
    await assert.rejects(LearningPipeline.open(dir, quiet), (err: unknown) => {
      assert.ok(err instanceof NewerSchemaError);
      assert.match(err.message, /schema version 99/);
      return true;
    });
    assert.deepEqual(fs.readFileSync(file), before);
    assert.equal(fs.existsSync(`${file}.lock`), false, 'the lock is released');
  });

  it("writes a file any SQLite tool reads, with each run's texts in .agent/texts/ where the file says", async () => {
    const p = await LearningPipeline.open(dir, quiet);
    const { id } = await p.recordRun('task', 'model', 'default', {
      input: 'in',
      output: 'out',
      tests: { passed: 1, total: 2 },
      costTokens: 12,
      durationMs: 30,
      iterations: 2,
      complexity: 'small',
    });
    await p.close();
    const db = new Database(path.join(dir, '.agent', 'experience.db'), { readonly: true });
    assert.equal(
      db.prepare('SELECT count(*) FROM run_texts').pluck().get(),
      0,
      'no texts left in the database',
    );
    db.close();
    const row = savedRunsWithTexts(path.join(dir, '.agent')).find((r) => r.id === id)!;
    assert.equal(row.input, 'in');
    assert.equal(row.output, 'out');
    assert.equal(row.tests_passed, 1);
    assert.equal(row.cost_tokens, 12);
    assert.equal(row.complexity, 'small');
    assert.equal(row.reward, 0.5);
  });
  describe('hostile and broken inbox and lock files', () => {
    let inbox: string;
    let logs: string[];
    const logged = { ...quiet, log: (l: string) => logs.push(l) };

    beforeEach(() => {
      inbox = path.join(dir, '.agent', 'inbox');
      fs.mkdirSync(inbox, { recursive: true });
      logs = [];
    });

    it('records, ingests and saves with a FIFO and a directory named like inbox files, which it leaves alone', async function () {
      this.timeout(60_000);
      execFileSync('mkfifo', [path.join(inbox, 'pipe.jsonl')]);
      fs.mkdirSync(path.join(inbox, 'folder.jsonl'));
      fs.writeFileSync(path.join(inbox, 'agent.jsonl'), agentRun('agent-1') + '\n');

      // In a process of its own: opening the FIFO the plain way hung it for good.
      const child = spawn('node', [RECORDER, dir, '2', 'f'], { stdio: ['ignore', 'pipe', 'pipe'] });
      const limit = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const lines = await readLines(child, () => false).finally(() => clearTimeout(limit));

      assert.equal(child.signalCode, null, 'the recorder finished instead of hanging');
      assert.equal(lines.at(-1), 'done');
      const recorded = lines.filter((l) => l.startsWith('r-'));
      assert.deepEqual([...savedRuns(dir).ids].sort(), ['agent-1', ...recorded].sort());
      assert.equal(
        fs.existsSync(path.join(dir, '.agent', 'experience.db.lock')),
        false,
        'the lock is released',
      );
      assert.equal(fs.lstatSync(path.join(inbox, 'pipe.jsonl')).isFIFO(), true);
      assert.equal(fs.lstatSync(path.join(inbox, 'folder.jsonl')).isDirectory(), true);
    });

    it('keeps ingesting, saving and closing when a directory or a link appears in the inbox, reporting each once', async () => {
      const p = await LearningPipeline.open(dir, logged);
      const { id } = await p.recordRun('t', 'm', 'default', run(1));
      fs.mkdirSync(path.join(inbox, 'x.jsonl'));
      const outside = path.join(dir, 'outside.jsonl');
      fs.writeFileSync(outside, agentRun('from-outside') + '\n');
      finished(outside);
      fs.symlinkSync(outside, path.join(inbox, 'link.jsonl'));
      fs.writeFileSync(path.join(inbox, 'agent.jsonl'), agentRun('agent-1') + '\n');

      assert.equal(await p.ingestInbox(), 1);
      assert.equal(await p.ingestInbox(), 0);
      await p.close();

      assert.deepEqual([...savedRuns(dir).ids].sort(), ['agent-1', id].sort());
      assert.equal(
        fs.existsSync(path.join(dir, '.agent', 'experience.db.lock')),
        false,
        'the lock is released',
      );
      assert.equal(
        fs.readFileSync(outside, 'utf8'),
        agentRun('from-outside') + '\n',
        'the link target is untouched',
      );
      assert.deepEqual(
        logs.filter((l) => l.includes('Skipped inbox/x.jsonl') || l.includes('Skipped inbox/link.jsonl')),
        [
          '⚠️ Skipped inbox/link.jsonl: it is a symbolic link, not a file. Only files are read from .agent/inbox/; move it elsewhere.',
          '⚠️ Skipped inbox/x.jsonl: it is a directory, not a file. Only files are read from .agent/inbox/; move it elsewhere.',
        ],
      );
    });

    it("loses no line of an agent's file after a zero byte, and says which line it skipped", async () => {
      const file = path.join(inbox, 'agent.jsonl');
      fs.writeFileSync(
        file,
        agentRun('a-1') + '\n' + agentRun('a-2').replace('a-2', 'a-\u0000-2') + '\n' + agentRun('a-3') + '\n',
      );
      finished(file);

      const p = await LearningPipeline.open(dir, logged);
      await p.close();

      assert.deepEqual([...savedRuns(dir).ids].sort(), ['a-1', 'a-3']);
      assert.ok(
        logs.includes('⚠️ Skipped inbox/agent.jsonl line 2: the line contains a zero (NUL) byte'),
        logs.join('\n'),
      );
    });

    it('loses no line of a file an agent rewrote in place with longer content', async () => {
      const file = path.join(inbox, 'agent.jsonl');
      fs.writeFileSync(file, agentRun('a-1') + '\n');
      const p = await LearningPipeline.open(dir, logged);

      fs.writeFileSync(file, agentRun('a-2-with-a-longer-id') + '\n' + agentRun('a-3') + '\n');
      await p.ingestInbox();
      await p.close();

      assert.deepEqual([...savedRuns(dir).ids].sort(), ['a-1', 'a-2-with-a-longer-id', 'a-3']);
      assert.ok(logs.some((l) => l.includes('agent.jsonl was replaced or rewritten')));
    });

    it('names the line of a skipped entry by its number also after a restart', async () => {
      const file = path.join(inbox, 'agent.jsonl');
      fs.writeFileSync(file, agentRun('a-1') + '\n' + agentRun('a-2') + '\n');
      await (await LearningPipeline.open(dir, quiet)).close(); // saves how far the file was read

      fs.appendFileSync(file, agentRun('a-3', 't', { input: 5 }) + '\n');
      const p = await LearningPipeline.open(dir, logged);
      await p.close();

      assert.ok(
        logs.some((l) => l.startsWith('⚠️ Skipped inbox/agent.jsonl line 3: ')),
        logs.join('\n'),
      );
    });

    it('skips a line over the length limit with its number and reads the lines after it', async () => {
      const file = path.join(inbox, 'agent.jsonl');
      const long = agentRun('a-2', 't', { input: 'x'.repeat(5_000) });
      fs.writeFileSync(file, [agentRun('a-1'), long, agentRun('a-3'), agentRun('a-4'), ''].join('\n'));
      const ds = await DurableStore.open({
        agentDir: path.join(dir, '.agent'),
        now: Date.now,
        log: (l) => logs.push(l),
        reward: () => 0,
        pollIntervalMs: 0,
        maxTextBytes: () => 1024 * 1024,
        inboxLimits: { maxLineBytes: 1_000, batchBytes: 1 },
      });

      assert.deepEqual(
        ['a-1', 'a-2', 'a-3', 'a-4'].map((id) => ds.db.getRun(id) !== undefined),
        [true, false, true, true],
      );
      await ds.close();
      assert.ok(
        logs.includes(
          `⚠️ Skipped inbox/agent.jsonl line 2: the line is ${long.length} bytes long, more than the 1000 bytes one entry may have`,
        ),
        logs.join('\n'),
      );
    });

    it('becomes the owner past a dangling link at the lock path, and says so', async () => {
      const lock = path.join(dir, '.agent', 'experience.db.lock');
      fs.symlinkSync(path.join(dir, 'nowhere', 'x.lock'), lock);

      const p = await LearningPipeline.open(dir, logged);
      assert.equal(p.isOwner, true);
      const { id } = await p.recordRun('t', 'm', 'default', run(1));
      await p.close();

      assert.deepEqual([...savedRuns(dir).ids], [id]);
      assert.equal(fs.existsSync(path.join(dir, 'nowhere')), false);
      assert.ok(logs.some((l) => l.includes('was a symbolic link to ')));
    });
  });
});

describe('durable store: never acknowledges a run it did not keep', function () {
  let dir: string;
  let agentDir: string;
  let logs: string[];
  let opened: DurableStore[];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-durable-'));
    agentDir = path.join(dir, '.agent');
    logs = [];
    opened = [];
  });

  afterEach(async () => {
    for (const ds of opened) await ds.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function openStore(options: Partial<DurableStoreOptions> = {}): Promise<DurableStore> {
    const ds = await openDurableStore(agentDir, (l) => logs.push(l), options);
    opened.push(ds);
    return ds;
  }

  let n = 0;
  function validRun(fields: Partial<ValidRun> = {}, output = `output ${n}`): ValidRun {
    n++;
    return {
      id: `run-${n}`,
      createdAt: 1000 + n,
      taskSlug: 't',
      modelId: 'm',
      promptId: 'default',
      role: 'coder',
      result: { input: `input ${n}`, output, compile: true },
      ...fields,
    };
  }

  /** A run with names as long as they may be (200 characters), which is what grows a database without texts. */
  function longNamedRun(): ValidRun {
    const r = validRun();
    const long = (s: string) => `${s}-${n}-`.padEnd(200, 'x');
    return {
      ...r,
      id: long('run'),
      taskSlug: long('task'),
      modelId: long('model'),
      promptId: long('prompt'),
    };
  }

  function journalled(): string {
    const inbox = path.join(agentDir, 'inbox');
    return fs
      .readdirSync(inbox)
      .map((name) => fs.readFileSync(path.join(inbox, name), 'utf8'))
      .join('')
      .replace(/\0+/g, ''); // journals are grown ahead of their data with zeros
  }

  /** `read` of the saved experience.db, opened read-only by an independent SQLite. */
  function readSaved<T>(read: (db: Database.Database) => T): T {
    const db = new Database(path.join(agentDir, 'experience.db'), { readonly: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  }

  describe('a database from before 8 KiB pages', () => {
    /** Rewrites the saved experience.db in 4 KiB pages, as a release before 8 KiB made it; returns its size. */
    function inOldPages(): number {
      const file = path.join(agentDir, 'experience.db');
      const db = new Database(file);
      db.pragma('page_size = 4096');
      db.exec('VACUUM');
      db.close();
      fs.rmSync(path.join(agentDir, 'experience.db.sum'), { force: true });
      return fs.statSync(file).size;
    }
    const pageSize = () => readSaved((db) => db.pragma('page_size', { simple: true }));

    it('moves to them at open while small, with every run and text kept', async () => {
      const first = await openStore();
      for (let i = 0; i < 20; i++) first.record(validRun());
      await first.close();
      const before = savedRunsWithTexts(agentDir);
      inOldPages();
      assert.equal(pageSize(), 4096);

      const ds = await openStore();
      await ds.close();

      assert.equal(pageSize(), 8192);
      assert.deepEqual(savedRunsWithTexts(agentDir), before);
    });

    it('keeps its pages when it is larger than a quick rebuild allows', async () => {
      const first = await openStore();
      // Names stay in the database (texts leave it): 3,000 long-named runs make well over 1 MiB.
      for (let i = 0; i < 3_000; i++) first.record(longNamedRun());
      await first.close();
      assert.ok(inOldPages() > 1024 * 1024);

      const ds = await openStore();
      ds.record(validRun());
      await ds.close();

      assert.equal(pageSize(), 4096);
      assert.equal(savedRunsWithTexts(agentDir).length, 3_001);
    });
  });

  describe('indexes no query needs any more', () => {
    const indexes = () =>
      readSaved((db) => ({
        names: (
          db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'runs'").all() as {
            name: string;
          }[]
        ).map((r) => r.name),
        version: db.pragma('user_version', { simple: true }),
      }));

    it('are dropped by the owner at open, with every run and text kept and the schema version as it was', async () => {
      const first = await openStore();
      for (let i = 0; i < 300; i++) first.record(validRun());
      await first.close();
      // The file as a release before this one left it: the two indexes of the first schema back in.
      const db = new Database(path.join(agentDir, 'experience.db'));
      db.exec(
        'CREATE INDEX IF NOT EXISTS runs_prompt ON runs (prompt_id, pk); CREATE INDEX IF NOT EXISTS runs_model ON runs (model_id, pk)',
      );
      db.close();
      fs.rmSync(path.join(agentDir, 'experience.db.sum'), { force: true });
      const before = savedRunsWithTexts(agentDir);
      const old = indexes();
      assert.ok(old.names.includes('runs_prompt') && old.names.includes('runs_model'), old.names.join(', '));

      const ds = await openStore();
      ds.record(validRun());
      await ds.close();

      const now = indexes();
      assert.deepEqual(
        now.names.sort(),
        old.names.filter((n) => n !== 'runs_prompt' && n !== 'runs_model').sort(),
      );
      // Not a schema version: a release that has them in its schema opens the file as before.
      assert.equal(now.version, old.version);
      const after = savedRunsWithTexts(agentDir);
      assert.equal(after.length, before.length + 1);
      assert.deepEqual(after.slice(0, before.length), before);
    });

    it('are not in a new database once its owner saved it', async () => {
      const ds = await openStore();
      ds.record(validRun());
      await ds.close();
      const names = indexes().names;
      assert.ok(!names.includes('runs_prompt') && !names.includes('runs_model'), names.join(', '));
    });
  });

  describe('recordShared (group commit)', () => {
    let held: HeldFdatasync;
    beforeEach(() => {
      fs.mkdirSync(path.join(agentDir, 'inbox'), { recursive: true });
      const inbox = fs.realpathSync(path.join(agentDir, 'inbox'));
      held = holdFdatasync((file) => file.startsWith(inbox));
    });
    afterEach(() => held.restore());
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

    it('acknowledges the same run sent again only once the first one is on disk', async () => {
      const ds = await openStore();
      const r = validRun();
      const first = ds.recordShared(r);
      const again = ds.recordShared(r);
      assert.equal(again.record.id, r.id, 'the same run, stored once');
      let acknowledged = false;
      void again.durable.then(() => (acknowledged = true));
      await turn();
      assert.equal(held.syncs.length, 1);
      assert.equal(acknowledged, false, 'not before the fdatasync of its first write ended');
      held.syncs[0]!.finish();
      await Promise.all([first.durable, again.durable]);
      // Written again, so that its own fdatasync vouches for it (a failed one before would not); stored once.
      assert.equal(journalled().split(r.id).length - 1, 2, 'journalled at each send');
      assert.deepEqual(
        ds.db.recentRuns(10).map((x) => x.id),
        [r.id],
        'stored once',
      );
    });

    it('keeps a run closeSync overtook before its fdatasync ran: saved, and acknowledged once that ends', async () => {
      const ds = await openStore();
      const r = validRun();
      const { durable } = ds.recordShared(r);
      ds.closeSync(); // saves, and closes the journal the run was written to, in the same turn
      assert.ok(savedRuns(dir).ids.has(r.id), 'in the file closeSync saved');
      await turn();
      assert.equal(held.syncs.length, 1, "the journal's fdatasync still runs, on its still-open descriptor");
      held.syncs[0]!.finish();
      await durable;
    });
  });

  it("never lets a background save's queued rename land on the image closeSync just saved", async () => {
    const ds = await openStore();
    ds.record(validRun());
    const dbFile = path.join(agentDir, 'experience.db');
    const realRename = fs.promises.rename;
    // The module object itself (the namespace import is read-only): the store's modules read it at each call.
    const nodeFs = createRequire(__filename)('node:fs') as { writeFileSync: typeof fs.writeFileSync };
    const realWrite = nodeFs.writeFileSync;
    let late: ReturnType<typeof validRun> | undefined;
    // The background save passed its generation check, and its rename waits in a busy thread pool: it lands just as
    // closeSync (the exit hook) finishes its own save, when that writes experience.db.sum.
    fs.promises.rename = (async (from: fs.PathLike, to: fs.PathLike) => {
      if (to !== dbFile || late) return realRename(from, to);
      let queued: Error | undefined;
      nodeFs.writeFileSync = ((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
        if (String(file).endsWith('experience.db.sum') && !queued) {
          try {
            fs.renameSync(from, to);
            queued = new Error('landed');
          } catch (err) {
            queued = err as Error;
          }
        }
        return (realWrite as (...a: unknown[]) => void)(file, ...rest);
      }) as typeof fs.writeFileSync;
      late = validRun();
      ds.record(late); // acknowledged: in the journal
      try {
        ds.closeSync();
      } finally {
        nodeFs.writeFileSync = realWrite;
      }
      if (queued) throw queued;
    }) as typeof fs.promises.rename;
    try {
      await ds.save().catch(() => undefined);
    } finally {
      fs.promises.rename = realRename;
      nodeFs.writeFileSync = realWrite;
    }

    assert.ok(late, 'the background save reached its rename');
    assert.ok(savedRuns(dir).ids.has(late.id), 'the run acknowledged during the save is in the file');
    assert.deepEqual(fs.readdirSync(path.join(agentDir, 'inbox')), []);
  });

  it('saves in closeSync over a background save still being written, which never replaces the newer file', async () => {
    const ds = await openStore();
    for (let i = 0; i < 5; i++) ds.record(validRun());
    const background = ds.save(); // its image is taken now; the write goes on in the background
    const later = validRun();
    ds.record(later);

    ds.closeSync();

    const ids = () => [...savedRuns(dir).ids].sort();
    assert.equal(ids().length, 6, 'the file has every run when closeSync returns');
    await background;
    assert.equal(ids().length, 6, 'the older image did not replace it');
    assert.ok(ids().includes(later.id));
    const texts = savedRunsWithTexts(agentDir);
    assert.deepEqual(
      texts.map((r) => r.input),
      texts.map((r) => `input ${/\d+$/.exec(r.id as string)![0]}`),
      'every run has its own texts, where the file says',
    );
    assert.deepEqual(fs.readdirSync(path.join(agentDir, 'inbox')), [], 'no journal left to replay');
    assert.deepEqual(
      fs.readdirSync(agentDir).filter((name) => name.includes('.tmp-')),
      [],
      'the background save took its temp file away',
    );
    assert.deepEqual(
      logs.filter((l) => l.startsWith('❌')),
      [],
    );
  });

  it('imports a backlog into the file sql.js was given (room for the inbox), and removes it off the event loop once saved', async function () {
    this.timeout(120_000);
    // 2,000 runs with 2 KB texts: ~9 MB of lines, whose rows (the texts go to .agent/texts/) take far less.
    const inbox = path.join(agentDir, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const text = (i: number, what: string) => `${what} ${i} `.repeat(300).slice(0, 2000);
    const lines = Array.from({ length: 2_000 }, (_, i) =>
      JSON.stringify({
        type: 'run',
        id: `backlog-${i}`,
        taskSlug: `task-${i % 50}`,
        modelId: 'm',
        promptId: 'default',
        result: { input: text(i, 'input'), output: text(i, 'output'), compile: true },
      }),
    );
    const backlog = path.join(inbox, 'agent.jsonl');
    fs.writeFileSync(backlog, lines.join('\n') + '\n');
    finished(backlog);
    const least = 128 * 1024; // the least room, made small: the import grows the database past it
    const unlinked = syncUnlinks();
    let ds: DurableStore;
    try {
      ds = await openStore({ leastRoomBytes: least });
    } finally {
      unlinked.stop();
    }
    assert.equal(ds.db.maxPk(), 2_000);
    assert.equal(fs.existsSync(backlog), false, 'the backlog read is removed with the save that holds it');
    assert.deepEqual(
      unlinked.paths,
      [],
      'by an unlink off the event loop (one of gigabytes held it a second)',
    );
    const size = fs.statSync(path.join(agentDir, 'experience.db')).size;
    assert.ok(size > 4 * least, `${size} bytes: grown past the least room`);
    assert.equal(ds.db.imageIsWatched(), true, 'grown into the room the inbox was given, not into a copy');
    ds.close();

    // The next open, with the inbox imported: a quarter of the database, or the least room, as before.
    const again = await openStore({ leastRoomBytes: least });
    for (let i = 0; i < 3_000; i++)
      again.record(validRun({ taskSlug: `a longer task name ${i} `.repeat(4) }));
    assert.equal(again.db.imageIsWatched(), false, 'grown past that room: sql.js copied its file');
  });

  it('lets a save under way take the image before an import writes all over it: its copies on write stay few', async function () {
    this.timeout(120_000);
    const inbox = path.join(agentDir, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    // Runs whose ids (190 characters, most of the image: a save takes it in four slices or more) are in random order;
    // the new ones' ids go through them in order, so that each slice of their import writes blocks of the id index
    // the one before did not.
    const lines = (name: string, count: number, at: (k: number) => number) =>
      Array.from({ length: count }, (_, k) =>
        agentRun(`${at(k).toString(16).padStart(8, '0')}-${name}-${k}-`.padEnd(190, 'x'), `task ${k % 97}`),
      ).join('\n') + '\n';
    const old = path.join(inbox, 'old.jsonl');
    fs.writeFileSync(
      old,
      lines('old', 60_000, (k) => (k * 2654435761) >>> 0),
    );
    finished(old);
    (await openStore()).close();
    /** How often the import applied runs while a save beside it held copies; the runs in the end. */
    const importWhileSaving = async (copiesBytes: number) => {
      const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'al-durable-copy-'));
      try {
        fs.cpSync(agentDir, path.join(workspace, '.agent'), { recursive: true });
        const ds = await openDurableStore(path.join(workspace, '.agent'), (l) => logs.push(l), {
          importCopiesBytes: copiesBytes,
        });
        try {
          ds.record(validRun()); // something to save
          const file = path.join(workspace, '.agent', 'inbox', 'new.jsonl');
          fs.writeFileSync(
            file,
            lines('new', 6_000, (k) => Math.floor((k * 2 ** 32) / 6_000)),
          );
          finished(file);
          // Sampled at each turn: the import applies runs in its slices, the save takes the image in its own.
          let held = 0;
          let pk = ds.db.maxPk();
          let appliedWhileHeld = 0;
          let turnsHeld = 0;
          let busy = true;
          const work = Promise.all([ds.save(), ds.syncSliced()]).finally(() => (busy = false));
          while (busy) {
            const [copies, now] = [ds.db.imageCopiesHeld(), ds.db.maxPk()];
            if (held > 0 && copies > 0 && now > pk) appliedWhileHeld++;
            if (copies > 0) turnsHeld++;
            [held, pk] = [copies, now];
            await new Promise((resolve) => setImmediate(resolve));
          }
          await work;
          return { appliedWhileHeld, turnsHeld, runs: ds.db.maxPk() };
        } finally {
          await ds.close();
        }
      } finally {
        fs.rmSync(workspace, { recursive: true, force: true });
      }
    };
    const free = await importWhileSaving(Number.POSITIVE_INFINITY);
    const bounded = await importWhileSaving(0);
    assert.equal(free.runs, 60_000 + 1 + 6_000);
    assert.equal(bounded.runs, free.runs);
    assert.ok(free.appliedWhileHeld > 0, 'read on: the import wrote while the save held copies');
    assert.ok(bounded.turnsHeld > 0, 'the save held copies while the import ran');
    assert.equal(bounded.appliedWhileHeld, 0, 'the import waited for the save once it held copies');
  });

  it('moves an import’s texts out a few hundred runs at a time: it never holds 2,000 runs’ texts', async function () {
    this.timeout(60_000);
    const ds = await openStore();
    const file = path.join(agentDir, 'inbox', 'backlog.jsonl');
    fs.writeFileSync(
      file,
      Array.from({ length: 3_000 }, (_, k) =>
        agentRun(`backlog-${k}`, `task ${k % 50}`, { input: `input ${k} `.repeat(200) }),
      ).join('\n') + '\n',
    );
    finished(file);
    let turnsHeld = 0;
    let busy = true;
    const work = ds.syncSliced().finally(() => (busy = false));
    while (busy) {
      if (ds.db.textsPendingAtLeast(2_000)) turnsHeld++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await work, 3_000);
    assert.equal(turnsHeld, 0, 'turns with 2,000 runs’ texts or more waiting to be moved');
    assert.ok(ds.db.textsPendingAtLeast(1), 'the last few wait for the save, as before');
  });

  it('keeps an agent’s file read to its end when its writer came back during the save: the image lacks the new runs', async () => {
    const inbox = path.join(agentDir, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const file = path.join(inbox, 'agent.jsonl');
    fs.writeFileSync(file, agentRun('a-1') + '\n'); // its writer still there at the open: the file stays
    const ds = await openStore();
    assert.ok(ds.db.getRun('a-1'));
    finished(file); // and gone now: the next save removes the file
    ds.record(validRun()); // something for the next save to hold (a poll leaves the file to it)
    ds.sync();
    // Between the image and its rename, the agent writes again after its minute away, and a poll reads it.
    const internals = ds as unknown as { beginSave: () => unknown };
    const beginSave = internals.beginSave.bind(ds);
    let taken = false;
    internals.beginSave = () => {
      const save = beginSave();
      taken = true;
      return save;
    };
    const saving = ds.save();
    while (!taken) await new Promise((resolve) => setImmediate(resolve));
    fs.appendFileSync(file, agentRun('a-2') + '\n');
    ds.sync();
    await saving;
    assert.ok(ds.db.getRun('a-2'), 'the poll took the new run');
    assert.equal(
      fs.existsSync(file),
      true,
      'kept: the saved image does not hold a-2, and only the file does',
    );
    ds.close();

    const reopened = await openStore();
    assert.ok(
      reopened.db.getRun('a-1') && reopened.db.getRun('a-2'),
      'both runs, after the close saved them',
    );
    finished(file);
    reopened.record(validRun()); // a save to come: the poll leaves the file to it
    reopened.sync();
    assert.equal(fs.existsSync(file), true);
    await reopened.save();
    assert.equal(fs.existsSync(file), false, 'removed by a save that holds all of it');
  });

  it('removes an agent’s file the saved image holds once its writer’s minute is over, with no save to wait for', async () => {
    const inbox = path.join(agentDir, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const file = path.join(inbox, 'agent.jsonl');
    fs.writeFileSync(file, agentRun('a-1') + '\n'); // written just now: its writer may append
    const ds = await openStore(); // imports and saves it
    const saved = fs.statSync(path.join(agentDir, 'experience.db')).mtimeMs;
    const removal = () => (ds as unknown as { removingRead: Promise<void> | undefined }).removingRead;
    ds.sync();
    await removal();
    assert.equal(fs.existsSync(file), true, 'kept while its writer may append');

    finished(file);
    ds.sync();
    await removal();

    assert.equal(fs.existsSync(file), false, 'removed: the image on disk holds all of it');
    assert.equal(fs.statSync(path.join(agentDir, 'experience.db')).mtimeMs, saved, 'without a save');
    ds.close();
    const reopened = await openStore();
    assert.ok(reopened.db.getRun('a-1'));
    assert.equal(reopened.db.runsPerRole().get('coder'), 1);
    reopened.close();
  });

  it('leaves an agent’s file read at close for the next open’s first poll to remove, not unlinked while closing', async () => {
    const inbox = path.join(agentDir, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const ds = await openStore();
    const file = path.join(inbox, 'agent.jsonl');
    fs.writeFileSync(file, agentRun('a-1') + '\n');
    finished(file);
    ds.close(); // reads it, and saves

    assert.equal(fs.existsSync(file), true, 'left: an unlink of gigabytes held the loop a second');
    const reopened = await openStore();
    reopened.sync();
    await (reopened as unknown as { removingRead: Promise<void> | undefined }).removingRead;
    assert.equal(fs.existsSync(file), false, 'removed: the image holds all of it');
    assert.equal(reopened.db.runsPerRole().get('coder'), 1, 'a-1, once');
    reopened.close();
  });

  it('writes a background save as the database was when it began, while runs are recorded between its slices', async function () {
    this.timeout(120_000);
    // A database of several slices (liveImage.ts takes 1 MiB a turn at this size): runs with names as long as they may be.
    const inbox = path.join(agentDir, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const long = (s: string, i: number) => `${s}-${i}-`.padEnd(200, 'x');
    const lines = Array.from({ length: 8_000 }, (_, i) =>
      JSON.stringify({
        type: 'run',
        id: long('agent-run', i),
        taskSlug: long('task', i),
        modelId: long('model', i % 40),
        promptId: long('prompt', i % 40),
        result: { input: 'i', output: 'o', compile: true },
      }),
    );
    const backlog = path.join(inbox, 'agent.jsonl');
    fs.writeFileSync(backlog, lines.join('\n') + '\n');
    finished(backlog);
    const ds = await openStore();
    await ds.save();
    const dbFile = path.join(agentDir, 'experience.db');
    assert.ok(
      fs.statSync(dbFile).size > 12 * 2 ** 20,
      `${fs.statSync(dbFile).size} bytes: four slices or more`,
    );
    assert.equal(ds.db.imageIsWatched(), true, 'a new database starts from a file of ours, which is watched');

    const recorded: string[] = [];
    const first = validRun();
    ds.record(first);
    recorded.push(first.id);
    let saving = true;
    const background = ds.save().finally(() => (saving = false));
    while (saving) {
      const r = longNamedRun();
      ds.record(r);
      recorded.push(r.id);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await background;

    const { ids, integrity } = savedRuns(dir);
    assert.equal(integrity, 'ok');
    const kept = recorded.filter((id) => ids.has(id)).length;
    assert.ok(
      kept >= 1 && kept < recorded.length - 3,
      `${kept} of the ${recorded.length} runs recorded meanwhile`,
    );
    assert.deepEqual(
      recorded.slice(0, kept).filter((id) => !ids.has(id)),
      [],
      'the file holds the runs recorded before its image was taken, and none after',
    );
    assert.equal(ids.size, 8_000 + kept);
    ds.closeSync();
    assert.equal(savedRuns(dir).ids.size, 8_000 + recorded.length, 'and the close saves the rest');
  });

  it('refuses to save a database it could not read back: the saved file and the journals are kept, and the error says what to do', async () => {
    const limit = 300 * 1024;
    const ds = await openStore({ maxImageBytes: limit });
    ds.record(validRun());
    await ds.save();
    const saved = fs.readFileSync(path.join(agentDir, 'experience.db'));

    // Texts leave the database at each save; names stay in it.
    const big = Array.from({ length: 400 }, () => longNamedRun());
    for (const r of big) ds.record(r);
    await assert.rejects(ds.save(), (err: unknown) => {
      assert.ok(err instanceof DatabaseTooLargeError, String(err));
      assert.ok(err.size > limit);
      assert.match(err.message, /could be read back at/);
      assert.match(err.message, /stay in \.agent\/inbox\//);
      assert.match(err.message, /move experience\.db aside/);
      return true;
    });

    assert.deepEqual(
      fs.readFileSync(path.join(agentDir, 'experience.db')),
      saved,
      'the saved file is untouched',
    );
    for (const r of big) assert.ok(journalled().includes(`"id":"${r.id}"`), `${r.id} is still journalled`);
    await ds.close();
    assert.ok(
      logs.some((l) => l.startsWith('❌ Could not save') && l.includes('Runs stay safe in .agent/inbox/')),
    );

    // With room to save it (as after moving the file aside or raising the limit), nothing was lost.
    const again = await openStore();
    for (const r of [...big]) assert.ok(again.db.getRun(r.id), `${r.id} is back\n${logs.join('\n')}`);
    assert.equal(again.db.maxPk(), 401);
  });

  it('warns as the database grows past half, three quarters and nine tenths of what it can be saved at, once each', async () => {
    const limit = 1024 * 1024;
    const ds = await openStore({ maxImageBytes: limit });
    const warnings = () => logs.filter((l) => l.includes('% of the 1.0 MiB it can be saved at'));

    // Texts leave the database at each save (for .agent/texts/): runs with long names, which stay, make it grow.
    for (let i = 0; i < 80 && warnings().length < 3; i++) {
      for (let j = 0; j < 20; j++) ds.record(longNamedRun());
      await ds.save();
    }
    await ds.save();

    const percents = warnings().map((l) => Number(/, (\d+)% of/.exec(l)![1]));
    assert.equal(percents.length, 3, logs.join('\n'));
    assert.ok(percents[0]! >= 50 && percents[0]! < 75, String(percents));
    assert.ok(percents[1]! >= 75 && percents[1]! < 90, String(percents));
    assert.ok(percents[2]! >= 90 && percents[2]! <= 100, String(percents));
    assert.match(warnings()[0]!, /move experience\.db aside/);
    assert.equal(
      logs.some((l) => l.startsWith('❌')),
      false,
      'warned before any save was refused',
    );
  });

  it('keeps aside a database file larger than it can read, instead of failing to open', async () => {
    const first = await openStore();
    first.record(validRun());
    await first.close();
    opened = [];
    const file = path.join(agentDir, 'experience.db');
    const before = fs.readFileSync(file);

    const ds = await openStore({ maxImageBytes: before.length - 1 });

    const [problem] = ds.problems;
    assert.ok(problem instanceof CorruptDatabaseError, String(problem));
    assert.match(problem.message, /more than the .* it can be read at/);
    assert.deepEqual(fs.readFileSync(problem.movedTo), before);
  });

  it('cuts a text over storage.maxTextBytes to the bound, with a marker and a log line, in the journal too', async () => {
    const ds = await openStore({ maxTextBytes: () => 4096 });
    const r = validRun({}, 'é'.repeat(10_000));

    const record = ds.record(r);

    assert.ok(Buffer.byteLength(record.output) <= 4096);
    assert.match(record.output, /^é+\n…\[truncated by Agent Learning: kept \d+ of 20000 bytes\]$/);
    assert.equal(record.input, r.result.input, 'a text within the bound is kept whole');
    assert.ok(
      logs.some(
        (l) => l.includes(`Run ${r.id}: its output is 19.5 KiB`) && l.includes('storage.maxTextBytes'),
      ),
    );
    assert.ok(journalled().length < 6000, 'the journal holds the cut text, not the whole one');
  });

  it('cuts an agent-written inbox run over the bound too, naming the file and line', async () => {
    const inbox = path.join(agentDir, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    fs.writeFileSync(
      path.join(inbox, 'agent.jsonl'),
      JSON.stringify({
        type: 'run',
        id: 'big',
        taskSlug: 't',
        modelId: 'm',
        promptId: 'default',
        result: { input: 'i'.repeat(50_000), output: 'o' },
      }) + '\n',
    );

    await openStore({ maxTextBytes: () => 2048 });

    assert.ok(
      logs.some((l) => l.includes('inbox/agent.jsonl line 1: its input is 48.8 KiB')),
      logs.join('\n'),
    );
    const { input } = savedRunsWithTexts(agentDir)[0]!;
    assert.ok(Buffer.byteLength(input) <= 2048);
    assert.match(input, /truncated by Agent Learning/);
  });

  it('refuses a run whose reward is not a number, journals nothing and stores nothing', async () => {
    const ds = await openStore({ reward: () => NaN });
    const r = validRun();

    assert.throws(
      () => ds.record(r),
      (err: unknown) => err instanceof LearningError && /was not stored: its reward is NaN/.test(err.message),
    );

    assert.equal(ds.db.getRun(r.id), undefined);
    assert.equal(journalled().includes(r.id), false);
    await ds.close();
    opened = [];
    const again = await openStore();
    assert.equal(again.db.getRun(r.id), undefined, 'no replay brings back a run its caller was told failed');
  });

  it('refuses a verdict whose reward is not a number without journalling it, keeping the run as it was', async () => {
    const weights = defaultConfig().rewardWeights;
    const ds = await openStore({ reward: (r) => (r.human === null ? computeReward(r, weights) : NaN) });
    const r = validRun();
    ds.record(r);

    assert.throws(() => ds.feedback(r.id, 'accept', 5000), LearningError);

    assert.equal(ds.db.getRun(r.id)?.human, null);
    assert.equal(journalled().includes('"type":"feedback"'), false);
  });

  it('stores the same run sent twice once, and refuses a different run under a taken id', async () => {
    const ds = await openStore();
    const r = validRun();
    ds.record(r);

    ds.record(r);
    assert.throws(
      () => ds.record({ ...r, result: { ...r.result, output: 'something else' } }),
      (err: unknown) => err instanceof DuplicateRunError && err.runId === r.id,
    );

    assert.equal(ds.db.maxPk(), 1);
    assert.equal(journalled().split(`"id":"${r.id}"`).length - 1, 1, 'journalled once');
  });

  it('keeps a different inbox run under a taken id as a new id, logging the file and line, and reads it once', async () => {
    const inbox = path.join(agentDir, 'inbox');
    fs.mkdirSync(inbox, { recursive: true });
    const line = (output: string) =>
      JSON.stringify({
        type: 'run',
        id: 'agent-1',
        taskSlug: 't',
        modelId: 'm',
        promptId: 'default',
        result: { input: 'i', output, compile: true },
      }) + '\n';
    fs.writeFileSync(path.join(inbox, 'a.jsonl'), line('first') + line('first') + line('second'));

    const ds = await openStore();
    fs.writeFileSync(path.join(inbox, 'b.jsonl'), line('second')); // the agent sends it again
    ds.ingestInbox();

    assert.equal(ds.db.maxPk(), 2);
    const kept = logs.filter((l) => l.includes('a different run is already stored with id "agent-1"'));
    assert.equal(kept.length, 1, logs.join('\n'));
    assert.match(kept[0]!, /^⚠️ inbox\/a\.jsonl line 3: .*kept this one as (agent-1~[0-9a-f]{16})\.$/);
    const newId = /kept this one as (\S+)\.$/.exec(kept[0]!)![1]!;
    assert.deepEqual(
      ds.db.recentRuns(5).map((r) => r.id),
      [newId, 'agent-1'],
    );
  });
});

describe('durable store: an inbox file of millions of junk lines', function () {
  this.timeout(240_000);
  let dir: string;

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-durable-junk-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [junk, what] of [
    ['x\n', 'one-byte lines'],
    ['\n', 'blank lines'],
  ] as const) {
    it(`reads 16 MiB of ${what} a slice at a time, logs 20 and one summary, and keeps the runs around them`, async () => {
      const inbox = path.join(dir, '.agent', 'inbox');
      fs.mkdirSync(inbox, { recursive: true });
      const file = path.join(inbox, 'junk.jsonl');
      fs.writeFileSync(file, agentRun('before') + '\n');
      fs.appendFileSync(file, junk.repeat((16 * 1024 * 1024) / junk.length));
      fs.appendFileSync(file, agentRun('after') + '\n');
      const logs: string[] = [];

      // The longest the event loop was blocked, against the whole time the reading took.
      const delay = monitorEventLoopDelay({ resolution: 10 });
      const heapBefore = process.memoryUsage().heapUsed;
      let heapPeak = heapBefore;
      let turns = 0;
      let reading = true;
      const sample = () => {
        turns++;
        heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
        if (reading) setImmediate(sample);
      };
      delay.enable();
      const started = performance.now();
      setImmediate(sample);
      const ds = await DurableStore.open({
        agentDir: path.join(dir, '.agent'),
        now: Date.now,
        log: (l) => logs.push(l),
        reward: () => 0,
        pollIntervalMs: 0,
        saveDelayMs: 60_000,
        maxTextBytes: () => 1024 * 1024,
      });
      const elapsedMs = performance.now() - started;
      reading = false;
      delay.disable();
      try {
        assert.deepEqual(
          ['before', 'after'].map((id) => ds.db.getRun(id) !== undefined),
          [true, true],
        );
        const longestBlockMs = delay.max / 1e6;
        assert.ok(
          longestBlockMs < elapsedMs / 4,
          `the event loop was blocked ${longestBlockMs.toFixed(0)} ms of ${elapsedMs.toFixed(0)} ms`,
        );
        assert.ok(turns > 100, `the event loop ran ${turns} times while the inbox was read`);
        assert.ok(
          heapPeak - heapBefore < 256 * 1024 * 1024,
          `the heap grew by ${((heapPeak - heapBefore) / 2 ** 20).toFixed(0)} MiB`,
        );
        const about = logs.filter((l) => l.includes('inbox/junk.jsonl'));
        assert.ok(about.length <= 21, `${about.length} log lines:\n${about.slice(0, 25).join('\n')}`);
        if (junk === 'x\n') {
          assert.equal(about.filter((l) => l.startsWith('⚠️ Skipped inbox/junk.jsonl line ')).length, 20);
          assert.deepEqual(about.slice(20), [
            `⚠️ … and ${(8 * 1024 * 1024 - 20).toLocaleString('en-US')} more lines skipped in inbox/junk.jsonl.`,
          ]);
        }
      } finally {
        await ds.close();
      }
    });
  }
});
