// The engine host's entry: the composition root of store, device keys, crypto and Replica.
// startEngineHost starts it in two stages ([RT-12]): the starting host (starting-host.ts) answers
// a first paint's reads from the store while openReplicaHost loads the replica and builds the
// host over it (createHost, engine-host.ts); a storage failure gives unavailable-host.ts's host.

import { createBestCrypto, type DocId, type EngineError, Replica, type SubtleLike } from '../engine/index.ts';
import type { SocketFactory } from '../sync/client-contract.ts';
import { loadOrCreateDevice } from './device-keys.ts';
import { createHost, defaultRandom, type EngineHost } from './engine-host.ts';
import type { Host } from './host-api.ts';
import { type IdbStore, type IdbStoreOptions, openIdbStore } from './idb-store.ts';
import { quarantine } from './quarantine-store.ts';
import { startingHost } from './starting-host.ts';
import { relayUrlFor, startSyncHost } from './sync-host.ts';
import { hostError, unavailableHost } from './unavailable-host.ts';

export interface EngineHostOptions extends Omit<IdbStoreOptions, 'onVersionChange'> {
  /** WebCrypto; defaults to globalThis.crypto.subtle. */
  subtle?: SubtleCrypto;
  random?: (n: number) => Uint8Array;
  nowUs?: () => number;
  /**
   * The relay's ws(s):// URL; defaults to /sync on the origin the worker was loaded from when
   * the platform has WebSocket. null: no sync (tests).
   */
  relayUrl?: string | null;
  /** How the sync client opens its WebSocket (Node tests pass `ws`); defaults to the global one. */
  socket?: SocketFactory;
}

/** µs since the epoch; sub-ms digits from the monotonic clock keep consecutive stamps apart. */
const defaultNowUs = (): number => Math.floor((performance.timeOrigin + performance.now()) * 1000);

/**
 * Opens everything the host needs. Never throws: when storage cannot be opened the returned host
 * answers every call with that Storage error (and says so to every tab) instead of dying.
 *
 * Two stages ([RT-12]): as soon as the database is open the host answers the read calls a first
 * paint needs (calendars, events of a range) from IndexedDB through the span index, while the
 * replica loads every calendar (~1 s for 10,000 events in Chromium here, measured); every other call
 * waits for the replica. When it is ready, every subscriber is told to re-read, so what the UI
 * shows is the replica's answer from then on.
 */
export async function startEngineHost(opts: EngineHostOptions = {}): Promise<Host> {
  let store: IdbStore;
  let host: EngineHost | Host | undefined;
  try {
    store = await openIdbStore({
      ...opts,
      onVersionChange: () => {
        if (host !== undefined && 'report' in host)
          host.report({
            code: 'Storage',
            message: 'A newer version of the app upgraded the database in another tab: reload this tab.',
          });
      },
    });
  } catch (e) {
    return unavailableHost(hostError(e));
  }
  // The replica's load is mostly JavaScript on this worker's one thread (deserializing and checking
  // every entity, ~1 s for 10,000): started at once it delays the first range answer by as much
  // (measured 330 ms vs ~100 ms). So it starts when that answer is out, when any call needs the
  // replica, or after FIRST_RANGE_GRACE_MS, whichever comes first.
  let go!: () => void;
  const gate = new Promise<void>((resolve) => {
    go = resolve;
  });
  const timer = setTimeout(() => go(), FIRST_RANGE_GRACE_MS);
  const full = gate
    .then(() => {
      clearTimeout(timer);
      return openReplicaHost(store, opts);
    })
    .then((h) => {
      host = h;
      return h;
    });
  return startingHost(store, full, () => go());
}

/** How long the replica's load waits for the UI's first range query (see startEngineHost). */
const FIRST_RANGE_GRACE_MS = 1500;

/** Stage two: device keys, crypto, the replica over every calendar, the in-memory index. */
async function openReplicaHost(store: IdbStore, opts: EngineHostOptions): Promise<EngineHost | Host> {
  const random = opts.random ?? defaultRandom;
  try {
    const subtle = opts.subtle ?? globalThis.crypto?.subtle;
    const device = await loadOrCreateDevice(store, subtle, random);
    const crypto = await createBestCrypto(subtle as unknown as SubtleLike | undefined);
    const broken = new Map<DocId, EngineError>();
    const deviceName = await store.getDeviceName();
    const replica = await Replica.open({
      store: quarantine(store, broken),
      crypto,
      random,
      nowUs: opts.nowUs ?? defaultNowUs,
      device,
      ...(deviceName === '' ? {} : { deviceName }),
    });
    // Only the engine host (the Web Locks leader) gets here: one relay connection per device.
    const url =
      opts.relayUrl !== undefined
        ? opts.relayUrl
        : typeof WebSocket === 'function' && typeof location !== 'undefined'
          ? relayUrlFor(location)
          : undefined;
    const sync =
      url === null || url === undefined
        ? undefined
        : startSyncHost({
            url,
            replica,
            signer: device.signer,
            store,
            crypto,
            ...(opts.socket === undefined ? {} : { socket: opts.socket }),
            ...(typeof addEventListener === 'function' ? { events: globalThis } : {}),
          });
    const h = await createHost({ store, replica, broken, random, ...(sync === undefined ? {} : { sync }) });
    return h;
  } catch (e) {
    store.close();
    return unavailableHost(hostError(e));
  }
}
