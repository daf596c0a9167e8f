// The starting host ([RT-12], stage one of startEngineHost in host.ts): while the replica loads it
// answers the reads a first paint needs (calendars, events of a range, the month grid, the sync
// status) from IndexedDB through the span index, and hands every other call to the replica.

import { CALENDAR_ENTITY, type DocId, type EntityRecord, eventFromRecord } from '../engine/index.ts';
import type { CalendarInfo, EventView, MonthRequest, Range, SyncStatus } from './api.ts';
import { calendarInfoOf, type EngineHost, EVERYTHING } from './engine-host.ts';
import { callHost, type Host, type HostEvent, type HostMethod, hostApiOf } from './host-api.ts';
import type { IdbStore, SpanRecord } from './idb-store.ts';
import { LastSynced } from './last-synced.ts';
import { checkMonthRequest, layoutViews, monthRange } from './month-layout.ts';
import { MoveJournal } from './move.ts';
import { SeriesSet } from './occurrences.ts';
import { fastExpander, occurrenceViews, sharedExpander } from './series-host.ts';
import { byTime, inRange, toView, viewOf } from './views.ts';

const emptyEntity = (span: SpanRecord): EntityRecord => ({
  doc: span.doc,
  entity: span.entity,
  registers: [],
});

/**
 * The host while the replica loads: eventsInRange and listCalendars are answered from the store
 * (validated records, the same view code as the replica's index); every other call waits for the
 * replica, then everything goes to it. A calendar whose records fail validation is left out here;
 * the replica's load reports it ([RT-11]).
 */
export function startingHost(store: IdbStore, full: Promise<EngineHost | Host>, startFull: () => void): Host {
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
