import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isUtf8 } from 'node:buffer';
import * as zlib from 'node:zlib';
import { Exporter, type ExportStore, type TrainingDue } from '../../../../src/core/dataset/exporter';
import {
  ExportMemo,
  FinishedMeanwhile,
  SftExport,
  exportSft,
  type ExportResult,
} from '../../../../src/core/dataset/sftExport';
import { toRunRecord, type Complexity } from '../../../../src/core/learning/runResult';
import { EventLog } from '../../../../src/core/store/eventLog';
import { loadSqlJs } from '../../../../src/core/store/sqljs';
import { Store } from '../../../../src/core/store/store';
import { TextSegments } from '../../../../src/core/store/textSegments';
import { parseConfig, type LearningConfigInput } from '../../../../src/core/workspace/config';
import { makeWorkspace, removeWorkspace } from '../../../support/workspace';

const AT = Date.UTC(2026, 0, 2, 3, 4, 5);

describe('Exporter', () => {
  let ws: string;
  let agentDir: string;
  let db: Store;
  let store: Omit<ExportStore, 'db'> & { db: Store; isOwner: boolean };
  let logs: string[];
  let changes: number;
  let runs: number;
  let trusted: boolean;

  beforeEach(async () => {
    ws = makeWorkspace();
    agentDir = path.join(ws, '.agent');
    fs.mkdirSync(agentDir);
    const opened = Store.open(await loadSqlJs(), undefined);
    assert.ok(opened instanceof Store);
    db = opened;
    store = {
      db,
      events: new EventLog(
        () => db,
        () => {},
      ),
      isOwner: true,
    };
    logs = [];
    changes = 0;
    runs = 0;
    trusted = true;
  });

  afterEach(() => {
    db.close();
    removeWorkspace(ws);
  });

  function exporter(config: LearningConfigInput = {}): Exporter {
    return new Exporter({
      agentDir,
      now: () => AT,
      log: (line) => logs.push(line),
      config: () => parseConfig(config),
      trusted: () => trusted,
      promptText: (id) => `system text of ${id}`,
      changed: () => changes++,
    });
  }

  function record(reward: number, role = 'coder', complexity?: Complexity): void {
    runs++;
    const ids = { id: `r${runs}`, createdAt: runs, taskSlug: 't', role, modelId: 'm', promptId: 'default' };
    const run = toRunRecord(ids, { input: `task ${runs}`, output: `code ${runs}`, complexity });
    db.insertRun({ ...run, reward });
  }

  it('writes the dataset, the last-export file and an export event, in the seed’s words', () => {
    record(1);
    record(0.9);
    record(0.2);

    const result = exporter().export(store, 'coder');

    assert.equal(result.count, 2);
    const lines = fs
      .readFileSync(path.join(agentDir, 'sft', 'coder_sft.jsonl'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /system text of default/);
    assert.equal(
      fs.readFileSync(path.join(agentDir, 'last-export-coder.txt'), 'utf8'),
      '2026-01-02T03:04:05.000Z\n2 examples\n.agent/sft/coder_sft.jsonl\n',
    );
    const event = store.events.last('export', 'coder')!;
    assert.deepEqual(
      [event.at, event.message, event.data.count, event.data.watermarkPk],
      [AT, 'Exported 2 coder examples to .agent/sft/coder_sft.jsonl', 2, 3],
    );
    assert.deepEqual(logs, ['✅ Exported 2 coder examples to .agent/sft/coder_sft.jsonl']);
    assert.equal(changes, 1);
  });

  it('replaces a link planted as the last-export file and leaves the file it pointed at untouched', () => {
    const outside = fs.mkdtempSync(path.join(path.dirname(ws), 'al-outside-'));
    try {
      const victim = path.join(outside, 'victim.txt');
      fs.writeFileSync(victim, 'precious');
      fs.symlinkSync(victim, path.join(agentDir, 'last-export-coder.txt'));
      fs.symlinkSync(path.join(outside, 'created.txt'), path.join(agentDir, 'last-export-coder-large.txt'));
      record(1, 'coder', 'large');

      exporter().export(store, 'coder');
      exporter().export(store, 'coder', 'large');

      assert.equal(fs.readFileSync(victim, 'utf8'), 'precious');
      assert.deepEqual(fs.readdirSync(outside), ['victim.txt'], 'nothing created through the dangling link');
      for (const key of ['coder', 'coder-large']) {
        const file = path.join(agentDir, `last-export-${key}.txt`);
        assert.ok(fs.lstatSync(file).isFile(), `${key}: a regular file inside .agent/`);
        assert.match(fs.readFileSync(file, 'utf8'), /^2026-01-02T03:04:05\.000Z\n1 examples\n/);
      }
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
  });

  it('reads only the runs it takes to find maxExamples distinct examples, however many duplicates follow', () => {
    const insert = (id: string, text: string, reward: number) =>
      db.insertRun({
        ...toRunRecord(
          { id, createdAt: 1, taskSlug: 't', role: 'coder', modelId: 'm', promptId: 'default' },
          { input: text, output: `code for ${text}` },
        ),
        reward,
      });
    for (let i = 0; i < 20; i++) insert(`dup${i}`, 'the same task', 1);
    for (let i = 0; i < 20; i++) insert(`d${i}`, `task ${i}`, 0.9);
    for (let i = 0; i < 200; i++) insert(`late${i}`, 'the same task', 0.8);
    const candidates = db.exportCandidates.bind(db);
    let read = 0;
    db.exportCandidates = function* (...args) {
      for (const c of candidates(...args)) {
        read++;
        yield c;
      }
    };

    const result = exporter({ autoExport: { maxExamples: 3 } }).export(store, 'coder');

    assert.equal(result.count, 3);
    assert.equal(result.duplicatesSkipped, 19);
    assert.equal(read, 22, 'the 20 best (one distinct) and the two next distinct ones: not one row more');
  });

  /** Counts the candidates an export reads with their texts and those it takes from its memo. */
  function countReads(): { read: number; known: number } {
    const counts = { read: 0, known: 0 };
    const candidates = db.exportCandidates.bind(db);
    db.exportCandidates = function* (...args) {
      for (const c of candidates(...args)) {
        if (c.known) counts.known++;
        else counts.read++;
        yield c;
      }
    };
    return counts;
  }

  /** An exporter as a new process has it, into `dir`, with `system()` as every prompt variant's text. */
  const exporterIn = (dir: string, system: () => string = () => 'système ✓') =>
    new Exporter({
      agentDir: dir,
      now: () => AT,
      log: () => {},
      config: () => parseConfig({}),
      trusted: () => true,
      promptText: system,
      changed: () => {},
    });

  it('reads again only the runs the last export did not take, and writes what a fresh export would', () => {
    for (let i = 0; i < 30; i++) record(0.9);
    const dup = (id: string) =>
      db.insertRun({
        ...toRunRecord(
          { id, createdAt: 100, taskSlug: 't', role: 'coder', modelId: 'm', promptId: 'default' },
          { input: 'task 1', output: 'code 1 ' }, // the same as r1 but for whitespace
        ),
        reward: 0.8,
      });
    dup('twin');
    const counts = countReads();
    let system = 'system text';
    const exp = exporterIn(agentDir, () => system);
    const file = path.join(agentDir, 'sft', 'coder_sft.jsonl');
    // What an exporter without a memo writes (a new one, into a folder of its own).
    const fresh = () =>
      fs.readFileSync(
        exporterIn(fs.mkdtempSync(path.join(ws, 'fresh-')), () => system).export(store, 'coder').file,
        'utf8',
      );
    const readThen = (r: ExportResult) => [counts.read, counts.known, r.count, r.duplicatesSkipped];

    const first = exp.export(store, 'coder');
    assert.deepEqual(readThen(first), [31, 0, 30, 1]);

    record(1); // new and best
    system = 'a new system text'; // the prompt variant was edited: every line follows it
    counts.read = counts.known = 0;
    const second = exp.export(store, 'coder');
    assert.deepEqual(readThen(second), [1, 31, 31, 1]);
    const written = fs.readFileSync(file, 'utf8');
    assert.match(written.split('\n')[0]!, /a new system text/);
    assert.equal(written, fresh(), 'the same lines as an export without the memo');

    // The twin was a duplicate, so only its key was kept: once r1 falls below it, the twin is the example and its
    // texts are read again.
    db.setReward('r1', 0.1);
    counts.read = counts.known = 0;
    const third = exp.export(store, 'coder');
    assert.deepEqual(readThen(third), [1, 30, 31, 0]);
    assert.equal(fs.readFileSync(file, 'utf8'), fresh());
  });

  describe('what an export leaves beside its dataset (sft/{role}_sft.memo)', () => {
    /** What an exporter with nothing remembered writes (into a folder of its own). */
    const fresh = () =>
      fs.readFileSync(
        exporterIn(fs.mkdtempSync(path.join(ws, 'fresh-'))).export(store, 'coder').file,
        'utf8',
      );
    const dataset = () => path.join(agentDir, 'sft', 'coder_sft.jsonl');
    const memoFile = () => path.join(agentDir, 'sft', 'coder_sft.memo');
    /** The memo file as JSON, and its first example's row ([pk, id, kind, key, redacted, messages from, to, …]). */
    function readMemoFile(): { memo: MemoJson; example: number[] } {
      const memo = JSON.parse(fs.readFileSync(memoFile(), 'utf8')) as MemoJson;
      return { memo, example: memo.runs.find((r) => r[2] === 2)! as number[] };
    }
    /** `exportAgain` reads every run with its texts, as with no memo, and writes what an export with none writes. */
    function assertMemoUnused(exportAgain: () => void): void {
      const counts = countReads();
      exportAgain();
      assert.deepEqual(counts, { read: 25, known: 0 }, 'the memo is not used');
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh());
    }

    /** Runs of every kind an export meets: plain, a chat with tools, non-ASCII, a duplicate, an aborted stream, empty. */
    function recordVaried(): void {
      const add = (id: string, input: string, output: string, reward: number) =>
        db.insertRun({
          ...toRunRecord(
            { id, createdAt: 1, taskSlug: 't', role: 'coder', modelId: 'm', promptId: 'default' },
            { input, output },
          ),
          reward,
        });
      for (let i = 0; i < 20; i++) record(0.9);
      const chat = JSON.stringify({
        messages: [{ role: 'user', content: 'list files 📁 in ünïcode' }],
        tools: [{ type: 'function', function: { name: 'ls', parameters: { type: 'object' } } }],
      });
      const reply = JSON.stringify({
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'ls', arguments: '{"dir":"."}' } }],
      });
      add('chat', chat, reply, 0.95);
      add('aborted', chat, JSON.stringify({ role: 'assistant', content: 'par', aborted: true }), 0.97);
      add('secret', 'call it with API_KEY=abcdefghijkl', '漢字 and 🎉 API_KEY=abcdefghijkl', 0.92);
      add('twin', 'task 1', 'code 1 ', 0.8); // r1 but for whitespace
      add('empty', 'nothing', '', 0.99);
    }

    it('lets the first export after a restart read only the runs the last one did not take, writing the same', () => {
      recordVaried();
      const first = exporterIn(agentDir).export(store, 'coder');
      assert.equal(first.count, 22);
      assert.ok(fs.statSync(memoFile()).size > 0, 'the memo is written beside the dataset');
      record(1); // new since then

      const counts = countReads();
      const again = exporterIn(agentDir).export(store, 'coder'); // a new exporter: a new process
      assert.deepEqual(counts, { read: 1, known: 25 }, 'only the new run is read with its texts');
      assert.equal(again.count, 23);
      assert.equal(again.secretsRedacted, first.secretsRedacted);
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh(), 'the same bytes as an export with no memo');
    });

    it('is ignored when the dataset, the memo or the code that made it is not what it says, and is written again', () => {
      recordVaried();
      const spoil: [string, () => void][] = [
        [
          'a byte of the dataset changed',
          () => {
            const bytes = fs.readFileSync(dataset());
            bytes.writeUInt8(bytes.readUInt8(bytes.length - 3) ^ 1, bytes.length - 3);
            fs.writeFileSync(dataset(), bytes);
          },
        ],
        ['the dataset cut', () => fs.truncateSync(dataset(), 100)],
        ['the dataset missing', () => fs.rmSync(dataset())],
        ['the memo not JSON', () => fs.writeFileSync(memoFile(), '{"format":1,')],
        ['the memo cut', () => fs.truncateSync(memoFile(), fs.statSync(memoFile()).size - 10)],
        ['an older format', () => edit((m) => (m.format = 0))],
        ['other code', () => edit((m) => (m.code = 'f'.repeat(32)))],
        [
          'a place outside the dataset',
          () => edit((m) => ((m.runs as number[][]).find((r) => r[2] === 2)![6] = 1e9)),
        ],
        ['a key that is not a hash', () => edit((m) => ((m.runs as unknown[][])[0]![3] = '../x'))],
        ['an unknown kind', () => edit((m) => ((m.runs as unknown[][])[0]![2] = 9))],
        [
          'a link to a memo elsewhere',
          () => {
            const elsewhere = path.join(ws, 'elsewhere.memo');
            fs.renameSync(memoFile(), elsewhere);
            fs.symlinkSync(elsewhere, memoFile());
          },
        ],
      ];
      function edit(change: (memo: Record<string, unknown>) => void): void {
        const memo = JSON.parse(fs.readFileSync(memoFile(), 'utf8')) as Record<string, unknown>;
        change(memo);
        fs.writeFileSync(memoFile(), JSON.stringify(memo));
      }
      for (const [what, how] of spoil) {
        exporterIn(agentDir).export(store, 'coder');
        how();
        const counts = countReads();
        exporterIn(agentDir).export(store, 'coder');
        assert.deepEqual(counts, { read: 25, known: 0 }, `${what}: every run read again`);
        assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh(), what);
        assert.ok(fs.lstatSync(memoFile()).isFile(), `${what}: a memo written again, a link replaced`);
        db.exportCandidates = Object.getPrototypeOf(db).exportCandidates;
      }
      assert.ok(fs.existsSync(path.join(ws, 'elsewhere.memo')), 'the file the link led to is left alone');
    });

    it('is of no use to a database begun afresh, whose runs have the same pks and ids', async () => {
      // An agent that names its runs (inbox lines with "id"), and experience.db moved aside to begin a fresh one.
      const add = (into: Store, createdAt: number, output: string) =>
        into.insertRun({
          ...toRunRecord(
            { id: 'task-1', createdAt, taskSlug: 't', role: 'coder', modelId: 'm', promptId: 'default' },
            { input: 'the task', output },
          ),
          reward: 1,
        });
      add(db, 1, 'old answer');
      exporterIn(agentDir).export(store, 'coder');
      const fresh = Store.open(await loadSqlJs(), undefined) as Store;
      try {
        add(fresh, 2, 'new answer');
        const events = new EventLog(
          () => fresh,
          () => {},
        );
        exporterIn(agentDir).export({ db: fresh, events, isOwner: true }, 'coder'); // a new process
        assert.match(fs.readFileSync(dataset(), 'utf8'), /new answer/);
      } finally {
        fresh.close();
      }
    });

    it('leaves out a run it remembers once its texts cannot be read, as an export with no memo does', () => {
      recordVaried();
      const texts = path.join(agentDir, 'texts');
      const segments = new TextSegments(texts);
      db.useTextSegments(segments);
      db.textsMoved(segments.appendSync(db.textsToMove(100)));
      const first = exporterIn(agentDir).export(store, 'coder');
      segments.close(); // closed: read afresh from disk from now on
      for (const f of fs.readdirSync(texts)) fs.truncateSync(path.join(texts, f), 10); // cut short

      const again = exporterIn(agentDir).export(store, 'coder'); // a new process, the memo on disk

      assert.equal(first.count, 22);
      assert.equal(again.count, 0, 'no text can be read');
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh());
    });

    it('puts nothing but JSON lines into a dataset, whatever a memo matching it says', () => {
      recordVaried();
      exporterIn(agentDir).export(store, 'coder');
      const { memo, example } = readMemoFile();
      example[5] = 0; // a span over the whole dataset: newlines, braces
      example[6] = fs.readFileSync(dataset(), 'utf8').length;
      fs.writeFileSync(memoFile(), JSON.stringify(memo));

      assertMemoUnused(() => exporterIn(agentDir).export(store, 'coder'));
    });

    it('puts no bytes into a dataset that are not UTF-8, whatever a memo matching it says', () => {
      recordVaried();
      exporterIn(agentDir).export(store, 'coder');
      // A byte of an example's messages made 0xFF, and the memo told the dataset's new size and CRC: read as text
      // it is still JSON (U+FFFD in a string), but its bytes are not UTF-8.
      const { memo, example } = readMemoFile();
      const bytes = fs.readFileSync(dataset());
      const [from, to] = [example[5]!, example[6]!];
      const at = bytes.subarray(from, to).indexOf('"content":"') + from + 12;
      bytes[at] = 0xff;
      fs.writeFileSync(dataset(), bytes);
      memo.dataset = { bytes: bytes.length, crc32: zlib.crc32(bytes) };
      fs.writeFileSync(memoFile(), JSON.stringify(memo));

      const counts = countReads();
      exporterIn(agentDir).export(store, 'coder');

      assert.deepEqual(counts, { read: 25, known: 0 }, 'the memo is not used');
      assert.ok(isUtf8(fs.readFileSync(dataset())));
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh());
    });

    it('is read back from disk by the next export in the same process, not held in memory meanwhile', () => {
      recordVaried();
      const exp = exporterIn(agentDir);
      exp.export(store, 'coder');
      record(1);
      const counts = countReads();
      exp.export(store, 'coder');
      assert.deepEqual(counts, { read: 1, known: 25 }, 'what the last export took is known again');
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh());

      // The same memo object, as the exporter keeps it: empty once its export is written, full again once read.
      const files = {
        dataset: path.join(agentDir, 'sft', 'memo.jsonl'),
        memo: path.join(agentDir, 'sft', 'memo.memo'),
      };
      const memo = new ExportMemo(files);
      const job = new SftExport(() => db, {
        role: 'coder',
        minReward: 0.7,
        maxExamples: 1000,
        systemPrompt: () => 'système ✓',
        file: files.dataset,
        memo,
      });
      job.step(Infinity);
      job.finish();
      assert.equal(memo.get(1, 'r1'), undefined, 'nothing held once the export is written');
      memo.begin(db.lineage());
      const r1 = memo.get(1, 'r1');
      assert.equal(r1?.kind, 'example', 'read back from the memo file and the dataset');
      const line = fs
        .readFileSync(files.dataset, 'utf8')
        .split('\n')
        .find((l) => l.includes('"task 1"'));
      assert.ok(line?.includes(`,${r1.messages.toString('utf8')}]}`), "its messages are the dataset's bytes");
    });

    it('checks a memo it wrote as one from elsewhere once its dataset changed, even with the same size and CRC', () => {
      recordVaried();
      const exp = exporterIn(agentDir);
      exp.export(store, 'coder');
      // A byte of an example's messages made 0xFF, and four bytes after it set so that the size and CRC-32 are as
      // the memo says: only the digest this process keeps of what it wrote tells the dataset changed.
      const { example } = readMemoFile();
      const bytes = fs.readFileSync(dataset());
      const crc = zlib.crc32(bytes);
      const at = bytes.subarray(example[5]!, example[6]!).indexOf('"content":"') + example[5]! + 12;
      bytes[at] = 0xff;
      forgeCrc(bytes, at + 1, crc);
      assert.equal(zlib.crc32(bytes), crc);
      fs.writeFileSync(dataset(), bytes);

      assertMemoUnused(() => exp.export(store, 'coder'));
    });

    it('puts no line break into a dataset from a memo whose messages are JSON with one', () => {
      recordVaried();
      exporterIn(agentDir).export(store, 'coder');
      // An example's messages given a newline between two of its messages (JSON all the same), the spans after it
      // and the dataset's sum told so.
      const { memo, example } = readMemoFile();
      const old = fs.readFileSync(dataset());
      const at = old.subarray(example[5]!, example[6]!).indexOf('},{') + example[5]! + 2;
      const bytes = Buffer.concat([old.subarray(0, at), Buffer.from('\n'), old.subarray(at)]);
      for (const r of memo.runs as number[][])
        for (let i = 5; i < r.length; i++) if (r[i]! >= at && !(i === 5 && r === example)) r[i]! += 1;
      memo.dataset = { bytes: bytes.length, crc32: zlib.crc32(bytes) };
      fs.writeFileSync(dataset(), bytes);
      fs.writeFileSync(memoFile(), JSON.stringify(memo));

      assertMemoUnused(() => exporterIn(agentDir).export(store, 'coder'));
    });

    it('is used by an export made at once (closing) while a sliced one is still reading it', async () => {
      recordVaried();
      const exp = exporterIn(agentDir);
      exp.export(store, 'coder');
      record(1);
      // The sliced export's read of the memo held at its open, until the one made at once is done.
      const open = fs.promises.open;
      let reading!: () => void;
      const held = new Promise<void>((resolve) => (reading = resolve));
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      fs.promises.open = (async (...args: Parameters<typeof open>) => {
        if (String(args[0]) === memoFile()) {
          reading();
          await released;
        }
        return open(...args);
      }) as typeof open;
      try {
        const counts = countReads();
        const sliced = exp.exportSliced(store, 'coder');
        await held;
        exp.drainNow(); // closing: the export is finished at once
        assert.deepEqual(counts, { read: 1, known: 25 }, 'only the new run is read with its texts');
        release();
        assert.equal((await sliced).count, 23);
      } finally {
        fs.promises.open = open;
      }
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh());
    });

    it('checks a memo file changed since this process wrote it as one from elsewhere', () => {
      recordVaried();
      const exp = exporterIn(agentDir);
      exp.export(store, 'coder');
      const { memo, example } = readMemoFile();
      example[5] = 0; // a span over the whole dataset: newlines, braces
      example[6] = fs.statSync(dataset()).size;
      fs.writeFileSync(memoFile(), JSON.stringify(memo));

      assertMemoUnused(() => exp.export(store, 'coder'));
    });

    it('matches a dataset written in several pieces, however its lines fall across them', async () => {
      recordVaried();
      // Three examples of ~0.5 MiB each (non-ASCII throughout): the dataset is written in pieces of ~1 MiB.
      for (const [i, ch] of ['é', '漢', '🎉'].entries())
        db.insertRun({
          ...toRunRecord(
            { id: `big${i}`, createdAt: 1, taskSlug: 't', role: 'coder', modelId: 'm', promptId: 'default' },
            { input: `big task ${i}`, output: `${ch}x`.repeat(2 ** 18) },
          ),
          reward: 0.9,
        });
      const first = exporterIn(agentDir).export(store, 'coder');
      assert.equal(first.count, 25);
      assert.ok(fs.statSync(dataset()).size > 2 * 2 ** 20, 'the dataset spans several pieces');
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh(), 'the same bytes as an export with no memo');

      const counts = countReads();
      await exporterIn(agentDir).exportSliced(store, 'coder'); // a new process: the memo and the dataset, read back
      assert.deepEqual(counts, { read: 0, known: 28 }, 'the memo matches the dataset written in pieces');
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh());
      const again = countReads();
      exporterIn(agentDir).export(store, 'coder');
      assert.deepEqual(again, { read: 0, known: 28 }, 'and the one the sliced export wrote in pieces too');
    });

    it('is read off the event loop by an export taken in slices, and used', async () => {
      recordVaried();
      exporterIn(agentDir).export(store, 'coder');
      const counts = countReads();
      await exporterIn(agentDir).exportSliced(store, 'coder');
      assert.deepEqual(counts, { read: 0, known: 25 });
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh());
    });

    it('neither follows nor waits on a FIFO where the memo should be', function () {
      if (process.platform === 'win32') this.skip();
      recordVaried();
      fs.mkdirSync(path.join(agentDir, 'sft'));
      execFileSync('mkfifo', [memoFile()]);
      const result = exporterIn(agentDir).export(store, 'coder'); // would hang on a plain open of the FIFO
      assert.equal(result.count, 22);
      assert.equal(fs.readFileSync(dataset(), 'utf8'), fresh());
    });
  });

  it('drops the dataset it writes off the event loop when it was written at once meanwhile (closing), memo intact', async () => {
    for (let i = 0; i < 20; i++) record(0.9);
    const memo = new ExportMemo();
    const file = path.join(agentDir, 'sft', 'coder_sft.jsonl');
    const job = new SftExport(() => db, {
      role: 'coder',
      minReward: 0.7,
      maxExamples: 1000,
      systemPrompt: () => 'system',
      file,
      memo,
    });
    job.step(Infinity);

    const writing = job.finishAsync(); // the sliced export's last step
    const now = job.finish(); // closing: drainNow writes it at once

    await assert.rejects(writing, FinishedMeanwhile);
    assert.equal(now.count, 20);
    assert.equal(fs.readFileSync(file, 'utf8').trim().split('\n').length, 20);
    assert.equal(memo.get(1, 'r1')?.kind, 'example', 'what the export took is remembered once');
    assert.deepEqual(
      fs.readdirSync(path.dirname(file)).filter((f) => f.includes('.tmp-')),
      [],
      'no temp file left',
    );
  });

  it('keeps only the key of a duplicate in its memo, whatever its size', () => {
    const huge = 'y'.repeat(200_000);
    for (let i = 0; i < 50; i++)
      db.insertRun({
        ...toRunRecord(
          { id: `same${i}`, createdAt: i, taskSlug: 't', role: 'coder', modelId: 'm', promptId: 'default' },
          { input: 'the same task', output: huge },
        ),
        reward: 0.9,
      });
    const memo = new ExportMemo();
    exportSft(db, {
      role: 'coder',
      minReward: 0.7,
      maxExamples: 1000,
      systemPrompt: () => '',
      file: path.join(agentDir, 'sft', 'memo.jsonl'),
      memo,
    });
    const kept = Array.from({ length: 50 }, (_, i) => memo.get(50 - i, `same${49 - i}`)?.kind);
    assert.deepEqual(
      kept.filter((k) => k === 'example').length,
      1,
      'one run keeps its messages, the 49 duplicates their keys',
    );
    assert.equal(kept.filter((k) => k === 'key').length, 49);
  });

  it('auto-exports once the role’s high-quality runs since the last export reach minRuns', () => {
    const auto = exporter({ autoExport: { minRuns: 2 } });
    record(1);
    auto.maybeAutoExport(store, 'coder');
    assert.deepEqual(logs, [], 'one run is below the threshold');

    record(1);
    auto.maybeAutoExport(store, 'coder');
    record(1);
    auto.maybeAutoExport(store, 'coder');

    assert.deepEqual(logs, [
      '📦 Auto-exporting SFT dataset for coder...',
      '✅ Exported 2 coder examples to .agent/sft/coder_sft.jsonl',
    ]);
  });

  it('does not auto-export in a process that does not own the store, nor with autoExport off', () => {
    record(1);
    record(1);

    exporter({ autoExport: { minRuns: 1, enabled: false } }).maybeAutoExport(store, 'coder');
    store.isOwner = false;
    exporter({ autoExport: { minRuns: 1 } }).maybeAutoExport(store, 'coder');

    assert.deepEqual(logs, []);
    assert.equal(store.events.last('export', 'coder'), undefined);
  });

  it('tells onTrainingDue when a role’s export reaches autoTrain.minExamples', () => {
    const exports = exporter({ autoTrain: { minExamples: 2 } });
    const exported: ExportResult[] = [];
    const due: TrainingDue[] = [];
    exports.onDidExport((r) => exported.push(r));
    exports.onTrainingDue((d) => due.push(d));
    record(1);
    exports.export(store, 'coder');
    assert.deepEqual(due, [], 'one example is below minExamples');

    record(1);
    exports.export(store, 'coder');

    assert.equal(exported.length, 2);
    assert.deepEqual(due, [
      { role: 'coder', dataset: path.join(agentDir, 'sft', 'coder_sft.jsonl'), examples: 2 },
    ]);
  });

  it('keeps a tier’s export apart: its own files and event, no training due, the role’s count untouched', () => {
    const exports = exporter({ autoTrain: { minExamples: 1 } });
    const due: TrainingDue[] = [];
    exports.onTrainingDue((d) => due.push(d));
    record(1, 'coder', 'large');

    const result = exports.export(store, 'coder', 'large');

    assert.equal(result.count, 1);
    assert.ok(fs.existsSync(path.join(agentDir, 'sft', 'coder-large_sft.jsonl')));
    assert.ok(fs.existsSync(path.join(agentDir, 'last-export-coder-large.txt')));
    assert.equal(store.events.last('export-tier', 'coder')!.data.tier, 'large');
    assert.equal(store.events.last('export', 'coder'), undefined);
    assert.deepEqual(due, []);
    assert.deepEqual(logs, ['✅ Exported 1 coder-large examples to .agent/sft/coder-large_sft.jsonl']);
  });

  it('counts a role of over 100k runs at seed a window at a time, a turn each, runs recorded meanwhile included', async () => {
    // 100,001 runs of one role never exported, written by SQL (inserting them one by one takes 5 s), then opened.
    const image = new (await loadSqlJs()).Database(db.export());
    image.run(
      `WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100001)
       INSERT INTO runs (pk, id, created_at, task_slug, role, model_id, prompt_id, reward)
       SELECT i, 'r' || i, i, 't', 'coder', 'm', 'default', (i % 10) / 10.0 FROM n`,
    );
    image.run(
      `INSERT INTO arm_stats (kind, role, tier, arm, n, reward_sum, reward_sq, cost_sum, cost_n, duration_sum)
       VALUES ('prompt', 'coder', '', 'default', 100001, 0, 0, 0, 0, 0)`,
    );
    db.close();
    const opened = Store.open(await loadSqlJs(), image.export());
    image.close();
    assert.ok(opened instanceof Store);
    db = store.db = opened;
    runs = 100_001;

    let done = false;
    const seeding = exporter({ autoExport: { minReward: 0.7 } })
      .seed(store)
      .then(() => (done = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(done, false, 'still counting after one turn');
    record(0.9); // recorded between two windows
    await seeding;

    assert.equal(db.countHighQualityStep('coder', 0.7, 0, 1), true, 'the count is kept');
    assert.equal(db.countHighQuality('coder', 0.7, 0), 30_000 + 1);

    let closing = false;
    const stopped = exporter({ autoExport: { minReward: 0.5 } }).seed(store, () => closing);
    closing = true; // after its first window
    await stopped;
    assert.equal(db.countHighQualityStep('coder', 0.5, 0, 1), false, 'stopped before the end: not kept');
    assert.equal(
      db.countHighQualityStep('coder', 0.5, 0, 60_000),
      true,
      'the first window was taken: 60k pks more reach the last of 100,002',
    );
    assert.equal(db.countHighQuality('coder', 0.5, 0), 50_000 + 1);
  });

  it('logs a failed auto-export and does not throw', () => {
    record(1);
    fs.writeFileSync(path.join(agentDir, 'sft'), 'a file where the folder goes');

    exporter({ autoExport: { minRuns: 1 } }).maybeAutoExport(store, 'coder');

    assert.equal(logs[0], '📦 Auto-exporting SFT dataset for coder...');
    assert.match(logs[1]!, /^❌ Export for coder failed: /);
  });
});

/**
 * Sets the 4 bytes of `bytes` at `at` so that its CRC-32 is `crc` (CRC-32 is linear: each of those 32 bits flips a
 * fixed set of the CRC's bits, and the ones to flip are found by elimination).
 */
function forgeCrc(bytes: Buffer, at: number, crc: number): void {
  const base = zlib.crc32(bytes);
  const effects: { effect: number; bits: number }[] = [];
  for (let bit = 0; bit < 32; bit++) {
    bytes[at + (bit >> 3)]! ^= 1 << (bit & 7);
    effects.push({ effect: (zlib.crc32(bytes) ^ base) >>> 0, bits: 2 ** bit });
    bytes[at + (bit >> 3)]! ^= 1 << (bit & 7);
  }
  // Gaussian elimination over GF(2): a basis of effects, each with the input bits that make it.
  const basis: { effect: number; bits: number }[] = [];
  for (let { effect, bits } of effects) {
    for (const b of basis)
      if ((effect ^ b.effect) >>> 0 < effect) {
        effect = (effect ^ b.effect) >>> 0;
        bits = (bits ^ b.bits) >>> 0;
      }
    if (effect !== 0) {
      basis.push({ effect, bits });
      basis.sort((x, y) => y.effect - x.effect);
    }
  }
  let want = (base ^ crc) >>> 0;
  let flip = 0;
  for (const b of basis)
    if ((want ^ b.effect) >>> 0 < want) {
      want = (want ^ b.effect) >>> 0;
      flip = (flip ^ b.bits) >>> 0;
    }
  assert.equal(want, 0, 'the CRC can be set');
  for (let bit = 0; bit < 32; bit++) if (flip & (2 ** bit)) bytes[at + (bit >> 3)]! ^= 1 << (bit & 7);
}

/** What a memo file holds, as the tests read and edit it. */
interface MemoJson {
  dataset: { bytes: number; crc32: number };
  runs: unknown[][];
}
