// TZID -> IANA zone. Files name zones in several ways: IANA ids (Google, Apple), Windows ids
// (Outlook: "W. Europe Standard Time", mapped by the Unicode CLDR table in windows-iana), legacy
// prefixed ids (Thunderbird: "/mozilla.org/20050126_1/Europe/Berlin"), or free text with only a
// VTIMEZONE to say what it means (Outlook: "(UTC+01:00) Amsterdam, Berlin, ..."). The last is
// matched by comparing the VTIMEZONE's offsets with every IANA zone's over the years used.

import ICAL from 'ical.js';
import { Temporal } from 'temporal-polyfill';
import { findIana } from 'windows-iana';

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
  const key = `${tzid}|${ctx.years.join('-')}|${ctx.prefer.join(',')}|${vt.toString().length}`;
  if (!resolved.has(key)) {
    if (resolved.size > 200) resolved.clear();
    resolved.set(key, matchVtimezone(tzid, vt, ctx));
  }
  return resolved.get(key);
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

function vtzOffset(tz: ICAL.Timezone, t: Temporal.PlainDateTime): number {
  const time = new ICAL.Time(
    { year: t.year, month: t.month, day: t.day, hour: t.hour, minute: 0, second: 0, isDate: false },
    tz,
  );
  return tz.utcOffset(time);
}

function matchVtimezone(tzid: string, vt: ICAL.Component, ctx: ZoneContext): string | undefined {
  let tz: ICAL.Timezone;
  try {
    tz = new ICAL.Timezone({ component: vt, tzid });
  } catch {
    return undefined;
  }
  const pts = samples(ctx.years);
  const want = pts.map((p) => vtzOffset(tz, p));
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
