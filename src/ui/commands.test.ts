import { describe, expect, it } from 'vitest';
import type { EventFields } from '../worker/api.ts';
import { fieldDiff, keyboardTimes } from './commands.ts';

const ev: EventFields = {
  title: 'Standup',
  start: '2025-03-10T09:00',
  end: '2025-03-10T09:30',
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: '',
};

describe('edit commands', () => {
  it('a save writes only the changed fields; its undo writes their old values', () => {
    expect(fieldDiff(ev, { ...ev })).toBeNull();
    expect(fieldDiff(ev, { ...ev, title: 'Retro', notes: 'x' })).toEqual({
      patch: { title: 'Retro', notes: 'x' },
      undo: { title: 'Standup', notes: '' },
    });
  });

  it('keyboard: Alt+arrows move, Alt+Shift+Up/Down resize, never below 15 minutes', () => {
    const k = (key: string, shiftKey = false) => ({ key, altKey: true, shiftKey });
    expect(keyboardTimes(ev, k('ArrowDown'), 'week')).toMatchObject({ start: '2025-03-10T09:15' });
    expect(keyboardTimes(ev, k('ArrowRight'), 'week')).toMatchObject({ start: '2025-03-11T09:00' });
    expect(keyboardTimes(ev, k('ArrowUp'), 'month')).toMatchObject({ start: '2025-03-03T09:00' });
    expect(keyboardTimes(ev, k('ArrowDown', true), 'week')).toMatchObject({
      end: '2025-03-10T09:45',
      what: 'Event resized',
    });
    expect(keyboardTimes({ ...ev, end: '2025-03-10T09:15' }, k('ArrowUp', true), 'week')).toBeNull();
    expect(keyboardTimes(ev, { key: 'ArrowDown', altKey: false, shiftKey: false }, 'week')).toBeNull();
  });
});
