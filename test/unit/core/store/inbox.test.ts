import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  InboxWriter,
  newInboxFileName,
  readInboxFile,
  writerMayAppend,
  type InboxEntry,
} from '../../../../src/core/store/inbox';

const feedback = (runId: string): InboxEntry => ({ type: 'feedback', runId, verdict: 'accept', at: 1 });
const line = (entry: object) => JSON.stringify(entry) + '\n';

describe('inbox', () => {
  let dir: string;

  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'al-inbox-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe('InboxWriter and readInboxFile', () => {
    it('reads back what the writer appended, stopping at the zeros the journal is grown ahead with', () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.append(feedback('r-1'));
      writer.append(feedback('r-2'));
      writer.close();
      const data = Buffer.byteLength(line(feedback('r-1')) + line(feedback('r-2')));
      assert.ok(fs.statSync(writer.currentFile).size > data, 'grown ahead of the data');

      const read = readInboxFile(writer.currentFile, 0);

      assert.deepEqual(
        read.lines.map((l) => [l.lineNumber, l.offset, l.entry]),
        [
          [1, 0, feedback('r-1')],
          [2, data / 2, feedback('r-2')],
        ],
      );
      assert.equal(read.dataEnd, data);
      assert.equal(read.endOffset, data);
    });

    it('reads on from where the last read ended', () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.append(feedback('r-1'));
      const first = readInboxFile(writer.currentFile, 0);

      writer.append(feedback('r-2'));
      writer.close();
      const next = readInboxFile(writer.currentFile, first.endOffset);

      assert.deepEqual(
        next.lines.map((l) => [l.offset, l.entry]),
        [[first.endOffset, feedback('r-2')]],
      );
    });

    it('appends to a new file after rotate, and hands back the old one to remove once saved', () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.append(feedback('r-1'));

      const old = writer.rotate();
      writer.append(feedback('r-2'));
      writer.close();

      assert.notEqual(writer.currentFile, old);
      assert.deepEqual(readInboxFile(old, 0).lines[0]?.entry, feedback('r-1'));
      assert.deepEqual(readInboxFile(writer.currentFile, 0).lines[0]?.entry, feedback('r-2'));
    });

    it('writes to the inbox again after the owner removed its file, so no entry lands in a deleted file', () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.append(feedback('r-1'));
      fs.rmSync(writer.currentFile);

      writer.append(feedback('r-2'));
      writer.close();

      assert.deepEqual(
        readInboxFile(writer.currentFile, 0).lines.map((l) => l.entry),
        [feedback('r-2')],
      );
    });

    it('marks a finished journal .closed.jsonl, and renames nothing when nothing was written', () => {
      const idle = new InboxWriter(dir, () => 1000);
      assert.equal(idle.finish(), undefined);
      assert.deepEqual(fs.readdirSync(dir), []);

      const writer = new InboxWriter(dir, () => 1000);
      writer.append(feedback('r-1'));
      const closed = writer.finish();

      assert.match(path.basename(closed ?? ''), /\.closed\.jsonl$/);
      assert.deepEqual(fs.readdirSync(dir), [path.basename(closed!)]);
      assert.deepEqual(readInboxFile(closed!, 0).lines[0]?.entry, feedback('r-1'));
    });
  });

  describe('readInboxFile', () => {
    it('leaves a last line without a newline for later while its writer may still finish it', () => {
      const file = path.join(dir, 'agent.jsonl');
      fs.writeFileSync(file, line(feedback('r-1')) + JSON.stringify(feedback('r-2')));

      const read = readInboxFile(file, 0);

      assert.deepEqual(
        read.lines.map((l) => l.entry),
        [feedback('r-1')],
      );
      assert.equal(read.endOffset, Buffer.byteLength(line(feedback('r-1'))));
      assert.equal(read.tornTail, false);
    });

    it('takes a complete last line once its writer is gone, and drops a torn one', () => {
      const file = path.join(dir, 'agent.jsonl');
      const whole = line(feedback('r-1')) + JSON.stringify(feedback('r-2'));
      fs.writeFileSync(file, whole);

      const finished = readInboxFile(file, 0, true);
      assert.deepEqual(
        finished.lines.map((l) => l.entry),
        [feedback('r-1'), feedback('r-2')],
      );
      assert.equal(finished.tornTail, false);

      fs.writeFileSync(file, line(feedback('r-1')) + '{"type":"feedback","ru');
      const torn = readInboxFile(file, 0, true);
      assert.deepEqual(
        torn.lines.map((l) => l.entry),
        [feedback('r-1')],
      );
      assert.equal(torn.tornTail, true);
      assert.equal(torn.endOffset, fs.statSync(file).size, 'the torn line is not read again');
    });

    it('reports lines that are not JSON or not an entry by line number and field, and skips blank ones', () => {
      const file = path.join(dir, 'agent.jsonl');
      fs.writeFileSync(
        file,
        '\uFEFF' +
          line(feedback('r-1')) +
          '\n' +
          '{not json\n' +
          line({ type: 'feedback', verdict: 'accept' }) +
          line({ type: 'rating', runId: 'r-1' }),
      );

      const read = readInboxFile(file, 0);

      assert.deepEqual(
        read.lines.map((l) => [l.lineNumber, l.entry === undefined ? l.error?.split(':')[0] : 'ok']),
        [
          [1, 'ok'],
          [3, 'not valid JSON'],
          [4, 'runId'],
          [5, 'type'],
        ],
      );
    });

    it('reads a file that is not there as empty', () => {
      const read = readInboxFile(path.join(dir, 'gone.jsonl'), 10);

      assert.deepEqual(read, { lines: [], endOffset: 10, dataEnd: 10, tornTail: false });
    });
  });

  describe('journal names', () => {
    it('sort by the time they were made', () => {
      const names = [newInboxFileName(1_000_000_000_000), newInboxFileName(5), newInboxFileName(99_999)];

      assert.deepEqual(
        [...names].sort().map((n) => Number(n.split('-')[0])),
        [5, 99_999, 1_000_000_000_000],
      );
    });

    it('let a journal of ours be appended to while its process lives, whatever its age', async () => {
      const ours = newInboxFileName(1000);
      const dead = spawn('node', ['-e', '0']);
      await new Promise((resolve) => dead.once('exit', resolve));
      const theirs = ours.replace(`-${process.pid}-`, `-${dead.pid}-`);
      const longAgo = Date.now() - 3_600_000;

      assert.equal(writerMayAppend(ours, longAgo, Date.now()), true);
      assert.equal(writerMayAppend(theirs, Date.now(), Date.now()), false);
    });

    it("count an agent's own file as finished once untouched for a minute", () => {
      const now = Date.now();

      assert.equal(writerMayAppend('my-agent.jsonl', now - 30_000, now), true);
      assert.equal(writerMayAppend('my-agent.jsonl', now - 61_000, now), false);
    });
  });
});
