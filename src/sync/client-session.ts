// The sync client's session (the base of client.ts's SyncClient): the state of one connection to
// the relay and of the calendars on it, the connection itself (connect, tear down, back off with
// jitter, send, the one queue frames and local triggers run on) and the status the host sees.
// What arrives is handed to `handle` (client.ts); calendars are subscribed by `subscribe`
// (client-catch-up.ts).

import type { DocId, OpId } from '../engine/index.ts';
import type { HeldInvite, SyncClientOptions, SyncEvent, SyncSocket, SyncStatus } from './client-contract.ts';
import { CloseCode, DEVICE_PRE_WELCOME } from './codes.ts';
import { type SyncMessage, SyncProtocolError } from './messages.ts';
import { decodeMessage, encodeMessage } from './messages-codec.ts';
import { Resyncs } from './resync.ts';
import { SnapshotSync } from './snapshot-sync.ts';

export interface DocSync {
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

/** A connection's state and lifecycle, and the status; the message flows are in the subclasses. */
export abstract class SyncSession {
  protected readonly o: Required<Omit<SyncClientOptions, 'crypto' | 'onSnapshotOffered'>>;
  /** Snapshot upload, start and endorsement (undefined: snapshots off). */
  protected readonly snaps: SnapshotSync | undefined;
  /** Diverged calendars being refilled and re-based (SNAP-18, SYNC-16). */
  protected readonly resync: Resyncs;
  protected socket: SyncSocket | undefined;
  protected authed = false;
  protected online = true;
  protected stopped = true;
  protected attempt = 0;
  protected reconnectTimer: unknown;
  protected retryTimer: unknown;
  protected resyncTimer: unknown;
  protected readonly docs = new Map<DocId, DocSync>();
  protected readonly followed = new Map<DocId, HeldInvite | undefined>();
  /** Calendars the relay refused to serve on this connection (not a member, bad invite). */
  protected readonly refused = new Set<DocId>();
  /** Ops the relay refused for good on this connection: kept in the outbox, not waited for. */
  protected readonly refusedOps = new Set<OpId>();
  protected challenge: Uint8Array | undefined;
  private readonly eventListeners = new Set<(e: SyncEvent) => void>();
  /** Pushed on this connection, not yet acked. */
  protected readonly inFlight = new Map<OpId, DocId>();
  /** Held (future-dated) or rejected on this connection: not pushed again until reconnect. */
  protected readonly parked = new Set<OpId>();
  /** Docs whose full log we push because the relay did not know them. */
  protected readonly seeding = new Set<DocId>();
  /** Docs seeded on this connection (once: a relay that still answers UnknownDoc does not serve them). */
  protected readonly seeded = new Set<DocId>();
  /** Calendars this device holds or follows that the relay answers UnknownDoc: never "synced" (SYNC-11). */
  protected readonly unserved = new Set<DocId>();
  protected readonly unservedTries = new Map<DocId, number>();
  protected pushing = false;
  private work: Promise<void> = Promise.resolve();
  protected unsubscribeReplica: (() => void) | undefined;
  private readonly listeners = new Set<(s: SyncStatus) => void>();
  protected st: SyncStatus = {
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

  protected emit(e: SyncEvent): void {
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

  // --- connection ------------------------------------------------------------------------

  protected connect(): void {
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

  protected teardown(): void {
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

  protected send(m: SyncMessage): void {
    const s = this.socket;
    if (s === undefined || s.readyState !== OPEN) return;
    s.send(encodeMessage(m));
  }

  /** Incoming frames and local triggers run one at a time, in order. */
  protected serial(f: () => Promise<void>): void {
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

  protected nowMs(): number {
    return Math.floor(this.o.clock.nowUs() / 1000);
  }

  /** Handles one frame from the relay (client.ts). */
  protected abstract handle(m: SyncMessage): Promise<void>;

  /** Subscribes to one calendar on the live connection (client-catch-up.ts). */
  protected abstract subscribe(doc: DocId): Promise<void>;

  // --- status ------------------------------------------------------------------------------

  protected async refreshPending(): Promise<void> {
    try {
      this.set({ pending: await this.o.persistence.countOutbox() });
    } catch {
      // Status only.
    }
    this.updateSynced();
  }

  protected updateSynced(): void {
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

  protected set(p: Partial<SyncStatus>): void {
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
