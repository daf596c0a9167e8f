// EventView construction, shared by the replica's index, the span index and series occurrences:
// field names and numbers come from the engine's field table (one definition).

import {
  type CalendarEvent,
  type DocId,
  EDITABLE_FIELDS,
  EventField,
  type EventValues,
  fieldName,
  type WriteInfo,
} from '../engine/index.ts';
import type { EventFieldName, EventView, FieldConflict, Range, RegisterWrite } from './api.ts';
import { eventSpanMs } from './time.ts';

/** Field numbers of the fields the UI edits, from the engine's field table. */
export const FIELD_NUMBERS = new Map<EventFieldName, number>(
  EDITABLE_FIELDS.map((f) => [fieldName(f) as EventFieldName, f.num]),
);
export const FIELD_NAMES = new Map<number, EventFieldName>([...FIELD_NUMBERS].map(([k, v]) => [v, k]));
/** Fields a new event must give: every field of schema version 1. */
export const BASE_FIELDS = EDITABLE_FIELDS.filter((f) => f.since === 1).map(
  (f) => fieldName(f) as EventFieldName,
);

function toWrite(w: WriteInfo): RegisterWrite {
  return { value: w.value, device: w.author, wallTime: w.wallTime, opId: w.op };
}

export function inRange(v: EventView, r: Range): boolean {
  return v.startMs < r.toMs && (v.endMs > r.fromMs || (v.endMs <= v.startMs && v.startMs >= r.fromMs));
}

export const byTime = (a: EventView, b: EventView): number =>
  a.startMs - b.startMs || a.endMs - b.endMs || (a.id < b.id ? -1 : 1);

const byEndThenId = (a: EventView, b: EventView): number => a.endMs - b.endMs || (a.id < b.id ? -1 : 1);

/**
 * Sorts views in place in byTime order (the same order: start, end, id). A month's views share
 * few start instants (series start on the hour: 7,853 views of the bench month have ~800), so
 * one sort with byTime makes ~100,000 comparator calls, most down to the ids (~3.5 ms of a month
 * draw in Chromium, measured). Here the starts are ordered by a native numeric sort of keys
 * `(start - min) * n + index` (exact integers while they stay below 2^53), and only each group of
 * equal starts is ordered by end and id. Starts that are not integers, or too spread out for
 * exact keys, fall back to the comparator.
 */
export function sortByTime(views: EventView[]): EventView[] {
  const n = views.length;
  if (n < 64) return views.sort(byTime);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const s = views[i]!.startMs;
    if (!Number.isInteger(s)) return views.sort(byTime);
    if (s < min) min = s;
    if (s > max) max = s;
  }
  if (!((max - min + 1) * n <= Number.MAX_SAFE_INTEGER)) return views.sort(byTime);
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (views[i]!.startMs - min) * n + i;
  keys.sort();
  const src = views.slice();
  let lo = 0;
  while (lo < n) {
    // One group of equal starts: views[lo, hi), ordered by end and id.
    const first = src[keys[lo]! % n]!;
    views[lo] = first;
    let hi = lo + 1;
    for (; hi < n; hi++) {
      const v = src[keys[hi]! % n]!;
      if (v.startMs !== first.startMs) break;
      views[hi] = v;
    }
    if (hi - lo > 1) sortGroup(views, lo, hi);
    lo = hi;
  }
  return views;
}

/** Orders views[lo, hi) (equal starts) by end, then id: insertion for a few, else Array sort. */
function sortGroup(views: EventView[], lo: number, hi: number): void {
  if (hi - lo > 24) {
    const part = views.slice(lo, hi).sort(byEndThenId);
    for (let i = lo; i < hi; i++) views[i] = part[i - lo]!;
    return;
  }
  for (let i = lo + 1; i < hi; i++) {
    const v = views[i]!;
    let k = i;
    // byEndThenId(views[k - 1], v) > 0, inline (a first draw runs this from cold).
    for (; k > lo; k--) {
      const p = views[k - 1]!;
      const d = p.endMs - v.endMs;
      if (!(d > 0 || (!d && !(p.id < v.id)))) break;
      views[k] = p;
    }
    views[k] = v;
  }
}

export function conflictsOf(ev: Pick<CalendarEvent, 'conflicts'>): FieldConflict[] {
  const conflicts: FieldConflict[] = [];
  for (const [num, writes] of ev.conflicts) {
    const field = FIELD_NAMES.get(num);
    if (field === undefined || writes.length < 2) continue;
    conflicts.push({ field, winner: toWrite(writes[0]!), losers: writes.slice(1).map(toWrite) });
  }
  return conflicts;
}

export function toView(doc: DocId, ev: CalendarEvent): EventView {
  const view = viewOf(doc, ev.id, ev, conflictsOf(ev));
  const dismissed = dismissedUntilMs(ev);
  if (dismissed > 0) view.dismissedUntilMs = dismissed;
  return view;
}

/** REM-3: the latest of the DismissedUntil register's writes (winner and concurrent ones), UTC ms. */
export function dismissedUntilMs(ev: Pick<CalendarEvent, 'dismissedUntil' | 'conflicts'>): number {
  const values = [
    ev.dismissedUntil,
    ...(ev.conflicts.get(EventField.DismissedUntil) ?? []).map((w) => w.value),
  ];
  let max = 0;
  for (const v of values) {
    if (typeof v !== 'string' || v === '') continue;
    const ms = Date.parse(`${v.length === 10 ? `${v}T00:00` : v}Z`);
    if (Number.isFinite(ms) && ms > max) max = ms;
  }
  return max;
}

/** The one place an EventView is built, from the replica's entity or a stored span alike. */
export function viewOf(
  doc: DocId,
  id: string,
  ev: Omit<EventValues, 'deleted'>,
  conflicts: FieldConflict[],
  span?: { startMs: number; endMs: number },
): EventView {
  const { startMs, endMs } = span ?? eventSpanMs(ev.start, ev.end, ev.timeZone);
  const view: Record<string, unknown> = { id, calendarId: doc, startMs, endMs, conflicts };
  for (const name of FIELD_NUMBERS.keys()) view[name] = ev[name];
  return view as unknown as EventView;
}
