// The sync client's contract with its host (client.ts's SyncClient): what the host injects (the
// transport, the persistence of outbox and cursors, the clock, the options) and what it gets back
// (the status, the events). No DOM, no Node: a browser WebSocket and Node's `ws` both fit.

import type { CryptoProvider, DocId, OpId, Replica, Signer } from '../engine/index.ts';
import type { AckEntry } from './messages.ts';

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
