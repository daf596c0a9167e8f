// The device side of sync: one connection per device to the relay. Connects when online, backs
// off with jitter when not, authenticates by signing the relay's challenge, pushes the outbox,
// resumes each calendar from its persisted cursor, applies what arrives through the engine, and
// reconciles heads until Merkle roots match. Exposes a status for the UI. No DOM, no Node: the
// host passes the transport factory, the persistence and the clock.

import type { ApplyResult, CryptoProvider, DeviceId, DocId, OpId, Replica, Signer } from '../engine/index.ts';
import { signInvite } from '../engine/index.ts';
import { CloseCode, DEVICE_PRE_WELCOME, isTransient } from './codes.ts';
import {
  type AckEntry,
  type MessageOf,
  PROTOCOL_VERSION,
  SYNC_LIMITS,
  type SyncMessage,
  SyncProtocolError,
} from './messages.ts';
import { authMessage, inviteFetchMessage } from './messages-auth.ts';
import { decodeMessage, encodeMessage } from './messages-codec.ts';
import { Resyncs } from './resync.ts';
import { SnapshotSync, type SnapshotSyncStats } from './snapshot-sync.ts';

/** The part of a WebSocket the client uses (browser WebSocket and `ws` both fit). */
export interface SyncSocket {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export type SocketFactory = (url: string) => SyncSocket;

/** An op waiting for the relay's acknowledgement (SYNC-4). */
export interface OutboxOp {
  id: OpId;
  doc: DocId;
  bytes: Uint8Array;
}

/** Where the host keeps sync state across reloads (IndexedDB in the worker). */
export interface SyncPersistence {
  /** Highest relay seq applied for a calendar, 0 if none. */
  getCursor(doc: DocId): Promise<number>;
  setCursor(doc: DocId, seq: number): Promise<void>;
  /** Unacknowledged ops, oldest first (a topological order: parents before children). */
  listOutbox(limit: number): Promise<OutboxOp[]>;
  countOutbox(): Promise<number>;
  /** Called only after the relay acknowledged these ops (they are durable there). */
  removeOutbox(ops: readonly { doc: DocId; id: OpId }[]): Promise<void>;
}

export interface SyncClock {
  /** µs since the Unix epoch (the device's clock: sent to the relay to measure the offset). */
  nowUs(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** `resyncing`: a calendar diverged (SNAP-7 refused ops) and is being refilled and re-based (SNAP-18). */
export type SyncState = 'offline' | 'connecting' | 'syncing' | 'resyncing' | 'synced';

export interface SyncStatus {
  state: SyncState;
  /** Ops waiting to upload. */
  pending: number;
  /** ms since the Unix epoch of the last time every calendar matched the relay's root. */
  lastSyncedAt: number | null;
  /** Device clock minus relay clock, µs (null before the first connection). */
  clockOffsetUs: number | null;
  /** True when the relay says this device's clock runs ahead beyond its allowed skew (SYNC-8). */
  clockWarning: boolean;
  /** Last error the relay reported (for diagnostics), or null. */
  lastError: { code: string; message: string } | null;
  /** Ops received from the relay since the client started (catch-up pages, forwards, answers). */
  opsReceived: number;
  /** Calendars started from a snapshot since the client started (SYNC-15). */
  snapshotStarts: number;
  /** Snapshots this device uploaded since the client started (SYNC-13). */
  snapshotUploads: number;
  /** Calendars re-based on a refill since the client started (SNAP-18). */
  rebased: number;
}

/**
 * What the host may want to know beyond the status: the relay refused to serve a calendar
 * (removed, or an invite it does not accept), refused an op for good, or acknowledged ops.
 */
export type SyncEvent =
  | { type: 'docRefused'; doc: DocId; code: string; message: string }
  | { type: 'opRefused'; doc: DocId | null; op: OpId; code: string; message: string }
  | { type: 'acked'; acks: AckEntry[] };

/** An invite held for a calendar this device is joining (INV-6): the secret never leaves the device. */
export interface HeldInvite {
  op: OpId;
  secret: Uint8Array;
}

export interface SyncClientOptions {
  /** ws:// or wss:// URL of the relay's /sync endpoint. */
  url: string;
  replica: Replica;
  signer: Signer;
  persistence: SyncPersistence;
  socket: SocketFactory;
  clock: SyncClock;
  /** Uniform random in [0, 1): backoff jitter. */
  random: () => number;
  /** Initial and maximum reconnect delay (ms). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Ops per push frame and ops in flight (unacknowledged) at once. */
  pushBatch?: number;
  maxInFlight?: number;
  /**
   * Snapshots on the wire (SYNC-13..15): with a crypto provider, a calendar this device does not
   * hold starts from the relay's newest trusted snapshot, and offered snapshots are endorsed.
   * Without one, neither happens (every calendar catches up from its whole history).
   */
  crypto?: CryptoProvider;
  /** Another device's snapshot of a calendar held here arrived (SNAP-14 counts from it). */
  onSnapshotOffered?: (doc: DocId, bytes: number) => void;
}

interface DocSync {
  caughtUp: boolean;
  subscribed: boolean;
  cursor: number;
  /** Root the relay reported last (CaughtUp/Heads), and whether ours matched it then. */
  matched: boolean;
  /** Reconciliation rounds this connection (bounded: SYNC-6). */
  rounds: number;
  /** A Heads query is outstanding. */
  asking: boolean;
}

const OPEN = 1;
const MAX_ROUNDS = 64;

/** Host part a browser sends in the Host header for this URL (default ports omitted). */
export function hostOf(url: string): string {
  const m = /^(wss?):\/\/(?:[^@/?#]*@)?([^/?#]+)/i.exec(url);
  if (m === null) throw new TypeError(`not a ws:// or wss:// URL: ${url}`);
  const scheme = m[1]!.toLowerCase();
  let host = m[2]!.toLowerCase();
  if ((scheme === 'ws' && host.endsWith(':80')) || (scheme === 'wss' && host.endsWith(':443'))) {
    host = host.slice(0, host.lastIndexOf(':'));
  }
  return host;
}

function toBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return undefined;
}

export class SyncClient {
  private readonly o: Required<Omit<SyncClientOptions, 'crypto' | 'onSnapshotOffered'>>;
  /** Snapshot upload, start and endorsement (undefined: snapshots off). */
  private readonly snaps: SnapshotSync | undefined;
  /** Diverged calendars being refilled and re-based (SNAP-18, SYNC-16). */
  private readonly resync: Resyncs;
  private socket: SyncSocket | undefined;
  private authed = false;
  private online = true;
  private stopped = true;
  private attempt = 0;
  private reconnectTimer: unknown;
  private retryTimer: unknown;
  private resyncTimer: unknown;
  private readonly docs = new Map<DocId, DocSync>();
  private readonly followed = new Map<DocId, HeldInvite | undefined>();
  /** Calendars the relay refused to serve on this connection (not a member, bad invite). */
  private readonly refused = new Set<DocId>();
  /** Ops the relay refused for good on this connection: kept in the outbox, not waited for. */
  private readonly refusedOps = new Set<OpId>();
  private challenge: Uint8Array | undefined;
  private readonly eventListeners = new Set<(e: SyncEvent) => void>();
  /** Pushed on this connection, not yet acked. */
  private readonly inFlight = new Map<OpId, DocId>();
  /** Held (future-dated) or rejected on this connection: not pushed again until reconnect. */
  private readonly parked = new Set<OpId>();
  /** Docs whose full log we push because the relay did not know them. */
  private readonly seeding = new Set<DocId>();
  /** Docs seeded on this connection (once: a relay that still answers UnknownDoc does not serve them). */
  private readonly seeded = new Set<DocId>();
  /** Calendars this device holds or follows that the relay answers UnknownDoc: never "synced" (SYNC-11). */
  private readonly unserved = new Set<DocId>();
  private readonly unservedTries = new Map<DocId, number>();
  private pushing = false;
  private work: Promise<void> = Promise.resolve();
  private unsubscribeReplica: (() => void) | undefined;
  private readonly listeners = new Set<(s: SyncStatus) => void>();
  private st: SyncStatus = {
    state: 'offline',
    pending: 0,
    lastSyncedAt: null,
    clockOffsetUs: null,
    clockWarning: false,
    lastError: null,
    opsReceived: 0,
    snapshotStarts: 0,
    snapshotUploads: 0,
    rebased: 0,
  };

  constructor(opts: SyncClientOptions) {
    this.o = { backoffBaseMs: 500, backoffMaxMs: 30_000, pushBatch: 256, maxInFlight: 2048, ...opts };
    hostOf(opts.url); // validate early
    this.resync = new Resyncs(opts.replica, () => this.nowMs());
    this.snaps =
      opts.crypto === undefined
        ? undefined
        : new SnapshotSync({
            replica: opts.replica,
            crypto: opts.crypto,
            send: (m) => this.send(m),
            started: (doc, seq) => this.startedFromSnapshot(doc, seq),
            startInto: (doc) => (this.resync.refilling(doc) ? this.resync.target(doc) : undefined),
            fallBack: (doc, why) => {
              this.set({ lastError: { code: 'Snapshot', message: why } });
              if (this.resync.refilling(doc)) {
                // SYNC-16: the refill asks for the whole history instead; the real copy is untouched.
                this.resync.noSnapshot(doc);
                this.serial(() => this.subscribe(doc));
                return;
              }
              // The whole history from seq 0: ops of the abandoned start may have moved the cursor.
              this.serial(async () => {
                await this.o.persistence.setCursor(doc, 0);
                await this.subscribe(doc);
              });
            },
            inviteSecret: (doc) => this.followed.get(doc)?.secret,
            uploaded: () => this.set({ snapshotUploads: this.st.snapshotUploads + 1 }),
            later: (fn, ms) => this.o.clock.setTimeout(() => this.serial(async () => fn()), ms),
            ...(opts.onSnapshotOffered === undefined ? {} : { offered: opts.onSnapshotOffered }),
          });
  }

  /** Snapshot counters (diagnostics), or undefined when snapshots are off. */
  get snapshotStats(): SnapshotSyncStats | undefined {
    return this.snaps === undefined ? undefined : { ...this.snaps.stats };
  }

  /**
   * SYNC-13: uploads a snapshot this device sealed. True once the relay stored it durably; false
   * when offline, snapshots are off, another upload is running, or the relay refused it.
   */
  uploadSnapshot(doc: DocId, manifest: Uint8Array, chunks: Uint8Array[]): Promise<boolean> {
    if (this.snaps === undefined || !this.authed) return Promise.resolve(false);
    return this.snaps.upload(doc, manifest, chunks);
  }

  /** SYNC-14, SNAP-16: sends an endorsement this device signed (its own snapshot's included). */
  sendEndorsement(doc: DocId, endorsement: Uint8Array): boolean {
    if (!this.authed) return false;
    this.send({ type: 'endorse', doc, endorsement });
    return true;
  }

  /** SYNC-15: the calendar was started from a snapshot; its tail streams after `seq`. */
  private async startedFromSnapshot(doc: DocId, seq: number): Promise<void> {
    const d = this.docs.get(doc);
    if (d !== undefined && seq > d.cursor) d.cursor = seq;
    // SNAP-18: a refill's cursor is kept only once the real copy is re-based on it.
    if (this.resync.refilling(doc)) return;
    await this.o.persistence.setCursor(doc, seq);
    this.set({ snapshotStarts: this.st.snapshotStarts + 1 });
  }

  get status(): SyncStatus {
    return { ...this.st };
  }

  onStatus(cb: (s: SyncStatus) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Refusals and acknowledgements, for hosts that wait on a particular op or calendar. */
  onEvent(cb: (e: SyncEvent) => void): () => void {
    this.eventListeners.add(cb);
    return () => this.eventListeners.delete(cb);
  }

  private emit(e: SyncEvent): void {
    for (const l of this.eventListeners) {
      try {
        l(e);
      } catch {
        // A listener's failure is its own.
      }
    }
  }

  /** True while connected and authenticated. */
  get connected(): boolean {
    return this.authed;
  }

  /** Starts syncing (connects if online). */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribeReplica = this.o.replica.onChange((e) => {
      // A calendar created or joined locally: subscribe to it on the live connection.
      if (this.authed && !this.docs.has(e.doc) && !this.refused.has(e.doc))
        this.serial(() => this.subscribe(e.doc));
    });
    void this.refreshPending();
    this.connect();
  }

  /** Stops syncing and closes the connection. Nothing is lost: the outbox stays persisted. */
  stop(): void {
    this.stopped = true;
    this.unsubscribeReplica?.();
    this.o.clock.clearTimeout(this.reconnectTimer);
    this.o.clock.clearTimeout(this.retryTimer);
    this.o.clock.clearTimeout(this.resyncTimer);
    this.socket?.close(1000, 'stopped');
    this.teardown();
    this.set({ state: 'offline' });
  }

  /** The host reports connectivity (navigator.onLine / online+offline events). */
  setOnline(online: boolean): void {
    this.online = online;
    if (!online) {
      this.socket?.close(1000, 'offline');
      this.teardown();
      this.set({ state: 'offline' });
    } else if (this.socket === undefined && !this.stopped) {
      this.attempt = 0;
      this.o.clock.clearTimeout(this.reconnectTimer);
      this.connect();
    }
  }

  /**
   * Also sync a calendar this replica does not hold yet. With an invite, the subscription carries
   * an invite proof (INV-6) until this device is a member, so it can fetch the calendar's ops
   * (up to and past the Invite op) before it writes its own Add.
   */
  follow(doc: DocId, invite?: HeldInvite): void {
    this.followed.set(doc, invite);
    this.refused.delete(doc);
    if (this.authed) this.serial(() => this.subscribe(doc));
  }

  /** Stops following a calendar that was followed only for an invite (a join that failed). */
  unfollow(doc: DocId): void {
    this.followed.delete(doc);
  }

  /** The host added ops to the outbox: push them now if connected. */
  kick(): void {
    void this.refreshPending();
    if (this.authed) this.serial(() => this.pushOutbox());
  }

  // --- connection ------------------------------------------------------------------------

  private connect(): void {
    if (this.stopped || !this.online || this.socket !== undefined) return;
    this.set({ state: 'connecting' });
    let s: SyncSocket;
    try {
      s = this.o.socket(this.o.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    s.binaryType = 'arraybuffer';
    this.socket = s;
    s.onmessage = (ev) => {
      if (this.socket !== s) return;
      const bytes = toBytes(ev.data);
      let m: SyncMessage;
      try {
        if (bytes === undefined) throw new SyncProtocolError('Malformed', 'text frame');
        // SYNC-12: before Welcome only Challenge, Welcome and Error are read at all.
        m = decodeMessage(bytes, undefined, this.authed ? undefined : DEVICE_PRE_WELCOME);
      } catch (e) {
        // A relay that sends garbage is not trusted with this connection.
        this.set({ lastError: { code: 'Malformed', message: e instanceof Error ? e.message : 'bad frame' } });
        s.close(CloseCode.ClientError, 'malformed frame');
        return;
      }
      this.serial(() => this.handle(m));
    };
    s.onclose = () => {
      if (this.socket !== s) return;
      this.teardown();
      this.scheduleReconnect();
    };
    s.onerror = () => {
      // onclose follows; nothing to do here.
    };
  }

  private teardown(): void {
    const s = this.socket;
    this.socket = undefined;
    if (s !== undefined) {
      s.onmessage = null;
      s.onclose = null;
      // Not null: a socket closed while still connecting reports an error afterwards, and with
      // no listener Node's `ws` would throw it (the browser's WebSocket would not care).
      s.onerror = () => {};
    }
    this.authed = false;
    this.docs.clear();
    this.inFlight.clear();
    this.parked.clear();
    this.seeding.clear();
    this.seeded.clear();
    this.unserved.clear();
    this.unservedTries.clear();
    this.refused.clear();
    this.refusedOps.clear();
    this.snaps?.reset();
    this.resync.reset();
    this.challenge = undefined;
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    if (!this.online) {
      this.set({ state: 'offline' });
      return;
    }
    this.set({ state: 'connecting' });
    // Full jitter (AWS architecture blog, "Exponential Backoff and Jitter"): spreads reconnects of
    // many devices after a relay restart instead of synchronising them.
    const cap = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.min(this.attempt, 16));
    const delay = Math.floor(this.o.random() * cap);
    this.attempt++;
    this.reconnectTimer = this.o.clock.setTimeout(() => this.connect(), delay);
  }

  private send(m: SyncMessage): void {
    const s = this.socket;
    if (s === undefined || s.readyState !== OPEN) return;
    s.send(encodeMessage(m));
  }

  /** Incoming frames and local triggers run one at a time, in order. */
  private serial(f: () => Promise<void>): void {
    this.work = this.work.then(f).catch((e: unknown) => {
      this.set({ lastError: { code: 'Internal', message: e instanceof Error ? e.message : String(e) } });
      // A local failure (storage) mid-sync: start over on a fresh connection.
      this.socket?.close(CloseCode.ClientError, 'client error');
    });
  }

  /** Resolves when everything queued so far has been handled (tests). */
  idle(): Promise<void> {
    return this.work;
  }

  // --- messages ----------------------------------------------------------------------------

  private async handle(m: SyncMessage): Promise<void> {
    switch (m.type) {
      case 'challenge':
        return this.answer(m);
      case 'welcome':
        return this.welcome(m);
      case 'ack':
        return this.acked(m);
      case 'ops':
        return this.ops(m);
      case 'caughtUp':
        return this.caughtUp(m);
      case 'heads':
        return this.heads(m);
      case 'want':
        return this.want(m);
      case 'held':
        this.parked.add(m.op);
        this.inFlight.delete(m.op);
        this.set({ clockOffsetUs: m.clockOffset, clockWarning: true });
        return;
      case 'clock':
        this.set({ clockOffsetUs: m.clockOffset, clockWarning: m.clockOffset > m.maxSkew });
        return;
      case 'error':
        return this.error(m);
      case 'snapshotStored':
      case 'snapshotOffer':
      case 'snapshotChunk':
        return this.snaps?.handle(m);
      case 'endorse':
        await this.snaps?.handle(m);
        // SNAP-22: an endorsement this copy cannot judge: it may differ for ever; re-sync it.
        if (!this.resync.refilling(m.doc) && this.resync.diverged(m.doc, this.nowMs())) this.restart();
        return;
      default:
        return;
    }
  }

  private async answer(m: MessageOf<'challenge'>): Promise<void> {
    if (m.version !== PROTOCOL_VERSION) {
      this.set({ lastError: { code: 'VersionMismatch', message: `relay speaks protocol ${m.version}` } });
      this.socket?.close(CloseCode.VersionMismatch, 'version mismatch');
      return;
    }
    this.challenge = m.challenge;
    const sig = await this.o.signer.sign(authMessage(m.challenge, hostOf(this.o.url)));
    const device = [...this.o.signer.publicKey].map((b) => b.toString(16).padStart(2, '0')).join('');
    this.send({
      type: 'auth',
      version: PROTOCOL_VERSION,
      device: device as never,
      sig,
      deviceTime: this.o.clock.nowUs(),
    });
  }

  private async welcome(m: MessageOf<'welcome'>): Promise<void> {
    this.authed = true;
    this.attempt = 0;
    this.set({ state: 'syncing', clockOffsetUs: m.clockOffset, clockWarning: m.clockOffset > m.maxSkew });
    // SYNC-4: push first, so a subscription's catch-up already reflects this device's own ops.
    await this.pushOutbox();
    const docs = new Set<DocId>([...this.o.replica.listDocs(), ...this.followed.keys()]);
    for (const doc of docs) await this.subscribe(doc);
    this.updateSynced();
  }

  private async subscribe(doc: DocId): Promise<void> {
    if (!this.authed) return;
    // SNAP-18, SYNC-16: a diverged calendar is refilled from cursor 0 (from the relay's trusted
    // snapshot when it has one) into a scratch replica; the real copy is re-based on it.
    const refill = this.resync.has(doc) ? this.resync.begin(doc, this.nowMs()) : undefined;
    if (this.resync.has(doc) && refill === undefined) this.restartLater();
    const cursor = refill === undefined ? await this.o.persistence.getCursor(doc) : 0;
    this.refused.delete(doc);
    this.docs.set(doc, {
      caughtUp: false,
      subscribed: true,
      cursor,
      matched: false,
      rounds: 0,
      asking: false,
    });
    const invite = this.followed.get(doc);
    const self = this.o.replica.deviceId;
    // SYNC-15: a calendar this device holds nothing of may start from a snapshot.
    const from: { fromSnapshot?: true } =
      refill !== undefined
        ? refill.fromSnapshot && this.snaps !== undefined
          ? { fromSnapshot: true }
          : {}
        : this.snaps?.mayStart(doc, cursor) === true
          ? { fromSnapshot: true }
          : {};
    if (invite !== undefined && self !== undefined && this.challenge !== undefined && !this.isMember(doc)) {
      const msg = inviteFetchMessage(doc, invite.op, self as DeviceId, this.challenge);
      this.send({
        type: 'subscribe',
        doc,
        cursor,
        invite: { op: invite.op, sig: signInvite(invite.secret, msg) },
        ...from,
      });
    } else {
      this.send({ type: 'subscribe', doc, cursor, ...from });
    }
    this.set({ state: this.busyState() });
  }

  private busyState(): SyncState {
    return this.resync.busy ? 'resyncing' : 'syncing';
  }

  private nowMs(): number {
    return Math.floor(this.o.clock.nowUs() / 1000);
  }

  /**
   * SNAP-18: a calendar diverged or its refill must start over or was given up: on a fresh
   * connection (no frame of this one's subscription can be taken for the next one's).
   */
  private restart(): void {
    this.updateSynced();
    this.socket?.close(1000, 'resync');
  }

  /** SNAP-18: a re-sync waits after a failed attempt: start over when the wait is over. */
  private restartLater(): void {
    const wait = this.resync.nextWait(this.nowMs());
    if (wait === undefined) return;
    const socket = this.socket;
    this.o.clock.clearTimeout(this.resyncTimer);
    this.resyncTimer = this.o.clock.setTimeout(() => {
      if (this.socket === socket) this.serial(async () => this.restart());
    }, wait);
  }

  /**
   * SNAP-18: re-bases the real copy of `doc` on its refill once the refill is caught up and
   * holds everything the real copy holds, and no own op of the calendar waits for its
   * acknowledgement (it holds the frontier; the relay forwards it into the refill once stored).
   */
  private async tryRebase(doc: DocId): Promise<void> {
    const d = this.docs.get(doc);
    if (d === undefined || !this.resync.refilling(doc)) return;
    if (this.resync.refillDiverged(doc)) {
      // The relay's snapshot predates ops the refill was sent: the whole history next time.
      this.resync.noSnapshot(doc);
      this.resync.abandon(doc, this.nowMs(), false);
      this.restart();
      return;
    }
    // Matched: the refill holds what the relay holds (a refill with gaps would only diverge again).
    if (!d.caughtUp || !d.matched) return;
    if (this.inFlightFor(doc) > 0) return;
    const outbox = await this.o.persistence.listOutbox(SYNC_LIMITS.maxIdsPerFrame);
    if (outbox.some((o) => o.doc === doc)) return;
    if (!(await this.resync.covers(doc))) return;
    try {
      await this.resync.finish(doc);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const message = e instanceof Error ? e.message : String(e);
      this.set({ lastError: { code: typeof code === 'string' ? code : 'Internal', message } });
      // Not covered after all (SNAP-13: an own op made a moment ago), or the store still holds an
      // own op in its outbox: nothing changed; tried again after the next acknowledgement.
      if (code === 'InvalidArgument') return;
      this.resync.abandon(doc, this.nowMs(), true);
      this.restart();
      return;
    }
    await this.o.persistence.setCursor(doc, d.cursor);
    d.matched = false;
    d.rounds = 0;
    this.set({ rebased: this.st.rebased + 1, lastError: null });
    this.askHeads(doc);
    this.updateSynced();
  }

  private isMember(doc: DocId): boolean {
    const self = this.o.replica.deviceId;
    return self !== undefined && this.o.replica.members(doc).has(self);
  }

  private async pushOutbox(): Promise<void> {
    if (!this.authed || this.pushing) return;
    this.pushing = true;
    try {
      let socket = this.socket;
      while (this.authed && this.inFlight.size < this.o.maxInFlight) {
        const skip = this.inFlight.size + this.parked.size;
        const list = await this.o.persistence.listOutbox(skip + this.o.pushBatch);
        // The connection may have closed (and even reopened) while the outbox was read: ops sent
        // now would be marked in flight on a connection that never carries them, and the next
        // connection would skip them for good (their descendants then wait at the relay). Read
        // again for the connection there is now, if any.
        if (this.socket !== socket) {
          socket = this.socket;
          continue;
        }
        const fresh = list
          .filter((x) => !this.inFlight.has(x.id) && !this.parked.has(x.id) && !this.refused.has(x.doc))
          .slice(0, this.o.pushBatch);
        if (fresh.length === 0) break;
        this.sendOps(fresh);
      }
    } finally {
      this.pushing = false;
    }
    await this.refreshPending();
  }

  /** Sends ops in frames that stay under the frame limit. */
  private sendOps(ops: readonly OutboxOp[]): void {
    let batch: Uint8Array[] = [];
    let size = 0;
    const flush = () => {
      if (batch.length > 0) this.send({ type: 'push', ops: batch });
      batch = [];
      size = 0;
    };
    for (const op of ops) {
      if (
        batch.length >= SYNC_LIMITS.maxOpsPerFrame ||
        size + op.bytes.length > SYNC_LIMITS.maxFrameBytes / 2
      )
        flush();
      batch.push(op.bytes);
      size += op.bytes.length + 16;
      this.inFlight.set(op.id, op.doc);
    }
    flush();
  }

  private async acked(m: MessageOf<'ack'>): Promise<void> {
    const ids = m.acks.map((a) => a.op);
    // Removed only now: the relay acks after its commit, so the op is durable there (RELAY-5).
    await this.o.persistence.removeOutbox(m.acks.map((a) => ({ doc: a.doc, id: a.op })));
    for (const id of ids) {
      this.inFlight.delete(id);
      this.parked.delete(id);
      this.refusedOps.delete(id);
    }
    this.emit({ type: 'acked', acks: m.acks });
    await this.pushOutbox();
    for (const doc of new Set(m.acks.map((a) => a.doc))) {
      if (this.seeding.has(doc) && ![...this.inFlight.values()].includes(doc)) {
        this.seeding.delete(doc);
        await this.subscribe(doc);
      }
    }
    if (this.inFlight.size === 0) this.checkRoots();
    for (const doc of new Set(m.acks.map((a) => a.doc))) await this.tryRebase(doc);
    this.updateSynced();
  }

  private async ops(m: MessageOf<'ops'>): Promise<void> {
    // One store commit per page of ops (DAG-7): catch-up of a large calendar is bound by verification.
    const target = this.resync.target(m.doc);
    const refilling = this.resync.refilling(m.doc);
    const results: ApplyResult[] = await target.receiveBatch(m.ops.map((o) => o.bytes));
    this.st.opsReceived += m.ops.length;
    const d = this.docs.get(m.doc);
    let cursor = d?.cursor ?? 0;
    let pending = false;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const seq = m.ops[i]!.seq;
      if (r.status === 'rejected' && r.error?.code === 'Storage') {
        // Not applied here: do not move the cursor past it; retry on a new connection.
        throw r.error;
      }
      if (r.status === 'pending') pending = true;
      // Ops from the subscription stream come in seq order; answers to Want carry seq 0.
      if (seq > cursor) cursor = seq;
    }
    if (d !== undefined && cursor > d.cursor) {
      d.cursor = cursor;
      if (!refilling) await this.o.persistence.setCursor(m.doc, cursor);
    }
    // SNAP-18: the engine refused ops by SNAP-7: this copy diverged; refill it on a fresh connection.
    if (!refilling && this.resync.diverged(m.doc, this.nowMs())) {
      this.restart();
      return;
    }
    if (refilling) await this.tryRebase(m.doc);
    if (pending) {
      // SYNC-7: fetch what the pending ops wait for.
      const ids = target.missing(m.doc).slice(0, SYNC_LIMITS.maxIdsPerFrame);
      if (ids.length > 0) this.send({ type: 'want', doc: m.doc, ids });
    } else if (d?.caughtUp && !d.matched && this.inFlightFor(m.doc) === 0) {
      // During reconciliation (an answer to our Want, or the op we wanted arriving by the live
      // stream instead): compare again.
      this.askHeads(m.doc);
    }
  }

  private async caughtUp(m: MessageOf<'caughtUp'>): Promise<void> {
    const d = this.docs.get(m.doc);
    if (d === undefined) return;
    d.caughtUp = true;
    this.unserved.delete(m.doc);
    const refilling = this.resync.refilling(m.doc);
    if (m.seq < d.cursor) {
      // RELAY-16: the relay's log is shorter than our cursor (it was restored from a backup): it
      // streamed from the start; resume from its seq from now on, and reconcile roots (SYNC-6).
      d.cursor = m.seq;
      if (!refilling) await this.o.persistence.setCursor(m.doc, m.seq);
    }
    // SNAP-22: a copy that holds an endorsement it cannot judge (found at open, or arrived while
    // the relay streamed) diverged though its root may match: re-sync it.
    if (!refilling && this.resync.diverged(m.doc, this.nowMs())) {
      this.restart();
      return;
    }
    d.matched = m.root === this.resync.target(m.doc).root(m.doc);
    if (d.matched && refilling) await this.tryRebase(m.doc);
    else if (d.matched) this.updateSynced();
    else if (this.inFlightFor(m.doc) === 0) this.askHeads(m.doc);
  }

  private inFlightFor(doc: DocId): number {
    let n = 0;
    for (const d of this.inFlight.values()) if (d === doc) n++;
    return n;
  }

  private checkRoots(): void {
    for (const [doc, d] of this.docs) if (d.caughtUp) this.askHeads(doc);
  }

  /** SYNC-6: send our heads and root; the relay answers with its own and asks for what it lacks. */
  private askHeads(doc: DocId): void {
    const d = this.docs.get(doc);
    if (d === undefined || d.asking) return;
    if (d.rounds >= MAX_ROUNDS) {
      this.set({ lastError: { code: 'Internal', message: `reconciliation of ${doc} did not converge` } });
      if (this.resync.refilling(doc)) {
        // SYNC-16: the relay cannot give the refill what it names (its history pruned, say):
        // the real copy stays as it is and is subscribed again from its own cursor; a later
        // connection tries again (restartLater, from subscribe).
        this.resync.abandon(doc, this.nowMs(), true);
        this.restart();
      }
      return;
    }
    d.rounds++;
    d.asking = true;
    const target = this.resync.target(doc);
    this.send({
      type: 'heads',
      doc,
      root: target.root(doc),
      heads: target.heads(doc).slice(0, SYNC_LIMITS.maxIdsPerFrame),
    });
  }

  private async heads(m: MessageOf<'heads'>): Promise<void> {
    const d = this.docs.get(m.doc);
    if (d === undefined) return;
    d.asking = false;
    const target = this.resync.target(m.doc);
    d.matched = m.root === target.root(m.doc);
    if (d.matched) {
      d.rounds = 0;
      await this.tryRebase(m.doc);
      this.updateSynced();
      return;
    }
    this.set({ state: this.busyState() });
    const have = await target.getOps(m.doc, m.heads);
    const unknown = m.heads.filter((_, i) => have[i] === undefined);
    if (unknown.length > 0) this.send({ type: 'want', doc: m.doc, ids: unknown });
    else if (this.inFlightFor(m.doc) === 0) {
      // We hold all the relay's heads: the relay lacks some of ours; it asked for them with a
      // Want (answered by pushes). Compare again once those are acked.
      this.o.clock.setTimeout(() => this.serial(async () => this.askHeads(m.doc)), 50);
    }
  }

  private async want(m: MessageOf<'want'>): Promise<void> {
    const recs = await this.o.replica.getOps(m.doc, m.ids);
    const ops: OutboxOp[] = [];
    for (const r of recs)
      if (r !== undefined && !this.inFlight.has(r.id)) ops.push({ id: r.id, doc: r.doc, bytes: r.bytes });
    if (ops.length > 0) this.sendOps(ops);
  }

  private async error(m: MessageOf<'error'>): Promise<void> {
    this.set({ lastError: { code: m.code, message: m.message } });
    if (m.op === null && m.doc !== null) this.snaps?.refused(m.doc);
    if (m.op === null && m.code === 'RateLimited') this.snaps?.rateLimited(m.retryAfterMs);
    if (m.op !== null) {
      this.inFlight.delete(m.op);
      if (isTransient(m.code)) {
        // Transient: push again after the relay's hint (the op stays in the outbox).
        const wait = Math.max(m.retryAfterMs, 100);
        this.o.clock.clearTimeout(this.retryTimer);
        this.retryTimer = this.o.clock.setTimeout(() => this.serial(() => this.pushOutbox()), wait);
      } else {
        // Permanent for this relay (e.g. NotMember after removal): kept in the outbox, not lost,
        // but not pushed again on this connection, and not waited for by the status.
        this.parked.add(m.op);
        this.refusedOps.add(m.op);
        this.emit({ type: 'opRefused', doc: m.doc, op: m.op, code: m.code, message: m.message });
      }
      this.updateSynced();
      return;
    }
    if (
      m.code === 'UnknownDoc' &&
      m.doc !== null &&
      (!this.o.replica.hasDoc(m.doc) || this.seeded.has(m.doc)) &&
      this.docs.has(m.doc)
    ) {
      // SYNC-11: the relay does not serve a calendar this device holds or follows (it lost it, or
      // never had it): say so, and never report "synced" while it lasts.
      // Asked again later on this connection: the calendar may reach the relay meanwhile (its
      // owner syncs after we subscribed, or a device re-seeds a restored relay).
      this.docs.delete(m.doc);
      this.unserved.add(m.doc);
      const tries = this.unservedTries.get(m.doc) ?? 0;
      this.unservedTries.set(m.doc, tries + 1);
      const socket = this.socket;
      const doc = m.doc;
      this.o.clock.setTimeout(
        () => {
          if (this.socket === socket && this.unserved.has(doc)) this.serial(() => this.subscribe(doc));
        },
        Math.min(30_000, 500 * 2 ** Math.min(tries, 6)),
      );
      this.emit({ type: 'docRefused', doc: m.doc, code: m.code, message: m.message });
      this.updateSynced();
      return;
    }
    if (m.doc !== null && (m.code === 'NotMember' || m.code.startsWith('Invite'))) {
      // RELAY-9 / INV-6: the relay does not serve this calendar to this device (removed, never a
      // member, or an invite it refuses). Stop waiting for it on this connection.
      this.docs.delete(m.doc);
      this.refused.add(m.doc);
      this.resync.forget(m.doc);
      this.emit({ type: 'docRefused', doc: m.doc, code: m.code, message: m.message });
      this.updateSynced();
      return;
    }
    if (
      m.code === 'UnknownDoc' &&
      m.doc !== null &&
      this.o.replica.hasDoc(m.doc) &&
      !this.seeding.has(m.doc)
    ) {
      // The relay lacks the calendar entirely (its genesis never reached it, or it was restored
      // from an old backup): seed it from our log, once per connection.
      this.seeding.add(m.doc);
      this.seeded.add(m.doc);
      this.docs.delete(m.doc);
      for (let after = 0; ; ) {
        const page = await this.o.replica.listOps(m.doc, after, 256);
        if (page.length === 0) break;
        after = page[page.length - 1]!.seq;
        this.sendOps(page.map((r) => ({ id: r.id, doc: r.doc, bytes: r.bytes })));
      }
    }
  }

  // --- status ------------------------------------------------------------------------------

  private async refreshPending(): Promise<void> {
    try {
      this.set({ pending: await this.o.persistence.countOutbox() });
    } catch {
      // Status only.
    }
    this.updateSynced();
  }

  private updateSynced(): void {
    if (!this.authed) return;
    // SNAP-18: a diverged calendar is not in sync until it is re-based.
    if (this.resync.busy) {
      if (this.st.state !== 'resyncing') this.set({ state: 'resyncing' });
      return;
    }
    const all = [...this.docs.values()];
    const done =
      all.every((d) => d.caughtUp && d.matched) &&
      this.inFlight.size === 0 &&
      this.seeding.size === 0 &&
      this.unserved.size === 0;
    // Ops the relay refused for good stay in the outbox (nothing is dropped) but cannot be waited for.
    if (done && this.st.pending <= this.refusedOps.size)
      this.set({ state: 'synced', lastSyncedAt: Math.floor(this.o.clock.nowUs() / 1000) });
    else if (this.st.state !== 'syncing') this.set({ state: 'syncing' });
  }

  private set(p: Partial<SyncStatus>): void {
    const next = { ...this.st, ...p };
    const changed = (Object.keys(next) as (keyof SyncStatus)[]).some((k) => next[k] !== this.st[k]);
    this.st = next;
    if (!changed) return;
    for (const l of this.listeners) {
      try {
        l({ ...next });
      } catch {
        // A listener's failure is its own.
      }
    }
  }
}
