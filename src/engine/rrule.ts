// RRULE values (RFC 5545 section 3.3.10): a strict parser and a canonical printer. The engine only
// validates and describes rules; expanding them into occurrences is the host's (src/worker/recur).

export type Freq = 'SECONDLY' | 'MINUTELY' | 'HOURLY' | 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';
export type Weekday = 'MO' | 'TU' | 'WE' | 'TH' | 'FR' | 'SA' | 'SU';
export const FREQS: readonly Freq[] = [
  'SECONDLY',
  'MINUTELY',
  'HOURLY',
  'DAILY',
  'WEEKLY',
  'MONTHLY',
  'YEARLY',
];
export const WEEKDAYS: readonly Weekday[] = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];

export interface ByDay {
  /** 0 = every such weekday of the period; otherwise the n-th (negative: from the end). */
  n: number;
  day: Weekday;
}

export interface RRuleParts {
  freq: Freq;
  interval?: number;
  count?: number;
  /** "YYYYMMDD", "YYYYMMDDTHHMMSS" (floating) or "YYYYMMDDTHHMMSSZ" (UTC), as written. */
  until?: string;
  bySecond?: number[];
  byMinute?: number[];
  byHour?: number[];
  byDay?: ByDay[];
  byMonthDay?: number[];
  byYearDay?: number[];
  byWeekNo?: number[];
  byMonth?: number[];
  bySetPos?: number[];
  wkst?: Weekday;
}

type ListKey =
  | 'bySecond'
  | 'byMinute'
  | 'byHour'
  | 'byMonthDay'
  | 'byYearDay'
  | 'byWeekNo'
  | 'byMonth'
  | 'bySetPos';

/** Number lists: rule part name, field, allowed range, whether negative values are allowed. */
const LISTS: readonly [string, ListKey, number, number, boolean][] = [
  ['BYSECOND', 'bySecond', 0, 60, false],
  ['BYMINUTE', 'byMinute', 0, 59, false],
  ['BYHOUR', 'byHour', 0, 23, false],
  ['BYMONTHDAY', 'byMonthDay', 1, 31, true],
  ['BYYEARDAY', 'byYearDay', 1, 366, true],
  ['BYWEEKNO', 'byWeekNo', 1, 53, true],
  ['BYMONTH', 'byMonth', 1, 12, false],
  ['BYSETPOS', 'bySetPos', 1, 366, true],
];

const UNTIL = /^\d{8}(T\d{6}Z?)?$/;
const NUM = /^[+-]?\d{1,3}$/;
const BYDAY = /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)$/;

function parseList(v: string, lo: number, hi: number, neg: boolean): number[] | undefined {
  const out: number[] = [];
  for (const item of v.split(',')) {
    if (!NUM.test(item)) return undefined;
    const n = Number(item);
    const a = Math.abs(n);
    if (a < lo || a > hi || (n < 0 && !neg) || (n === 0 && lo > 0) || out.includes(n)) return undefined;
    out.push(n);
  }
  return out;
}

function parseByDay(v: string): ByDay[] | undefined {
  const out: ByDay[] = [];
  for (const item of v.split(',')) {
    const m = BYDAY.exec(item);
    if (!m) return undefined;
    const n = m[1] === undefined ? 0 : Number(m[1]);
    if (m[1] !== undefined && (n === 0 || Math.abs(n) > 53)) return undefined;
    if (out.some((d) => d.n === n && d.day === m[2])) return undefined;
    out.push({ n, day: m[2] as Weekday });
  }
  return out;
}

function validUntil(s: string): boolean {
  if (!UNTIL.test(s)) return false;
  const mo = +s.slice(4, 6);
  const d = +s.slice(6, 8);
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return false;
  return s.length === 8 || (+s.slice(9, 11) <= 23 && +s.slice(11, 13) <= 59 && +s.slice(13, 15) <= 60);
}

/** One rule part into `p`; false when the part is unknown, repeated or malformed. */
function parsePart(p: RRuleParts, seen: Set<string>, name: string, v: string): boolean {
  if (seen.has(name) || v === '') return false;
  seen.add(name);
  const list = LISTS.find((l) => l[0] === name);
  if (list) {
    const got = parseList(v, list[2], list[3], list[4]);
    if (got === undefined) return false;
    p[list[1]] = got;
    return true;
  }
  switch (name) {
    case 'FREQ':
      if (!FREQS.includes(v as Freq)) return false;
      p.freq = v as Freq;
      return true;
    case 'INTERVAL':
    case 'COUNT': {
      if (!/^[1-9]\d{0,5}$/.test(v)) return false;
      if (name === 'INTERVAL') p.interval = Number(v);
      else p.count = Number(v);
      return true;
    }
    case 'UNTIL':
      if (!validUntil(v)) return false;
      p.until = v;
      return true;
    case 'BYDAY': {
      const d = parseByDay(v);
      if (d === undefined) return false;
      p.byDay = d;
      return true;
    }
    case 'WKST':
      if (!WEEKDAYS.includes(v as Weekday)) return false;
      p.wkst = v as Weekday;
      return true;
    default:
      return false;
  }
}

/**
 * Parses an RRULE value ("FREQ=WEEKLY;BYDAY=MO,WE"), without the "RRULE:" name. Undefined when
 * it breaks RFC 5545 section 3.3.10: an unknown, repeated or empty part, a value out of range,
 * no FREQ, COUNT with UNTIL, BYWEEKNO outside YEARLY, BYYEARDAY with DAILY/WEEKLY/MONTHLY,
 * BYMONTHDAY with WEEKLY, a numbered BYDAY outside MONTHLY/YEARLY (or with BYWEEKNO in YEARLY),
 * or BYSETPOS without another BYxxx part.
 */
export function parseRRule(s: string): RRuleParts | undefined {
  const p = {} as RRuleParts;
  const seen = new Set<string>();
  for (const part of s.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0 || !parsePart(p, seen, part.slice(0, eq), part.slice(eq + 1))) return undefined;
  }
  if (p.freq === undefined) return undefined;
  if (p.count !== undefined && p.until !== undefined) return undefined;
  if (p.byWeekNo && p.freq !== 'YEARLY') return undefined;
  if (p.byYearDay && ['DAILY', 'WEEKLY', 'MONTHLY'].includes(p.freq)) return undefined;
  if (p.byMonthDay && p.freq === 'WEEKLY') return undefined;
  if (p.byDay?.some((d) => d.n !== 0)) {
    if (p.freq !== 'MONTHLY' && p.freq !== 'YEARLY') return undefined;
    if (p.freq === 'YEARLY' && p.byWeekNo) return undefined;
  }
  if (p.bySetPos) {
    const other = LISTS.some(([, k]) => k !== 'bySetPos' && p[k] !== undefined) || p.byDay !== undefined;
    if (!other) return undefined;
  }
  return p;
}

/** The canonical text of a rule (parts in RFC order); parseRRule(formatRRule(p)) equals p. */
export function formatRRule(p: RRuleParts): string {
  const out = [`FREQ=${p.freq}`];
  if (p.until !== undefined) out.push(`UNTIL=${p.until}`);
  if (p.count !== undefined) out.push(`COUNT=${p.count}`);
  if (p.interval !== undefined) out.push(`INTERVAL=${p.interval}`);
  for (const [name, key] of LISTS.slice(0, 3)) if (p[key]) out.push(`${name}=${p[key].join(',')}`);
  if (p.byDay) out.push(`BYDAY=${p.byDay.map((d) => (d.n === 0 ? '' : d.n) + d.day).join(',')}`);
  for (const [name, key] of LISTS.slice(3)) if (p[key]) out.push(`${name}=${p[key].join(',')}`);
  if (p.wkst !== undefined) out.push(`WKST=${p.wkst}`);
  return out.join(';');
}
