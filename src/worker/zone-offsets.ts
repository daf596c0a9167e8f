// UTC offsets of an IANA zone per local day, from the platform's time zone data (Intl, the same
// data temporal-polyfill reads), found once per (zone, month): the offset is sampled every few
// days and each change is narrowed to the second by bisection. Asking Temporal for the offsets
// of one day cost ~60-250 µs in the polyfill (measured in Node), and a cold start over 500 series
// asks for ~1,000 different days; a month here costs ~5 Intl calls (plus ~20 per transition in
// it), after which every day of it is a lookup.

const DAY = 86_400_000;
const HOUR = 3_600_000;
/** Offsets lie within -12 h .. +14 h: a local day lies within this much of its UTC day. */
const REACH = 15 * HOUR;
/** Sampling step: no zone changes its offset and back within it. */
const STEP = 8 * DAY;

const formats = new Map<string, Intl.DateTimeFormat>();
const GMT = /GMT(?:([+-])(\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/** Offset of `zone` (ms to add to UTC) at instant `ms`, from Intl. Throws on an unknown zone. */
export function intlOffset(zone: string, ms: number): number {
  let f = formats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'longOffset' });
    formats.set(zone, f);
  }
  const text = f.format(ms);
  const m = GMT.exec(text);
  if (!m) throw new RangeError(`no offset in ${JSON.stringify(text)}`);
  if (m[1] === undefined) return 0;
  const abs = (+m[2]! * 3600 + +m[3]! * 60 + +(m[4] ?? 0)) * 1000;
  return m[1] === '-' ? -abs : abs;
}

interface Span {
  /** Offset at the start of the sampled span. */
  first: number;
  /** Transitions in the span: instant (first second of the new offset) and the new offset. */
  changes: { at: number; off: number }[];
}

/** Per zone, by month (no key text made per lookup: a first month draw looks up thousands). */
const spans = new Map<string, Map<number, Span>>();
const MAX_SPANS = 20_000;
let spanCount = 0;

/**
 * Transitions of `zone` in UTC month `mon` (months since 1970-01) and REACH either side: a day's
 * window [lo, hi] lies in the union of its months' spans, and the first of them starts before lo.
 * A month, not a year: drawing a month asks for about two months per zone, and most months have
 * no transition, so this costs ~5 Intl calls where a year cost ~50 plus the bisections of every
 * transition of the year (measured: the year tables were ~20 ms of a first month draw).
 */
function spanOf(zone: string, mon: number): Span {
  let months = spans.get(zone);
  if (months === undefined) {
    months = new Map();
    spans.set(zone, months);
  }
  let got = months.get(mon);
  if (got !== undefined) return got;
  const y = Math.floor(mon / 12);
  const m = mon - y * 12;
  const from = Date.UTC(y, m, 1) - REACH;
  const to = Date.UTC(y, m + 1, 1) + REACH;
  const first = intlOffset(zone, from);
  const changes: { at: number; off: number }[] = [];
  let prevT = from;
  let prevOff = first;
  for (let t = Math.min(from + STEP, to); prevT < to; t = Math.min(t + STEP, to)) {
    const off = intlOffset(zone, t);
    if (off !== prevOff) {
      // The change lies in (prevT, t]: narrow it to the second.
      let lo = prevT;
      let hi = t;
      while (hi - lo > 1000) {
        const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
        if (intlOffset(zone, mid) === prevOff) lo = mid;
        else hi = mid;
      }
      changes.push({ at: hi, off });
    }
    prevT = t;
    prevOff = off;
  }
  got = { first, changes };
  if (++spanCount > MAX_SPANS) {
    for (const m of spans.values()) m.clear();
    spanCount = 1;
  }
  months.set(mon, got);
  return got;
}

/**
 * Months since 1970-01 of the UTC instant `ms` (as Date's UTC year * 12 + month), by arithmetic:
 * no Date object per lookup (civil-from-days, H. Hinnant's algorithm).
 */
export function monthOf(ms: number): number {
  if (!(Math.abs(ms) <= 8.64e15)) return Number.NaN;
  // Date truncates a fractional time value toward zero.
  const z = Math.floor(Math.trunc(ms) / DAY) + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const m = mp < 10 ? mp + 2 : mp - 10;
  return (yoe + era * 400 + (m < 2 ? 1 : 0)) * 12 + m;
}

/**
 * The offset valid for the whole local day `day` (days since 1970-01-01 local), or null when a
 * transition falls near it (that day, and to be safe its neighbours, go through Temporal).
 */
export function plainDayOffset(zone: string, day: number): number | null {
  const lo = day * DAY - REACH;
  const hi = (day + 1) * DAY + REACH;
  const mLo = monthOf(lo);
  const mHi = monthOf(hi);
  let off: number | undefined;
  for (let mon = mLo; mon <= mHi; mon++) {
    const yr = spanOf(zone, mon);
    let cur = yr.first;
    for (const c of yr.changes) {
      if (c.at > lo && c.at <= hi) return null;
      if (c.at <= lo) cur = c.off;
    }
    if (off === undefined) off = cur;
  }
  return off ?? null;
}

/** Per zone: the days near a transition found so far (ascending), over the days [lo, hi]. */
const nearTransitions = new Map<string, { lo: number; hi: number; days: number[] }>();

/**
 * The local days in [fromDay, toDay] that have a transition of `zone` near them: every day
 * plainDayOffset answers null for (and a neighbour or two). Only on these can a wall time fail
 * to exist, so a rule's instances elsewhere can be counted without computing them (recur-fast.ts).
 * Kept per zone: the series of a calendar share a few zones and ask about the same years.
 */
export function transitionDays(zone: string, fromDay: number, toDay: number): number[] {
  if (!(toDay >= fromDay)) return [];
  let known = nearTransitions.get(zone);
  if (known === undefined || fromDay < known.lo || toDay > known.hi) {
    const lo = Math.min(fromDay, known?.lo ?? fromDay);
    const hi = Math.max(toDay, known?.hi ?? toDay);
    // Spans the whole range again (a few months of it are new): the month tables are cached.
    const days: number[] = [];
    const last = monthOf((hi + 1) * DAY + REACH);
    for (let mon = monthOf(lo * DAY - REACH); mon <= last; mon++)
      for (const c of spanOf(zone, mon).changes) {
        const top = Math.min(hi, Math.floor((c.at + REACH) / DAY) + 1);
        for (let d = Math.max(lo, Math.floor((c.at - REACH) / DAY) - 1); d <= top; d++)
          if (!days.includes(d)) days.push(d);
      }
    days.sort((a, b) => a - b);
    known = { lo, hi, days };
    if (nearTransitions.size >= 1000) nearTransitions.clear();
    nearTransitions.set(zone, known);
  }
  return known.days.filter((d) => d >= fromDay && d <= toDay);
}

/** The offset of `zone` (ms to add to UTC) at instant `ms`, from the month tables. */
export function offsetAt(zone: string, ms: number): number {
  const span = spanOf(zone, monthOf(ms));
  let off = span.first;
  for (const c of span.changes) if (c.at <= ms) off = c.off;
  return off;
}

/**
 * The UTC instant of a local time (ms since 1970 on the zone's wall clock) as Temporal's
 * 'compatible' disambiguation gives it: the instant whose offset makes that local time, the
 * earlier one when there are two (fall-back overlap), and in a spring-forward gap the local time
 * read with the offset from before the gap (so it moves forward by the gap). For days with a
 * transition, which used to go through Temporal (~1,000 such instants in a month of 500 series
 * drawn across both autumn changes, most of the remaining Temporal cost, measured in Chromium).
 */
export function localToUtc(zone: string, local: number): number {
  const lo = local - REACH;
  const hi = local + REACH;
  // Offsets in effect over [lo, hi], in time order, each from the instant it starts.
  const offs = [offsetAt(zone, lo)];
  const from = [Number.NEGATIVE_INFINITY];
  for (let mon = monthOf(lo); mon <= monthOf(hi); mon++)
    for (const c of spanOf(zone, mon).changes)
      if (c.at > lo && c.at <= hi && c.at > from[from.length - 1]!) {
        offs.push(c.off);
        from.push(c.at);
      }
  for (let i = 0; i < offs.length; i++) {
    const t = local - offs[i]!;
    if (t >= from[i]! && (i + 1 === offs.length || t < from[i + 1]!)) return t;
  }
  // A gap: the transition whose skipped local times hold it.
  for (let i = 0; i + 1 < offs.length; i++)
    if (local - offs[i]! >= from[i + 1]! && local - offs[i + 1]! < from[i + 1]!) return local - offs[i]!;
  return local - offs[0]!;
}
