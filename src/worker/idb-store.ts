// IndexedDB implementation of the engine's EngineStore, plus the host-only stores the engine does
// not know (relay outbox, relay cursors, per-device calendar prefs). [RT-1]: one commit = one
// readwrite transaction over every store it touches, so a crash leaves all of a batch or none.

import { type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames, unwrap, wrap } from 'idb';
import type {
  CommitBatch,
  DeviceRecord,
  DocRecord,
  EngineStore,
  EntityRecord,
  EquivocationRecord,
  LoadedDoc,
  OpRecord,
  PendingRecord,
  RegisterRecord,
  WriteRecord,
} from '../engine/index.ts';
import {
  CALENDAR_ENTITY,
  type DeviceId,
  type DocId,
  EngineError,
  type EntityId,
  EVENT_FIELDS,
  type EventValues,
  eventFromRecord,
  fieldName,
  isDeviceId,
  isDocId,
  isEntityId,
  isOpId,
  isValueOf,
  type OpId,
  OpKind,
  toHex,
  type ValueType,
} from '../engine/index.ts';
import { isOverride, isSeries } from './occurrences.ts';
import { eventSpanMs } from './time.ts';

/** An op this device wrote that the relay has not acknowledged yet. */
export interface OutboxRecord {
  doc: DocId;
  id: OpId;
  /** The op's local seq: uploads go out in this order so parents precede children. */
  seq: number;
}

/** Per-device, never-synced preferences for one calendar. */
export interface CalendarPrefsRecord {
  doc: DocId;
  hidden: boolean;
}

/**
 * Where a live event lies in UTC: a derived index over the entities store, written in the same
 * transaction as the entity ([RT-1]), so a cold start can find the events of the first range it is
 * asked for without loading every entity ([RT-12]). `long` (1) marks events longer than LONG_SPAN_MS,
 * which the start-time index alone cannot find from a range they began before.
 */
export interface SpanRecord {
  doc: DocId;
  entity: EntityId;
  startMs: number;
  endMs: number;
  long?: 1;
  /**
   * The event's current values (eventFromRecord of the entity), so the first range is answered
   * from one index read of plain strings: fetching and deserializing ~1,000 entity records one
   * get() at a time took ~250 ms in Chromium here (measured).
   */
  fields: SpanFields;
  /** The entity has concurrent writes: read the entity itself for the conflict details. */
  conflicted?: 1;
  /**
   * Series and overrides (docs/PROTOCOL.md SER-*): the field numbers whose registers are set (an
   * override's own fields), found through `long` wherever their occurrences fall. Deleted ones
   * are kept (`deleted`), since a deleted split still ends its parent series.
   */
  set?: number[];
  deleted?: 1;
}

/** Every field of a live event but Deleted, as the engine's field table defines them. */
export type SpanFields = Omit<EventValues, 'deleted'>;

/** Events longer than this are found through the `byLong` index; shorter ones by start time. */
export const LONG_SPAN_MS = 2 * 86_400_000;
/**
 * Margin around a range when looking spans up: the stored UTC instants were computed with the time
 * zone rules of the browser that wrote them, which may differ by hours from today's; the answer is
 * recomputed exactly from the entity records afterwards.
 */
const SPAN_SLACK_MS = 2 * 86_400_000;

interface MetaValues {
  device: DeviceRecord;
  clock: number;
  /** This device's display name (DEV-1), a local preference; absent until the user sets one. */
  deviceName: string;
  /** Host-local records (src/worker/local-state.ts validates them on read): the move journal. */
  moves: unknown;
  /** When this device was last fully in sync with the relay (ms), kept across reloads. */
  lastSyncedAt: unknown;
}

/** Keys of host-local records that src/worker/local-state.ts reads, validates and writes. */
export type LocalKey = 'moves' | 'lastSyncedAt';

export interface LedgerdayDB extends DBSchema {
  ops: {
    key: [string, string];
    value: OpRecord;
    indexes: { bySeq: [string, number]; byKind: [string, number]; byChain: [string, string, number] };
  };
  docs: { key: string; value: DocRecord };
  entities: { key: [string, string]; value: EntityRecord };
  pending: { key: [string, string]; value: PendingRecord };
  evidence: { key: [string, string, number]; value: EquivocationRecord };
  meta: { key: string; value: MetaValues[keyof MetaValues] };
  outbox: { key: [string, string]; value: OutboxRecord; indexes: { bySeq: [string, number] } };
  cursors: { key: string; value: { doc: DocId; cursor: number } };
  prefs: { key: string; value: CalendarPrefsRecord };
  spans: {
    key: [string, string];
    value: SpanRecord;
    indexes: { byStart: [string, number]; byLong: [string, number] };
  };
}

type Store = StoreNames<LedgerdayDB>;
type UpgradeTx = IDBPTransaction<LedgerdayDB, Store[], 'versionchange'>;

/**
 * Schema history. Step i upgrades a database at version i to version i + 1; a fresh database
 * runs every step in order, so a fresh install and an upgraded one end with the same schema.
 * Never edit a released step: append a new one.
 */
export const MIGRATIONS: readonly ((db: IDBPDatabase<LedgerdayDB>, tx: UpgradeTx) => Promise<void>)[] = [
  // 0 -> 1: the engine's own stores.
  async (db) => {
    const ops = db.createObjectStore('ops', { keyPath: ['doc', 'id'] });
    // Unique: two ops with one seq in one calendar would be an engine bug; fail the commit instead.
    ops.createIndex('bySeq', ['doc', 'seq'], { unique: true });
    ops.createIndex('byKind', ['doc', 'kind']);
    db.createObjectStore('docs', { keyPath: 'doc' });
    db.createObjectStore('entities', { keyPath: ['doc', 'entity'] });
    db.createObjectStore('pending', { keyPath: ['doc', 'id'] });
    db.createObjectStore('evidence', { keyPath: ['doc', 'author', 'ctr'] });
    db.createObjectStore('meta');
  },
  // 1 -> 2: (author, ctr) index for dedup/equivocation lookups, and the host's sync stores. Ops
  // this device wrote under v1 are put in the outbox: the relay dedups, so re-sending is safe,
  // while not sending would lose them.
  async (db, tx) => {
    tx.objectStore('ops').createIndex('byChain', ['doc', 'author', 'ctr']);
    const outbox = db.createObjectStore('outbox', { keyPath: ['doc', 'id'] });
    outbox.createIndex('bySeq', ['doc', 'seq'], { unique: true });
    db.createObjectStore('cursors', { keyPath: 'doc' });
    db.createObjectStore('prefs', { keyPath: 'doc' });
    const device = await tx.objectStore('meta').get('device');
    if (device === undefined) return;
    const own = deviceIdOf(parseDevice(device));
    let cursor = await tx.objectStore('ops').openCursor();
    while (cursor) {
      const op = cursor.value;
      if (op.author === own) await outbox.put({ doc: op.doc, id: op.id, seq: op.seq });
      cursor = await cursor.continue();
    }
  },
  // 2 -> 3: the UTC span index of events ([RT-12]), filled from the entities already stored. A
  // record that does not validate gets no span (loading its calendar reports it, as before).
  async (db, tx) => {
    const spans = db.createObjectStore('spans', { keyPath: ['doc', 'entity'] });
    spans.createIndex('byStart', ['doc', 'startMs']);
    spans.createIndex('byLong', ['doc', 'long']);
    let cursor = await tx.objectStore('entities').openCursor();
    while (cursor) {
      let span: SpanRecord | undefined;
      try {
        const v = cursor.value as { doc?: unknown };
        if (isDocId(v.doc)) span = spanOf(parseEntity(v, v.doc));
      } catch {
        span = undefined;
      }
      if (span) await spans.put(span);
      cursor = await cursor.continue();
    }
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

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

const ALL_STORES: Store[] = [
  'ops',
  'docs',
  'entities',
  'pending',
  'evidence',
  'meta',
  'outbox',
  'cursors',
  'prefs',
  'spans',
];

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

/**
 * Opens with our own request handling rather than idb's openDB: it takes an explicit factory,
 * and a failing migration aborts the upgrade transaction, so a half-migrated schema is never
 * committed ([RT-6]).
 */
function openWithMigrations(
  factory: IDBFactory,
  name: string,
  version: number,
): Promise<IDBPDatabase<LedgerdayDB>> {
  return new Promise((resolve, reject) => {
    const req = factory.open(name, version);
    let migrationError: unknown;
    req.onupgradeneeded = (event) => {
      const tx = wrap(req.transaction!) as unknown as UpgradeTx;
      // The upgrade's outcome is read from the open request; this only keeps an abort handled.
      tx.done.catch(() => {});
      const db = wrap(req.result) as unknown as IDBPDatabase<LedgerdayDB>;
      const from = event.oldVersion;
      const steps = async () => {
        for (let v = from; v < version; v++) await MIGRATIONS[v]!(db, tx);
      };
      steps().catch((e: unknown) => {
        migrationError = e;
        abortQuietly(req.transaction!);
      });
    };
    req.onsuccess = () => resolve(wrap(req.result) as unknown as IDBPDatabase<LedgerdayDB>);
    req.onerror = (event) => {
      event.preventDefault();
      reject(migrationError ?? req.error);
    };
    // Another tab holds an older version open; it closes on its versionchange event, after which
    // this open proceeds. Nothing to do here but wait.
    req.onblocked = () => {};
  });
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
        const loaded: LoadedDoc = {
          doc: parseDocRecord(rec, doc),
          entities: entities.map((e) => parseEntity(e, doc)),
          pending: pending.map((p) => parsePending(p, doc)),
          membership: membership.map((o) => parseOp(o, doc)).sort((a, b) => a.seq - b.seq),
          evidence: evidence.map((e) => parseEvidence(e, doc)),
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

function storesOf(batch: CommitBatch, own: DeviceId | undefined, spans: boolean): Store[] {
  const s = new Set<Store>();
  if (batch.ops?.length) {
    s.add('ops');
    if (own !== undefined && batch.ops.some((o) => o.author === own)) s.add('outbox');
  }
  if (batch.bodyUpdates?.length) s.add('ops');
  if (batch.docRecord) s.add('docs');
  if (batch.entities?.length) {
    s.add('entities');
    if (spans) s.add('spans');
  }
  if (batch.pendingAdd?.length || batch.pendingRemove?.length) s.add('pending');
  if (batch.evidence?.length) s.add('evidence');
  if (batch.clock !== undefined) s.add('meta');
  return ALL_STORES.filter((n) => s.has(n));
}

/**
 * Commits one batch in one readwrite transaction over raw IndexedDB requests. A 5,000-event
 * import is ~20,000 puts: through idb's promise-per-request wrapper (a Proxy call, a promise and
 * two listeners each) staging them took ~2.9 s of the worker in Chromium, ~2.3 s raw (profiled,
 * loaded machine). Writes need no handler of their own: a failing request aborts the transaction
 * with its error (IndexedDB: an unhandled request error aborts), which `done` reports.
 */
interface RawCommit {
  db: IDBDatabase;
  names: Store[];
  durability: IDBTransactionDurability;
  batch: CommitBatch;
  own: DeviceId | undefined;
  spans: boolean;
}

async function commitRaw(c: RawCommit): Promise<void> {
  try {
    await commitOnce(c, false);
  } catch (e) {
    // add() found an op already stored (or another constraint failed): nothing landed; again,
    // reading first which ops are present (a real constraint failure fails again, reported).
    if (!c.batch.ops?.length || !isError(e, 'ConstraintError')) throw e;
    await commitOnce(c, true);
  }
}

async function commitOnce(c: RawCommit, probe: boolean): Promise<void> {
  const { db, names, durability, batch, own, spans } = c;
  const tx = db.transaction(names, 'readwrite', { durability });
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
  });
  try {
    await stage(tx, batch, own, spans, probe);
  } catch (e) {
    // A check failed or a request threw synchronously (DataCloneError, a bad key): earlier
    // requests may already be queued, so abort and none of them lands. A read that failed inside
    // IndexedDB reports an AbortError; the transaction's own error names the cause.
    abortQuietly(tx);
    const cause = await done.then(
      () => e,
      (t: unknown) => (isAbortError(e) && !isAbortError(t) ? t : e),
    );
    throw cause;
  }
  // The transaction's fate: a request failing inside IndexedDB (quota, constraint) or the commit
  // itself failing (quota, in Chromium) aborts all of it.
  await done;
}

/** Resolves when `req` succeeded; requests of one transaction complete in the order they were made. */
function settled(req: IDBRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error ?? new DOMException('the request failed', 'AbortError'));
  });
}

/**
 * Issues every write of a batch inside `tx`, after reading what the checks need (last seq, stored
 * clock) in the same transaction. Matches the memory store's semantics: ops already present are
 * skipped, new ops must continue the calendar's seq densely, body updates for absent ops are
 * ignored, and the clock only moves forward. Which ops are present is read first only when the
 * batch does not continue the seq (`probe`, or a retry): ops that do are new unless stored under
 * another seq, so they are written with add(), which then fails and nothing lands (commitRaw
 * retries with `probe`). A 5,000-op import no longer reads 5,000 keys before writing.
 */
async function stage(
  tx: IDBTransaction,
  batch: CommitBatch,
  own: DeviceId | undefined,
  spans: boolean,
  probe: boolean,
) {
  const doc = batch.doc;
  const ops = batch.ops ?? [];
  const updates = batch.bodyUpdates ?? [];
  const opStore = ops.length > 0 || updates.length > 0 ? tx.objectStore('ops') : undefined;
  // The reads, all in flight at once; their results are read once the last one has completed.
  const updated = updates.map((u) => opStore!.get([doc, u.id]));
  const reads: IDBRequest[] = [...updated];
  let last = 0;
  if (ops.length > 0) {
    const range = IDBKeyRange.bound([doc, 0], [doc, Number.POSITIVE_INFINITY]);
    const seqReq = opStore!.index('bySeq').openKeyCursor(range, 'prev');
    seqReq.addEventListener('success', () => {
      last = (seqReq.result?.key as [string, number] | undefined)?.[1] ?? 0;
    });
    reads.push(seqReq);
  }
  const clockReq = batch.clock !== undefined ? tx.objectStore('meta').get('clock') : undefined;
  if (clockReq) reads.push(clockReq);
  if (reads.length > 0) await settled(reads[reads.length - 1]!);
  const fast = !probe && ops.every((op, i) => op.seq === last + 1 + i);
  const present = fast ? [] : ops.map((o) => opStore!.getKey([doc, o.id]));
  if (present.length > 0) await settled(present[present.length - 1]!);
  const fresh = new Map<OpId, OpRecord>();
  let next = last + 1;
  ops.forEach((op, i) => {
    if (present[i]?.result !== undefined || fresh.has(op.id)) return;
    if (op.doc !== doc)
      throw new EngineError('Storage', `op ${op.id} of calendar ${op.doc} in a batch for ${doc}`, op.id);
    if (op.seq !== next)
      throw new EngineError('Storage', `op seq ${op.seq} out of order (expected ${next})`, op.id);
    next += 1;
    fresh.set(op.id, op);
  });
  updates.forEach((u, i) => {
    const inBatch = fresh.get(u.id);
    const stored = updated[i]!.result as unknown;
    if (inBatch) fresh.set(u.id, { ...inBatch, body: u.body });
    else if (stored !== undefined) opStore!.put({ ...parseOp(stored, doc), body: u.body });
  });
  const outbox =
    own !== undefined && tx.objectStoreNames.contains('outbox') ? tx.objectStore('outbox') : undefined;
  for (const op of fresh.values()) {
    if (fast) opStore!.add(op);
    else opStore!.put(op);
    if (outbox !== undefined && op.author === own) outbox.put({ doc, id: op.id, seq: op.seq });
  }
  if (batch.docRecord) tx.objectStore('docs').put(batch.docRecord);
  if (batch.entities?.length) {
    const entities = tx.objectStore('entities');
    const spanStore = spans ? tx.objectStore('spans') : undefined;
    for (const e of batch.entities) {
      entities.put(e);
      if (spanStore === undefined || e.entity === CALENDAR_ENTITY) continue;
      // Same transaction as the entity: the span index never disagrees with a committed entity.
      const span = spanOf(e);
      if (span) spanStore.put(span);
      else spanStore.delete([e.doc, e.entity]);
    }
  }
  for (const p of batch.pendingAdd ?? []) tx.objectStore('pending').put(p);
  for (const id of batch.pendingRemove ?? []) tx.objectStore('pending').delete([doc, id]);
  for (const ev of batch.evidence ?? []) tx.objectStore('evidence').put(ev);
  if (clockReq !== undefined) {
    const storedClock = clockReq.result as unknown;
    if (storedClock !== undefined && !isCount(storedClock))
      throw corrupt('meta/clock', 'not a non-negative integer');
    if (batch.clock! > ((storedClock as number | undefined) ?? 0))
      tx.objectStore('meta').put(batch.clock, 'clock');
  }
}

/** The UTC span of a live event; undefined for deleted events and the calendar's own entity. */
export function spanOf(rec: EntityRecord): SpanRecord | undefined {
  if (rec.entity === CALENDAR_ENTITY) return undefined;
  const ev = eventFromRecord(rec);
  const repeating = isSeries(ev) || isOverride(ev);
  if (ev.deleted && !repeating) return undefined;
  const { startMs, endMs } = eventSpanMs(ev.start, ev.end, ev.timeZone);
  const fields: Record<string, unknown> = {};
  for (const f of SPAN_FIELDS) fields[fieldName(f)] = ev[fieldName(f) as keyof SpanFields];
  const span: SpanRecord = {
    doc: rec.doc,
    entity: rec.entity,
    startMs,
    endMs,
    fields: fields as SpanFields,
  };
  if (endMs - startMs > LONG_SPAN_MS) span.long = 1;
  if (repeating) {
    span.long = 1;
    span.set = [...ev.set];
    if (ev.deleted) span.deleted = 1;
  }
  if ([...ev.conflicts.values()].some((w) => w.length > 1)) span.conflicted = 1;
  return span;
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

function abortQuietly(tx: { abort(): void }): void {
  try {
    tx.abort();
  } catch {
    // Already finished or aborted: nothing was committed by us either way.
  }
}

const isError = (e: unknown, name: string): boolean =>
  (e instanceof Error || isDomExceptionLike(e)) && (e as { name: string }).name === name;
const isAbortError = (e: unknown): boolean => isError(e, 'AbortError');

/** Key range of every compound key starting with `doc` (arrays sort after strings and numbers). */
function prefix(doc: DocId): IDBKeyRange {
  return IDBKeyRange.bound([doc], [doc, []]);
}

const deviceIdOf = (d: DeviceRecord): DeviceId => toHex(d.publicKey) as DeviceId;

// ---- errors ----

/** Turns a DOMException (or anything) from IndexedDB into a Storage error the UI can show. */
export function storageError(e: unknown, context: string): EngineError {
  if (e instanceof EngineError) {
    return e.code === 'Storage' || e.code === 'InvalidArgument'
      ? e
      : new EngineError('Storage', `${context}: ${e.message}`, e.opId, { cause: e });
  }
  const name = e instanceof Error || isDomExceptionLike(e) ? (e as { name: string }).name : '';
  const msg = e instanceof Error || isDomExceptionLike(e) ? (e as { message: string }).message : String(e);
  const why =
    name === 'QuotaExceededError'
      ? 'the browser storage for this site is full; free space or delete old data. Nothing was saved'
      : name === 'InvalidStateError'
        ? 'the database is closed or unavailable (private mode, or another tab upgraded it); reload the page'
        : name === 'VersionError'
          ? 'the stored database is newer than this version of the app; reload to update'
          : name === 'UnknownError'
            ? 'the browser could not read or write its storage (disk error or storage cleared)'
            : name === 'AbortError'
              ? 'the write was aborted and nothing was saved'
              : msg;
  return new EngineError(
    'Storage',
    `${context}: ${why}${name && why !== msg ? ` (${name}: ${msg})` : ''}`,
    undefined,
    {
      cause: e,
    },
  );
}

function isDomExceptionLike(e: unknown): boolean {
  return typeof e === 'object' && e !== null && typeof (e as { name?: unknown }).name === 'string';
}

function corrupt(where: string, what: string): EngineError {
  return new EngineError('Storage', `corrupt record in ${where}: ${what}`);
}

// ---- validation of what comes back from IndexedDB ([RT-5]: storage is a boundary) ----

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const BODY_STATES: readonly unknown[] = ['applied', 'inert', 'locked'];
const OP_KINDS: readonly unknown[] = Object.values(OpKind);

const isVersionVector = (v: unknown): boolean =>
  isPlainObject(v) && Object.entries(v).every(([k, n]) => isDeviceId(k) && isCount(n));

function need(ok: boolean, where: string, what: string): asserts ok {
  if (!ok) throw corrupt(where, what);
}

function opIdList(v: unknown, where: string, field: string): OpId[] {
  need(Array.isArray(v) && v.every(isOpId), where, `${field} is not a list of op ids`);
  return v as OpId[];
}

export function parseOp(v: unknown, doc: DocId): OpRecord {
  const where = `ops/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const o = v as Record<string, unknown>;
  need(isOpId(o['id']), where, 'id is not an op id');
  const at = `${where}/${o['id']}`;
  need(o['doc'] === doc, at, 'belongs to another calendar');
  need(isCount(o['seq']) && (o['seq'] as number) > 0, at, 'seq');
  need(isDeviceId(o['author']), at, 'author');
  need(isCount(o['ctr']), at, 'ctr');
  need(isCount(o['wallTime']), at, 'wallTime');
  need(OP_KINDS.includes(o['kind']), at, 'kind');
  opIdList(o['parents'], at, 'parents');
  opIdList(o['mfront'], at, 'mfront');
  need(o['prev'] === null || isOpId(o['prev']), at, 'prev');
  need(isBytes(o['bytes']) && (o['bytes'] as Uint8Array).length > 0, at, 'bytes');
  need(isVersionVector(o['vv']), at, 'vv');
  need(BODY_STATES.includes(o['body']), at, 'body');
  return v as unknown as OpRecord;
}

function parseDocRecord(v: unknown, doc: DocId): DocRecord {
  const at = `docs/${doc}`;
  need(isPlainObject(v), at, 'not an object');
  const d = v as Record<string, unknown>;
  need(d['doc'] === doc, at, 'doc');
  need(isOpId(d['genesis']), at, 'genesis');
  opIdList(d['heads'], at, 'heads');
  need(isCount(d['seq']), at, 'seq');
  need(d['ownLast'] === null || isOpId(d['ownLast']), at, 'ownLast');
  need(isCount(d['ownCtr']), at, 'ownCtr');
  return v as unknown as DocRecord;
}

function parseWrite(v: unknown, at: string): WriteRecord {
  need(isPlainObject(v), at, 'write is not an object');
  const w = v as Record<string, unknown>;
  need(w['value'] === null || isBytes(w['value']), at, 'write value');
  need(isCount(w['wallTime']), at, 'write wallTime');
  need(isDeviceId(w['author']), at, 'write author');
  need(isCount(w['ctr']), at, 'write ctr');
  need(isOpId(w['op']), at, 'write op');
  need(w['vv'] === undefined || isVersionVector(w['vv']), at, 'write vv');
  return v as unknown as WriteRecord;
}

function parseEntity(v: unknown, doc: DocId): EntityRecord {
  const where = `entities/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const e = v as Record<string, unknown>;
  need(isEntityId(e['entity']), where, 'entity id');
  const at = `${where}/${e['entity']}`;
  need(e['doc'] === doc, at, 'belongs to another calendar');
  need(Array.isArray(e['registers']), at, 'registers');
  for (const r of e['registers'] as unknown[]) {
    need(isPlainObject(r), at, 'register');
    const reg = r as Record<string, unknown>;
    need(isCount(reg['field']), at, 'register field');
    need(Array.isArray(reg['writes']) && reg['writes'].length > 0, at, 'register writes');
    for (const w of reg['writes'] as unknown[]) parseWrite(w, at);
    need(reg['covered'] === undefined || Array.isArray(reg['covered']), at, 'register covered');
    for (const w of (reg['covered'] ?? []) as unknown[]) parseWrite(w, at);
  }
  return v as unknown as EntityRecord & { registers: RegisterRecord[] };
}

function parsePending(v: unknown, doc: DocId): PendingRecord {
  const where = `pending/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const p = v as Record<string, unknown>;
  need(isOpId(p['id']), where, 'id');
  need(p['doc'] === doc, where, 'belongs to another calendar');
  need(isBytes(p['bytes']), where, 'bytes');
  opIdList(p['missing'], where, 'missing');
  return v as unknown as PendingRecord;
}

function parseEvidence(v: unknown, doc: DocId): EquivocationRecord {
  const where = `evidence/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const r = v as Record<string, unknown>;
  need(r['doc'] === doc, where, 'belongs to another calendar');
  need(isDeviceId(r['author']), where, 'author');
  need(isCount(r['ctr']), where, 'ctr');
  opIdList(r['ops'], where, 'ops');
  return v as unknown as EquivocationRecord;
}

const SPAN_FIELDS = EVENT_FIELDS.filter((f) => f.key !== 'Deleted');

/**
 * isValueOf's answers for string values already checked, per type: a first range at cold start
 * reads ~1,500 spans of ~17 fields, mostly the same few zones, rules, dates and empty texts, and
 * isValueOf encodes and decodes each value to check it (~0.1 s of that first answer, measured
 * in Chromium). The check is a pure function of (type, value), so its answer is reused.
 */
const validStrings = new Map<string, Map<string, boolean>>();

function isValidValue(type: ValueType, v: unknown): boolean {
  if (typeof v !== 'string' || v.length > 64) return isValueOf(type, v);
  let known = validStrings.get(type);
  if (known === undefined) {
    known = new Map();
    validStrings.set(type, known);
  }
  let ok = known.get(v);
  if (ok === undefined) {
    ok = isValueOf(type, v);
    if (known.size >= 5000) known.clear();
    known.set(v, ok);
  }
  return ok;
}

function parseSpan(v: unknown, doc: DocId): SpanRecord {
  const where = `spans/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const r = v as Record<string, unknown>;
  need(r['doc'] === doc, where, 'belongs to another calendar');
  need(isEntityId(r['entity']) && r['entity'] !== CALENDAR_ENTITY, where, 'entity id');
  const at = `${where}/${r['entity']}`;
  need(Number.isFinite(r['startMs']) && Number.isFinite(r['endMs']), at, 'startMs/endMs');
  need(r['long'] === undefined || r['long'] === 1, at, 'long');
  need(r['conflicted'] === undefined || r['conflicted'] === 1, at, 'conflicted');
  need(r['deleted'] === undefined || (r['deleted'] === 1 && r['set'] !== undefined), at, 'deleted');
  need(
    r['set'] === undefined ||
      (Array.isArray(r['set']) && r['set'].length <= 64 && r['set'].every((n) => Number.isInteger(n))),
    at,
    'set',
  );
  need(isPlainObject(r['fields']), at, 'fields');
  const f = r['fields'] as Record<string, unknown>;
  for (const spec of SPAN_FIELDS) {
    const k = fieldName(spec);
    // A record written before schema version 2 lacks its fields: they read as absent (SCH-3).
    if (f[k] === undefined && spec.since > 1) f[k] = Array.isArray(spec.absent) ? [] : spec.absent;
    else need(f[k] === spec.absent || isValidValue(spec.type, f[k]), at, `fields.${k}`);
  }
  return v as unknown as SpanRecord;
}

function parseDevice(v: unknown): DeviceRecord {
  const at = 'meta/device';
  need(isPlainObject(v), at, 'not an object');
  const d = v as Record<string, unknown>;
  need(isBytes(d['publicKey']) && (d['publicKey'] as Uint8Array).length === 32, at, 'publicKey');
  need(d['secret'] !== undefined && d['secret'] !== null, at, 'secret key missing');
  need(d['boxPublicKey'] === undefined || isBytes(d['boxPublicKey']), at, 'boxPublicKey');
  return v as unknown as DeviceRecord;
}

function parseOutbox(v: unknown, doc: DocId): OutboxRecord {
  const at = `outbox/${doc}`;
  need(isPlainObject(v), at, 'not an object');
  const r = v as Record<string, unknown>;
  need(r['doc'] === doc && isOpId(r['id']) && isCount(r['seq']), at, 'bad record');
  return v as unknown as OutboxRecord;
}

function parsePrefs(v: unknown): CalendarPrefsRecord {
  need(isPlainObject(v), 'prefs', 'not an object');
  const r = v as Record<string, unknown>;
  need(isDocId(r['doc']) && typeof r['hidden'] === 'boolean', 'prefs', 'bad record');
  return { doc: r['doc'] as DocId, hidden: r['hidden'] as boolean };
}
