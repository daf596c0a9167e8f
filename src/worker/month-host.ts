// The host's month answer (monthLayout): single events from the span index and every series'
// occurrences go into one MonthGrid (month-layout.ts) as they are; only the bars it shows become
// views (and get ids), and those are recorded so an edit by a shown id finds its occurrence.

import type { DocId } from '../engine/index.ts';
import type { EventView } from './api.ts';
import type { EventIndex } from './event-index.ts';
import {
  addView,
  MonthGrid,
  type MonthLayout,
  type MonthRequest,
  type MovedEvent,
  movedView,
} from './month-layout.ts';
import type { Entity } from './occurrences.ts';
import type { Occurrence } from './recur.ts';
import { drawnView, type SeriesHost } from './series-host.ts';

/** The series of occurrences added without a view (one per series, not per occurrence). */
interface Of {
  doc: DocId;
  s: Entity;
}
/** A view, or an occurrence without an override (its series in `aux`). */
type Ref = EventView | Occurrence;

const refs = {
  viewOf: (r: Ref, aux: unknown) =>
    aux === undefined ? (r as EventView) : drawnView((aux as Of).doc, (aux as Of).s, r as Occurrence),
};

export async function monthLayout(
  req: MonthRequest,
  index: EventIndex,
  series: SeriesHost,
): Promise<MonthLayout> {
  const grid = new MonthGrid<Ref>(req, refs);
  const hidden = new Set(req.hidden);
  // Optimistic moves: single events by key; occurrences by (series, original start).
  const movedSingles = new Map<string, MovedEvent>();
  const movedOcc = new Map<string, MovedEvent>();
  const movedSeries = new Set<string>();
  for (const m of req.moved) {
    const occ = series.occurrenceOf(m.calendarId as DocId, m.id);
    if (occ === undefined) movedSingles.set(`${m.calendarId}/${m.id}`, m);
    else {
      movedOcc.set(`${m.calendarId}|${occ.seriesId}|${occ.recurrenceId}`, m);
      movedSeries.add(`${m.calendarId}|${occ.seriesId}`);
    }
  }
  const singles: EventView[] = [];
  index.inRange(grid.range, singles);
  const anyMoved = movedSingles.size > 0;
  for (let i = 0; i < singles.length; i++) {
    const v = singles[i]!;
    if (!hidden.has(v.calendarId) && !(anyMoved && movedSingles.has(`${v.calendarId}/${v.id}`)))
      addView(grid, v);
  }
  const confirmed: string[] = [];
  /** The view at its moved times; the move is confirmed once the stored times are those. */
  const moveTo = (v: EventView, m: MovedEvent) => {
    if (v.start === m.start && v.end === m.end) confirmed.push(`${m.calendarId}/${m.id}`);
    return movedView(v, m);
  };
  for (const [key, m] of movedSingles) {
    const v = index.get(key)?.view;
    if (v !== undefined && !hidden.has(v.calendarId)) addView(grid, moveTo(v, m));
  }
  const movedAs = (doc: DocId, seriesId: string, r: string) =>
    movedSeries.size > 0 && movedSeries.has(`${doc}|${seriesId}`)
      ? movedOcc.get(`${doc}|${seriesId}|${r}`)
      : undefined;
  let of: Of | undefined;
  const plain = (doc: DocId, s: Entity, o: Occurrence) => {
    if (of === undefined || of.s !== s || of.doc !== doc) {
      if (hidden.has(doc)) return;
      of = { doc, s };
    }
    const m = movedAs(doc, s.id, o.recurrenceId);
    if (m !== undefined) addView(grid, moveTo(drawnView(doc, s, o), m));
    // (The grid reads the end's text of all-day ones only: a timed one's is made when shown.)
    else grid.add(o, of, s.allDay, o.start, s.allDay ? o.end : '', o.startMs, o.endMs, s.id, o.recurrenceId);
  };
  await series.visit(
    grid.range,
    plain,
    (doc, v) => {
      if (hidden.has(doc)) return;
      const m = v.occurrence && movedAs(doc, v.occurrence.seriesId, v.occurrence.recurrenceId);
      addView(grid, m === undefined ? v : moveTo(v, m));
    },
    // A series none of whose occurrences is being moved: all of them at once.
    (doc, s, list, n) => {
      if (movedSeries.size > 0 && movedSeries.has(`${doc}|${s.id}`)) {
        for (let i = 0; i < n; i++) plain(doc, s, list[i]!);
        return;
      }
      if (hidden.has(doc)) return;
      if (of === undefined || of.s !== s || of.doc !== doc) of = { doc, s };
      grid.addRun(list, n, of, s.allDay, s.id);
    },
  );
  const out = { ...grid.layout(), confirmed };
  // The shown occurrences' ids, for edits by id (occurrenceOf), per calendar.
  const byDoc = new Map<DocId, EventView[]>();
  for (const w of out.weeks)
    for (const b of w.bars)
      if (b.view.occurrence !== undefined) {
        const doc = b.view.calendarId as DocId;
        const list = byDoc.get(doc) ?? [];
        list.push(b.view);
        byDoc.set(doc, list);
      }
  for (const [doc, views] of byDoc) series.record(doc, views);
  return out;
}
