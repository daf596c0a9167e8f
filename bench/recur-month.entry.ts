// Bench-only page: drawing a month in Chromium. appSetup/appDraw time it as the app does it: the
// app's own client and worker on the seeded store, from the month view's request to the rows it
// renders, through the host's layout (monthLayout) or the list path before it (every event to the
// page). monthExpand reads the seeded calendar itself, indexes it as the engine host does and
// draws the month after next at the data level (single events and every occurrence of every
// series through the host's drawOccurrences, sorted), first with rrule-temporal alone, then with
// the direct expansion (RRULE-2): the library figure.

import { eventFromRecord } from '../src/engine/index.ts';
import { monthRows } from '../src/ui/components/MonthView.tsx';
import { toTimed } from '../src/ui/model.ts';
import { hiddenPerColumn, laneRow } from '../src/ui/time/layout.ts';
import { fetchRange, monthWeeks } from '../src/ui/time/nav.ts';
import type { CalendarClient, CalendarInfo, EventView, MonthRequest } from '../src/worker/api.ts';
import { createCalendarClient } from '../src/worker/client.ts';
import { EventIndex } from '../src/worker/event-index.ts';
import { startEngineHost } from '../src/worker/host.ts';
import type { Host } from '../src/worker/host-api.ts';
import { openIdbStore } from '../src/worker/idb-store.ts';
import { SeriesSet } from '../src/worker/occurrences.ts';
import { cachedExpander, loadExpander } from '../src/worker/recur.ts';
import {
  drawOccurrences,
  fastExpander,
  type ShownOccurrences,
  sharedExpander,
} from '../src/worker/series-host.ts';
import { byTime, toView } from '../src/worker/views.ts';

declare global {
  interface Window {
    monthExpand: (month: string, dbName?: string) => Promise<Record<string, number>>;
    /** Starts the app's own client and worker on the seeded store and waits for its replica. */
    appSetup: (month: string) => Promise<void>;
    /**
     * Draws month k after the set-up month the way the app does, from the request to the data
     * the month view renders; its wall-clock ms. 'grid': the host's layout (monthLayout) and the
     * rows made of it (MonthView.tsx monthRows); 'list': the path before it, every event of the
     * range (eventsInRange), their times (toTimed), lanes per week (laneRow) and "+N more"
     * counts (hiddenPerColumn), as App.tsx and MonthView.tsx did.
     */
    appDraw: (k: number, path: 'grid' | 'list') => Promise<{ ms: number; shown: number; events: number }>;
    /**
     * The same 'grid' draw with the engine host started in this page instead of a worker (the
     * bench reads this thread's CPU time around each draw; a worker's is not exposed to it): the
     * host's monthLayout and the view's rows, without the hop to the worker.
     */
    hostSetup: (month: string) => Promise<void>;
    hostDraw: (k: number) => Promise<number>;
  }
}

let app: { client: CalendarClient; calendars: CalendarInfo[]; month: string; zone: string } | undefined;

window.appSetup = async (month) => {
  const client = await createCalendarClient();
  // A call only the replica answers: resolves once the full host (replica, index, series) is up.
  await client.thisDevice();
  const calendars = await client.listCalendars();
  // The load's trailing work (the rule library, storage checks) settles before anything is timed.
  await new Promise((r) => setTimeout(r, 500));
  app = { client, calendars, month, zone: Intl.DateTimeFormat().resolvedOptions().timeZone };
};

let inPage: { host: Host; calendars: CalendarInfo[]; month: string; zone: string } | undefined;

window.hostSetup = async (month) => {
  const host = await startEngineHost({ name: 'ledgerday' });
  await host.thisDevice();
  const calendars = await host.listCalendars();
  await new Promise((r) => setTimeout(r, 500));
  inPage = { host, calendars, month, zone: Intl.DateTimeFormat().resolvedOptions().timeZone };
};

window.hostDraw = async (k) => {
  const { host, calendars, month, zone } = inPage!;
  const weeks = monthWeeks(monthDate(month, k), 1);
  const t = performance.now();
  const layout = await host.monthLayout(monthRequest(weeks, zone));
  monthRows(layout, weeks, calendars, zone);
  return performance.now() - t;
};

/** A day in month k after `month` ("YYYY-MM"). */
function monthDate(month: string, k: number): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(y, m - 1 + k, 15)).toISOString().slice(0, 10);
}

/** The lanes a 1280x900 window's week row fits before the view measures it (the app's default). */
const LANES = 4;

/** The month view's request for `weeks` in `zone`: nothing hidden, nothing being moved. */
const monthRequest = (weeks: string[][], zone: string): MonthRequest => ({
  firstDay: weeks[0]![0]!,
  weeks: weeks.length,
  zone,
  lanes: LANES,
  hidden: [],
  moved: [],
});

window.appDraw = async (k, path) => {
  const { client, calendars, month, zone } = app!;
  const weeks = monthWeeks(monthDate(month, k), 1);
  const t = performance.now();
  if (path === 'grid') {
    const layout = await client.monthLayout(monthRequest(weeks, zone));
    const rows = monthRows(layout, weeks, calendars, zone);
    const ms = performance.now() - t;
    return { ms, shown: rows.reduce((n, r) => n + r.segs.length, 0), events: layout.events };
  }
  const events = await client.eventsInRange(fetchRange(weeks.flat(), zone));
  const timed = toTimed(events, calendars, zone);
  let shown = 0;
  for (const w of weeks) {
    const segs = laneRow(timed, w);
    const maxLane = segs.reduce((n, s) => Math.max(n, s.lane), -1);
    const lanes = maxLane < LANES ? LANES : Math.max(1, LANES - 1);
    hiddenPerColumn(segs, 7, lanes);
    shown += segs.filter((s) => s.lane < lanes).length;
  }
  return { ms: performance.now() - t, shown, events: events.length };
};

window.monthExpand = async (month, dbName = 'ledgerday') => {
  const { set, doc, singles, indexMs, libMs, draw, range, expand } = await setup(month, dbName);
  const cold = draw(0);
  const warm = draw(0);
  const next = draw(1);
  // The same first draw with every rule through rrule-temporal (RRULE-2 off), in the same page:
  // the machine is shared and noisy, so the ratio of the two is the figure to compare.
  const lib = cachedExpander(await loadExpander({ fast: false }));
  const r = range(2);
  const tl = performance.now();
  const libOut: EventView[] = [];
  singles.inRange(r, libOut);
  drawOccurrences(doc, set, lib, r.fromMs, r.toMs, new Map(), libOut);
  libOut.sort(byTime);
  const libDrawMs = performance.now() - tl;
  const tf = performance.now();
  const fastOut: EventView[] = [];
  singles.inRange(r, fastOut);
  drawOccurrences(doc, set, expand, r.fromMs, r.toMs, new Map(), fastOut);
  fastOut.sort(byTime);
  const fastMs = performance.now() - tf;
  return {
    series: set.series.size,
    singles: singles.size,
    month_events: cold.n,
    series_index_ms: Math.round(indexMs * 10) / 10,
    library_load_ms: Math.round(libMs * 10) / 10,
    cold_ms: Math.round(cold.ms * 10) / 10,
    warm_ms: Math.round(warm.ms * 10) / 10,
    next_month_ms: Math.round(next.ms * 10) / 10,
    // Two months ahead, first draw: library only, then direct expansion (same page, same data).
    library_first_draw_ms: Math.round(libDrawMs * 10) / 10,
    direct_first_draw_ms: Math.round(fastMs * 10) / 10,
    same_events: libOut.length === fastOut.length ? 1 : 0,
  };
};

/** Loads and indexes the calendar as the host does; draw(k) answers month k after `month`. */
async function setup(month: string, dbName: string) {
  const idb = await openIdbStore({ name: dbName });
  const [doc] = await idb.listDocs();
  const loaded = (await idb.loadDoc(doc!))!;
  idb.close();
  // Single events indexed as the host indexes them (event-index.ts, by start day).
  const singles = new EventIndex();
  const set = new SeriesSet();
  for (const rec of loaded.entities) {
    const ev = eventFromRecord(rec);
    if (!set.put(ev) && !ev.deleted && rec.entity !== '0'.repeat(32))
      singles.set(`${doc}/${rec.entity}`, { doc: doc!, view: toView(doc!, ev) });
  }
  // As the host files each series (series-host.ts reindex): its direct expansion is set up then,
  // at load, not on the first draw; timed here on its own (series_index_ms).
  const tIndex = performance.now();
  let direct = true;
  for (const s of set.series.values()) if (!s.deleted && !fastExpander(s).ok) direct = false;
  const indexMs = performance.now() - tIndex;
  const tLoad = performance.now();
  const library = await sharedExpander();
  const libMs = performance.now() - tLoad;
  // The expander the host draws with (series-host.ts pick): direct when every series allows it.
  const expand = direct ? fastExpander : library;
  const [y, m] = month.split('-').map(Number) as [number, number];
  const range = (k: number) => ({
    fromMs: Date.UTC(y, m - 1 + k, 1) - 7 * 86_400_000,
    toMs: Date.UTC(y, m + k, 1) + 7 * 86_400_000,
  });
  // The host's record of shown occurrences lives as long as the host: one for every draw here.
  const shown: ShownOccurrences = new Map();
  const draw = (k: number) => {
    const r = range(k);
    const t = performance.now();
    const out: EventView[] = [];
    singles.inRange(r, out);
    drawOccurrences(doc!, set, expand, r.fromMs, r.toMs, shown, out);
    out.sort(byTime);
    return { ms: performance.now() - t, n: out.length };
  };
  return { set, doc: doc!, singles, indexMs, libMs, draw, range, expand };
}
