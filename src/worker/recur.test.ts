// RRULE expansion (docs/PROTOCOL.md RRULE-1): every example of RFC 5545 section 3.8.5.3, the
// python-dateutil rrule suite as data, and DST transitions in both directions in several zones.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseRRule } from '../engine/index.ts';
import { cachedExpander, type Expander, loadExpander, type SeriesInput } from './recur.ts';
import { RFC5545_CASES } from './recur-cases/rfc5545.ts';
import { wallToUtcMs } from './time.ts';

let expand: Expander;
beforeAll(async () => {
  expand = await loadExpander();
});

const YEAR = 366 * 86_400_000;

function series(dtstart: string, rrule: string, zone: string, more: Partial<SeriesInput> = {}): SeriesInput {
  const end = dtstart.length === 10 ? dtstart : dtstart; // zero-length occurrences: starts only
  return { start: dtstart, end, allDay: false, timeZone: zone, rrule, rdates: [], exdates: [], ...more };
}

/** Occurrence starts from DTSTART on: all of them for a bounded rule, else the first `n`. */
function starts(s: SeriesInput, n: number, bounded: boolean, last?: string): string[] {
  const until = last === undefined ? 0 : wallToUtcMs(last, s.timeZone)!;
  const from = wallToUtcMs(s.start, s.timeZone)! - 86_400_000;
  const x = expand(s);
  const out: string[] = [];
  // Bounded rules: a year past the last expected start shows that nothing more comes.
  const horizon = last === undefined ? from + 12 * YEAR : until + YEAR;
  for (let t = from; out.length < (bounded ? Infinity : n) && t < horizon; t += YEAR) {
    out.push(...x.between(t, t + YEAR).map((o) => o.start));
  }
  return bounded ? out : out.slice(0, n);
}

describe('[RRULE-1] RFC 5545 section 3.8.5.3 examples (America/New_York)', () => {
  for (const c of RFC5545_CASES) {
    it(`[RRULE-1] ${c.name}`, () => {
      expect(parseRRule(c.rrule), 'the rule is valid').toBeDefined();
      const time = c.dtstart.slice(10);
      const want = c.walls ?? c.dates!.map((day) => day + time);
      const bounded = /COUNT|UNTIL/.test(c.rrule);
      const s = series(c.dtstart, c.rrule, 'America/New_York', { exdates: c.exdates ?? [] });
      const got = starts(s, want.length, bounded, bounded ? want.at(-1) : undefined);
      expect(got).toEqual(want);
    });
  }
});

interface DateutilCase {
  name: string;
  dtstart: string;
  rrule: string;
  expected: string[];
}
const DATEUTIL: DateutilCase[] = JSON.parse(
  readFileSync(join(import.meta.dirname, 'recur-cases', 'dateutil.json'), 'utf8'),
).cases;

/**
 * Rules of the dateutil suite that break a MUST NOT of RFC 5545 3.3.10 (a numbered BYDAY outside
 * MONTHLY/YEARLY, BYMONTHDAY with WEEKLY, BYYEARDAY with DAILY/WEEKLY/MONTHLY, BYWEEKNO outside
 * YEARLY): dateutil expands them, our validator (VAL-1) refuses them, so they are never stored.
 */
/**
 * Where dateutil and RFC 5545 disagree. BYWEEKNO without BYDAY: RFC 5545 3.3.10 takes what the
 * rule leaves open (the weekday) from DTSTART, so week 20 on DTSTART's Tuesday; dateutil
 * expands to every day of the week.
 */
const DIFFERENT: Record<string, string[]> = {
  testYearlyByWeekNo: ['1998-05-12T09:00', '1999-05-18T09:00'],
};

const REFUSED = DATEUTIL.filter((c) => parseRRule(c.rrule) === undefined).map((c) => c.name);

describe('[RRULE-1] python-dateutil rrule suite (floating times)', () => {
  it('[RRULE-1] the suite is loaded and every refused rule breaks a MUST NOT of RFC 5545', () => {
    expect(DATEUTIL.length).toBeGreaterThan(200);
    for (const name of REFUSED) {
      const r = DATEUTIL.find((c) => c.name === name)!.rrule;
      const must =
        /BYDAY=[^;]*\d(MO|TU|WE|TH|FR|SA|SU)/.test(r) ||
        /BYWEEKNO/.test(r) ||
        /BYYEARDAY/.test(r) ||
        /BYMONTHDAY/.test(r);
      expect(must, `${name}: ${r}`).toBe(true);
    }
  });

  for (const c of DATEUTIL) {
    if (REFUSED.includes(c.name)) continue;
    it(`[RRULE-1] dateutil ${c.name}: ${c.rrule}`, () => {
      const got = starts(series(c.dtstart, c.rrule, 'UTC'), 0, true, c.expected.at(-1) ?? c.dtstart);
      const expected = DIFFERENT[c.name] ?? c.expected;
      if (expected[0] === c.dtstart) {
        expect(got).toEqual(expected);
      } else {
        // DTSTART off the rule: RFC 5545 makes it the first occurrence and counts it toward COUNT
        // (3.8.5.3); dateutil leaves it out. Same rule instances otherwise.
        const count = /COUNT=(\d+)/.exec(c.rrule);
        const want = [c.dtstart, ...expected];
        expect(got).toEqual(count ? want.slice(0, Number(count[1])) : want);
      }
    });
  }
});

describe('[RRULE-1] DST transitions, both directions, several zones', () => {
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16);
  const within = (s: SeriesInput, from: string, to: string) =>
    expand(s).between(Date.parse(`${from}T00:00Z`), Date.parse(`${to}T00:00Z`));

  it('[RRULE-1] a 09:00 Europe/Berlin weekly meeting stays at 09:00 Berlin across spring and autumn', () => {
    const s = series('2026-01-05T09:00', 'FREQ=WEEKLY;BYDAY=MO', 'Europe/Berlin', {
      end: '2026-01-05T10:00',
    });
    const spring = within(s, '2026-03-20', '2026-04-01');
    expect(spring.map((o) => [o.start, iso(o.startMs), o.end])).toEqual([
      ['2026-03-23T09:00', '2026-03-23T08:00', '2026-03-23T10:00'],
      ['2026-03-30T09:00', '2026-03-30T07:00', '2026-03-30T10:00'],
    ]);
    const autumn = within(s, '2026-10-19', '2026-10-28');
    expect(autumn.map((o) => [o.start, iso(o.startMs)])).toEqual([
      ['2026-10-19T09:00', '2026-10-19T07:00'],
      ['2026-10-26T09:00', '2026-10-26T08:00'],
    ]);
  });

  it('[RRULE-1] a timed occurrence whose end is made when read: the end across a transition, the same as JSON', () => {
    // 23:30 Saturday for 4 h: the end falls on the transition night (Berlin, spring and autumn).
    const s = series('2026-03-21T23:30', 'FREQ=WEEKLY', 'Europe/Berlin', { end: '2026-03-22T03:30' });
    const [spring] = within(s, '2026-03-28', '2026-03-29');
    const [autumn] = within(s, '2026-10-24', '2026-10-25');
    // Four hours of elapsed time: an hour less of wall clock in spring, an hour more in autumn.
    expect([spring!.start, spring!.end, autumn!.start, autumn!.end]).toEqual([
      '2026-03-28T23:30',
      '2026-03-29T04:30',
      '2026-10-24T23:30',
      '2026-10-25T02:30',
    ]);
    expect(JSON.parse(JSON.stringify(autumn))).toEqual({
      recurrenceId: '2026-10-24T23:30',
      start: '2026-10-24T23:30',
      end: '2026-10-25T02:30',
      startMs: autumn!.startMs,
      endMs: autumn!.startMs + 4 * 3_600_000,
    });
  });

  const gapCases: [string, string, string, string, string, string][] = [
    // zone, daily time, spring-forward date (time missing), fall-back date, earlier instant (UTC)
    ['America/New_York', '02:30', '2026-03-08', '2026-11-01', '01:30', '2026-11-01T05:30'],
    ['Europe/Berlin', '02:30', '2026-03-29', '2026-10-25', '02:30', '2026-10-25T00:30'],
    ['Australia/Sydney', '02:30', '2026-10-04', '2026-04-05', '02:30', '2026-04-04T15:30'],
    ['Australia/Lord_Howe', '02:15', '2026-10-04', '2026-04-05', '01:45', '2026-04-04T14:45'],
  ];
  for (const [zone, time, gapDay, foldDay, foldTime, foldUtc] of gapCases) {
    it(`[RRULE-1] ${zone}: a generated time in the gap is dropped and not counted; a repeated time is the earlier instant`, () => {
      const before = new Date(Date.parse(`${gapDay}T00:00Z`) - 3 * 86_400_000).toISOString().slice(0, 10);
      const s = series(`${before}T${time}`, 'FREQ=DAILY;COUNT=6', zone);
      const dayBefore = new Date(Date.parse(`${before}T00:00Z`) - 86_400_000).toISOString().slice(0, 10);
      const days = within(
        s,
        dayBefore,
        new Date(Date.parse(`${gapDay}T00:00Z`) + 10 * 86_400_000).toISOString().slice(0, 10),
      );
      expect(days).toHaveLength(6);
      expect(days.map((o) => o.start.slice(0, 10))).not.toContain(gapDay);
      expect(days.every((o) => o.start.endsWith(time))).toBe(true);
      const f = series(`${foldDay}T${foldTime}`, 'FREQ=DAILY;COUNT=2', zone);
      const fold = within(
        f,
        new Date(Date.parse(`${foldDay}T00:00Z`) - 86_400_000).toISOString().slice(0, 10),
        '2027-01-01',
      );
      expect(fold.map((o) => o.start)).toEqual([
        `${foldDay}T${foldTime}`,
        expect.stringMatching(new RegExp(`T${foldTime}$`)),
      ]);
      expect(iso(fold[0]!.startMs)).toBe(foldUtc);
    });
  }

  it('[RRULE-1] DTSTART in the gap moves forward by the gap (RFC 5545 3.3.5), later instances keep the wall time', () => {
    const s = series('2026-03-29T02:30', 'FREQ=DAILY;COUNT=2', 'Europe/Berlin');
    const got = within(s, '2026-03-28', '2026-04-02');
    expect(got.map((o) => iso(o.startMs))).toEqual(['2026-03-29T01:30', '2026-03-30T00:30']);
    expect(got[1]!.start).toBe('2026-03-30T02:30');
  });

  it('[RRULE-1] an occurrence keeps the exact duration across a transition (1 h at 01:30 on a fall-back day)', () => {
    const s = series('2026-10-31T01:30', 'FREQ=DAILY;COUNT=3', 'America/New_York', {
      end: '2026-10-31T02:30',
    });
    const got = within(s, '2026-10-30', '2026-11-03');
    expect(got.map((o) => o.endMs - o.startMs)).toEqual([3_600_000, 3_600_000, 3_600_000]);
    expect(got[1]!.end).toBe('2026-11-01T01:30');
  });

  it('[RRULE-1] all-day series are floating dates, even where midnight does not exist (America/Sao_Paulo 2018-11-04)', () => {
    const s: SeriesInput = {
      ...series('2018-11-02', 'FREQ=DAILY;COUNT=4', 'America/Sao_Paulo'),
      allDay: true,
      end: '2018-11-03',
    };
    const got = within(s, '2018-11-01', '2018-11-10');
    expect(got.map((o) => [o.start, o.end])).toEqual([
      ['2018-11-02', '2018-11-03'],
      ['2018-11-03', '2018-11-04'],
      ['2018-11-04', '2018-11-05'],
      ['2018-11-05', '2018-11-06'],
    ]);
    const until = { ...s, rrule: 'FREQ=WEEKLY;UNTIL=20181116' };
    expect(within(until, '2018-11-01', '2018-12-31').map((o) => o.start)).toEqual([
      '2018-11-02',
      '2018-11-09',
      '2018-11-16',
    ]);
  });

  it('[RRULE-1] a floating or DATE UNTIL is read in the series zone; RDATE adds and EXDATE removes', () => {
    const s = series('2026-01-05T09:00', 'FREQ=DAILY;UNTIL=20260107', 'Asia/Tokyo', {
      rdates: ['2026-01-20T18:00'],
      exdates: ['2026-01-06T09:00'],
    });
    expect(within(s, '2026-01-01', '2026-02-01').map((o) => o.start)).toEqual([
      '2026-01-05T09:00',
      '2026-01-07T09:00',
      '2026-01-20T18:00',
    ]);
    const f = { ...s, rrule: 'FREQ=DAILY;UNTIL=20260106T090000', rdates: [], exdates: [] };
    expect(within(f, '2026-01-01', '2026-02-01').map((o) => o.start)).toEqual([
      '2026-01-05T09:00',
      '2026-01-06T09:00',
    ]);
  });

  it('[RRULE-1] a SECONDLY rule over a month is capped, not millions of instants', () => {
    const s = series('2026-01-01T00:00', 'FREQ=SECONDLY', 'UTC');
    const t = performance.now();
    const got = expand(s).between(Date.parse('2026-01-01T00:00Z'), Date.parse('2026-02-01T00:00Z'));
    expect(got.length).toBeLessThanOrEqual(1000);
    expect(performance.now() - t).toBeLessThan(10_000);
  });
});

describe('cachedExpander', () => {
  const MARCH = [Date.UTC(2026, 2, 1), Date.UTC(2026, 3, 1)] as const;
  const startsIn = (x: Expander, s: SeriesInput) =>
    x(s)
      .between(...MARCH)
      .map((o) => `${o.start}|${o.end}|${o.startMs}`);

  it('[RRULE-2] a series object whose fields change (in place too) gets the expansion of its new fields', () => {
    const cached = cachedExpander(expand);
    const s = series('2026-03-02T09:00', 'FREQ=WEEKLY;BYDAY=MO', 'Europe/Berlin');
    const first = cached(s);
    expect(cached(s)).toBe(first);
    expect(cached({ ...s })).toBe(first);
    const fresh = (v: SeriesInput) =>
      startsIn(expand, { ...v, rdates: [...v.rdates], exdates: [...v.exdates] });
    const changes: ((v: SeriesInput) => void)[] = [
      (v) => Object.assign(v, { rrule: 'FREQ=DAILY;COUNT=3' }),
      (v) => Object.assign(v, { start: '2026-03-03T10:00', end: '2026-03-03T10:30' }),
      (v) => Object.assign(v, { timeZone: 'America/New_York' }),
      (v) => Object.assign(v, { allDay: true, start: '2026-03-03', end: '2026-03-04' }),
      (v) => Object.assign(v, { exdates: ['2026-03-04'] }),
      // Arrays the series already had, changed in place: seen by their length.
      (v) => (v.rdates as string[]).push('2026-03-20'),
      (v) => (v.exdates as string[]).push('2026-03-05'),
    ];
    const v = { ...s, rdates: [] as string[], exdates: [] as string[] };
    for (const change of changes) {
      const before = startsIn(cached, v);
      change(v);
      const after = startsIn(cached, v);
      expect(after).toEqual(fresh(v));
      expect(after).not.toEqual(before);
    }
  });
});
