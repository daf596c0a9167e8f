// The cached wall-clock -> UTC conversion agrees with Temporal everywhere, including DST days.

import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import { wallToUtcMs } from './time.ts';

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Pacific/Apia',
];

describe('wallToUtcMs', () => {
  it('matches Temporal (compatible disambiguation) for random times, DST days included', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.date({ min: new Date('2000-01-01'), max: new Date('2040-01-01'), noInvalidDate: true }),
        fc.boolean(),
        (zone, d, allDay) => {
          const iso = d.toISOString();
          const wall = allDay ? iso.slice(0, 10) : iso.slice(0, 16);
          const pdt = allDay
            ? Temporal.PlainDate.from(wall).toPlainDateTime()
            : Temporal.PlainDateTime.from(wall);
          const expected = pdt.toZonedDateTime(zone, { disambiguation: 'compatible' }).epochMilliseconds;
          expect(wallToUtcMs(wall, zone)).toBe(expected);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('handles the spring-forward gap and the fall-back overlap in Berlin', () => {
    // 02:30 does not exist on 2025-03-30 in Berlin: compatible = moved forward to 03:30 CEST.
    expect(wallToUtcMs('2025-03-30T02:30', 'Europe/Berlin')).toBe(Date.UTC(2025, 2, 30, 1, 30));
    // 02:30 happens twice on 2025-10-26: compatible = the earlier one (CEST, UTC+2).
    expect(wallToUtcMs('2025-10-26T02:30', 'Europe/Berlin')).toBe(Date.UTC(2025, 9, 26, 0, 30));
  });

  it('rejects invalid dates and zones', () => {
    expect(wallToUtcMs('2025-02-30', 'UTC')).toBeUndefined();
    expect(wallToUtcMs('2025-01-01T25:00', 'UTC')).toBeUndefined();
    expect(wallToUtcMs('', 'UTC')).toBeUndefined();
    expect(wallToUtcMs('2025-01-01T10:00', 'Mars/Olympus')).toBeUndefined();
  });
});
