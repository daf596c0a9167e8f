// TZID -> IANA zone. Files name zones in several ways: IANA ids (Google, Apple), Windows ids
// (Outlook: "W. Europe Standard Time", mapped by the Unicode CLDR table in windows-iana), legacy
// prefixed ids (Thunderbird: "/mozilla.org/20050126_1/Europe/Berlin"), or free text with only a
// VTIMEZONE to say what it means (Outlook: "(UTC+01:00) Amsterdam, Berlin, ..."). The last is
// matched by comparing the VTIMEZONE's offsets with every IANA zone's over the years used.

import ICAL from 'ical.js';
import { Temporal } from 'temporal-polyfill';
import { findIana } from 'windows-iana';
import { ICS_LIMITS } from './model.ts';

const canonical = new Map<string, string | undefined>();

/** The canonical IANA id Temporal knows for `id`, or undefined. Offsets like "+01:00" are refused. */
export function canonicalZone(id: string): string | undefined {
  // Every DTSTART with a TZID asks: answered from a bounded cache (Temporal's lookup is slow).
  if (canonical.has(id)) return canonical.get(id);
  const z = lookupZone(id);
  if (canonical.size > 1000) canonical.clear();
  canonical.set(id, z);
  return z;
}

function lookupZone(id: string): string | undefined {
  if (id === '' || id.length > 64 || /^[+-]/.test(id)) return undefined;
  if (/^(z|utc|gmt|etc\/utc|etc\/gmt|universal|zulu)$/i.test(id)) return 'UTC';
  try {
    const z = Temporal.Now.zonedDateTimeISO(id).timeZoneId;
    // The app's zone register accepts ids of this shape only (src/engine/calendar.ts).
    return /^(UTC|[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2})$/.test(z) ? z : undefined;
  } catch {
    return undefined;
  }
}

/** Names a TZID may be, most likely first (the Windows table is only read when the others fail). */
function* nameCandidates(tzid: string): Generator<string> {
  const t = tzid.trim().replace(/^"|"$/g, '');
  yield t;
  const path = /([A-Za-z_]+\/[A-Za-z0-9_+-]+(?:\/[A-Za-z0-9_+-]+)?)$/.exec(t);
  if (path) yield path[1]!;
  let windows: string[] = [];
  try {
    windows = findIana(t);
  } catch {
    // Not a Windows id.
  }
  yield* windows;
}

export interface ZoneContext {
  /** VTIMEZONE components of the file by TZID. */
  vtimezones: Map<string, ICAL.Component>;
  /** Zones to prefer when several match a VTIMEZONE (X-WR-TIMEZONE, the device's zone). */
  prefer: string[];
  /** Years the file's events span (for matching offsets). */
  years: [number, number];
  /** Answers already found for this file (one TZID is named by thousands of properties). */
  cache: Map<string, string | undefined>;
  /** VTIMEZONEs of the file loaded into ical.js by TZID, or why one cannot be (see fileZoneOffset). */
  loaded: Map<string, LoadedZone | string>;
}

const resolved = new Map<string, string | undefined>();

/** The IANA zone a TZID stands for, or undefined when neither its name nor its VTIMEZONE tells. */
export function resolveTzid(tzid: string, ctx: ZoneContext): string | undefined {
  const key = `${tzid}\n${ctx.prefer.join(',')}`;
  if (ctx.cache.has(key)) return ctx.cache.get(key);
  const z = resolveUncached(tzid, ctx);
  ctx.cache.set(key, z);
  return z;
}

function resolveUncached(tzid: string, ctx: ZoneContext): string | undefined {
  for (const c of nameCandidates(tzid)) {
    const z = canonicalZone(c);
    if (z !== undefined) return z;
  }
  const vt = ctx.vtimezones.get(tzid);
  if (vt === undefined) return undefined;
  // Shared across files (matching costs ~20 ms): keyed by the whole VTIMEZONE. Its length alone
  // let one file's "Customized Time Zone" (+02:00/+03:00) answer for another's (+01:00/+02:00).
  const text = vt.toString();
  if (text.length > 16 * 1024) return matchVtimezone(tzid, ctx);
  const key = `${tzid}|${ctx.years.join('-')}|${ctx.prefer.join(',')}|${text}`;
  if (resolved.has(key)) return resolved.get(key);
  const z = matchVtimezone(tzid, ctx);
  // Not kept when ical.js could not compute it: that may be this file's limit (maxZones).
  if (typeof ctx.loaded.get(tzid) !== 'string') {
    if (resolved.size > 200) resolved.clear();
    resolved.set(key, z);
  }
  return z;
}

/** Local sample times: the 1st, 8th, 15th and 22nd of each month at 12:00 of up to 3 years. */
function samples(years: [number, number]): Temporal.PlainDateTime[] {
  const now = Temporal.Now.plainDateISO().year;
  const ys = [...new Set([years[0], Math.min(Math.max(now, years[0]), years[1]), years[1]])];
  const out: Temporal.PlainDateTime[] = [];
  for (const year of ys)
    for (let month = 1; month <= 12; month++)
      for (const day of [1, 8, 15, 22]) out.push(new Temporal.PlainDateTime(year, month, day, 12));
  return out;
}

function ianaOffset(zone: string, t: Temporal.PlainDateTime): number {
  return t.toZonedDateTime(zone).offsetNanoseconds / 1e9;
}

function matchVtimezone(tzid: string, ctx: ZoneContext): string | undefined {
  const pts = samples(ctx.years);
  const want: number[] = [];
  for (const p of pts) {
    const o = fileZoneOffset(tzid, p.with({ minute: 0, second: 0 }), ctx);
    // A VTIMEZONE ical.js cannot compute matches no zone (readMoment then says why).
    if (typeof o === 'string') return undefined;
    want.push(o);
  }
  const jan = 0;
  const jul = 24;
  const all = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
  // Cheap filter first (two samples), then every sample on the few that remain.
  const words = tzid
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter((w) => w.length > 3);
  const ranked = [
    ...ctx.prefer,
    ...all.filter((z) => words.some((w) => z.toLowerCase().includes(w))),
    ...all,
  ];
  for (const zone of ranked) {
    const z = canonicalZone(zone);
    if (z === undefined) continue;
    if (ianaOffset(z, pts[jan]!) !== want[jan] || ianaOffset(z, pts[jul]!) !== want[jul]) continue;
    if (pts.every((p, i) => ianaOffset(z, p) === want[i])) return z;
  }
  return undefined;
}

/**
 * A VTIMEZONE of the file in ical.js: `tz` answers offsets up to the year `covered`; `changes(y)`
 * is at most how many offset changes ical.js computes to answer up to the year y.
 */
export interface LoadedZone {
  tz: ICAL.Timezone;
  covered: number;
  changes: (toYear: number) => number;
}

/**
 * Most offset changes ical.js may compute for one VTIMEZONE (two a year from 1601 to 2100 are
 * ~1,000). ical.js expands every observance from its DTSTART up to the year asked (plus 5) with no
 * bound of its own: "RRULE:FREQ=SECONDLY" from 1601 ran out of memory, and
 * "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30" never ends. So only yearly rules are handed to it, and only
 * up to a year whose changes stay under this bound.
 */
const MAX_CHANGES = 10_000;

/**
 * The UTC offset (seconds) the file's VTIMEZONE `tzid` gives the wall time `t`, or why it cannot
 * be computed (a value ical.js cannot read, a rule it cannot expand within bounds). Each VTIMEZONE
 * is loaded once per file (expanding it again for each time named was ~15 ms a time).
 */
export function fileZoneOffset(tzid: string, t: Temporal.PlainDateTime, ctx: ZoneContext): number | string {
  let z = ctx.loaded.get(tzid);
  if (z === undefined) {
    z = loadZone(tzid, ctx);
    ctx.loaded.set(tzid, z);
  }
  if (typeof z === 'string') return z;
  try {
    if (t.year > z.covered) {
      // ical.js expands every observance again for a later year (adding to what it had): done
      // once, up to the last year there is.
      if (z.changes(9999) > MAX_CHANGES) return tooMany(t.year);
      z.covered = 9999;
      offsetAt(z.tz, 9999);
    }
    return offsetAt(z.tz, t.year, t);
  } catch (e) {
    return `ical.js cannot read it (${e instanceof Error ? e.message.slice(0, 80) : String(e)})`;
  }
}

/** The offset `tz` gives (seconds), at `t` or at the start of `year`; throws what ical.js throws. */
function offsetAt(tz: ICAL.Timezone, year: number, t?: Temporal.PlainDateTime): number {
  const time = new ICAL.Time(
    {
      year,
      month: t?.month ?? 1,
      day: t?.day ?? 1,
      hour: t?.hour ?? 0,
      minute: t?.minute ?? 0,
      second: t?.second ?? 0,
      isDate: false,
    },
    tz,
  );
  const o = tz.utcOffset(time);
  if (!Number.isFinite(o)) throw new Error('no offset');
  return o;
}

const thisYear = () => new Date().getFullYear();
const tooMany = (year: number) =>
  `its rules give more than ${MAX_CHANGES} offset changes up to the year ${year}`;

function loadZone(tzid: string, ctx: ZoneContext): LoadedZone | string {
  const vt = ctx.vtimezones.get(tzid);
  if (vt === undefined) return 'it is not defined in the file';
  if ([...ctx.loaded.values()].filter((z) => typeof z !== 'string').length >= ICS_LIMITS.maxZones)
    return `the file defines more than ${ICS_LIMITS.maxZones} time zones that are not known by name`;
  const rules: { from: number; until: number; perYear: number; count: number }[] = [];
  let fixed = 0;
  for (const [, props] of (vt.jCal as [string, unknown[], [string, unknown[][], unknown[]][]])[2]) {
    const prop = (name: string) => props.find((p) => p[0] === name);
    if (!prop('dtstart') || !prop('tzoffsetfrom') || !prop('tzoffsetto')) continue; // ical.js skips these
    const rrule = prop('rrule');
    if (rrule === undefined) {
      fixed += Math.max(1, props.filter((p) => p[0] === 'rdate').length);
      continue;
    }
    fixed += props.filter((p) => p[0] === 'rdate').length;
    const start = /^(\d{4})-\d\d-\d\dT\d\d:\d\d:\d\dZ?$/.exec(String(prop('dtstart')![3]));
    if (!start) return 'an observance has no valid DTSTART';
    const rule = rrule[3] as Record<string, unknown>;
    if (typeof rule !== 'object' || rule === null || rule['freq'] !== 'YEARLY')
      return 'an observance repeats other than yearly';
    const list = (k: string) => {
      const v = rule[k];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    };
    // Days a year the rule can give, at most (ical.js takes only the first BYHOUR/BYMINUTE/BYSECOND).
    const byDay = list('byday').reduce<number>((n, d) => n + (/\d/.test(String(d)) ? 1 : 5), 0);
    const monthDays = list('bymonthday').length;
    let perYear: number;
    if (list('byyearday').length > 0) perYear = list('byyearday').length;
    else if (list('byweekno').length > 0) perYear = 7 * list('byweekno').length;
    else {
      const perMonth = monthDays > 0 && byDay > 0 ? Math.min(monthDays, byDay) : monthDays || byDay || 1;
      perYear = (list('bymonth').length || (monthDays > 0 || byDay > 0 ? 12 : 1)) * perMonth;
    }
    const until = /^(\d{4})-/.exec(String(rule['until'] ?? ''));
    const count = Number(rule['count']);
    rules.push({
      from: Number(start[1]),
      until: until ? Number(until[1]) : 9999,
      perYear,
      count: count > 0 ? count : Number.POSITIVE_INFINITY,
    });
  }
  const changes = (toYear: number) => {
    const last = Math.max(toYear, thisYear()) + 5;
    let n = fixed;
    for (const r of rules)
      n += Math.min(r.count, r.perYear * Math.max(0, Math.min(r.until, last) - r.from + 1));
    return n;
  };
  // Expanded once, up to the last year an event starts in (ical.js adds 5): later years are rare.
  const covered = Math.max(ctx.years[1], thisYear());
  if (changes(covered) > MAX_CHANGES) return tooMany(covered);
  try {
    const tz = new ICAL.Timezone({ component: vt, tzid });
    offsetAt(tz, covered);
    return { tz, covered, changes };
  } catch (e) {
    return `ical.js cannot read it (${e instanceof Error ? e.message.slice(0, 80) : String(e)})`;
  }
}
