// Runs as a workspace saved them, read without our store: the database with an independent SQLite
// (better-sqlite3), and each run's texts from .agent/texts/ by the layout textSegments.ts documents, decoded here
// on their own (so a change to the layout that the documentation does not follow fails these tests).

import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import Database from 'better-sqlite3';

/** One record of a text segment, at `offset` with `length`, decoded by the documented layout. */
export function readTextRecord(
  agentDir: string,
  segment: number,
  offset: number,
  length: number,
): { id: string; input: string; output: string } {
  const file = path.join(agentDir, 'texts', `${String(segment).padStart(6, '0')}.seg`);
  const record = Buffer.alloc(length);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, record, 0, length, offset);
  } finally {
    fs.closeSync(fd);
  }
  if (record.toString('latin1', 0, 4) !== 'ALTX' || record[4] !== 1)
    throw new Error('not a version 1 record');
  const idLength = record.readUInt32LE(8);
  const payloadLength = record.readUInt32LE(12);
  const inputLength = record.readUInt32LE(16);
  const id = record.toString('utf8', 24, 24 + idLength);
  const payload = record.subarray(24 + idLength, 24 + idLength + payloadLength);
  if (zlib.crc32(record.subarray(24, 24 + idLength + payloadLength)) !== record.readUInt32LE(20)) {
    throw new Error('checksum mismatch');
  }
  const plain = record[5] === 1 ? zlib.inflateRawSync(payload) : payload;
  return { id, input: plain.toString('utf8', 0, inputLength), output: plain.toString('utf8', inputLength) };
}

/** Every run in `.agent/experience.db` (all its columns), with `input` and `output` wherever they are kept. */
export function savedRunsWithTexts(
  agentDir: string,
): (Record<string, unknown> & { input: string; output: string })[] {
  const db = new Database(path.join(agentDir, 'experience.db'), { readonly: true, fileMustExist: true });
  try {
    const rows = db
      .prepare(
        `SELECT r.*, t.input AS t_input, t.output AS t_output, x.segment, x.offset, x.length FROM runs r
         LEFT JOIN run_texts t ON t.pk = r.pk LEFT JOIN run_text_refs x ON x.pk = r.pk ORDER BY r.pk`,
      )
      .all() as Record<string, unknown>[];
    return rows.map(({ t_input, t_output, segment, offset, length, ...run }) => {
      if (t_input !== null) return { ...run, input: t_input as string, output: t_output as string };
      const record = readTextRecord(agentDir, segment as number, offset as number, length as number);
      if (record.id !== run.id)
        throw new Error(`the record at ${String(offset)} is ${record.id}'s, not ${String(run.id)}'s`);
      return { ...run, input: record.input, output: record.output };
    });
  } finally {
    db.close();
  }
}
