import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import Database from 'better-sqlite3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../../src/cli/main';
import { LearningPipeline, type LearningStats } from '../../../src/core/pipeline';
import { makeWorkspace, removeWorkspace } from '../../support/workspace';

const ROOT = path.resolve(__dirname, '../../..');

interface Captured {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in this process with `stdin` as its input, capturing what it prints. */
async function cli(argv: string[], stdin = ''): Promise<Captured> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdin: () => Promise.resolve(stdin),
    out: (s) => (out += s),
    err: (s) => (err += s),
  });
  return { code, out, err };
}

function runLine(taskSlug: string, result: object, role = 'coder'): string {
  return JSON.stringify({ taskSlug, modelId: 'model-a', promptId: 'default', role, result });
}

describe('agent-learning CLI', () => {
  let ws: string;

  beforeEach(() => {
    ws = makeWorkspace();
  });

  afterEach(() => removeWorkspace(ws));

  async function stats(): Promise<LearningStats> {
    const r = await cli(['stats', '--json', '--workspace', ws]);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as LearningStats;
  }

  async function recordOne(result: object): Promise<{ id: string; reward: number }> {
    const r = await cli(['record', '--workspace', ws], runLine('task', result));
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as { id: string; reward: number };
  }

  describe('record', () => {
    it('records one JSON object from stdin, prints its id and reward, and stats shows it', async () => {
      const pretty = JSON.stringify(
        JSON.parse(runLine('task', { input: 'i', output: 'o', compile: true })),
        null,
        2,
      );

      const r = await cli(['record', '--workspace', ws], pretty);

      assert.equal(r.code, 0, r.err);
      const printed = JSON.parse(r.out) as { id: string; reward: number };
      assert.equal(typeof printed.id, 'string');
      assert.equal(printed.reward, 1);
      const s = await stats();
      assert.deepEqual(
        s.recentRuns.map((run) => [run.id, run.reward]),
        [[printed.id, 1]],
      );
    });

    it('records the valid lines of JSON lines input and exits 1 naming each invalid line', async () => {
      const input = [
        runLine('one', { input: 'a', output: 'b', compile: true }),
        '{ not json',
        runLine('three', { output: 'no input here' }),
        runLine('four', { input: 'c', output: 'd', compile: false }),
      ].join('\n');

      const r = await cli(['record', '--workspace', ws], input);

      assert.equal(r.code, 1);
      assert.match(r.err, /line 2: /);
      assert.match(r.err, /line 3: .*result\.input/);
      assert.equal(r.out.trim().split('\n').length, 2, r.out);
      assert.deepEqual((await stats()).recentRuns.map((run) => run.taskSlug).sort(), ['four', 'one']);
    });

    it('exits 2 when stdin is empty', async () => {
      const r = await cli(['record', '--workspace', ws], '');

      assert.equal(r.code, 2);
    });
  });

  describe('feedback', () => {
    it("updates the run's reward with the verdict", async () => {
      const { id, reward } = await recordOne({ input: 'i', output: 'o', compile: false });
      assert.equal(reward, 0);

      const r = await cli(['feedback', id, 'accept', '--workspace', ws]);

      assert.equal(r.code, 0, r.err);
      assert.deepEqual(JSON.parse(r.out), { id, reward: 0.5 });
      const run = (await stats()).recentRuns.find((x) => x.id === id)!;
      assert.equal(run.reward, 0.5);
      assert.equal(run.human, 'accept');
    });

    it('exits 2 for a verdict other than accept or reject', async () => {
      const r = await cli(['feedback', 'x', 'maybe', '--workspace', ws]);

      assert.equal(r.code, 2);
      assert.match(r.err, /accept or reject/);
    });

    it('exits 1 for a run id it does not know', async () => {
      await recordOne({ input: 'i', output: 'o', compile: true });
      const r = await cli(['feedback', 'r-no-such-run', 'accept', '--workspace', ws]);

      assert.equal(r.code, 1);
      assert.match(r.err, /r-no-such-run/);
    });
  });

  describe('show', () => {
    it('prints a run with its signals, reward terms and texts, read from .agent/texts/', async () => {
      const { id } = await recordOne({ input: 'the question ✓', output: 'the answer', compile: true });
      assert.ok(fs.readdirSync(path.join(ws, '.agent', 'texts')).some((n) => n.endsWith('.seg')));

      const r = await cli(['show', id, '--workspace', ws]);

      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`^id: ${id}$`, 'm'));
      assert.match(r.out, /^reward term compile: score 1\.00/m);
      assert.match(r.out, /--- input ---\nthe question ✓\n--- output ---\nthe answer\n$/);
      const json = await cli(['show', id, '--json', '--workspace', ws]);
      assert.equal(JSON.parse(json.out).output, 'the answer');
    });

    it('writes control characters from run data as escapes, so an output cannot drive the terminal', async () => {
      const { id } = await recordOne({
        input: 'clipboard \u001b]52;c;ZXZpbA==\u0007',
        output: 'title \u001b]0;pwned\u0007 line\ttab\nnext',
        compile: true,
      });

      const r = await cli(['show', id, '--workspace', ws]);

      assert.equal(r.code, 0, r.err);
      assert.equal(
        r.out.includes('\u001b') || r.out.includes('\u0007'),
        false,
        'no ESC or BEL reaches the terminal',
      );
      assert.match(r.out, /clipboard \\x1b\]52;c;ZXZpbA==\\x07/);
      assert.match(r.out, /title \\x1b\]0;pwned\\x07 line\ttab\nnext\n$/);
    });

    it('says why the texts cannot be read when their segment is gone, and still prints the run', async () => {
      const { id } = await recordOne({ input: 'i', output: 'o', compile: true });
      fs.rmSync(path.join(ws, '.agent', 'texts'), { recursive: true });

      const r = await cli(['show', id, '--workspace', ws]);

      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^texts: cannot be read \(texts\/000001\.seg is missing\)$/m);
      assert.match(r.out, new RegExp(`^id: ${id}$`, 'm'));
    });

    it('prints the diff of the files the run changed, after its output, with escapes for control characters', async () => {
      const { id } = await recordOne({ input: 'i', output: 'o', compile: true });
      const p = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {} });
      await p.recordChange(id, {
        at: Date.UTC(2026, 11, 6),
        files: [{ path: 'src/a.ts', added: 1, removed: 0, before: 'seen' }],
        patch: '--- a/src/a.ts\n+++ b/src/a.ts\n@@ -1 +1,2 @@\n a\n+b \u001b[2J\n',
      });
      await p.close();

      const r = await cli(['show', id, '--workspace', ws]);

      assert.equal(r.code, 0, r.err);
      assert.match(
        r.out,
        /--- output ---\no\n--- change \(observed 2026-12-06T00:00:00\.000Z: src\/a\.ts \+1 -0\) ---\n--- a\/src\/a\.ts\n\+\+\+ b\/src\/a\.ts\n@@ -1 \+1,2 @@\n a\n\+b \\x1b\[2J\n\n$/,
      );
      assert.equal(
        JSON.parse((await cli(['show', id, '--json', '--workspace', ws])).out).change.files[0].path,
        'src/a.ts',
      );
    });

    it('exits 1 for a run id it does not know', async () => {
      await recordOne({ input: 'i', output: 'o', compile: true });
      const r = await cli(['show', 'r-no-such-run', '--workspace', ws]);
      assert.equal(r.code, 1);
      assert.match(r.err, /no run with id "r-no-such-run"/);
    });
  });

  it('exits 2 for an unknown command', async () => {
    const r = await cli(['frobnicate', '--workspace', ws]);

    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command "frobnicate"/);
  });

  it('exits 2 when no command is given', async () => {
    assert.equal((await cli(['--workspace', ws])).code, 2);
  });

  it('prints the stats in the seed’s form', async () => {
    await recordOne({ input: 'i', output: 'o', compile: true });

    const r = await cli(['stats', '--workspace', ws]);

    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Avg Reward: 1\.00/);
    assert.match(r.out, /model-a: 1\.00 \(1 runs\)/);
  });

  describe('export', () => {
    it('writes the role’s JSONL dataset', async () => {
      await recordOne({ input: 'write a parser', output: 'parse()', compile: true });

      const r = await cli(['export', '--role', 'coder', '--workspace', ws]);

      assert.equal(r.code, 0, r.err);
      const lines = fs
        .readFileSync(path.join(ws, '.agent', 'sft', 'coder_sft.jsonl'), 'utf8')
        .trim()
        .split('\n');
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /write a parser/);
      assert.match(r.out, /Exported 1 coder examples to \.agent\/sft\/coder_sft\.jsonl/);
    });

    it('exits 1 for a role that is not a safe name, writing nothing', async () => {
      const r = await cli(['export', '--role', '../x', '--workspace', ws]);

      assert.equal(r.code, 1);
      assert.match(r.err, /role/);
      assert.ok(!fs.existsSync(path.join(ws, '.agent', 'x_sft.jsonl')));
      assert.ok(!fs.existsSync(path.join(ws, '.agent', 'sft')));
    });
  });

  describe('compact', () => {
    const dbFile = () => path.join(ws, '.agent', 'experience.db');
    /** What a user reads in the database and through the CLI: every run's row, signals and texts. */
    async function everything(): Promise<unknown> {
      const db = new Database(dbFile(), { readonly: true });
      let rows;
      try {
        rows = {
          runs: db.prepare('SELECT * FROM runs ORDER BY pk').all(),
          signals: db.prepare('SELECT * FROM run_signals ORDER BY run_id, kind, source').all(),
          arms: db.prepare('SELECT * FROM arm_stats ORDER BY kind, role, tier, arm').all(),
        };
      } finally {
        db.close();
      }
      const texts = [];
      for (const run of rows.runs as { id: string }[]) {
        const r = await cli(['show', run.id, '--json', '--workspace', ws]);
        assert.equal(r.code, 0, r.err);
        const { input, output } = JSON.parse(r.out) as { input: string; output: string };
        texts.push({ input, output });
      }
      return { ...rows, texts };
    }
    const pragma = (name: string) => {
      const db = new Database(dbFile(), { readonly: true });
      try {
        return db.pragma(name, { simple: true });
      } finally {
        db.close();
      }
    };

    it('rebuilds a database from older releases in 8 KiB pages, smaller, with every run, verdict and text kept', async () => {
      const lines = Array.from({ length: 60 }, (_, i) =>
        runLine(`task-${i}`, {
          input: `question ${i} `.repeat(30),
          output: `answer ${i}`,
          compile: i % 3 > 0,
        }),
      );
      const recorded = await cli(['record', '--workspace', ws], lines.join('\n'));
      assert.equal(recorded.code, 0, recorded.err);
      const first = (JSON.parse(recorded.out.split('\n')[0]!) as { id: string }).id;
      assert.equal((await cli(['feedback', first, 'accept', '--workspace', ws])).code, 0);
      // As a release before 8 KiB pages left it, with the indexes it had, grown out of key order.
      const db = new Database(dbFile());
      db.pragma('page_size = 4096');
      db.exec('VACUUM');
      db.exec('CREATE INDEX IF NOT EXISTS runs_prompt ON runs (prompt_id, pk)');
      db.exec('CREATE INDEX IF NOT EXISTS runs_model ON runs (model_id, pk)');
      db.exec('UPDATE runs SET reward = reward * 0.999 WHERE pk % 2 = 0');
      db.close();
      fs.rmSync(`${dbFile()}.sum`, { force: true });
      const before = await everything();
      const bytesBefore = fs.statSync(dbFile()).size;

      const r = await cli(['compact', '--workspace', ws]);

      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Rebuilt \.agent\/experience\.db: .+ → .+ \(\d+\.\d s\)/);
      assert.equal(pragma('page_size'), 8192);
      assert.equal(pragma('freelist_count'), 0);
      assert.equal(pragma('integrity_check'), 'ok');
      assert.ok(fs.statSync(dbFile()).size <= bytesBefore, `${fs.statSync(dbFile()).size} > ${bytesBefore}`);
      assert.deepEqual(await everything(), before);
    });

    it('rebuilds nothing, and says so, when the database it opened was unreadable and set aside', async () => {
      for (let i = 0; i < 20; i++) await recordOne({ input: `q${i}`, output: 'a', compile: true });
      const bytes = fs.readFileSync(dbFile());
      bytes.fill(0xff, 8192 * 2, 8192 * 3); // a page of the saved database destroyed
      fs.writeFileSync(dbFile(), bytes);
      fs.rmSync(`${dbFile()}.sum`, { force: true });

      const r = await cli(['compact', '--workspace', ws]);

      assert.equal(r.code, 1, r.out);
      assert.match(r.err, /kept aside as .*experience\.db\.corrupt-.* Nothing was rebuilt\./);
      assert.doesNotMatch(r.out, /Rebuilt/);
      const aside = fs
        .readdirSync(path.join(ws, '.agent'))
        .filter((n) => n.startsWith('experience.db.corrupt-'));
      assert.equal(aside.length, 1, 'the damaged file is kept');
      assert.deepEqual(fs.readFileSync(path.join(ws, '.agent', aside[0]!)), bytes);
    });

    it('says nothing was rebuilt when another process takes the database over meanwhile', async () => {
      const pipeline = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {} });
      try {
        for (let i = 0; i < 20; i++)
          await pipeline.recordRun(
            `t${i}`,
            'm',
            'p',
            { input: `q${i}`, output: 'a', compile: true },
            'coder',
          );
        await pipeline.flush();
        const bytes = fs.readFileSync(dbFile());
        // Another process judged our lock stale and took it.
        const lock = path.join(ws, '.agent', 'experience.db.lock');
        fs.writeFileSync(
          lock,
          JSON.stringify({ pid: 1, host: 'elsewhere', nonce: 'theirs', since: Date.now() }),
        );

        await assert.rejects(pipeline.compactDatabase(), /took over .* meanwhile: nothing was rebuilt/);
        assert.deepEqual(fs.readFileSync(dbFile()), bytes);
      } finally {
        await pipeline.close();
      }
    });

    it('leaves the database alone, naming its owner, while another process has it open', async () => {
      await recordOne({ input: 'q', output: 'a', compile: true });
      const owner = await LearningPipeline.open(ws, { pollIntervalMs: 0, log: () => {} });
      try {
        const bytes = fs.readFileSync(dbFile());

        const r = await cli(['compact', '--workspace', ws]);

        assert.equal(r.code, 1);
        assert.match(r.err, new RegExp(`in use by process ${process.pid} on .+: close the VS Code windows`));
        assert.deepEqual(fs.readFileSync(dbFile()), bytes);
      } finally {
        await owner.close();
      }
    });
  });

  it('refuses stats, feedback and export in a folder with no .agent/, creating nothing', async () => {
    for (const argv of [['stats'], ['feedback', 'r-1', 'accept'], ['export']]) {
      const r = await cli([...argv, '--workspace', ws]);

      assert.equal(r.code, 1, argv.join(' '));
      assert.match(r.err, /has no \.agent\/ folder/);
    }
    assert.deepEqual(fs.readdirSync(ws), []);
  });

  it('uses the --workspace folder, not the current directory', async () => {
    const elsewhere = makeWorkspace();
    const cwd = process.cwd();
    process.chdir(elsewhere);
    try {
      const r = await cli(
        ['record', '--workspace', ws],
        runLine('task', { input: 'i', output: 'o', compile: true }),
      );

      assert.equal(r.code, 0, r.err);
      assert.ok(fs.existsSync(path.join(ws, '.agent', 'experience.db')));
      assert.ok(!fs.existsSync(path.join(elsewhere, '.agent')));
    } finally {
      process.chdir(cwd);
      removeWorkspace(elsewhere);
    }
  });

  describe('as a built process', () => {
    before(function () {
      this.timeout(60_000);
      execFileSync('node', ['esbuild.js'], { cwd: ROOT, stdio: 'pipe' });
    });

    it('prints the stats as JSON for node dist/cli.js stats --json --workspace DIR', async () => {
      const { id } = await recordOne({ input: 'i', output: 'o', compile: true });

      const out = execFileSync('node', ['dist/cli.js', 'stats', '--json', '--workspace', ws], {
        cwd: ROOT,
        encoding: 'utf8',
      });

      const s = JSON.parse(out) as LearningStats;
      assert.equal(s.totals.runs, 1);
      assert.equal(s.recentRuns[0]!.id, id);
    });
  });
});
