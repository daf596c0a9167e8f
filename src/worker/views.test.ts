// The order ranges are answered in (views.ts byTime): sortByTime must give exactly what sorting
// the whole list with byTime gives, ties and duplicate ids (one event in two calendars) included.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EventView } from './api.ts';
import { byTime, sortByTime } from './views.ts';

const view = (id: string, startMs: number, endMs: number, calendarId: string) =>
  ({ id, startMs, endMs, calendarId }) as unknown as EventView;

describe('range answers in time order', () => {
  it('sortByTime equals the whole-list sort with byTime, with ties, duplicate ids and zero-length events', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: fc.constantFrom('a', 'b', 'c', '0f', 'ff', 'e1'),
            start: fc.integer({ min: -3, max: 6 }),
            len: fc.integer({ min: 0, max: 3 }),
            cal: fc.constantFrom('x', 'y'),
          }),
          { maxLength: 300 },
        ),
        (items) => {
          const views = items.map((x) =>
            view(x.id, x.start * 3_600_000, (x.start + x.len) * 3_600_000, x.cal),
          );
          const want = [...views].sort(byTime);
          const got = sortByTime(views);
          expect(got.length).toBe(want.length);
          got.forEach((v, i) => expect(v).toBe(want[i]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('sorts a month-sized list of distinct events by start, end, then id', () => {
    const views = Array.from({ length: 8000 }, (_, i) =>
      view(
        `${(i * 7919) % 8000}`.padStart(5, '0'),
        ((i * 31) % 900) * 60_000,
        ((i * 31) % 900) * 60_000 + (i % 3) * 60_000,
        'x',
      ),
    );
    const before = [...views];
    const got = sortByTime(views);
    for (let i = 1; i < got.length; i++) expect(byTime(got[i - 1]!, got[i]!)).toBeLessThan(0);
    views.forEach((v, i) => expect(v).toBe(before[i])); // the input list is left as it was
    expect(new Set(got).size).toBe(8000);
  });
});
