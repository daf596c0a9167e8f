// The relay's verify-only engine when several relays share one database: one `Replica` per
// calendar, each over a view of the ClusterStore that holds that calendar only. A replica keeps
// a calendar's state in memory (heads, seq, membership, waiting ops); when another relay moves
// the calendar on, that state is stale, so the calendar's replica alone is reopened from the
// local copy, which was first brought up to PostgreSQL's head. A commit that loses the race
// (StaleCommitError: nothing was written) is retried on the reopened replica (RELAY-21).
// Validity depends only on an op and its causal past, so a retried op is judged as every relay
// would judge it.

import {
  type ApplyResult,
  type CommitBatch,
  type CryptoProvider,
  type DeviceId,
  type DocId,
  type EngineStore,
  type LoadedDoc,
  type OpenedOp,
  type OpId,
  type OpRecord,
  openOp,
  Replica,
  toEngineError,
} from '../engine/index.ts';
import type { ClusterStore } from './cluster-store.ts';
import { StaleCommitError } from './pg-store.ts';

/** What the relay uses of its engine (a `Replica`, or `Replicas` below). */
export type RelayReplica = Pick<
  Replica,
  | 'listDocs'
  | 'hasDoc'
  | 'members'
  | 'membersAt'
  | 'root'
  | 'heads'
  | 'idle'
  | 'receiveBatch'
  | 'getOps'
  | 'seq'
  | 'pendingCount'
  | 'pruneUnread'
  | 'pruneUnreadStatus'
  | 'startsFrom'
>;

/** Lost races retried per op before it is answered with a (transient) Storage error. */
const MAX_RETRIES = 8;

/** One calendar of the ClusterStore, as a whole store (what Replica.open reads). */
class DocView implements EngineStore {
  private loaded: LoadedDoc | undefined | null = null;
  constructor(
    private readonly store: ClusterStore,
    private readonly doc: DocId,
  ) {}
  loadDevice() {
    return Promise.resolve(undefined);
  }
  saveDevice(): Promise<void> {
    return Promise.reject(new Error('a relay has no device keys'));
  }
  loadClock() {
    return this.store.loadClock();
  }
  async listDocs(): Promise<DocId[]> {
    this.loaded = await this.store.loadDoc(this.doc);
    return this.loaded === undefined ? [] : [this.doc];
  }
  async loadDoc(doc: DocId): Promise<LoadedDoc | undefined> {
    if (doc !== this.doc) return undefined;
    const l = this.loaded;
    this.loaded = null;
    return l ?? (await this.store.loadDoc(doc));
  }
  getOps(doc: DocId, ids: readonly OpId[]): Promise<(OpRecord | undefined)[]> {
    return this.store.getOps(doc, ids);
  }
  getOpsByChain(doc: DocId, author: DeviceId, ctr: number): Promise<OpRecord[]> {
    return this.store.getOpsByChain(doc, author, ctr);
  }
  listOps(doc: DocId, afterSeq: number, limit: number): Promise<OpRecord[]> {
    return this.store.listOps(doc, afterSeq, limit);
  }
  commit(batch: CommitBatch): Promise<void> {
    return this.store.commit(batch);
  }
}

export interface ReplicasOptions {
  store: ClusterStore;
  crypto: CryptoProvider;
  nowUs: () => number;
  random: (n: number) => Uint8Array;
}

export class Replicas implements RelayReplica {
  private readonly open = new Map<DocId, Replica>();
  /** Calendars another relay moved on since their replica was opened. */
  private readonly stale = new Set<DocId>();
  /** Per calendar: the apply in progress (reopening waits for it). */
  private readonly busy = new Map<DocId, Promise<unknown>>();
  private readonly unsubscribe: () => void;
  /** Lost races and reloads (health counters). */
  readonly stats = { lostRaces: 0, reloads: 0 };

  private constructor(private readonly o: ReplicasOptions) {
    this.unsubscribe = o.store.onAdvanced((doc) => {
      if (this.open.has(doc)) this.stale.add(doc);
      else void this.serial(doc, () => this.current(doc));
    });
  }

  static async open(o: ReplicasOptions): Promise<Replicas> {
    const r = new Replicas(o);
    for (const doc of await o.store.listDocs()) await r.current(doc);
    return r;
  }

  private async current(doc: DocId): Promise<Replica> {
    const have = this.open.get(doc);
    if (have !== undefined && !this.stale.has(doc)) return have;
    if (have !== undefined) {
      await have.idle();
      this.stats.reloads++;
    }
    this.stale.delete(doc);
    const { crypto, nowUs, random } = this.o;
    const r = await Replica.open({ store: new DocView(this.o.store, doc), crypto, nowUs, random });
    await r.idle();
    this.open.set(doc, r);
    return r;
  }

  /** Runs `f` after the calendar's earlier applies (one apply per calendar at a time). */
  private serial<T>(doc: DocId, f: () => Promise<T>): Promise<T> {
    const prev = this.busy.get(doc) ?? Promise.resolve();
    const run = prev.then(f, f);
    const tail = run.catch(() => undefined);
    this.busy.set(doc, tail);
    void tail.then(() => {
      if (this.busy.get(doc) === tail) this.busy.delete(doc);
    });
    return run;
  }

  /** Replicas kept in memory (one per calendar held). */
  get size(): number {
    return this.open.size;
  }

  listDocs(): DocId[] {
    return [...this.open.keys()].filter((d) => this.open.get(d)!.hasDoc(d));
  }

  hasDoc(doc: DocId): boolean {
    return this.open.get(doc)?.hasDoc(doc) ?? false;
  }

  members(doc: DocId): ReturnType<Replica['members']> {
    return this.open.get(doc)?.members(doc) ?? new Map();
  }

  async membersAt(doc: DocId, frontier: readonly OpId[]): ReturnType<Replica['membersAt']> {
    return this.open.get(doc)?.membersAt(doc, frontier);
  }

  root(doc: DocId): string {
    const r = this.open.get(doc);
    if (r === undefined) throw new Error(`unknown calendar ${doc}`);
    return r.root(doc);
  }

  heads(doc: DocId): OpId[] {
    return this.open.get(doc)?.heads(doc) ?? [];
  }

  seq(doc: DocId): number {
    return this.open.get(doc)?.seq(doc) ?? 0;
  }

  pendingCount(doc?: DocId): number {
    if (doc !== undefined) return this.open.get(doc)?.pendingCount(doc) ?? 0;
    let n = 0;
    for (const [d, r] of this.open) n += r.pendingCount(d);
    return n;
  }

  startsFrom(doc: DocId): ReturnType<Replica['startsFrom']> {
    return this.open.get(doc)?.startsFrom(doc);
  }

  /** SNAP-17 on the calendar's replica, after its earlier applies. */
  pruneUnreadStatus(
    ...a: Parameters<Replica['pruneUnreadStatus']>
  ): ReturnType<Replica['pruneUnreadStatus']> {
    return this.serial(a[0], async () => (await this.current(a[0])).pruneUnreadStatus(...a));
  }

  /** SNAP-17: a prune another relay's appends overtook is a StaleCommitError (nothing changed). */
  pruneUnread(...a: Parameters<Replica['pruneUnread']>): ReturnType<Replica['pruneUnread']> {
    return this.serial(a[0], async () => {
      try {
        return await (await this.current(a[0])).pruneUnread(...a);
      } catch (e) {
        if (this.o.store.takeStale(a[0])) {
          await this.o.store.pull(a[0]);
          this.stale.add(a[0]);
        }
        throw e;
      }
    });
  }

  async idle(): Promise<void> {
    await Promise.all([...this.busy.values()]);
    await Promise.all([...this.open.values()].map((r) => r.idle()));
  }

  getOps(doc: DocId, ids: readonly OpId[]): Promise<(OpRecord | undefined)[]> {
    return this.o.store.getOps(doc, ids);
  }

  /** Ops grouped by calendar (order kept within one), each group applied on its calendar's replica. */
  async receiveBatch(list: readonly (Uint8Array | OpenedOp)[]): Promise<ApplyResult[]> {
    const out: ApplyResult[] = new Array(list.length);
    const groups = new Map<DocId, { i: number; op: OpenedOp }[]>();
    list.forEach((b, i) => {
      let op: OpenedOp;
      try {
        op = b instanceof Uint8Array ? openOp(b) : b;
      } catch (e) {
        out[i] = { status: 'rejected', error: toEngineError(e, 'Malformed', 'decoding op') };
        return;
      }
      const g = groups.get(op.doc) ?? [];
      g.push({ i, op });
      groups.set(op.doc, g);
    });
    await Promise.all(
      [...groups].map(([doc, g]) =>
        this.serial(doc, async () => {
          const res = await this.applyDoc(
            doc,
            g.map((x) => x.op),
          );
          res.forEach((r, k) => {
            out[g[k]!.i] = r;
          });
        }),
      ),
    );
    return out;
  }

  private async applyDoc(doc: DocId, ops: OpenedOp[]): Promise<ApplyResult[]> {
    const res = await (await this.current(doc)).receiveBatch(ops);
    for (let attempt = 0; attempt < MAX_RETRIES && this.o.store.takeStale(doc); attempt++) {
      // Lost a race to another relay: catch up with PostgreSQL, reload, retry what failed.
      this.stats.lostRaces++;
      await this.o.store.pull(doc);
      this.stale.add(doc);
      const again = res.map((r, i) =>
        r.status === 'rejected' && r.error instanceof StaleCommitError ? i : -1,
      );
      const idx = again.filter((i) => i >= 0);
      if (idx.length === 0) break;
      const retried = await (await this.current(doc)).receiveBatch(idx.map((i) => ops[i]!));
      idx.forEach((i, k) => {
        res[i] = retried[k]!;
      });
    }
    // A genesis that was refused leaves no empty replica behind.
    if (!this.open.get(doc)?.hasDoc(doc)) this.open.delete(doc);
    return res;
  }

  /** Catches one calendar up with PostgreSQL and reloads its replica if that brought anything. */
  async refresh(doc: DocId): Promise<void> {
    await this.o.store.pull(doc);
    // Only a calendar the store now holds gets a replica: a stranger naming random ids must not
    // make the relay keep anything (RELAY-18, RELAY-20).
    const known = this.o.store.docSeqOf(doc) !== undefined;
    if (this.stale.has(doc) || (!this.open.has(doc) && known))
      await this.serial(doc, () => this.current(doc));
  }

  close(): void {
    this.unsubscribe();
  }
}
