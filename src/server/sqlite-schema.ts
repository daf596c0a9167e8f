// The relay's SQLite file: its tables (one schema version; `migrate` in sqlite-open.ts refuses a newer
// file) and the statements the store prepares once.

import type Database from 'better-sqlite3';

/**
 * Bumped when the table layout changes; `migrate` upgrades older files in place.
 * 2: `docs.extra` (the doc record's other fields as JSON, as PostgreSQL's `ld_docs.extra`: the
 * SNAP-17 mark of a pruned calendar).
 */
export const SCHEMA_VERSION = 2;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  record BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS docs (
  doc TEXT PRIMARY KEY,
  genesis TEXT NOT NULL,
  heads TEXT NOT NULL,
  seq INTEGER NOT NULL,
  own_last TEXT,
  own_ctr INTEGER NOT NULL,
  extra TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ops (
  doc TEXT NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL,
  author TEXT NOT NULL,
  ctr INTEGER NOT NULL,
  wall_time INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  parents TEXT NOT NULL,
  prev TEXT,
  bytes BLOB NOT NULL,
  vv TEXT NOT NULL,
  mfront TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (doc, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS ops_by_id ON ops (doc, id);
CREATE INDEX IF NOT EXISTS ops_by_chain ON ops (doc, author, ctr);
CREATE INDEX IF NOT EXISTS ops_by_kind ON ops (doc, kind) WHERE kind = 2;
CREATE TABLE IF NOT EXISTS entities (
  doc TEXT NOT NULL,
  entity TEXT NOT NULL,
  registers TEXT NOT NULL,
  PRIMARY KEY (doc, entity)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
  doc TEXT NOT NULL,
  id TEXT NOT NULL,
  bytes BLOB NOT NULL,
  missing TEXT NOT NULL,
  PRIMARY KEY (doc, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS evidence (
  doc TEXT NOT NULL,
  author TEXT NOT NULL,
  ctr INTEGER NOT NULL,
  ops TEXT NOT NULL,
  PRIMARY KEY (doc, author, ctr)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS held (
  id TEXT PRIMARY KEY,
  doc TEXT NOT NULL,
  author TEXT NOT NULL,
  wall_time INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS held_by_time ON held (wall_time);
CREATE INDEX IF NOT EXISTS held_by_author ON held (author);
`;

const OP_COLS = 'doc, seq, id, author, ctr, wall_time, kind, parents, prev, bytes, vv, mfront, body';

/** Every statement the store runs, by name; prepared once per open file. */
const SQL = {
  getDevice: 'SELECT record FROM device WHERE id = 1',
  putDevice: 'INSERT OR REPLACE INTO device (id, record) VALUES (1, ?)',
  getMeta: 'SELECT value FROM meta WHERE key = ?',
  putClock:
    "INSERT INTO meta (key, value) VALUES ('clock', ?) ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
  maxSeq: 'SELECT max(seq) AS s FROM ops WHERE doc = ?',
  listDocs: 'SELECT doc FROM docs ORDER BY doc',
  getDoc: 'SELECT * FROM docs WHERE doc = ?',
  putDoc:
    'INSERT OR REPLACE INTO docs (doc, genesis, heads, seq, own_last, own_ctr, extra) VALUES (?, ?, ?, ?, ?, ?, ?)',
  deleteOp: 'DELETE FROM ops WHERE doc = ? AND id = ?',
  insertOp: `INSERT INTO ops (${OP_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  updateBody: 'UPDATE ops SET body = ? WHERE doc = ? AND id = ?',
  getOp: `SELECT ${OP_COLS} FROM ops WHERE doc = ? AND id = ?`,
  getSeq: 'SELECT seq FROM ops WHERE doc = ? AND id = ?',
  // INDEXED BY: with ORDER BY id the planner preferred walking the whole calendar in id order
  // (ops_by_id), which made every apply O(log size) -> O(size): 1.7 ms per op at 2,000 ops (measured).
  getByChain: `SELECT ${OP_COLS} FROM ops INDEXED BY ops_by_chain WHERE doc = ? AND author = ? AND ctr = ?`,
  listOps: `SELECT ${OP_COLS} FROM ops WHERE doc = ? AND seq > ? ORDER BY seq LIMIT ?`,
  listOpBytes: 'SELECT seq, id, bytes FROM ops WHERE doc = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?',
  listOpMeta: 'SELECT seq, id, author, ctr, vv FROM ops WHERE doc = ? AND seq > ? ORDER BY seq LIMIT ?',
  listMembership: `SELECT ${OP_COLS} FROM ops WHERE doc = ? AND kind = 2 ORDER BY seq`,
  listEntities: 'SELECT entity, registers FROM entities WHERE doc = ? ORDER BY entity',
  putEntity: 'INSERT OR REPLACE INTO entities (doc, entity, registers) VALUES (?, ?, ?)',
  listPending: 'SELECT id, bytes, missing FROM pending WHERE doc = ? ORDER BY id',
  listPendingIds: 'SELECT id FROM pending WHERE doc = ?',
  getPending: 'SELECT missing FROM pending WHERE doc = ? AND id = ?',
  putPending: 'INSERT OR REPLACE INTO pending (doc, id, bytes, missing) VALUES (?, ?, ?, ?)',
  deletePending: 'DELETE FROM pending WHERE doc = ? AND id = ?',
  listEvidence: 'SELECT author, ctr, ops FROM evidence WHERE doc = ? ORDER BY author, ctr',
  putEvidence: 'INSERT OR REPLACE INTO evidence (doc, author, ctr, ops) VALUES (?, ?, ?, ?)',
  putHeld:
    'INSERT OR IGNORE INTO held (id, doc, author, wall_time, bytes, received_at) VALUES (?, ?, ?, ?, ?, ?)',
  getHeld: 'SELECT id FROM held WHERE id = ?',
  dueHeld: 'SELECT * FROM held WHERE wall_time <= ? ORDER BY wall_time, id LIMIT ?',
  countHeldByAuthor: 'SELECT count(*) AS n FROM held WHERE author = ?',
  bytesHeldByAuthor: 'SELECT coalesce(sum(length(bytes)), 0) AS n FROM held WHERE author = ?',
  allHeld: 'SELECT * FROM held ORDER BY wall_time, id',
  listMissing: 'SELECT missing FROM pending WHERE doc = ?',
  countPending: 'SELECT count(*) AS n FROM pending',
  allPending: 'SELECT id, doc, bytes FROM pending',
  dropOrphanPending: 'DELETE FROM pending WHERE doc NOT IN (SELECT doc FROM docs)',
  getOpBytes: 'SELECT seq, bytes FROM ops WHERE doc = ? AND id = ?',
  countHeld: 'SELECT count(*) AS n FROM held',
  nextHeld: 'SELECT min(wall_time) AS t FROM held',
  deleteHeld: 'DELETE FROM held WHERE id = ?',
} as const;

export type Statements = { [K in keyof typeof SQL]: Database.Statement };

export function prepare(db: Database.Database): Statements {
  return Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, db.prepare(sql)])) as Statements;
}
