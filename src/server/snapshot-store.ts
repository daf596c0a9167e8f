// Where the relay keeps snapshots (RELAY-25): each snapshot's signed manifest, its ciphertext
// chunks and the endorsements of it, per calendar, beside the op log. One interface, two
// implementations: the SQLite file of a single relay (here) and the PostgreSQL database several
// relays share (pg-snapshots.ts); one contract suite runs against both (snapshot-store.test.ts).
// Invariants:
// - A snapshot is served (listed) only once `complete`: its manifest and every chunk are stored,
//   each chunk checked against the manifest's hash of it before it was written.
// - Every write is one transaction; what was written is durable after `durable()` (the relay
//   answers SnapshotStored and forwards endorsements only after it), so a SIGKILL at any point
//   loses nothing acknowledged and leaves at most an incomplete upload, which is never served.

import type Database from 'better-sqlite3';
import { type DeviceId, type DocId, EngineError, type OpId } from '../engine/index.ts';
import type { SqliteStore } from './sqlite-store.ts';
import { bufferOf, joinIds, ownBytes, splitIds } from './store-rows.ts';

/** A snapshot as the relay stores it (the manifest's fields the relay reads, and the manifest). */
export interface StoredSnapshot {
  doc: DocId;
  /** The manifest's hash, hex: the snapshot's name on the wire. */
  id: string;
  signer: DeviceId;
  wallTime: number;
  frontier: OpId[];
  chunkCount: number;
  /** Every op with seq ≤ baseSeq is covered by the frontier: a start streams the tail after it. */
  baseSeq: number;
  /** Highest seq among the frontier's ops: newer snapshots have higher ones. */
  frontierSeq: number;
  manifest: Uint8Array;
  complete: boolean;
}

export interface StoredEndorsement {
  doc: DocId;
  snapshot: string;
  endorser: DeviceId;
  bytes: Uint8Array;
}

export interface SnapshotStore {
  /** Stores a manifest (not complete yet). False when it was already stored. */
  putManifest(s: Omit<StoredSnapshot, 'complete'>): Promise<boolean>;
  putChunk(doc: DocId, id: string, index: number, bytes: Uint8Array): Promise<void>;
  /** Chunk numbers stored of a snapshot. */
  chunksHeld(doc: DocId, id: string): Promise<number[]>;
  /** Marks a snapshot complete (every chunk is stored). */
  markComplete(doc: DocId, id: string): Promise<void>;
  getSnapshot(doc: DocId, id: string): Promise<StoredSnapshot | undefined>;
  /** Complete snapshots of a calendar, newest first (frontier seq, then wall time, then id). */
  listSnapshots(doc: DocId): Promise<StoredSnapshot[]>;
  getChunk(doc: DocId, id: string, index: number): Promise<Uint8Array | undefined>;
  /** Stores an endorsement; false when this endorser's endorsement of it was already stored. */
  putEndorsement(e: StoredEndorsement): Promise<boolean>;
  endorsementsOf(doc: DocId, id: string): Promise<StoredEndorsement[]>;
  /** Every endorsement stored in a calendar (SNAP-10 at admission reads them). */
  allEndorsements(doc: DocId): Promise<StoredEndorsement[]>;
  /** Deletes an incomplete snapshot and its chunks (an abandoned or refused upload). */
  dropIncomplete(doc: DocId, id: string): Promise<void>;
  /**
   * SNAP-17, RELAY-30: the next commit of the op log that prunes `doc` also deletes these
   * snapshots (their manifests, chunks and endorsements), in its own transaction: a snapshot whose
   * covered ops were pruned is never served. An empty list disarms. `abortIf`, asked inside the
   * transaction: a reason makes the whole commit fail (nothing pruned, nothing dropped).
   */
  armDrop(doc: DocId, ids: readonly string[], abortIf?: () => string | undefined): void;
  /** Makes every write so far durable (the barrier before an answer). */
  durable(): Promise<void>;
  /** Bytes stored in snapshot tables (benchmarks). */
  bytesStored(): Promise<number>;
}

export const SQLITE_SNAPSHOT_SCHEMA = `
CREATE TABLE IF NOT EXISTS snapshots (
  doc TEXT NOT NULL,
  id TEXT NOT NULL,
  signer TEXT NOT NULL,
  wall_time INTEGER NOT NULL,
  frontier TEXT NOT NULL,
  chunk_count INTEGER NOT NULL,
  base_seq INTEGER NOT NULL,
  frontier_seq INTEGER NOT NULL,
  manifest BLOB NOT NULL,
  complete INTEGER NOT NULL,
  PRIMARY KEY (doc, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS snapshot_chunks (
  doc TEXT NOT NULL,
  snapshot TEXT NOT NULL,
  idx INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (doc, snapshot, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS endorsements (
  doc TEXT NOT NULL,
  snapshot TEXT NOT NULL,
  endorser TEXT NOT NULL,
  bytes BLOB NOT NULL,
  PRIMARY KEY (doc, snapshot, endorser)
) WITHOUT ROWID;
`;

export interface SnapshotRow {
  doc: string;
  id: string;
  signer: string;
  wall_time: number;
  frontier: string;
  chunk_count: number;
  base_seq: number;
  frontier_seq: number;
  manifest: Buffer;
  complete: number | boolean;
}

export function rowToSnapshot(r: SnapshotRow): StoredSnapshot {
  return {
    doc: r.doc as DocId,
    id: r.id,
    signer: r.signer as DeviceId,
    wallTime: Number(r.wall_time),
    frontier: splitIds<OpId>(r.frontier),
    chunkCount: Number(r.chunk_count),
    baseSeq: Number(r.base_seq),
    frontierSeq: Number(r.frontier_seq),
    manifest: ownBytes(r.manifest),
    complete: r.complete === 1 || r.complete === true,
  };
}

export function snapshotArgs(s: Omit<StoredSnapshot, 'complete'>): unknown[] {
  return [
    s.doc,
    s.id,
    s.signer,
    s.wallTime,
    joinIds(s.frontier),
    s.chunkCount,
    s.baseSeq,
    s.frontierSeq,
    bufferOf(s.manifest),
  ];
}

const SQL = {
  putManifest:
    'INSERT OR IGNORE INTO snapshots (doc, id, signer, wall_time, frontier, chunk_count, base_seq, frontier_seq, manifest, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)',
  putChunk: 'INSERT OR REPLACE INTO snapshot_chunks (doc, snapshot, idx, bytes) VALUES (?, ?, ?, ?)',
  chunksHeld: 'SELECT idx FROM snapshot_chunks WHERE doc = ? AND snapshot = ? ORDER BY idx',
  markComplete: 'UPDATE snapshots SET complete = 1 WHERE doc = ? AND id = ?',
  getSnapshot: 'SELECT * FROM snapshots WHERE doc = ? AND id = ?',
  listSnapshots:
    'SELECT * FROM snapshots WHERE doc = ? AND complete = 1 ORDER BY frontier_seq DESC, wall_time DESC, id DESC',
  getChunk: 'SELECT bytes FROM snapshot_chunks WHERE doc = ? AND snapshot = ? AND idx = ?',
  putEndorsement: 'INSERT OR IGNORE INTO endorsements (doc, snapshot, endorser, bytes) VALUES (?, ?, ?, ?)',
  endorsementsOf: 'SELECT * FROM endorsements WHERE doc = ? AND snapshot = ? ORDER BY endorser',
  allEndorsements: 'SELECT * FROM endorsements WHERE doc = ? ORDER BY snapshot, endorser',
  dropChunks: 'DELETE FROM snapshot_chunks WHERE doc = ? AND snapshot = ?',
  dropIncomplete: 'DELETE FROM snapshots WHERE doc = ? AND id = ? AND complete = 0',
  drop: 'DELETE FROM snapshots WHERE doc = ? AND id = ?',
  dropEndorsements: 'DELETE FROM endorsements WHERE doc = ? AND snapshot = ?',
  bytes:
    'SELECT (SELECT coalesce(sum(length(bytes)), 0) FROM snapshot_chunks) + (SELECT coalesce(sum(length(manifest)), 0) FROM snapshots) + (SELECT coalesce(sum(length(bytes)), 0) FROM endorsements) AS n',
} as const;

interface EndorsementRow {
  doc: string;
  snapshot: string;
  endorser: string;
  bytes: Buffer;
}

export function rowToEndorsement(r: EndorsementRow): StoredEndorsement {
  return {
    doc: r.doc as DocId,
    snapshot: r.snapshot,
    endorser: r.endorser as DeviceId,
    bytes: ownBytes(r.bytes),
  };
}

/** The snapshot tables in a single relay's SQLite file (same file and WAL as its op log). */
export class SqliteSnapshots implements SnapshotStore {
  private readonly st: { [K in keyof typeof SQL]: Database.Statement };

  constructor(private readonly store: SqliteStore) {
    store.transact((db) => db.exec(SQLITE_SNAPSHOT_SCHEMA));
    this.st = store.readDb(
      (db) =>
        Object.fromEntries(Object.entries(SQL).map(([k, sql]) => [k, db.prepare(sql)])) as {
          [K in keyof typeof SQL]: Database.Statement;
        },
    );
  }

  async putManifest(s: Omit<StoredSnapshot, 'complete'>): Promise<boolean> {
    return this.store.transact(() => this.st.putManifest.run(...snapshotArgs(s)).changes > 0);
  }

  async putChunk(doc: DocId, id: string, index: number, bytes: Uint8Array): Promise<void> {
    this.store.transact(() => this.st.putChunk.run(doc, id, index, bufferOf(bytes)));
  }

  async chunksHeld(doc: DocId, id: string): Promise<number[]> {
    return this.store.readDb(() => (this.st.chunksHeld.all(doc, id) as { idx: number }[]).map((r) => r.idx));
  }

  async markComplete(doc: DocId, id: string): Promise<void> {
    this.store.transact(() => this.st.markComplete.run(doc, id));
  }

  async getSnapshot(doc: DocId, id: string): Promise<StoredSnapshot | undefined> {
    const r = this.store.readDb(() => this.st.getSnapshot.get(doc, id) as SnapshotRow | undefined);
    return r === undefined ? undefined : rowToSnapshot(r);
  }

  async listSnapshots(doc: DocId): Promise<StoredSnapshot[]> {
    return this.store.readDb(() => (this.st.listSnapshots.all(doc) as SnapshotRow[]).map(rowToSnapshot));
  }

  async getChunk(doc: DocId, id: string, index: number): Promise<Uint8Array | undefined> {
    const r = this.store.readDb(() => this.st.getChunk.get(doc, id, index) as { bytes: Buffer } | undefined);
    return r === undefined ? undefined : ownBytes(r.bytes);
  }

  async putEndorsement(e: StoredEndorsement): Promise<boolean> {
    return this.store.transact(
      () => this.st.putEndorsement.run(e.doc, e.snapshot, e.endorser, bufferOf(e.bytes)).changes > 0,
    );
  }

  async endorsementsOf(doc: DocId, id: string): Promise<StoredEndorsement[]> {
    return this.store.readDb(() =>
      (this.st.endorsementsOf.all(doc, id) as EndorsementRow[]).map(rowToEndorsement),
    );
  }

  async allEndorsements(doc: DocId): Promise<StoredEndorsement[]> {
    return this.store.readDb(() =>
      (this.st.allEndorsements.all(doc) as EndorsementRow[]).map(rowToEndorsement),
    );
  }

  async dropIncomplete(doc: DocId, id: string): Promise<void> {
    this.store.transact(() => {
      if (this.st.dropIncomplete.run(doc, id).changes > 0) this.st.dropChunks.run(doc, id);
    });
  }

  armDrop(doc: DocId, ids: readonly string[], abortIf?: () => string | undefined): void {
    if (ids.length === 0 && abortIf === undefined) {
      this.store.armPrune(doc, undefined);
      return;
    }
    const list = [...ids];
    // Runs inside the pruning commit's transaction (SqliteStore.armPrune): all of it or none.
    this.store.armPrune(doc, () => {
      const why = abortIf?.();
      if (why !== undefined) throw new EngineError('Storage', `pruning abandoned: ${why}`);
      for (const id of list) {
        this.st.dropChunks.run(doc, id);
        this.st.dropEndorsements.run(doc, id);
        this.st.drop.run(doc, id);
      }
    });
  }

  durable(): Promise<void> {
    return this.store.syncDurableAsync();
  }

  async bytesStored(): Promise<number> {
    return this.store.readDb(() => (this.st.bytes.get() as { n: number }).n);
  }
}
