// Opening the relay's SQLite file: the pragmas of the chosen durability, the schema and its
// migrations, and the fsync at open that makes what a crash left in the page cache durable.

import { closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { EngineError } from '../engine/index.ts';
import { SCHEMA, SCHEMA_VERSION } from './sqlite-schema.ts';

/** How a commit is made durable; see `SqliteStoreOptions.durability`. */
export type Durability = 'full' | 'barrier' | 'none';

/** Opens (or creates) the file with its pragmas and brings its schema to `SCHEMA_VERSION`. */
export function openDatabase(path: string, durability: Durability): Database.Database {
  const db = new Database(path);
  // A new file returns the pages pruning frees (SNAP-17) to the file system, a slice at a
  // time (`reclaim`); chosen before the WAL and the first table, or it does not take. An
  // older file reuses them for its next writes instead.
  const tables = (db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n;
  if (tables === 0) db.pragma('auto_vacuum = INCREMENTAL');
  db.pragma('journal_mode = WAL');
  // See SqliteStoreOptions.durability: FULL fsyncs per commit, NORMAL leaves it to syncDurable().
  db.pragma(
    durability === 'full'
      ? 'synchronous = FULL'
      : durability === 'none'
        ? 'synchronous = OFF'
        : 'synchronous = NORMAL',
  );
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new EngineError(
      'Storage',
      `database schema ${version} is newer than this relay (${SCHEMA_VERSION})`,
    );
  }
  db.exec(SCHEMA);
  // 1 -> 2: the doc record's other fields (SNAP-17's mark), kept by a relay that prunes.
  const cols = db.pragma('table_info(docs)') as { name: string }[];
  if (!cols.some((c) => c.name === 'extra')) db.exec('ALTER TABLE docs ADD COLUMN extra TEXT');
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

/**
 * RELAY-15: after a crash (SIGKILL) the WAL's tail may sit only in the OS page cache: what a
 * 'barrier' relay committed but had not yet fsynced. It is fsynced here, before anything read
 * from the file is treated as durable (acked, forwarded).
 */
export function syncOnOpen(path: string, fsync: (fd: number) => void): void {
  if (path === ':memory:') return;
  for (const file of [path, `${path}-wal`]) {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
    } catch {
      continue; // no WAL yet
    }
    try {
      fsync(fd);
    } finally {
      closeSync(fd);
    }
  }
}
