// Reading experience.db with room to grow. sql.js's file system keeps a loaded file in an array of exactly its size,
// so the first page a session added copied the whole image into a new array an eighth bigger (25 ms at 100k runs,
// with both arrays in memory until the old one is collected). Loaded with some zeroed room after the image, SQLite
// writes its new pages there instead (the database's header gives its size, and what lies past it is free room), and
// nothing is copied until the room is used up: ROOM_BYTES, some 6,000 runs, more than most sessions add. The room is
// held in memory (sql.js copies it with the image), so it is kept small. The image sql.js exports has only the
// database's own pages.

import * as fs from 'node:fs';

/** Below this, growing costs little (sql.js doubles small files): no room. */
const ROOM_FROM_BYTES = 1024 * 1024;
const ROOM_BYTES = 2 * 1024 * 1024;

/** The room to give an image of `size` bytes (none for a small one). */
export function roomFor(size: number): number {
  return size < ROOM_FROM_BYTES ? 0 : ROOM_BYTES;
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

/** readFileSync, with the room the image may take (roomFor; none when its header does not give its size). */
export function readImageWithRoomSync(file: string): ImageWithRoom {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buffer = Buffer.alloc(size + roomFor(size));
    let read = 0;
    while (read < size) {
      const n = fs.readSync(fd, buffer, read, size - read, read);
      if (n === 0) break; // shrunk meanwhile: what was there is what was read
      read += n;
    }
    return withRoom(buffer, read);
  } finally {
    fs.closeSync(fd);
  }
}

/** readImageWithRoomSync with the read on libuv's threads. */
export async function readImageWithRoom(file: string): Promise<ImageWithRoom> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const buffer = Buffer.alloc(size + roomFor(size));
    let read = 0;
    while (read < size) {
      const { bytesRead } = await handle.read(buffer, read, size - read, read);
      if (bytesRead === 0) break;
      read += bytesRead;
    }
    return withRoom(buffer, read);
  } finally {
    await handle.close();
  }
}

function withRoom(buffer: Buffer, read: number): ImageWithRoom {
  const image = buffer.subarray(0, read);
  return { image, room: headerSizeIsValid(image) ? buffer.length - read : 0 };
}

/**
 * The image with its room after it, as sql.js is to load it: a Buffer over the same memory. sql.js's file system
 * takes a new file's bytes with `slice()`, which for a Buffer is a view, so it keeps this buffer as the file, image
 * and room, with no copy (as it kept the Buffer readFile gave before there was room); the room's pages stay untouched
 * until SQLite writes there.
 */
export function imageAndRoom({ image, room }: ImageWithRoom): Uint8Array {
  return room > 0 ? Buffer.from(image.buffer, image.byteOffset, image.length + room) : image;
}
