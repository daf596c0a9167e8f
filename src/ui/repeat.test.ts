import { describe, expect, it } from 'vitest';
import { customFrom, presetOf, presets, ruleFromCustom, weekdayOf } from './repeat.ts';

describe('Repeat control', () => {
  it('names the presets as the issue does, with the weekday of the start', () => {
    expect(presets('2026-11-25T09:00').map((p) => p.label)).toEqual([
      'Does not repeat',
      'Daily',
      'Weekly on Wednesday',
      'Monthly',
      'Yearly',
      'Every weekday',
    ]);
    expect(weekdayOf('2026-11-29')).toBe('SU');
  });

  it('recognises a stored rule as its preset in any part order, else Custom', () => {
    expect(presetOf('', '2026-11-25')).toBe('none');
    expect(presetOf('BYDAY=WE;FREQ=WEEKLY', '2026-11-25')).toBe('weekly');
    expect(presetOf('FREQ=WEEKLY;BYDAY=WE', '2026-11-26')).toBe('custom');
    expect(presetOf('FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', '2026-11-26')).toBe('weekdays');
    expect(presetOf('FREQ=MONTHLY;BYDAY=-1FR', '2026-11-27')).toBe('custom');
  });

  it('Custom: Repeat every, Repeat on and Ends make the rule, and a rule reads back into them', () => {
    const c = customFrom('', '2026-11-25T09:00');
    expect(c).toMatchObject({ every: 1, unit: 'WEEKLY', on: ['WE'], ends: 'never' });
    expect(ruleFromCustom({ ...c, every: 2, on: ['FR', 'MO'], ends: 'after', count: 6 })).toBe(
      'FREQ=WEEKLY;COUNT=6;INTERVAL=2;BYDAY=MO,FR',
    );
    expect(ruleFromCustom({ ...c, unit: 'MONTHLY', ends: 'on', until: '2027-03-31' })).toBe(
      'FREQ=MONTHLY;UNTIL=20270331',
    );
    expect(ruleFromCustom({ ...c, on: [] })).toBeUndefined();
    expect(ruleFromCustom({ ...c, every: 0 })).toBeUndefined();
    const back = customFrom('FREQ=WEEKLY;UNTIL=20270331;INTERVAL=3;BYDAY=TU,TH', '2026-11-24');
    expect(back).toMatchObject({
      every: 3,
      unit: 'WEEKLY',
      on: ['TU', 'TH'],
      ends: 'on',
      until: '2027-03-31',
    });
  });

  it('Custom keeps the parts it does not show (an imported BYSETPOS) when Ends changes', () => {
    const c = customFrom('FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1', '2026-11-30');
    expect(ruleFromCustom({ ...c, ends: 'after', count: 3 })).toBe(
      'FREQ=MONTHLY;COUNT=3;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1',
    );
  });
});
