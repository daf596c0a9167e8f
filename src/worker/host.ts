// The engine host: composition root of store, device keys, crypto and Replica, plus the views the
// UI asks for (calendars, events by UTC range, search) kept as an in-memory index that is built
// from materialized entities at start ([RT-10]: never by replaying the op log) and updated from
// the replica's change events.

import type { EngineStore } from '../engine/index.ts';
import {
  boxKeyPairFromSecret,
  CALENDAR_ENTITY,
  CalendarField,
  type ChangeEvent,
  calendarFromRecord,
  createBestCrypto,
  createNobleSigner,
  createWebCryptoSigner,
  type DeviceKeys,
  type DocId,
  EngineError,
  type EntityId,
  type EntityRecord,
  EventField,
  encodeValue,
  eventFromRecord,
  fieldType,
  isDocId,
  isEntityId,
  type NewWrite,
  Replica,
  Role,
  roleName,
  type SubtleLike,
} from '../engine/index.ts';
import type { SocketFactory } from '../sync/client.ts';
import type {
  CalendarInfo,
  EventFieldName,
  EventFields,
  EventView,
  HostError,
  MonthRequest,
  Range,
  SyncStatus,
} from './api.ts';
import { createDeviceApi, isListedCalendar } from './devices.ts';
import { EventIndex } from './event-index.ts';
import { createHistoryApi } from './history-host.ts';
import { callHost, type Host, type HostEvent, type HostMethod, hostApiOf } from './host-api.ts';
import { type IdbStore, type IdbStoreOptions, openIdbStore, type SpanRecord } from './idb-store.ts';
import { createImportApi } from './import.ts';
import { LastSynced } from './last-synced.ts';
import { monthLayout } from './month-host.ts';
import { checkMonthRequest, layoutViews, monthRange } from './month-layout.ts';
import { MoveJournal, moveEvent, recoverMoves } from './move.ts';
import { createMyDevices } from './my-devices.ts';
import { SeriesSet } from './occurrences.ts';
import { createRecoveryApi } from './recovery.ts';
import { reminderOccurrences } from './reminders.ts';
import { createSeriesHost, fastExpander, occurrenceViews, sharedExpander } from './series-host.ts';
import { completeSeriesMove, familyOf, rootSeries } from './series-move.ts';
import { relayUrlFor, type SyncHost, startSyncHost } from './sync-host.ts';
import { ViewerDismissals } from './viewer-dismissals.ts';
import { BASE_FIELDS, byTime, FIELD_NUMBERS, inRange, toView, viewOf } from './views.ts';

/** The editable fields of an event view, as the field table names them. */
/** A calendar as the UI sees it, from its calendar entity (loaded replica or store alike). */
function calendarInfoOf(
  doc: DocId,
  rec: Parameters<typeof calendarFromRecord>[0],
  hidden: boolean,
): CalendarInfo {
  const props = calendarFromRecord(rec);
  return {
    id: doc,
    name: props.name,
    color: props.color,
    hidden,
    ...(props.defaultAlarms.length > 0 ? { defaultAlarms: props.defaultAlarms } : {}),
    ...(props.compliance ? { compliance: true } : {}),
  };
}

function fieldsOfView(v: EventView): EventFields {
  return Object.fromEntries([...FIELD_NUMBERS.keys()].map((k) => [k, v[k]])) as unknown as EventFields;
}

export interface HostOptions {
  store: IdbStore;
  replica: Replica;
  /** Calendars that could not be loaded (corrupt records): reported, the rest is served. */
  broken?: Map<DocId, EngineError>;
  /** The relay connection (SYNC-10); absent when there is no relay (Node tests, file://). */
  sync?: SyncHost;
  /** Randomness for recovery files (salt, nonce); crypto.getRandomValues by default. */
  random?: (n: number) => Uint8Array;
}

/** The host over an opened store and replica (exported for tests; the worker uses startEngineHost). */
export interface EngineHost extends Host {
  /** Broadcasts a problem found outside a call (the database closed under us). */
  report(error: HostError): void;
}

export async function createHost(opts: HostOptions): Promise<EngineHost> {
  const { store, replica } = opts;
  const listeners = new Set<(e: HostEvent) => void>();
  const index = new EventIndex();
  const hidden = new Map<DocId, boolean>();
  const knownDocs = new Set<DocId>();
  const brokenErrors: HostError[] = [...(opts.broken ?? new Map())].map(([doc, e]) => ({
    code: 'Storage',
    message: `calendar ${doc} could not be read and is not shown: ${e.message}`,
  }));
  let closed = false;

  const emit = (e: HostEvent) => {
    for (const cb of listeners) cb(e);
  };

  const my = await createMyDevices({
    replica,
    store,
    sync: opts.sync,
    onError: (e) => {
      if (e instanceof EngineError && e.code === 'Storage')
        emit({ type: 'error', error: { code: e.code, message: e.message } });
    },
  });
  const { issueInvites, joinInvites, ...devices } = createDeviceApi({
    replica,
    store,
    sync: opts.sync,
    my,
    emit: (e) => emit(e),
  });
  const recovery = createRecoveryApi({
    replica,
    store,
    invites: { issueInvites, joinInvites },
    my,
    random: opts.random ?? defaultRandom,
  });
  const lastSynced = await LastSynced.open(store);
  opts.sync?.onStatus((status) => {
    if (!closed) emit({ type: 'sync', status: lastSynced.apply(status) });
  });

  const series = createSeriesHost(replica);
  for (const p of await store.listPrefs()) hidden.set(p.doc, p.hidden);
  for (const doc of replica.listDocs()) {
    knownDocs.add(doc);
    for (const rec of replica.entities(doc)) reindex(doc, rec);
  }

  /** Updates one entity's index entry; returns the UTC extents it had before and has now. */
  function reindex(doc: DocId, rec: EntityRecord | undefined): Range[] {
    if (rec === undefined || rec.entity === CALENDAR_ENTITY) return [];
    const key = `${doc}/${rec.entity}`;
    const before = index.get(key);
    const out: Range[] = [];
    if (before)
      out.push({ fromMs: before.view.startMs, toMs: Math.max(before.view.endMs, before.view.startMs + 1) });
    const ev = eventFromRecord(rec);
    if (series.reindex(doc, rec.entity, ev)) {
      // A series or override can change occurrences anywhere: every range re-reads.
      index.delete(key);
      return [EVERYTHING];
    }
    if (ev.deleted) {
      index.delete(key);
      return out;
    }
    const view = toView(doc, ev);
    index.set(key, { doc, view });
    out.push({ fromMs: view.startMs, toMs: Math.max(view.endMs, view.startMs + 1) });
    return out;
  }

  // A calendar move is two writes in two documents: their change events are held and sent as
  // one, so this device's views never draw the event twice (or not at all) in between.
  let holding = 0;
  const held: Range[] = [];
  async function asOneChange<T>(fn: () => Promise<T>): Promise<T> {
    holding++;
    try {
      return await fn();
    } finally {
      holding--;
      if (holding === 0 && held.length > 0) emit({ type: 'events', intervals: held.splice(0) });
    }
  }

  replica.onChange((e: ChangeEvent) => {
    if (closed) return;
    let calendars = e.membershipChanged || !knownDocs.has(e.doc);
    knownDocs.add(e.doc);
    const intervals: Range[] = [];
    for (const ent of e.entities) {
      if (ent === CALENDAR_ENTITY) calendars = true;
      else intervals.push(...reindex(e.doc, replica.entity(e.doc, ent)));
    }
    if (holding > 0) held.push(...intervals);
    else if (intervals.length > 0) emit({ type: 'events', intervals });
    if (calendars) emit({ type: 'calendars' });
  });

  /** Runs a call; storage failures are also broadcast so every tab shows them ([RT-11]). */
  async function guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err =
        e instanceof EngineError
          ? e
          : new EngineError('InvalidArgument', e instanceof Error ? e.message : String(e));
      if (err.code === 'Storage') emit({ type: 'error', error: { code: err.code, message: err.message } });
      throw err;
    }
  }

  function mustDoc(calendarId: string): DocId {
    if (!isDocId(calendarId))
      throw new EngineError('InvalidArgument', `not a calendar id: ${String(calendarId).slice(0, 40)}`);
    if (!replica.hasDoc(calendarId))
      throw new EngineError('UnknownDoc', `no calendar ${calendarId} on this device`);
    return calendarId;
  }

  function mustEvent(eventId: string): EntityId {
    if (!isEntityId(eventId) || eventId === CALENDAR_ENTITY) {
      throw new EngineError('InvalidArgument', `not an event id: ${String(eventId).slice(0, 40)}`);
    }
    return eventId;
  }

  function encodeFields(entity: EntityId, fields: Partial<EventFields>): NewWrite[] {
    const writes: NewWrite[] = [];
    for (const [name, value] of Object.entries(fields)) {
      const field = FIELD_NUMBERS.get(name as EventFieldName);
      if (field === undefined) throw new EngineError('InvalidArgument', `unknown event field ${name}`);
      if (value === undefined) continue;
      if (value === null) {
        writes.push({ field, value: null });
        continue;
      }
      writes.push({ field, value: encode(fieldType(entity, field)!, value) });
    }
    return writes;
  }

  const imports = createImportApi({
    replica,
    emit,
    mustDoc,
    encodeFields,
  });

  // Moves a closed page left half done are completed before the first call is answered ([RT-13]).
  const moveDeps = {
    store,
    replica,
    encodeFields,
    completeSeries: (from: DocId, to: DocId, root: EntityId) => completeSeriesMove(replica, from, to, root),
  };
  const history = createHistoryApi({
    replica,
    mustDoc,
    occurrenceOf: (doc, id) => series.occurrenceOf(doc, id),
    ownName: () => store.getDeviceName(),
  });

  const { journal, dropped } = await MoveJournal.open(store);
  if (dropped > 0)
    brokenErrors.push({ code: 'Storage', message: `${dropped} unreadable calendar move record(s) ignored` });
  for (const message of await recoverMoves(moveDeps, journal))
    brokenErrors.push({ code: 'Storage', message });

  /** ROLE-9: reminders a viewer dismissed (it may not write the synced register), kept here. */
  const viewerDismissals = new ViewerDismissals(store);

  function calendarInfo(doc: DocId): CalendarInfo {
    const info = calendarInfoOf(doc, replica.entity(doc, CALENDAR_ENTITY), hidden.get(doc) ?? false);
    // ROLE-3: this device's role, so the UI opens a viewer's calendar read-only.
    const mine = replica.deviceId === undefined ? undefined : replica.members(doc).get(replica.deviceId);
    return mine === undefined ? info : { ...info, role: roleName(mine.role) };
  }

  return {
    ...devices,
    makeRecoveryFile: (password) => guard(() => recovery.makeRecoveryFile(password)),
    restoreRecoveryFile: (text, password) =>
      guard(async () => {
        const result = await recovery.restoreRecoveryFile(text, password);
        if (result.joined.length > 0) emit({ type: 'calendars' });
        return result;
      }),
    recoveryStatus: () => guard(() => recovery.recoveryStatus()),
    // An import's thousands of change events reach the views as one (asOneChange).
    importEvents: (calendarId, importId, items) =>
      guard(() => asOneChange(() => imports.importEvents(calendarId, importId, items))),
    cancelImport: (importId) => guard(() => imports.cancelImport(importId)),
    exportEvents: (calendarId) => guard(() => imports.exportEvents(calendarId)),
    // A calendar fetched for an invite that was then refused is not listed (nothing readable).
    listCalendars: () =>
      guard(async () =>
        replica
          .listDocs()
          .filter((d) => isListedCalendar(replica, d, my))
          .map(calendarInfo),
      ),

    createCalendar: (name, color) =>
      guard(async () => {
        encode('text', name);
        encode('color', color);
        return (await replica.createCalendar({ name, color })).doc;
      }),

    renameCalendar: (calendarId, name, color) =>
      guard(async () => {
        await replica.write(mustDoc(calendarId), CALENDAR_ENTITY, [
          { field: CalendarField.Name, value: encode('text', name) },
          { field: CalendarField.Color, value: encode('color', color) },
        ]);
      }),

    setDefaultAlarms: (calendarId, alarms) =>
      guard(async () => {
        await replica.write(mustDoc(calendarId), CALENDAR_ENTITY, [
          { field: CalendarField.DefaultAlarms, value: encode('alarms', alarms) },
        ]);
      }),

    dismissReminder: (calendarId, eventId, untilMs) =>
      guard(async () => {
        const doc = mustDoc(calendarId);
        const ent = mustEvent(eventId);
        if (!Number.isFinite(untilMs)) throw new EngineError('InvalidArgument', 'untilMs must be a time');
        // REM-3: a dismissal only ever moves forward.
        if (untilMs <= (index.get(`${doc}/${ent}`)?.view.dismissedUntilMs ?? 0)) return;
        // ROLE-9: a viewer writes no event field; its dismissal stays on this device.
        if (
          replica.deviceId !== undefined &&
          replica.members(doc).get(replica.deviceId)?.role === Role.Viewer
        )
          return viewerDismissals.dismiss(doc, ent, untilMs);
        const wall = new Date(untilMs).toISOString().slice(0, 19);
        await replica.write(doc, ent, [
          { field: EventField.DismissedUntil, value: encode('datetime', wall) },
        ]);
      }),

    reminderOccurrences: (fromMs, toMs) =>
      guard(async () => {
        if (!Number.isFinite(fromMs) || !Number.isFinite(toMs) || toMs - fromMs > 60 * 86_400_000)
          throw new EngineError('InvalidArgument', 'a reminder range is at most 60 days');
        const docs = replica.listDocs().filter((d) => isListedCalendar(replica, d, my) && !hidden.get(d));
        const out = await reminderOccurrences(replica, docs, fromMs, toMs);
        const mine = await viewerDismissals.read();
        if (mine.size === 0) return out;
        return out.map((o) => {
          const local = mine.get(`${o.calendarId}/${o.eventId}`) ?? 0;
          return local > o.dismissedUntilMs ? { ...o, dismissedUntilMs: local } : o;
        });
      }),

    setCalendarHidden: (calendarId, hide) =>
      guard(async () => {
        const doc = mustDoc(calendarId);
        await store.setPrefs({ doc, hidden: hide });
        hidden.set(doc, hide);
        emit({ type: 'calendars' });
      }),

    eventsInRange: (range) =>
      guard(async () => {
        const out: EventView[] = [];
        index.inRange(range, out);
        out.push(...(await series.occurrences(range)));
        return out.sort(byTime);
      }),

    monthLayout: (request) =>
      guard(async () => {
        const why = checkMonthRequest(request);
        if (why !== undefined) throw new EngineError('InvalidArgument', why);
        return monthLayout(request, index, series);
      }),

    getEvent: (calendarId, eventId) =>
      guard(async () => {
        const doc = mustDoc(calendarId);
        return index.get(`${doc}/${mustEvent(eventId)}`)?.view ?? (await series.get(doc, eventId));
      }),

    createEvent: (calendarId, eventId, fields) =>
      guard(async () => {
        const doc = mustDoc(calendarId);
        const id = mustEvent(eventId);
        for (const k of BASE_FIELDS) {
          if (fields[k] === undefined) throw new EngineError('InvalidArgument', `new event lacks ${k}`);
        }
        await replica.write(doc, id, encodeFields(id, fields));
        return id;
      }),

    updateEvent: (calendarId, eventId, fields) =>
      guard(async () => {
        const doc = mustDoc(calendarId);
        const id = mustEvent(eventId);
        // An occurrence of a repeating event moved or edited without a choice: "This event".
        const occ = series.occurrenceOf(doc, id);
        if (occ !== undefined) {
          await series.edit(doc, { ...occ, scope: 'this', fields });
          return;
        }
        const writes = encodeFields(id, fields);
        if (writes.length > 0) await replica.write(doc, id, writes);
      }),

    deleteEvent: (calendarId, eventId) =>
      guard(async () => {
        const doc = mustDoc(calendarId);
        const occ = series.occurrenceOf(doc, mustEvent(eventId));
        if (occ !== undefined && !replica.entity(doc, eventId as EntityId)) {
          await series.edit(doc, { ...occ, scope: 'this', delete: true });
          return;
        }
        await replica.write(mustDoc(calendarId), mustEvent(eventId), [
          { field: EventField.Deleted, value: encode('bool', true) },
        ]);
      }),

    restoreEvent: (calendarId, eventId) =>
      guard(async () => {
        await replica.write(mustDoc(calendarId), mustEvent(eventId), [
          { field: EventField.Deleted, value: encode('bool', false) },
        ]);
      }),

    moveEvent: (fromCalendarId, eventId, toCalendarId, fields) =>
      guard(async () => {
        const from = mustDoc(fromCalendarId);
        const to = mustDoc(toCalendarId);
        const event = mustEvent(eventId);
        if (from === to) throw new EngineError('InvalidArgument', 'the event is already in that calendar');
        const cur = index.get(`${from}/${event}`)?.view;
        // A repeating event (its series or one of its occurrences): the whole family ([RT-14]).
        const seriesId = cur === undefined ? series.seriesIdOf(from, event) : undefined;
        if (seriesId !== undefined) {
          const root = rootSeries(replica, from, seriesId);
          // The copy of the part the person had open (what the UI edits next).
          const copy = familyOf(replica, from, root).members.find((m) => m.ev.id === seriesId)?.copy;
          return asOneChange(async () => {
            const intent = { from, event: root, to, fields: {} as EventFields, series: true as const };
            const rootCopy = await moveEvent(moveDeps, journal, intent);
            return copy ?? rootCopy;
          });
        }
        if (cur === undefined) throw new EngineError('InvalidArgument', `no event ${event} in ${from}`);
        return asOneChange(() =>
          moveEvent(moveDeps, journal, { from, event, to, fields: fields ?? fieldsOfView(cur) }),
        );
      }),

    editSeries: (calendarId, edit) => guard(() => series.edit(mustDoc(calendarId), edit)),

    restoreSeries: (calendarId, undo) => guard(() => series.restore(mustDoc(calendarId), undo)),

    seriesExceptions: (calendarId, seriesId) =>
      guard(async () => series.exceptions(mustDoc(calendarId), mustEvent(seriesId))),

    restoreOccurrence: (calendarId, seriesId, recurrenceId) =>
      guard(() => series.restoreOccurrence(mustDoc(calendarId), mustEvent(seriesId), recurrenceId)),

    restoreConflict: (calendarId, eventId, field, opId) =>
      guard(async () => {
        const doc = mustDoc(calendarId);
        const ent = mustEvent(eventId);
        const num = FIELD_NUMBERS.get(field);
        if (num === undefined)
          throw new EngineError('InvalidArgument', `unknown event field ${String(field)}`);
        const reg = replica.entity(doc, ent)?.registers.find((r) => r.field === num);
        const w = reg?.writes.find((x) => x.op === opId);
        if (w === undefined)
          throw new EngineError('InvalidArgument', `no write ${opId} in ${field} of event ${ent}`);
        // The same value written again is a new op: newest everywhere, so it wins (LWW-1).
        await replica.write(doc, ent, [{ field: num, value: w.value === null ? null : w.value.slice() }]);
      }),

    setCompliance: (calendarId, on) => guard(() => history.setCompliance(calendarId, on)),
    complianceHistory: (calendarId) => guard(() => history.complianceHistory(calendarId)),
    eventHistory: (calendarId, eventId, limit) =>
      guard(() => history.eventHistory(calendarId, eventId, limit)),
    olderHistory: (calendarId, entityId, field, beforeOpId, limit) =>
      guard(() => history.olderHistory(calendarId, entityId, field, beforeOpId, limit)),
    restoreFromHistory: (calendarId, entityId, field, opId) =>
      guard(() => history.restoreFromHistory(calendarId, entityId, field, opId)),

    search: (query, limit = 50) =>
      guard(async () => {
        const q = query.trim().toLowerCase();
        if (q === '') return [];
        const out: EventView[] = [];
        for (const view of [...[...index.values()].map((i) => i.view), ...series.seriesViews()]) {
          if (`${view.title}\n${view.location}\n${view.notes}`.toLowerCase().includes(q)) out.push(view);
        }
        return out.sort((a, b) => b.startMs - a.startMs).slice(0, Math.max(0, limit));
      }),

    syncStatus: () =>
      guard(async (): Promise<SyncStatus> => {
        if (opts.sync !== undefined) return lastSynced.apply(opts.sync.status());
        const pendingUploads = await store.countOutbox();
        return {
          state: 'offline',
          pendingUploads,
          lastSyncedAt: lastSynced.value,
          clockOffsetMs: null,
          detail: 'no relay connection',
        };
      }),

    onEvent(cb) {
      listeners.add(cb);
      // Problems found at start are shown by every tab that connects, not only the first.
      for (const error of brokenErrors) cb({ type: 'error', error });
      return () => listeners.delete(cb);
    },

    report: (error) => emit({ type: 'error', error }),

    close() {
      closed = true;
      my.close();
      opts.sync?.close();
      store.close();
    },
  };
}

function encode(type: NonNullable<ReturnType<typeof fieldType>>, value: unknown): Uint8Array {
  try {
    return encodeValue(type, value as string | boolean);
  } catch (e) {
    throw new EngineError('InvalidArgument', e instanceof Error ? e.message : String(e));
  }
}

const emptyEntity = (span: SpanRecord): EntityRecord => ({
  doc: span.doc,
  entity: span.entity,
  registers: [],
});

// ---- composition ----

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

const defaultRandom = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
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

function hostError(e: unknown): HostError {
  const err =
    e instanceof EngineError ? e : new EngineError('Storage', e instanceof Error ? e.message : String(e));
  return { code: err.code, message: err.message };
}

/** Every UTC instant a range can name: "re-read whatever you show". */
const EVERYTHING: Range = { fromMs: -8.64e15, toMs: 8.64e15 };

/**
 * The host while the replica loads: eventsInRange and listCalendars are answered from the store
 * (validated records, the same view code as the replica's index); every other call waits for the
 * replica, then everything goes to it. A calendar whose records fail validation is left out here;
 * the replica's load reports it ([RT-11]).
 */
function startingHost(store: IdbStore, full: Promise<EngineHost | Host>, startFull: () => void): Host {
  let ready: Host | undefined;
  let closed = false;
  const listeners = new Set<(e: HostEvent) => void>();
  const emit = (e: HostEvent) => {
    for (const cb of listeners) cb(e);
  };
  void full.then((h) => {
    ready = h;
    if (closed) {
      h.close();
      return;
    }
    h.onEvent(emit);
    // Early answers came from the span index: have every subscriber re-read from the replica.
    emit({ type: 'calendars' });
    emit({ type: 'events', intervals: [EVERYTHING] });
  });

  async function docsOk<T>(each: (doc: DocId) => Promise<T>): Promise<T[]> {
    const out: T[] = [];
    for (const doc of await store.listDocs()) {
      try {
        out.push(await each(doc));
      } catch {
        // Corrupt calendar: left out until the replica's load reports it.
      }
    }
    return out;
  }

  /**
   * A call only the replica answers starts its load, but not in the middle of a first range
   * answer: the load's key derivation and reads run on this same thread (~0.2 s before its first
   * pause, measured in Chromium) and the UI asks for its device and reminders in the same breath
   * as its first range. So such a call looks, once the calls already sent are in, whether a range
   * answer is under way; if one is, the load starts when it is out (eventsInRange starts it).
   */
  let rangesAnswering = 0;
  const needFull = () => {
    setTimeout(() => {
      if (rangesAnswering === 0) startFull();
    }, 0);
  };

  const later = new Map<string, EventView[] | 'pending'>();
  const early: Partial<Record<HostMethod, (...args: never[]) => Promise<unknown>>> = {
    eventsInRange: async (range: Range) => {
      // Anything unusual is the replica's to answer (the catch below hands it over).
      if (!Number.isFinite(range?.fromMs) || !Number.isFinite(range?.toMs)) throw new Error('not early');
      rangesAnswering++;
      let perDoc: EventView[][];
      try {
        perDoc = await docsOk(async (doc) => {
          const views: EventView[] = [];
          const repeating = new SeriesSet();
          for (const span of await store.spansNear(doc, range.fromMs, range.toMs)) {
            if (span.set !== undefined) {
              const { fields, entity, deleted, set } = span;
              repeating.put({ ...fields, id: entity, deleted: deleted === 1, set: new Set(set) });
              continue;
            }
            let v: EventView;
            if (span.conflicted) {
              // Conflict details live in the entity's registers: the few such events are read whole.
              const ev = eventFromRecord((await store.loadEntity(doc, span.entity)) ?? emptyEntity(span));
              if (ev.deleted) continue;
              v = toView(doc, ev);
            } else {
              v = viewOf(doc, span.entity, span.fields, []);
            }
            if (inRange(v, range)) views.push(v);
          }
          const direct = [...repeating.series.values()].every((s) => s.deleted || fastExpander(s).ok);
          if (repeating.size > 0 && direct) {
            // Every series here has a rule recur-fast.ts computes: drawn in this answer, without
            // loading the rule library ([RRULE-2]).
            views.push(...occurrenceViews(doc, repeating, fastExpander, range.fromMs, range.toMs));
          } else if (repeating.size > 0) {
            // The first paint does not wait for the rule library (it loads, then every series
            // expands): their occurrences follow as a change.
            const key = `${doc}|${range.fromMs}|${range.toMs}`;
            const got = later.get(key);
            if (Array.isArray(got)) views.push(...got);
            else if (got === undefined) {
              later.set(key, 'pending');
              void sharedExpander().then((x) => {
                later.set(key, occurrenceViews(doc, repeating, x, range.fromMs, range.toMs));
                if (!closed) emit({ type: 'events', intervals: [range] });
              });
            }
          }
          return views;
        });
      } finally {
        rangesAnswering--;
      }
      startFull();
      // A move a closed page left half done is completed by the replica's load ([RT-13]); until
      // then its source is not shown, so the event never appears twice.
      const moving = await MoveJournal.open(store).then(
        ({ journal }) => new Set(journal.list().map((m) => `${m.from}/${m.event}`)),
        () => new Set<string>(),
      );
      return perDoc
        .flat()
        .filter((v) => !moving.has(`${v.calendarId}/${v.id}`))
        .sort(byTime);
    },
    // The month grid from the same early answer (the first paint of a month view at cold start).
    monthLayout: async (request: MonthRequest) => {
      if (checkMonthRequest(request) !== undefined) throw new Error('not early');
      const range = monthRange(request);
      const views = await (early.eventsInRange as (r: Range) => Promise<EventView[]>)(range);
      return layoutViews(request, views);
    },
    // Until the replica (and any sync client) is up this device is not talking to a relay.
    syncStatus: async (): Promise<SyncStatus> => ({
      state: 'offline',
      pendingUploads: await store.countOutbox(),
      lastSyncedAt: (await LastSynced.open(store)).value,
      clockOffsetMs: null,
      detail: 'starting',
    }),
    listCalendars: async () => {
      const hidden = new Map((await store.listPrefs()).map((p) => [p.doc, p.hidden]));
      // Membership is not known before the replica loads: only calendars with their own entity
      // (always listed, see isListedCalendar) are shown early; the rest appear when it is ready.
      const out = await docsOk(async (doc): Promise<CalendarInfo | undefined> => {
        const rec = await store.loadEntity(doc, CALENDAR_ENTITY);
        return rec === undefined ? undefined : calendarInfoOf(doc, rec, hidden.get(doc) ?? false);
      });
      return out.filter((c) => c !== undefined);
    },
  };

  const api = hostApiOf((m) => async (...args: unknown[]) => {
    const early_ = early[m];
    if (early_ === undefined) needFull();
    const h = ready ?? (early_ === undefined ? await full : undefined);
    if (h !== undefined) return callHost(h, m, args);
    try {
      return await (early_ as (...a: unknown[]) => Promise<unknown>)(...args);
    } catch {
      // The early path is an optimisation: on any trouble the replica answers.
      startFull();
      return callHost(await full, m, args);
    }
  });

  return {
    ...api,
    onEvent(cb) {
      listeners.add(cb);
      // Problems found by the replica's load (corrupt calendars) reach late subscribers too.
      const off = ready?.onEvent(cb);
      if (off) listeners.delete(cb);
      return () => {
        listeners.delete(cb);
        off?.();
      };
    },
    close() {
      closed = true;
      if (ready) ready.close();
      else store.close();
    },
  };
}

/**
 * Device keys ([RT-4]). The Ed25519 signing key is generated by WebCrypto as non-extractable and
 * the CryptoKey object itself is stored (IndexedDB structured-clones CryptoKeys): page script,
 * including injected script, can use it while the app runs but can never read the key bytes
 * out. The X25519 box key stays raw bytes because the engine's sealed boxes use @noble/curves;
 * where WebCrypto lacks Ed25519 the signing key falls back to raw bytes as well.
 */
export async function loadOrCreateDevice(
  store: EngineStore,
  subtle: SubtleCrypto | undefined,
  random: (n: number) => Uint8Array,
): Promise<DeviceKeys> {
  let rec = await store.loadDevice();
  if (rec === undefined) {
    const boxSecret = random(32);
    const box = boxKeyPairFromSecret(boxSecret);
    let secret: unknown;
    let publicKey: Uint8Array;
    try {
      const pair = (await subtle!.generateKey({ name: 'Ed25519' }, false, [
        'sign',
        'verify',
      ])) as CryptoKeyPair;
      secret = pair.privateKey;
      publicKey = new Uint8Array(await subtle!.exportKey('raw', pair.publicKey));
    } catch {
      const sk = random(32);
      secret = sk;
      publicKey = createNobleSigner(sk).publicKey;
    }
    rec = { publicKey, secret, boxPublicKey: box.publicKey, boxSecret };
    await store.saveDevice(rec);
  }
  const box = rec.boxSecret instanceof Uint8Array ? boxKeyPairFromSecret(rec.boxSecret) : undefined;
  if (box === undefined)
    throw new EngineError('Storage', 'corrupt record in meta/device: box secret missing');
  const signer =
    rec.secret instanceof Uint8Array
      ? createNobleSigner(rec.secret)
      : createWebCryptoSigner(subtle as unknown as SubtleLike, rec.secret, rec.publicKey);
  return { signer, box };
}

/**
 * Loads every calendar once up front so one corrupt calendar does not stop the others from
 * opening ([RT-11]): broken ones are left out of listDocs and reported; the loaded state is
 * handed to the replica without a second read.
 */
function quarantine(store: EngineStore, broken: Map<DocId, EngineError>): EngineStore {
  const preloaded = new Map<DocId, Awaited<ReturnType<EngineStore['loadDoc']>>>();
  return {
    ...bindAll(store),
    async listDocs() {
      const docs = await store.listDocs();
      const ok: DocId[] = [];
      for (const doc of docs) {
        try {
          preloaded.set(doc, await store.loadDoc(doc));
          ok.push(doc);
        } catch (e) {
          broken.set(doc, e instanceof EngineError ? e : new EngineError('Storage', String(e)));
        }
      }
      return ok;
    },
    async loadDoc(doc) {
      if (preloaded.has(doc)) {
        const v = preloaded.get(doc);
        preloaded.delete(doc);
        return v;
      }
      return store.loadDoc(doc);
    },
  };
}

function bindAll(store: EngineStore): EngineStore {
  return {
    loadDevice: () => store.loadDevice(),
    saveDevice: (d) => store.saveDevice(d),
    loadClock: () => store.loadClock(),
    listDocs: () => store.listDocs(),
    loadDoc: (d) => store.loadDoc(d),
    getOps: (d, ids) => store.getOps(d, ids),
    getOpsByChain: (d, a, c) => store.getOpsByChain(d, a, c),
    listOps: (d, s, l) => store.listOps(d, s, l),
    commit: (b) => store.commit(b),
  };
}

/** A host for when storage is unusable: every call fails with the reason; nothing crashes. */
function unavailableHost(error: HostError): Host {
  const fail = async (): Promise<never> => {
    throw new EngineError('Storage', error.message.replace(/^Storage: /, ''));
  };
  return {
    ...hostApiOf(() => fail),
    setOnline: async () => {},
    syncStatus: async () => ({
      state: 'offline',
      pendingUploads: 0,
      lastSyncedAt: null,
      clockOffsetMs: null,
      detail: error.message,
    }),
    onEvent(cb) {
      cb({ type: 'error', error });
      return () => {};
    },
    close() {},
  };
}
