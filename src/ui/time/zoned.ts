// Wall-clock <-> instant conversion with IANA zones via Temporal: an event keeps its zone and wall time,
// so it stays at 09:00 local across DST; the display zone only changes where it is drawn.
import { Temporal } from 'temporal-polyfill';
import { dateOfDay, utcToWall, wallToUtcMs } from '../../worker/time.ts';

/** "YYYY-MM-DD" */
export type DateStr = string;
/** "YYYY-MM-DDTHH:MM" */
export type WallStr = string;

export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const WALL_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;

export class TimeInputError extends Error {
  override readonly name = 'TimeInputError';
}

/** A zone id the platform knows (Temporal throws RangeError on unknown ids). */
export function isValidZone(zone: string): boolean {
  if (zone === '') return false;
  try {
    Temporal.Now.instant().toZonedDateTimeISO(zone);
    return true;
  } catch {
    return false;
  }
}

export function deviceZone(): string {
  const z = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return z && isValidZone(z) ? z : 'UTC';
}

export function isDateStr(s: string): boolean {
  if (!DATE_RE.test(s)) return false;
  try {
    Temporal.PlainDate.from(s, { overflow: 'reject' });
    return true;
  } catch {
    return false;
  }
}

export function isWallStr(s: string): boolean {
  if (!WALL_RE.test(s)) return false;
  try {
    Temporal.PlainDateTime.from(s, { overflow: 'reject' });
    return true;
  } catch {
    return false;
  }
}

export function parseDate(s: DateStr): Temporal.PlainDate {
  if (!isDateStr(s)) throw new TimeInputError(`not a date (YYYY-MM-DD): ${JSON.stringify(s)}`);
  return Temporal.PlainDate.from(s);
}

export function parseWall(s: WallStr): Temporal.PlainDateTime {
  if (!isWallStr(s))
    throw new TimeInputError(`not a wall-clock time (YYYY-MM-DDTHH:MM): ${JSON.stringify(s)}`);
  return Temporal.PlainDateTime.from(s);
}

export function formatWall(dt: Temporal.PlainDateTime): WallStr {
  return dt.toString({ smallestUnit: 'minute' });
}

/**
 * Instant (epoch ms) of a wall-clock time in a zone. Nonexistent times (spring-forward gap) move
 * forward by the gap and ambiguous ones (fall-back overlap) take the earlier instant: the
 * 'compatible' disambiguation that RFC 5545 and every mainstream calendar use.
 * A date-only value means the start of that day in the zone (which is not always 00:00).
 */
export function wallToMs(wall: string, zone: string): number {
  if (isDateStr(wall)) {
    return parseDate(wall).toZonedDateTime({ timeZone: zone }).epochMilliseconds;
  }
  return parseWall(wall).toZonedDateTime(zone, { disambiguation: 'compatible' }).epochMilliseconds;
}

export function msToZoned(ms: number, zone: string): Temporal.ZonedDateTime {
  return Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone);
}

export function msToWall(ms: number, zone: string): WallStr {
  return formatWall(msToZoned(ms, zone).toPlainDateTime());
}

export function msToDate(ms: number, zone: string): DateStr {
  return msToZoned(ms, zone).toPlainDate().toString();
}

/**
 * Epoch ms of the start of a calendar day in a zone: its first instant (after a gap at midnight),
 * through the per-day offsets (src/worker/time.ts), not a Temporal zoned date: a month view asks
 * this for every all-day bar it draws.
 */
export function startOfDayMs(date: DateStr | Temporal.PlainDate, zone: string): number {
  const text = typeof date === 'string' ? date : date.toString();
  if (DATE_RE.test(text)) {
    const ms = wallToUtcMs(text, zone);
    if (ms !== undefined) return ms;
  }
  // Not a date (TimeInputError), a year past 9999, or an unknown zone (RangeError): as Temporal says.
  const d = typeof date === 'string' ? parseDate(date) : date;
  return d.toZonedDateTime({ timeZone: zone }).epochMilliseconds;
}

export function todayIn(zone: string): DateStr {
  return Temporal.Now.plainDateISO(zone).toString();
}

export function addDays(date: DateStr, days: number): DateStr {
  return parseDate(date).add({ days }).toString();
}

export function addMonths(date: DateStr, months: number): DateStr {
  return parseDate(date).add({ months }, { overflow: 'constrain' }).toString();
}

/** Whole days from a to b (b - a). */
export function daysBetween(a: DateStr, b: DateStr): number {
  return parseDate(a).until(parseDate(b), { largestUnit: 'days' }).days;
}

const MS_PER_DAY = 86_400_000;

/** Days since 1970-01-01 of a date; TimeInputError when it is not one (as parseDate). */
function dayOfDate(s: string): number {
  const ms = DATE_RE.test(s) ? wallToUtcMs(s, 'UTC') : undefined;
  if (ms === undefined) throw new TimeInputError(`not a date (YYYY-MM-DD): ${JSON.stringify(s)}`);
  return Math.round(ms / MS_PER_DAY);
}

/** Minutes since the wall-clock midnight of the zoned time (positions events on the 24-hour grid). */
export function minuteOfDay(z: Temporal.ZonedDateTime): number {
  return z.hour * 60 + z.minute;
}

/** Event times as the UI needs them: instants plus the date span in the display zone. */
export interface EventTimes {
  allDay: boolean;
  startMs: number;
  endMs: number;
  /** First day (display zone for timed events; the event's own dates for all-day ones). */
  firstDay: DateStr;
  /** Last day it touches, inclusive. */
  lastDay: DateStr;
}

export interface TimeFields {
  start: string;
  end: string;
  allDay: boolean;
  timeZone: string;
}

/**
 * All-day events are floating dates (a birthday is the 24th everywhere), so their days come from the
 * stored dates; timed events are instants drawn on the display zone's days. An end at exactly
 * midnight does not touch the next day.
 */
export function eventTimes(
  f: TimeFields,
  displayZone: string,
  known?: { startMs: number; endMs: number },
): EventTimes {
  if (f.allDay) {
    // Day numbers, not Temporal dates: a month view makes the times of every bar it draws.
    const first = dayOfDate(f.start.slice(0, 10));
    let endExcl = dayOfDate(f.end.slice(0, 10));
    if (endExcl <= first) endExcl = first + 1;
    return {
      allDay: true,
      startMs: startOfDayMs(dateOfDay(first), displayZone),
      endMs: startOfDayMs(dateOfDay(endExcl), displayZone),
      firstDay: dateOfDay(first),
      lastDay: dateOfDay(endExcl - 1),
    };
  }
  const startMs = known?.startMs ?? wallToMs(f.start, f.timeZone);
  let endMs = known?.endMs ?? wallToMs(f.end, f.timeZone);
  if (endMs < startMs) endMs = startMs;
  // Wall-clock dates through the per-day offsets (src/worker/time.ts): a month of 500 series is
  // ~8,000 events, and two Temporal objects each were most of drawing it (measured).
  const firstDay = utcToWall(startMs, displayZone).slice(0, 10);
  const e = utcToWall(endMs, displayZone);
  let last = e.slice(0, 10);
  // Exclusive end: 10:00-00:00 ends on the first day; a zero-length event still occupies its day.
  if (endMs > startMs && e.length === 16 && e.endsWith('T00:00'))
    last = new Date(Date.parse(`${last}T00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  if (last < firstDay) last = firstDay;
  return { allDay: false, startMs, endMs, firstDay, lastDay: last };
}

/**
 * How the UI writes dates and times ([UI-15]). The UI's language is English, so every date is
 * English too (never German month names beside English buttons); the browser's region picks
 * the English variant's conventions (en-DE: "27 November 2026", en-US: "November 27, 2026"),
 * and the clock (12- or 24-hour) comes from Settings. One locale for every string.
 */
export interface DisplayFormat {
  locale: string;
  hourCycle: 'h12' | 'h23';
}

/** English with the region of the browser's first language ("de-DE" -> "en-DE"), else "en-US". */
export function uiLocale(languages?: readonly string[]): string {
  const langs = languages ?? (typeof navigator === 'undefined' ? [] : navigator.languages);
  for (const tag of langs) {
    try {
      const region = new Intl.Locale(tag).maximize().region;
      if (!region) continue;
      const candidate = `en-${region}`;
      if (Intl.DateTimeFormat.supportedLocalesOf([candidate]).length > 0) return candidate;
    } catch {
      // A malformed tag: try the next one.
    }
  }
  return 'en-US';
}

/** The hour cycle a locale uses by default (the Settings default before the user chooses). */
export function localeHourCycle(locale?: string): 'h12' | 'h23' {
  try {
    const tag = locale ?? (typeof navigator === 'undefined' ? 'en-US' : navigator.language);
    const hc = new Intl.DateTimeFormat(tag, { hour: 'numeric' }).resolvedOptions().hourCycle;
    return hc === 'h11' || hc === 'h12' ? 'h12' : 'h23';
  } catch {
    return 'h12';
  }
}

let display: DisplayFormat = { locale: 'en-US', hourCycle: 'h12' };

export function setDisplayFormat(f: DisplayFormat): void {
  if (f.locale === display.locale && f.hourCycle === display.hourCycle) return;
  display = { ...f };
  fmtCache.clear();
}

export function displayFormat(): DisplayFormat {
  return display;
}

const fmtCache = new Map<string, Intl.DateTimeFormat>();
function fmt(zone: string, opts: Intl.DateTimeFormatOptions, locale?: string): Intl.DateTimeFormat {
  const key = `${locale ?? ''}|${zone}|${JSON.stringify(opts)}`;
  let f = fmtCache.get(key);
  if (!f) {
    const withClock = 'hour' in opts || 'timeStyle' in opts ? { hourCycle: display.hourCycle } : {};
    f = new Intl.DateTimeFormat(locale ?? display.locale, { ...opts, ...withClock, timeZone: zone });
    fmtCache.set(key, f);
  }
  return f;
}

/** A medium date and short time ("27 Nov 2026, 14:05"), for when something happened. */
export function formatDateTime(ms: number, zone?: string): string {
  return fmt(zone ?? deviceZone(), { dateStyle: 'medium', timeStyle: 'short' }).format(ms);
}

/** A range of calendar dates ("24–30 Nov 2026"). */
export function formatDateRange(first: DateStr, last: DateStr): string {
  const noon = (d: string) => Date.parse(`${d}T12:00:00Z`);
  return fmt('UTC', { month: 'short', day: 'numeric', year: 'numeric' }).formatRange(noon(first), noon(last));
}

export function formatTime(ms: number, zone: string, locale?: string): string {
  return fmt(zone, { hour: 'numeric', minute: '2-digit' }, locale).format(ms);
}

export function formatDateLong(date: DateStr, locale?: string): string {
  // Noon UTC formatted in UTC: the calendar date never shifts.
  return fmt('UTC', { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }, locale).format(
    Date.parse(`${date}T12:00:00Z`),
  );
}

/** Date without weekday name (used for accessible names that must not contain "day"). */
export function formatDateMedium(date: DateStr, locale?: string): string {
  return fmt('UTC', { year: 'numeric', month: 'long', day: 'numeric' }, locale).format(
    Date.parse(`${date}T12:00:00Z`),
  );
}

export function formatMonthYear(date: DateStr, locale?: string): string {
  return fmt('UTC', { year: 'numeric', month: 'long' }, locale).format(Date.parse(`${date}T12:00:00Z`));
}

export function formatWeekdayShort(date: DateStr, locale?: string): string {
  return fmt('UTC', { weekday: 'short' }, locale).format(Date.parse(`${date}T12:00:00Z`));
}

/** Short zone name at an instant, e.g. "CET", "GMT+1", "EDT". */
export function zoneAbbrev(ms: number, zone: string, locale?: string): string {
  const parts = fmt(zone, { timeZoneName: 'short' }, locale).formatToParts(ms);
  return parts.find((p) => p.type === 'timeZoneName')?.value ?? zone;
}

/**
 * Time label for a timed event in the display zone, plus the event's own wall time when its zone
 * differs in offset ("9:00 AM – 10:00 AM (3:00 PM – 4:00 PM CET, Europe/Berlin)").
 */
export function timeLabel(
  f: TimeFields,
  t: EventTimes,
  displayZone: string,
  locale?: string,
): { display: string; original?: string } {
  if (f.allDay) return { display: 'All day' };
  const display = `${formatTime(t.startMs, displayZone, locale)} – ${formatTime(t.endMs, displayZone, locale)}`;
  if (!zonesDiffer(f.timeZone, displayZone, t.startMs)) return { display };
  const original = `${formatTime(t.startMs, f.timeZone, locale)} – ${formatTime(t.endMs, f.timeZone, locale)} ${zoneAbbrev(t.startMs, f.timeZone, locale)}, ${f.timeZone}`;
  return { display, original };
}

/** Two zones differ for display when their offsets differ at the instant (Europe/Paris vs Berlin do not). */
export function zonesDiffer(a: string, b: string, ms: number): boolean {
  if (a === b) return false;
  try {
    return msToZoned(ms, a).offsetNanoseconds !== msToZoned(ms, b).offsetNanoseconds;
  } catch {
    return true;
  }
}

/** All IANA zones the platform lists (for the zone pickers), with the given ones first. */
export function zoneList(...first: string[]): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const all = intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : ['UTC'];
  const set = new Set<string>([...first.filter((z) => z !== ''), ...all, 'UTC']);
  return [...set];
}

/**
 * Shift a timed event by a wall-clock duration in its own zone (keyboard move by a day keeps 09:00
 * at 09:00 across DST), or by an absolute duration (drag/15-minute steps). Returns new wall strings.
 */
export function shiftEvent(
  f: TimeFields,
  by: { days?: number; minutes?: number },
): { start: string; end: string } {
  if (f.allDay) {
    const days = by.days ?? 0;
    return { start: addDays(f.start.slice(0, 10), days), end: addDays(f.end.slice(0, 10), days) };
  }
  const s = parseWall(f.start).add({ days: by.days ?? 0 });
  const e = parseWall(f.end).add({ days: by.days ?? 0 });
  if (!by.minutes) return { start: formatWall(s), end: formatWall(e) };
  const ms = by.minutes * MS_PER_MINUTE;
  const sMs = wallToMs(formatWall(s), f.timeZone) + ms;
  const eMs = wallToMs(formatWall(e), f.timeZone) + ms;
  return { start: msToWall(sMs, f.timeZone), end: msToWall(eMs, f.timeZone) };
}

/** Move a timed event so it starts at `newStartMs`, keeping its absolute duration; times in its own zone. */
export function moveToInstant(
  f: TimeFields,
  newStartMs: number,
  durationMs: number,
): { start: string; end: string } {
  return { start: msToWall(newStartMs, f.timeZone), end: msToWall(newStartMs + durationMs, f.timeZone) };
}
