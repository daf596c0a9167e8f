// Bench-only page (never part of the app build): fills the app's own IndexedDB with a calendar of
// N events and H ops of history, authored by the app's real engine under this profile's real
// device key. Writing them one IndexedDB transaction per op (as the app does) takes minutes, so the
// replica runs over the engine's memory store and the result is copied into IndexedDB in large
// transactions afterwards: the records are exactly what the app would have stored.

import {
  createBestCrypto,
  createMemoryStore,
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  type NewWrite,
  OpKind,
  Replica,
  type SubtleLike,
} from '../src/engine/index.ts';
import { loadOrCreateDevice } from '../src/worker/device-keys.ts';
import { spanOf } from '../src/worker/idb-records.ts';
import { openIdbStore } from '../src/worker/idb-store.ts';

export interface SeedResult {
  doc: DocId;
  events: number;
  ops: number;
  engineMs: number;
  idbMs: number;
}

declare global {
  interface Window {
    seed: (
      n: number,
      month: string,
      totalOps?: number,
      dbName?: string,
      series?: number,
    ) => Promise<SeedResult>;
  }
}

const RULES = [
  'FREQ=WEEKLY;BYDAY=MO,WE',
  'FREQ=DAILY',
  'FREQ=MONTHLY;BYMONTHDAY=15',
  'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
  'FREQ=YEARLY',
  'FREQ=MONTHLY;BYDAY=2TU',
  'FREQ=WEEKLY;INTERVAL=2;BYDAY=FR;COUNT=200',
];

/** A repeating series that started up to three years before `month` (bench: recurrence.*). */
export function seriesWrites(j: number, y: number, m: number): NewWrite[] {
  const d = new Date(Date.UTC(y - 3, m - 1, 1) + ((j * 37) % 1000) * 86_400_000);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  // Early in the day (single events start at 07:00 or later), so the month view's first lanes show
  // them and the bench can see when they are drawn.
  const h = 1 + (j % 6);
  return [
    { field: EventField.Title, value: encodeValue('text', `Series ${j}`) },
    { field: EventField.Start, value: encodeValue('datetime', `${date}T${pad(h)}:00`) },
    { field: EventField.End, value: encodeValue('datetime', `${date}T${pad(h)}:30`) },
    { field: EventField.AllDay, value: encodeValue('bool', false) },
    { field: EventField.TimeZone, value: encodeValue('zone', ZONES[j % ZONES.length]!) },
    { field: EventField.Location, value: encodeValue('text', '') },
    { field: EventField.Notes, value: encodeValue('text', '') },
    { field: EventField.Rrule, value: encodeValue('rrule', RULES[j % RULES.length]!) },
  ];
}

const pad = (x: number) => String(x).padStart(2, '0');
const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const nowUs = () => Math.floor((performance.timeOrigin + performance.now()) * 1000);
const ZONES = ['Europe/Berlin', 'Europe/Berlin', 'Europe/Berlin', 'America/New_York', 'UTC'];

/** Deterministic pseudo-random sequence (xorshift), so every run seeds the same shapes. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function eventWrites(j: number, y: number, m: number, shift = 0): NewWrite[] {
  // Spread over a year centred on `month`: about 1/12 of the events land in the month view.
  const d = new Date(Date.UTC(y, m - 1 - 6, 1) + ((j + shift) % 365) * 86_400_000);
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const h = 7 + ((j + shift) % 11);
  const allDay = j % 40 === 0;
  return [
    { field: EventField.Title, value: encodeValue('text', `Event ${j}`) },
    { field: EventField.Start, value: encodeValue('datetime', allDay ? date : `${date}T${pad(h)}:00`) },
    {
      field: EventField.End,
      value: encodeValue('datetime', allDay ? date : `${date}T${pad(h + 1)}:${j % 2 ? '30' : '00'}`),
    },
    { field: EventField.AllDay, value: encodeValue('bool', allDay) },
    { field: EventField.TimeZone, value: encodeValue('zone', ZONES[j % ZONES.length]!) },
    { field: EventField.Location, value: encodeValue('text', j % 3 === 0 ? 'Room 1' : '') },
    { field: EventField.Notes, value: encodeValue('text', '') },
  ];
}

window.seed = async (n, month, totalOps = n + 2, dbName = 'ledgerday', series = 0) => {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const t0 = performance.now();
  const idb = await openIdbStore({ name: dbName });
  const device = await loadOrCreateDevice(idb, crypto.subtle, random);
  idb.close();
  const mem = createMemoryStore();
  const replica = await Replica.open({
    store: mem,
    crypto: await createBestCrypto(crypto.subtle as unknown as SubtleLike),
    random,
    nowUs,
    device,
  });
  const { doc } = await replica.createCalendar({ name: 'Personal', color: '#1a73e8' });
  const ids: EntityId[] = [];
  const pending: Promise<unknown>[] = [];
  for (let j = 0; j < n; j++) {
    const id = Array.from(random(16), (b) => b.toString(16).padStart(2, '0')).join('') as EntityId;
    ids.push(id);
    pending.push(replica.write(doc, id, eventWrites(j, y, m)));
    if (pending.length >= 500) await Promise.all(pending.splice(0));
  }
  for (let j = 0; j < series; j++) {
    const id = Array.from(random(16), (b) => b.toString(16).padStart(2, '0')).join('') as EntityId;
    pending.push(replica.write(doc, id, seriesWrites(j, y, m)));
    if (pending.length >= 500) await Promise.all(pending.splice(0));
  }
  totalOps += series;
  // History: edits of existing events (titles, notes, moves by a day, a few delete + restore).
  const r = rng(42);
  // Ops so far: the genesis, the calendar's name + colour, one per event.
  for (let k = n + 2 + series; k < totalOps; k++) {
    const j = Math.floor(r() * n);
    const id = ids[j]!;
    const pick = r();
    let writes: NewWrite[];
    if (pick < 0.4) writes = [{ field: EventField.Title, value: encodeValue('text', `Event ${j} v${k}`) }];
    else if (pick < 0.6) writes = [{ field: EventField.Notes, value: encodeValue('text', `note ${k}`) }];
    else if (pick < 0.98) writes = eventWrites(j, y, m, k % 3).slice(1, 3);
    else writes = [{ field: EventField.Deleted, value: encodeValue('bool', pick < 0.99) }];
    pending.push(replica.write(doc, id, writes));
    if (pending.length >= 500) await Promise.all(pending.splice(0));
    if (k % 10_000 === 0) console.log(`seed: ${k} ops`);
  }
  await Promise.all(pending);
  const t1 = performance.now();

  // Copy into IndexedDB: the same records the IndexedDB store's commit would have written. The
  // history counts as uploaded (outbox empty, relay cursor at the end), like a device in use.
  const loaded = (await mem.loadDoc(doc))!;
  const ops = await mem.listOps(doc, 0, Number.MAX_SAFE_INTEGER);
  const clock = await mem.loadClock();
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(dbName);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const put = (store: string, values: unknown[], key?: IDBValidKey) =>
    new Promise<void>((resolve, reject) => {
      const tx = db.transaction(store, 'readwrite', { durability: 'relaxed' });
      const os = tx.objectStore(store);
      for (const v of values) key === undefined ? os.put(v) : os.put(v, key);
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  console.log(`seed: ${ops.length} ops made, copying to IndexedDB`);
  for (let i = 0; i < ops.length; i += 5000) await put('ops', ops.slice(i, i + 5000));
  console.log('seed: ops copied');
  for (let i = 0; i < loaded.entities.length; i += 5000)
    await put('entities', loaded.entities.slice(i, i + 5000));
  // The span index the store's commit keeps beside every entity ([RT-12]).
  const spans = loaded.entities.map(spanOf).filter((x) => x !== undefined);
  for (let i = 0; i < spans.length; i += 5000) await put('spans', spans.slice(i, i + 5000));
  await put('cursors', [{ doc, cursor: ops.length }]);
  await put('meta', [clock], 'clock');
  // Last, so an interrupted seed leaves no calendar at all rather than half of one.
  await put('docs', [loaded.doc]);
  db.close();
  if (!ops.some((o) => o.kind === OpKind.Membership)) throw new Error('seed: no membership op');
  return {
    doc,
    events: n,
    ops: ops.length,
    engineMs: Math.round(t1 - t0),
    idbMs: Math.round(performance.now() - t1),
  };
};
