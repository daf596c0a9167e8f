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
