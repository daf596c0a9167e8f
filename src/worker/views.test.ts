// sortByTime must give exactly the order of a sort with byTime (start, end, id), whatever the
// views: many equal starts and ends (a month of series on the hour), large groups, starts spread
// over centuries, fractional or unreadable instants, few views.

import { describe, expect, it } from 'vitest';
import type { EventView } from './api.ts';
import { byTime, sortByTime } from './views.ts';

/** Deterministic pseudo-random sequence (xorshift), so a failure names its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

const hexId = (r: () => number): string =>
  Array.from({ length: 4 }, () =>
    Math.floor(r() * 2 ** 32)
      .toString(16)
      .padStart(8, '0'),
  ).join('');

const view = (id: string, startMs: number, endMs: number): EventView =>
  ({ id, startMs, endMs, title: id }) as unknown as EventView;

const ids = (vs: EventView[]) => vs.map((v) => v.id);

function check(views: EventView[]): void {
  const expected = ids(views.slice().sort(byTime));
  const input = views.slice();
  const got = sortByTime(input);
  expect(got).toBe(input);
  expect(ids(got)).toEqual(expected);
}

describe('sortByTime', () => {
  it('orders like byTime with many equal starts and ends (a month of series on the hour)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const from = Date.UTC(2026, 9, 25);
      const n = 64 + Math.floor(r() * 3000);
      const views = Array.from({ length: n }, () => {
        const start = from + Math.floor(r() * 45) * 86_400_000 + Math.floor(r() * 6) * 3_600_000;
        const end = start + [0, 1_800_000, 3_600_000][Math.floor(r() * 3)]!;
        return view(hexId(r), start, end);
      });
      check(views);
    }
  });

  it('orders large groups of one start (over the insertion limit) and single-start months', () => {
    const r = rng(7);
    const at = Date.UTC(2026, 10, 2, 9);
    const views = Array.from({ length: 500 }, (_, i) => view(hexId(r), at, at + (i % 3) * 900_000));
    check(views);
    check(views.map((v) => view(v.id, at, at)));
  });

  it('falls back to the comparator for fractional, unreadable or too spread-out instants', () => {
    const r = rng(11);
    const base = Array.from({ length: 200 }, (_, i) =>
      view(hexId(r), Date.UTC(2026, 0, 1) + (i % 17) * 3_600_000, Date.UTC(2026, 0, 2)),
    );
    check(base.map((v, i) => (i === 5 ? view(v.id, v.startMs + 0.5, v.endMs) : v)));
    check(base.map((v, i) => (i === 9 ? view(v.id, Number.NaN, v.endMs) : v)));
    // Starts from year -200,000 to +200,000: (max - min) * n is past 2^53.
    check(base.map((v, i) => (i % 2 ? view(v.id, -8.64e15 + i, v.endMs) : view(v.id, 8.64e15 - i, v.endMs))));
    // Negative instants (before 1970) and a spread just inside exact keys.
    check(base.map((v, i) => view(v.id, -Date.UTC(2026, 0, 1) + (i % 13) * 1000, v.endMs)));
  });

  it('sorts fewer than the grouping threshold, and views whose ids are not hex', () => {
    const r = rng(3);
    check(Array.from({ length: 10 }, (_, i) => view(hexId(r), (i % 3) * 1000, 5000)));
    check(Array.from({ length: 300 }, (_, i) => view(`event ${(i * 7919) % 300}`, (i % 4) * 1000, 9000)));
  });
});
