// Two independent ways to list a file's occurrences, for checking the importer: ical.js's own
// RecurExpansion over the raw file (its VTIMEZONEs, its parser), and rrule-temporal (the app's
// expansion library) over the imported model. Neither shares code with the importer's conversion.

import ICAL from 'ical.js';
import { RRuleTemporal } from 'rrule-temporal';
import { Temporal } from 'temporal-polyfill';
import type { IcsCalendar, IcsEvent } from './model.ts';

/** One occurrence: start and end as UTC instants ("...Z"), or dates for all-day events. */
export interface Occ {
  start: string;
  end: string;
  title: string;
}

const key = (o: Occ) => `${o.start}|${o.end}|${o.title}`;
export const sortOccs = (os: Occ[]): Occ[] => [...os].sort((a, b) => (key(a) < key(b) ? -1 : 1));

function instant(t: ICAL.Time, floatingZone: string): string {
  if (t.isDate) return t.toString().slice(0, 10);
  if (t.zone === ICAL.Timezone.localTimezone || t.zone === undefined || t.zone === null) {
    const wall = Temporal.PlainDateTime.from({
      year: t.year,
      month: t.month,
      day: t.day,
      hour: t.hour,
      minute: t.minute,
      second: t.second,
    });
    return wall.toZonedDateTime(floatingZone).toInstant().toString();
  }
  return Temporal.Instant.fromEpochMilliseconds(t.toUnixTime() * 1000).toString();
}

/** Occurrences starting before `until` (a date), by ical.js; cancelled occurrences left out. */
export function icalOccurrences(text: string, floatingZone: string, until: string): Occ[] {
  const root = new ICAL.Component(ICAL.parse(text));
  for (const vtz of root.getAllSubcomponents('vtimezone')) ICAL.TimezoneService.register(vtz);
  const limit = ICAL.Time.fromDateString(until);
  const byUid = new Map<string, ICAL.Component[]>();
  for (const ve of root.getAllSubcomponents('vevent')) {
    const uid = String(ve.getFirstPropertyValue('uid'));
    byUid.set(uid, [...(byUid.get(uid) ?? []), ve]);
  }
  const out: Occ[] = [];
  const cancelled = (c: ICAL.Component) => String(c.getFirstPropertyValue('status') ?? '') === 'CANCELLED';
  for (const comps of byUid.values()) {
    const master = comps.find((c) => !c.hasProperty('recurrence-id'));
    const exceptions = comps.filter((c) => c.hasProperty('recurrence-id'));
    if (master === undefined) continue;
    const ev = new ICAL.Event(master, { exceptions });
    if (!ev.isRecurring()) {
      if (!cancelled(master))
        out.push({
          start: instant(ev.startDate, floatingZone),
          end: instant(ev.endDate, floatingZone),
          title: ev.summary,
        });
      continue;
    }
    const it = ev.iterator();
    for (let n = 0, t = it.next(); t && n < 5000; n++, t = it.next()) {
      if (t.compare(limit) >= 0) break;
      const d = ev.getOccurrenceDetails(t);
      if (cancelled(d.item.component)) continue;
      out.push({
        start: instant(d.startDate, floatingZone),
        end: instant(d.endDate, floatingZone),
        title: d.item.summary,
      });
    }
  }
  return sortOccs(out);
}

type Wall = Temporal.PlainDateTime | Temporal.PlainDate;
const wallOf = (s: string): Wall =>
  s.length === 10 ? Temporal.PlainDate.from(s) : Temporal.PlainDateTime.from(s);

function occ(ev: IcsEvent, start: Wall): Occ {
  const s0 = wallOf(ev.start);
  if (start instanceof Temporal.PlainDate) {
    const days = (s0 as Temporal.PlainDate).until(wallOf(ev.end) as Temporal.PlainDate).days;
    return { start: start.toString(), end: start.add({ days }).toString(), title: ev.title };
  }
  const zs = start.toZonedDateTime(ev.timeZone);
  const ms =
    (wallOf(ev.end) as Temporal.PlainDateTime).toZonedDateTime(ev.timeZone).epochMilliseconds -
    (s0 as Temporal.PlainDateTime).toZonedDateTime(ev.timeZone).epochMilliseconds;
  return {
    start: zs.toInstant().toString(),
    end: zs.toInstant().add({ milliseconds: ms }).toString(),
    title: ev.title,
  };
}

/** Occurrences of the imported model starting before `until`, by rrule-temporal. */
export function modelOccurrences(cal: IcsCalendar, until: string): Occ[] {
  const out: Occ[] = [];
  const overrides = new Map<string, IcsEvent>();
  for (const ev of cal.events)
    if (ev.recurrenceId !== null) overrides.set(`${ev.uid}\n${ev.recurrenceId}`, ev);
  const end = Temporal.PlainDate.from(until);
  for (const ev of cal.events) {
    if (ev.recurrenceId !== null) continue;
    const starts: Wall[] = [];
    const first = wallOf(ev.start);
    const zone = ev.allDay ? 'UTC' : ev.timeZone;
    const zdt = (first instanceof Temporal.PlainDate ? first.toPlainDateTime() : first).toZonedDateTime(zone);
    if (ev.rrule !== null) {
      const rule = new RRuleTemporal({
        rruleString: ev.rrule,
        dtstart: zdt,
        tzid: zone,
        includeDtstart: true,
      });
      const limit = end.toPlainDateTime().toZonedDateTime(zone);
      for (const r of rule.between(
        new Date(zdt.epochMilliseconds),
        new Date(limit.epochMilliseconds),
        true,
      )) {
        // Its values may come from another Temporal implementation: read them through their strings.
        const z = Temporal.ZonedDateTime.from(r.toString());
        if (Temporal.ZonedDateTime.compare(z, limit) < 0)
          starts.push(ev.allDay ? z.toPlainDate() : z.toPlainDateTime());
      }
    } else {
      starts.push(first);
    }
    for (const r of ev.rdates) starts.push(wallOf(r));
    const ex = new Set(ev.exdates);
    for (const s of starts) {
      const k = s.toString({ smallestUnit: 'second' } as never).replace(/:00$/, '');
      const wall = s instanceof Temporal.PlainDate ? s.toString() : k;
      if (ex.has(wall) || (s instanceof Temporal.PlainDate ? false : ex.has(`${wall}:00`))) continue;
      const o = overrides.get(`${ev.uid}\n${wall}`);
      if (o !== undefined) {
        overrides.delete(`${ev.uid}\n${wall}`);
        if (!o.cancelled) out.push(occ(o, wallOf(o.start)));
        continue;
      }
      if (!ev.cancelled) out.push(occ(ev, s));
    }
  }
  return sortOccs(out);
}

/**
 * Occurrences of the imported model by the app's own expansion (src/worker/recur.ts, the code
 * the calendar draws with), with overrides and cancellations applied by RecurrenceId (SER-2..4).
 */
export async function appOccurrences(cal: IcsCalendar, until: string): Promise<Occ[]> {
  const { loadExpander } = await import('../../worker/recur.ts');
  const expand = await loadExpander();
  const untilMs = Date.parse(`${until}T00:00:00Z`);
  const overrides = new Map<string, IcsEvent>();
  for (const ev of cal.events)
    if (ev.recurrenceId !== null) overrides.set(`${ev.uid}\n${ev.recurrenceId}`, ev);
  const out: Occ[] = [];
  for (const ev of cal.events) {
    if (ev.recurrenceId !== null) continue;
    if (ev.rrule === null && ev.rdates.length === 0) {
      if (!ev.cancelled) out.push(occ(ev, wallOf(ev.start)));
      continue;
    }
    const x = expand({
      start: ev.start,
      end: ev.end,
      allDay: ev.allDay,
      timeZone: ev.timeZone,
      rrule: ev.rrule ?? '',
      rdates: [...new Set(ev.rdates)].sort(),
      exdates: [...new Set(ev.exdates)].sort(),
    });
    for (const o of x.between(Date.UTC(1900, 0, 1), untilMs)) {
      const ov = overrides.get(`${ev.uid}\n${o.recurrenceId}`);
      if (ov !== undefined) {
        if (!ov.cancelled) out.push(occ(ov, wallOf(ov.start)));
        continue;
      }
      out.push(
        ev.allDay
          ? { start: o.start, end: o.end, title: ev.title }
          : {
              start: Temporal.Instant.fromEpochMilliseconds(o.startMs).toString(),
              end: Temporal.Instant.fromEpochMilliseconds(o.endMs).toString(),
              title: ev.title,
            },
      );
    }
  }
  return sortOccs(out);
}
