// Loads sql.js once per process, finding sql-wasm.wasm beside the bundle (dist/) or in node_modules (tests), and
// warms it a statement per turn of the event loop before anyone opens a database with it.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import initSqlJs, { type Database, type SqlJsStatic } from 'sql.js';

let loading: Promise<SqlJsStatic> | undefined;

export function loadSqlJs(): Promise<SqlJsStatic> {
  loading ??= initSqlJs({ locateFile: (file: string) => locateWasm(file) }).then(async (SQL) => {
    await warmUp(SQL);
    return SQL;
  });
  return loading;
}

/**
 * The first statements a fresh process runs cost far more than later ones: sql.js's code is compiled and SQLite set
 * up on first use. Opening the store ran them all in one piece (30–40 ms with a 4 MB database, the editor frozen
 * meanwhile); run here on a throwaway database, one step a turn, they leave that open 2–7 ms.
 */
async function warmUp(SQL: SqlJsStatic): Promise<void> {
  let db: Database | undefined;
  const steps: ((db: Database) => void)[] = [
    (d) => d.exec('PRAGMA user_version'),
    (d) =>
      d.exec(
        'CREATE TABLE t (pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, r REAL); CREATE INDEX t_r ON t (r, pk)',
      ),
    (d) => {
      const insert = d.prepare('INSERT INTO t VALUES (?, ?, ?)');
      insert.run([1, 'a', 0.5]);
      insert.free();
    },
    (d) =>
      d.exec(
        "SAVEPOINT w; UPDATE t SET r = 0.7 WHERE id = 'a'; RELEASE w; SELECT COUNT(*) FROM t WHERE r >= 0.1 AND pk > 0",
      ),
    (d) => d.export(),
  ];
  try {
    db = new SQL.Database();
    for (const step of steps) {
      await nextTurn();
      step(db);
    }
  } catch {
    // Only a head start: whatever failed here fails again, and is reported, where the store uses it.
  } finally {
    db?.close();
  }
}

function locateWasm(file: string): string {
  const beside = path.join(__dirname, file);
  if (fs.existsSync(beside)) return beside;
  return require.resolve(`sql.js/dist/${file}`);
}
