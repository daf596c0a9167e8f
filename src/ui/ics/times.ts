// DATE and DATE-TIME values of a parsed file (jCal) as Temporal values with an IANA zone: UTC
// ("Z"), floating (the calendar's X-WR-TIMEZONE, else the importing device's zone), or TZID.

import { Temporal } from 'temporal-polyfill';
import { IcsError } from './model.ts';
import { fileZoneOffset, resolveTzid, type ZoneContext } from './zones.ts';

/** A jCal property: [name, params, type, ...values]. */
export type JProp = [string, Record<string, string | string[]>, string, ...unknown[]];

export interface TimeContext extends ZoneContext {
  /** Zone for floating times. */
  floating: string;
  /** Warnings collected while reading (zones guessed or converted). */
  warn: (msg: string) => void;
}

/** A point in time as written: a date (all-day) or a wall time in a zone. */
export type Moment =
  | { kind: 'date'; date: Temporal.PlainDate }
  | { kind: 'time'; wall: Temporal.PlainDateTime; zone: string };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(Z?)$/;

function param(p: JProp, name: string): string | undefined {
  const v = p[1][name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads one value of a DATE / DATE-TIME property (its `i`th value). Throws IcsError at `line`. */
export function readMoment(p: JProp, i: number, line: number, ctx: TimeContext): Moment {
  const name = p[0].toUpperCase();
  const value = p[3 + i];
  if (typeof value !== 'string') throw new IcsError(line, `${name} has no value`);
  let raw: string = value;
  // "DTSTART:20240101" without VALUE=DATE (common): ical.js reads it as a broken date-time.
  const dateOnly = /^(\d{4}-\d{2}-\d{2})T::$/.exec(raw);
  if (dateOnly) raw = dateOnly[1]!;
  const d = DATE.exec(raw);
  if (d) {
    try {
      return { kind: 'date', date: Temporal.PlainDate.from(raw, { overflow: 'reject' }) };
    } catch {
      throw new IcsError(line, `${name} is not a valid date: ${raw}`);
    }
  }
  const m = DATE_TIME.exec(raw);
  // (ical.js has already reshaped a value it could not read, so the raw text is not quoted back.)
  if (!m) throw new IcsError(line, `${name} is not a date (YYYYMMDD) or date-time (YYYYMMDDTHHMMSS)`);
  let wall: Temporal.PlainDateTime;
  try {
    // The constructor refuses out-of-range fields (and is much faster than parsing the string).
    // A leap second 60 (RFC 5545 allows it) is read as 59.
    const n = (i: number) => Number(m[i]);
    wall = new Temporal.PlainDateTime(n(1), n(2), n(3), n(4), n(5), Math.min(n(6), 59));
  } catch {
    throw new IcsError(line, `${name} is not a valid date-time: ${raw}`);
  }
  if (m[7] === 'Z') return { kind: 'time', wall, zone: 'UTC' };
  const tzid = param(p, 'tzid');
  if (tzid === undefined) return { kind: 'time', wall, zone: ctx.floating };
  const zone = resolveTzid(tzid, ctx);
  if (zone !== undefined) return { kind: 'time', wall, zone };
  if (!ctx.vtimezones.has(tzid))
    throw new IcsError(
      line,
      `${name} names the time zone "${tzid}", which is neither known nor defined in the file`,
    );
  // A zone defined only by its VTIMEZONE that matches no IANA zone: the instant is kept (UTC).
  const offset = fileZoneOffset(tzid, wall, ctx);
  if (typeof offset === 'string')
    throw new IcsError(
      line,
      `${name}: the time zone "${tzid.slice(0, 60)}" of the file cannot be used: ${offset}`,
    );
  ctx.warn(`time zone "${tzid}" matches no known zone; its times were converted to UTC`);
  return {
    kind: 'time',
    wall: wall.toZonedDateTime('UTC').subtract({ seconds: offset }).toPlainDateTime(),
    zone: 'UTC',
  };
}

/** The moment as a wall-clock time in `zone` (same instant), or a date. */
export function inZone(m: Moment, zone: string): Temporal.PlainDateTime | Temporal.PlainDate {
  if (m.kind === 'date') return m.date;
  if (m.zone === zone) return m.wall;
  return m.wall.toZonedDateTime(m.zone).withTimeZone(zone).toPlainDateTime();
}

/** "YYYY-MM-DD", "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS" (seconds only when not zero). */
export function wallString(v: Temporal.PlainDateTime | Temporal.PlainDate): string {
  if (v instanceof Temporal.PlainDate) return v.toString();
  const s = v.toString({ smallestUnit: 'second' });
  return v.second === 0 ? s.slice(0, 16) : s;
}

/**
 * wallString of a value read from the file (the property `name` at `line`). The app's times have
 * four-digit years: a value a zone or a duration moves past 9999 is refused here, with its line
 * (wallString would write "+010000-01-01", which the app cannot store or export).
 */
export function fileWall(v: Temporal.PlainDateTime | Temporal.PlainDate, name: string, line: number): string {
  if (v.year < 0 || v.year > 9999)
    throw new IcsError(line, `${name.toUpperCase()} is outside the years 0000 to 9999 in its time zone`);
  return wallString(v);
}

/** The app's wall string as Temporal, in `zone`. */
export function parseWall(s: string): Temporal.PlainDateTime | Temporal.PlainDate {
  return s.length === 10 ? Temporal.PlainDate.from(s) : Temporal.PlainDateTime.from(s);
}
