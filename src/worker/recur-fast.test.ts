// RRULE-2: the direct expansion (recur-fast.ts) gives exactly the library's occurrences, on random
// rules of every shape it takes, random zones (DST both ways, half-hour offsets, the southern
// hemisphere) and DTSTARTs near transitions, with RDATEs and EXDATEs; and it declines the rest.
// RRULE_FAST_RUNS=2000 for a long run.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { formatRRule, type RRuleParts, WEEKDAYS } from '../engine/index.ts';
import { type Expander, expandFast, loadExpander, type Occurrence, type SeriesInput } from './recur.ts';
import { fastRule } from './recur-fast.ts';
import { utcToWall } from './time.ts';

let library: Expander;
let both: Expander;
beforeAll(async () => {
  library = await loadExpander({ fast: false });
  both = await loadExpander();
});

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'America/Sao_Paulo',
  'Australia/Sydney',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Pacific/Apia',
];
const DAY = 86_400_000;
const pad = (n: number) => String(n).padStart(2, '0');

const byDay = (ordinals: boolean) =>
  fc.uniqueArray(
    fc.record({
      n: ordinals ? fc.constantFrom(0, 1, 2, -1, 5, -2) : fc.constant(0),
      day: fc.constantFrom(...WEEKDAYS),
    }),
    { minLength: 1, maxLength: 3, selector: (d) => `${d.n}${d.day}` },
  );
const list = (lo: number, hi: number, neg: boolean) =>
  fc.uniqueArray(
    fc.integer({ min: lo, max: hi }).map((n) => (neg && n % 3 === 0 ? -n : n)),
    { minLength: 1, maxLength: 3 },
  );

/** Rules of the shapes recur-fast.ts computes. */
const rule: fc.Arbitrary<RRuleParts> = fc
  .record({
    freq: fc.constantFrom('DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'),
    interval: fc.constantFrom(1, 1, 2, 3),
    end: fc.constantFrom('none', 'count', 'until'),
    count: fc.integer({ min: 1, max: 40 }),
    untilDays: fc.integer({ min: -3, max: 900 }),
    byMonth: fc.option(list(1, 12, false), { freq: 4 }),
    byMonthDay: fc.option(list(1, 31, true), { freq: 3 }),
    byDay: fc.option(fc.boolean(), { freq: 2 }),
    ordinals: fc.boolean(),
    wkst: fc.option(fc.constantFrom(...WEEKDAYS), { freq: 3 }),
  })
  .chain((r) =>
    (r.byDay
      ? byDay(r.ordinals && (r.freq === 'MONTHLY' || r.freq === 'YEARLY'))
      : fc.constant(undefined)
    ).map((bd) => {
      const p: RRuleParts = { freq: r.freq as RRuleParts['freq'] };
      if (r.interval > 1) p.interval = r.interval;
      if (r.end === 'count') p.count = r.count;
      if (r.byMonth && (r.freq !== 'YEARLY' || r.byMonth.length > 0)) p.byMonth = r.byMonth;
      if (r.byMonthDay && r.freq !== 'WEEKLY' && !(bd && r.freq !== 'DAILY')) p.byMonthDay = r.byMonthDay;
      if (bd && !(r.freq === 'YEARLY' && !p.byMonth)) p.byDay = bd;
      if (r.wkst) p.wkst = r.wkst;
      return Object.assign(p, { untilDays: r.end === 'until' ? r.untilDays : undefined });
    }),
  );

/** A DTSTART near a DST change of its zone (or anywhere in 2024-2027). */
const dtstart = fc.record({
  zone: fc.constantFrom(...ZONES),
  day: fc.oneof(
    fc.constantFrom('2026-03-08', '2026-03-29', '2026-10-04', '2026-10-25', '2026-11-01', '2026-04-05'),
    fc
      .integer({ min: 0, max: 4 * 365 })
      .map((d) => new Date(Date.UTC(2024, 0, 1) + d * DAY).toISOString().slice(0, 10)),
  ),
  shift: fc.integer({ min: -40, max: 3 }),
  hour: fc.constantFrom(0, 1, 2, 3, 9, 23),
  minute: fc.constantFrom(0, 15, 30),
  allDay: fc.boolean(),
});

function untilText(days: number, start: string, kind: number): string {
  const d = new Date(Date.parse(`${start.slice(0, 10)}T00:00Z`) + days * DAY);
  const date = d.toISOString().slice(0, 10).replace(/-/g, '');
  return kind === 0 ? date : kind === 1 ? `${date}T090000` : `${date}T120000Z`;
}

/** A timed Berlin series with no RDATE or EXDATE (the worked examples). */
const berlin = (start: string, end: string, rrule: string): SeriesInput => ({
  start,
  end,
  allDay: false,
  timeZone: 'Europe/Berlin',
  rrule,
  rdates: [],
  exdates: [],
});

describe('[RRULE-2] direct expansion of common rules', () => {
  it('[RRULE-2] gives the library occurrences (starts and ends) on random rules, zones, lengths and DST dates, with RDATE and EXDATE', () => {
    fc.assert(
      fc.property(
        rule,
        dtstart,
        fc.integer({ min: 0, max: 2 }),
        fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 3 }),
        fc.array(fc.integer({ min: -5, max: 400 }), { maxLength: 2 }),
        fc.array(fc.integer({ min: -30, max: 900 }), { minLength: 1, maxLength: 3 }),
        // Minutes long: none, within the day, across midnight, more than a day.
        fc.constantFrom(0, 30, 90, 150, 1410, 1530),
        (r, d, untilKind, exPick, rdays, windows, minutes) => {
          const { untilDays, ...p } = r as RRuleParts & { untilDays?: number };
          const day = new Date(Date.parse(`${d.day}T00:00Z`) + d.shift * DAY).toISOString().slice(0, 10);
          const start = d.allDay ? day : `${day}T${pad(d.hour)}:${pad(d.minute)}`;
          if (untilDays !== undefined) p.until = untilText(untilDays, start, d.allDay ? 0 : untilKind);
          const end = d.allDay
            ? start
            : new Date(Date.parse(`${start}:00Z`) + minutes * 60_000).toISOString().slice(0, 16);
          const s: SeriesInput = {
            start,
            end,
            allDay: d.allDay,
            timeZone: d.zone,
            rrule: formatRRule(p),
            rdates: rdays.map((n) => {
              const t = new Date(Date.parse(`${day}T00:00Z`) + n * DAY).toISOString().slice(0, 10);
              return d.allDay ? t : `${t}T${pad((d.hour + n + 24) % 24)}:00`;
            }),
            exdates: [],
          };
          const fast = fastRule(s);
          if (fast === undefined) return; // declined (e.g. DTSTART in a gap): the library's case
          const t0 = Date.parse(`${day}T00:00Z`) - 2 * DAY;
          // EXDATEs picked among the real occurrences (and one that matches none).
          const firstYear = library(s)
            .between(t0, t0 + 400 * DAY)
            .map((o) => o.recurrenceId);
          s.exdates = [...exPick.map((i) => firstYear[i]).filter((x) => x !== undefined), start.slice(0, 10)];
          const a = library(s);
          const b = expandFast(s)!;
          expect(b.ok).toBe(true);
          // The library gives up on some rules that never match after DTSTART (it then shows
          // DTSTART alone, see recur.ts): nothing to compare with.
          if (!a.ok) return;
          for (const w of [-3, ...windows]) {
            const from = t0 + w * DAY;
            const to = from + 45 * DAY;
            const brief = (os: Occurrence[]) =>
              os.map((o) => [o.recurrenceId, o.start, o.end, o.startMs, o.endMs]);
            const want = brief(a.between(from, to));
            const got = brief(b.between(from, to));
            expect(got, `${s.rrule} from ${start} ${d.zone} window ${w}`).toEqual(want);
          }
        },
      ),
      { numRuns: Number(process.env['RRULE_FAST_RUNS'] ?? 300) },
    );
  });

  it('[RRULE-2] the same occurrences however the ranges are asked: week buckets one by one, in runs, or a two-year window', () => {
    fc.assert(
      fc.property(
        rule,
        dtstart,
        fc.array(fc.integer({ min: -5, max: 400 }), { maxLength: 2 }),
        fc.integer({ min: -30, max: 900 }),
        fc.integer({ min: 1, max: 2 ** 30 }),
        (r, d, rdays, w, seed) => {
          const { untilDays, ...p } = r as RRuleParts & { untilDays?: number };
          const day = new Date(Date.parse(`${d.day}T00:00Z`) + d.shift * DAY).toISOString().slice(0, 10);
          const start = d.allDay ? day : `${day}T${pad(d.hour)}:${pad(d.minute)}`;
          if (untilDays !== undefined) p.until = untilText(untilDays, start, d.allDay ? 0 : 2);
          const s: SeriesInput = {
            start,
            end: d.allDay ? start : `${day}T${pad((d.hour + 1) % 24)}:${pad(d.minute)}`,
            allDay: d.allDay,
            timeZone: d.zone,
            rrule: formatRRule(p),
            rdates: rdays.map((n) => {
              const t = new Date(Date.parse(`${day}T00:00Z`) + n * DAY).toISOString().slice(0, 10);
              return d.allDay ? t : `${t}T${pad((d.hour + n + 24) % 24)}:00`;
            }),
            exdates: [start.slice(0, 10)],
          };
          if (fastRule(s) === undefined) return;
          const from = Date.parse(`${day}T00:00Z`) + w * DAY;
          const to = from + 45 * DAY;
          const brief = (os: { recurrenceId: string; startMs: number; endMs: number; end: string }[]) =>
            os.map((o) => `${o.recurrenceId} ${o.startMs} ${o.endMs} ${o.end}`);
          const want = brief(expandFast(s)!.between(from, to));
          // Day by day in a shuffled order first (each computes a bucket or two), then the range.
          const oneByOne = expandFast(s)!;
          const days = Array.from({ length: 45 }, (_, i) => i);
          let x = seed;
          for (let i = days.length - 1; i > 0; i--) {
            x = (x * 48_271) % 2_147_483_647;
            const j = x % (i + 1);
            [days[i], days[j]] = [days[j]!, days[i]!];
          }
          for (const k of days) oneByOne.between(from + k * DAY, from + (k + 1) * DAY);
          expect(brief(oneByOne.between(from, to)), `${s.rrule} ${start} ${d.zone}`).toEqual(want);
          // A window too wide to be computed in runs goes bucket by bucket.
          const wide = expandFast(s)!;
          wide.between(from - 400 * DAY, from + 400 * DAY);
          expect(brief(wide.between(from, to)), `${s.rrule} ${start} ${d.zone} wide`).toEqual(want);
        },
      ),
      { numRuns: Number(process.env['RRULE_FAST_RUNS'] ?? 300) },
    );
  });

  it('[RRULE-2] declines what it does not compute: BYSETPOS, BYYEARDAY, BYWEEKNO, BYHOUR, HOURLY, a DTSTART in a gap', () => {
    const s = (rrule: string, start = '2026-01-05T09:00', timeZone = 'Europe/Berlin'): SeriesInput => ({
      start,
      end: start,
      allDay: false,
      timeZone,
      rrule,
      rdates: [],
      exdates: [],
    });
    for (const r of [
      'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1',
      'FREQ=YEARLY;BYYEARDAY=1,100',
      'FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO',
      'FREQ=DAILY;BYHOUR=9,17',
      'FREQ=HOURLY;INTERVAL=3',
      'FREQ=YEARLY;BYDAY=20MO',
      'FREQ=DAILY;COUNT=6000',
    ])
      expect(fastRule(s(r)), r).toBeUndefined();
    expect(fastRule(s('FREQ=DAILY', '2026-03-29T02:30'))).toBeUndefined();
    expect(fastRule(s('FREQ=WEEKLY;BYDAY=MO,WE'))).toBeDefined();
    // A declined rule is still expanded (by the library) through the same expander.
    const o = both(s('FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1')).between(
      Date.parse('2026-01-01T00:00Z'),
      Date.parse('2026-03-01T00:00Z'),
    );
    expect(o.map((x) => x.start)).toEqual(['2026-01-05T09:00', '2026-01-30T09:00', '2026-02-27T09:00']);
  });

  it('[RRULE-2] a long COUNT rule far from DTSTART: instances counted without walking, times in a DST gap skipped and not counted, as the library has them', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('DAILY', 'WEEKLY'),
        fc.constantFrom(1, 1, 2, 3),
        fc.option(byDay(false), { freq: 2 }),
        fc.integer({ min: 30, max: 400 }),
        dtstart,
        // Mostly 02:xx, a time that spring-forward gaps of most zones of the list hold.
        fc.constantFrom(2, 2, 2, 0, 9),
        fc.array(fc.integer({ min: 0, max: 1500 }), { maxLength: 2 }),
        (freq, interval, bd, count, d, hour, windows) => {
          const p: RRuleParts = { freq: freq as RRuleParts['freq'], count };
          if (interval > 1) p.interval = interval;
          if (freq === 'WEEKLY' && bd) p.byDay = bd;
          const day = new Date(Date.parse(`${d.day}T00:00Z`) + d.shift * DAY).toISOString().slice(0, 10);
          const start = d.allDay ? day : `${day}T${pad(hour)}:${pad(d.minute)}`;
          const s: SeriesInput = {
            start,
            end: start,
            allDay: d.allDay,
            timeZone: d.zone,
            rrule: formatRRule(p),
            rdates: [],
            exdates: [],
          };
          if (fastRule(s) === undefined) return;
          const a = library(s);
          if (!a.ok) return;
          const t0 = Date.parse(`${day}T00:00Z`);
          // Around where the count runs out (an off-by-one shows there: found with the direct
          // expansion itself, the library walks from DTSTART for each month), and anywhere else.
          const last =
            expandFast(s)!
              .between(t0 - 2 * DAY, t0 + 12 * 365 * DAY)
              .at(-1)?.startMs ?? t0;
          for (const from of [last - 30 * DAY, last - 2 * DAY, ...windows.map((w) => t0 + w * DAY)]) {
            const to = from + 45 * DAY;
            const brief = (os: Occurrence[]) => os.map((o) => `${o.recurrenceId} ${o.startMs}`);
            // A fresh expansion per window: each is a first draw, nothing enumerated before it.
            expect(brief(expandFast(s)!.between(from, to)), `${s.rrule} ${start} ${d.zone}`).toEqual(
              brief(a.between(from, to)),
            );
          }
        },
      ),
      { numRuns: Math.ceil(Number(process.env['RRULE_FAST_RUNS'] ?? 300) / 3) },
    );
  });

  it('[RRULE-2] FREQ=DAILY;COUNT=400 at 02:30 Berlin skips 2025-03-30 (no such time) without counting it: the last instance is 2026-02-05', () => {
    const s = berlin('2025-01-01T02:30', '2025-01-01T03:00', 'FREQ=DAILY;COUNT=400');
    const from = Date.parse('2026-01-20T00:00Z');
    const got = expandFast(s)!.between(from, from + 31 * DAY);
    expect(got.at(-1)?.start).toBe('2026-02-05T02:30');
    expect(got).toHaveLength(17);
    expect(got.map((o) => o.start)).toEqual(
      library(s)
        .between(from, from + 31 * DAY)
        .map((o) => o.start),
    );
    const march = Date.parse('2025-03-28T00:00Z');
    expect(
      expandFast(s)!
        .between(march, march + 4 * DAY)
        .map((o) => o.start),
    ).toEqual(['2025-03-28T02:30', '2025-03-29T02:30', '2025-03-31T02:30']);
  });

  it('[RRULE-2] a COUNT rule that ran out decades ago shows nothing now, and its own months as the library has them', () => {
    const s = berlin('1950-03-01T02:30', '1950-03-01T03:00', 'FREQ=DAILY;COUNT=100');
    const now = Date.parse('2026-11-01T00:00Z');
    expect(expandFast(s)!.between(now, now + 42 * DAY)).toEqual([]);
    const then = Date.parse('1950-05-20T00:00Z');
    const brief = (os: Occurrence[]) => os.map((o) => o.start);
    const got = brief(expandFast(s)!.between(then, then + 42 * DAY));
    expect(got).toEqual(brief(library(s).between(then, then + 42 * DAY)));
    expect(got.length).toBeGreaterThan(0);
  });

  it('[RRULE-2] an open-ended daily rule begun decades ago answers a month without walking from DTSTART', () => {
    const s = berlin('1950-01-01T09:00', '1950-01-01T09:30', 'FREQ=DAILY');
    const from = Date.parse('2026-03-01T00:00Z');
    const got = expandFast(s)!.between(from, from + 31 * DAY);
    expect(got).toHaveLength(31);
    expect(got.every((o) => o.start.endsWith('T09:00'))).toBe(true);
    expect(utcToWall(got[28]!.startMs, 'Europe/Berlin')).toBe('2026-03-29T09:00');
  });
});
