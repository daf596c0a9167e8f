import { describe, expect, it } from 'vitest';
import { alarmsToSave, joinAllDay, splitAllDay, splitTimed } from './alarms.ts';

describe('reminder field values', () => {
  it('[REM-1] timed alarms read as the largest whole unit', () => {
    expect(splitTimed(10)).toEqual({ n: 10, unit: 'minutes' });
    expect(splitTimed(120)).toEqual({ n: 2, unit: 'hours' });
    expect(splitTimed(2880)).toEqual({ n: 2, unit: 'days' });
    expect(splitTimed(90)).toEqual({ n: 90, unit: 'minutes' });
  });

  it('[REM-1] all-day alarms are days before at a time of day, and back', () => {
    expect(splitAllDay(900)).toEqual({ days: 1, time: '09:00' });
    expect(splitAllDay(-540)).toEqual({ days: 0, time: '09:00' });
    expect(splitAllDay(2340)).toEqual({ days: 2, time: '09:00' });
    for (const m of [900, -540, 2340, 0, 1440, 1, -1439]) {
      const { days, time } = splitAllDay(m);
      expect(joinAllDay(days, time)).toBe(m);
    }
  });

  it('[REM-1] saved alarms are ascending, unique and within the register bounds', () => {
    expect(alarmsToSave([30, 10, 30, -20000, 1e9, 1.5, 0])).toEqual([0, 10, 30]);
  });
});
