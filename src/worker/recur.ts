// Expansion of a series into occurrences (docs/PROTOCOL.md RRULE-1) with rrule-temporal, in the
// series' own IANA zone. The library (~180 kB with its own Temporal polyfill) is loaded on first
// use by loadExpander(), so an app without repeating events never fetches it. Results are cached
// per series in time buckets, so redrawing a range costs lookups, not expansion.

import type { RRuleTemporal as RRuleTemporalType } from 'rrule-temporal';
import { Temporal } from 'temporal-polyfill';
import { canonicalWall } from '../engine/index.ts';
import { type FastInstance, type FastRule, fastRule } from './recur-fast.ts';
import { dateOfDay, utcToWall, wallToUtcMs } from './time.ts';

/** Days since 1970-01-01 of a "YYYY-MM-DD..." date. */
const dayNumber = (w: string): number =>
  Date.UTC(+w.slice(0, 4), +w.slice(5, 7) - 1, +w.slice(8, 10)) / 86_400_000;

/** The fields of an event that decide its occurrences. */
export interface SeriesInput {
  start: string;
  end: string;
  allDay: boolean;
  timeZone: string;
  rrule: string;
  rdates: readonly string[];
  exdates: readonly string[];
}

export interface Occurrence {
  /** Original start, canonical wall-clock (series zone) or date for all-day (SER-2). */
  recurrenceId: string;
  start: string;
  end: string;
  startMs: number;
  endMs: number;
  /**
   * The view a host's draw made of this occurrence and what it made it from (series-host.ts): a
   * slot here, not a Map entry per occurrence beside it. The expansion's cache keeps the
   * occurrence, so a redraw finds its view.
   */
  shownFrom?: object | undefined;
  shownAs?: unknown;
}

/**
 * A timed occurrence. Its end's wall-clock text is made when first read: a month's draw places
 * occurrences by their instants and reads the text of the ~150 it shows, not of all ~7,000
 * (ARCHITECTURE, "Drawing a month of repeating events": less allocated, time within noise).
 */
class TimedOccurrence implements Occurrence {
  readonly recurrenceId: string;
  readonly start: string;
  readonly startMs: number;
  readonly endMs: number;
  shownFrom: object | undefined = undefined;
  shownAs: unknown = undefined;
  #end: string | undefined = undefined;
  readonly #zone: string;

  constructor(wall: string, startMs: number, endMs: number, zone: string) {
    this.recurrenceId = wall;
    this.start = wall;
    this.startMs = startMs;
    this.endMs = endMs;
    this.#zone = zone;
  }

  get end(): string {
    this.#end ??= utcToWall(this.endMs, this.#zone);
    return this.#end;
  }

  /** As JSON, what an object with the same fields shows. */
  toJSON(): Omit<Occurrence, 'shownFrom' | 'shownAs'> {
    const { recurrenceId, start, end, startMs, endMs } = this;
    return { recurrenceId, start, end, startMs, endMs };
  }
}

/** A bucket without occurrences (shared: a stored bucket is never changed). */
const NONE: Occurrence[] = [];

export interface Expansion {
  /** Occurrences overlapping [fromMs, toMs), in start order, at most MAX_PER_QUERY. */
  between(fromMs: number, toMs: number): Occurrence[];
  /** The occurrence originally at `recurrenceId`, if the series has one. */
  at(recurrenceId: string): Occurrence | undefined;
  /** false when the rule could not be expanded (only DTSTART is shown then). */
  readonly ok: boolean;
}

export type Expander = (s: SeriesInput) => Expansion;

/** Bounded work per query: a SECONDLY rule over a month would be millions of instants. */
export const MAX_PER_QUERY = 1000;
const DAY = 86_400_000;
/** Week buckets of a direct expansion computed per call to the rule, at most (see fill). */
const RUN_MAX = 12;

type Lib = typeof import('rrule-temporal');
let lib: Promise<Lib> | undefined;

/** Loads rrule-temporal once (a separate chunk) and returns the expander. `fast: false` sends
 * every rule to the library (tests compare the two). */
export async function loadExpander(opts: { fast?: boolean } = {}): Promise<Expander> {
  lib ??= import('rrule-temporal');
  const { RRuleTemporal } = await lib;
  const fast = opts.fast !== false;
  return (s) => createExpansion(RRuleTemporal, s, fast);
}

/**
 * Expansion without the library, for series whose rule recur-fast.ts computes (most): undefined
 * for the others. Lets a cold start draw repeating events before rrule-temporal has loaded.
 */
export function expandFast(s: SeriesInput): Expansion | undefined {
  return fastRule(s) === undefined ? undefined : createExpansion(undefined, s, true);
}

const seriesKey = (s: SeriesInput): string =>
  [s.start, s.end, s.allDay, s.timeZone, s.rrule, s.rdates.join(','), s.exdates.join(',')].join('|');

/** A series object's key as last computed, with the fields it was computed from. */
interface Keyed extends SeriesInput {
  key: string;
  rdateCount: number;
  exdateCount: number;
}

/** The key of a series, reused while the object's fields are the same ones (by identity). */
function keyOf(known: WeakMap<SeriesInput, Keyed>, s: SeriesInput): string {
  const k = known.get(s);
  if (
    k !== undefined &&
    k.start === s.start &&
    k.end === s.end &&
    k.allDay === s.allDay &&
    k.timeZone === s.timeZone &&
    k.rrule === s.rrule &&
    k.rdates === s.rdates &&
    k.exdates === s.exdates &&
    k.rdateCount === s.rdates.length &&
    k.exdateCount === s.exdates.length
  )
    return k.key;
  const key = seriesKey(s);
  const { start, end, allDay, timeZone, rrule, rdates, exdates } = s;
  known.set(s, {
    start,
    end,
    allDay,
    timeZone,
    rrule,
    rdates,
    exdates,
    key,
    rdateCount: rdates.length,
    exdateCount: exdates.length,
  });
  return key;
}

/**
 * Wraps an expander so the same series (by its fields) reuses one Expansion and its cache. The
 * key of a series object is kept beside it (its fields checked by identity): building the key
 * text of each of 500 series on every draw was ~0.5 ms of a month draw (measured in Chromium).
 */
export function cachedExpander(expand: Expander, max = 5000): Expander {
  const cache = new Map<string, Expansion>();
  const known = new WeakMap<SeriesInput, Keyed>();
  return (s) => {
    const k = keyOf(known, s);
    let e = cache.get(k);
    if (e === undefined) {
      e = expand(s);
      if (cache.size >= max) cache.delete(cache.keys().next().value!);
      cache.set(k, e);
    }
    return e;
  };
}

/**
 * SECONDLY and MINUTELY rules are stepped with next() (the library jumps over gaps) and capped;
 * asking between() for a month of them would build millions of instants first.
 */
function stepping(
  rule: RRuleTemporalType,
  fromMs: number,
  toMs: number,
): { epochMilliseconds: number; toPlainDateTime(): { toString(): string } }[] {
  const out = [];
  let cursor: Date = new Date(fromMs);
  let inclusive = true;
  while (out.length < MAX_PER_QUERY) {
    const o = rule.next(cursor, inclusive);
    if (o === null || o.epochMilliseconds >= toMs) break;
    out.push(o);
    cursor = new Date(o.epochMilliseconds);
    inclusive = false;
  }
  return out;
}

/** Wall-clock of a library instant in `zone` (fast path through the per-day offsets). */
const toWall = (z: { epochMilliseconds: number }, zone: string, allDay: boolean): string =>
  allDay ? utcToWall(z.epochMilliseconds, 'UTC').slice(0, 10) : utcToWall(z.epochMilliseconds, zone);

function createExpansion(
  RRuleTemporal: Lib['RRuleTemporal'] | undefined,
  s: SeriesInput,
  useFast: boolean,
): Expansion {
  // All-day series are floating dates: expanded as dates (in UTC, where every midnight exists)
  // and placed at midnight of the event's zone, like single all-day events (UI-3).
  const zone = s.allDay ? 'UTC' : s.timeZone;
  const startMs = wallToUtcMs(s.start, s.timeZone);
  const endMs = wallToUtcMs(s.end, s.timeZone);
  const durMs = startMs !== undefined && endMs !== undefined ? Math.max(0, endMs - startMs) : 0;
  const days = s.allDay ? Math.max(0, dayNumber(s.end) - dayNumber(s.start)) || 0 : 0;
  const fast: FastRule | undefined = useFast && startMs !== undefined ? fastRule(s) : undefined;
  // Temporal objects only for the library (the direct expansion needs none).
  const dtstart = fast === undefined ? zdt(s.start, zone) : undefined;
  let rule: RRuleTemporalType | undefined;
  let ok = startMs !== undefined && (fast !== undefined || dtstart !== undefined);
  if (ok && fast === undefined) {
    try {
      rule = RRuleTemporal && buildRule(RRuleTemporal, s, dtstart!, zone);
    } catch {
      ok = false;
    }
    if (rule === undefined) ok = false;
  }

  const occurrence = (wall: string, knownMs?: number): Occurrence | undefined => {
    const oStart = knownMs ?? wallToUtcMs(wall, s.timeZone);
    if (oStart === undefined) return undefined;
    if (!s.allDay) return new TimedOccurrence(wall, oStart, oStart + durMs, s.timeZone);
    const end = dateOfDay(dayNumber(wall) + days);
    return {
      recurrenceId: wall,
      start: wall,
      end,
      startMs: oStart,
      endMs: wallToUtcMs(end, s.timeZone) ?? oStart,
      shownFrom: undefined,
      shownAs: undefined,
    };
  };

  const firstWall =
    fast !== undefined
      ? s.allDay
        ? s.start.slice(0, 10)
        : (canonicalWall(s.start) ?? s.start)
      : dtstart !== undefined
        ? toWall(dtstart, zone, s.allDay)
        : undefined;
  const first = firstWall === undefined ? undefined : occurrence(firstWall);
  const subDaily = /FREQ=(SECONDLY|MINUTELY)/.test(s.rrule);
  // Buckets of a week for direct expansion (a month's draw computes little beyond the month),
  // of a month for the library (each call walks from DTSTART).
  const width = subDaily ? DAY : fast !== undefined ? 7 * DAY : 32 * DAY;
  // Nothing occurs before DTSTART or the earliest Rdate: buckets before them are skipped.
  const earliest = Math.min(
    first?.startMs ?? Infinity,
    ...s.rdates.map((d) => wallToUtcMs(d, s.timeZone) ?? Infinity),
  );
  const buckets = new Map<number, Occurrence[]>();
  // RFC 5545 3.8.5.1: EXDATE removes from the whole set, RDATEs and DTSTART included (the
  // library leaves its rDate list alone).
  const exMs = new Set(s.exdates.map((d) => wallToUtcMs(d, zone)).filter((x) => x !== undefined));

  /** Occurrences whose start lies in bucket b (computed once). */
  function bucket(b: number): Occurrence[] {
    let got = buckets.get(b);
    if (got !== undefined) return got;
    got = [];
    // All-day rules run in UTC; widen by a day so every date of the bucket is seen.
    const pad = s.allDay ? DAY : 0;
    try {
      if (fast !== undefined) {
        for (const h of fast.between(b * width - pad, (b + 1) * width + pad, MAX_PER_QUERY)) {
          // Timed: the instant is the direct expansion's; all-day ones are placed in the zone.
          const o = occurrence(h.wall, s.allDay ? undefined : h.ms);
          if (o && o.startMs >= b * width && o.startMs < (b + 1) * width) got.push(o);
        }
      } else if (rule !== undefined) {
        const hits = subDaily
          ? stepping(rule, b * width, (b + 1) * width)
          : rule.between(new Date(b * width - pad), new Date((b + 1) * width + pad), true);
        for (const h of hits.slice(0, MAX_PER_QUERY)) {
          const w = toWall(h, zone, s.allDay);
          if (exMs.size > 0 && exMs.has(wallToUtcMs(w, zone) ?? Number.NaN)) continue;
          const o = occurrence(w);
          if (o && o.startMs >= b * width && o.startMs < (b + 1) * width) got.push(o);
        }
      }
    } catch {
      // A rule the library cannot finish (iteration caps): this bucket shows nothing more.
    }
    // A rule that cannot be expanded still shows its first occurrence: never silently nothing.
    const lone = rule === undefined && fast === undefined && first !== undefined;
    if (lone && first.startMs >= b * width && first.startMs < (b + 1) * width) got.push(first);
    store(b, got);
    return got;
  }

  function store(b: number, got: Occurrence[]): void {
    if (buckets.size >= 256) buckets.delete(buckets.keys().next().value!);
    buckets.set(b, got);
  }

  /**
   * Direct expansion: the buckets of [lo, hi] not computed yet, a run of consecutive ones per
   * call to the rule (a month's draw asks ~9 week buckets per series; one call each was mostly
   * the calls' own cost, measured in Chromium). Each bucket gets exactly what bucket() would
   * compute: the rule's instances do not depend on the window asked (at most one a day, so a
   * run of RUN_MAX weeks stays far below MAX_PER_QUERY; a run that reaches it is left to bucket()).
   */
  function fill(lo: number, hi: number): void {
    if (fast === undefined || hi - lo > 64) return;
    const pad = s.allDay ? DAY : 0;
    let b = lo;
    while (b <= hi) {
      if ((b + 1) * width <= earliest || buckets.has(b)) {
        b++;
        continue;
      }
      const b0 = b;
      while (b + 1 <= hi && b + 1 - b0 < RUN_MAX && !buckets.has(b + 1)) b++;
      // The run's occurrences in start order, then a list of exactly its own per bucket (not a
      // list per bucket grown by push, most of whose slots stayed empty).
      const all: Occurrence[] = [];
      const at: number[] = [];
      try {
        const hits: FastInstance[] = fast.between(b0 * width - pad, (b + 1) * width + pad, MAX_PER_QUERY);
        if (hits.length >= MAX_PER_QUERY) return;
        for (let i = 0; i < hits.length; i++) {
          const h = hits[i]!;
          const o = occurrence(h.wall, s.allDay ? undefined : h.ms);
          if (o === undefined) continue;
          const k = Math.floor(o.startMs / width) - b0;
          if (k < 0 || k > b - b0) continue;
          // Out of order (never: instances come ascending): left to bucket().
          if (at.length > 0 && k < at[at.length - 1]!) return;
          all.push(o);
          at.push(k);
        }
      } catch {
        // Left to bucket(), which shows what it can.
        return;
      }
      let j = 0;
      for (let k = 0; k <= b - b0; k++) {
        const from = j;
        while (j < at.length && at[j] === k) j++;
        store(b0 + k, from === j ? NONE : all.slice(from, j));
      }
      b++;
    }
  }

  return {
    ok,
    between(fromMs, toMs) {
      const out: Occurrence[] = [];
      // An occurrence that starts before the range may still overlap it.
      const lo = Math.floor((fromMs - durMs - days * DAY - DAY) / width);
      const hi = Math.floor((toMs - 1) / width);
      fill(lo, hi);
      for (let b = lo; b <= hi && out.length < MAX_PER_QUERY; b++) {
        if ((b + 1) * width <= earliest) continue;
        const got = bucket(b);
        for (let i = 0; i < got.length; i++) {
          const o = got[i]!;
          if (o.startMs < toMs && (o.endMs > fromMs || (o.endMs === o.startMs && o.startMs >= fromMs)))
            out.push(o);
        }
      }
      return out.length > MAX_PER_QUERY ? out.slice(0, MAX_PER_QUERY) : out;
    },
    at(recurrenceId) {
      const ms = wallToUtcMs(recurrenceId, s.timeZone);
      if (ms === undefined) return undefined;
      return bucket(Math.floor(ms / width)).find((o) => o.recurrenceId === recurrenceId);
    },
  };
}

/**
 * The library rule for a series. RFC 5545 3.8.5.3 makes DTSTART the first occurrence, counted
 * toward COUNT, even when the rule would not generate it; rrule-temporal's includeDtstart misses
 * some such cases (BYDAY=1TU with a Tuesday DTSTART), so that is done here: an off-rule DTSTART
 * becomes an RDATE and COUNT shrinks by one.
 */
function buildRule(
  RRuleTemporal: Lib['RRuleTemporal'],
  s: SeriesInput,
  dtstart: Temporal.ZonedDateTime,
  zone: string,
): RRuleTemporalType | undefined {
  let rr = s.rrule === '' ? 'FREQ=DAILY;COUNT=1' : utcUntil(s.rrule, s.allDay, s.timeZone);
  const common = { dtstart, tzid: zone };
  // A DTSTART in a DST gap was moved forward (RFC 5545 3.3.5), but later instances keep its
  // written time of day: the rule says so explicitly when it leaves the time to DTSTART.
  const written = s.start.length > 10 ? (canonicalWall(s.start) ?? s.start).slice(11) : '';
  if (!s.allDay && written !== '' && !toWall(dtstart, zone, false).endsWith(written)) {
    const daily = /FREQ=(DAILY|WEEKLY|MONTHLY|YEARLY)/.test(rr) && !/BY(HOUR|MINUTE|SECOND)=/.test(rr);
    const [h, m, sec] = written.split(':');
    if (daily) rr += `;BYHOUR=${+h!};BYMINUTE=${+m!};BYSECOND=${+(sec ?? 0)}`;
  }
  const base = new RRuleTemporal({ rruleString: rr, ...common });
  const firstHit = base.next(dtstart, true);
  const synced = firstHit !== null && firstHit.epochMilliseconds === dtstart.epochMilliseconds;
  const extra = s.rdates.map((d) => zdt(d, zone)).filter((d) => d !== undefined);
  if (!synced) {
    extra.push(dtstart);
    const count = /(^|;)COUNT=(\d+)/.exec(rr);
    if (count) {
      const n = Number(count[2]) - 1;
      // COUNT=1 with an off-rule DTSTART: DTSTART is the only instance.
      rr = n === 0 ? 'FREQ=DAILY;COUNT=1' : rr.replace(/(^|;)COUNT=\d+/, `$1COUNT=${n}`);
    }
  }
  const exDate = s.exdates.map((d) => zdt(d, zone)).filter((d) => d !== undefined);
  // The common case (the rule generates DTSTART, no RDATE/EXDATE) reuses the rule already built.
  if (extra.length === 0 && exDate.length === 0) return base;
  return new RRuleTemporal({ rruleString: rr, ...common, rDate: extra, exDate });
}

/**
 * The library wants UNTIL in UTC for a zoned DTSTART. A floating UNTIL is read in the series'
 * zone, a DATE UNTIL includes that whole day; all-day series run in UTC, so their UNTIL is
 * the end of its date there.
 */
function utcUntil(rrule: string, allDay: boolean, zone: string): string {
  const m = /(^|;)UNTIL=(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?/.exec(rrule);
  if (!m) return rrule;
  const [, , y, mo, d, h, mi, se, z] = m;
  let utc: string;
  if (allDay) utc = `${y}${mo}${d}T235959Z`;
  else if (z === 'Z') return rrule;
  else {
    const wall = h === undefined ? `${y}-${mo}-${d}T23:59:59` : `${y}-${mo}-${d}T${h}:${mi}:${se}`;
    const ms = wallToUtcMs(wall, zone);
    if (ms === undefined) return rrule;
    utc = `${new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
  }
  return rrule.replace(/(^|;)UNTIL=[^;]*/, `$1UNTIL=${utc}`);
}

function zdt(wall: string, zone: string): Temporal.ZonedDateTime | undefined {
  try {
    const pdt =
      wall.length === 10
        ? Temporal.PlainDate.from(wall, { overflow: 'reject' }).toPlainDateTime()
        : Temporal.PlainDateTime.from(wall, { overflow: 'reject' });
    return pdt.toZonedDateTime(zone, { disambiguation: 'compatible' });
  } catch {
    return undefined;
  }
}
