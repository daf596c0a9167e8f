// Repeating events through the engine host (Node, fake-indexeddb): ranges answer occurrences, the
// span index answers the first range at cold start as the replica does, series edits and undo.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFields, EventView } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host } from './host-api.ts';

let factory: IDBFactory;
let hosts: Host[] = [];
const start = async (): Promise<Host> => {
  const h = await startEngineHost({ name: 'host-series', factory, durability: 'relaxed' });
  hosts.push(h);
  return h;
};
afterEach(() => {
  for (const h of hosts) h.close();
  hosts = [];
});

const weekly: EventFields = {
  title: 'Stand-up',
  start: '2025-03-03T09:00',
  end: '2025-03-03T09:30',
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: '',
  rrule: 'FREQ=WEEKLY;BYDAY=MO',
};
const MARCH = { fromMs: Date.UTC(2025, 2, 1), toMs: Date.UTC(2025, 3, 1) };
const id = (n: number) => n.toString(16).padStart(32, '0');
const brief = (vs: EventView[]) =>
  vs.map((v) => `${v.start} ${v.title}${v.occurrence?.detached ? ' (detached)' : ''}`);

describe('engine host: repeating events', () => {
  it('[SER-1][SER-4][RT-12] ranges show occurrences; edits and undo; a cold start answers from the span index as the replica does', async () => {
    factory = new IDBFactory();
    let h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    await h.createEvent(cal, id(1), weekly);
    await h.createEvent(cal, id(2), {
      ...weekly,
      title: 'Lunch',
      start: '2025-03-12T12:00',
      end: '2025-03-12T13:00',
      rrule: '',
    });
    let got = await h.eventsInRange(MARCH);
    expect(brief(got)).toEqual([
      '2025-03-03T09:00 Stand-up',
      '2025-03-10T09:00 Stand-up',
      '2025-03-12T12:00 Lunch',
      '2025-03-17T09:00 Stand-up',
      '2025-03-24T09:00 Stand-up',
      '2025-03-31T09:00 Stand-up',
    ]);
    const third = got.find((v) => v.start === '2025-03-17T09:00')!;
    expect(third.occurrence).toEqual({ seriesId: id(1), recurrenceId: '2025-03-17T09:00', detached: false });
    // An occurrence's id is its override's: getEvent finds it.
    expect((await h.getEvent(cal, third.id))?.start).toBe('2025-03-17T09:00');

    const undo = await h.editSeries(cal, { ...third.occurrence!, scope: 'this', delete: true });
    expect(brief(await h.eventsInRange(MARCH))).not.toContain('2025-03-17T09:00 Stand-up');
    await h.restoreSeries(cal, undo);
    expect(brief(await h.eventsInRange(MARCH))).toContain('2025-03-17T09:00 Stand-up');
    await h.editSeries(cal, { ...third.occurrence!, scope: 'all', fields: { title: 'Daily' } });
    // A drag of an occurrence (updateEvent on its id) is "This event".
    const second = (await h.eventsInRange(MARCH)).find((v) => v.start === '2025-03-10T09:00')!;
    await h.updateEvent(cal, second.id, { start: '2025-03-11T10:00', end: '2025-03-11T10:30' });
    got = await h.eventsInRange(MARCH);
    expect(brief(got)).toEqual([
      '2025-03-03T09:00 Daily',
      '2025-03-11T10:00 Daily',
      '2025-03-12T12:00 Lunch',
      '2025-03-17T09:00 Daily',
      '2025-03-24T09:00 Daily',
      '2025-03-31T09:00 Daily',
    ]);
    h.close();
    hosts = [];

    // Cold start: the first answer comes from the span index before the replica loads; a weekly
    // rule is expanded directly (RRULE-2), so it is in that answer, as the replica has it.
    h = await start();
    let changed = 0;
    h.onEvent((e) => {
      if (e.type === 'events') changed++;
    });
    const first = await h.eventsInRange(MARCH);
    expect(brief(first)).toEqual(brief(got));
    expect(first.map((v) => v.id)).toEqual(got.map((v) => v.id));
    for (let i = 0; i < 400 && changed === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(changed).toBeGreaterThan(0);
    const later = await h.eventsInRange(MARCH);
    expect(brief(later)).toEqual(brief(got));
    expect(later.map((v) => v.id)).toEqual(got.map((v) => v.id));
  });

  it('[RRULE-2][RT-12] at cold start a rule that needs the rule library follows as a change', async () => {
    factory = new IDBFactory();
    let h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    // The last weekday of the month: BYSETPOS is the library's.
    await h.createEvent(cal, id(1), {
      ...weekly,
      title: 'Report',
      rrule: 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1',
    });
    await h.createEvent(cal, id(2), {
      ...weekly,
      title: 'Lunch',
      start: '2025-03-12T12:00',
      end: '2025-03-12T13:00',
      rrule: '',
    });
    const got = await h.eventsInRange(MARCH);
    expect(brief(got)).toEqual([
      '2025-03-03T09:00 Report',
      '2025-03-12T12:00 Lunch',
      '2025-03-31T09:00 Report',
    ]);
    h.close();
    hosts = [];
    h = await start();
    let changed = 0;
    h.onEvent((e) => {
      if (e.type === 'events') changed++;
    });
    expect(brief(await h.eventsInRange(MARCH))).toEqual(['2025-03-12T12:00 Lunch']);
    for (let i = 0; i < 400 && changed === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(changed).toBeGreaterThan(0);
    expect(brief(await h.eventsInRange(MARCH))).toEqual(brief(got));
  });

  it('[SER-4][RRULE-1] a series lists its extra and skipped dates; a skipped occurrence (EXDATE or cancelled) is restored, and undo skips it again', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    await h.createEvent(cal, id(1), {
      ...weekly,
      rdates: ['2025-03-13T09:00'],
      exdates: ['2025-03-10T09:00'],
    });
    await h.editSeries(cal, {
      seriesId: id(1),
      recurrenceId: '2025-03-17T09:00',
      scope: 'this',
      delete: true,
    });
    expect(await h.seriesExceptions(cal, id(1))).toEqual({
      extra: ['2025-03-13T09:00'],
      skipped: [
        { recurrenceId: '2025-03-10T09:00', by: 'exdate' },
        { recurrenceId: '2025-03-17T09:00', by: 'cancelled' },
      ],
    });
    const starts = async () => (await h.eventsInRange(MARCH)).map((v) => v.start);
    expect(await starts()).toEqual([
      '2025-03-03T09:00',
      '2025-03-13T09:00',
      '2025-03-24T09:00',
      '2025-03-31T09:00',
    ]);
    const u1 = await h.restoreOccurrence(cal, id(1), '2025-03-10T09:00');
    const u2 = await h.restoreOccurrence(cal, id(1), '2025-03-17T09:00');
    expect(await starts()).toHaveLength(6);
    expect((await h.seriesExceptions(cal, id(1))).skipped).toEqual([]);
    await h.restoreSeries(cal, u2);
    await h.restoreSeries(cal, u1);
    expect(await starts()).toHaveLength(4);
    await expect(h.restoreOccurrence(cal, id(1), '2025-03-24T09:00')).rejects.toThrow(/not skipped/);
  });
});
