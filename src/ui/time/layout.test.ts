import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import {
  agendaDays,
  dayColumn,
  epochDay,
  hiddenPerColumn,
  laneRow,
  packColumns,
  type Timed,
} from './layout.ts';
import { eventTimes, type TimeFields } from './zoned.ts';

function ev(
  id: string,
  f: Partial<TimeFields> & { start: string; end: string },
  zone = 'UTC',
): Timed<string> {
  const fields: TimeFields = { allDay: false, timeZone: zone, ...f };
  return { item: id, times: eventTimes(fields, zone) };
}

describe('column packing', () => {
  it('puts overlapping events side by side and resets after a gap', () => {
    const blocks = [
      { id: 'a', top: 540, bottom: 600, col: 0, cols: 0 },
      { id: 'b', top: 570, bottom: 630, col: 0, cols: 0 },
      { id: 'c', top: 600, bottom: 660, col: 0, cols: 0 }, // reuses a's column
      { id: 'd', top: 700, bottom: 760, col: 0, cols: 0 }, // new cluster
    ];
    packColumns(blocks);
    const by = Object.fromEntries(blocks.map((b) => [b.id, [b.col, b.cols]]));
    expect(by).toEqual({ a: [0, 2], b: [1, 2], c: [0, 2], d: [0, 1] });
  });

  it('three mutually overlapping events get three columns', () => {
    const col = dayColumn(
      [
        ev('a', { start: '2026-11-24T09:00', end: '2026-11-24T11:00' }),
        ev('b', { start: '2026-11-24T09:30', end: '2026-11-24T10:00' }),
        ev('c', { start: '2026-11-24T09:45', end: '2026-11-24T10:30' }),
      ],
      '2026-11-24',
      'UTC',
    );
    expect(col.map((b) => [b.item, b.col, b.cols])).toEqual([
      ['a', 0, 3],
      ['b', 1, 3],
      ['c', 2, 3],
    ]);
  });
});

describe('day columns', () => {
  it('splits an overnight event over two days', () => {
    const e = ev('n', { start: '2026-11-24T22:00', end: '2026-11-25T02:00' });
    const d1 = dayColumn([e], '2026-11-24', 'UTC');
    const d2 = dayColumn([e], '2026-11-25', 'UTC');
    expect(d1[0]).toMatchObject({ top: 1320, bottom: 1440, continuesAfter: true, continuesBefore: false });
    expect(d2[0]).toMatchObject({ top: 0, bottom: 120, continuesBefore: true, continuesAfter: false });
  });

  it('[UI-4] keeps a block visible on the fall-back day when the wall-clock end precedes the start', () => {
    // 01:30 EDT -> 01:15 EST is 45 real minutes.
    const z = 'America/New_York';
    const e: Timed<string> = {
      item: 'x',
      times: {
        allDay: false,
        startMs: Date.parse('2026-11-01T05:30Z'),
        endMs: Date.parse('2026-11-01T06:15Z'),
        firstDay: '2026-11-01',
        lastDay: '2026-11-01',
      },
    };
    const [b] = dayColumn([e], '2026-11-01', z);
    expect(b).toMatchObject({ top: 90, bottom: 135 });
  });

  it('[UI-4] positions events by wall clock on the spring-forward day', () => {
    const z = 'Europe/Berlin';
    const [b] = dayColumn(
      [ev('s', { start: '2026-03-29T03:00', end: '2026-03-29T04:00' }, z)],
      '2026-03-29',
      z,
    );
    expect(b).toMatchObject({ top: 180, bottom: 240 });
  });

  it('leaves day-long events to the all-day row', () => {
    const e = ev('long', { start: '2026-11-24T10:00', end: '2026-11-25T10:00' });
    expect(dayColumn([e], '2026-11-24', 'UTC')).toEqual([]);
  });
});

describe('lanes for all-day row and month bars', () => {
  const week = [
    '2026-11-23',
    '2026-11-24',
    '2026-11-25',
    '2026-11-26',
    '2026-11-27',
    '2026-11-28',
    '2026-11-29',
  ];

  it('clips multi-day bars to the row and stacks overlapping ones', () => {
    const segs = laneRow(
      [
        ev('trip', { start: '2026-11-20', end: '2026-11-26', allDay: true }),
        ev('conf', { start: '2026-11-24', end: '2026-11-27', allDay: true }),
        ev('lunch', { start: '2026-11-26T12:00', end: '2026-11-26T13:00' }),
        ev('later', { start: '2026-12-02', end: '2026-12-03', allDay: true }),
      ],
      week,
    );
    const by = Object.fromEntries(segs.map((s) => [s.item, s]));
    expect(by['trip']).toMatchObject({
      startCol: 0,
      endCol: 2,
      lane: 0,
      continuesBefore: true,
      continuesAfter: false,
    });
    expect(by['conf']).toMatchObject({ startCol: 1, endCol: 3, lane: 1 });
    expect(by['lunch']).toMatchObject({ startCol: 3, endCol: 3, lane: 0 });
    expect(by['later']).toBeUndefined();
    expect(hiddenPerColumn(segs, 7, 1)).toEqual([0, 1, 1, 1, 0, 0, 0]);
  });
});

describe('day numbers of dates (month rows and agenda)', () => {
  const temporal = (d: string) =>
    Temporal.PlainDate.from(d).since('1970-01-01', { largestUnit: 'days' }).days;

  it('count days as Temporal does: leap days, century years, years 0-99, extended years', () => {
    const fixed = [
      '1970-01-01',
      '1969-12-31',
      '2000-02-29',
      '1900-02-28',
      '1900-03-01',
      '2100-03-01',
      '0000-01-01',
      '0001-01-01',
      '0099-12-31',
      '0400-02-29',
      '9999-12-31',
      '+010000-01-01',
      '-000001-12-31',
    ];
    for (const d of fixed) expect(epochDay(d), d).toBe(temporal(d));
    // Random dates over four centuries, asked twice (the second answer comes from the cache).
    let x = 7;
    const next = () => (x = (x * 48_271) % 2_147_483_647);
    for (let i = 0; i < 2000; i++) {
      const d = Temporal.PlainDate.from('1800-01-01')
        .add({ days: next() % 146_097 })
        .toString();
      expect(epochDay(d), d).toBe(temporal(d));
      expect(epochDay(d), d).toBe(temporal(d));
    }
  });

  it('reject what Temporal rejects (no silent roll-over of 2026-02-30)', () => {
    for (const bad of ['2026-02-30', '2026-13-01', '2025-02-29', 'not a date', '2026-1-1'])
      expect(() => epochDay(bad), bad).toThrow(RangeError);
  });
});

describe('agenda', () => {
  it('lists each day with its events, all-day first, multi-day repeated', () => {
    const days = ['2026-11-24', '2026-11-25', '2026-11-26'];
    const groups = agendaDays(
      [
        ev('b', { start: '2026-11-24T09:00', end: '2026-11-24T10:00' }),
        ev('a', { start: '2026-11-24', end: '2026-11-26', allDay: true }),
      ],
      days,
    );
    expect(groups.map((g) => [g.day, g.entries.map((e) => `${e.item}${e.dayNumber}/${e.dayCount}`)])).toEqual(
      [
        ['2026-11-24', ['a1/2', 'b1/1']],
        ['2026-11-25', ['a2/2']],
      ],
    );
  });
});
