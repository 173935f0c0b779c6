// The database file as sql.js holds it, watched, so that a save copies it a slice at a time instead of all at once.
//
// sql.js keeps the database file in its in-memory file system (MEMFS) as one array, and `db.export()` copies it
// into a new one in a single call: 48 ms at 100k runs and half a second at 1M with the event loop held, and the image
// twice in memory meanwhile. A file loaded from a buffer with room after it (imageRoom.ts) is kept by MEMFS as a view
// of that buffer, which it takes with the buffer's `slice()` (sql.js 1.16, MEMFS.write of a new file). The buffer
// handed to sql.js here gives out a view whose `set()` (the one call MEMFS writes file bytes with) tells us first.
// That makes two things possible:
// - a synchronous save writes the file's bytes straight from the view, with no copy at all;
// - a background save takes the image as it was when the save began, a slice per turn, copying a region SQLite is
//   about to overwrite before it does (copy on write), while runs go on being recorded.
//
// MEMFS moves the file to a new array when it grows past the buffer or is truncated (a vacuum, or SQLite cutting
// back what a rolled-back transaction had spilled past the file's end); the view then no longer sees SQLite's writes.
// Both copy the old file out with `subarray(0, its length)`, which the view also watches: SQLite itself never reads
// more than a page (64 KiB at most) at once. The store also says when it vacuums (`detach`), and the database's size
// and page count are checked against the view's header before each save. A save without a view that is still the
// file falls back to `db.export()`, as before. Tests compare snapshots with the file's bytes and with SQLite's own
// reading of them, under writes between the slices, growth past the room, rollbacks and vacuums, so that a sql.js
// whose file system works otherwise fails them rather than a user's save.

import * as zlib from 'node:zlib';
import type { ImageSum } from './imageSum';

/** SQLite's largest page: a read of the file is never longer. MEMFS copying the file out is. */
const MAX_PAGE_BYTES = 65536;
const subarray = Uint8Array.prototype.subarray;
/**
 * Copy-on-write granularity: a write preserves the blocks it touches that the snapshot has not taken yet. A page of
 * the store's (8 KiB): SQLite writes a page at a time, and runs recorded or imported while a 1M-run image was taken
 * wrote pages all over its indexes, each of which cost a 64 KiB block before (up to 50 MiB held at once).
 */
const BLOCK_BYTES = 8 * 1024;
/**
 * What a background save copies, sums and hands to the file system per turn of the event loop: a 32nd of the image,
 * from 1 to 4 MiB (sliceBytes). 4 MiB always before: the buffer it is copied into, new at each save, kept a later
 * session at 100k runs (a 29 MiB image) 5-8 MiB higher at its close, and the close took 240-270 ms there (180 ms
 * with 1 MiB). A 1M-run image (294 MiB) keeps 4 MiB: a turn per MiB is 294 turns a save.
 */
const MIN_SLICE_BYTES = 1024 * 1024;
const MAX_SLICE_BYTES = 4 * 1024 * 1024;

function sliceBytes(size: number): number {
  const slice = Math.ceil(size / 32 / BLOCK_BYTES) * BLOCK_BYTES;
  return Math.min(MAX_SLICE_BYTES, Math.max(MIN_SLICE_BYTES, slice));
}

/** A save's image: taken from the live file in slices (LiveImage), or an export in one piece (exportedImage). */
export interface ImageToSave {
  /** Its length in bytes. */
  readonly size: number;
  /**
   * Its bytes, in slices with the event loop let run before each; each slice must be used (written) before the next
   * is asked for, as the same buffer may be reused. Throws if the snapshot was superseded (by a synchronous save,
   * or the store closing).
   */
  slices(): AsyncIterable<Uint8Array>;
  /** Its bytes at once, for a save done synchronously: valid only until the database is next written. */
  whole(): Uint8Array;
  /** The size and CRC-32 of what `slices()` gave, once they were all taken. */
  sum(): ImageSum | undefined;
  /** Stops watching for writes (a save that will not read it any further). */
  release(): void;
}

/** An image exported in one piece (db.export()), given out in slices for the sum's sake. */
export function exportedImage(image: Uint8Array): ImageToSave {
  let sum: ImageSum | undefined;
  return {
    size: image.length,
    async *slices() {
      let crc = 0;
      for (let at = 0; at < image.length; at += MAX_SLICE_BYTES) {
        await nextTurn();
        const slice = image.subarray(at, at + MAX_SLICE_BYTES);
        crc = zlib.crc32(slice, crc);
        yield slice;
      }
      sum = { size: image.length, crc32: crc };
    },
    whole: () => image,
    sum: () => sum,
    release: () => undefined,
  };
}

/** What LiveImage.load gives: the bytes to open sql.js with, and the watcher of the file they become. */
export interface LoadedImage {
  bytes: Uint8Array;
  live: LiveImage;
}

export class LiveImage {
  /** The file as MEMFS holds it (image and room), once sql.js took it; undefined before, or when never given out. */
  private view: Uint8Array | undefined;
  private detached = false;
  /** Writes to the view seen (until one is, nothing shows that SQLite writes there). */
  private writesSeen = 0;
  private current: LiveSnapshot | undefined;

  private constructor() {}

  /**
   * The image with its room after it (imageRoom.ts), as a buffer whose `slice()` gives sql.js a watched view. Without
   * room there is nothing to watch (MEMFS copies a file without room as soon as it grows): every save exports.
   */
  static load(image: Uint8Array, room: number): LoadedImage {
    const live = new LiveImage();
    if (room <= 0) return { bytes: image, live };
    const bytes = Buffer.from(image.buffer, image.byteOffset, image.length + room);
    // MEMFS.write of the new file: `node.contents = buffer.slice(offset, offset + length)`.
    Object.defineProperty(bytes, 'slice', {
      value: (start = 0, end = bytes.length) => live.watch(bytes, start, end),
      configurable: true,
    });
    return { bytes, live };
  }

  /** A file that is not watched (one sql.js made itself): every save exports. */
  static none(): LiveImage {
    return new LiveImage();
  }

  private watch(bytes: Buffer, start: number, end: number): Uint8Array {
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset + start, Math.max(0, end - start));
    const write = Uint8Array.prototype.set;
    Object.defineProperties(view, {
      set: {
        value: (source: ArrayLike<number>, offset = 0) => {
          this.writesSeen++;
          this.current?.beforeWrite(offset, source.length);
          write.call(view, source, offset);
        },
        configurable: true,
      },
      subarray: {
        // MEMFS.read takes a page or less; expandFileStorage and resizeFileStorage take the whole file from 0.
        value: (begin?: number, end?: number) => {
          if ((begin ?? 0) === 0 && (end ?? view.length) > MAX_PAGE_BYTES) this.detach();
          return subarray.call(view, begin, end);
        },
        configurable: true,
      },
    });
    this.view = view;
    return view;
  }

  /**
   * The file is no longer (or is about to be no longer) this view: MEMFS copies it into a new array to truncate or
   * grow it. A snapshot under way goes on: every write before the copy went through the view, none after it does.
   */
  detach(): void {
    this.detached = true;
    this.view = undefined; // the image and its room are garbage once sql.js lets go of them too
  }

  /** Bytes a snapshot under way holds copied (copy on write) until it takes them; 0 when none is. */
  copiesHeld(): number {
    return this.current?.copiesHeld() ?? 0;
  }

  /** Resolves once the snapshot under way holds at most `bytes` copied, or is over; at once when none is. */
  copiesAtMost(bytes: number): Promise<void> {
    return this.current?.copiesAtMost(bytes) ?? Promise.resolve();
  }

  /** The database is closed: a snapshot under way is superseded (a save still writing it stops), the view dropped. */
  close(): void {
    this.current?.cancel();
    this.current = undefined;
    this.detach();
  }

  /**
   * Whether the file of `size` bytes (the database's pages) is still this view: given out, written through at least
   * once (so MEMFS writes this view, as the sql.js this was made for does), not truncated, not grown past it.
   */
  watching(size: number, pages: number): boolean {
    const view = this.view;
    if (view === undefined || this.detached || this.writesSeen === 0) return false;
    if (size > view.length) {
      this.detach(); // grown past it: MEMFS holds a new array, whatever it was asked for
      return false;
    }
    // The header SQLite keeps up to date at each commit (its size in pages, bytes 28-31): a stale view's is not.
    const header = new DataView(view.buffer, view.byteOffset, 100);
    if (header.getUint32(28) !== pages) {
      this.detach();
      return false;
    }
    return true;
  }

  /**
   * The first `size` bytes of the file as they are now, to be taken in slices while the database is written; the
   * previous snapshot, if any, is superseded. Only when `watching(…)`.
   */
  snapshot(size: number): ImageToSave {
    if (!this.view || this.detached) throw new Error('the database file is not watched');
    this.current?.cancel();
    const snapshot = new LiveSnapshot(this.view, size, () => {
      if (this.current === snapshot) this.current = undefined;
    });
    this.current = snapshot;
    return snapshot;
  }
}

class LiveSnapshot implements ImageToSave {
  /** Blocks from here on have not been taken yet: a write to one preserves it first. */
  private nextBlock = 0;
  private readonly blocks: number;
  /** The original bytes of blocks written to before they were taken. */
  private readonly preserved = new Map<number, Uint8Array>();
  private cancelled = false;
  private started = false;
  private done: ImageSum | undefined;
  /** Taken, cancelled or released: it copies nothing more. */
  private over = false;
  /** Who waits for the copies to come down (copiesAtMost). */
  private waiters: { bytes: number; resolve: () => void }[] = [];

  constructor(
    private readonly view: Uint8Array,
    readonly size: number,
    private readonly onRelease: () => void,
  ) {
    this.blocks = Math.ceil(size / BLOCK_BYTES);
  }

  beforeWrite(offset: number, length: number): void {
    if (length <= 0) return;
    const first = Math.max(this.nextBlock, Math.floor(offset / BLOCK_BYTES));
    const last = Math.min(this.blocks - 1, Math.floor((offset + length - 1) / BLOCK_BYTES));
    for (let block = first; block <= last; block++) {
      if (this.preserved.has(block)) continue;
      const start = block * BLOCK_BYTES;
      this.preserved.set(block, this.view.slice(start, Math.min(this.size, start + BLOCK_BYTES)));
    }
  }

  copiesHeld(): number {
    return this.preserved.size * BLOCK_BYTES;
  }

  copiesAtMost(bytes: number): Promise<void> {
    if (this.over || this.copiesHeld() <= bytes) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ bytes, resolve }));
  }

  /** Lets go of those waiting for copies that are now few enough (or for a snapshot now over). */
  private wake(): void {
    const waiting: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.over || this.copiesHeld() <= w.bytes) w.resolve();
      else waiting.push(w);
    }
    this.waiters = waiting;
  }

  cancel(): void {
    this.cancelled = true;
    this.over = true;
    this.preserved.clear();
    this.wake();
  }

  async *slices(): AsyncIterable<Uint8Array> {
    if (this.started) throw new Error('a snapshot is taken once');
    this.started = true;
    const sliceSize = sliceBytes(this.size);
    const out = Buffer.allocUnsafe(Math.min(sliceSize, this.size));
    let crc = 0;
    try {
      for (let at = 0; at < this.size;) {
        await nextTurn();
        if (this.cancelled) throw new Error('superseded by a later snapshot');
        const end = Math.min(this.size, at + sliceSize);
        let filled = 0;
        for (; at < end; at += BLOCK_BYTES, this.nextBlock++) {
          const block = this.preserved.get(this.nextBlock);
          const bytes = block ?? subarray.call(this.view, at, Math.min(this.size, at + BLOCK_BYTES));
          out.set(bytes, filled);
          filled += bytes.length;
          if (block) this.preserved.delete(this.nextBlock);
        }
        const slice = out.subarray(0, filled);
        crc = zlib.crc32(slice, crc);
        this.wake();
        yield slice;
      }
      this.done = { size: this.size, crc32: crc };
    } finally {
      this.release();
    }
  }

  whole(): Uint8Array {
    if (this.started || this.cancelled) throw new Error('a snapshot under way is taken in slices');
    this.release();
    return subarray.call(this.view, 0, this.size);
  }

  sum(): ImageSum | undefined {
    return this.done;
  }

  release(): void {
    this.nextBlock = this.blocks; // no more copies on write
    this.over = true;
    this.preserved.clear();
    this.wake();
    this.onRelease();
  }
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
