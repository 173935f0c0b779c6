import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import nodeFs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { holdFdatasync, type HeldFdatasync } from '../../../support/heldFdatasync';
import { NotAFileError } from '../../../../src/core/errors';
import {
  InboxWriter,
  newInboxFileName,
  readInboxFile,
  writerMayAppend,
  type InboxEntry,
  type InboxRead,
} from '../../../../src/core/store/inbox';

const OPEN_ONCE = path.resolve(__dirname, '../../../fixtures/openOnce.ts');

const feedback = (runId: string): InboxEntry => ({ type: 'feedback', runId, verdict: 'accept', at: 1 });
const line = (entry: object) => JSON.stringify(entry) + '\n';
/** Each line's number and what became of it: the run id or verdict's run id, or the error's first words. */
const outcomes = (read: InboxRead) =>
  read.lines.map((l) => [l.lineNumber, l.entry?.type === 'feedback' ? l.entry.runId : l.error?.slice(0, 24)]);

/** The synchronous fsyncs (a directory's, on the event loop) that `fn` made. */
function fsyncsDuring(fn: () => void): number {
  const fsyncSync = nodeFs.fsyncSync;
  let fsyncs = 0;
  nodeFs.fsyncSync = (fd) => {
    fsyncs++;
    fsyncSync(fd);
  };
  try {
    fn();
  } finally {
    nodeFs.fsyncSync = fsyncSync;
  }
  return fsyncs;
}

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

    it('does not read a file read to its end again to number its lines, until it grows', () => {
      const file = path.join(dir, 'agent.jsonl');
      fs.writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => line(feedback(`r-${i}`))).join(''));
      const size = fs.statSync(file).size;
      const readSync = nodeFs.readSync;
      let bytesRead = 0;
      nodeFs.readSync = ((...args: Parameters<typeof readSync>) => {
        const n = readSync(...args);
        bytesRead += n;
        return n;
      }) as typeof readSync;
      let read: InboxRead;
      try {
        read = readInboxFile(file, { offset: size }); // a cursor saved in the database: no line number
      } finally {
        nodeFs.readSync = readSync;
      }
      assert.deepEqual([read.lines, read.endOffset, read.more], [[], size, false]);
      assert.ok(bytesRead <= 4096, `${bytesRead} bytes read of ${size}: the mark before the cursor at most`);

      fs.appendFileSync(file, 'not json\n');
      const grown = readInboxFile(file, read.next);

      assert.deepEqual(outcomes(grown), [[20_001, 'not a JSON object (an en']]);
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

    it('makes its file ready off the event loop: the first entry then neither syncs the directory nor grows the file', async () => {
      const writer = new InboxWriter(dir, () => 1000);
      await writer.prepare();
      const file = writer.currentFile;
      assert.equal(fs.statSync(file).size, 64 * 1024, 'created with its first chunk');
      const fsyncs = fsyncsDuring(() => writer.append(feedback('r-1')));
      writer.close();
      assert.equal(fsyncs, 0, 'no fsync of the directory on the event loop');
      assert.equal(fs.statSync(file).size, 64 * 1024, 'written into the chunk made ready');
      assert.deepEqual(
        readInboxFile(file, 0).lines.map((l) => l.entry),
        [feedback('r-1')],
      );
    });

    it('syncs the directory itself for an entry written before the file made ready is synced', () => {
      const writer = new InboxWriter(dir, () => 1000);
      void writer.prepare(); // its syncs run on libuv's threads; the append comes first
      const fsyncs = fsyncsDuring(() => writer.append(feedback('r-1')));
      writer.close();
      assert.equal(fsyncs, 1, "the new file's name is on disk before the append returns");
      assert.deepEqual(
        readInboxFile(writer.currentFile, 0).lines.map((l) => l.entry),
        [feedback('r-1')],
      );
    });

    it('leaves no zeros before the first entry when the disk filled while the file was made ready', () => {
      const writer = new InboxWriter(dir, () => 1000);
      const writeSync = nodeFs.writeSync;
      let calls = 0;
      // The chunk's zeros: the first 4 KiB go down, then the disk is full.
      (nodeFs as { writeSync: unknown }).writeSync = (fd: number, data: Buffer, ...rest: unknown[]) => {
        if (calls++ === 0) return writeSync(fd, data.subarray(0, 4096), 0, 4096, rest[2] as number);
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      };
      try {
        void writer.prepare();
      } finally {
        nodeFs.writeSync = writeSync;
      }
      assert.equal(calls, 2, 'the chunk was cut short');

      writer.append(feedback('r-1')); // the space is back
      writer.close();

      assert.deepEqual(
        readInboxFile(writer.currentFile, 0).lines.map((l) => l.entry),
        [feedback('r-1')],
        'the entry is where readers look: from the start of the file',
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

  describe('InboxWriter group commit (write + whenDurable)', () => {
    let held: HeldFdatasync;
    beforeEach(() => (held = holdFdatasync((file) => file.startsWith(fs.realpathSync(dir)))));
    afterEach(() => held.restore());

    /** Lets the microtask that starts a shared fdatasync run. */
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

    /** Whether the promise has settled (by the end of the current turn). */
    function settled(p: Promise<void>): () => boolean {
      let done = false;
      p.then(
        () => (done = true),
        () => (done = true),
      );
      return () => done;
    }

    // Linux reports a writeback error once per open file and marks the pages clean: the next fdatasync succeeds
    // without writing them. No later success may vouch for entries written before a failure.
    const eio = () => Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });

    it('never calls an entry durable that only a failed fdatasync covered, whatever later ones say', async () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.write(feedback('r-1'));
      const first = writer.whenDurable();
      await turn();
      held.syncs[0]!.finish(eio());
      await assert.rejects(first, /EIO/);
      // Asked again with nothing written since (the same run sent again would be): still the failure.
      await assert.rejects(writer.whenDurable(), /EIO/);
      // New entries are synced anew and are durable once that fdatasync succeeds.
      writer.write(feedback('r-2'));
      const second = writer.whenDurable();
      await turn();
      assert.equal(held.syncs.length, 2);
      held.syncs[1]!.finish();
      await second;
    });

    it("has a new journal's name on disk before a synchronous append to it returns, while a shared sync runs", async () => {
      // Directory fsyncs that have completed, on the event loop (fsyncSync) or on libuv's threads (FileHandle.sync).
      let dirSyncs = 0;
      const realFsyncSync = nodeFs.fsyncSync;
      const realOpen = nodeFs.promises.open;
      nodeFs.fsyncSync = (fd: number) => {
        realFsyncSync(fd);
        if (nodeFs.fstatSync(fd).isDirectory()) dirSyncs++;
      };
      nodeFs.promises.open = (async (...args: Parameters<typeof realOpen>) => {
        const handle = await realOpen(...args);
        if ((await handle.stat()).isDirectory()) {
          const sync = handle.sync.bind(handle);
          handle.sync = async () => {
            await sync();
            dirSyncs++;
          };
        }
        return handle;
      }) as typeof realOpen;
      try {
        const writer = new InboxWriter(dir, () => 1000);
        writer.write(feedback('r-1')); // a gateway run, the first in a new journal file
        const shared = writer.whenDurable();
        await Promise.resolve(); // its shared fdatasync has started
        writer.append(feedback('r-2')); // an API caller's verdict: recorded once append returns
        assert.equal(dirSyncs, 1, "the journal's name was on disk before r-2 was acknowledged");
        held.syncs[0]!.finish();
        await shared;
        writer.close();
      } finally {
        nodeFs.fsyncSync = realFsyncSync;
        nodeFs.promises.open = realOpen;
      }
    });

    it('answers a waiting group with the error when a synchronous append on the same file fails', async () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.write(feedback('r-1')); // a gateway run: its shared fdatasync is to start after this turn
      const shared = writer.whenDurable();
      const realSync = nodeFs.fdatasyncSync;
      nodeFs.fdatasyncSync = () => {
        throw eio();
      };
      try {
        assert.throws(() => writer.append(feedback('r-2')), /EIO/); // an API caller in the same turn
      } finally {
        nodeFs.fdatasyncSync = realSync;
      }
      await assert.rejects(shared, /EIO/, 'the shared run is not acknowledged by a later, empty fdatasync');
      assert.equal(held.calls, 0, 'no shared fdatasync ran to vouch for it');
    });

    it('puts the entries written together on disk with one fdatasync, before either caller hears of it', async () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.write(feedback('r-1'));
      const first = writer.whenDurable();
      writer.write(feedback('r-2'));
      const second = writer.whenDurable();
      const firstDone = settled(first);
      const secondDone = settled(second);
      await turn();
      assert.equal(held.syncs.length, 1, 'one fdatasync for both');
      assert.equal(
        held.syncs[0]!.data,
        line(feedback('r-1')) + line(feedback('r-2')),
        'both written before it',
      );
      assert.equal(firstDone() || secondDone(), false, 'neither is durable before its fdatasync ends');
      held.syncs[0]!.finish();
      await Promise.all([first, second]);
      assert.equal(held.syncCalls, 0, 'none on the event loop');
      assert.deepEqual(outcomes(readInboxFile(writer.currentFile, 0)), [
        [1, 'r-1'],
        [2, 'r-2'],
      ]);
      writer.close();
    });

    it('gives the entries written while an fdatasync runs the next one, shared', async () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.write(feedback('r-1'));
      const first = writer.whenDurable();
      await turn();
      writer.write(feedback('r-2'));
      const second = writer.whenDurable();
      writer.write(feedback('r-3'));
      const third = writer.whenDurable();
      await turn();
      assert.equal(held.syncs.length, 1, 'the second waits for the first to end');
      held.syncs[0]!.finish();
      await first;
      await turn();
      assert.equal(held.syncs.length, 2);
      assert.equal(settled(second)() || settled(third)(), false);
      held.syncs[1]!.finish();
      await Promise.all([second, third]);
      assert.equal(held.syncs.length, 2, 'one fdatasync for the two written meanwhile');
      writer.close();
    });

    it('rejects every caller an fdatasync covered when it fails, and goes on with the next entries', async () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.write(feedback('r-1'));
      const first = writer.whenDurable();
      writer.write(feedback('r-2'));
      const second = writer.whenDurable();
      await turn();
      const eio = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      held.syncs[0]!.finish(eio);
      await assert.rejects(first, /EIO/);
      await assert.rejects(second, /EIO/);
      writer.write(feedback('r-3'));
      const third = writer.whenDurable();
      await turn();
      held.syncs[1]!.finish();
      await third;
      writer.close();
    });

    it('syncs a file rotated away before its fdatasync ran, on its own descriptor, before closing it', async () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.write(feedback('r-1'));
      const durable = writer.whenDurable();
      const old = writer.rotate(); // a save's rotation, in the same turn
      await turn();
      assert.equal(held.syncs.length, 1);
      assert.equal(fs.fstatSync(held.syncs[0]!.fd).ino, fs.statSync(old).ino, 'the rotated file, still open');
      held.syncs[0]!.finish();
      await durable;
      assert.deepEqual(outcomes(readInboxFile(old, 0)), [[1, 'r-1']]);
    });

    it('append still puts its entry on disk before it returns, with what write left unsynced', () => {
      const writer = new InboxWriter(dir, () => 1000);
      writer.write(feedback('r-1'));
      writer.append(feedback('r-2'));
      assert.equal(held.syncCalls, 1);
      assert.equal(held.syncs.length, 0);
      return writer.whenDurable().then(() => writer.close());
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

    it("keeps reading an agent's file past a zero byte, reporting the line that holds it", () => {
      const file = path.join(dir, 'agent.jsonl');
      fs.writeFileSync(
        file,
        line(feedback('r-1')) + '{"type":"feedback","runId":"r\u0000-2"}\n' + line(feedback('r-3')),
      );

      const read = readInboxFile(file, 0, true);

      assert.deepEqual(outcomes(read), [
        [1, 'r-1'],
        [2, 'the line contains a zero'],
        [3, 'r-3'],
      ]);
      assert.equal(read.dataEnd, fs.statSync(file).size, 'the whole file is data');
      assert.equal(read.endOffset, read.dataEnd);
    });

    it('reads a file an agent rewrote in place with other, longer content again from its start', () => {
      const file = path.join(dir, 'agent.jsonl');
      fs.writeFileSync(file, line(feedback('r-1')));
      const first = readInboxFile(file, 0);
      const ino = fs.statSync(file).ino;

      fs.writeFileSync(file, line(feedback('r-2-a-longer-id')) + line(feedback('r-3')));
      assert.equal(fs.statSync(file).ino, ino, 'rewritten in place');
      const next = readInboxFile(file, first.next);

      assert.equal(next.rewound, true);
      assert.deepEqual(outcomes(next), [
        [1, 'r-2-a-longer-id'],
        [2, 'r-3'],
      ]);
    });

    it('goes on where it stopped when the file only grew', () => {
      const file = path.join(dir, 'agent.jsonl');
      fs.writeFileSync(file, line(feedback('r-1')));
      const first = readInboxFile(file, 0);

      fs.appendFileSync(file, line(feedback('r-2')));
      const next = readInboxFile(file, first.next);

      assert.equal(next.rewound, false);
      assert.deepEqual(outcomes(next), [[2, 'r-2']]);
    });

    it('numbers lines from the start of the file when reading on from a bare offset (saved progress)', () => {
      const file = path.join(dir, 'agent.jsonl');
      fs.writeFileSync(file, line(feedback('r-1')) + '\n' + line(feedback('r-2')));
      const offset = fs.statSync(file).size;
      fs.appendFileSync(file, '{not json\n');

      assert.deepEqual(outcomes(readInboxFile(file, offset)), [[4, 'not valid JSON']]);
    });

    it('reports and skips a line over the limit without holding it whole, and reads the lines around it', () => {
      const file = path.join(dir, 'agent.jsonl');
      const limits = { maxLineBytes: 2 * 1024 * 1024, batchBytes: 64 * 1024 * 1024 };
      // 1.5 MiB and 3 MiB lines both cross the reader's 1 MiB chunks.
      const run = (id: string, bytes: number): InboxEntry => ({
        type: 'run',
        id,
        taskSlug: 't',
        modelId: 'm',
        promptId: 'p',
        result: { input: 'x'.repeat(bytes), output: 'o' },
      });
      const big = run('big', 1_500_000);
      const tooLong = JSON.stringify(run('too-long', 3 * 1024 * 1024));
      fs.writeFileSync(
        file,
        line(feedback('r-1')) + line(big) + tooLong + '\n' + line(feedback('r-4')) + tooLong, // no newline at the end
      );

      const read = readInboxFile(file, 0, true, limits);

      const message = `the line is ${tooLong.length} bytes long, more than the 2097152 bytes one entry may have`;
      assert.deepEqual(
        read.lines.map((l) => [l.lineNumber, l.error ?? 'ok']),
        [
          [1, 'ok'],
          [2, 'ok'],
          [3, message],
          [4, 'ok'],
          [5, message],
        ],
      );
      assert.deepEqual(read.lines[1]!.entry, big);
      assert.equal(read.endOffset, fs.statSync(file).size);
    });

    it('returns about batchBytes of lines per read, and the next read goes on from there', () => {
      const file = path.join(dir, 'agent.jsonl');
      fs.writeFileSync(file, [1, 2, 3].map((i) => line(feedback(`r-${i}`))).join(''));
      const limits = { maxLineBytes: 1000, batchBytes: 1 };

      const reads = [readInboxFile(file, 0, false, limits)];
      while (reads.at(-1)!.more) reads.push(readInboxFile(file, reads.at(-1)!.next, false, limits));

      assert.deepEqual(reads.map(outcomes), [[[1, 'r-1']], [[2, 'r-2']], [[3, 'r-3']]]);
    });

    it('bounds a batch of blank or one-byte lines too: they count against batchBytes and batchLines', () => {
      for (const junk of ['\n', 'x\n']) {
        const file = path.join(dir, 'junk.jsonl');
        fs.writeFileSync(file, junk.repeat(100_000) + line(feedback('r-after')));

        const byLines = readInboxFile(file, 0, true, {
          maxLineBytes: 1000,
          batchBytes: 1 << 30,
          batchLines: 500,
        });
        const byBytes = readInboxFile(file, 0, true, {
          maxLineBytes: 1000,
          batchBytes: 64 * 1024,
          batchLines: 1e9,
        });

        assert.ok(byLines.more && byLines.next.line === 500, `${JSON.stringify(junk)}: 500 lines per read`);
        assert.ok(byLines.lines.length <= 500);
        assert.ok(
          byBytes.more && byBytes.next.line! <= 1000,
          `${JSON.stringify(junk)}: ${byBytes.next.line} lines`,
        );
        // Read on, every line is reached, the run after the junk included.
        const reads = [byLines];
        const limits = { maxLineBytes: 1000, batchBytes: 1 << 30, batchLines: 20_000 };
        while (reads.at(-1)!.more) reads.push(readInboxFile(file, reads.at(-1)!.next, true, limits));
        assert.deepEqual(reads.at(-1)!.lines.at(-1)!.entry, feedback('r-after'));
        assert.equal(reads.at(-1)!.next.line, 100_001);
      }
    });

    it('refuses a directory or a symbolic link in place of a file, leaving the link target unread', () => {
      fs.mkdirSync(path.join(dir, 'folder.jsonl'));
      const outside = path.join(dir, 'outside.txt');
      fs.writeFileSync(outside, line(feedback('r-1')));
      fs.symlinkSync(outside, path.join(dir, 'link.jsonl'));

      for (const name of ['folder.jsonl', 'link.jsonl']) {
        assert.throws(
          () => readInboxFile(path.join(dir, name), 0, true),
          (err: unknown) => err instanceof NotAFileError && err.path === path.join(dir, name),
        );
      }
    });

    it('refuses a FIFO at once instead of waiting for a writer', function () {
      this.timeout(60_000);
      const fifo = path.join(dir, 'pipe.jsonl');
      execFileSync('mkfifo', [fifo]);

      const child = spawnSync(process.execPath, ['--import', 'tsx', OPEN_ONCE, 'inbox', fifo], {
        encoding: 'utf8',
        timeout: 30_000,
      });

      assert.equal(child.signal, null, 'it did not hang');
      assert.deepEqual(JSON.parse(child.stdout), {
        error: 'NotAFileError',
        message: `${fifo} is a FIFO (named pipe), not a file; it was left as it is.`,
      });
    });

    it('reads a file that is not there as empty', () => {
      const read = readInboxFile(path.join(dir, 'gone.jsonl'), 10);

      assert.deepEqual(
        { lines: read.lines, endOffset: read.endOffset, dataEnd: read.dataEnd, tornTail: read.tornTail },
        { lines: [], endOffset: 10, dataEnd: 10, tornTail: false },
      );
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
