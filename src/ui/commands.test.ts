import { describe, expect, it } from 'vitest';
import type { CalendarClient, EventFields, EventView } from '../worker/api.ts';
import { createCommands, fieldDiff, keyboardTimes } from './commands.ts';

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

  it('a move or resize is on the undo stack as soon as it is drawn; its undo writes after it; a failed write leaves no undo', async () => {
    const writes: string[] = [];
    let release!: (ok: boolean) => void;
    const client = {
      updateEvent: (_c: string, _id: string, f: Partial<EventFields>) =>
        new Promise<void>((resolve, reject) => {
          if (f.end === '2025-03-10T09:45') {
            release = (ok) => {
              if (!ok) return reject(new Error('quota'));
              writes.push(`resize ${f.end}`);
              resolve();
            };
          } else {
            writes.push(`undo ${f.end}`);
            resolve();
          }
        }),
    } as unknown as CalendarClient;
    const stack: { label: string; undo: () => Promise<void> }[] = [];
    const cmds = createCommands({
      client,
      run: async (p) => {
        try {
          return await p;
        } catch {
          return undefined;
        }
      },
      record: (label, undo) => {
        const e = { label, undo };
        stack.push(e);
        return () => stack.splice(stack.indexOf(e), 1);
      },
      setOverride: () => {},
      focus: () => {},
      askScope: async () => undefined,
    });
    const view = { ...ev, id: 'e1', calendarId: 'c1' } as unknown as EventView;
    const times = { start: ev.start, end: '2025-03-10T09:45' };

    const done = cmds.changeTimes(view, times, 'Event resized', true);
    await Promise.resolve();
    expect(stack.map((e) => e.label)).toEqual(['Event resized']); // before the write returned
    const undone = stack.pop()!.undo(); // Ctrl+Z at once
    release(true);
    await Promise.all([done, undone]);
    expect(writes).toEqual(['resize 2025-03-10T09:45', 'undo 2025-03-10T09:30']);

    const failed = cmds.changeTimes(view, times, 'Event resized', true);
    await Promise.resolve();
    expect(stack).toHaveLength(1);
    release(false);
    await failed;
    expect(stack).toHaveLength(0);
  });
});
