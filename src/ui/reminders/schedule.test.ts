import { describe, expect, it } from 'vitest';
import { dueBetween, nextFire, type ReminderSource } from './schedule.ts';

const H = 3_600_000;
const src = (over: Partial<ReminderSource> = {}): ReminderSource => ({
  calendarId: 'c',
  eventId: 'e',
  title: 'Dentist',
  location: 'Main St 5',
  startMs: Date.UTC(2026, 2, 29, 8, 0), // 10:00 in Berlin, the first day of summer time
  allDay: false,
  startDate: '2026-03-29',
  alarms: [15, 24 * 60],
  dismissedUntilMs: 0,
  ...over,
});

describe('reminder schedule', () => {
  it('[REM-1] minutes, hours and days before a timed start', () => {
    const s = src();
    const due = dueBetween([s], 0, Date.UTC(2026, 3, 1), 'Europe/Berlin');
    expect(due.map((d) => d.fireAtMs)).toEqual([s.startMs - 24 * H, s.startMs - 15 * 60_000]);
    expect(due[1]).toMatchObject({ title: 'Dentist', tag: `ledgerday:c:e:${s.startMs}:15` });
    expect(due[1]!.body).toContain('Main St 5');
    expect(nextFire([s], s.startMs - 24 * H, 'Europe/Berlin')).toBe(s.startMs - 15 * 60_000);
  });

  it('[REM-1] an all-day event reminds at a time of day in the device zone, across DST', () => {
    // 15 hours before 00:00 of 29 March (Berlin) = 28 March 09:00 CET = 08:00 UTC.
    const s = src({ allDay: true, alarms: [900, -540] });
    const due = dueBetween([s], 0, Date.UTC(2026, 3, 1), 'Europe/Berlin');
    expect(due.map((d) => new Date(d.fireAtMs).toISOString())).toEqual([
      '2026-03-28T08:00:00.000Z',
      // "09:00 on the day" on the DST day is 09:00 CEST = 07:00 UTC (wall clock, not 9 hours).
      '2026-03-29T07:00:00.000Z',
    ]);
    expect(dueBetween([s], 0, Date.UTC(2026, 3, 1), 'America/New_York')[0]!.fireAtMs).toBe(
      Date.UTC(2026, 2, 28, 13, 0),
    );
  });

  it('[REM-3] the window is (from, to]; dismissed reminders (on any device) are not due', () => {
    const s = src();
    const at = s.startMs - 15 * 60_000;
    expect(dueBetween([s], at, at + H, 'UTC')).toEqual([]);
    expect(dueBetween([s], at - 1, at, 'UTC')).toHaveLength(1);
    expect(dueBetween([src({ dismissedUntilMs: at })], at - 1, at, 'UTC')).toEqual([]);
    expect(nextFire([src({ dismissedUntilMs: at })], 0, 'UTC')).toBeUndefined();
    expect(nextFire([src({ dismissedUntilMs: s.startMs - 24 * H })], 0, 'UTC')).toBe(at);
  });
});
