// The relay's EngineStore on SQLite (better-sqlite3): WAL journal with synchronous=FULL, so a
// commit that has returned is on disk and survives SIGKILL or power loss (RELAY-5).
// Invariant: every CommitBatch is one SQLite transaction: after a crash the file holds all of a
// batch or none of it. Relay-only tables (held future-dated ops) live in the same file.

import { closeSync, fsync, fsyncSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import Database from 'better-sqlite3';
import type {
  CommitBatch,
  DeviceId,
  DeviceRecord,
  DocId,
  DocRecord,
  EngineStore,
  EntityId,
  EntityRecord,
  EquivocationRecord,
  LoadedDoc,
  OpId,
  OpRecord,
  PendingRecord,
} from '../engine/index.ts';
import { EngineError, toEngineError } from '../engine/index.ts';
import { prepare, SCHEMA, SCHEMA_VERSION } from './sqlite-schema.ts';
import {
  bufferOf,
  type DocRow,
  type HeldOp,
  type HeldRow,
  joinIds,
  type OpRow,
  ownBytes,
  registersFromJson,
  registersToJson,
  rowToHeld,
  rowToOp,
  splitIds,
} from './store-rows.ts';

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
  durability?: 'full' | 'barrier' | 'none';
  /** fsync of a file descriptor (injected by tests to observe the open-time sync). */
  fsync?: (fd: number) => void;
}

export type CommitListener = (batch: CommitBatch) => void;

export class SqliteStore implements EngineStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly listeners = new Set<CommitListener>();
  private closed = false;
  // Prepared once: better-sqlite3 statements are reusable and compiling is the costly part.
  private readonly st: ReturnType<typeof prepare>;
  private readonly commitTx: (batch: CommitBatch) => void;
  readonly durability: 'full' | 'barrier' | 'none';
  /** Highest seq committed / made durable (fsynced) per calendar. */
  private readonly committedSeq = new Map<DocId, number>();
  private readonly durableSeq = new Map<DocId, number>();
  private dirty = false;
  private walFd: number | undefined;
  private readonly fsync: (fd: number) => void;
  private readonly fsyncInjected: boolean;
  /** SNAP-17: what the next pruning commit of a calendar also does, in its transaction (`armPrune`). */
  private readonly armed = new Map<DocId, (db: Database.Database) => void>();

  constructor(opts: SqliteStoreOptions) {
    this.path = opts.path;
    this.durability = opts.durability ?? 'barrier';
    this.fsync = opts.fsync ?? fsyncSync;
    this.fsyncInjected = opts.fsync !== undefined;
    if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
    try {
      this.db = new Database(opts.path);
      // A new file returns the pages pruning frees (SNAP-17) to the file system, a slice at a
      // time (`reclaim`); chosen before the WAL and the first table, or it does not take. An
      // older file reuses them for its next writes instead.
      const tables = (this.db.prepare('SELECT count(*) AS n FROM sqlite_master').get() as { n: number }).n;
      if (tables === 0) this.db.pragma('auto_vacuum = INCREMENTAL');
      this.db.pragma('journal_mode = WAL');
      // See SqliteStoreOptions.durability: FULL fsyncs per commit, NORMAL leaves it to syncDurable().
      this.db.pragma(
        this.durability === 'full'
          ? 'synchronous = FULL'
          : this.durability === 'none'
            ? 'synchronous = OFF'
            : 'synchronous = NORMAL',
      );
      this.db.pragma('foreign_keys = ON');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
      this.st = prepare(this.db);
      this.syncOnOpen();
    } catch (e) {
      throw toEngineError(e, 'Storage', `opening ${opts.path}`);
    }
    this.commitTx = this.db.transaction((batch: CommitBatch) => this.applyBatch(batch));
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new EngineError(
        'Storage',
        `database schema ${version} is newer than this relay (${SCHEMA_VERSION})`,
      );
    }
    this.db.exec(SCHEMA);
    // 1 -> 2: the doc record's other fields (SNAP-17's mark), kept by a relay that prunes.
    const cols = this.db.pragma('table_info(docs)') as { name: string }[];
    if (!cols.some((c) => c.name === 'extra')) this.db.exec('ALTER TABLE docs ADD COLUMN extra TEXT');
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }

  /**
   * RELAY-15: after a crash (SIGKILL) the WAL's tail may sit only in the OS page cache: what a
   * 'barrier' relay committed but had not yet fsynced. It is fsynced here, before anything read
   * from the file is treated as durable (acked, forwarded).
   */
  private syncOnOpen(): void {
    if (this.path === ':memory:') return;
    for (const file of [this.path, `${this.path}-wal`]) {
      let fd: number | undefined;
      try {
        fd = openSync(file, 'r');
      } catch {
        continue; // no WAL yet
      }
      try {
        this.fsync(fd);
      } finally {
        closeSync(fd);
      }
    }
  }

  /** Called synchronously after each batch is durably committed (the relay forwards from here). */
  onCommit(listener: CommitListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private guard<T>(what: string, f: () => T): T {
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
    return this.guard('loadDoc', () => {
      const d = this.st.getDoc.get(doc) as DocRow | undefined;
      if (d === undefined) return undefined;
      const entities = (this.st.listEntities.all(doc) as { entity: string; registers: string }[]).map(
        (r): EntityRecord => ({
          doc,
          entity: r.entity as EntityId,
          registers: registersFromJson(r.registers),
        }),
      );
      const pending = (this.st.listPending.all(doc) as { id: string; bytes: Buffer; missing: string }[]).map(
        (r): PendingRecord => ({
          id: r.id as OpId,
          doc,
          bytes: ownBytes(r.bytes),
          missing: splitIds<OpId>(r.missing),
        }),
      );
      const membership = (this.st.listMembership.all(doc) as OpRow[]).map(rowToOp);
      const evidence = (this.st.listEvidence.all(doc) as { author: string; ctr: number; ops: string }[]).map(
        (r): EquivocationRecord => ({
          doc,
          author: r.author as DeviceId,
          ctr: r.ctr,
          ops: splitIds<OpId>(r.ops),
        }),
      );
      return {
        doc: {
          ...(d.extra == null ? {} : (registersFromJson(d.extra) as unknown as Partial<DocRecord>)),
          doc,
          genesis: d.genesis as OpId,
          heads: splitIds<OpId>(d.heads),
          seq: d.seq,
          ownLast: d.own_last as OpId | null,
          ownCtr: d.own_ctr,
        },
        entities,
        pending,
        membership,
        evidence,
      };
    });
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

  /**
   * Makes every commit so far durable against power loss (one fsync of the WAL; a no-op when
   * nothing changed or in 'full' mode). Linux fsync flushes the file's dirty pages whichever
   * descriptor wrote them, so SQLite's own writes are covered.
   */
  syncDurable(): void {
    if (!this.dirty) return;
    this.guard('syncDurable', () => {
      if (this.walFd === undefined) this.walFd = openSync(`${this.path}-wal`, 'r');
      this.fsync(this.walFd);
    });
    this.dirty = false;
    for (const [doc, seq] of this.committedSeq) this.durableSeq.set(doc, seq);
  }

  /**
   * syncDurable off the event loop (libuv's thread pool): the relay's barrier must not stall
   * every connection for the length of an fsync (tens to hundreds of ms on a busy disk).
   * Covers the commits made before the call; commits made while it runs wait for the next one.
   */
  async syncDurableAsync(): Promise<void> {
    if (!this.dirty) return;
    if (this.closed) throw new EngineError('Storage', 'syncDurable: store is closed');
    const upTo = new Map(this.committedSeq);
    this.dirty = false;
    if (this.durability === 'none') {
      try {
        await this.flushExternal();
      } catch (e) {
        this.dirty = true;
        throw toEngineError(e, 'Storage', 'syncDurable');
      }
      for (const [doc, seq] of upTo) if (seq > (this.durableSeq.get(doc) ?? 0)) this.durableSeq.set(doc, seq);
      return;
    }
    try {
      if (this.walFd === undefined) this.walFd = openSync(`${this.path}-wal`, 'r');
      const fd = this.walFd;
      await new Promise<void>((resolve, reject) => {
        if (this.fsyncInjected) {
          try {
            this.fsync(fd);
            resolve();
          } catch (e) {
            reject(e);
          }
          return;
        }
        fsync(fd, (e) => (e === null ? resolve() : reject(e)));
      });
    } catch (e) {
      this.dirty = true;
      throw toEngineError(e, 'Storage', 'syncDurable');
    }
    for (const [doc, seq] of upTo) if (seq > (this.durableSeq.get(doc) ?? 0)) this.durableSeq.set(doc, seq);
  }

  /**
   * Relay tables beside the log (snapshot-store.ts): runs `f` in one transaction of this file.
   * What it wrote is durable against power loss after the next barrier (`syncDurableAsync`).
   */
  transact<T>(f: (db: Database.Database) => T): T {
    return this.guard('transact', () => {
      const out = this.db.transaction(() => f(this.db))();
      this.dirty = true;
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
      this.dirty = true;
      freed += Math.min(slice, free);
      await new Promise((r) => setImmediate(r));
    }
    return freed;
  }

  /** The version vector of a held op (its causal past and itself), or undefined. */
  vvOf(doc: DocId, id: OpId): Record<string, number> | undefined {
    const r = this.guard('vvOf', () => this.st.getOp.get(doc, id) as OpRow | undefined);
    return r === undefined ? undefined : rowToOp(r).vv;
  }

  /** Ops after `afterSeq` in seq order with their chain positions (relay-snapshots.ts); no bytes. */
  opsAfter(
    doc: DocId,
    afterSeq: number,
    limit: number,
  ): { seq: number; id: OpId; author: DeviceId; ctr: number; vv: Record<string, number> }[] {
    return this.guard('opsAfter', () =>
      (
        this.st.listOpMeta.all(doc, afterSeq, limit) as {
          seq: number;
          id: string;
          author: string;
          ctr: number;
          vv: string;
        }[]
      ).map((r) => ({
        seq: r.seq,
        id: r.id as OpId,
        author: r.author as DeviceId,
        ctr: r.ctr,
        vv: JSON.parse(r.vv) as Record<string, number>,
      })),
    );
  }

  /** Reads of the relay tables beside the log (snapshot-store.ts). */
  readDb<T>(f: (db: Database.Database) => T): T {
    return this.guard('readDb', () => f(this.db));
  }

  /** The barrier of durability 'none': what makes every commit so far durable elsewhere. */
  protected async flushExternal(): Promise<void> {}

  /** Highest seq of a calendar in this store, durable or not yet. */
  committedSeqOf(doc: DocId): number {
    const d = this.durableSeqOf(doc);
    return Math.max(d, this.committedSeq.get(doc) ?? 0);
  }

  /** Highest seq of a calendar that is durable (what the relay may acknowledge and forward). */
  durableSeqOf(doc: DocId): number {
    const d = this.durableSeq.get(doc);
    if (d !== undefined) return d;
    // After a restart everything on disk is durable: start from the stored maximum.
    const max = this.guard('durableSeqOf', () => (this.st.maxSeq.get(doc) as { s: number | null }).s ?? 0);
    this.durableSeq.set(doc, max);
    if (!this.committedSeq.has(doc)) this.committedSeq.set(doc, max);
    return max;
  }

  /** Relay fast path: (seq, bytes) of durable ops only, no JSON decoding (catch-up streams these). */
  listOpBytes(doc: DocId, afterSeq: number, limit: number): { seq: number; id: OpId; bytes: Uint8Array }[] {
    const upTo = this.durableSeqOf(doc);
    return this.guard('listOpBytes', () =>
      (
        this.st.listOpBytes.all(doc, afterSeq, upTo, limit) as { seq: number; id: string; bytes: Buffer }[]
      ).map((r) => ({ seq: r.seq, id: r.id as OpId, bytes: ownBytes(r.bytes) })),
    );
  }

  /** Membership ops of a calendar in seq order, read synchronously (the relay's invite ledger). */
  membershipOps(doc: DocId): OpRecord[] {
    return this.guard('membershipOps', () => (this.st.listMembership.all(doc) as OpRow[]).map(rowToOp));
  }

  /** SNAP-17: the stored snapshot mark of a calendar's doc record, as JSON (undefined: none). */
  markOf(doc: DocId): string | undefined {
    return this.guard('markOf', () => {
      const d = this.st.getDoc.get(doc) as DocRow | undefined;
      if (d?.extra == null) return undefined;
      const m = (registersFromJson(d.extra) as unknown as Partial<DocRecord>).snapshot;
      return m === undefined ? undefined : JSON.stringify(m);
    });
  }

  /** Seq of an op this store holds, or undefined. */
  seqOf(doc: DocId, id: OpId): number | undefined {
    return this.guard('seqOf', () => (this.st.getSeq.get(doc, id) as { seq: number } | undefined)?.seq);
  }

  /** The seq of a calendar's doc record, or undefined if the store has none. */
  docSeqOf(doc: DocId): number | undefined {
    return this.guard('docSeqOf', () => (this.st.getDoc.get(doc) as DocRow | undefined)?.seq);
  }

  /** Ids of a calendar's pending ops. */
  pendingIdsOf(doc: DocId): OpId[] {
    return this.guard('pendingIdsOf', () =>
      (this.st.listPendingIds.all(doc) as { id: string }[]).map((r) => r.id as OpId),
    );
  }

  /** Ids a pending op still waits for (empty if it is not pending). */
  pendingMissing(doc: DocId, id: OpId): OpId[] {
    return this.guard('pendingMissing', () => {
      const r = this.st.getPending.get(doc, id) as { missing: string } | undefined;
      return r === undefined ? [] : splitIds<OpId>(r.missing);
    });
  }

  // --- relay-only: the pending set, read by index (RELAY-13) ----------------------------------

  /** Ids the pending ops of a calendar wait for (SYNC-7), from the table's (doc, id) key. */
  missingOf(doc: DocId, limit: number): OpId[] {
    return this.guard('missingOf', () => {
      const out = new Set<OpId>();
      for (const r of this.st.listMissing.iterate(doc) as Iterable<{ missing: string }>) {
        for (const id of splitIds<OpId>(r.missing)) {
          if (out.size >= limit) return [...out];
          out.add(id);
        }
      }
      return [...out];
    });
  }

  pendingCountAll(): number {
    return this.guard('pendingCountAll', () => (this.st.countPending.get() as { n: number }).n);
  }

  /** Every pending op: id, calendar, bytes (the relay's per-author budget is built from these at start). */
  *pendingOps(): Generator<{ id: OpId; doc: DocId; bytes: Uint8Array }> {
    for (const r of this.st.allPending.iterate() as Iterable<{ id: string; doc: string; bytes: Buffer }>) {
      yield { id: r.id as OpId, doc: r.doc as DocId, bytes: ownBytes(r.bytes) };
    }
  }

  /** Deletes pending ops of calendars this store does not hold (a flood must not outlive a restart). */
  dropOrphanPending(): number {
    return this.guard('dropOrphanPending', () => this.st.dropOrphanPending.run().changes);
  }

  /** Deletes pending ops by id (the relay evicts what no longer fits its budgets). */
  dropPending(doc: DocId, ids: readonly OpId[]): void {
    this.guard('dropPending', () => {
      for (const id of ids) this.st.deletePending.run(doc, id);
    });
  }

  /**
   * Stored bytes of ops by id, only up to the durable seq (answers to Want, RELAY-5); `later`:
   * ids stored but not durable yet (answered after the next fsync).
   */
  durableOpBytes(doc: DocId, ids: readonly OpId[]): { bytes: Uint8Array[]; later: OpId[] } {
    const upTo = this.durableSeqOf(doc);
    return this.guard('durableOpBytes', () => {
      const bytes: Uint8Array[] = [];
      const later: OpId[] = [];
      for (const id of ids) {
        const r = this.st.getOpBytes.get(doc, id) as { seq: number; bytes: Buffer } | undefined;
        if (r === undefined) continue;
        if (r.seq <= upTo) bytes.push(ownBytes(r.bytes));
        else later.push(id);
      }
      return { bytes, later };
    });
  }

  async commit(batch: CommitBatch): Promise<void> {
    // Learn the durable point from disk before this batch adds to it (first commit after a start).
    if (batch.ops !== undefined && !this.durableSeq.has(batch.doc) && !this.closed)
      this.durableSeqOf(batch.doc);
    this.guard('commit', () => this.commitTx(batch));
    const ops = batch.ops;
    if (ops !== undefined && ops.length > 0) {
      const top = ops[ops.length - 1]!.seq;
      if (top > (this.committedSeq.get(batch.doc) ?? 0)) this.committedSeq.set(batch.doc, top);
      if (this.durability === 'full' || this.path === ':memory:')
        this.durableSeq.set(batch.doc, this.committedSeq.get(batch.doc)!);
      else this.dirty = true;
    }
    for (const l of this.listeners) {
      try {
        l(batch);
      } catch {
        // A listener's failure must not turn a durable commit into a reported failure.
      }
    }
  }

  private applyBatch(b: CommitBatch): void {
    const st = this.st;
    let lastSeq = b.ops === undefined ? 0 : ((st.maxSeq.get(b.doc) as { s: number | null }).s ?? 0);
    for (const op of b.ops ?? []) {
      if (op.doc !== b.doc)
        throw new EngineError('Storage', `op ${op.id} belongs to another doc than its batch`);
      // Appending an op already stored is a no-op (idempotent retries after a crash).
      if (st.getSeq.get(op.doc, op.id) !== undefined) continue;
      // The log has no gaps: seq is 1, 2, 3, ... per calendar (the relay's cursor relies on it).
      if (op.seq !== lastSeq + 1)
        throw new EngineError('Storage', `op ${op.id} has seq ${op.seq}, expected ${lastSeq + 1}`);
      lastSeq = op.seq;
      st.insertOp.run(
        op.doc,
        op.seq,
        op.id,
        op.author,
        op.ctr,
        op.wallTime,
        op.kind,
        joinIds(op.parents),
        op.prev,
        bufferOf(op.bytes),
        JSON.stringify(op.vv),
        joinIds(op.mfront),
        op.body,
      );
    }
    for (const u of b.bodyUpdates ?? []) {
      const r = st.updateBody.run(u.body, b.doc, u.id);
      if (r.changes !== 1) throw new EngineError('Storage', `body update for unknown op ${u.id}`);
    }
    if (b.reset === true || (b.base ?? []).length > 0)
      throw new EngineError('Unsupported', 'the relay stores no snapshot registers (SNAP-13, SNAP-11)');
    if (b.docRecord !== undefined) {
      const { doc, genesis, heads, seq, ownLast, ownCtr, ...extra } = b.docRecord;
      const more = Object.keys(extra).length === 0 ? null : registersToJson(extra as never);
      st.putDoc.run(doc, genesis, joinIds(heads), seq, ownLast, ownCtr, more);
    }
    // SNAP-17: the pruned ops go in the same transaction as the mark (and, when the relay armed
    // it, the snapshots the new base makes unservable: `armPrune`). Seqs are not reused.
    if ((b.prune ?? []).length > 0) {
      for (const id of b.prune!) st.deleteOp.run(b.doc, id);
      const armed = this.armed.get(b.doc);
      this.armed.delete(b.doc);
      armed?.(this.db);
    }
    for (const e of b.entities ?? []) st.putEntity.run(e.doc, e.entity, registersToJson(e.registers));
    for (const p of b.pendingAdd ?? []) st.putPending.run(p.doc, p.id, bufferOf(p.bytes), joinIds(p.missing));
    for (const id of b.pendingRemove ?? []) st.deletePending.run(b.doc, id);
    for (const e of b.evidence ?? []) st.putEvidence.run(e.doc, e.author, e.ctr, joinIds(e.ops));
    // The clock only moves forward (CLK-1), whatever order commits arrive in.
    if (b.clock !== undefined) st.putClock.run(b.clock);
  }

  // --- relay-only: held future-dated ops (RELAY-7) -----------------------------------------

  /** Persists a held op (durable on return). Returns false if it was already held. */
  hold(op: HeldOp): boolean {
    return this.guard(
      'hold',
      () =>
        this.st.putHeld.run(op.id, op.doc, op.author, op.wallTime, bufferOf(op.bytes), op.receivedAt)
          .changes === 1,
    );
  }

  /** Held ops with wall_time <= `untilUs`, oldest first. */
  dueHeld(untilUs: number, limit: number): HeldOp[] {
    return this.guard('dueHeld', () => (this.st.dueHeld.all(untilUs, limit) as HeldRow[]).map(rowToHeld));
  }

  isHeld(id: OpId): boolean {
    return this.guard('isHeld', () => this.st.getHeld.get(id) !== undefined);
  }

  heldCountByAuthor(author: DeviceId): number {
    return this.guard('heldCountByAuthor', () => (this.st.countHeldByAuthor.get(author) as { n: number }).n);
  }

  heldBytesByAuthor(author: DeviceId): number {
    return this.guard('heldBytesByAuthor', () => (this.st.bytesHeldByAuthor.get(author) as { n: number }).n);
  }

  /** Every held op (the ledger re-reserves the invites of held Adds at start, RELAY-11). */
  allHeld(): HeldOp[] {
    return this.guard('allHeld', () => (this.st.allHeld.all() as HeldRow[]).map(rowToHeld));
  }

  /** Earliest held wall_time (µs), or undefined if nothing is held. */
  nextHeldTime(): number | undefined {
    return this.guard('nextHeldTime', () => {
      const r = this.st.nextHeld.get() as { t: number | null };
      return r.t ?? undefined;
    });
  }

  heldCount(): number {
    return this.guard('heldCount', () => (this.st.countHeld.get() as { n: number }).n);
  }

  unhold(id: OpId): void {
    this.guard('unhold', () => this.st.deleteHeld.run(id));
  }

  private syncDurableQuietly(): void {
    if (!this.dirty || this.walFd === undefined) return;
    this.fsync(this.walFd);
    this.dirty = false;
  }

  /** Runs a WAL checkpoint and closes the file. Further calls throw EngineError('Storage'). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.syncDurableQuietly();
      if (this.walFd !== undefined) closeSync(this.walFd);
    } catch {
      // Closing flushes anyway.
    }
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // A checkpoint is an optimisation; the WAL itself is durable.
    }
    this.db.close();
  }
}
