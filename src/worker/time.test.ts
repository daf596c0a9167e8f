// The cached wall-clock -> UTC conversion agrees with Temporal everywhere, including DST days.

import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import { utcToWall, wallToUtcMs } from './time.ts';
import { monthOf, plainDayOffset } from './zone-offsets.ts';

const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kolkata',
  'Pacific/Apia',
  'America/Sao_Paulo',
  'America/Santiago',
  'Africa/Casablanca',
  'Asia/Tehran',
  'Europe/Dublin',
  'Australia/Sydney',
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

describe('per-day offsets from the zone transitions (zone-offsets.ts)', () => {
  it("a month number by arithmetic is Date's UTC year * 12 + month, for any time value", () => {
    const byDate = (ms: number) => {
      const d = new Date(ms);
      return d.getUTCFullYear() * 12 + d.getUTCMonth();
    };
    const edges = [0, -1, 1, -0.5, 0.5, 8.64e15, -8.64e15, 8.64e15 + 1, Number.NaN, Number.POSITIVE_INFINITY];
    for (const ms of edges) expect(monthOf(ms)).toEqual(byDate(ms));
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), (ms) => monthOf(ms) === byDate(ms)),
      { numRuns: 20_000 },
    );
    for (let day = -200_000; day < 200_000; day += 7)
      for (const ms of [day * 86_400_000, day * 86_400_000 - 1]) expect(monthOf(ms)).toBe(byDate(ms));
  });

  it('a day gets one offset only when Temporal has that offset all day from midnight; every third day of 1990-2040', () => {
    for (const zone of ZONES) {
      for (let day = Date.UTC(1990, 0, 1) / 86_400_000; day < Date.UTC(2040, 0, 1) / 86_400_000; day += 3) {
        const off = plainDayOffset(zone, day);
        if (off === null) continue;
        const d = Temporal.PlainDate.from(new Date(day * 86_400_000).toISOString().slice(0, 10));
        const start = d.toZonedDateTime({ timeZone: zone });
        const next = d.add({ days: 1 }).toZonedDateTime({ timeZone: zone });
        const ok =
          start.hour === 0 &&
          start.minute === 0 &&
          start.offsetNanoseconds / 1e6 === off &&
          next.offsetNanoseconds / 1e6 === off;
        if (!ok) expect.fail(`${zone} ${d}: ${off}`);
      }
    }
  });

  it('days near a transition go the exact way, and utcToWall inverts wallToUtcMs on them', () => {
    expect(plainDayOffset('Europe/Berlin', Date.UTC(2026, 2, 29) / 86_400_000)).toBeNull();
    expect(plainDayOffset('Europe/Berlin', Date.UTC(2026, 2, 15) / 86_400_000)).toBe(3_600_000);
    expect(plainDayOffset('Pacific/Apia', Date.UTC(2011, 11, 30) / 86_400_000)).toBeNull();
    expect(utcToWall(Date.UTC(2026, 2, 29, 1, 30), 'Europe/Berlin')).toBe('2026-03-29T03:30');
    expect(wallToUtcMs('2011-12-31T10:00', 'Pacific/Apia')).toBe(Date.UTC(2011, 11, 30, 20, 0));
  });

  it('on days with a transition, wall times and instants convert as Temporal does (every third such day of 2000-2040, every 20 minutes; every minute around a few)', () => {
    const DAY = 86_400_000;
    const compatible = (wall: string, zone: string) =>
      (wall.length === 10
        ? Temporal.PlainDate.from(wall).toPlainDateTime()
        : Temporal.PlainDateTime.from(wall)
      ).toZonedDateTime(zone, { disambiguation: 'compatible' }).epochMilliseconds;
    const wallOf = (ms: number, zone: string) => {
      const z = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone);
      const sec = z.second === 0 ? '' : `:${String(z.second).padStart(2, '0')}`;
      return `${z.toPlainDate()}T${String(z.hour).padStart(2, '0')}:${String(z.minute).padStart(2, '0')}${sec}`;
    };
    const checkDay = (zone: string, day: number, stepMin: number) => {
      const date = new Date(day * DAY).toISOString().slice(0, 10);
      expect(wallToUtcMs(date, zone), `${zone} ${date}`).toBe(compatible(date, zone));
      for (let m = 0; m < 1440; m += stepMin) {
        const wall = `${date}T${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
        expect(wallToUtcMs(wall, zone), `${zone} ${wall}`).toBe(compatible(wall, zone));
        const ms = day * DAY + m * 60_000;
        expect(utcToWall(ms, zone), `${zone} ${ms}`).toBe(wallOf(ms, zone));
      }
    };
    let days = 0;
    for (const zone of ZONES) {
      let k = 0;
      for (let day = Date.UTC(2000, 0, 1) / DAY; day < Date.UTC(2040, 0, 1) / DAY; day++) {
        if (plainDayOffset(zone, day) !== null || k++ % 3 !== 0) continue;
        checkDay(zone, day, 20);
        days++;
      }
    }
    expect(days).toBeGreaterThan(400);
    for (const [zone, date] of [
      ['Europe/Berlin', '2026-03-29'],
      ['Europe/Berlin', '2026-10-25'],
      ['America/New_York', '2026-11-01'],
      ['Australia/Lord_Howe', '2026-04-05'],
      ['Pacific/Apia', '2011-12-29'],
      ['Pacific/Apia', '2011-12-31'],
    ] as const)
      checkDay(zone, Date.parse(`${date}T00:00Z`) / DAY, 1);
  });
});

describe('utcToWall', () => {
  it('matches Temporal for random instants 1901-2100, seconds written only when not zero (per-minute texts)', () => {
    const wallOf = (ms: number, zone: string) => {
      const z = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone);
      const sec = z.second === 0 ? '' : `:${String(z.second).padStart(2, '0')}`;
      return `${z.toPlainDate()}T${String(z.hour).padStart(2, '0')}:${String(z.minute).padStart(2, '0')}${sec}`;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: Date.UTC(1901, 0, 2) / 1000, max: Date.UTC(2100, 0, 1) / 1000 }),
        fc.constantFrom(...ZONES),
        fc.boolean(),
        (sec, zone, whole) => {
          // Half on whole minutes (most walls), half anywhere in the minute.
          const ms = (whole ? Math.floor(sec / 60) * 60 : sec) * 1000;
          expect(utcToWall(ms, zone)).toBe(wallOf(ms, zone));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
