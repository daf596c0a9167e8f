// The relay's protocol logic over a verify-only Replica: authenticates devices by challenge,
// validates and stores pushed ops (never decrypting them), acknowledges each after its SQLite
// commit, streams catch-up and new ops to subscribers, reconciles heads, holds future-dated ops.
// Transport-agnostic: http.ts adapts `ws` sockets to RelayTransport; tests drive it in process.

import {
  type ApplyResult,
  type CommitBatch,
  type CryptoProvider,
  type DeviceId,
  type DocId,
  EngineError,
  type ErrorCode,
  type OpenedOp,
  type OpId,
  openOp,
  type Replica,
  verifyOp,
} from '../engine/index.ts';
import {
  authMessage,
  decodeMessage,
  encodeMessage,
  inviteFetchMessage,
  type MessageOf,
  PROTOCOL_VERSION,
  type SeqOp,
  SYNC_LIMITS,
  type SyncErrorName,
  type SyncMessage,
  SyncProtocolError,
} from '../sync/messages.ts';
import { Ledger, ledgerFact } from './ledger.ts';
import type { Logger } from './log.ts';
import type { SqliteStore } from './sqlite-store.ts';

/** What the relay needs from a connection: http.ts wraps a `ws` WebSocket in this. */
export interface RelayTransport {
  send(bytes: Uint8Array): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet written to the socket (backpressure for catch-up). */
  bufferedAmount(): number;
  /** For logs. */
  remote: string;
  /** The Host header of the upgrade request: the device signs the host it connected to (SYNC-2). */
  host: string;
}

export interface RelayConnection {
  onMessage(bytes: Uint8Array, isBinary?: boolean): void;
  onClose(): void;
}

export interface RelayLimits {
  maxSkewMs: number;
  maxFrameBytes: number;
  maxOpBytes: number;
  rateOpsPerSec: number;
  rateBurst: number;
  maxHeldPerDevice: number;
  authTimeoutMs: number;
}

export interface RelayOptions {
  replica: Replica;
  store: SqliteStore;
  crypto: CryptoProvider;
  limits: RelayLimits;
  log: Logger;
  /** µs since the Unix epoch (injected so tests can move the relay's clock). */
  nowUs: () => number;
  random: (n: number) => Uint8Array;
}

/** WebSocket close codes (4000-4999 are for applications). */
export const CloseCode = {
  AuthFailed: 4001,
  AuthTimeout: 4002,
  VersionMismatch: 4003,
  ShuttingDown: 1001,
} as const;

/** Catch-up page: ops per frame and the byte budget that keeps a frame under its limit. */
const PAGE_OPS = 256;
const PAGE_BYTES = 512 * 1024;
/** Pause streaming to a connection while this much is queued in its socket (slow consumer). */
const HIGH_WATER = 4 * 1024 * 1024;

const ENGINE_CODES = new Set<ErrorCode>([
  'Malformed',
  'TooLarge',
  'Unsupported',
  'BadSignature',
  'BadBodyHash',
  'WrongDoc',
  'UnknownDoc',
  'NotMember',
  'ClockRule',
  'ChainRule',
  'PendingFull',
  'Storage',
  'InviteInvalid',
  'InviteExpired',
  'InviteUsed',
]);

function wireCode(code: ErrorCode): SyncErrorName {
  return ENGINE_CODES.has(code) ? (code as SyncErrorName) : 'Internal';
}

interface Subscription {
  doc: DocId;
  /** Highest seq sent to this connection in seq order. */
  sentSeq: number;
  caughtUp: boolean;
  scheduled: boolean;
  /** RELAY-9: the device was removed; stream up to this seq (its own Remove), then stop. */
  revokeAt?: number;
}

/** Why the relay refuses an op before the engine sees it (INV-7, INV-8, RELAY-10). */
export interface Refusal {
  code: SyncErrorName;
  message: string;
}

/** Token bucket per device (RELAY-4): refills at `rate` per second up to `burst`. */
class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.last = nowMs;
  }
  /** Takes one token; returns 0 on success, else ms until one is available. */
  take(nowMs: number): number {
    this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.last) / 1000) * this.rate);
    this.last = nowMs;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }
}

export class Relay {
  closing = false;
  private readonly replica: Replica;
  private readonly store: SqliteStore;
  private readonly crypto: CryptoProvider;
  private readonly limits: RelayLimits;
  private readonly log: Logger;
  private readonly nowUs: () => number;
  private readonly random: (n: number) => Uint8Array;
  private readonly conns = new Set<Conn>();
  /** Ops pushed and not yet acknowledged, by id: the connections waiting for their ack. */
  private readonly awaiting = new Map<OpId, Set<Conn>>();
  private readonly buckets = new Map<DeviceId, TokenBucket>();
  private readonly unsubscribeCommit: () => void;
  /** Invites, their uses and removed devices per calendar (src/server/ledger.ts). */
  readonly ledger: Ledger;
  /** Removes committed but not yet acted on (after the durability barrier). */
  private readonly revocations: { doc: DocId; device: DeviceId; seq: number }[] = [];
  private heldTimer: ReturnType<typeof setTimeout> | undefined;
  private releasing: Promise<void> = Promise.resolve();
  readonly startedAt = Date.now();
  readonly stats = { opsAccepted: 0, opsRejected: 0, opsHeld: 0, framesMalformed: 0 };

  constructor(opts: RelayOptions) {
    this.replica = opts.replica;
    this.store = opts.store;
    this.crypto = opts.crypto;
    this.limits = opts.limits;
    this.log = opts.log;
    this.nowUs = opts.nowUs;
    this.random = opts.random;
    this.ledger = new Ledger((doc) => this.store.membershipOps(doc));
    this.unsubscribeCommit = this.store.onCommit((b) => this.committed(b));
    this.scheduleHeld();
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  health(): Record<string, unknown> {
    return {
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      connections: this.conns.size,
      calendars: this.replica.listDocs().length,
      held: this.store.heldCount(),
      ...this.stats,
    };
  }

  connect(t: RelayTransport): RelayConnection {
    const c = new Conn(this, t);
    if (this.closing) {
      c.sendError('ShuttingDown', 'relay is shutting down');
      t.close(CloseCode.ShuttingDown, 'shutting down');
      return { onMessage: () => {}, onClose: () => {} };
    }
    this.conns.add(c);
    c.start();
    return { onMessage: (b, bin) => c.receive(b, bin ?? true), onClose: () => this.dropConn(c) };
  }

  /** Stops taking new work, finishes in-flight writes and held releases (graceful shutdown). */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.heldTimer !== undefined) clearTimeout(this.heldTimer);
    await Promise.all([...this.conns].map((c) => c.drain()));
    await this.releasing;
    await this.replica.idle();
    this.flushDurable();
    this.unsubscribeCommit();
  }

  private dropConn(c: Conn): void {
    c.closed = true;
    this.conns.delete(c);
    for (const id of c.awaited) {
      const s = this.awaiting.get(id);
      s?.delete(c);
      if (s !== undefined && s.size === 0) this.awaiting.delete(id);
    }
  }

  // --- after every durable commit ------------------------------------------------------------

  /**
   * Runs synchronously after each commit. Acks and forwards wait for the durability barrier
   * (one WAL fsync for everything committed in this tick), so nothing is acknowledged or
   * forwarded that a power loss could take back (RELAY-5).
   */
  private committed(batch: CommitBatch): void {
    const ops = batch.ops;
    if (ops === undefined || ops.length === 0) return;
    for (const f of this.ledger.committed(batch.doc, ops)) {
      if (f.kind === 'remove') this.revocations.push({ doc: batch.doc, device: f.device, seq: f.seq });
    }
    for (const op of ops) {
      this.stats.opsAccepted++;
      const waiting = this.awaiting.get(op.id);
      if (waiting === undefined) continue;
      this.awaiting.delete(op.id);
      for (const c of waiting) {
        c.awaited.delete(op.id);
        this.ackWhenDurable(c, { doc: op.doc, op: op.id, seq: op.seq });
      }
    }
    this.wakeDocs.add(batch.doc);
    this.scheduleFlush();
  }

  private readonly durableAcks: { c: Conn; ack: { doc: DocId; op: OpId; seq: number } }[] = [];
  private readonly wakeDocs = new Set<DocId>();
  private flushScheduled = false;

  ackWhenDurable(c: Conn, ack: { doc: DocId; op: OpId; seq: number }): void {
    this.durableAcks.push({ c, ack });
    this.scheduleFlush();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushDurable());
  }

  private flushDurable(): void {
    this.flushScheduled = false;
    try {
      this.store.syncDurable();
    } catch (e) {
      // Not durable: acknowledge nothing; clients resend what stays unacknowledged.
      this.log.error('fsync failed; acks withheld', { err: e });
      this.durableAcks.length = 0;
      return;
    }
    for (const { c, ack } of this.durableAcks.splice(0)) c.queueAck(ack);
    const docs = [...this.wakeDocs];
    this.wakeDocs.clear();
    for (const c of this.conns) for (const d of docs) c.wake(d);
    // RELAY-9: a device removed (and not re-added concurrently, MEM-3) is no longer served the
    // calendar: it gets the ops up to its Remove, then the subscription ends with NotMember.
    for (const r of this.revocations.splice(0)) {
      if (this.isMember(r.doc, r.device)) continue;
      for (const c of this.conns) if (c.device === r.device) c.revoke(r.doc, r.seq);
    }
  }

  /**
   * Checks the relay makes before the engine sees a pushed op (the engine's replica rules cannot
   * make them: they depend on the relay's clock and on every op of the calendar, not on the op's
   * causal past).
   * - INV-7: an Add using an invite is refused once the invite expired by the relay's clock,
   *   whatever wall_time the joiner wrote, and when the relay does not hold the invite.
   * - INV-8: an invite is used once across all ops of the calendar, concurrent ones included:
   *   the first Add the relay accepts reserves it; later ones get InviteUsed.
   * - RELAY-10: a device that was removed, and is not a member at the relay's heads, gets
   *   NotMember for any new op in that calendar, even one that did not see its removal (MEM-6).
   * Returns the refusal, or undefined to let the engine decide. `invite` is set when the op
   * reserved an invite (released if the engine then rejects the op).
   */
  precheck(op: OpenedOp): { refusal?: Refusal; invite?: OpId } {
    if (op.header.doc.length === 0 || !this.replica.hasDoc(op.doc)) return {};
    if (this.store.seqOf(op.doc, op.id) !== undefined) return {}; // stored: acked as a duplicate
    const f = op.header.kind === 2 ? ledgerFact(op.bytes) : undefined;
    if (f?.kind === 'use') {
      const inv = this.ledger.invite(op.doc, f.invite);
      if (inv === undefined) {
        return {
          refusal: { code: 'InviteInvalid', message: 'the relay holds no such invite in this calendar' },
        };
      }
      if (this.nowUs() > inv.expires) {
        return { refusal: { code: 'InviteExpired', message: "the invite expired (by the relay's clock)" } };
      }
      const used = this.ledger.usedBy(op.doc, f.invite);
      if (used !== undefined && used.op !== op.id) {
        return { refusal: { code: 'InviteUsed', message: 'the invite was already used' } };
      }
      this.ledger.reserve(f.invite, op.id);
      return { invite: f.invite };
    }
    if (this.ledger.wasRemoved(op.doc, op.author) && !this.isMember(op.doc, op.author)) {
      return { refusal: { code: 'NotMember', message: 'the author was removed from this calendar' } };
    }
    return {};
  }

  // --- validation and storage --------------------------------------------------------------

  bucketFor(device: DeviceId): TokenBucket {
    let b = this.buckets.get(device);
    if (b === undefined) {
      b = new TokenBucket(this.limits.rateOpsPerSec, this.limits.rateBurst, this.nowUs() / 1000);
      this.buckets.set(device, b);
    }
    return b;
  }

  await(id: OpId, c: Conn): void {
    let s = this.awaiting.get(id);
    if (s === undefined) {
      s = new Set();
      this.awaiting.set(id, s);
    }
    s.add(c);
    c.awaited.add(id);
  }

  unawait(id: OpId, c: Conn): void {
    const s = this.awaiting.get(id);
    s?.delete(c);
    if (s !== undefined && s.size === 0) this.awaiting.delete(id);
    c.awaited.delete(id);
  }

  /** Applies ops through the verify-only replica: signatures verified concurrently, one store commit per run of ops of a calendar (DAG-7). */
  apply(ops: readonly (Uint8Array | OpenedOp)[]): Promise<ApplyResult[]> {
    return this.replica.receiveBatch(ops);
  }

  get skewUs(): number {
    return this.limits.maxSkewMs * 1000;
  }

  now(): number {
    return this.nowUs();
  }

  /**
   * RELAY-7: an op dated beyond now + skew is verified (signature, shape) and persisted in the
   * held table; it is applied and forwarded when its time comes. Returns false if over the cap.
   */
  async hold(op: OpenedOp): Promise<'held' | 'full' | 'bad-signature'> {
    if (!(await verifyOp(this.crypto, op))) return 'bad-signature';
    if (
      !this.store.isHeld(op.id) &&
      this.store.heldCountByAuthor(op.author) >= this.limits.maxHeldPerDevice
    ) {
      return 'full';
    }
    this.store.hold({
      id: op.id,
      doc: op.doc,
      author: op.author,
      wallTime: op.header.wallTime,
      bytes: op.bytes,
      receivedAt: Date.now(),
    });
    this.stats.opsHeld++;
    this.scheduleHeld();
    return 'held';
  }

  private scheduleHeld(): void {
    if (this.closing) return;
    if (this.heldTimer !== undefined) clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    const next = this.store.nextHeldTime();
    if (next === undefined) return;
    const dueInMs = Math.max(0, (next - this.skewUs - this.nowUs()) / 1000);
    // Re-check at least every minute: the wall clock may jump.
    this.heldTimer = setTimeout(() => void this.releaseDue(), Math.min(Math.ceil(dueInMs), 60_000));
    this.heldTimer.unref?.();
  }

  /** Applies held ops whose time has come (RELAY-7). Public so tests with a moved clock can call it. */
  releaseDue(): Promise<void> {
    this.releasing = this.releasing.then(async () => {
      for (;;) {
        const due = this.store.dueHeld(this.nowUs() + this.skewUs, 256);
        if (due.length === 0) break;
        const results = await this.replica.receiveBatch(due.map((h) => h.bytes));
        due.forEach((h, i) => {
          const r = results[i]!;
          if (r.status === 'rejected') {
            this.stats.opsRejected++;
            const waiting = this.awaiting.get(h.id);
            for (const c of waiting ?? []) {
              c.sendError(
                wireCode(r.error?.code ?? 'Malformed'),
                r.error?.message ?? 'rejected',
                h.id,
                h.doc,
              );
              this.unawait(h.id, c);
            }
          } else if (r.status === 'duplicate') {
            const seq = this.store.seqOf(h.doc, h.id);
            for (const c of this.awaiting.get(h.id) ?? []) {
              if (seq !== undefined) this.ackWhenDurable(c, { doc: h.doc, op: h.id, seq });
              this.unawait(h.id, c);
            }
          }
          // 'pending' ops now live in the engine's persisted pending set; 'applied' acks went out on commit.
          if (r.status !== 'rejected' || r.error?.code !== 'Storage') this.store.unhold(h.id);
        });
        if (results.some((r) => r.status === 'rejected' && r.error?.code === 'Storage')) break;
      }
      this.scheduleHeld();
    });
    return this.releasing;
  }

  // --- reads for connections -------------------------------------------------------------

  isMember(doc: DocId, device: DeviceId): boolean {
    return this.replica.members(doc).has(device);
  }

  hasDoc(doc: DocId): boolean {
    return this.replica.hasDoc(doc);
  }

  headsOf(doc: DocId): { root: string; heads: OpId[] } {
    return { root: this.replica.root(doc), heads: this.replica.heads(doc) };
  }

  missingOf(doc: DocId): OpId[] {
    return this.replica.missing(doc);
  }

  page(doc: DocId, afterSeq: number): { seq: number; id: OpId; bytes: Uint8Array }[] {
    return this.store.listOpBytes(doc, afterSeq, PAGE_OPS);
  }

  seqOf(doc: DocId, id: OpId): number | undefined {
    return this.store.seqOf(doc, id);
  }

  async opsById(doc: DocId, ids: readonly OpId[]): Promise<Uint8Array[]> {
    const recs = await this.replica.getOps(doc, ids);
    return recs.filter((r) => r !== undefined).map((r) => r.bytes);
  }

  randomBytes(n: number): Uint8Array {
    return this.random(n);
  }

  verifyAuth(device: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean> {
    return this.crypto.verify(device, sig, msg);
  }

  get opts(): { limits: RelayLimits; log: Logger } {
    return { limits: this.limits, log: this.log };
  }
}

function hexToBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** One device connection. Frames are handled one at a time, in order (pushes stay ordered). */
class Conn {
  closed = false;
  device: DeviceId | undefined;
  readonly awaited = new Set<OpId>();
  private challenge: Uint8Array | undefined;
  /** The challenge this connection authenticated with: invite proofs are bound to it (INV-6). */
  private authChallenge: Uint8Array | undefined;
  /** Calendars this (non-member) device may read on this connection by an invite proof (INV-6). */
  private readonly inviteDocs = new Set<DocId>();
  private queue: Promise<void> = Promise.resolve();
  private readonly subs = new Map<DocId, Subscription>();
  private ackBuf: MessageOf<'ack'>['acks'] = [];
  private ackScheduled = false;
  private authTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly log: Logger;

  constructor(
    private readonly relay: Relay,
    private readonly t: RelayTransport,
  ) {
    this.log = relay.opts.log.child({ remote: t.remote });
  }

  start(): void {
    this.challenge = this.relay.randomBytes(32);
    this.send({
      type: 'challenge',
      version: PROTOCOL_VERSION,
      challenge: this.challenge,
      relayTime: this.relay.now(),
    });
    this.authTimer = setTimeout(() => {
      if (this.device === undefined && !this.closed) {
        this.sendError('AuthRequired', 'authentication timed out');
        this.t.close(CloseCode.AuthTimeout, 'auth timeout');
      }
    }, this.relay.opts.limits.authTimeoutMs);
    this.authTimer.unref?.();
    this.log.debug('connected');
  }

  send(m: SyncMessage): void {
    if (this.closed) return;
    this.t.send(encodeMessage(m));
  }

  sendError(
    code: SyncErrorName,
    message: string,
    op: OpId | null = null,
    doc: DocId | null = null,
    retryAfterMs = 0,
  ) {
    this.send({ type: 'error', code, message, op, doc, retryAfterMs });
  }

  /** Acks are batched per tick: one frame for a whole pushed batch. */
  queueAck(a: { doc: DocId; op: OpId; seq: number }): void {
    this.ackBuf.push(a);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    queueMicrotask(() => {
      this.ackScheduled = false;
      const acks = this.ackBuf;
      this.ackBuf = [];
      for (let i = 0; i < acks.length; i += SYNC_LIMITS.maxAcksPerFrame) {
        this.send({ type: 'ack', acks: acks.slice(i, i + SYNC_LIMITS.maxAcksPerFrame) });
      }
    });
  }

  drain(): Promise<void> {
    return this.queue;
  }

  receive(bytes: Uint8Array, isBinary: boolean): void {
    if (this.closed) return;
    // Decoding happens now (cheap, bounded); the work runs in order on the queue.
    let m: SyncMessage;
    try {
      if (!isBinary) throw new SyncProtocolError('Malformed', 'text frames are not part of the protocol');
      m = decodeMessage(bytes, this.relay.opts.limits.maxFrameBytes);
    } catch (e) {
      this.relay.stats.framesMalformed++;
      const code = e instanceof SyncProtocolError ? e.code : 'Malformed';
      this.log.info('bad frame', { device: this.device, code, err: e });
      this.sendError(code, e instanceof Error ? e.message : 'bad frame');
      return;
    }
    this.queue = this.queue.then(() =>
      this.handle(m).catch((e: unknown) => {
        // A bug or a storage failure in one frame must not take down the connection or the relay.
        this.log.error('frame handler failed', { device: this.device, type: m.type, err: e });
        const code = e instanceof EngineError ? wireCode(e.code) : 'Internal';
        this.sendError(code, e instanceof Error ? e.message : 'internal error');
      }),
    );
  }

  private async handle(m: SyncMessage): Promise<void> {
    if (this.closed) return;
    if (this.device === undefined) {
      if (m.type !== 'auth') {
        this.sendError('AuthRequired', `${m.type} before authentication`);
        return;
      }
      return this.auth(m);
    }
    if (this.relay.closing && m.type === 'push') {
      this.sendError('ShuttingDown', 'relay is shutting down; push again after reconnecting');
      return;
    }
    switch (m.type) {
      case 'auth':
        this.sendError('Malformed', 'already authenticated');
        return;
      case 'subscribe':
        return this.subscribe(m);
      case 'push':
        return this.push(m.ops);
      case 'heads':
        return this.heads(m);
      case 'want':
        return this.want(m);
      default:
        this.sendError('Unsupported', `${m.type} is not sent to a relay`);
    }
  }

  private async auth(m: MessageOf<'auth'>): Promise<void> {
    const challenge = this.challenge;
    this.challenge = undefined; // single use: a second attempt needs a new connection
    if (m.version !== PROTOCOL_VERSION) {
      this.sendError('VersionMismatch', `relay speaks protocol ${PROTOCOL_VERSION}, device ${m.version}`);
      this.t.close(CloseCode.VersionMismatch, 'version mismatch');
      return;
    }
    let ok = false;
    if (challenge !== undefined) {
      try {
        ok = await this.relay.verifyAuth(hexToBytes(m.device), m.sig, authMessage(challenge, this.t.host));
      } catch {
        ok = false;
      }
    }
    if (!ok) {
      this.log.info('auth failed', { device: m.device });
      this.sendError('AuthFailed', 'challenge signature does not verify');
      this.t.close(CloseCode.AuthFailed, 'auth failed');
      return;
    }
    if (this.authTimer !== undefined) clearTimeout(this.authTimer);
    this.device = m.device;
    this.authChallenge = challenge;
    const now = this.relay.now();
    this.send({
      type: 'welcome',
      device: m.device,
      relayTime: now,
      clockOffset: m.deviceTime - now,
      maxSkew: this.relay.skewUs,
    });
    this.log.debug('authenticated', { device: m.device });
  }

  private async subscribe(m: MessageOf<'subscribe'>): Promise<void> {
    const device = this.device!;
    if (!this.relay.hasDoc(m.doc)) {
      this.sendError('UnknownDoc', 'calendar not on this relay (push its genesis first)', null, m.doc);
      return;
    }
    // Only members may read a calendar's ops: they are encrypted, but who wrote when is metadata.
    // A device joining by invite may read once it proves it holds the invite secret (INV-6).
    if (!this.relay.isMember(m.doc, device)) {
      const removedAt = this.relay.ledger.removedAt(m.doc, device);
      if (m.invite === undefined && removedAt !== undefined) {
        // RELAY-9: a removed device that was away gets what it was a member for, up to and
        // including its Remove (so it learns it was removed), and nothing after.
        const sub: Subscription = {
          doc: m.doc,
          sentSeq: m.cursor,
          caughtUp: false,
          scheduled: false,
          revokeAt: removedAt,
        };
        this.subs.set(m.doc, sub);
        this.pump(sub);
        return;
      }
      if (m.invite === undefined) {
        this.sendError('NotMember', 'device is not a member of this calendar', null, m.doc);
        return;
      }
      const refusal = await this.checkInviteProof(m.doc, m.invite);
      if (refusal !== undefined) {
        this.log.info('invite subscription refused', { device, doc: m.doc, code: refusal.code });
        this.sendError(refusal.code, refusal.message, null, m.doc);
        return;
      }
      this.inviteDocs.add(m.doc);
    }
    const sub: Subscription = { doc: m.doc, sentSeq: m.cursor, caughtUp: false, scheduled: false };
    this.subs.set(m.doc, sub);
    this.pump(sub);
  }

  /**
   * INV-6: the invite exists in this calendar, the proof is the invite key's signature over
   * (doc, invite, this device, this connection's challenge), and the invite is unexpired by the
   * relay's clock and not used by another device.
   */
  private async checkInviteProof(
    doc: DocId,
    invite: { op: OpId; sig: Uint8Array },
  ): Promise<Refusal | undefined> {
    const entry = this.relay.ledger.invite(doc, invite.op);
    if (entry === undefined || this.authChallenge === undefined) {
      return { code: 'InviteInvalid', message: 'no such invite in this calendar' };
    }
    const msg = inviteFetchMessage(doc, invite.op, this.device!, this.authChallenge);
    let ok = false;
    try {
      ok = await this.relay.verifyAuth(entry.subject, invite.sig, msg);
    } catch {
      ok = false;
    }
    if (!ok) return { code: 'InviteInvalid', message: 'the invite proof does not verify' };
    if (this.relay.now() > entry.expires) {
      return { code: 'InviteExpired', message: "the invite expired (by the relay's clock)" };
    }
    const used = this.relay.ledger.usedBy(doc, invite.op);
    if (used !== undefined && used.author !== this.device) {
      return { code: 'InviteUsed', message: 'the invite was already used' };
    }
    return undefined;
  }

  /** RELAY-9: this device was removed from `doc` by the op at `seq`. */
  revoke(doc: DocId, seq: number): void {
    this.inviteDocs.delete(doc);
    const sub = this.subs.get(doc);
    if (sub === undefined) return;
    sub.revokeAt = seq;
    this.pump(sub);
  }

  /** A commit in `doc`: stream what is new to this connection on the next tick (batched). */
  wake(doc: DocId): void {
    const sub = this.subs.get(doc);
    if (sub === undefined || sub.scheduled || this.closed) return;
    sub.scheduled = true;
    setImmediate(() => {
      sub.scheduled = false;
      this.pump(sub);
    });
  }

  /**
   * Sends ops with seq > sentSeq in seq order, in pages, from the store. Synchronous between
   * pages, so nothing committed in between is skipped or sent twice. Pauses under backpressure.
   */
  private pump(sub: Subscription): void {
    if (this.closed || this.subs.get(sub.doc) !== sub) return;
    for (;;) {
      if (this.t.bufferedAmount() > HIGH_WATER) {
        if (!sub.scheduled) {
          sub.scheduled = true;
          setTimeout(() => {
            sub.scheduled = false;
            this.pump(sub);
          }, 20);
        }
        return;
      }
      const limit = sub.revokeAt;
      const page = this.relay
        .page(sub.doc, sub.sentSeq)
        .filter((op) => limit === undefined || op.seq <= limit);
      if (page.length === 0) break;
      let batch: SeqOp[] = [];
      let size = 0;
      for (const op of page) {
        if (batch.length > 0 && size + op.bytes.length > PAGE_BYTES) {
          this.send({ type: 'ops', doc: sub.doc, ops: batch });
          batch = [];
          size = 0;
        }
        batch.push({ seq: op.seq, bytes: op.bytes });
        size += op.bytes.length;
      }
      this.send({ type: 'ops', doc: sub.doc, ops: batch });
      sub.sentSeq = page[page.length - 1]!.seq;
      if (page.length < 256) break;
    }
    if (sub.revokeAt !== undefined && sub.sentSeq >= sub.revokeAt) {
      // The Remove itself went out: the device learns it was removed; nothing after it does.
      this.subs.delete(sub.doc);
      this.sendError('NotMember', 'this device was removed from the calendar', null, sub.doc);
      return;
    }
    if (!sub.caughtUp) {
      sub.caughtUp = true;
      const { root, heads } = this.relay.headsOf(sub.doc);
      this.send({ type: 'caughtUp', doc: sub.doc, seq: sub.sentSeq, root, heads });
    }
  }

  private async push(list: Uint8Array[]): Promise<void> {
    const device = this.device!;
    const { maxOpBytes } = this.relay.opts.limits;
    const bucket = this.relay.bucketFor(device);
    const nowUs = this.relay.now();
    const toApply: { op: OpenedOp; bytes: Uint8Array; invite?: OpId | undefined }[] = [];
    for (const bytes of list) {
      let op: OpenedOp;
      try {
        if (bytes.length > maxOpBytes)
          throw new EngineError('TooLarge', `op is ${bytes.length} bytes (max ${maxOpBytes})`);
        op = openOp(bytes);
      } catch (e) {
        this.relay.stats.opsRejected++;
        const err = e instanceof EngineError ? e : new EngineError('Malformed', String(e));
        this.sendError(wireCode(err.code), err.message, (err.opId as OpId | undefined) ?? null);
        continue;
      }
      const wait = bucket.take(nowUs / 1000);
      if (wait > 0) {
        this.sendError('RateLimited', 'too many ops from this device', op.id, op.doc, wait);
        continue;
      }
      const pre = this.relay.precheck(op);
      if (pre.refusal !== undefined) {
        this.relay.stats.opsRejected++;
        this.log.info('op refused', { device, op: op.id, code: pre.refusal.code });
        this.sendError(pre.refusal.code, pre.refusal.message, op.id, op.doc);
        continue;
      }
      if (op.header.wallTime > nowUs + this.relay.skewUs) {
        const r = await this.relay.hold(op);
        if (r === 'bad-signature') {
          this.relay.stats.opsRejected++;
          this.sendError('BadSignature', 'signature does not verify', op.id, op.doc);
        } else if (r === 'full') {
          this.sendError('HeldFull', 'too many future-dated ops held for this device', op.id, op.doc);
        } else {
          this.relay.await(op.id, this);
          const offset = op.header.wallTime - nowUs;
          this.send({
            type: 'held',
            doc: op.doc,
            op: op.id,
            releaseAt: op.header.wallTime - this.relay.skewUs,
            clockOffset: offset,
          });
          this.send({ type: 'clock', clockOffset: offset, maxSkew: this.relay.skewUs });
        }
        continue;
      }
      this.relay.await(op.id, this);
      toApply.push({ op, bytes, invite: pre.invite });
    }
    if (toApply.length === 0) return;
    const results = await this.relay.apply(toApply.map((x) => x.op));
    const pendingDocs = new Set<DocId>();
    results.forEach((r, i) => {
      const { op, invite } = toApply[i]!;
      if (invite !== undefined && r.status === 'rejected') this.relay.ledger.release(invite, op.id);
      switch (r.status) {
        case 'applied':
          // Acked from the commit hook already (RELAY-5).
          break;
        case 'duplicate': {
          const seq = this.relay.seqOf(op.doc, op.id);
          this.relay.unawait(op.id, this);
          if (seq !== undefined) this.relay.ackWhenDurable(this, { doc: op.doc, op: op.id, seq });
          break;
        }
        case 'pending':
          // Stays awaited: acked when its predecessors arrive and it applies (DAG-3).
          pendingDocs.add(op.doc);
          break;
        case 'rejected': {
          this.relay.stats.opsRejected++;
          this.relay.unawait(op.id, this);
          const code = r.error?.code ?? 'Malformed';
          this.log.info('op rejected', { device, op: op.id, code });
          this.sendError(wireCode(code), r.error?.message ?? 'rejected', op.id, op.doc);
          break;
        }
      }
    });
    // SYNC-7: ask the pusher for what the pending ops wait for.
    for (const doc of pendingDocs) this.wantMissing(doc);
  }

  private wantMissing(doc: DocId): void {
    const ids = this.relay.missingOf(doc).slice(0, SYNC_LIMITS.maxIdsPerFrame);
    if (ids.length > 0) this.send({ type: 'want', doc, ids });
  }

  private async heads(m: MessageOf<'heads'>): Promise<void> {
    if (!this.mayRead(m.doc)) return;
    const mine = this.relay.headsOf(m.doc);
    this.send({
      type: 'heads',
      doc: m.doc,
      root: mine.root,
      heads: mine.heads.slice(0, SYNC_LIMITS.maxIdsPerFrame),
    });
    if (mine.root === m.root) return;
    // SYNC-6: roots differ: ask for the device's heads the relay lacks (and what pending ops need).
    const unknown = m.heads.filter((h) => this.relay.seqOf(m.doc, h) === undefined);
    const want = [...new Set([...unknown, ...this.relay.missingOf(m.doc)])].slice(
      0,
      SYNC_LIMITS.maxIdsPerFrame,
    );
    if (want.length > 0) this.send({ type: 'want', doc: m.doc, ids: want });
  }

  private async want(m: MessageOf<'want'>): Promise<void> {
    if (!this.mayRead(m.doc)) return;
    const found = await this.relay.opsById(m.doc, m.ids);
    for (let i = 0; i < found.length; i += PAGE_OPS) {
      this.send({
        type: 'ops',
        doc: m.doc,
        ops: found.slice(i, i + PAGE_OPS).map((bytes) => ({ seq: 0, bytes })),
      });
    }
  }

  private mayRead(doc: DocId): boolean {
    if (!this.relay.hasDoc(doc)) {
      this.sendError('UnknownDoc', 'calendar not on this relay', null, doc);
      return false;
    }
    if (!this.relay.isMember(doc, this.device!) && !this.inviteDocs.has(doc)) {
      this.sendError('NotMember', 'device is not a member of this calendar', null, doc);
      return false;
    }
    return true;
  }
}
