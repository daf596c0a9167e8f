// Wall-clock time in an IANA zone -> UTC instant, for the range index. Temporal (polyfill) is
// exact but costs ~13 µs per conversion in Node (20,000 took 265 ms, measured), too slow for a
// cold start over 10,000 events; so the zone's offset is computed once per (zone, day) (from the
// zone's transitions, zone-offsets.ts) and reused when the day has no offset transition. Days
// with a transition go through Temporal.

import { Temporal } from 'temporal-polyfill';
import { localToUtc, offsetAt, plainDayOffset } from './zone-offsets.ts';

const WALL = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/;
const MAX_CACHE = 50_000;
const DAY = 86_400_000;
/** Instants whose wall-clock time the zone tables give exactly (years 1900-9999); others go to Temporal. */
const EXACT_FROM = Date.UTC(1900, 0, 2);
const EXACT_TO = Date.UTC(9999, 11, 30);

/**
 * Per zone: day number (days since 1970-01-01) -> offset in ms valid for that whole local day, or
 * null when the day has a transition. Numeric keys, one map per zone: expanding a month of 500
 * series looks offsets up ~100,000 times (string keys were most of that cost, measured).
 */
const dayOffsets = new Map<string, Map<number, number | null>>();
let cached = 0;

function offsetForDay(zone: string, day: number): number | null {
  let days = dayOffsets.get(zone);
  if (days === undefined) {
    days = new Map();
    dayOffsets.set(zone, days);
  }
  let off = days.get(day);
  if (off === undefined) {
    off = plainDayOffset(zone, day);
    if (++cached > MAX_CACHE) {
      dayOffsets.clear();
      cached = 1;
      dayOffsets.set(zone, days);
      days.clear();
    }
    days.set(day, off);
  }
  return off;
}

const DAYS_IN = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const validDate = (y: number, m: number, d: number): boolean =>
  m >= 1 &&
  m <= 12 &&
  d >= 1 &&
  d <= (m === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : DAYS_IN[m - 1]!);

/**
 * UTC ms of a wall-clock time ("YYYY-MM-DD" = start of that day, or "YYYY-MM-DDTHH:MM[:SS]") in
 * `zone`; undefined when the time or the zone is not valid. Nonexistent times (spring forward)
 * resolve like Temporal's 'compatible' disambiguation: moved forward by the gap.
 */
export function wallToUtcMs(wall: string, zone: string): number | undefined {
  const m = WALL.exec(wall);
  if (!m) return undefined;
  const y = +m[1]!;
  const mo = +m[2]!;
  const d = +m[3]!;
  const h = +(m[4] ?? 0);
  const mi = +(m[5] ?? 0);
  const sec = +(m[6] ?? 0);
  if (h > 23 || mi > 59 || sec > 59 || !validDate(y, mo, d)) return undefined;
  try {
    const local = Date.UTC(y, mo - 1, d, h, mi, sec);
    const off = offsetForDay(zone, Math.floor(local / DAY));
    if (off !== null) return local - off;
    // A day with a transition: from the zone's transition instants (zone-offsets.ts).
    if (y >= 1900 && y <= 9999) return localToUtc(zone, local);
    const pdt =
      m[4] === undefined
        ? Temporal.PlainDate.from(wall, { overflow: 'reject' }).toPlainDateTime()
        : Temporal.PlainDateTime.from(wall, { overflow: 'reject' });
    return pdt.toZonedDateTime(zone, { disambiguation: 'compatible' }).epochMilliseconds;
  } catch {
    return undefined;
  }
}

/**
 * UTC extent of an event as the range index sees it: start (0 when unreadable) and an end never
 * before the start. Shared by the host's in-memory index and the store's persisted span index, so
 * both place an event identically.
 */
export function eventSpanMs(start: string, end: string, zone: string): { startMs: number; endMs: number } {
  const startMs = wallToUtcMs(start, zone) ?? 0;
  return { startMs, endMs: Math.max(wallToUtcMs(end, zone) ?? startMs, startMs) };
}

/** Last offset seen per zone: the guess utcToWall starts from. */
const lastOffset = new Map<string, number>();
const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** Dates of day numbers, as "YYYY-MM-DD" (a month of occurrences formats the same few days). */
const dateTexts = new Map<number, string>();
export function dateOfDay(day: number): string {
  let t = dateTexts.get(day);
  if (t === undefined) {
    t = new Date(day * DAY).toISOString().slice(0, 10);
    if (t.length !== 10)
      t = Temporal.PlainDate.from({ year: 1970, month: 1, day: 1 }).add({ days: day }).toString();
    if (dateTexts.size >= MAX_CACHE) dateTexts.clear();
    dateTexts.set(day, t);
  }
  return t;
}

/** "THH:MM" per minute of the day, made when first needed (a month's ends share a few). */
const minuteTexts: string[] = new Array<string>(1440).fill('');

/** "YYYY-MM-DDTHH:MM" (":SS" only when not zero) of a local time given as ms since 1970 local. */
function formatLocal(local: number): string {
  const day = Math.floor(local / DAY);
  const t = Math.floor((local - day * DAY) / 1000);
  const s = t % 60;
  const minute = Math.floor(t / 60);
  let hm = minuteTexts[minute]!;
  if (hm === '') {
    hm = `T${pad2(Math.floor(minute / 60))}:${pad2(minute % 60)}`;
    minuteTexts[minute] = hm;
  }
  return s === 0 ? dateOfDay(day) + hm : `${dateOfDay(day)}${hm}:${pad2(s)}`;
}

/**
 * The wall-clock time ("YYYY-MM-DDTHH:MM", ":SS" only when not zero) of a UTC instant in `zone`,
 * the inverse of wallToUtcMs for times that exist. Uses the same per-day offsets, so expanding a
 * month of occurrences costs arithmetic, not a Temporal object per occurrence (measured: the
 * Temporal conversions were most of a month's expansion in Chromium).
 */
export function utcToWall(ms: number, zone: string): string {
  let guess = lastOffset.get(zone) ?? 0;
  for (let attempt = 0; attempt < 2; attempt++) {
    const day = Math.floor((ms + guess) / DAY);
    let off: number | null;
    try {
      off = offsetForDay(zone, day);
    } catch {
      off = null;
    }
    if (off === null) break;
    if (Math.floor((ms + off) / DAY) === day) {
      if (off !== guess) lastOffset.set(zone, off);
      return formatLocal(ms + off);
    }
    // The guess was a day off: try again from this day's offset (at most once more).
    if (off === guess) break;
    guess = off;
  }
  if (ms >= EXACT_FROM && ms < EXACT_TO) {
    try {
      return formatLocal(ms + offsetAt(zone, ms));
    } catch {
      // An unknown zone: Temporal says so below.
    }
  }
  const z = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone);
  const s = z.second;
  return `${z.toPlainDate().toString()}T${pad2(z.hour)}:${pad2(z.minute)}${s === 0 ? '' : `:${pad2(s)}`}`;
}

/**
 * UTC ms of a local date (day number) at a time of day (ms after midnight) when that day has one
 * offset throughout (so the time exists, once); undefined on a transition day (the caller goes
 * through wallToUtcMs then).
 */
export function plainDayToUtcMs(day: number, timeOfDayMs: number, zone: string): number | undefined {
  const off = offsetForDay(zone, day);
  return off === null ? undefined : day * DAY + timeOfDayMs - off;
}
