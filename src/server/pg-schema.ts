// The PostgreSQL layout shared by the relays, its migration (once, under an advisory lock,
// whoever starts first), and the names the commit path and the doorbell share.

import type pg from 'pg';
import type { DocId } from '../engine/index.ts';
import { EngineError } from '../engine/index.ts';

export const NOTIFY_CHANNEL = 'ledgerday_ops';
/** Bumped when the table layout changes. */
export const SCHEMA_VERSION = 1;
/** pg_advisory_lock key for migrations ("LDMIGRAT" as an int8). */
const MIGRATION_LOCK = '5495749368620925268';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ld_meta (key text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS ld_device (id int PRIMARY KEY CHECK (id = 1), record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS ld_heads (doc text PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS ld_docs (
  doc text PRIMARY KEY, genesis text NOT NULL, heads text NOT NULL, seq bigint NOT NULL,
  own_last text, own_ctr bigint NOT NULL, extra text
);
CREATE TABLE IF NOT EXISTS ld_ops (
  doc text NOT NULL, seq bigint NOT NULL, id text NOT NULL, author text NOT NULL,
  ctr bigint NOT NULL, wall_time bigint NOT NULL, kind smallint NOT NULL, parents text NOT NULL,
  prev text, bytes bytea NOT NULL, vv text NOT NULL, mfront text NOT NULL, body text NOT NULL,
  PRIMARY KEY (doc, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS ld_ops_by_id ON ld_ops (doc, id);
CREATE INDEX IF NOT EXISTS ld_ops_by_chain ON ld_ops (doc, author, ctr);
CREATE INDEX IF NOT EXISTS ld_ops_membership ON ld_ops (doc, seq) WHERE kind = 2;
CREATE TABLE IF NOT EXISTS ld_entities (doc text NOT NULL, entity text NOT NULL, registers text NOT NULL, PRIMARY KEY (doc, entity));
CREATE TABLE IF NOT EXISTS ld_pending (doc text NOT NULL, id text NOT NULL, bytes bytea NOT NULL, missing text NOT NULL, PRIMARY KEY (doc, id));
CREATE TABLE IF NOT EXISTS ld_evidence (doc text NOT NULL, author text NOT NULL, ctr bigint NOT NULL, ops text NOT NULL, PRIMARY KEY (doc, author, ctr));
CREATE TABLE IF NOT EXISTS ld_held (
  id text PRIMARY KEY, doc text NOT NULL, author text NOT NULL, wall_time bigint NOT NULL,
  bytes bytea NOT NULL, received_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS ld_held_by_time ON ld_held (wall_time);
`;

export const OP_COLS = 'doc, seq, id, author, ctr, wall_time, kind, parents, prev, bytes, vv, mfront, body';

/** A commit refused because another writer moved the calendar's head first (nothing was written). */
export class StaleCommitError extends EngineError {
  readonly doc: DocId;
  constructor(doc: DocId, message: string) {
    super('Storage', `stale commit: ${message}`);
    this.doc = doc;
  }
}

export async function migrate(pool: pg.Pool): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      await c.query('CREATE TABLE IF NOT EXISTS ld_meta (key text PRIMARY KEY, value bigint NOT NULL)');
      const r = await c.query("SELECT value FROM ld_meta WHERE key = 'schema'");
      const version = (r.rows[0]?.value as number | undefined) ?? 0;
      if (version > SCHEMA_VERSION)
        throw new EngineError(
          'Storage',
          `database schema ${version} is newer than this relay (${SCHEMA_VERSION})`,
        );
      if (version < SCHEMA_VERSION) {
        await c.query('BEGIN');
        await c.query(SCHEMA);
        await c.query(
          "INSERT INTO ld_meta (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO UPDATE SET value = $1",
          [SCHEMA_VERSION],
        );
        await c.query('COMMIT');
      }
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    }
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
}
