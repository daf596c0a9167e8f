// The relay's store when several relays share one PostgreSQL database (`--database postgres://…`).
// PostgreSQL (pg-store.ts) is the log of record: it orders every calendar's ops (RELAY-21) and is
// what is durable. Each relay keeps a local copy of the log in SQLite (the parent class, with
// synchronous=OFF, rebuilt from PostgreSQL at every start) so the relay's hot reads (catch-up
// pages, duplicate checks, the invite ledger, Want answers) stay synchronous and local, and the
// read load of N relays does not land on the database.
// Invariants:
// - A commit goes to PostgreSQL first; only once PostgreSQL committed is it applied to the local
//   copy and reported to the relay (acks, forwards). A failed PostgreSQL commit changes nothing.
// - Per calendar, commits and pulls of other relays' ops are serialized (one lock per calendar),
//   so the local copy holds a prefix of the calendar's PostgreSQL log, in seq order, gap-free.
// - Ops another relay committed reach the local copy by `pull` (seq > what the copy holds) and
//   are reported to the relay like its own commits (RELAY-22: fan-out reads the table; the
//   doorbell, doorbell.ts, only says when to look).

import { rmSync } from 'node:fs';
import type { CommitBatch, DocId, DocRecord, OpId, OpRecord } from '../engine/index.ts';
import type { Logger } from './log.ts';
import { PgStore, StaleCommitError } from './pg-store.ts';
import { SqliteStore } from './sqlite-store.ts';
import type { HeldOp } from './store-rows.ts';

/** Ops read from PostgreSQL per page when pulling a calendar. */
const PULL_PAGE = 2000;

export interface ClusterStoreOptions {
  url: string;
  /** Path of the local SQLite copy (deleted and rebuilt at start). */
  cachePath: string;
  poolSize?: number;
  log: Logger;
}

export class ClusterStore extends SqliteStore {
  readonly pg: PgStore;
  private readonly log: Logger;
  private readonly locks = new Map<DocId, Promise<unknown>>();
  /** Calendars whose last commit lost a race to another relay (the replica must reload). */
  private readonly staleDocs = new Set<DocId>();
  private readonly advancedListeners = new Set<(doc: DocId) => void>();
  /** Whether the last database round trip succeeded (/ready, /health). */
  databaseUp = true;
  lastDatabaseError: string | undefined;
  /** Ops pulled from other relays (for logs and benchmarks). */
  pulledOps = 0;

  private constructor(pg: PgStore, opts: ClusterStoreOptions) {
    super({ path: opts.cachePath, durability: 'none' });
    this.pg = pg;
    this.log = opts.log;
  }

  /** Connects, migrates, and copies every calendar's log and the held ops into the local copy. */
  static async open(opts: ClusterStoreOptions): Promise<ClusterStore> {
    const pg = await PgStore.open({ url: opts.url, poolSize: opts.poolSize ?? 10, asyncCommit: true });
    let s: ClusterStore | undefined;
    try {
      for (const f of ['', '-wal', '-shm']) rmSync(`${opts.cachePath}${f}`, { force: true });
      s = new ClusterStore(pg, opts);
      for (const doc of await pg.listDocs()) await s.pull(doc);
      for (const h of await pg.allHeld()) SqliteStore.prototype.hold.call(s, h);
      // What was copied is served only once durable (RELAY-24): one barrier covers it all.
      await s.syncDurableAsync();
      return s;
    } catch (e) {
      s?.close();
      await pg.close();
      throw e;
    }
  }

  /** Runs `f` after every earlier commit or pull of the same calendar. */
  private withLock<T>(doc: DocId, f: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(doc) ?? Promise.resolve();
    const run = prev.then(f, f);
    const tail = run.catch(() => undefined);
    this.locks.set(doc, tail);
    void tail.then(() => {
      if (this.locks.get(doc) === tail) this.locks.delete(doc);
    });
    return run;
  }

  private up(): void {
    this.databaseUp = true;
    this.lastDatabaseError = undefined;
  }

  /** Records a failed database round trip (not a lost race: that is an answer, not an outage). */
  noteError(e: unknown): void {
    if (e instanceof StaleCommitError) return;
    const msg = e instanceof Error ? e.message : String(e);
    if (this.databaseUp) this.log.warn('database unreachable', { err: msg });
    this.databaseUp = false;
    this.lastDatabaseError = msg;
  }

  noteUp(): void {
    if (!this.databaseUp) this.log.info('database reachable again');
    this.up();
  }

  /**
   * The durability barrier (RELAY-5): commits go to PostgreSQL with synchronous_commit=off; before
   * the relay acks or forwards anything, one synchronous transaction flushes the WAL past all of
   * them, its own and the ones pulled from other relays alike (those may not be flushed yet either).
   */
  protected override async flushExternal(): Promise<void> {
    try {
      await this.pg.barrier();
    } catch (e) {
      this.noteError(e);
      throw e;
    }
  }

  /** Called when ops of another relay were copied in: the calendar's replica must reload. */
  onAdvanced(f: (doc: DocId) => void): () => void {
    this.advancedListeners.add(f);
    return () => this.advancedListeners.delete(f);
  }

  /** True once per lost race on `doc` (the caller pulls, reloads and retries). */
  takeStale(doc: DocId): boolean {
    return this.staleDocs.delete(doc);
  }

  override async commit(batch: CommitBatch): Promise<void> {
    await this.withLock(batch.doc, async () => {
      try {
        await this.pg.commit(batch);
      } catch (e) {
        if (e instanceof StaleCommitError) this.staleDocs.add(batch.doc);
        else this.noteError(e);
        throw e;
      }
      this.noteUp();
      try {
        await super.commit(batch);
      } catch (e) {
        // PostgreSQL has the batch: the local copy catches up from it instead.
        this.log.warn('local copy refused a committed batch; pulling', { doc: batch.doc, err: String(e) });
        await this.pullLocked(batch.doc);
      }
    });
  }

  /** Copies what PostgreSQL holds beyond the local copy of one calendar. Returns the ops copied. */
  pull(doc: DocId): Promise<number> {
    return this.withLock(doc, () => this.pullLocked(doc));
  }

  /**
   * Another relay's pruning (SNAP-17) changes the doc record, not the head: it is copied with the
   * next op pulled (until then this copy serves the ops it holds, every one valid).
   */
  private async pullLocked(doc: DocId): Promise<number> {
    let ops: OpRecord[];
    let loaded: Awaited<ReturnType<PgStore['docState']>>;
    try {
      // The ops first: a doorbell for our own commit (it can overtake the COMMIT's answer) or a
      // repeated one finds none, in one indexed read.
      ops = await this.pg.listOps(doc, this.committedSeqOf(doc), PULL_PAGE);
      if (ops.length === 0) {
        this.noteUp();
        return 0;
      }
      // Read after the ops: the head only moves forward, so its seq covers every op read above,
      // and every op up to it is committed (same transaction as the doc record).
      loaded = await this.pg.docState(doc);
    } catch (e) {
      this.noteError(e);
      throw e;
    }
    this.noteUp();
    if (loaded === undefined) return 0;
    const upTo = loaded.doc.seq;
    ops = ops.filter((o) => o.seq <= upTo);
    let copied = 0;
    while (ops.length > 0) {
      await super.commit({ doc, ops });
      const after = ops[ops.length - 1]!.seq;
      copied += ops.length;
      if (after >= upTo) break;
      ops = await this.pg.listOps(doc, after, Math.min(PULL_PAGE, upTo - after));
    }
    const localSeq = this.docSeqOf(doc);
    let pruned = 0;
    if (localSeq === undefined || localSeq <= loaded.doc.seq) {
      const pgPending = new Set(loaded.pending.map((p) => p.id));
      const pendingRemove: OpId[] = this.pendingIdsOf(doc).filter((id) => !pgPending.has(id));
      const prune = await this.prunedSince(doc, loaded.doc);
      pruned = prune.length;
      await super.commit({
        doc,
        docRecord: loaded.doc,
        entities: loaded.entities,
        pendingAdd: loaded.pending,
        pendingRemove,
        evidence: loaded.evidence,
        ...(prune.length > 0 ? { prune } : {}),
      });
    }
    if (copied > 0 || pruned > 0) {
      this.pulledOps += copied;
      for (const f of this.advancedListeners) f(doc);
    }
    return copied;
  }

  /**
   * SNAP-17: another relay pruned the calendar (its record's mark differs from the local one):
   * the local ops PostgreSQL no longer holds, deleted in the same commit as the record, so the
   * replica reopened from the copy sees the anchors first, as the mark says.
   */
  private async prunedSince(doc: DocId, rec: DocRecord): Promise<OpId[]> {
    if (rec.snapshot === undefined || JSON.stringify(rec.snapshot) === this.markOf(doc)) return [];
    const keep = await this.pg.opIds(doc);
    const gone: OpId[] = [];
    for (let after = 0; ; ) {
      const page = this.opsAfter(doc, after, PULL_PAGE);
      if (page.length === 0) break;
      for (const o of page) if (!keep.has(o.id)) gone.push(o.id);
      after = page[page.length - 1]!.seq;
    }
    return gone;
  }

  /** Held ops are kept locally and written through to PostgreSQL (see docs: Running several relays). */
  override hold(op: HeldOp): boolean {
    const fresh = super.hold(op);
    if (fresh) void this.pg.hold(op).catch((e: unknown) => this.noteError(e));
    return fresh;
  }

  override unhold(id: OpId): void {
    super.unhold(id);
    void this.pg.unhold(id).catch((e: unknown) => this.noteError(e));
  }

  /** Closes the local copy and the pool. */
  async shutdown(): Promise<void> {
    await Promise.all([...this.locks.values()]);
    this.close();
    await this.pg.close();
  }
}
