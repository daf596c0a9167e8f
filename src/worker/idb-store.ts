// IndexedDB implementation of the engine's EngineStore, plus the host-only stores the engine does
// not know (relay outbox, relay cursors, per-device calendar prefs). [RT-1]: one commit = one
// readwrite transaction over every store it touches, so a crash leaves all of a batch or none.

import { type IDBPDatabase, unwrap } from 'idb';
import type { EngineStore, EntityRecord, LoadedDoc } from '../engine/index.ts';
import {
  type DeviceId,
  type DocId,
  EngineError,
  type EntityId,
  isDocId,
  type OpId,
  OpKind,
} from '../engine/index.ts';
import { commitRaw, storesOf } from './idb-commit.ts';
import { abortQuietly, isAbortError, storageError } from './idb-errors.ts';
import {
  type CalendarPrefsRecord,
  corrupt,
  deviceIdOf,
  isCount,
  isPlainObject,
  LONG_SPAN_MS,
  type OutboxRecord,
  parseDevice,
  parseDocRecord,
  parseEndorsement,
  parseEntity,
  parseEvidence,
  parseOp,
  parseOutbox,
  parsePending,
  parsePrefs,
  parseSpan,
  type SpanRecord,
} from './idb-records.ts';
import { type LedgerdayDB, type LocalKey, openWithMigrations, SCHEMA_VERSION } from './idb-schema.ts';

export type { SpanRecord } from './idb-records.ts';

/**
 * Margin around a range when looking spans up: the stored UTC instants were computed with the time
 * zone rules of the browser that wrote them, which may differ by hours from today's; the answer is
 * recomputed exactly from the entity records afterwards.
 */
const SPAN_SLACK_MS = 2 * 86_400_000;

export interface IdbStoreOptions {
  /** Database name; one per browser profile in production, one per test otherwise. */
  name?: string;
  /** Defaults to globalThis.indexedDB. Tests pass fake-indexeddb or a failure-injecting wrapper. */
  factory?: IDBFactory;
  /** Schema version to open at (tests of upgrades only). */
  version?: number;
  /**
   * Commit durability. 'strict' (the default) waits until the data reached the disk, so an edit the
   * user saw survives an OS crash or power loss, not only a tab crash.
   */
  durability?: IDBTransactionDurability;
  /** Called when another context needs the database closed (a newer schema); the store closes itself. */
  onVersionChange?: () => void;
}

export const DEFAULT_DB_NAME = 'ledgerday';

/** The IndexedDB store: the EngineStore contract plus host-only sync state and prefs. */
export interface IdbStore extends EngineStore {
  /** Ops this device wrote that the relay has not acknowledged, in seq order. */
  listOutbox(doc: DocId, limit?: number): Promise<OutboxRecord[]>;
  /** Number of unacknowledged own ops across all calendars. */
  countOutbox(): Promise<number>;
  /** Unacknowledged own ops of every calendar: by calendar, then seq (parents before children). */
  listOutboxAll(limit: number): Promise<OutboxRecord[]>;
  /** Called after a commit that put own ops in the outbox (the sync loop pushes them). */
  onOutboxAdded(cb: (doc: DocId) => void): () => void;
  /** This device's display name ('' when never set), validated ([RT-5]). */
  getDeviceName(): Promise<string>;
  setDeviceName(name: string): Promise<void>;
  /** A host-local record as stored (unvalidated: the caller validates), undefined when absent. */
  getLocal(key: LocalKey): Promise<unknown>;
  /** Writes (or with undefined deletes) a host-local record, durably before resolving. */
  putLocal(key: LocalKey, value: unknown): Promise<void>;
  /** Drops acknowledged ops from the outbox and advances the relay cursor, atomically. */
  acknowledge(doc: DocId, ids: readonly OpId[], cursor?: number): Promise<void>;
  getCursor(doc: DocId): Promise<number>;
  setCursor(doc: DocId, cursor: number): Promise<void>;
  getPrefs(doc: DocId): Promise<CalendarPrefsRecord>;
  listPrefs(): Promise<CalendarPrefsRecord[]>;
  setPrefs(prefs: CalendarPrefsRecord): Promise<void>;
  /**
   * Span records of the live events of a calendar that may overlap [fromMs, toMs), validated like
   * every record read ([RT-5]): a superset of the answer (the caller filters exactly), so a cold
   * start can answer its first range before loading the whole calendar.
   */
  spansNear(doc: DocId, fromMs: number, toMs: number): Promise<SpanRecord[]>;
  /** One entity record, validated; undefined when absent. */
  loadEntity(doc: DocId, entity: EntityId): Promise<EntityRecord | undefined>;
  close(): void;
}

/** Opens (creating or upgrading) the database. Failures become EngineError('Storage'). */
export async function openIdbStore(options: IdbStoreOptions = {}): Promise<IdbStore> {
  const factory = options.factory ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) {
    throw new EngineError('Storage', 'IndexedDB is not available in this browser (private mode or disabled)');
  }
  const name = options.name ?? DEFAULT_DB_NAME;
  const version = options.version ?? SCHEMA_VERSION;
  if (!Number.isInteger(version) || version < 1 || version > SCHEMA_VERSION) {
    throw new EngineError('InvalidArgument', `schema version ${version} is not 1..${SCHEMA_VERSION}`);
  }
  let db: IDBPDatabase<LedgerdayDB>;
  try {
    db = await openWithMigrations(factory, name, version);
  } catch (e) {
    throw storageError(e, `cannot open the database "${name}"`);
  }
  return createIdbStore(db, options);
}

function createIdbStore(db: IDBPDatabase<LedgerdayDB>, options: IdbStoreOptions): IdbStore {
  const durability = options.durability ?? 'strict';
  let closed = false;
  // The own device id routes own ops into the outbox inside the commit transaction ([RT-3]).
  let ownDevice: DeviceId | undefined;
  let ownDeviceLoaded = false;
  // Absent only when a test opens an old schema version on purpose.
  const hasOutbox = db.objectStoreNames.contains('outbox');
  const outboxListeners = new Set<(doc: DocId) => void>();
  const hasSpans = db.objectStoreNames.contains('spans');
  const rawDb = unwrap(db) as IDBDatabase;

  db.addEventListener('versionchange', () => {
    // A newer schema is being installed by another tab: get out of its way. Later calls fail
    // with a Storage error telling the user to reload.
    db.close();
    closed = true;
    options.onVersionChange?.();
  });

  function ensureOpen(): void {
    if (closed)
      throw new EngineError('Storage', 'the database was closed (a newer version is open in another tab)');
  }

  async function run<T>(context: string, fn: () => Promise<T>): Promise<T> {
    ensureOpen();
    try {
      return await fn();
    } catch (e) {
      throw storageError(e, context);
    }
  }

  async function getOwnDevice(): Promise<DeviceId | undefined> {
    if (!ownDeviceLoaded) {
      const rec = await db.get('meta', 'device');
      ownDevice = rec === undefined ? undefined : deviceIdOf(parseDevice(rec));
      ownDeviceLoaded = true;
    }
    return ownDevice;
  }

  const store: IdbStore = {
    loadDevice: () =>
      run('load device', async () => {
        const rec = await db.get('meta', 'device');
        return rec === undefined ? undefined : parseDevice(rec);
      }),

    saveDevice: (device) =>
      run('save device', async () => {
        const valid = parseDevice(device);
        await db.put('meta', valid, 'device');
        ownDevice = deviceIdOf(valid);
        ownDeviceLoaded = true;
      }),

    loadClock: () =>
      run('load clock', async () => {
        const v = await db.get('meta', 'clock');
        if (v === undefined) return 0;
        if (!isCount(v)) throw corrupt('meta/clock', 'not a non-negative integer');
        return v;
      }),

    listDocs: () =>
      run('list calendars', async () => {
        const keys = await db.getAllKeys('docs');
        return keys.map((k) => {
          if (!isDocId(k)) throw corrupt('docs', `bad key ${String(k).slice(0, 40)}`);
          return k;
        });
      }),

    loadDoc: (doc) =>
      run(`load calendar ${doc}`, async () => {
        const tx = db.transaction(['docs', 'entities', 'pending', 'ops', 'evidence'], 'readonly');
        const range = prefix(doc);
        const [rec, entities, pending, membership, evidence] = await Promise.all([
          tx.objectStore('docs').get(doc),
          getAllPaged(tx.objectStore('entities'), doc),
          tx.objectStore('pending').getAll(range),
          tx
            .objectStore('ops')
            .index('byKind')
            .getAll(IDBKeyRange.only([doc, OpKind.Membership])),
          tx.objectStore('evidence').getAll(range),
          tx.done,
        ]);
        if (rec === undefined) return undefined;
        // SNAP-10 (read apart: a database opened at an older version, in upgrade tests, has none).
        const endorsements = db.objectStoreNames.contains('endorsements')
          ? await db.getAll('endorsements', range)
          : [];
        const loaded: LoadedDoc = {
          doc: parseDocRecord(rec, doc),
          entities: entities.map((e) => parseEntity(e, doc)),
          pending: pending.map((p) => parsePending(p, doc)),
          membership: membership.map((o) => parseOp(o, doc)).sort((a, b) => a.seq - b.seq),
          evidence: evidence.map((e) => parseEvidence(e, doc)),
          endorsements: endorsements.map((e) => parseEndorsement(e, doc)),
        };
        return loaded;
      }),

    getOps: (doc, ids) =>
      run('read ops', async () => {
        const tx = db.transaction('ops', 'readonly');
        const os = tx.objectStore('ops');
        const [found] = await Promise.all([Promise.all(ids.map((id) => os.get([doc, id]))), tx.done]);
        return found.map((o) => (o === undefined ? undefined : parseOp(o, doc)));
      }),

    getOpsByChain: (doc, author, ctr) =>
      run('read ops by chain', async () => {
        const ops = await db.getAllFromIndex('ops', 'byChain', IDBKeyRange.only([doc, author, ctr]));
        return ops.map((o) => parseOp(o, doc));
      }),

    listOps: (doc, afterSeq, limit) =>
      run('list ops', async () => {
        if (limit <= 0) return [];
        const range = IDBKeyRange.bound([doc, afterSeq], [doc, Number.POSITIVE_INFINITY], true, false);
        const ops = await db.getAllFromIndex('ops', 'bySeq', range, limit);
        return ops.map((o) => parseOp(o, doc));
      }),

    commit: (batch) =>
      run(`commit to calendar ${batch.doc}`, async () => {
        const own = hasOutbox ? await getOwnDevice() : undefined;
        const names = storesOf(batch, own, hasSpans);
        if (names.length === 0) return;
        await commitRaw({ db: rawDb, names, durability, batch, own, spans: hasSpans });
        if (names.includes('outbox')) for (const l of outboxListeners) l(batch.doc);
      }),

    listOutbox: (doc, limit) =>
      run('list outbox', async () => {
        const range = IDBKeyRange.bound([doc, 0], [doc, Number.POSITIVE_INFINITY]);
        const recs = await db.getAllFromIndex('outbox', 'bySeq', range, limit);
        return recs.map((r) => parseOutbox(r, doc));
      }),

    countOutbox: () => run('count outbox', () => db.count('outbox')),

    listOutboxAll: (limit) =>
      run('list outbox', async () => {
        if (limit <= 0) return [];
        const recs = await db.getAllFromIndex('outbox', 'bySeq', undefined, limit);
        return recs.map((r) => {
          if (!isPlainObject(r) || !isDocId(r.doc)) throw corrupt('outbox', 'bad record');
          return parseOutbox(r, r.doc);
        });
      }),

    onOutboxAdded(cb) {
      outboxListeners.add(cb);
      return () => outboxListeners.delete(cb);
    },

    getDeviceName: () =>
      run('read device name', async () => {
        const v = await db.get('meta', 'deviceName');
        if (v === undefined) return '';
        if (typeof v !== 'string' || v.length > 100) throw corrupt('meta/deviceName', 'not a short string');
        return v;
      }),

    setDeviceName: (name) =>
      run('save device name', async () => {
        if (typeof name !== 'string' || name.length > 100)
          throw new EngineError('InvalidArgument', 'a device name is a string of at most 100 characters');
        await db.put('meta', name, 'deviceName');
      }),

    getLocal: (key) => run(`read ${key}`, async () => db.get('meta', key)),

    putLocal: (key, value) =>
      run(`save ${key}`, async () => {
        const tx = db.transaction('meta', 'readwrite', { durability });
        if (value === undefined) await tx.store.delete(key);
        else await tx.store.put(value, key);
        await tx.done;
      }),

    acknowledge: (doc, ids, cursor) =>
      run('acknowledge ops', async () => {
        const tx = db.transaction(['outbox', 'cursors'], 'readwrite', { durability });
        const reqs: Promise<unknown>[] = ids.map((id) => tx.objectStore('outbox').delete([doc, id]));
        if (cursor !== undefined) reqs.push(tx.objectStore('cursors').put({ doc, cursor }));
        await settle(reqs, tx);
      }),

    getCursor: (doc) =>
      run('read relay cursor', async () => {
        const rec = await db.get('cursors', doc);
        if (rec === undefined) return 0;
        if (!isPlainObject(rec) || rec.doc !== doc || !isCount(rec.cursor))
          throw corrupt(`cursors/${doc}`, 'bad record');
        return rec.cursor;
      }),

    setCursor: (doc, cursor) =>
      run('save relay cursor', async () => {
        if (!isCount(cursor))
          throw new EngineError('InvalidArgument', `relay cursor ${cursor} is not a count`);
        await db.put('cursors', { doc, cursor });
      }),

    getPrefs: (doc) =>
      run('read calendar prefs', async () => {
        const rec = await db.get('prefs', doc);
        return rec === undefined ? { doc, hidden: false } : parsePrefs(rec);
      }),

    listPrefs: () => run('list calendar prefs', async () => (await db.getAll('prefs')).map(parsePrefs)),

    setPrefs: (prefs) =>
      run('save calendar prefs', async () => {
        await db.put('prefs', parsePrefs(prefs));
      }),

    spansNear: (doc, fromMs, toMs) =>
      run(`read events near a range of calendar ${doc}`, async () => {
        if (!hasSpans) return [];
        if (Number.isNaN(fromMs) || Number.isNaN(toMs))
          throw new EngineError('InvalidArgument', 'range bounds must be numbers');
        const tx = db.transaction('spans', 'readonly');
        const spans = tx.objectStore('spans');
        const lo = Math.max(fromMs - LONG_SPAN_MS - SPAN_SLACK_MS, -8.64e15);
        const hi = Math.min(toMs + SPAN_SLACK_MS, 8.64e15);
        const [near, long] = await Promise.all([
          lo <= hi ? spans.index('byStart').getAll(IDBKeyRange.bound([doc, lo], [doc, hi])) : [],
          spans.index('byLong').getAll(IDBKeyRange.only([doc, 1])),
          tx.done,
        ]);
        const out = near.map((r) => parseSpan(r, doc));
        for (const r of long) {
          const span = parseSpan(r, doc);
          if (span.startMs < lo || span.startMs > hi) out.push(span);
        }
        return out;
      }),

    loadEntity: (doc, entity) =>
      run(`read entity ${entity} of calendar ${doc}`, async () => {
        const rec = await db.get('entities', [doc, entity]);
        return rec === undefined ? undefined : parseEntity(rec, doc);
      }),

    close: () => {
      closed = true;
      db.close();
    },
  };
  return store;
}

/**
 * All records of one calendar in pages of ENTITY_PAGE, inside the caller's transaction: each page
 * is deserialized in its own task, so other work of the worker (a first range query answered from
 * the span index) is not stuck behind one ~0.5 s deserialization of 10,000 entities (measured).
 */
const ENTITY_PAGE = 500;
async function getAllPaged(
  os: { getAll(q: IDBKeyRange, n: number): Promise<EntityRecord[]> },
  doc: DocId,
): Promise<EntityRecord[]> {
  const out: EntityRecord[] = [];
  let range = prefix(doc);
  for (;;) {
    const page = await os.getAll(range, ENTITY_PAGE);
    for (const r of page) out.push(r);
    if (page.length < ENTITY_PAGE) return out;
    const last = (page[page.length - 1] as { entity?: unknown }).entity;
    if (typeof last !== 'string') throw corrupt(`entities/${doc}`, 'entity id');
    range = IDBKeyRange.bound([doc, last], [doc, []], true, false);
  }
}

/**
 * Waits for every request and the transaction. Any failed request (including our own checks,
 * which IndexedDB cannot see) aborts the transaction, so nothing of the batch lands; the first
 * real cause is rethrown and no rejection goes unhandled.
 */
async function settle(
  requests: Promise<unknown>[],
  tx: { abort(): void; done: Promise<void> },
): Promise<void> {
  const guarded = requests.map((r) =>
    r.catch((e: unknown) => {
      abortQuietly(tx);
      throw e;
    }),
  );
  const results = await Promise.allSettled([...guarded, tx.done]);
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  // The root cause (QuotaExceededError on a request or, in Chromium, on the transaction at commit
  // time; ConstraintError) says more than the AbortErrors it cascades into.
  const cause = failures.find((r) => !isAbortError(r.reason)) ?? failures[0];
  if (cause) throw cause.reason;
}

/** Key range of every compound key starting with `doc` (arrays sort after strings and numbers). */
function prefix(doc: DocId): IDBKeyRange {
  return IDBKeyRange.bound([doc], [doc, []]);
}
