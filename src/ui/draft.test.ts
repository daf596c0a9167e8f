import { describe, expect, it } from 'vitest';
import { fieldsFromForm, formFromFields, toggleAllDay } from './draft.ts';
import { UndoStack } from './undo.ts';

const timed = {
  title: ' Standup ',
  start: '2026-11-24T09:00',
  end: '2026-11-24T09:30',
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: 'n',
};

describe('event form', () => {
  it('round-trips timed fields and trims the title', () => {
    const r = fieldsFromForm(formFromFields(timed, 'c1'));
    expect(r).toEqual({ ok: true, fields: { ...timed, title: 'Standup', rrule: '' } });
  });

  it('carries the Repeat rule, and refuses to save while Custom holds no valid rule', () => {
    const s = formFromFields({ ...timed, rrule: 'FREQ=WEEKLY;BYDAY=TU' }, 'c1');
    expect(fieldsFromForm(s)).toMatchObject({ ok: true, fields: { rrule: 'FREQ=WEEKLY;BYDAY=TU' } });
    expect(fieldsFromForm({ ...s, rrule: undefined })).toMatchObject({ ok: false, field: 'Repeat' });
  });

  it('[UI-3] shows all-day ends inclusive and stores them exclusive', () => {
    const f = { ...timed, allDay: true, start: '2026-11-24', end: '2026-11-26' };
    const s = formFromFields(f, 'c1');
    expect(s.end).toBe('2026-11-25');
    expect(fieldsFromForm(s)).toMatchObject({ ok: true, fields: { start: '2026-11-24', end: '2026-11-26' } });
  });

  it('converts when All day is toggled', () => {
    const s = toggleAllDay(formFromFields(timed, 'c1'), true);
    expect([s.start, s.end]).toEqual(['2026-11-24', '2026-11-24']);
    const back = toggleAllDay(s, false);
    expect([back.start, back.end]).toEqual(['2026-11-24T09:00', '2026-11-24T10:00']);
  });

  it('rejects an end before the start, bad dates and unknown zones', () => {
    const s = formFromFields(timed, 'c1');
    expect(fieldsFromForm({ ...s, end: '2026-11-24T08:00' })).toMatchObject({ ok: false, field: 'End' });
    expect(fieldsFromForm({ ...s, start: '' })).toMatchObject({ ok: false, field: 'Start' });
    expect(fieldsFromForm({ ...s, timeZone: 'Nowhere/Land' })).toMatchObject({
      ok: false,
      field: 'Time zone',
    });
    const a = formFromFields({ ...timed, allDay: true, start: '2026-11-24', end: '2026-11-25' }, 'c1');
    expect(fieldsFromForm({ ...a, end: '2026-11-23' })).toMatchObject({ ok: false, field: 'End' });
  });
});

describe('undo stack', () => {
  it('[UI-7] pops newest first, removes a given entry, and is bounded', async () => {
    const s = new UndoStack();
    const log: string[] = [];
    const mk = (l: string) => ({ label: l, undo: async () => void log.push(l) });
    const a = mk('a');
    s.push(a);
    s.push(mk('b'));
    await s.pop()?.undo();
    expect(log).toEqual(['b']);
    s.remove(a);
    expect(s.pop()).toBeUndefined();
    for (let i = 0; i < 60; i++) s.push(mk(String(i)));
    expect(s.size).toBe(50);
  });
});
