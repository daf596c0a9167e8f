// The engine host over a loaded replica: the host API (createHost) and the views the UI asks for
// (calendars, events by UTC range, search) kept as an in-memory index that is built from
// materialized entities at start ([RT-10]: never by replaying the op log) and updated from the
// replica's change events. host.ts opens what it needs (store, device keys, crypto, Replica);
// the event calls are event-host.ts's.

import {
  CALENDAR_ENTITY,
  CalendarField,
  type ChangeEvent,
  calendarFromRecord,
  type DocId,
  EngineError,
  type EntityId,
  type EntityRecord,
  eventFromRecord,
  fieldType,
  isDocId,
  isEntityId,
  type NewWrite,
  type Replica,
  roleName,
} from '../engine/index.ts';
import type { CalendarInfo, EventFieldName, EventFields, HostError, Range, SyncStatus } from './api.ts';
import { createDeviceApi, isListedCalendar } from './devices.ts';
import { createEventHost, encode } from './event-host.ts';
import { EventIndex } from './event-index.ts';
import { createHistoryApi } from './history-host.ts';
import type { Host, HostEvent } from './host-api.ts';
import type { IdbStore } from './idb-store.ts';
import { createImportApi } from './import.ts';
import { LastSynced } from './last-synced.ts';
import { MoveJournal, recoverMoves } from './move.ts';
import { createMyDevices } from './my-devices.ts';
import { createRecoveryApi } from './recovery.ts';
import { reminderOccurrences } from './reminders.ts';
import { createSeriesHost } from './series-host.ts';
import { completeSeriesMove } from './series-move.ts';
import type { SyncHost } from './sync-host.ts';
import { ViewerDismissals } from './viewer-dismissals.ts';
import { FIELD_NUMBERS, toView } from './views.ts';

/** A calendar as the UI sees it, from its calendar entity (loaded replica or store alike). */
export function calendarInfoOf(
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
  const events = createEventHost({
    replica,
    index,
    series,
    viewerDismissals,
    moveDeps,
    journal,
    guard,
    asOneChange,
    mustDoc,
    mustEvent,
    encodeFields,
  });

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

    ...events,

    setCompliance: (calendarId, on) => guard(() => history.setCompliance(calendarId, on)),
    complianceHistory: (calendarId) => guard(() => history.complianceHistory(calendarId)),
    eventHistory: (calendarId, eventId, limit) =>
      guard(() => history.eventHistory(calendarId, eventId, limit)),
    olderHistory: (calendarId, entityId, field, beforeOpId, limit) =>
      guard(() => history.olderHistory(calendarId, entityId, field, beforeOpId, limit)),
    restoreFromHistory: (calendarId, entityId, field, opId) =>
      guard(() => history.restoreFromHistory(calendarId, entityId, field, opId)),

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

export const defaultRandom = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

/** Every UTC instant a range can name: "re-read whatever you show". */
export const EVERYTHING: Range = { fromMs: -8.64e15, toMs: 8.64e15 };
