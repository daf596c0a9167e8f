// One device connection (SYNC-2..9): the challenge and Auth, frame intake within the socket's
// budgets, and the handling of each message, one frame at a time in order (pushes stay ordered).
// Pushes: push.ts; what an op must pass: admission.ts; answers: answers.ts; streaming: streams.ts.

import { type DeviceId, type DocId, EngineError, type OpId } from '../engine/index.ts';
import { CloseCode, RELAY_PRE_AUTH, wireCode } from '../sync/codes.ts';
import {
  type AckEntry,
  type MessageOf,
  PROTOCOL_VERSION,
  SYNC_LIMITS,
  type SyncErrorName,
  type SyncMessage,
  SyncProtocolError,
} from '../sync/messages.ts';
import { authMessage, inviteFetchMessage } from '../sync/messages-auth.ts';
import { decodeMessage, encodeMessage } from '../sync/messages-codec.ts';
import { NOT_SERVED, type Refusal } from './admission.ts';
import type { AnswerPeer } from './answers.ts';
import type { Logger } from './log.ts';
import { handlePush } from './push.ts';
import type { Relay, RelayTransport } from './relay.ts';
import type { SnapshotPeer, Upload } from './relay-snapshots.ts';
import { Streams } from './streams.ts';

export class Session implements AnswerPeer, SnapshotPeer {
  closed = false;
  /** The snapshot this connection is uploading (SYNC-13; one at a time). */
  upload: Upload | undefined;
  device: DeviceId | undefined;
  readonly awaited = new Set<OpId>();
  readonly acking = new Set<OpId>();
  readonly streams: Streams;
  private challenge: Uint8Array | undefined;
  /** The challenge this connection authenticated with: invite proofs are bound to it (INV-6). */
  private authChallenge: Uint8Array | undefined;
  /** Calendars this (non-member) device may read on this connection by an invite proof (INV-6). */
  private readonly inviteDocs = new Set<DocId>();
  /** Calendars whose newest snapshot is offered to endorse once CaughtUp went out (SNAP-15). */
  private readonly offerWhenCaughtUp = new Set<DocId>();
  private queue: Promise<void> = Promise.resolve();
  /** Bytes received and not yet handled (RELAY-20). */
  private queuedBytes = 0;
  private ackBuf: AckEntry[] = [];
  private ackScheduled = false;
  private authTimer: ReturnType<typeof setTimeout> | undefined;
  private lastRateError = -Infinity;
  /** Frames dropped in a row for the frame budget (the pause grows with it). */
  private overBudget = 0;
  readonly log: Logger;

  constructor(
    readonly relay: Relay,
    readonly t: RelayTransport,
  ) {
    this.log = relay.log.child({ remote: t.remote });
    this.streams = new Streams(this, relay, relay.limits.maxWantIds);
  }

  start(): void {
    this.t.limitPayload?.(this.relay.limits.preAuthMaxBytes);
    this.challenge = this.relay.random(32);
    this.send({
      type: 'challenge',
      version: PROTOCOL_VERSION,
      challenge: this.challenge,
      relayTime: this.relay.nowUs(),
    });
    this.authTimer = setTimeout(() => {
      if (this.device === undefined && !this.closed) {
        this.sendError('AuthRequired', 'authentication timed out');
        this.t.close(CloseCode.AuthTimeout, 'auth timeout');
      }
    }, this.relay.limits.authTimeoutMs);
    this.authTimer.unref?.();
    this.log.debug('connected');
  }

  stop(): void {
    this.closed = true;
    if (this.authTimer !== undefined) clearTimeout(this.authTimer);
  }

  bufferedAmount(): number {
    return this.t.bufferedAmount();
  }

  send(m: SyncMessage): void {
    if (this.closed) return;
    // RELAY-20: a peer that does not read what it asks for is cut off, not buffered for.
    if (this.t.bufferedAmount() > this.relay.limits.maxQueuedBytes) {
      this.close(CloseCode.OverBudget, 'unread output over budget');
      return;
    }
    this.t.send(encodeMessage(m));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.t.close(code, reason);
    this.relay.drop(this);
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
  queueAck(a: AckEntry): void {
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

  /** Runs `f` after every frame received so far (the relay's own sends keep their order). */
  enqueue(f: () => Promise<void>): void {
    this.queue = this.queue.then(f).catch((e: unknown) => {
      this.log.error('queued task failed', { device: this.device, err: e });
    });
  }

  receive(bytes: Uint8Array, isBinary: boolean): void {
    if (this.closed) return;
    if (this.device === undefined) {
      this.receivePreAuth(bytes, isBinary);
      return;
    }
    if (!this.withinFrameBudget(bytes.length)) return;
    let m: SyncMessage;
    try {
      if (!isBinary) throw new SyncProtocolError('Malformed', 'text frames are not part of the protocol');
      m = decodeMessage(bytes, this.relay.limits.maxFrameBytes);
    } catch (e) {
      this.relay.stats.framesMalformed++;
      const code = e instanceof SyncProtocolError ? e.code : 'Malformed';
      this.log.info('bad frame', { device: this.device, code });
      this.sendError(code, e instanceof Error ? e.message : 'bad frame');
      return;
    }
    this.queuedBytes += bytes.length;
    if (this.queuedBytes > this.relay.limits.maxQueuedBytes) {
      this.close(CloseCode.OverBudget, 'unhandled input over budget');
      return;
    }
    this.queue = this.queue.then(() =>
      this.handle(m)
        .catch((e: unknown) => {
          // A bug or a storage failure in one frame must not take down the connection or the relay.
          this.log.error('frame handler failed', { device: this.device, type: m.type, err: e });
          const code = e instanceof EngineError ? wireCode(e.code) : 'Internal';
          this.sendError(code, e instanceof Error ? e.message : 'internal error');
        })
        .finally(() => {
          this.queuedBytes -= bytes.length;
        }),
    );
  }

  /**
   * RELAY-20: a frame costs 1 token plus one per 4 KiB, taken before it is decoded from the
   * device's budget and, for a device that is a member of no calendar here, from the budget all
   * such devices share (fresh keys are free: a thousand strangers get what one would). Over
   * budget: the frame is dropped unread, the socket is not read until the budget refills, and
   * the device hears RateLimited at most once a second.
   */
  private withinFrameBudget(size: number): boolean {
    const relay = this.relay;
    const device = this.device!;
    const nowMs = relay.nowUs() / 1000;
    const cost = 1 + (size >> 12);
    let wait = relay.frameBuckets.take(device, nowMs, cost);
    if (wait === 0 && !relay.isKnownMember(device)) wait = relay.strangerFrames.take(nowMs, cost);
    if (wait === 0) {
      this.overBudget = 0;
      return true;
    }
    relay.stats.framesDropped++;
    // Not read further until the budget refills: the peer's bytes wait in its TCP buffers, not
    // in the relay's memory or CPU. A peer that keeps coming back over budget waits longer each
    // time (many sockets share the strangers' budget: each must not be read at its refill rate).
    this.t.pause?.(Math.min(30_000, Math.max(wait, 250 * 2 ** Math.min(this.overBudget, 7))));
    this.overBudget++;
    if (nowMs - this.lastRateError >= 1000) {
      this.lastRateError = nowMs;
      this.sendError('RateLimited', 'too many frames; this one was dropped unread', null, null, wait);
    }
    return false;
  }

  /**
   * SYNC-12, RELAY-20: before Welcome a socket may send one frame, an Auth of at most
   * `preAuthMaxBytes`; only its frame type is read before that is known. Anything else closes it.
   */
  private receivePreAuth(bytes: Uint8Array, isBinary: boolean): void {
    let m: SyncMessage | undefined;
    let why = 'one Auth frame is expected before anything else';
    if (isBinary && bytes.length <= this.relay.limits.preAuthMaxBytes && this.challenge !== undefined) {
      try {
        m = decodeMessage(bytes, this.relay.limits.preAuthMaxBytes, RELAY_PRE_AUTH);
      } catch (e) {
        why = e instanceof Error ? e.message : why;
      }
    }
    if (m === undefined || m.type !== 'auth') {
      this.relay.stats.framesMalformed++;
      this.sendError('AuthRequired', why);
      this.close(CloseCode.PreAuthViolation, 'auth required');
      return;
    }
    const auth = m;
    this.queue = this.queue.then(() => this.auth(auth));
  }

  private async handle(m: SyncMessage): Promise<void> {
    if (this.closed) return;
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
        return handlePush(this, m.ops);
      case 'heads':
        return this.heads(m);
      case 'want':
        if (this.mayRead(m.doc)) this.streams.want(m.doc, m.ids);
        return;
      case 'snapshotPut':
        return this.relay.snap.put(this, m);
      case 'snapshotChunk':
        return this.relay.snap.chunk(this, m);
      case 'endorse':
        return this.relay.snap.endorse(this, m);
      default:
        this.sendError('Unsupported', `${m.type} is not sent to a relay`);
    }
  }

  private async auth(m: MessageOf<'auth'>): Promise<void> {
    const challenge = this.challenge;
    this.challenge = undefined; // single use: a second attempt needs a new connection
    if (m.version !== PROTOCOL_VERSION) {
      this.sendError('VersionMismatch', `relay speaks protocol ${PROTOCOL_VERSION}, device ${m.version}`);
      this.close(CloseCode.VersionMismatch, 'version mismatch');
      return;
    }
    // RELAY-17: the host the device signed must be one of the relay's own origins.
    const host = this.t.host.toLowerCase();
    let ok = false;
    if (challenge !== undefined && this.relay.servesHost(host)) {
      try {
        ok = await this.relay.crypto.verify(hexBytes(m.device), m.sig, authMessage(challenge, host));
      } catch {
        ok = false;
      }
    }
    if (!ok || this.closed) {
      this.log.info('auth failed', { device: m.device });
      this.sendError('AuthFailed', 'challenge signature does not verify for this relay');
      this.close(CloseCode.AuthFailed, 'auth failed');
      return;
    }
    if (this.authTimer !== undefined) clearTimeout(this.authTimer);
    this.t.limitPayload?.(this.relay.limits.maxFrameBytes * 2);
    this.device = m.device;
    this.authChallenge = challenge;
    this.relay.authenticated(this);
    const now = this.relay.nowUs();
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
    // RELAY-22: a calendar created, or a member added, at another relay a moment ago.
    if (this.relay.shared && !(this.relay.hasDoc(m.doc) && this.relay.admission.isMember(m.doc, device)))
      await this.relay.refresh(m.doc);
    if (this.relay.hasDoc(m.doc) && this.relay.admission.isMember(m.doc, device)) {
      await this.stream(m);
      return;
    }
    const removedAt = this.relay.hasDoc(m.doc) ? this.relay.ledger.removedAt(m.doc, device) : undefined;
    if (m.invite === undefined && removedAt !== undefined) {
      // RELAY-9: a removed device that was away gets what it was a member for, up to and
      // including its Remove (so it learns it was removed), and nothing after.
      this.streams.subscribe(m.doc, m.cursor, removedAt);
      return;
    }
    if (m.invite === undefined) {
      this.sendError(NOT_SERVED.code, NOT_SERVED.message, null, m.doc);
      return;
    }
    // A device joining by invite may read once it proves it holds the invite secret (INV-6).
    const refusal = await this.checkInviteProof(m.doc, m.invite);
    if (refusal !== undefined) {
      this.log.info('invite subscription refused', { device, doc: m.doc, code: refusal.code });
      this.sendError(refusal.code, refusal.message, null, m.doc);
      return;
    }
    this.inviteDocs.add(m.doc);
    await this.stream(m);
  }

  /**
   * SYNC-3; SYNC-15: a device that holds nothing of the calendar and may start from a snapshot
   * is offered the newest trusted one, then the ops after its frontier.
   */
  private async stream(m: MessageOf<'subscribe'>): Promise<void> {
    if (m.fromSnapshot === true && m.cursor === 0) {
      const start = await this.relay.snap.serve(this, m.doc);
      if (start !== undefined) {
        this.streams.subscribe(m.doc, start.seq, undefined, start.skip);
        return;
      }
    }
    // SNAP-15, SYNC-15: a member that holds the calendar is offered the newest snapshot it has not
    // endorsed once it has caught up (it can then recompute it), so one that was away consents.
    if (m.cursor > 0 && this.relay.admission.isMember(m.doc, this.device!)) this.offerWhenCaughtUp.add(m.doc);
    this.streams.subscribe(m.doc, m.cursor);
  }

  /** Streams: CaughtUp went out for `doc`; a snapshot offer waiting for it follows. */
  caughtUp(doc: DocId): void {
    if (!this.offerWhenCaughtUp.delete(doc)) return;
    this.enqueue(() => this.relay.snap.offerToEndorse(this, doc));
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
    const entry = this.relay.hasDoc(doc) ? this.relay.ledger.invite(doc, invite.op) : undefined;
    if (entry === undefined || this.authChallenge === undefined) {
      return { code: 'InviteInvalid', message: 'no such invite in this calendar' };
    }
    const msg = inviteFetchMessage(doc, invite.op, this.device!, this.authChallenge);
    let ok = false;
    try {
      ok = await this.relay.crypto.verify(entry.subject, invite.sig, msg);
    } catch {
      ok = false;
    }
    if (!ok) return { code: 'InviteInvalid', message: 'the invite proof does not verify' };
    if (this.relay.nowUs() > entry.expires) {
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
    this.streams.revoke(doc, seq);
  }

  private async heads(m: MessageOf<'heads'>): Promise<void> {
    if (!this.mayRead(m.doc)) return;
    // With a shared database the engine's heads may trail what other relays committed: catch up
    // first, or the device would compare against a root no one holds any more (SYNC-6).
    if (this.relay.shared) await this.relay.refresh(m.doc);
    const mine = this.relay.headsOf(m.doc);
    this.send({
      type: 'heads',
      doc: m.doc,
      root: mine.root,
      heads: mine.heads.slice(0, SYNC_LIMITS.maxIdsPerFrame),
    });
    if (mine.root === m.root) return;
    // SYNC-6: roots differ: ask for the device's heads the relay lacks (and what pending ops need).
    const unknown = m.heads.filter((h) => this.relay.store.seqOf(m.doc, h) === undefined);
    const want = [
      ...new Set([...unknown, ...this.relay.store.missingOf(m.doc, SYNC_LIMITS.maxIdsPerFrame)]),
    ].slice(0, SYNC_LIMITS.maxIdsPerFrame);
    if (want.length > 0) this.send({ type: 'want', doc: m.doc, ids: want });
  }

  /** RELAY-9, RELAY-18: members (and invite readers) read; a stranger hears what any unknown calendar gets. */
  private mayRead(doc: DocId): boolean {
    const device = this.device!;
    if (this.relay.hasDoc(doc) && (this.relay.admission.isMember(doc, device) || this.inviteDocs.has(doc)))
      return true;
    if (this.relay.hasDoc(doc) && this.relay.ledger.removedAt(doc, device) !== undefined) {
      this.sendError('NotMember', 'device is not a member of this calendar', null, doc);
      return false;
    }
    this.sendError(NOT_SERVED.code, NOT_SERVED.message, null, doc);
    return false;
  }
}

function hexBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}
