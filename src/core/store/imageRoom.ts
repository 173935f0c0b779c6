// Reading experience.db with room to grow. sql.js's file system keeps a loaded file in an array of exactly its size,
// so the first page a session added copied the whole image into a new array an eighth bigger (25 ms at 100k runs,
// with both arrays in memory until the old one is collected). Loaded with zeroed room after the image, SQLite writes
// its new pages there instead (the database's header gives its size, and what lies past it is free room), and
// nothing is copied until the room is used up (roomFor: a quarter of the database, at least 64 MiB, and as much as
// the inbox about to be imported, up to 1 GiB). The file stays the buffer read here, which is also what lets a save
// take it in slices (liveImage.ts). A save writes only the database's own pages.

import * as fs from 'node:fs';
import { openRegularFile } from '../workspace/regularFile';

/**
 * The least room given. The room is address space more than memory: a buffer this big is mapped by the system
 * without being touched (`Buffer.alloc` asks for zeroed memory, which large allocations get as fresh pages), and a
 * page of it becomes resident only once SQLite writes there. It is counted all the same as V8's external memory
 * and, on Windows, against the commit limit; only the owner of the database, which writes it, gets room.
 */
const ROOM_BYTES = 64 * 1024 * 1024;

/** The most room given for an inbox about to be imported (see roomFor). */
const MAX_INCOMING_ROOM_BYTES = 1024 * 1024 * 1024;

/**
 * The room to give an image of `size` bytes: a quarter of it, or `least` (ROOM_BYTES: 100k runs' worth), or the
 * bytes of the inbox files about to be imported (`incoming`, up to MAX_INCOMING_ROOM_BYTES): an imported run takes
 * far less in the database than its line, its texts going to .agent/texts/. A database that grows past its room in
 * one session is copied whole by sql.js's file system, room included, into an array an eighth bigger, again at each
 * eighth it grows, both arrays resident meanwhile; and its saves fall back to exporting it in one piece.
 */
export function roomFor(size: number, incoming = 0, least = ROOM_BYTES): number {
  return Math.max(Math.ceil(size / 4), least, Math.min(incoming, MAX_INCOMING_ROOM_BYTES));
}

/**
 * Whether SQLite will take the size in the image's header as the database's (header bytes 28-31, valid while the
 * change counter at 24 equals the version-valid-for number at 92; SQLite 3.7.0 and later keep them so) and it is the
 * image's whole length. Otherwise SQLite would count the room as pages of the database, so none is given.
 */
export function headerSizeIsValid(image: Uint8Array): boolean {
  if (image.length < 100) return false;
  const view = new DataView(image.buffer, image.byteOffset, 100);
  const raw = view.getUint16(16);
  const pageSize = raw === 1 ? 65536 : raw;
  const pages = view.getUint32(28);
  return pages > 0 && view.getUint32(24) === view.getUint32(92) && pages * pageSize === image.length;
}

/** The file read into a zeroed buffer with `room` bytes after the image; `image` views the file's own bytes. */
export interface ImageWithRoom {
  image: Uint8Array;
  room: number;
}

/** What readImageWithRoom may be told. */
export interface ImageReadOptions {
  /** Room after the image for the database to grow into (the owner's); none for a reader. Default true. */
  room?: boolean;
  /** What the room is to hold besides (roomFor's `incoming` and `least`). */
  growth?: Growth;
  /** A larger file is not read: ImageTooLargeError. */
  maxBytes?: number;
}

/** What the room is to hold besides a quarter of the image (see roomFor). */
export interface Growth {
  /** The bytes of the inbox files about to be imported. */
  incoming?: number;
  /** The least room (ROOM_BYTES; smaller in tests). */
  least?: number;
}

/** The file is larger than it may be read at; nothing was read. */
export class ImageTooLargeError extends Error {
  constructor(readonly size: number) {
    super(`${size} bytes`);
  }
}

/**
 * Opens the file for reading: a regular file only, never a link followed nor a FIFO waited on (NotAFileError), and
 * its size taken from the open descriptor, which is all that is read.
 */
function openImage(file: string, maxBytes: number): { fd: number; size: number } {
  const { fd, stat } = openRegularFile(file);
  if (stat.size > maxBytes) {
    fs.closeSync(fd);
    throw new ImageTooLargeError(stat.size);
  }
  return { fd, size: stat.size };
}

/** readFileSync, with the room the image may take (roomFor; none when its header does not give its size). */
export function readImageWithRoomSync(file: string, options: ImageReadOptions = {}): ImageWithRoom {
  const { fd, size } = openImage(file, options.maxBytes ?? Infinity);
  try {
    const buffer = options.room === false ? Buffer.alloc(size) : bufferWithRoom(size, options.growth);
    let read = 0;
    while (read < size) {
      const n = fs.readSync(fd, buffer, read, size - read, read);
      if (n === 0) break; // shrunk meanwhile: what was there is what was read
      read += n;
    }
    return readInto(buffer, read);
  } finally {
    fs.closeSync(fd);
  }
}

/** readImageWithRoomSync with the read on libuv's threads. */
export async function readImageWithRoom(
  file: string,
  options: ImageReadOptions = {},
): Promise<ImageWithRoom> {
  const { fd, size } = openImage(file, options.maxBytes ?? Infinity);
  try {
    const buffer = options.room === false ? Buffer.alloc(size) : bufferWithRoom(size, options.growth);
    let read = 0;
    while (read < size) {
      const n = await new Promise<number>((resolve, reject) =>
        fs.read(fd, buffer, read, size - read, read, (err, bytesRead) =>
          err ? reject(err) : resolve(bytesRead),
        ),
      );
      if (n === 0) break;
      read += n;
    }
    return readInto(buffer, read);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A zeroed buffer for `size` bytes and their room; with the least room when the system will not give that much (a
 * RangeError past Buffer's largest length, or out of memory), and without any as a last resort, as before there was
 * room.
 */
function bufferWithRoom(size: number, growth: Growth = {}): Buffer {
  for (const incoming of [growth.incoming ?? 0, 0]) {
    try {
      return Buffer.alloc(size + roomFor(size, incoming, growth.least));
    } catch {
      // less, then none
    }
  }
  return Buffer.alloc(size);
}

/** `image` copied into a buffer with the room roomFor gives it (none when its header does not give its size). */
export function withRoom(image: Uint8Array, growth?: Growth): ImageWithRoom {
  const buffer = bufferWithRoom(image.length, growth);
  buffer.set(image);
  return readInto(buffer, image.length);
}

function readInto(buffer: Buffer, read: number): ImageWithRoom {
  const image = buffer.subarray(0, read);
  return { image, room: headerSizeIsValid(image) ? buffer.length - read : 0 };
}
