// The relay's EngineStore on SQLite (better-sqlite3): WAL journal with synchronous=FULL, so a
// commit that has returned is on disk and survives SIGKILL or power loss (RELAY-5).
// Invariant: every CommitBatch is one SQLite transaction: after a crash the file holds all of a
// batch or none of it. Relay-only tables (held future-dated ops, snapshots) live in the same file;
// `SqliteStore` (sqlite-store.ts) adds the relay's own reads to this class.

import { fsyncSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import type Database from 'better-sqlite3';
import type {
  CommitBatch,
  DeviceId,
  DeviceRecord,
  DocId,
  EngineStore,
  LoadedDoc,
  OpId,
  OpRecord,
} from '../engine/index.ts';
import { EngineError, toEngineError } from '../engine/index.ts';
import { WalBarrier } from './sqlite-barrier.ts';
import { applyBatch, loadDoc, type PruneHook } from './sqlite-doc.ts';
import { type Durability, openDatabase, syncOnOpen } from './sqlite-open.ts';
import { prepare, type Statements } from './sqlite-schema.ts';
import { type OpRow, rowToOp } from './store-rows.ts';

export interface SqliteStoreOptions {
  /** Path of the database file, or ':memory:' (tests only: no durability). */
  path: string;
  /**
   * 'full': synchronous=FULL, every commit fsyncs the WAL before it returns.
   * 'barrier' (default): synchronous=NORMAL, so a returned commit survives a process crash
   * (SIGKILL: the write is in the OS page cache) but not yet a power loss; `syncDurable()` fsyncs
   * the WAL once for every commit since the last call. The relay calls it before acknowledging or
   * forwarding anything, so RELAY-5 holds for power loss too, with one fsync per batch of ops
   * instead of one per op (fsync dominated ingest: ~1-2.5 ms per op on this machine, measured).
   * 'none': synchronous=OFF, for a relay's local copy of a PostgreSQL log (cluster-store.ts):
   * PostgreSQL is what is durable; the copy is rebuilt at every start. The barrier is then
   * `flushExternal()` (a subclass makes the database durable there) instead of an fsync.
   */
  durability?: Durability;
  /** fsync of a file descriptor (injected by tests to observe the open-time sync). */
  fsync?: (fd: number) => void;
}

export type CommitListener = (batch: CommitBatch) => void;

export class SqliteLog implements EngineStore {
  readonly path: string;
  protected readonly db: Database.Database;
  private readonly listeners = new Set<CommitListener>();
  protected closed = false;
  // Prepared once: better-sqlite3 statements are reusable and compiling is the costly part.
  protected readonly st: Statements;
  private readonly commitTx: (batch: CommitBatch) => void;
  readonly durability: Durability;
  private readonly barrier: WalBarrier;
  /** SNAP-17: what the next pruning commit of a calendar also does, in its transaction (`armPrune`). */
  private readonly armed = new Map<DocId, PruneHook>();

  constructor(opts: SqliteStoreOptions) {
    this.path = opts.path;
    this.durability = opts.durability ?? 'barrier';
    this.barrier = new WalBarrier({
      path: this.path,
      durability: this.durability,
      fsync: opts.fsync,
      storedMax: (doc) =>
        this.guard('durableSeqOf', () => (this.st.maxSeq.get(doc) as { s: number | null }).s ?? 0),
      flushExternal: () => this.flushExternal(),
      guard: (what, f) => this.guard(what, f),
      isClosed: () => this.closed,
    });
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    try {
      this.db = openDatabase(opts.path, this.durability);
      this.st = prepare(this.db);
      syncOnOpen(opts.path, opts.fsync ?? fsyncSync);
    } catch (e) {
      throw toEngineError(e, 'Storage', `opening ${opts.path}`);
    }
    this.commitTx = this.db.transaction((batch: CommitBatch) =>
      applyBatch(this.db, this.st, batch, this.armed),
    );
  }

  /** Called synchronously after each batch is durably committed (the relay forwards from here). */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected guard<T>(what: string, f: () => T): T {
    if (this.closed) throw new EngineError('Storage', `${what}: store is closed`);
    try {
      return f();
    } catch (e) {
      throw toEngineError(e, 'Storage', what);
    }
  }

  async loadDevice(): Promise<DeviceRecord | undefined> {
    return this.guard('loadDevice', () => {
      const row = this.st.getDevice.get() as { record: Buffer } | undefined;
      return row === undefined ? undefined : (deserialize(row.record) as DeviceRecord);
    });
  }

  async saveDevice(device: DeviceRecord): Promise<void> {
    // v8 serialization keeps Uint8Array and plain-object secrets exactly (the relay has none).
    this.guard('saveDevice', () => this.st.putDevice.run(serialize(device)));
  }

  async loadClock(): Promise<number> {
    return this.guard('loadClock', () => {
      const row = this.st.getMeta.get('clock') as { value: number } | undefined;
      return row === undefined ? 0 : row.value;
    });
  }

  async listDocs(): Promise<DocId[]> {
    return this.guard('listDocs', () =>
      (this.st.listDocs.all() as { doc: string }[]).map((r) => r.doc as DocId),
    );
  }

  async loadDoc(doc: DocId): Promise<LoadedDoc | undefined> {
    return this.guard('loadDoc', () => loadDoc(this.st, doc));
  }

  async getOps(doc: DocId, ids: readonly OpId[]): Promise<(OpRecord | undefined)[]> {
    return this.guard('getOps', () =>
      ids.map((id) => {
        const r = this.st.getOp.get(doc, id) as OpRow | undefined;
        return r === undefined ? undefined : rowToOp(r);
      }),
    );
  }

  async getOpsByChain(doc: DocId, author: DeviceId, ctr: number): Promise<OpRecord[]> {
    return this.guard('getOpsByChain', () =>
      (this.st.getByChain.all(doc, author, ctr) as OpRow[]).map(rowToOp),
    );
  }

  async listOps(doc: DocId, afterSeq: number, limit: number): Promise<OpRecord[]> {
    return this.guard('listOps', () => (this.st.listOps.all(doc, afterSeq, limit) as OpRow[]).map(rowToOp));
  }

  async commit(batch: CommitBatch): Promise<void> {
    // Learn the durable point from disk before this batch adds to it (first commit after a start).
    if (batch.ops !== undefined && !this.closed) this.barrier.prime(batch.doc);
    this.guard('commit', () => this.commitTx(batch));
    const ops = batch.ops;
    if (ops !== undefined && ops.length > 0) this.barrier.committed(batch.doc, ops[ops.length - 1]!.seq);
    for (const l of this.listeners) {
      try {
        l(batch);
      } catch {
        // A listener's failure must not turn a durable commit into a reported failure.
      }
    }
  }

  /**
   * Makes every commit so far durable against power loss (one fsync of the WAL; a no-op when
   * nothing changed or in 'full' mode). Linux fsync flushes the file's dirty pages whichever
   * descriptor wrote them, so SQLite's own writes are covered.
   */
  syncDurable(): void {
    this.barrier.syncDurable();
  }

  /**
   * syncDurable off the event loop (libuv's thread pool): the relay's barrier must not stall
   * every connection for the length of an fsync (tens to hundreds of ms on a busy disk).
   * Covers the commits made before the call; commits made while it runs wait for the next one.
   */
  syncDurableAsync(): Promise<void> {
    return this.barrier.syncDurableAsync();
  }

  /** The barrier of durability 'none': what makes every commit so far durable elsewhere. */
  protected async flushExternal(): Promise<void> {}

  /** Highest seq of a calendar in this store, durable or not yet. */
  committedSeqOf(doc: DocId): number {
    return this.barrier.committedSeqOf(doc);
  }

  /** Highest seq of a calendar that is durable (what the relay may acknowledge and forward). */
  durableSeqOf(doc: DocId): number {
    return this.barrier.durableSeqOf(doc);
  }
  /**
   * Relay tables beside the log (snapshot-store.ts): runs `f` in one transaction of this file.
   * What it wrote is durable against power loss after the next barrier (`syncDurableAsync`).
   */
  transact<T>(f: (db: Database.Database) => T): T {
    return this.guard('transact', () => {
      const out = this.db.transaction(() => f(this.db))();
      this.barrier.written();
      return out;
    });
  }

  /**
   * SNAP-17, RELAY-30: `f` runs inside the transaction of the next commit that prunes `doc` (the
   * relay deletes there the snapshots the pruning makes unservable), so both happen or neither.
   * `undefined` disarms.
   */
  armPrune(doc: DocId, f: ((db: Database.Database) => void) | undefined): void {
    if (f === undefined) this.armed.delete(doc);
    else this.armed.set(doc, f);
  }

  /**
   * SNAP-17: gives the pages pruning freed back to the file system, `slice` pages per step with
   * the event loop free between steps (a file created with auto_vacuum INCREMENTAL; an older
   * file keeps them for its next writes). Returns the pages given back.
   */
  async reclaim(slice = 2048): Promise<number> {
    let freed = 0;
    while (!this.closed) {
      const mode = this.guard('reclaim', () => this.db.pragma('auto_vacuum', { simple: true }) as number);
      const free = this.guard('reclaim', () => this.db.pragma('freelist_count', { simple: true }) as number);
      if (mode !== 2 || free === 0) break;
      this.guard('reclaim', () => this.db.pragma(`incremental_vacuum(${slice})`));
      this.barrier.written();
      freed += Math.min(slice, free);
      await new Promise((r) => setImmediate(r));
    }
    return freed;
  }
  /** Reads of the relay tables beside the log (snapshot-store.ts). */
  readDb<T>(f: (db: Database.Database) => T): T {
    return this.guard('readDb', () => f(this.db));
  }

  /** Runs a WAL checkpoint and closes the file. Further calls throw EngineError('Storage'). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.barrier.close();
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A checkpoint is an optimisation; the WAL itself is durable.
    }
    this.db.close();
  }
}
