// One VEVENT (jCal) -> IcsEvent: times, recurrence, status, texts, alarms, and every property the
// app does not model kept as content lines for export (like the engine keeps unknown fields, LWW-6).

import ICAL from 'ical.js';
import { Temporal } from 'temporal-polyfill';
import { parseRRule } from '../../engine/index.ts';
import type { ScannedComponent } from './lines.ts';
import { ICS_LIMITS, IcsError, type IcsEvent, MODELED } from './model.ts';
import { fileWall, inZone, type JProp, type Moment, readMoment, type TimeContext } from './times.ts';

type JComp = [string, JProp[], JComp[]];

const RRULE_PART =
  /^(FREQ=(SECONDLY|MINUTELY|HOURLY|DAILY|WEEKLY|MONTHLY|YEARLY)|INTERVAL=\d{1,4}|COUNT=\d{1,6}|UNTIL=\d{8}(T\d{6}Z?)?|BY(SECOND|MINUTE|HOUR|MONTHDAY|YEARDAY|WEEKNO|MONTH|SETPOS)=[-+0-9,]{1,200}|BYDAY=[-+0-9A-Z,]{1,200}|WKST=(MO|TU|WE|TH|FR|SA|SU))$/;

/** An event read from the file, with its RECURRENCE-ID still in its own zone (fixed by the caller). */
export interface ReadEvent extends IcsEvent {
  recurrence: Moment | null;
  /** Line of its RECURRENCE-ID. */
  recurrenceLine: number;
}

export function readEvent(
  comp: JComp,
  sc: ScannedComponent,
  ctx: TimeContext,
  warn: (m: string) => void,
): ReadEvent {
  const props = comp[1];
  const lineOf = (name: string) => sc.props.get(name.toUpperCase()) ?? sc.line;
  const first = (name: string) => props.find((p) => p[0] === name);
  const text = (name: string): string => {
    const p = first(name);
    const v =
      p === undefined
        ? ''
        : p
            .slice(3)
            .filter((x) => typeof x === 'string')
            .join(',');
    return cutText(v, name.toUpperCase(), sc.line, warn);
  };

  const dtstart = first('dtstart');
  if (dtstart === undefined) throw new IcsError(sc.line, 'VEVENT without DTSTART');
  const start = readMoment(dtstart, 0, lineOf('dtstart'), ctx);
  const allDay = start.kind === 'date';
  const isSeries = first('rrule') !== undefined || first('rdate') !== undefined;
  // UTC single events are shown in the calendar's zone (same instants); UTC series stay in UTC so
  // their occurrences keep their instants across DST.
  const zone =
    start.kind === 'date' ? ctx.floating : start.zone === 'UTC' && !isSeries ? ctx.floating : start.zone;
  const startWall = inZone(start, zone);
  const end = readEnd(props, start, startWall, zone, lineOf, ctx);
  const endFrom = first('dtend') ? 'dtend' : first('duration') ? 'duration' : 'dtstart';

  const rrules = props.filter((p) => p[0] === 'rrule');
  if (rrules.length > 1) warn(`line ${lineOf('rrule')}: only the first of several RRULEs is kept`);
  const rrule = rrules[0] === undefined ? null : readRrule(rrules[0], lineOf('rrule'), warn);
  const dates = (name: string) => {
    const out: string[] = [];
    for (const p of props.filter((x) => x[0] === name)) {
      for (let i = 0; i < p.length - 3; i++) {
        if (out.length >= ICS_LIMITS.maxDates)
          throw new IcsError(lineOf(name), `more than ${ICS_LIMITS.maxDates} ${name.toUpperCase()} values`);
        const v = p[3 + i];
        // RDATE;VALUE=PERIOD: the period's start is the occurrence (its length is the event's).
        const m =
          p[2] === 'period' && Array.isArray(v)
            ? readMoment([p[0], p[1], 'date-time', v[0]], 0, lineOf(name), ctx)
            : readMoment(p, i, lineOf(name), ctx);
        const w = inZone(m, zone);
        out.push(
          fileWall(allDay && w instanceof Temporal.PlainDateTime ? w.toPlainDate() : w, name, lineOf(name)),
        );
      }
    }
    return out;
  };

  const rid = first('recurrence-id');
  const status = String(first('status')?.[3] ?? '').toUpperCase();
  const uidRaw = String(first('uid')?.[3] ?? '').trim();
  return {
    uid: uidRaw === '' ? derivedUid(dtstart, text('summary')) : uidRaw.slice(0, 255),
    line: sc.line,
    recurrenceId: null,
    recurrence: rid === undefined ? null : readMoment(rid, 0, lineOf('recurrence-id'), ctx),
    recurrenceLine: lineOf('recurrence-id'),
    title: text('summary'),
    location: text('location'),
    notes: text('description'),
    start: fileWall(startWall, 'dtstart', lineOf('dtstart')),
    end: fileWall(end, endFrom, lineOf(endFrom)),
    allDay,
    timeZone: zone,
    rrule,
    rdates: dates('rdate'),
    exdates: dates('exdate'),
    cancelled: status === 'CANCELLED',
    alarms: readAlarms(comp[2], startWall, end, zone, sc.line, ctx),
    extra: keepExtra(comp, status === 'CANCELLED', sc.line, warn),
  };
}

function readEnd(
  props: JProp[],
  start: Moment,
  startWall: Temporal.PlainDateTime | Temporal.PlainDate,
  zone: string,
  lineOf: (n: string) => number,
  ctx: TimeContext,
): Temporal.PlainDateTime | Temporal.PlainDate {
  const dtend = props.find((p) => p[0] === 'dtend');
  const duration = props.find((p) => p[0] === 'duration');
  let end: Temporal.PlainDateTime | Temporal.PlainDate;
  if (dtend !== undefined) {
    const e = readMoment(dtend, 0, lineOf('dtend'), ctx);
    end = inZone(e, zone);
    if ((e.kind === 'date') !== (start.kind === 'date'))
      throw new IcsError(lineOf('dtend'), 'DTEND and DTSTART must both be dates or both date-times');
  } else if (duration !== undefined) {
    const d = parseDuration(String(duration[3]), lineOf('duration'));
    try {
      if (startWall instanceof Temporal.PlainDate) end = startWall.add({ days: d.days + d.weeks * 7 });
      // RFC 5545 3.3.6: days and weeks are nominal (wall clock), hours and less exact.
      else end = startWall.toZonedDateTime(zone).add(d).toPlainDateTime();
    } catch {
      // Past the years Temporal knows (RangeError): named here, with the line.
      throw new IcsError(lineOf('duration'), 'DURATION ends after the year 9999');
    }
  } else {
    end = startWall instanceof Temporal.PlainDate ? startWall.add({ days: 1 }) : startWall;
  }
  if (Temporal.PlainDateTime.compare(asDateTime(end), asDateTime(startWall)) < 0)
    throw new IcsError(lineOf(dtend !== undefined ? 'dtend' : 'duration'), 'the event ends before it starts');
  return end;
}

function asDateTime(v: Temporal.PlainDateTime | Temporal.PlainDate): Temporal.PlainDateTime {
  return v instanceof Temporal.PlainDate ? v.toPlainDateTime() : v;
}

export function parseDuration(s: string, line: number): Temporal.Duration {
  const m = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec(s);
  if (!m || s.endsWith('P') || s.endsWith('T')) throw new IcsError(line, `not a duration: ${s.slice(0, 40)}`);
  const sign = m[1] === '-' ? -1 : 1;
  const n = (i: number) => sign * Number(m[i] ?? 0);
  try {
    return Temporal.Duration.from({ weeks: n(2), days: n(3), hours: n(4), minutes: n(5), seconds: n(6) });
  } catch {
    // "P99999999999W": Temporal refuses it (RangeError), which would leave the line unnamed.
    throw new IcsError(line, `duration out of range: ${s.slice(0, 40)}`);
  }
}

const WEEKDAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

/** The RRULE as text, parts in the file's order, each checked; UNTIL in basic format. */
function readRrule(p: JProp, line: number, warn: (m: string) => void): string {
  const rule = p[3];
  if (typeof rule !== 'object' || rule === null) throw new IcsError(line, 'RRULE is not a recurrence rule');
  const parts: string[] = [];
  for (const [k, v] of Object.entries(rule as Record<string, unknown>)) {
    const name = k.toUpperCase();
    let value: string;
    if (name === 'WKST' && typeof v === 'number') value = WEEKDAYS[v - 1] ?? '';
    else if (name === 'UNTIL') value = String(v).replace(/[-:]/g, '');
    else value = Array.isArray(v) ? v.join(',') : String(v);
    const part = `${name}=${value}`;
    if (name.startsWith('X-')) {
      warn(`line ${line}: RRULE part ${part.slice(0, 40)} is not understood and was left out`);
      continue;
    }
    if (!RRULE_PART.test(part)) throw new IcsError(line, `RRULE part not understood: ${part.slice(0, 40)}`);
    parts.push(part);
  }
  if (!parts.some((x) => x.startsWith('FREQ='))) throw new IcsError(line, 'RRULE has no FREQ');
  const text = parts.join(';');
  // The Rrule register accepts what the engine's parser accepts: checked here, with the line.
  if (parseRRule(text) === undefined) throw new IcsError(line, `RRULE is not valid: ${text.slice(0, 80)}`);
  return text;
}

function readAlarms(
  subs: JComp[],
  startWall: Temporal.PlainDateTime | Temporal.PlainDate,
  end: Temporal.PlainDateTime | Temporal.PlainDate,
  zone: string,
  line: number,
  ctx: TimeContext,
): number[] {
  const out: number[] = [];
  const startMs = epochMs(startWall, zone);
  for (const sub of subs) {
    if (sub[0] !== 'valarm' || out.length >= ICS_LIMITS.maxAlarms) continue;
    const trig = sub[1].find((p) => p[0] === 'trigger');
    if (trig === undefined) throw new IcsError(line, 'VALARM without TRIGGER');
    let at: number;
    if (trig[2] === 'duration') {
      const related = String(trig[1]['related'] ?? 'START').toUpperCase();
      const base = related === 'END' ? epochMs(end, zone) : startMs;
      const d = parseDuration(String(trig[3]), line);
      at = base + totalMs(d, asDateTime(startWall).toZonedDateTime(zone));
    } else {
      const m = readMoment(trig, 0, line, ctx);
      at = m.kind === 'date' ? epochMs(m.date, zone) : m.wall.toZonedDateTime(m.zone).epochMilliseconds;
    }
    const minutes = Math.round((startMs - at) / 60_000);
    if (!(minutes >= ICS_LIMITS.minAlarm && minutes <= ICS_LIMITS.maxAlarm)) {
      ctx.warn(
        Number.isNaN(minutes)
          ? `line ${line}: a reminder past the year 9999 was left out`
          : `line ${line}: a reminder ${Math.round(minutes / 1440)} days from the start was left out`,
      );
      continue;
    }
    if (!out.includes(minutes)) out.push(minutes);
  }
  return out.sort((a, b) => a - b);
}

/** `d` in milliseconds from `relativeTo`; NaN when that is past the years Temporal knows (its RangeError). */
function totalMs(d: Temporal.Duration, relativeTo: Temporal.ZonedDateTime): number {
  try {
    return d.total({ unit: 'millisecond', relativeTo });
  } catch {
    return Number.NaN;
  }
}

function epochMs(v: Temporal.PlainDateTime | Temporal.PlainDate, zone: string): number {
  return asDateTime(v).toZonedDateTime(zone).epochMilliseconds;
}

function keepExtra(comp: JComp, cancelled: boolean, line: number, warn: (m: string) => void): string {
  const parts: string[] = [];
  for (const p of comp[1]) {
    if (MODELED.has(p[0]) || (p[0] === 'status' && cancelled)) continue;
    parts.push(ICAL.stringify.property(p, ICAL.design.icalendar, true));
  }
  for (const sub of comp[2])
    if (sub[0] !== 'valarm')
      parts.push(ICAL.stringify.component(sub, ICAL.design.icalendar).replace(/\r?\n[ \t]/g, ''));
  const enc = new TextEncoder();
  let size = parts.reduce((n, s) => n + enc.encode(s).length + 1, 0);
  while (size > ICS_LIMITS.maxExtraBytes && parts.length > 0) {
    // Drop the largest first (inline attachments, long attendee lists): most of the rest stays.
    let big = 0;
    for (let i = 1; i < parts.length; i++) if (parts[i]!.length > parts[big]!.length) big = i;
    const [dropped] = parts.splice(big, 1);
    size -= enc.encode(dropped!).length + 1;
    warn(
      `line ${line}: property ${dropped!.split(/[;:\r\n]/)[0]} (${dropped!.length} characters) is too large to keep`,
    );
  }
  return parts.join('\n');
}

function cutText(v: string, name: string, line: number, warn: (m: string) => void): string {
  const enc = new TextEncoder();
  if (v.length * 3 <= ICS_LIMITS.maxTextBytes || enc.encode(v).length <= ICS_LIMITS.maxTextBytes) return v;
  // Room for the "…" (3 bytes) that marks the cut.
  let s = v.slice(0, ICS_LIMITS.maxTextBytes);
  while (enc.encode(s).length > ICS_LIMITS.maxTextBytes - 3) s = s.slice(0, Math.floor(s.length * 0.9));
  // Never half an emoji: a lone surrogate would be stored (and exported) as U+FFFD.
  if (/[\uD800-\uDBFF]$/.test(s)) s = s.slice(0, -1);
  warn(`line ${line}: ${name} was cut to ${ICS_LIMITS.maxTextBytes / 1024} KiB`);
  return `${s}…`;
}

/** A stable UID for an event that lacks one, so importing the file again updates it. */
function derivedUid(dtstart: JProp, title: string): string {
  const s = `${JSON.stringify(dtstart)}|${title}`;
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < s.length; i++) {
    h1 = Math.imul(h1 ^ s.charCodeAt(i), 16777619);
    h2 = Math.imul(h2 ^ s.charCodeAt(i), 2246822519);
  }
  return `derived-${(h1 >>> 0).toString(16)}${(h2 >>> 0).toString(16)}@ledgerday`;
}
