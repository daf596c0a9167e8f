// The validated intermediate model of an iCalendar file (RFC 5545): what the importer hands to the
// app and what the exporter writes. Times are wall-clock times in an IANA zone, like the app's events.

/** Bounds for hostile or huge files: each is checked before the work it protects. */
export const ICS_LIMITS = {
  /** Largest file read (bytes). A 5,000-event Google export is ~2.5 MB. */
  maxBytes: 32 * 1024 * 1024,
  /** Most VEVENTs (series, overrides and single events together). */
  maxEvents: 50_000,
  /** Longest content line after unfolding (characters). */
  maxLineChars: 256 * 1024,
  /** Deepest BEGIN nesting (VCALENDAR > VEVENT > VALARM is 3). */
  maxDepth: 8,
  /**
   * Most VTIMEZONEs computed by their observances (those whose TZID names no known zone, e.g.
   * Outlook's "Customized Time Zone"): each costs up to ~0.1 s.
   */
  maxZones: 20,
  /** Most alarms kept per event. */
  maxAlarms: 8,
  /** Most RDATE or EXDATE values per event (the Rdates/Exdates registers hold 400). */
  maxDates: 400,
  /** Kept unknown properties per event (UTF-8 bytes): the app's text registers hold 8 KiB. */
  maxExtraBytes: 8 * 1024,
  /** Text fields (SUMMARY, LOCATION, DESCRIPTION) are cut to this many UTF-8 bytes (the register's 8 KiB). */
  maxTextBytes: 8 * 1024,
  /** Alarms further than this from the start are left out (the Alarms register's bounds). */
  minAlarm: -7 * 24 * 60,
  maxAlarm: 366 * 24 * 60,
} as const;

/** Properties the model carries or that export writes anew; everything else is kept in `extra`. */
export const MODELED: ReadonlySet<string> = new Set([
  'uid',
  'dtstamp',
  'last-modified',
  'dtstart',
  'dtend',
  'duration',
  'summary',
  'location',
  'description',
  'rrule',
  'rdate',
  'exdate',
  'recurrence-id',
]);

/** A malformed file: the first problem, with the 1-based line of the file where it is. */
export class IcsError extends Error {
  override readonly name = 'IcsError';
  constructor(
    readonly line: number,
    readonly detail: string,
  ) {
    super(line > 0 ? `line ${line}: ${detail}` : detail);
  }
}

export interface IcsEvent {
  /** The UID property (required by RFC 5545; files without one get a stable one derived from content). */
  uid: string;
  /** 1-based line of the event's BEGIN:VEVENT in the file. */
  line: number;
  /**
   * For an override of one occurrence (RECURRENCE-ID): the original start it replaces, as a
   * wall-clock time in the series' zone ("YYYY-MM-DD" for all-day series). null for a series or a
   * single event.
   */
  recurrenceId: string | null;
  title: string;
  location: string;
  notes: string;
  /** "YYYY-MM-DD" when allDay, else "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS", in timeZone. */
  start: string;
  /** Exclusive end, same format as start. */
  end: string;
  allDay: boolean;
  /** IANA zone id ("UTC" for UTC times). */
  timeZone: string;
  /** RRULE value, e.g. "FREQ=WEEKLY;BYDAY=MO", UNTIL in UTC ("Z") for timed series; null if none. */
  rrule: string | null;
  /** RDATE and EXDATE values as wall-clock times in timeZone (same format as start). */
  rdates: string[];
  exdates: string[];
  /** STATUS:CANCELLED (for an override: the occurrence is cancelled). */
  cancelled: boolean;
  /** Alarms as minutes before start (negative: after start; all-day: before 00:00 of the day). */
  alarms: number[];
  /** Properties and components the app does not model, as unfolded content lines joined by "\n". */
  extra: string;
}

export interface IcsCalendar {
  /** X-WR-CALNAME, or '' */
  name: string;
  /** X-WR-TIMEZONE (resolved to IANA), or '' */
  zone: string;
  events: IcsEvent[];
  /** Things that were adapted, not refused (cut texts, dropped oversized properties, zone guesses). */
  warnings: string[];
}

export interface ImportSummary {
  events: number;
  repeating: number;
  overrides: number;
  cancelled: number;
  /** First and last year of any start, or null when there are no events. */
  years: [number, number] | null;
}

export function summarize(cal: IcsCalendar): ImportSummary {
  let repeating = 0;
  let overrides = 0;
  let cancelled = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const ev of cal.events) {
    if (ev.recurrenceId !== null) overrides++;
    else if (ev.rrule !== null || ev.rdates.length > 0) repeating++;
    if (ev.cancelled) cancelled++;
    const y = Number(ev.start.slice(0, 4));
    if (y < lo) lo = y;
    if (y > hi) hi = y;
  }
  const events = cal.events.length - overrides;
  return { events, repeating, overrides, cancelled, years: cal.events.length === 0 ? null : [lo, hi] };
}
