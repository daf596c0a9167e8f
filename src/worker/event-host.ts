// The host's event calls (part of createHost's API, engine-host.ts): an event's reads (a range,
// a month, one event, search) and writes (create, edit, delete, restore, move, a series' edits, a
// conflict's value restored, a reminder dismissed), over the host's index and series host; and
// `encode`, a value from the UI checked and encoded for its field type.

import {
  type DocId,
  EngineError,
  type EntityId,
  EventField,
  encodeValue,
  type fieldType,
  type NewWrite,
  type Replica,
  Role,
} from '../engine/index.ts';
import type { EventFields, EventView } from './api.ts';
import type { EventIndex } from './event-index.ts';
import type { Host } from './host-api.ts';
import { monthLayout } from './month-host.ts';
import { checkMonthRequest } from './month-layout.ts';
import { type MoveDeps, type MoveJournal, moveEvent } from './move.ts';
import type { SeriesHost } from './series-host.ts';
import { familyOf, rootSeries } from './series-move.ts';
import type { ViewerDismissals } from './viewer-dismissals.ts';
import { BASE_FIELDS, byTime, FIELD_NUMBERS } from './views.ts';

/** The editable fields of an event view, as the field table names them. */
function fieldsOfView(v: EventView): EventFields {
  return Object.fromEntries([...FIELD_NUMBERS.keys()].map((k) => [k, v[k]])) as unknown as EventFields;
}

/** What the event calls use of the host (createHost makes them). */
export interface EventHostDeps {
  replica: Replica;
  index: EventIndex;
  series: SeriesHost;
  viewerDismissals: ViewerDismissals;
  moveDeps: MoveDeps;
  journal: MoveJournal;
  guard: <T>(fn: () => Promise<T>) => Promise<T>;
  asOneChange: <T>(fn: () => Promise<T>) => Promise<T>;
  mustDoc: (calendarId: string) => DocId;
  mustEvent: (eventId: string) => EntityId;
  encodeFields: (entity: EntityId, fields: Partial<EventFields>) => NewWrite[];
}

export type EventHostApi = Pick<
  Host,
  | 'dismissReminder'
  | 'eventsInRange'
  | 'monthLayout'
  | 'getEvent'
  | 'createEvent'
  | 'updateEvent'
  | 'deleteEvent'
  | 'restoreEvent'
  | 'moveEvent'
  | 'editSeries'
  | 'restoreSeries'
  | 'seriesExceptions'
  | 'restoreOccurrence'
  | 'restoreConflict'
  | 'search'
>;

export function createEventHost(deps: EventHostDeps): EventHostApi {
  const {
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
  } = deps;
  return {
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
  };
}

export function encode(type: NonNullable<ReturnType<typeof fieldType>>, value: unknown): Uint8Array {
  try {
    return encodeValue(type, value as string | boolean);
  } catch (e) {
    throw new EngineError('InvalidArgument', e instanceof Error ? e.message : String(e));
  }
}
