// Occurrences with reminders, for the page's reminder loop (docs/PROTOCOL.md REM-*): every event
// and every occurrence of a series (assembled as the calendar draws them: occurrences.ts, SER-1..7)
// starting in a range, with its alarms resolved (its own, an override's own, else the calendar's
// default) and how far its reminders were dismissed (REM-3, kept on the series entity).

import {
  CALENDAR_ENTITY,
  type CalendarEvent,
  calendarFromRecord,
  type DocId,
  eventFromRecord,
  type Replica,
} from '../engine/index.ts';
import type { ReminderOccurrence } from './api.ts';
import { assemble, SeriesSet } from './occurrences.ts';
import { type Expander, loadExpander } from './recur.ts';
import { wallToUtcMs } from './time.ts';
import { dismissedUntilMs } from './views.ts';

export { dismissedUntilMs };

let expander: Promise<Expander> | undefined;

export async function reminderOccurrences(
  replica: Replica,
  docs: readonly DocId[],
  fromMs: number,
  toMs: number,
): Promise<ReminderOccurrence[]> {
  const out: ReminderOccurrence[] = [];
  for (const doc of docs) {
    const defaults = calendarFromRecord(replica.entity(doc, CALENDAR_ENTITY)).defaultAlarms;
    const set = new SeriesSet();
    const all = new Map<string, CalendarEvent>();
    for (const rec of replica.entities(doc)) {
      if (rec.entity === CALENDAR_ENTITY) continue;
      const ev = eventFromRecord(rec);
      all.set(ev.id, ev);
      if (!set.put(ev) && !ev.deleted) {
        // A single event.
        const ms = wallToUtcMs(ev.start, ev.timeZone);
        if (ms !== undefined) push(out, doc, ev, ev.id, ev.start, ms, ev.alarms ?? defaults, fromMs, toMs);
      }
    }
    if (set.size === 0) continue;
    expander ??= loadExpander();
    const expand = await expander;
    // The same assembly the calendar draws with (SER-1..7): splits end their parent, overrides
    // move, rename or cancel one occurrence, detached ones are still shown.
    for (const o of assemble(set, expand, fromMs - 86_400_000, toMs)) {
      const series = all.get(o.seriesId);
      if (series === undefined) continue;
      const alarms = o.fields.alarms ?? defaults;
      push(out, doc, { ...series, ...o.fields }, series.id, o.fields.start, o.startMs, alarms, fromMs, toMs);
    }
  }
  return out.sort((a, b) => a.startMs - b.startMs || (a.eventId < b.eventId ? -1 : 1));
}

function push(
  out: ReminderOccurrence[],
  doc: DocId,
  ev: CalendarEvent,
  dismissOn: string,
  start: string,
  startMs: number,
  alarms: number[],
  fromMs: number,
  toMs: number,
): void {
  if (alarms.length === 0 || startMs < fromMs || startMs >= toMs) return;
  out.push({
    calendarId: doc,
    // Dismissals are kept on the series (REM-3): one register for all its occurrences.
    eventId: dismissOn,
    title: ev.title,
    location: ev.location,
    startMs,
    allDay: ev.allDay,
    startDate: start.slice(0, 10),
    alarms,
    dismissedUntilMs: dismissedUntilMs(ev),
  });
}
