// Chaos: several recorders and the CLI write to one workspace while whichever process owns the database is killed
// with SIGKILL at (seeded) random times; afterwards every acknowledged run and verdict must be in a sound file.

import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { LearningPipeline } from '../../../../src/core/pipeline';
import { mulberry32 } from '../../../support/random';

const ROOT = path.resolve(__dirname, '../../../..');
const RECORDER = path.join(ROOT, 'test/fixtures/recorder.cjs');
const CLI = path.join(ROOT, 'dist/cli.js');

/** How long the kills go on; with start-up and the final check the test takes about twice this. */
const CHAOS_MS = 8_000;
const RECORDERS = 3;

type Verdict = 'accept' | 'reject';

/** Runs a child to its end (or its kill), handing each stdout line to `onLine` as it arrives. */
function runChild(child: ChildProcess, onLine: (line: string) => void): Promise<void> {
  let buffer = '';
  child.stdout!.on('data', (d: Buffer) => {
    buffer += d.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    lines.forEach(onLine);
  });
  child.stderr!.resume();
  return new Promise((resolve) => child.once('close', () => resolve()));
}

describe('chaos: recorders and the CLI while the owner is killed', function () {
  let dir: string;

  before(function () {
    this.timeout(120_000);
    execFileSync('node', ['esbuild.js'], { cwd: ROOT, stdio: 'ignore' });
  });

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-chaos-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('keeps every acknowledged run and verdict, in a file that passes integrity_check', async function () {
    this.timeout(120_000);
    const random = mulberry32(0xc4a05);
    const lockFile = path.join(dir, '.agent', 'experience.db.lock');
    const live = new Map<number, ChildProcess>();
    const runs = new Set<string>();
    const verdicts = new Map<string, Verdict>();
    const judged = new Set<string>();
    const finishedChildren: Promise<void>[] = [];
    let stopping = false;
    let kills = 0;

    const track = (child: ChildProcess, onLine: (line: string) => void): Promise<void> => {
      live.set(child.pid!, child);
      const done = runChild(child, onLine).then(() => void live.delete(child.pid!));
      finishedChildren.push(done);
      return done;
    };

    // Recorders: each prints a run's id once recordRun resolved; a killed one is replaced by a new one.
    let label = 0;
    const startRecorder = (): void => {
      const child = spawn('node', [RECORDER, dir, '1000000', `rec${label++}`, '20'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      void track(child, (line) => {
        if (line.startsWith('r-')) runs.add(line);
      }).then(() => {
        if (!stopping) startRecorder();
      });
    };
    for (let i = 0; i < RECORDERS; i++) startRecorder();

    // The CLI, in two loops of one command after another: record two runs, then a verdict on a run without one.
    const cli = async (args: string[], stdin: string, onJson: (value: { id: string }) => void) => {
      const child = spawn('node', [CLI, ...args, '--workspace', dir], { stdio: ['pipe', 'pipe', 'pipe'] });
      child.stdin!.on('error', () => {}); // killed before it read its input
      child.stdin!.end(stdin);
      await track(child, (line) => {
        if (line.startsWith('{')) onJson(JSON.parse(line) as { id: string });
      });
    };
    const cliLoop = async (loop: number) => {
      for (let i = 0; !stopping; i++) {
        const line = (n: number) =>
          JSON.stringify({
            taskSlug: `cli-${loop}-${i}-${n}`,
            modelId: 'model-b',
            promptId: 'default',
            result: { input: `cli input ${i} ${n}`, output: `cli output ${i} ${n}`, compile: n === 0 },
          });
        await cli(['record'], `${line(0)}\n${line(1)}\n`, ({ id }) => runs.add(id));
        const open = [...runs].filter((id) => !judged.has(id));
        if (open.length === 0) continue;
        const runId = open[Math.floor(random() * open.length)]!;
        judged.add(runId); // one verdict per run, so the one acknowledged is the one to find
        const verdict: Verdict = random() < 0.5 ? 'accept' : 'reject';
        await cli(['feedback', runId, verdict], '', ({ id }) => verdicts.set(id, verdict));
      }
    };
    const cliLoops = Promise.all([cliLoop(0), cliLoop(1)]);

    // The chaos: at seeded random intervals, SIGKILL whichever of our processes holds the lock.
    const deadline = Date.now() + CHAOS_MS;
    while (Date.now() < deadline) {
      await delay(150 + Math.floor(random() * 500));
      let pid: number | undefined;
      try {
        pid = (JSON.parse(fs.readFileSync(lockFile, 'utf8')) as { pid: number }).pid;
      } catch {
        continue; // no owner at this moment, or its lock half-written
      }
      const owner = live.get(pid);
      if (owner && owner.kill('SIGKILL')) kills++;
    }
    stopping = true;
    for (const child of live.values()) if (child.spawnargs[1] === RECORDER) child.kill('SIGKILL');
    await cliLoops;
    await Promise.all(finishedChildren);

    // A last process takes over what the killed ones left: journals, a stale lock, temp files.
    const p = await LearningPipeline.open(dir, { log: () => {}, pollIntervalMs: 0 });
    await p.close();

    const db = new Database(path.join(dir, '.agent', 'experience.db'), {
      readonly: true,
      fileMustExist: true,
    });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const saved = new Map(
        (db.prepare('SELECT id, human FROM runs').all() as { id: string; human: Verdict | null }[]).map(
          (r) => [r.id, r.human],
        ),
      );
      assert.ok(kills >= 5, `the owner was killed ${kills} times`);
      assert.ok(
        runs.size > 0 && verdicts.size > 0,
        `${runs.size} runs and ${verdicts.size} verdicts acknowledged`,
      );
      const lostRuns = [...runs].filter((id) => !saved.has(id));
      assert.deepEqual(lostRuns, [], `${lostRuns.length} of ${runs.size} acknowledged runs lost`);
      const lostVerdicts = [...verdicts].filter(([id, verdict]) => saved.get(id) !== verdict);
      assert.deepEqual(
        lostVerdicts,
        [],
        `${lostVerdicts.length} of ${verdicts.size} acknowledged verdicts lost`,
      );
    } finally {
      db.close();
    }
  });
});
