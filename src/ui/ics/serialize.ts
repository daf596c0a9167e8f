// IcsCalendar(s) -> RFC 5545 text: CRLF line ends, lines folded at 75 octets (never inside a
// UTF-8 sequence), TEXT escaped, a VTIMEZONE for every zone used, UID and DTSTAMP on every event.

import { Temporal } from 'temporal-polyfill';
import { ICS_LIMITS, type IcsEvent, MODELED } from './model.ts';
import { parseWall } from './times.ts';

export interface ExportCalendar {
  name: string;
  events: IcsEvent[];
}

export interface ExportOptions {
  /** Now, for DTSTAMP (ms since the epoch). */
  nowMs: number;
  /** X-WR-TIMEZONE: the zone readers use for all-day events' reminders and floating times. */
  zone: string;
}

export const PRODID = '-//Ledgerday//Ledgerday Calendar//EN';

/** One VCALENDAR holding the events of every calendar given (an "all calendars" export). */
export function serializeIcs(calendars: ExportCalendar[], opts: ExportOptions): string {
  const lines: string[] = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    `PRODID:${PRODID}`,
    'CALSCALE:GREGORIAN',
    'METHOD:PUBLISH',
  ];
  if (calendars.length === 1) lines.push(`X-WR-CALNAME:${escapeText(calendars[0]!.name)}`);
  lines.push(`X-WR-TIMEZONE:${opts.zone}`);
  const events = calendars.flatMap((c) => c.events);
  const zones = new Map<string, [number, number]>();
  for (const ev of events) {
    if (ev.allDay || ev.timeZone === 'UTC') continue;
    const y = Number(ev.start.slice(0, 4));
    const span = zones.get(ev.timeZone) ?? [y, y];
    zones.set(ev.timeZone, [Math.min(span[0], y), Math.max(span[1], y)]);
  }
  const thisYear = new Date(opts.nowMs).getUTCFullYear();
  for (const [zone, [lo, hi]] of [...zones].sort(([a], [b]) => (a < b ? -1 : 1)))
    lines.push(...vtimezone(zone, lo - 1, Math.max(hi, thisYear) + 2));
  const stamp = utcStamp(opts.nowMs);
  const seriesZone = new Map<string, IcsEvent>();
  for (const ev of events) if (ev.recurrenceId === null) seriesZone.set(ev.uid, ev);
  for (const ev of events) lines.push(...vevent(ev, stamp, seriesZone.get(ev.uid) ?? ev));
  lines.push('END:VCALENDAR');
  return lines.map(fold).join('');
}

function vevent(ev: IcsEvent, stamp: string, series: IcsEvent): string[] {
  const out = ['BEGIN:VEVENT', `UID:${escapeText(ev.uid)}`, `DTSTAMP:${stamp}`];
  out.push(timeLine('DTSTART', ev.start, ev.timeZone));
  if (ev.end !== ev.start) out.push(timeLine('DTEND', ev.end, ev.timeZone));
  if (ev.recurrenceId !== null) out.push(timeLine('RECURRENCE-ID', ev.recurrenceId, series.timeZone));
  if (ev.rrule !== null) out.push(`RRULE:${ev.rrule}`);
  for (const d of ev.rdates) out.push(timeLine('RDATE', d, ev.timeZone));
  for (const d of ev.exdates) out.push(timeLine('EXDATE', d, ev.timeZone));
  if (ev.title !== '') out.push(`SUMMARY:${escapeText(ev.title)}`);
  if (ev.location !== '') out.push(`LOCATION:${escapeText(ev.location)}`);
  if (ev.notes !== '') out.push(`DESCRIPTION:${escapeText(ev.notes)}`);
  if (ev.cancelled) out.push('STATUS:CANCELLED');
  out.push(...keptLines(ev.extra, ev.cancelled));
  for (const minutes of ev.alarms) {
    out.push('BEGIN:VALARM', 'ACTION:DISPLAY', `DESCRIPTION:${escapeText(ev.title || 'Reminder')}`);
    out.push(`TRIGGER:${minutes > 0 ? '-' : ''}${durationText(Math.abs(minutes))}`, 'END:VALARM');
  }
  out.push('END:VEVENT');
  return out;
}

/** Components that are the calendar's, or the event's own alarms: never taken from kept lines. */
const OWN_COMPONENTS = new Set([
  'VCALENDAR',
  'VEVENT',
  'VTODO',
  'VJOURNAL',
  'VFREEBUSY',
  'VTIMEZONE',
  'VALARM',
]);
/** RFC 5545 3.1: name, parameters (quoted values may hold ";:,"), then ":" and the value. */
const CONTENT_LINE = /^([A-Za-z0-9-]+)(?:;[A-Za-z0-9-]+=(?:"[^"]*"|[^";:,]*)(?:,(?:"[^"]*"|[^";:,]*))*)*:/;
/** Nesting within an event the importer accepts (ICS_LIMITS.maxDepth less VCALENDAR and VEVENT). */
const MAX_KEPT_DEPTH = ICS_LIMITS.maxDepth - 2;

/**
 * Kept properties and components go out as they came in (already escaped content lines). The
 * IcsExtra register holds any text a member of a shared calendar writes, so only what import puts
 * there is let through: content lines (as the importer reads them), no property the event writes itself (a second RRULE or a
 * STATUS:CANCELLED would change it), and components of its own, balanced. "END:VEVENT" there
 * ended the event and let the rest of the text add events to the export.
 */
function keptLines(extra: string, cancelled: boolean): string[] {
  const out: string[] = [];
  const open: { name: string; kept: boolean }[] = [];
  for (const raw of extra.split('\n')) {
    const line = raw.replace(/\r/g, '');
    const name = CONTENT_LINE.exec(line)?.[1]?.toUpperCase();
    if (name === undefined) continue;
    const keeping = open.every((o) => o.kept);
    if (name === 'BEGIN' || name === 'END') {
      const comp = /^(?:BEGIN|END):([A-Za-z0-9-]+)$/i.exec(line)?.[1]?.toUpperCase();
      if (comp === undefined) continue;
      if (name === 'BEGIN') {
        const kept =
          keeping && open.length < MAX_KEPT_DEPTH && !(open.length === 0 && OWN_COMPONENTS.has(comp));
        open.push({ name: comp, kept });
        if (kept) out.push(`BEGIN:${comp}`);
      } else if (open.at(-1)?.name === comp) {
        if (open.pop()!.kept) out.push(`END:${comp}`);
      }
      continue;
    }
    if (!keeping) continue;
    if (
      open.length === 0 &&
      (MODELED.has(name.toLowerCase()) || (name === 'STATUS' && (cancelled || /CANCELLED\s*$/i.test(line))))
    )
      continue;
    out.push(line);
  }
  for (const o of open.reverse()) if (o.kept) out.push(`END:${o.name}`);
  return out;
}

function timeLine(name: string, wall: string, zone: string): string {
  if (wall.length === 10) return `${name};VALUE=DATE:${wall.replaceAll('-', '')}`;
  const v = basic(parseWall(wall) as Temporal.PlainDateTime);
  return zone === 'UTC' ? `${name}:${v}Z` : `${name};TZID=${zone}:${v}`;
}

function basic(t: Temporal.PlainDateTime): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(t.year, 4)}${p(t.month)}${p(t.day)}T${p(t.hour)}${p(t.minute)}${p(t.second)}`;
}

function utcStamp(ms: number): string {
  return `${basic(Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO('UTC').toPlainDateTime())}Z`;
}

function durationText(minutes: number): string {
  if (minutes === 0) return 'PT0S';
  if (minutes % 1440 === 0) return `P${minutes / 1440}D`;
  const d = Math.floor(minutes / 1440);
  const h = Math.floor((minutes % 1440) / 60);
  const m = minutes % 60;
  return `P${d > 0 ? `${d}D` : ''}T${h > 0 ? `${h}H` : ''}${m > 0 ? `${m}M` : ''}`;
}

/** RFC 5545 3.3.11. */
export function escapeText(s: string): string {
  return s.replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\r\n|\r|\n/g, '\\n');
}

const enc = new TextEncoder();

/** RFC 5545 3.1: lines of at most 75 octets, continued with CRLF + space; never splits a UTF-8 sequence. */
export function fold(line: string): string {
  if (line.length <= 75 && enc.encode(line).length <= 75) return `${line}\r\n`;
  let out = '';
  let chunk = '';
  let octets = 0;
  let limit = 75;
  for (const ch of line) {
    const n =
      ch.codePointAt(0)! < 0x80 ? 1 : ch.codePointAt(0)! < 0x800 ? 2 : ch.codePointAt(0)! < 0x10000 ? 3 : 4;
    if (octets + n > limit) {
      out += `${chunk}\r\n `;
      chunk = '';
      octets = 0;
      limit = 74; // the leading space counts
    }
    chunk += ch;
    octets += n;
  }
  return `${out}${chunk}\r\n`;
}

/**
 * A VTIMEZONE for an IANA zone, with one observance per offset change between `fromYear` and
 * `toYear` (from the platform's tz database through Temporal), so readers without that
 * database compute the same instants. Readers with one (Google, Apple, Thunderbird) use the id.
 */
export function vtimezone(zone: string, fromYear: number, toYear: number): string[] {
  const out = ['BEGIN:VTIMEZONE', `TZID:${zone}`];
  let at = Temporal.PlainDateTime.from({ year: fromYear, month: 1, day: 1 }).toZonedDateTime(zone);
  const end = Temporal.PlainDateTime.from({ year: toYear + 1, month: 1, day: 1 }).toZonedDateTime(zone);
  const off = (z: Temporal.ZonedDateTime) => Math.round(z.offsetNanoseconds / 1e9);
  out.push(...observance('STANDARD', at.toPlainDateTime(), off(at), off(at)));
  for (let i = 0; i < 500; i++) {
    const next = at.getTimeZoneTransition('next');
    if (next === null || Temporal.ZonedDateTime.compare(next, end) >= 0) break;
    const before = next.subtract({ nanoseconds: 1 });
    // DTSTART is the transition as a wall time in the offset before it (RFC 5545 3.6.5).
    const wall = next
      .toInstant()
      .add({ seconds: off(before) })
      .toZonedDateTimeISO('UTC')
      .toPlainDateTime();
    const y = next.year;
    const jan = Temporal.PlainDateTime.from({ year: y, month: 1, day: 1 }).toZonedDateTime(zone);
    const jul = Temporal.PlainDateTime.from({ year: y, month: 7, day: 1 }).toZonedDateTime(zone);
    const std = Math.min(off(jan), off(jul));
    out.push(...observance(off(next) > std ? 'DAYLIGHT' : 'STANDARD', wall, off(before), off(next)));
    at = next;
  }
  out.push('END:VTIMEZONE');
  return out;
}

/** UTC offset in seconds as RFC 5545 3.3.14 writes it: +HHMM, or +HHMMSS when it has seconds. */
function offsetText(seconds: number): string {
  const a = Math.abs(seconds);
  const p = (n: number) => String(n).padStart(2, '0');
  const ss = a % 60 === 0 ? '' : p(a % 60);
  return `${seconds < 0 ? '-' : '+'}${p(Math.floor(a / 3600))}${p(Math.floor((a % 3600) / 60))}${ss}`;
}

function observance(kind: string, wall: Temporal.PlainDateTime, from: number, to: number): string[] {
  return [
    `BEGIN:${kind}`,
    `DTSTART:${basic(wall)}`,
    `TZOFFSETFROM:${offsetText(from)}`,
    `TZOFFSETTO:${offsetText(to)}`,
    `END:${kind}`,
  ];
}
