import { describe, expect, it } from 'vitest';
import { fetchRange, formatRoute, monthWeeks, parseRoute, startOfWeek, step, visibleDays } from './nav.ts';

describe('navigation', () => {
  it('steps per view, keeping month days valid', () => {
    expect(step('day', '2026-11-30', 1)).toBe('2026-12-01');
    expect(step('week', '2026-11-24', -1)).toBe('2026-11-17');
    expect(step('month', '2026-01-31', 1)).toBe('2026-02-28');
    expect(step('month', '2026-03-31', -1)).toBe('2026-02-28');
    expect(step('agenda', '2026-11-24', 1)).toBe('2026-12-24');
  });

  it('weeks start on the configured weekday', () => {
    expect(startOfWeek('2026-11-24', 1)).toBe('2026-11-23'); // Monday
    expect(startOfWeek('2026-11-24', 7)).toBe('2026-11-22'); // Sunday
    expect(startOfWeek('2026-11-22', 7)).toBe('2026-11-22');
    expect(visibleDays('week', '2026-11-24', 1)).toHaveLength(7);
  });

  it('month grid covers whole weeks of the month', () => {
    const feb = monthWeeks('2026-02-14', 1); // Feb 1 2026 is a Sunday
    expect(feb[0]![0]).toBe('2026-01-26');
    expect(feb.at(-1)!.at(-1)).toBe('2026-03-01');
    expect(feb).toHaveLength(5);
    expect(monthWeeks('2026-08-01', 1)).toHaveLength(6); // Aug 2026 starts Saturday, 31 days
  });

  it('fetch range pads a day each side', () => {
    const r = fetchRange(['2026-11-24'], 'UTC');
    expect(r).toEqual({ fromMs: Date.parse('2026-11-23T00:00Z'), toMs: Date.parse('2026-11-26T00:00Z') });
  });
});

describe('route', () => {
  it('[UI-6] round-trips and rejects bad input', () => {
    expect(parseRoute(formatRoute({ view: 'week', date: '2026-11-24' }))).toEqual({
      view: 'week',
      date: '2026-11-24',
    });
    expect(parseRoute('#/agenda/2026-01-01')).toEqual({ view: 'agenda', date: '2026-01-01' });
    expect(parseRoute('#/year/2026-11-24')).toBeNull();
    expect(parseRoute('#/week/2026-02-30')).toBeNull();
    expect(parseRoute('#/week/2026-11-24/x')).toBeNull();
    expect(parseRoute('')).toBeNull();
  });
});
