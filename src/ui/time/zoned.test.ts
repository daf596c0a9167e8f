import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import {
  eventTimes,
  isDateStr,
  isValidZone,
  isWallStr,
  msToWall,
  shiftEvent,
  startOfDayMs,
  TimeInputError,
  timeLabel,
  wallToMs,
  zonesDiffer,
} from './zoned.ts';

const H = 3_600_000;
const utc = (s: string) => Date.parse(`${s}Z`);

describe('wall clock -> instant', () => {
  it('[UI-2] Europe/Berlin spring-forward gap moves forward by the gap', () => {
    // 2026-03-29 02:00 CET -> 03:00 CEST; 02:30 does not exist.
    expect(wallToMs('2026-03-29T01:30', 'Europe/Berlin')).toBe(utc('2026-03-29T00:30'));
    expect(wallToMs('2026-03-29T02:30', 'Europe/Berlin')).toBe(utc('2026-03-29T01:30'));
    expect(msToWall(wallToMs('2026-03-29T02:30', 'Europe/Berlin'), 'Europe/Berlin')).toBe('2026-03-29T03:30');
  });

  it('[UI-2] Europe/Berlin fall-back overlap takes the earlier instant', () => {
    // 2026-10-25 03:00 CEST -> 02:00 CET; 02:30 happens twice.
    expect(wallToMs('2026-10-25T02:30', 'Europe/Berlin')).toBe(utc('2026-10-25T00:30'));
    expect(msToWall(utc('2026-10-25T01:30'), 'Europe/Berlin')).toBe('2026-10-25T02:30');
  });

  it('[UI-2] America/New_York spring-forward and fall-back', () => {
    expect(wallToMs('2026-03-08T02:30', 'America/New_York')).toBe(utc('2026-03-08T07:30'));
    expect(wallToMs('2026-11-01T01:30', 'America/New_York')).toBe(utc('2026-11-01T05:30'));
    expect(msToWall(utc('2026-11-01T06:30'), 'America/New_York')).toBe('2026-11-01T01:30');
  });

  it('[UI-1] a 09:00 event stays at 09:00 local across DST, so its UTC time moves', () => {
    const before = wallToMs('2026-03-27T09:00', 'Europe/Berlin');
    const after = wallToMs('2026-03-30T09:00', 'Europe/Berlin');
    expect(after - before).toBe(3 * 24 * H - H);
    expect(msToWall(after, 'Europe/Berlin')).toBe('2026-03-30T09:00');
  });

  it('days around DST are 23 and 25 hours long', () => {
    const z = 'America/New_York';
    expect(startOfDayMs('2026-03-09', z) - startOfDayMs('2026-03-08', z)).toBe(23 * H);
    expect(startOfDayMs('2026-11-02', z) - startOfDayMs('2026-11-01', z)).toBe(25 * H);
  });

  it('rejects malformed input with a typed error', () => {
    expect(() => wallToMs('2026-02-30T10:00', 'UTC')).toThrow(TimeInputError);
    expect(() => wallToMs('tomorrow', 'UTC')).toThrow(TimeInputError);
    expect(() => wallToMs('2026-02-10T10:00', 'Mars/Olympus')).toThrow();
    expect(isValidZone('Mars/Olympus')).toBe(false);
    expect(isValidZone('Europe/Berlin')).toBe(true);
    expect(isDateStr('2026-02-29')).toBe(false);
    expect(isDateStr('2028-02-29')).toBe(true);
    expect(isWallStr('2026-01-01T24:00')).toBe(false);
  });
});

describe('event times in a display zone', () => {
  it('a Berlin event shows at the New York time, which differs in the weeks the DST dates differ', () => {
    const f = {
      start: '2026-03-10T15:00',
      end: '2026-03-10T16:00',
      allDay: false,
      timeZone: 'Europe/Berlin',
    };
    const t = eventTimes(f, 'America/New_York');
    expect(msToWall(t.startMs, 'America/New_York')).toBe('2026-03-10T10:00'); // US already on DST
    const g = { ...f, start: '2026-04-14T15:00', end: '2026-04-14T16:00' };
    expect(msToWall(eventTimes(g, 'America/New_York').startMs, 'America/New_York')).toBe('2026-04-14T09:00');
    const label = timeLabel(f, t, 'America/New_York', 'en-US');
    expect(label.display).toBe('10:00 AM – 11:00 AM');
    expect(label.original).toContain('3:00 PM – 4:00 PM');
    expect(label.original).toContain('Europe/Berlin');
    expect(timeLabel(f, eventTimes(f, 'Europe/Berlin'), 'Europe/Berlin', 'en-US').original).toBeUndefined();
  });

  it('zones with the same offset are not shown twice', () => {
    expect(zonesDiffer('Europe/Paris', 'Europe/Berlin', utc('2026-06-01T12:00'))).toBe(false);
    expect(zonesDiffer('Europe/London', 'Europe/Berlin', utc('2026-06-01T12:00'))).toBe(true);
  });

  it('timed events map to the display zone days; an end at midnight does not touch the next day', () => {
    const f = { start: '2026-11-24T22:00', end: '2026-11-25T00:00', allDay: false, timeZone: 'UTC' };
    expect(eventTimes(f, 'UTC')).toMatchObject({ firstDay: '2026-11-24', lastDay: '2026-11-24' });
    // In Tokyo (UTC+9) the same event is on the morning of the 25th.
    expect(eventTimes(f, 'Asia/Tokyo')).toMatchObject({ firstDay: '2026-11-25', lastDay: '2026-11-25' });
    // In New York it is 17:00-19:00 on the 24th.
    expect(eventTimes(f, 'America/New_York')).toMatchObject({
      firstDay: '2026-11-24',
      lastDay: '2026-11-24',
    });
  });

  it('[UI-3] all-day events keep their dates in every display zone (exclusive end)', () => {
    const f = { start: '2026-11-24', end: '2026-11-27', allDay: true, timeZone: 'Europe/Berlin' };
    for (const z of ['Pacific/Kiritimati', 'Pacific/Pago_Pago', 'UTC']) {
      expect(eventTimes(f, z)).toMatchObject({ allDay: true, firstDay: '2026-11-24', lastDay: '2026-11-26' });
    }
    // A degenerate end (same day) still covers one day.
    const g = { ...f, end: '2026-11-24' };
    expect(eventTimes(g, 'UTC')).toMatchObject({ firstDay: '2026-11-24', lastDay: '2026-11-24' });
  });
});

describe('shifting events', () => {
  it('[UI-1] moving by a day keeps the wall-clock time across spring-forward', () => {
    const f = {
      start: '2026-03-28T09:00',
      end: '2026-03-28T10:00',
      allDay: false,
      timeZone: 'Europe/Berlin',
    };
    expect(shiftEvent(f, { days: 1 })).toEqual({ start: '2026-03-29T09:00', end: '2026-03-29T10:00' });
  });

  it('moving by minutes through the fall-back hour follows real time', () => {
    const f = {
      start: '2026-11-01T00:45',
      end: '2026-11-01T01:15',
      allDay: false,
      timeZone: 'America/New_York',
    };
    // +60 real minutes from 00:45 EDT is 01:45 EDT; from 01:15 EDT it is 01:15 EST (shown as 01:15).
    expect(shiftEvent(f, { minutes: 60 })).toEqual({ start: '2026-11-01T01:45', end: '2026-11-01T01:15' });
  });

  it('all-day events move by dates', () => {
    const f = { start: '2026-12-31', end: '2027-01-01', allDay: true, timeZone: 'UTC' };
    expect(shiftEvent(f, { days: 1 })).toEqual({ start: '2027-01-01', end: '2027-01-02' });
  });
});

describe('event days in the display zone', () => {
  it('firstDay and lastDay match Temporal for random events, zones and DST days', () => {
    const zones = [
      'UTC',
      'Europe/Berlin',
      'America/New_York',
      'Australia/Lord_Howe',
      'Asia/Kolkata',
      'Pacific/Apia',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: Date.UTC(2010, 0, 1), max: Date.UTC(2035, 0, 1) }),
        fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 * 86_400_000 }), fc.constant(86_400_000)),
        fc.boolean(),
        (zone, start, len, round) => {
          const s = round ? Math.floor(start / 3_600_000) * 3_600_000 : Math.floor(start / 60_000) * 60_000;
          const e = s + (round ? Math.floor(len / 3_600_000) * 3_600_000 : len - (len % 60_000));
          const f = { start: '2026-01-01T00:00', end: '2026-01-01T00:00', allDay: false, timeZone: 'UTC' };
          const got = eventTimes(f, zone, { startMs: s, endMs: e });
          const zs = Temporal.Instant.fromEpochMilliseconds(s).toZonedDateTimeISO(zone);
          const ze = Temporal.Instant.fromEpochMilliseconds(e).toZonedDateTimeISO(zone);
          let last = ze.toPlainDate();
          if (e > s && ze.hour === 0 && ze.minute === 0 && ze.second === 0) last = last.subtract({ days: 1 });
          if (Temporal.PlainDate.compare(last, zs.toPlainDate()) < 0) last = zs.toPlainDate();
          expect([got.firstDay, got.lastDay]).toEqual([zs.toPlainDate().toString(), last.toString()]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('[UI-3] all-day events: instants and days match Temporal (zones whose DST starts at midnight too)', () => {
    // America/Santiago, Asia/Beirut and America/Havana skip or repeat midnight on some days: the
    // day starts at its first instant there, as Temporal's startOfDay.
    const zones = [
      'UTC',
      'Europe/Berlin',
      'America/Santiago',
      'Asia/Beirut',
      'America/Havana',
      'Pacific/Apia',
    ];
    const day = (n: number) => new Date(n * 86_400_000).toISOString().slice(0, 10);
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        fc.integer({ min: 14_600, max: 23_700 }),
        fc.integer({ min: -2, max: 40 }),
        (zone, first, len) => {
          const f = { start: day(first), end: day(first + len), allDay: true, timeZone: 'UTC' };
          const a = Temporal.PlainDate.from(f.start);
          let b = Temporal.PlainDate.from(f.end);
          if (Temporal.PlainDate.compare(b, a) <= 0) b = a.add({ days: 1 });
          expect(eventTimes(f, zone)).toEqual({
            allDay: true,
            startMs: a.toZonedDateTime({ timeZone: zone }).epochMilliseconds,
            endMs: b.toZonedDateTime({ timeZone: zone }).epochMilliseconds,
            firstDay: a.toString(),
            lastDay: b.subtract({ days: 1 }).toString(),
          });
        },
      ),
      { numRuns: 1000 },
    );
    for (const bad of ['2026-02-30', '2026-13-01', '26-01-01', '2026-1-01'])
      expect(() =>
        eventTimes({ start: bad, end: '2026-03-01', allDay: true, timeZone: 'UTC' }, 'UTC'),
      ).toThrow(TimeInputError);
  });
});
