// Occurrences with reminders, for the page's reminder loop (docs/PROTOCOL.md REM-*): every event
// and every occurrence of a series (expanded in its zone, with its overrides: SER-2..4) starting
// in a range, with its alarms resolved (its own, an override's own, else the calendar's default)
// and how far its reminders were dismissed (REM-3, kept on the series entity).

import {
  CALENDAR_ENTITY,
  type CalendarEvent,
  calendarFromRecord,
  type DocId,
  EventField,
  eventFromRecord,
  type Replica,
} from '../engine/index.ts';
import type { ReminderOccurrence } from './api.ts';
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
    const events = new Map<string, CalendarEvent>();
    const overrides = new Map<string, CalendarEvent>();
    for (const rec of replica.entities(doc)) {
      if (rec.entity === CALENDAR_ENTITY) continue;
      const ev = eventFromRecord(rec);
      if (ev.overrideOf !== '' && ev.recurrenceId !== '')
        overrides.set(`${ev.overrideOf}/${ev.recurrenceId}`, ev);
      else if (!ev.deleted) events.set(ev.id, ev);
    }
    for (const ev of events.values()) {
      const alarms = ev.alarms ?? defaults;
      const dismissed = dismissedUntilMs(ev);
      const base = { calendarId: doc, eventId: ev.id, dismissedUntilMs: dismissed };
      const one = (o: CalendarEvent | undefined, start: string, startMs: number) => {
        const a = o?.set.has(EventField.Alarms) ? (o.alarms ?? defaults) : alarms;
        if (a.length === 0 || startMs < fromMs || startMs >= toMs) return;
        const own = (f: number, v: string) => (o?.set.has(f) ? v : undefined);
        out.push({
          ...base,
          title: (o && own(EventField.Title, o.title)) ?? ev.title,
          location: (o && own(EventField.Location, o.location)) ?? ev.location,
          startMs,
          allDay: ev.allDay,
          startDate: start.slice(0, 10),
          alarms: a,
        });
      };
      if (ev.rrule === '' && ev.rdates.length === 0) {
        const ms = wallToUtcMs(ev.start, ev.timeZone);
        if (ms !== undefined) one(undefined, ev.start, ms);
        continue;
      }
      if (alarms.length === 0 && ![...overrides.keys()].some((k) => k.startsWith(`${ev.id}/`))) continue;
      expander ??= loadExpander();
      const x = (await expander)({
        start: ev.start,
        end: ev.end,
        allDay: ev.allDay,
        timeZone: ev.timeZone,
        rrule: ev.rrule,
        rdates: ev.rdates,
        exdates: ev.exdates,
      });
      // All-day reminders may fire up to a day before the range's first midnight: widen by a day.
      for (const o of x.between(fromMs - 86_400_000, toMs)) {
        const ov = overrides.get(`${ev.id}/${o.recurrenceId}`);
        if (ov?.deleted) continue;
        const start = ov?.set.has(EventField.Start) ? ov.start : o.start;
        const zone = ov?.set.has(EventField.TimeZone) ? ov.timeZone : ev.timeZone;
        const ms = ov?.set.has(EventField.Start) ? wallToUtcMs(ov.start, zone) : o.startMs;
        if (ms !== undefined) one(ov, start, ms);
      }
    }
  }
  return out;
}
