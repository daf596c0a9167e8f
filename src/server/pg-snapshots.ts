// The snapshot tables (RELAY-25) in the PostgreSQL database several relays share: a snapshot
// uploaded through one relay is served by every relay. The contract is SnapshotStore's
// (snapshot-store.ts). Commits may run with synchronous_commit=off (the relays' pool); `durable()`
// is the same barrier the op log uses (one synchronous transaction flushes the WAL past them).

import { type DocId, EngineError } from '../engine/index.ts';
import type { PgStore } from './pg-store.ts';
import {
  rowToEndorsement,
  rowToSnapshot,
  type SnapshotRow,
  type SnapshotStore,
  type StoredEndorsement,
  type StoredSnapshot,
  snapshotArgs,
} from './snapshot-store.ts';
import { bufferOf, ownBytes } from './store-rows.ts';

/** pg_advisory_lock key for this migration ("LDSNAPSH" as an int8). */
const LOCK = '5495755023318583368';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ld_snapshots (
  doc text NOT NULL, id text NOT NULL, signer text NOT NULL, wall_time bigint NOT NULL,
  frontier text NOT NULL, chunk_count int NOT NULL, base_seq bigint NOT NULL,
  frontier_seq bigint NOT NULL, manifest bytea NOT NULL, complete boolean NOT NULL,
  PRIMARY KEY (doc, id)
);
CREATE TABLE IF NOT EXISTS ld_snapshot_chunks (
  doc text NOT NULL, snapshot text NOT NULL, idx int NOT NULL, bytes bytea NOT NULL,
  PRIMARY KEY (doc, snapshot, idx)
);
CREATE TABLE IF NOT EXISTS ld_endorsements (
  doc text NOT NULL, snapshot text NOT NULL, endorser text NOT NULL, bytes bytea NOT NULL,
  PRIMARY KEY (doc, snapshot, endorser)
);
`;

export class PgSnapshots implements SnapshotStore {
  private constructor(private readonly pg: PgStore) {}

  /** Creates the tables (once across relays, under an advisory lock). */
  static async open(pg: PgStore): Promise<PgSnapshots> {
    const c = await pg.pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1)', [LOCK]);
      try {
        await c.query(SCHEMA);
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [LOCK]).catch(() => undefined);
      }
    } finally {
      c.release();
    }
    return new PgSnapshots(pg);
  }

  private async q<R extends Record<string, unknown>>(sql: string, args: unknown[]): Promise<R[]> {
    return (await this.pg.tx('snapshots', (c) => c.query<R>(sql, args))).rows;
  }

  async putManifest(s: Omit<StoredSnapshot, 'complete'>): Promise<boolean> {
    const rows = await this.q(
      'INSERT INTO ld_snapshots (doc, id, signer, wall_time, frontier, chunk_count, base_seq, frontier_seq, manifest, complete) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false) ON CONFLICT (doc, id) DO NOTHING RETURNING id',
      snapshotArgs(s),
    );
    return rows.length > 0;
  }

  async putChunk(doc: DocId, id: string, index: number, bytes: Uint8Array): Promise<void> {
    await this.q(
      'INSERT INTO ld_snapshot_chunks (doc, snapshot, idx, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT (doc, snapshot, idx) DO UPDATE SET bytes = excluded.bytes',
      [doc, id, index, bufferOf(bytes)],
    );
  }

  async chunksHeld(doc: DocId, id: string): Promise<number[]> {
    const rows = await this.q<{ idx: number }>(
      'SELECT idx FROM ld_snapshot_chunks WHERE doc = $1 AND snapshot = $2 ORDER BY idx',
      [doc, id],
    );
    return rows.map((r) => r.idx);
  }

  async markComplete(doc: DocId, id: string): Promise<void> {
    await this.q('UPDATE ld_snapshots SET complete = true WHERE doc = $1 AND id = $2', [doc, id]);
  }

  async getSnapshot(doc: DocId, id: string): Promise<StoredSnapshot | undefined> {
    const rows = await this.q<SnapshotRow & Record<string, unknown>>(
      'SELECT * FROM ld_snapshots WHERE doc = $1 AND id = $2',
      [doc, id],
    );
    return rows[0] === undefined ? undefined : rowToSnapshot(rows[0]);
  }

  async listSnapshots(doc: DocId): Promise<StoredSnapshot[]> {
    const rows = await this.q<SnapshotRow & Record<string, unknown>>(
      'SELECT * FROM ld_snapshots WHERE doc = $1 AND complete ORDER BY frontier_seq DESC, wall_time DESC, id DESC',
      [doc],
    );
    return rows.map(rowToSnapshot);
  }

  async getChunk(doc: DocId, id: string, index: number): Promise<Uint8Array | undefined> {
    const rows = await this.q<{ bytes: Buffer }>(
      'SELECT bytes FROM ld_snapshot_chunks WHERE doc = $1 AND snapshot = $2 AND idx = $3',
      [doc, id, index],
    );
    return rows[0] === undefined ? undefined : ownBytes(rows[0].bytes);
  }

  async putEndorsement(e: StoredEndorsement): Promise<boolean> {
    const rows = await this.q(
      'INSERT INTO ld_endorsements (doc, snapshot, endorser, bytes) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING endorser',
      [e.doc, e.snapshot, e.endorser, bufferOf(e.bytes)],
    );
    return rows.length > 0;
  }

  async endorsementsOf(doc: DocId, id: string): Promise<StoredEndorsement[]> {
    const rows = await this.q<{ doc: string; snapshot: string; endorser: string; bytes: Buffer }>(
      'SELECT * FROM ld_endorsements WHERE doc = $1 AND snapshot = $2 ORDER BY endorser',
      [doc, id],
    );
    return rows.map(rowToEndorsement);
  }

  async allEndorsements(doc: DocId): Promise<StoredEndorsement[]> {
    const rows = await this.q<{ doc: string; snapshot: string; endorser: string; bytes: Buffer }>(
      'SELECT * FROM ld_endorsements WHERE doc = $1 ORDER BY snapshot, endorser',
      [doc],
    );
    return rows.map(rowToEndorsement);
  }

  async dropIncomplete(doc: DocId, id: string): Promise<void> {
    await this.pg.tx('snapshots', async (c) => {
      const r = await c.query('DELETE FROM ld_snapshots WHERE doc = $1 AND id = $2 AND NOT complete', [
        doc,
        id,
      ]);
      if ((r.rowCount ?? 0) > 0)
        await c.query('DELETE FROM ld_snapshot_chunks WHERE doc = $1 AND snapshot = $2', [doc, id]);
    });
  }

  armDrop(doc: DocId, ids: readonly string[], abortIf?: () => string | undefined): void {
    if (ids.length === 0 && abortIf === undefined) {
      this.pg.armPrune(doc, undefined);
      return;
    }
    const list = [...ids];
    // Runs inside the pruning commit's transaction (PgStore.armPrune): all of it or none.
    this.pg.armPrune(doc, async (c) => {
      const why = abortIf?.();
      if (why !== undefined) throw new EngineError('Storage', `pruning abandoned: ${why}`);
      for (const t of ['ld_snapshot_chunks', 'ld_endorsements'])
        await c.query(`DELETE FROM ${t} WHERE doc = $1 AND snapshot = ANY($2)`, [doc, list]);
      await c.query('DELETE FROM ld_snapshots WHERE doc = $1 AND id = ANY($2)', [doc, list]);
    });
  }

  durable(): Promise<void> {
    return this.pg.barrier();
  }

  async bytesStored(): Promise<number> {
    const rows = await this.q<{ n: number }>(
      'SELECT (SELECT coalesce(sum(octet_length(bytes)), 0) FROM ld_snapshot_chunks) + (SELECT coalesce(sum(octet_length(manifest)), 0) FROM ld_snapshots) + (SELECT coalesce(sum(octet_length(bytes)), 0) FROM ld_endorsements) AS n',
      [],
    );
    return Number(rows[0]?.n ?? 0);
  }
}
