// Moving a repeating event to another calendar ([RT-15]): the series, its splits and overrides move
// together over the real host, Replica and IndexedDB store (fake-indexeddb); an interrupted move
// is completed at the next start; the same series moved twice (or by a retry) gives one copy.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { DocId, EntityId } from '../engine/index.ts';
import type { EventFields, EventView } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host } from './host-api.ts';
import { openIdbStore } from './idb-store.ts';
import type { MoveIntent } from './move.ts';

let factory: IDBFactory;
let hosts: Host[] = [];
const NAME = 'series-move-test';
const start = async (): Promise<Host> => {
  const h = await startEngineHost({ name: NAME, factory, durability: 'relaxed', relayUrl: null });
  hosts.push(h);
  return h;
};
afterEach(() => {
  for (const h of hosts) h.close();
  hosts = [];
});

const S = 'c'.repeat(32);
const MARCH = { fromMs: Date.UTC(2026, 2, 1), toMs: Date.UTC(2026, 4, 1) };
const weekly: EventFields = {
  title: 'Stand-up',
  start: '2026-03-02T09:00',
  end: '2026-03-02T09:15',
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: 'Room 1',
  notes: '',
  rrule: 'FREQ=WEEKLY;COUNT=8',
};
const brief = (vs: EventView[], cal: string) =>
  vs
    .filter((v) => v.calendarId === cal)
    .map((v) => `${v.start} ${v.title} ${v.location}${v.occurrence?.detached ? ' (detached)' : ''}`)
    .sort();

async function setup(): Promise<{ h: Host; work: string; home: string }> {
  factory = new IDBFactory();
  const h = await start();
  const work = await h.createCalendar('Work', '#336699');
  const home = await h.createCalendar('Home', '#993366');
  await h.createEvent(work, S, weekly);
  await h.editSeries(work, {
    seriesId: S,
    recurrenceId: '2026-03-09T09:00',
    scope: 'this',
    fields: { title: 'Demo' },
  });
  await h.editSeries(work, { seriesId: S, recurrenceId: '2026-03-16T09:00', scope: 'this', delete: true });
  await h.editSeries(work, {
    seriesId: S,
    recurrenceId: '2026-04-06T09:00',
    scope: 'following',
    fields: { location: 'Hall' },
  });
  return { h, work, home };
}

describe('moving a repeating event', () => {
  it('[RT-15] moves the series with its splits and overrides in one call; nothing left in the source', async () => {
    const { h, work, home } = await setup();
    const before = brief(await h.eventsInRange(MARCH), work);
    expect(before).toHaveLength(7);
    const occ = (await h.eventsInRange(MARCH)).find((v) => v.start === '2026-03-23T09:00')!;
    const copy = await h.moveEvent(work, occ.id, home);
    const after = await h.eventsInRange(MARCH);
    expect(brief(after, work)).toEqual([]);
    expect(brief(after, home)).toEqual(before);
    // The returned id is the moved series: editing in the target works as before.
    const moved = after.find((v) => v.calendarId === home && v.start === '2026-03-30T09:00')!;
    expect(moved.occurrence?.seriesId).toBe(copy);
    await h.editSeries(home, {
      seriesId: copy,
      recurrenceId: '2026-03-30T09:00',
      scope: 'this',
      fields: { title: 'Retro' },
    });
    expect(brief(await h.eventsInRange(MARCH), home)).toContain('2026-03-30T09:00 Retro Room 1');
    // Undo is a move back: the same occurrences in the source again.
    await h.moveEvent(home, copy, work);
    const back = await h.eventsInRange(MARCH);
    expect(brief(back, home)).toEqual([]);
    expect(brief(back, work)).toHaveLength(7);
    expect(brief(back, work)).toContain('2026-03-09T09:00 Demo Room 1');
  });

  it('[RT-15] a series move interrupted before any write is completed at the next start, once', async () => {
    const { h, work, home } = await setup();
    const before = brief(await h.eventsInRange(MARCH), work);
    const intent: MoveIntent = {
      from: work as DocId,
      event: S as EntityId,
      to: home as DocId,
      fields: {} as EventFields,
      series: true,
    };
    const store = await openIdbStore({ name: NAME, factory });
    await store.putLocal('moves', [intent]);
    store.close();
    h.close();
    hosts = [];
    const h2 = await start();
    await h2.search('x');
    const all = await h2.eventsInRange(MARCH);
    expect(brief(all, home)).toEqual(before);
    expect(brief(all, work)).toEqual([]);
    // Completing the same intent again (a retry, or another device) writes the same entities.
    const store2 = await openIdbStore({ name: NAME, factory });
    await store2.putLocal('moves', [intent]);
    store2.close();
    h2.close();
    hosts = [];
    const h3 = await start();
    await h3.search('x');
    expect(brief(await h3.eventsInRange(MARCH), home)).toEqual(before);
  });
});
