// The IndexedDB schema: its stores and indexes, the migration steps from each released version
// to the next ([RT-6]), and opening a database through them.

import { type DBSchema, type IDBPDatabase, type IDBPTransaction, type StoreNames, wrap } from 'idb';
import type {
  DeviceRecord,
  DocRecord,
  EndorsementRecord,
  EntityRecord,
  EquivocationRecord,
  OpRecord,
  PendingRecord,
} from '../engine/index.ts';
import { type DocId, isDocId } from '../engine/index.ts';
import { abortQuietly } from './idb-errors.ts';
import {
  type CalendarPrefsRecord,
  deviceIdOf,
  type OutboxRecord,
  parseDevice,
  parseEntity,
  type SpanRecord,
  spanOf,
} from './idb-records.ts';

interface MetaValues {
  device: DeviceRecord;
  clock: number;
  /** This device's display name (DEV-1), a local preference; absent until the user sets one. */
  deviceName: string;
  /** Host-local records (src/worker/local-state.ts validates them on read): the move journal. */
  moves: unknown;
  /** When this device was last fully in sync with the relay (ms), kept across reloads. */
  lastSyncedAt: unknown;
  /** The last recovery file this device made (dates, calendars; never its secrets), REC-4. */
  recoveryFile: unknown;
  /** This device's personal document (PER-1, src/worker/my-devices.ts checks it on read). */
  personalDoc: unknown;
}

/** Keys of host-local records that src/worker/local-state.ts reads, validates and writes. */
export type LocalKey = 'moves' | 'lastSyncedAt' | 'recoveryFile' | 'personalDoc' | 'viewerDismissals';

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
  endorsements: { key: [string, string]; value: EndorsementRecord };
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

export type Store = StoreNames<LedgerdayDB>;
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
  // 3 -> 4: snapshot endorsements (SNAP-9, SNAP-10), by calendar and endorsement hash.
  async (db) => {
    db.createObjectStore('endorsements', { keyPath: ['doc', 'id'] });
  },
];

export const SCHEMA_VERSION = MIGRATIONS.length;

export const ALL_STORES: Store[] = [
  'ops',
  'docs',
  'entities',
  'pending',
  'evidence',
  'endorsements',
  'meta',
  'outbox',
  'cursors',
  'prefs',
  'spans',
];

/**
 * Opens with our own request handling rather than idb's openDB: it takes an explicit factory,
 * and a failing migration aborts the upgrade transaction, so a half-migrated schema is never
 * committed ([RT-6]).
 */
export function openWithMigrations(
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
