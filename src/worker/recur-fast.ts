// Direct expansion of the common rules (docs/PROTOCOL.md RRULE-2): FREQ=DAILY/WEEKLY/MONTHLY/
// YEARLY with INTERVAL, COUNT, UNTIL, WKST, BYMONTH, BYMONTHDAY and BYDAY in the shapes the
// repeat editor and the usual exports write, computed on day numbers and the zone's per-day
// offsets. rrule-temporal walks every rule from DTSTART and builds Temporal objects for each
// step: a daily series begun three years ago cost ~0.2 ms per month drawn (500 series: the
// whole 20 ms budget ten times over, measured in Chromium). Here an open-ended rule jumps to the
// period that holds the range. Anything else (BYSETPOS, BYYEARDAY, BYWEEKNO, BYHOUR..., a
// DTSTART in a DST gap, a very large COUNT) returns undefined and goes to the library.
// recur-fast.test.ts compares both on random rules, zones and DST dates.

import { canonicalWall, parseRRule, type RRuleParts, WEEKDAYS } from '../engine/index.ts';
import { dateOfDay, plainDayToUtcMs, utcToWall, wallToUtcMs } from './time.ts';
import { transitionDays } from './zone-offsets.ts';

const DAY = 86_400_000;
/** COUNT rules are enumerated from DTSTART once and kept; past this the library does it. */
const MAX_COUNT = 5000;
/** Periods in a row without an instance before a query gives up (BYMONTHDAY=30;BYMONTH=2). */
const MAX_EMPTY = 2000;

export interface FastInstance {
  /** Wall-clock start (series zone) or date (all-day): the occurrence's RecurrenceId. */
  wall: string;
  ms: number;
}

export interface FastRule {
  /** Instances (RDATEs included, EXDATEs removed) starting in [fromMs, toMs), ascending. */
  between(fromMs: number, toMs: number, max: number): FastInstance[];
}

interface Civil {
  y: number;
  m: number;
  d: number;
}
const dayNum = (y: number, m: number, d: number): number => Date.UTC(y, m - 1, d) / DAY;
function civil(day: number): Civil {
  const t = new Date(day * DAY);
  return { y: t.getUTCFullYear(), m: t.getUTCMonth() + 1, d: t.getUTCDate() };
}
/** 0 = Monday ... 6 = Sunday (WEEKDAYS order). */
const weekday = (day: number): number => (((day + 3) % 7) + 7) % 7;
const daysIn = (y: number, m: number): number => new Date(Date.UTC(y, m, 0)).getUTCDate();

/** Whether the library is needed: only the shapes below are computed here. */
function supported(p: RRuleParts): boolean {
  if (!['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'].includes(p.freq)) return false;
  if (p.bySetPos || p.byYearDay || p.byWeekNo || p.byHour || p.byMinute || p.bySecond) return false;
  if ((p.count ?? 0) > MAX_COUNT) return false;
  const ordinal = p.byDay?.some((d) => d.n !== 0) ?? false;
  if (p.freq === 'MONTHLY' && p.byDay && p.byMonthDay) return false;
  if (p.freq === 'YEARLY' && p.byDay && (!p.byMonth || p.byMonthDay)) return false;
  if (ordinal && p.freq !== 'MONTHLY' && p.freq !== 'YEARLY') return false;
  return true;
}

/** The days of one month that BYDAY names (n-th, n-th from the end, or every such weekday). */
function byDayInMonth(p: RRuleParts, y: number, m: number): number[] {
  const first = dayNum(y, m, 1);
  const len = daysIn(y, m);
  const out: number[] = [];
  for (const b of p.byDay!) {
    const wd = WEEKDAYS.indexOf(b.day);
    const firstHit = first + ((wd - weekday(first) + 7) % 7);
    if (b.n === 0) for (let d = firstHit; d < first + len; d += 7) out.push(d);
    else if (b.n > 0) {
      const d = firstHit + 7 * (b.n - 1);
      if (d < first + len) out.push(d);
    } else {
      const last = first + len - 1;
      const d = last - ((weekday(last) - wd + 7) % 7) + 7 * (b.n + 1);
      if (d >= first) out.push(d);
    }
  }
  return out;
}

function monthDays(list: readonly number[], y: number, m: number): number[] {
  const len = daysIn(y, m);
  const out: number[] = [];
  for (const n of list) {
    const d = n > 0 ? n : len + n + 1;
    if (d >= 1 && d <= len) out.push(dayNum(y, m, d));
  }
  return out;
}

/** Candidate days of period k, ascending and distinct, before the DTSTART cut. */
function periods(p: RRuleParts, d0: number): (k: number) => number[] {
  const iv = p.interval ?? 1;
  const c0 = civil(d0);
  const byWd = p.byDay?.map((b) => WEEKDAYS.indexOf(b.day));
  const byMonth = p.byMonth;
  const inMonth = (d: number) => byMonth === undefined || byMonth.includes(civil(d).m);
  const tidy = (days: number[]) => (days.length <= 1 ? days : [...new Set(days)].sort((a, b) => a - b));
  switch (p.freq) {
    case 'DAILY':
      return (k) => {
        const d = d0 + k * iv;
        if (byWd && !byWd.includes(weekday(d))) return [];
        if (byMonth === undefined && p.byMonthDay === undefined) return [d];
        const c = civil(d);
        if (byMonth && !byMonth.includes(c.m)) return [];
        if (p.byMonthDay && !monthDays(p.byMonthDay, c.y, c.m).includes(d)) return [];
        return [d];
      };
    case 'WEEKLY': {
      const wkst = WEEKDAYS.indexOf(p.wkst ?? 'MO');
      const w0 = d0 - ((weekday(d0) - wkst + 7) % 7);
      const offsets = tidy((byWd ?? [weekday(d0)]).map((wd) => (wd - wkst + 7) % 7));
      return (k) => {
        const start = w0 + 7 * k * iv;
        const out = offsets.map((o) => start + o);
        return byMonth === undefined ? out : out.filter(inMonth);
      };
    }
    case 'MONTHLY':
      return (k) => {
        const idx = c0.y * 12 + (c0.m - 1) + k * iv;
        const y = Math.floor(idx / 12);
        const m = (idx % 12) + 1;
        if (byMonth && !byMonth.includes(m)) return [];
        return tidy(p.byDay ? byDayInMonth(p, y, m) : monthDays(p.byMonthDay ?? [c0.d], y, m));
      };
    default: {
      const months = byMonth ?? (p.byMonthDay ? [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] : [c0.m]);
      return (k) => {
        const y = c0.y + k * iv;
        const out: number[] = [];
        for (const m of months) {
          if (p.byDay) out.push(...byDayInMonth(p, y, m));
          else out.push(...monthDays(p.byMonthDay ?? [c0.d], y, m));
        }
        return tidy(out);
      };
    }
  }
}

/** The first day of period k (no instance of period k is earlier). */
function periodStart(p: RRuleParts, d0: number, k: number, c0: Civil): number {
  const iv = p.interval ?? 1;
  switch (p.freq) {
    case 'DAILY':
      return d0 + k * iv;
    case 'WEEKLY': {
      const wkst = WEEKDAYS.indexOf(p.wkst ?? 'MO');
      return d0 - ((weekday(d0) - wkst + 7) % 7) + 7 * k * iv;
    }
    case 'MONTHLY': {
      const idx = c0.y * 12 + (c0.m - 1) + k * iv;
      return dayNum(Math.floor(idx / 12), (idx % 12) + 1, 1);
    }
    default:
      return dayNum(c0.y + k * iv, 1, 1);
  }
}

/** The first period that can hold `day` (0 when DTSTART's period is later). */
function periodOf(p: RRuleParts, d0: number, day: number): number {
  const iv = p.interval ?? 1;
  const c0 = civil(d0);
  const c = civil(day);
  let k: number;
  switch (p.freq) {
    case 'DAILY':
      k = Math.floor((day - d0) / iv);
      break;
    case 'WEEKLY': {
      const wkst = WEEKDAYS.indexOf(p.wkst ?? 'MO');
      const w0 = d0 - ((weekday(d0) - wkst + 7) % 7);
      k = Math.floor((day - w0) / (7 * iv));
      break;
    }
    case 'MONTHLY':
      k = Math.floor((c.y * 12 + c.m - (c0.y * 12 + c0.m)) / iv);
      break;
    default:
      k = Math.floor((c.y - c0.y) / iv);
  }
  return Math.max(0, k);
}

/** UNTIL as a UTC instant, read as recur.ts reads it for the library (utcUntil). */
function untilMs(until: string | undefined, allDay: boolean, zone: string): number | undefined {
  if (until === undefined) return undefined;
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?$/.exec(until);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, se, z] = m;
  if (allDay) return Date.UTC(+y!, +mo! - 1, +d!, 23, 59, 59);
  if (z === 'Z') return Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +se!);
  const wall = h === undefined ? `${y}-${mo}-${d}T23:59:59` : `${y}-${mo}-${d}T${h}:${mi}:${se}`;
  return wallToUtcMs(wall, zone);
}

export interface FastInput {
  start: string;
  allDay: boolean;
  timeZone: string;
  rrule: string;
  rdates: readonly string[];
  exdates: readonly string[];
}

/** The direct expansion of a series, or undefined when its rule needs the library. */
export function fastRule(s: FastInput): FastRule | undefined {
  const parsed = s.rrule === '' ? ({ freq: 'DAILY', count: 1 } as RRuleParts) : parseRRule(s.rrule);
  if (parsed === undefined || !supported(parsed)) return undefined;
  const p = parsed;
  const zone = s.allDay ? 'UTC' : s.timeZone;
  const startWall = s.allDay ? s.start.slice(0, 10) : canonicalWall(s.start);
  if (startWall === undefined || (s.allDay && s.start.length !== 10)) return undefined;
  const startMs = wallToUtcMs(startWall, zone);
  // A DTSTART in a gap moves forward and later instances keep its written time: the library's.
  if (startMs === undefined || (!s.allDay && utcToWall(startMs, zone) !== startWall)) return undefined;
  const time = s.allDay ? '' : startWall.slice(10);
  const d0 = dayNum(+startWall.slice(0, 4), +startWall.slice(5, 7), +startWall.slice(8, 10));
  const until = untilMs(p.until, s.allDay, s.timeZone);
  if (p.until !== undefined && until === undefined) return undefined;

  const ex = new Set<number>();
  for (const d of s.exdates) {
    const ms = wallToUtcMs(d, zone);
    if (ms !== undefined) ex.add(ms);
  }
  const extra: FastInstance[] = [];
  for (const d of s.rdates) {
    const ms = wallToUtcMs(d, zone);
    if (ms !== undefined) extra.push({ ms, wall: s.allDay ? d.slice(0, 10) : utcToWall(ms, zone) });
  }

  /** The instant of a candidate day, or undefined when its wall time does not exist. */
  const tod = s.allDay
    ? 0
    : (+time.slice(1, 3) * 60 + +time.slice(4, 6)) * 60_000 + +(time.slice(7, 9) || 0) * 1000;
  const instantOf = (day: number): number | undefined => {
    // A day with one offset throughout: plain arithmetic. A transition day: the exact way.
    const plain = plainDayToUtcMs(day, tod, zone);
    if (plain !== undefined) return plain;
    const wall = dateOfDay(day) + time;
    const ms = wallToUtcMs(wall, zone);
    return ms === undefined || (!s.allDay && utcToWall(ms, zone) !== wall) ? undefined : ms;
  };
  const sorted = periods(p, d0);
  const c0 = civil(d0);
  const iv = p.interval ?? 1;
  const everyDay =
    p.freq === 'DAILY' && !p.byDay && p.byMonth === undefined && p.byMonthDay === undefined && iv >= 1;

  // RFC 5545 3.8.5.3: DTSTART is the first instance and counts toward COUNT even off the rule.
  const synced = sorted(0).includes(d0);
  // (Even past UNTIL: the first instance is DTSTART's, as the library has it.)
  let count = p.count;
  extra.push({ ms: startMs, wall: startWall });
  if (!synced && count !== undefined) count -= 1;
  extra.sort((a, b) => a.ms - b.ms);

  /** Rule instances (day, instant) from period k0 on, in order, until `visit` says stop. */
  function walk(k0: number, lastDay: number, visit: (day: number, ms: number) => boolean) {
    if (everyDay) {
      // FREQ=DAILY with no BY part: period k is the one day d0 + k * interval (what sorted(k)
      // gives, without an array per day).
      for (let k = k0; ; k++) {
        const day = d0 + k * iv;
        if (day > lastDay || (until !== undefined && day * DAY > until + DAY)) return;
        const ms = instantOf(day);
        if (ms === undefined) continue;
        if ((until !== undefined && ms > until) || !visit(day, ms)) return;
      }
    }
    let empty = 0;
    for (let k = k0; empty < MAX_EMPTY; k++) {
      const first = periodStart(p, d0, k, c0);
      if (first > lastDay || (until !== undefined && first * DAY > until + DAY)) return;
      let any = false;
      const days = sorted(k);
      for (let i = 0; i < days.length; i++) {
        const day = days[i]!;
        if (day < d0) continue;
        const ms = instantOf(day);
        any = true;
        if (ms === undefined) continue;
        if ((until !== undefined && ms > until) || !visit(day, ms)) return;
      }
      empty = any ? 0 : empty + 1;
    }
  }

  // A COUNT rule whose periods all hold the same candidate days (FREQ=DAILY with no BY part,
  // FREQ=WEEKLY without BYMONTH) is not walked from DTSTART: the instances before period k are
  // its candidates from DTSTART on, less those whose wall time does not exist (RFC 5545 3.8.5.3:
  // skipped and not counted), which only days near a transition of the zone can be. A weekly
  // COUNT series begun three years ago walked ~80 weeks on each first draw (measured in
  // Chromium: 1-5 ms of a first month draw for the bench's 71 such series).
  // (Only COUNT rules use it: nothing is computed for the others as the series is filed.)
  const perPeriod =
    count === undefined || until !== undefined
      ? 0
      : everyDay
        ? 1
        : p.freq === 'WEEKLY' && p.byMonth === undefined
          ? sorted(1).length
          : 0;
  const firstPeriod = perPeriod > 0 ? sorted(0).filter((d) => d >= d0).length : 0;
  const isCandidate = (day: number): boolean => {
    if (day < d0) return false;
    if (everyDay) return (day - d0) % iv === 0;
    const w = 7 * iv;
    const start = periodStart(p, d0, 0, c0);
    return sorted(0).includes(start + ((((day - start) % w) + w) % w));
  };
  // Candidate days without an instant, found so far (ascending), and the day the search reached.
  const skipped: number[] = [];
  let searched = d0;
  /** How many instances the rule has before period k (perPeriod > 0). */
  const instancesBefore = (k: number): number => {
    if (k <= 0) return 0;
    const limit = periodStart(p, d0, k, c0);
    // Searched no further than where the count runs out: the period at which the candidates,
    // less the skipped times found so far, reach COUNT (a skipped time found moves it on). Past
    // it the answer only needs to be at least COUNT, which it then is.
    for (;;) {
      const out = 1 + Math.ceil((count! + skipped.length - firstPeriod) / perPeriod);
      const stop = Math.min(limit, periodStart(p, d0, Math.max(1, out), c0));
      if (stop <= searched) break;
      const before = skipped.length;
      for (const day of transitionDays(zone, searched, stop - 1))
        if (isCandidate(day) && instantOf(day) === undefined) skipped.push(day);
      searched = stop;
      if (skipped.length === before) break;
    }
    let n = firstPeriod + (k - 1) * perPeriod;
    for (let i = 0; i < skipped.length && skipped[i]! < limit; i++) n--;
    return n;
  };

  // Any other COUNT rule is enumerated from DTSTART (only the first COUNT instances count), as
  // far as the ranges asked so far need, and kept: at most MAX_COUNT instances.
  const allDays: number[] = [];
  const allMs: number[] = [];
  let nextK = 0;
  let emptyRun = 0;
  let finished = false;
  const extend = (toMs: number): void => {
    while (!finished && (allMs.length === 0 || allMs[allMs.length - 1]! < toMs)) {
      if (emptyRun >= MAX_EMPTY || allMs.length >= count!) {
        finished = true;
        break;
      }
      let any = false;
      // Indexed, not for-of (the iterator protocol per day until optimized): a COUNT rule is
      // walked from DTSTART, years of days on a first draw.
      const days = sorted(nextK);
      for (let i = 0; i < days.length; i++) {
        const day = days[i]!;
        if (day < d0) continue;
        any = true;
        const ms = instantOf(day);
        if (ms === undefined) continue;
        allDays.push(day);
        allMs.push(ms);
        if (allMs.length >= count!) break;
      }
      emptyRun = any ? 0 : emptyRun + 1;
      nextK++;
    }
  };

  return {
    between(fromMs, toMs, max) {
      const out: FastInstance[] = [];
      // (Most series have no EXDATE: no lookup of an instant in an empty set per instance.)
      const keep = (ms: number) => ms >= fromMs && ms < toMs && (ex.size === 0 || !ex.has(ms));
      // Instances start within 14 h of their date's midnight UTC: a day's margin each side.
      const fromDay = Math.floor(fromMs / DAY) - 1;
      if (count !== undefined && perPeriod > 0) {
        const k0 = periodOf(p, d0, fromDay);
        let n = instancesBefore(k0);
        if (n < count)
          walk(k0, Math.floor(toMs / DAY) + 1, (day, ms) => {
            if (n >= count! || ms >= toMs) return false;
            n++;
            if (keep(ms)) out.push({ wall: dateOfDay(day) + time, ms });
            return out.length < max;
          });
      } else if (count !== undefined) {
        if (count > 0) extend(toMs);
        let lo = 0;
        let hi = allMs.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (allMs[mid]! < fromMs) lo = mid + 1;
          else hi = mid;
        }
        for (let i = lo; i < allMs.length && allMs[i]! < toMs; i++)
          if (keep(allMs[i]!)) out.push({ wall: dateOfDay(allDays[i]!) + time, ms: allMs[i]! });
      } else {
        walk(periodOf(p, d0, fromDay), Math.floor(toMs / DAY) + 1, (day, ms) => {
          if (ms >= toMs) return false;
          if (keep(ms)) out.push({ wall: dateOfDay(day) + time, ms });
          return out.length < max;
        });
      }
      // The rule's instances come out ascending (days ascending, one instant a day); only an
      // RDATE or an off-rule DTSTART added here needs a sort.
      let added = false;
      for (const i of extra)
        if (keep(i.ms) && !out.some((o) => o.ms === i.ms)) {
          out.push(i);
          added = true;
        }
      if (added) out.sort((a, b) => a.ms - b.ms);
      return out.length > max ? out.slice(0, max) : out;
    },
  };
}
