// The device's sync loop in the browser (issue 4's client side): the engine host (the Web Locks
// leader, so one relay connection per browser profile) runs src/sync/client.ts's SyncClient over
// the IndexedDB outbox and cursors, pushes as soon as a commit puts own ops in the outbox, follows
// the browser's online/offline state, and reports a status for the UI (SYNC-10, SYNC-11).

import type { CryptoProvider, DocId, OpId, Replica, Signer } from '../engine/index.ts';
import { SyncClient } from '../sync/client.ts';
import type {
  SyncStatus as ClientStatus,
  HeldInvite,
  OutboxOp,
  SocketFactory,
  SyncEvent,
  SyncPersistence,
} from '../sync/client-contract.ts';
import type { SyncStatus, Unsubscribe } from './api.ts';
import { AutoPrune } from './auto-prune.ts';
import type { IdbStore } from './idb-store.ts';
import { AutoSnapshots } from './snapshots.ts';

export interface SyncHost {
  status(): SyncStatus;
  onStatus(cb: (s: SyncStatus) => void): Unsubscribe;
  onEvent(cb: (e: SyncEvent) => void): Unsubscribe;
  /** The page (or the worker's own events) reports connectivity. */
  setOnline(online: boolean): void;
  /** Connected and authenticated to the relay right now. */
  readonly connected: boolean;
  follow(doc: DocId, invite?: HeldInvite): void;
  unfollow(doc: DocId): void;
  /** Snapshot counters for diagnostics (SNAP-14, SNAP-15, SYNC-15). */
  snapshotStats(): { made: number; started: number; uploaded: number; endorsed: number; opsReceived: number };
  close(): void;
}

export interface SyncHostOptions {
  /** ws(s)://host/sync */
  url: string;
  replica: Replica;
  signer: Signer;
  store: IdbStore;
  /** With it, snapshots are on (SYNC-13..15, SNAP-14, SNAP-15); without, every calendar catches up in full. */
  crypto?: CryptoProvider;
  socket?: SocketFactory;
  /** Initial connectivity; defaults to navigator.onLine. */
  online?: boolean;
  /** Where 'online' / 'offline' events arrive (the worker's global scope). */
  events?: Pick<EventTarget, 'addEventListener' | 'removeEventListener'>;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** The relay's /sync URL for the origin the app was loaded from (one port serves both, RELAY-1). */
export function relayUrlFor(location: { protocol: string; host: string }): string | undefined {
  if (location.protocol !== 'https:' && location.protocol !== 'http:') return undefined;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`;
}

/** SyncPersistence over the IndexedDB store ([RT-3]: the outbox is filled inside each commit). */
export function idbSyncPersistence(store: IdbStore, replica: Replica): SyncPersistence {
  return {
    getCursor: (doc) => store.getCursor(doc),
    setCursor: (doc, seq) => store.setCursor(doc, seq),
    async listOutbox(limit): Promise<OutboxOp[]> {
      const recs = await store.listOutboxAll(limit);
      const byDoc = new Map<DocId, OpId[]>();
      for (const r of recs) byDoc.set(r.doc, [...(byDoc.get(r.doc) ?? []), r.id]);
      const bytes = new Map<OpId, Uint8Array>();
      for (const [doc, ids] of byDoc) {
        const ops = await replica.getOps(doc, ids);
        for (const o of ops) if (o !== undefined) bytes.set(o.id, o.bytes);
      }
      const out: OutboxOp[] = [];
      // An outbox entry whose op is not in the log cannot be sent; it is left for diagnosis.
      for (const r of recs) {
        const b = bytes.get(r.id);
        if (b !== undefined) out.push({ id: r.id, doc: r.doc, bytes: b });
      }
      return out;
    },
    countOutbox: () => store.countOutbox(),
    async removeOutbox(ops) {
      const byDoc = new Map<DocId, OpId[]>();
      for (const o of ops) byDoc.set(o.doc, [...(byDoc.get(o.doc) ?? []), o.id]);
      for (const [doc, ids] of byDoc) await store.acknowledge(doc, ids);
    },
  };
}

/** The api's status from the client's. */
export function toApiStatus(s: ClientStatus): SyncStatus {
  const out: SyncStatus = {
    state: s.state,
    pendingUploads: s.pending,
    lastSyncedAt: s.lastSyncedAt,
    clockOffsetMs: s.clockOffsetUs === null ? null : Math.round(s.clockOffsetUs / 1000),
    opsDownloaded: s.opsReceived,
    snapshotStarts: s.snapshotStarts,
    snapshotUploads: s.snapshotUploads,
    rebased: s.rebased,
  };
  if (s.clockWarning && s.clockOffsetUs !== null) {
    out.detail = `This device's clock is ${Math.round(s.clockOffsetUs / 60_000_000)} minutes ahead of the server's.`;
  } else if (s.state === 'offline') out.detail = 'offline';
  else if (s.state === 'resyncing')
    out.detail =
      'A calendar missed edits made while it was set up from a summary; refilling it from the server (nothing shown is lost meanwhile).';
  else if (s.lastError !== null) out.detail = `${s.lastError.code}: ${s.lastError.message}`;
  return out;
}

export function startSyncHost(o: SyncHostOptions): SyncHost {
  let auto: AutoSnapshots | undefined;
  let pruner: AutoPrune | undefined;
  // Subscribers to the status, told again when pruning changes its count (SNAP-16).
  const statusSubs = new Set<(s: SyncStatus) => void>();
  const withPruned = (s: ClientStatus): SyncStatus => ({ ...toApiStatus(s), opsPruned: pruner?.pruned ?? 0 });
  const client = new SyncClient({
    url: o.url,
    replica: o.replica,
    signer: o.signer,
    persistence: idbSyncPersistence(o.store, o.replica),
    socket: o.socket ?? ((url) => new WebSocket(url) as never),
    clock: {
      nowUs: () => Math.floor((performance.timeOrigin + performance.now()) * 1000),
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    },
    random: Math.random,
    ...(o.crypto === undefined
      ? {}
      : { crypto: o.crypto, onSnapshotOffered: (doc: DocId, bytes: number) => auto?.seen(doc, bytes) }),
    ...(o.backoffBaseMs === undefined ? {} : { backoffBaseMs: o.backoffBaseMs }),
    ...(o.backoffMaxMs === undefined ? {} : { backoffMaxMs: o.backoffMaxMs }),
  });
  // A commit that put own ops in the outbox: push them now (coalesced per tick).
  let kickScheduled = false;
  const offOutbox = o.store.onOutboxAdded(() => {
    if (kickScheduled) return;
    kickScheduled = true;
    queueMicrotask(() => {
      kickScheduled = false;
      client.kick();
    });
  });
  if (o.crypto !== undefined) {
    auto = new AutoSnapshots({
      replica: o.replica,
      caughtUp: () => client.status.state === 'synced' && client.status.pending === 0,
      upload: async (doc, manifest, chunks) => {
        if (!(await client.uploadSnapshot(doc, manifest, chunks))) return false;
        // SNAP-16: the maker endorses its own snapshot too, which certifies its chain (SNAP-10).
        client.sendEndorsement(doc, await o.replica.endorseSnapshot(manifest, chunks));
        pruner?.poke();
        return true;
      },
      random: Math.random,
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
    });
    pruner = new AutoPrune({
      replica: o.replica,
      caughtUp: () => client.status.state === 'synced' && client.status.pending === 0,
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      onPruned: () => {
        for (const cb of statusSubs) cb(withPruned(client.status));
      },
    });
  }
  const offAuto = client.onStatus((s) => {
    if (s.state !== 'synced') return;
    auto?.poke();
    pruner?.poke();
  });
  const onOnline = () => client.setOnline(true);
  const onOffline = () => client.setOnline(false);
  o.events?.addEventListener('online', onOnline);
  o.events?.addEventListener('offline', onOffline);
  const initial = o.online ?? (typeof navigator === 'undefined' ? true : navigator.onLine);
  client.setOnline(initial);
  client.start();
  return {
    status: () => withPruned(client.status),
    onStatus: (cb) => {
      const off = client.onStatus((s) => cb(withPruned(s)));
      statusSubs.add(cb);
      return () => {
        off();
        statusSubs.delete(cb);
      };
    },
    onEvent: (cb) => client.onEvent(cb),
    setOnline: (online) => client.setOnline(online),
    get connected() {
      return client.connected;
    },
    follow: (doc, invite) => client.follow(doc, invite),
    unfollow: (doc) => client.unfollow(doc),
    snapshotStats: () => ({
      made: auto?.made ?? 0,
      started: 0,
      uploaded: 0,
      endorsed: 0,
      ...client.snapshotStats,
      opsReceived: client.status.opsReceived,
    }),
    close() {
      offOutbox();
      offAuto();
      auto?.stop();
      pruner?.stop();
      o.events?.removeEventListener('online', onOnline);
      o.events?.removeEventListener('offline', onOffline);
      client.stop();
    },
  };
}
