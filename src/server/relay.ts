// The relay: a verify-only Replica behind connections. This file composes the parts and owns
// what spans connections: the commit hook, the durability barrier (acks and forwards wait for
// one fsync, RELAY-5), removals acting on open subscriptions (RELAY-9), and the socket budgets
// (RELAY-20). Connections: session.ts; op checks: admission.ts; answers: answers.ts; held ops:
// held.ts; streaming: streams.ts. Transport-agnostic: http.ts adapts `ws` sockets.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { CommitBatch, CryptoProvider, DeviceId, DocId, OpId } from '../engine/index.ts';
import { CloseCode } from '../sync/codes.ts';
import { Admission } from './admission.ts';
import { Answers } from './answers.ts';
import { BucketMap, PendingBudget, TokenBucket } from './budgets.ts';
import type { RelayConfig } from './config.ts';
import { HeldOps } from './held.ts';
import { Ledger } from './ledger.ts';
import type { Logger } from './log.ts';
import { type PruneHost, RelayPruner } from './relay-prune.ts';
import { RelaySnapshots, type SnapshotHost, type SnapshotPeer } from './relay-snapshots.ts';
import type { RelayReplica } from './replicas.ts';
import { Session } from './session.ts';
import type { SnapshotStore } from './snapshot-store.ts';
import type { SqliteStore } from './sqlite-store.ts';
import { PAGE_OPS, type StreamSource } from './streams.ts';

export { CloseCode } from '../sync/codes.ts';

/** What the relay needs from a connection: http.ts wraps a `ws` WebSocket in this. */
export interface RelayTransport {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the socket (backpressure for catch-up). */
  bufferedAmount(): number;
  /** For logs. */
  remote: string;
  /** The Host header of the upgrade request (checked against the relay's origins, RELAY-17). */
  host: string;
  /** Largest message the transport will read at all from now on (optional). */
  limitPayload?: (bytes: number) => void;
  /** Stop reading from the peer for `ms` (TCP backpressure: a socket over budget is not read). */
  pause?: (ms: number) => void;
}

export interface RelayConnection {
  onMessage(bytes: Uint8Array, isBinary?: boolean): void;
  onClose(): void;
}

export type RelayLimits = Omit<
  RelayConfig,
  | 'port'
  | 'host'
  | 'dataDir'
  | 'staticDir'
  | 'logLevel'
  | 'durability'
  | 'database'
  | 'pgPollMs'
  | 'pruneDebounceMs'
  | 'pgPoolSize'
>;

/** The shared database behind a relay (PostgreSQL), as health and readiness see it. */
export interface DatabaseStatus {
  /** Whether the last round trip to the database succeeded. */
  up(): boolean;
  /** Counters for the operator's logs. */
  stats(): Record<string, unknown>;
}

export interface RelayOptions {
  replica: RelayReplica;
  store: SqliteStore;
  /** Snapshot manifests, chunks and endorsements (RELAY-25): beside the log, or in PostgreSQL. */
  snapshots: SnapshotStore;
  crypto: CryptoProvider;
  limits: RelayLimits;
  log: Logger;
  /** µs since the Unix epoch (injected so tests can move the relay's clock). */
  nowUs: () => number;
  random: (n: number) => Uint8Array;
  /** host[:port] values devices may sign for (RELAY-17); set once the port is known. */
  hosts?: readonly string[];
  /** The shared database, when there is one (ClusterStore); SQLite has none to report. */
  database?: DatabaseStatus;
  /**
   * With a shared database: brings one calendar up to what other relays committed, before the
   * relay refuses a device as a stranger (a member added at another relay a moment ago).
   */
  refresh?: (doc: DocId) => Promise<void>;
  /** RELAY-31: quiet time before a calendar is looked at for pruning (default PRUNE_DEBOUNCE_MS). */
  pruneDebounceMs?: number;
}

export class Relay implements StreamSource, SnapshotHost, PruneHost {
  closing = false;
  readonly snapshots: SnapshotStore;
  /** Uploads, endorsements and serving of snapshots (relay-snapshots.ts). */
  readonly snap: RelaySnapshots;
  /** Pruning calendars to snapshots every member consented to (relay-prune.ts). */
  readonly pruner: RelayPruner;
  readonly replica: RelayReplica;
  readonly database: DatabaseStatus | undefined;
  private readonly refreshDoc: ((doc: DocId) => Promise<void>) | undefined;
  readonly store: SqliteStore;
  readonly crypto: CryptoProvider;
  readonly limits: RelayLimits;
  readonly log: Logger;
  readonly nowUs: () => number;
  readonly random: (n: number) => Uint8Array;
  /** Invites, their uses and removed devices per calendar (src/server/ledger.ts). */
  readonly ledger: Ledger;
  readonly answers = new Answers();
  readonly pending = new PendingBudget();
  readonly admission: Admission;
  readonly held: HeldOps;
  readonly opBuckets: BucketMap<DeviceId>;
  readonly byteBuckets: BucketMap<DeviceId>;
  readonly frameBuckets: BucketMap<DeviceId>;
  /** One budget for every device that is a member of no calendar here (RELAY-20). */
  readonly strangerFrames: TokenBucket;
  /** Devices that are (or were) members of some calendar here. */
  private readonly knownMembers = new Set<DeviceId>();
  private readonly sessions = new Set<Session>();
  private unauthenticated = 0;
  private hosts = new Set<string>();
  private readonly unsubscribeCommit: () => void;
  /** Removes committed but not yet acted on (after the durability barrier). */
  private readonly revocations: { doc: DocId; device: DeviceId; seq: number }[] = [];
  /** Calendars whose membership changed in a commit not yet past the barrier. */
  private readonly memberDocs = new Set<DocId>();
  private readonly wakeDocs = new Set<DocId>();
  private flushScheduled = false;
  private flushing: Promise<void> | undefined;
  private flushAgain = false;
  readonly startedAt = Date.now();
  /** Event-loop delay: how long any frame or request waited for the relay (reported in health()). */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  readonly stats = {
    opsAccepted: 0,
    opsRejected: 0,
    opsHeld: 0,
    framesMalformed: 0,
    framesDropped: 0,
    socketsRefused: 0,
  };

  constructor(opts: RelayOptions) {
    this.replica = opts.replica;
    this.database = opts.database;
    this.refreshDoc = opts.refresh;
    this.store = opts.store;
    this.snapshots = opts.snapshots;
    this.snap = new RelaySnapshots(this);
    this.pruner = new RelayPruner(this, opts.pruneDebounceMs);
    this.crypto = opts.crypto;
    this.limits = opts.limits;
    this.log = opts.log;
    this.nowUs = opts.nowUs;
    this.random = opts.random;
    this.setHosts(opts.hosts ?? []);
    this.loopDelay.enable();
    const nowMs = this.nowUs() / 1000;
    this.opBuckets = new BucketMap(this.limits.rateOpsPerSec, this.limits.rateBurst);
    this.byteBuckets = new BucketMap(this.limits.rateBytesPerSec, this.limits.rateBytesBurst);
    this.frameBuckets = new BucketMap(this.limits.rateFramesPerSec, this.limits.rateFramesBurst);
    this.strangerFrames = new TokenBucket(
      this.limits.rateStrangerFramesPerSec,
      this.limits.rateStrangerFramesBurst,
      nowMs,
    );
    for (const doc of this.replica.listDocs())
      for (const d of this.replica.members(doc).keys()) this.knownMembers.add(d);
    this.ledger = new Ledger((doc) => this.store.membershipOps(doc));
    // RELAY-13: a flood of pending ops for calendars the relay does not hold does not outlive a restart.
    const dropped = this.store.dropOrphanPending();
    if (dropped > 0) this.log.warn('dropped pending ops of calendars this relay does not hold', { dropped });
    for (const p of this.store.pendingOps()) this.pending.add(p.id, p.bytes);
    this.admission = new Admission({
      replica: this.replica,
      store: this.store,
      ledger: this.ledger,
      pending: this.pending,
      calendars: new TokenBucket(this.limits.rateCalendarsPerMin / 60, this.limits.rateCalendarsBurst, nowMs),
      limits: this.limits,
      nowUs: this.nowUs,
      certs: this.snap.certs,
    });
    this.unsubscribeCommit = this.store.onCommit((b) => this.committed(b));
    this.held = new HeldOps({
      store: this.store,
      replica: this.replica,
      crypto: this.crypto,
      ledger: this.ledger,
      admission: this.admission,
      answers: this.answers,
      limits: this.limits,
      nowUs: this.nowUs,
      stats: this.stats,
    });
  }

  /** A member of some calendar on this relay (else its frames share the strangers' budget). */
  isKnownMember(device: DeviceId): boolean {
    return this.knownMembers.has(device);
  }

  /** RELAY-17: the host[:port] values this relay answers Auth for. */
  setHosts(hosts: readonly string[]): void {
    this.hosts = new Set(hosts.map((h) => h.toLowerCase()));
  }

  /**
   * Before answering "not a member" or "no such calendar": with a shared database, catch up with
   * the calendar first (one indexed read when nothing is new). Returns whether anything could
   * have changed. A database error leaves the local view as it was.
   */
  /** Whether several relays share a database (then `refresh` reads it). */
  get shared(): boolean {
    return this.refreshDoc !== undefined;
  }

  async refresh(doc: DocId): Promise<boolean> {
    if (this.refreshDoc === undefined) return false;
    try {
      await this.refreshDoc(doc);
    } catch {
      // The database is away: answer from what this relay holds.
    }
    return true;
  }

  /** Ready for traffic: not stopping, and the shared database (if any) answers. */
  ready(): boolean {
    return !this.closing && (this.database === undefined || this.database.up());
  }

  servesHost(host: string): boolean {
    return this.hosts.has(host);
  }

  get connectionCount(): number {
    return this.sessions.size;
  }

  get skewUs(): number {
    return this.limits.maxSkewMs * 1000;
  }

  /** Counters for operators and benchmarks (not served to the network: RELAY-18). */
  health(): Record<string, unknown> {
    return {
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      connections: this.sessions.size,
      unauthenticated: this.unauthenticated,
      calendars: this.replica.listDocs().length,
      held: this.store.heldCount(),
      pending: this.pending.size,
      eventLoopP99Ms: Math.round(this.loopDelay.percentile(99) / 1e5) / 10,
      eventLoopMaxMs: Math.round(this.loopDelay.max / 1e5) / 10,
      ...(this.database === undefined
        ? {}
        : { database: this.database.up() ? 'up' : 'down', ...this.database.stats() }),
      ...this.stats,
    };
  }

  connect(t: RelayTransport): RelayConnection {
    const s = new Session(this, t);
    if (this.closing) {
      s.sendError('ShuttingDown', 'relay is shutting down');
      t.close(CloseCode.ShuttingDown, 'shutting down');
      return { onMessage: () => {}, onClose: () => {} };
    }
    // RELAY-20: sockets that have not authenticated are capped; more are turned away at once.
    if (this.unauthenticated >= this.limits.maxUnauthSockets) {
      this.stats.socketsRefused++;
      t.close(CloseCode.Busy, 'too many unauthenticated connections');
      return { onMessage: () => {}, onClose: () => {} };
    }
    this.unauthenticated++;
    this.sessions.add(s);
    s.start();
    return { onMessage: (b, bin) => s.receive(b, bin ?? true), onClose: () => this.drop(s) };
  }

  /** A session authenticated: it leaves the unauthenticated count; a device's oldest extra connection goes. */
  authenticated(s: Session): void {
    this.unauthenticated--;
    const same = [...this.sessions].filter((x) => x !== s && x.device === s.device && !x.closed);
    const extra = same.length + 1 - this.limits.maxConnsPerDevice;
    for (const old of same.slice(0, Math.max(0, extra)))
      old.close(CloseCode.Busy, 'replaced by a newer connection');
  }

  drop(s: Session): void {
    if (!this.sessions.delete(s)) return;
    if (s.device === undefined) this.unauthenticated--;
    s.stop();
    this.answers.drop(s);
  }

  /** Stops taking new work, finishes in-flight writes and held releases (graceful shutdown). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    await Promise.all([...this.sessions].map((c) => c.drain()));
    await this.held.close();
    await this.pruner.close();
    await this.replica.idle();
    while (this.flushing !== undefined) await this.flushing;
    await this.flushDurable();
    this.unsubscribeCommit();
    this.loopDelay.disable();
  }

  /** Applies held ops whose time has come (RELAY-7, RELAY-11). Tests with a moved clock call it. */
  releaseDue(): Promise<void> {
    return this.held.releaseDue();
  }

  // --- after every commit ----------------------------------------------------------------------

  /**
   * Runs synchronously after each commit. Acks and forwards wait for the durability barrier
   * (one WAL fsync for everything committed in this tick), so nothing is acknowledged or
   * forwarded that a power loss could take back (RELAY-5).
   */
  private committed(batch: CommitBatch): void {
    this.pending.committed(batch);
    const ops = batch.ops;
    if (ops === undefined || ops.length === 0) return;
    for (const f of this.ledger.committed(batch.doc, ops)) {
      if (f.kind === 'remove') this.revocations.push({ doc: batch.doc, device: f.device, seq: f.seq });
    }
    if (ops.some((o) => o.kind === 2)) this.memberDocs.add(batch.doc);
    for (const op of ops) {
      this.stats.opsAccepted++;
      this.answers.ackAll({ doc: op.doc, op: op.id, seq: op.seq });
    }
    this.wakeDocs.add(batch.doc);
    this.scheduleFlush();
    // RELAY-31: new ops may be what pruning waited for (a member's chain position, a later op).
    if (batch.prune === undefined) this.pruner.schedule(batch.doc);
  }

  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => void this.flushDurable());
  }

  /**
   * The barrier: one fsync (off the event loop) for everything committed so far, then the acks
   * and forwards it covers. One at a time; what commits meanwhile waits for the next round.
   */
  private async flushDurable(): Promise<void> {
    this.flushScheduled = false;
    if (this.flushing !== undefined) {
      this.flushAgain = true;
      return;
    }
    const acks = this.answers.takeDurable();
    const docs = [...this.wakeDocs];
    this.wakeDocs.clear();
    const revocations = this.revocations.splice(0);
    // Read after the commit is published (the commit hook runs before the replica's state has
    // the new members): a device that just created a calendar gets a member's frame budget.
    for (const doc of this.memberDocs)
      for (const d of this.replica.members(doc).keys()) this.knownMembers.add(d);
    this.memberDocs.clear();
    let done!: () => void;
    this.flushing = new Promise<void>((r) => {
      done = r;
    });
    try {
      await this.store.syncDurableAsync();
      this.answers.sendDurable(acks);
      for (const s of this.sessions) for (const d of docs) s.streams.wake(d);
      // RELAY-9: a device removed (and not re-added concurrently, MEM-3) is no longer served the
      // calendar: it gets the ops up to its Remove, then the subscription ends with NotMember.
      for (const r of revocations) {
        if (this.admission.isMember(r.doc, r.device)) continue;
        for (const s of this.sessions) if (s.device === r.device) s.revoke(r.doc, r.seq);
      }
    } catch (e) {
      // Not durable: acknowledge nothing; clients resend what stays unacknowledged.
      this.log.error('fsync failed; acks withheld', { err: e });
      this.answers.discardDurable(acks);
    } finally {
      this.flushing = undefined;
      done();
      if (this.flushAgain) {
        this.flushAgain = false;
        this.scheduleFlush();
      }
    }
  }

  // --- snapshots (SnapshotHost) --------------------------------------------------------------------

  isMember(doc: DocId, device: DeviceId): boolean {
    return this.admission.isMember(doc, device);
  }

  membersAt(doc: DocId, frontier: readonly OpId[]): Promise<ReadonlyMap<DeviceId, unknown> | undefined> {
    return this.replica.membersAt(doc, frontier);
  }

  seqOf(doc: DocId, id: OpId): number | undefined {
    return this.store.seqOf(doc, id);
  }

  membershipOps(doc: DocId): { seq: number; bytes: Uint8Array }[] {
    return this.store.membershipOps(doc);
  }

  opsAfter(doc: DocId, afterSeq: number, limit: number): ReturnType<SqliteStore['opsAfter']> {
    return this.store.opsAfter(doc, afterSeq, limit);
  }

  /** RELAY-31: an endorsement was stored; pruning may now be possible. */
  pruneSoon(doc: DocId): void {
    this.pruner.schedule(doc);
  }

  /** RELAY-30: a connection is streaming the calendar's history or being offered a snapshot of it. */
  busy(doc: DocId): boolean {
    if (this.snap.offering(doc)) return true;
    for (const s of this.sessions) if (s.streams.catchingUp(doc)) return true;
    return false;
  }

  /** SNAP-17: the pages pruning freed, given back to the file system (SQLite; PostgreSQL vacuums itself). */
  reclaim(): Promise<number> {
    return this.shared ? Promise.resolve(0) : this.store.reclaim();
  }

  /** RELAY-31: every calendar is looked at once (a prune a restart interrupted is done again). */
  schedulePruning(): void {
    for (const doc of this.replica.listDocs()) this.pruner.schedule(doc);
  }

  broadcast(doc: DocId, except: SnapshotPeer | undefined, f: (peer: SnapshotPeer) => Promise<void>): void {
    for (const s of this.sessions) {
      if (s === except || s.closed || !s.streams.has(doc) || s.device === undefined) continue;
      if (!this.isMember(doc, s.device)) continue;
      s.enqueue(() => f(s));
    }
  }

  // --- reads for sessions (StreamSource) ---------------------------------------------------------

  hasDoc(doc: DocId): boolean {
    return this.replica.hasDoc(doc);
  }

  headsOf(doc: DocId): { root: string; heads: OpId[] } {
    return { root: this.replica.root(doc), heads: this.replica.heads(doc) };
  }

  page(doc: DocId, afterSeq: number): { seq: number; id: OpId; bytes: Uint8Array }[] {
    return this.store.listOpBytes(doc, afterSeq, PAGE_OPS);
  }

  durableSeq(doc: DocId): number {
    return this.store.durableSeqOf(doc);
  }

  opBytes(doc: DocId, ids: readonly OpId[]): { bytes: Uint8Array[]; later: OpId[] } {
    return this.store.durableOpBytes(doc, ids);
  }
}
