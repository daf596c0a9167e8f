// Moving an event between calendars ([RT-13]) and the remembered last sync ([RT-14]), over the real
// host, Replica and IndexedDB store (fake-indexeddb). A "crash" is a host closed after only part
// of a move was written; the next start must leave exactly one copy.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { DocId, EntityId } from '../engine/index.ts';
import type { EventFields, EventView } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host, HostEvent } from './host-api.ts';
import { openIdbStore } from './idb-store.ts';
import { type MoveIntent, movedEventId } from './move.ts';

let factory: IDBFactory;
let hosts: Host[] = [];
const NAME = 'move-test';

async function start(): Promise<Host> {
  const h = await startEngineHost({ name: NAME, factory, durability: 'relaxed', relayUrl: null });
  hosts.push(h);
  return h;
}

/** A new host over the same database, once its replica (and the start-up recovery) is up. */
async function restart(h: Host): Promise<Host> {
  h.close();
  hosts = hosts.filter((x) => x !== h);
  const h2 = await start();
  await h2.search('x');
  return h2;
}

async function putLocal(key: 'moves' | 'lastSyncedAt', value: unknown): Promise<void> {
  const store = await openIdbStore({ name: NAME, factory });
  await store.putLocal(key, value);
  store.close();
}

afterEach(() => {
  for (const h of hosts) h.close();
  hosts = [];
});

const fields = (over: Partial<EventFields> = {}): EventFields => ({
  title: 'Dentist',
  start: '2025-03-10T09:00',
  end: '2025-03-10T10:00',
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: 'Main St',
  notes: '',
  ...over,
});
const ALL = { fromMs: 0, toMs: Date.UTC(3000, 0, 1) };
const EV = '00000000000000000000000000000abc';

async function setup(): Promise<{ h: Host; work: string; home: string }> {
  factory = new IDBFactory();
  const h = await start();
  const work = await h.createCalendar('Work', '#336699');
  const home = await h.createCalendar('Home', '#993366');
  await h.createEvent(work, EV, fields());
  return { h, work, home };
}

const copies = (list: EventView[], title = 'Dentist') => list.filter((e) => e.title === title);

describe('calendar move', () => {
  it('[RT-13] moves an event in one call: one copy in the target with its values, none left in the source', async () => {
    const { h, work, home } = await setup();
    const id = await h.moveEvent(work, EV, home, fields({ title: 'Dentist', notes: 'moved' }));
    expect(id).toBe(movedEventId(work as DocId, EV as EntityId));
    const all = await h.eventsInRange(ALL);
    expect(copies(all).map((e) => [e.calendarId, e.notes])).toEqual([[home, 'moved']]);
    expect(await h.getEvent(work, EV)).toBeUndefined();
  });

  it('[RT-13] a move reaches the views as one change: the event is never drawn twice or not at all', async () => {
    const { h, work, home } = await setup();
    await h.search('x'); // the replica is up
    const seen: HostEvent[] = [];
    h.onEvent((e) => seen.push(e));
    await h.moveEvent(work, EV, home);
    expect(seen.filter((e) => e.type === 'events')).toHaveLength(1);
  });

  it('[RT-13] a move interrupted after the copy was written is completed at the next start: exactly one copy', async () => {
    const { h, work, home } = await setup();
    const copy = movedEventId(work as DocId, EV as EntityId);
    // The first half of a move, as a page closed between the two writes leaves it.
    const intent: MoveIntent = {
      from: work as DocId,
      event: EV as EntityId,
      to: home as DocId,
      fields: fields(),
    };
    await putLocal('moves', [intent]);
    await h.createEvent(home, copy, fields());
    expect(copies(await h.eventsInRange(ALL))).toHaveLength(2);
    const h2 = await restart(h);
    const all = await h2.eventsInRange(ALL);
    expect(copies(all).map((e) => [e.calendarId, e.id])).toEqual([[home, copy]]);
    // The journal is empty now: a third start changes nothing.
    const h3 = await restart(h2);
    expect(copies(await h3.eventsInRange(ALL)).map((e) => e.calendarId)).toEqual([home]);
  });

  it('[RT-13] a half-done move of an event with schema-2 values (repeat dates, alarms) is completed too', async () => {
    const { h, work, home } = await setup();
    const v2 = fields({
      rrule: 'FREQ=WEEKLY;COUNT=3',
      rdates: [],
      exdates: ['2025-03-17T09:00'],
      alarms: null,
    });
    await putLocal('moves', [{ from: work, event: EV, to: home, fields: v2 }]);
    const h2 = await restart(h);
    const all = await h2.eventsInRange(ALL);
    // Two occurrences (one excluded), all in Home: the journal record was not dropped as corrupt.
    expect(copies(all).map((e) => e.calendarId)).toEqual([home, home]);
  });

  it('[RT-13] a move interrupted after journaling but before any write is completed at the next start', async () => {
    const { h, work, home } = await setup();
    await putLocal('moves', [{ from: work, event: EV, to: home, fields: fields({ location: 'Side St' }) }]);
    const h2 = await restart(h);
    const all = await h2.eventsInRange(ALL);
    expect(copies(all).map((e) => [e.calendarId, e.location])).toEqual([[home, 'Side St']]);
  });

  it('[RT-13] replaying a finished move neither duplicates the event nor overwrites later edits of the copy', async () => {
    const { h, work, home } = await setup();
    const copy = await h.moveEvent(work, EV, home);
    await h.updateEvent(home, copy, { title: 'Dentist (moved)' });
    await putLocal('moves', [{ from: work, event: EV, to: home, fields: fields() }]);
    const h2 = await restart(h);
    const all = await h2.eventsInRange(ALL);
    expect(all.map((e) => [e.calendarId, e.title])).toEqual([[home, 'Dentist (moved)']]);
  });

  it('[RT-13] malformed journal records are ignored and reported; the host still serves', async () => {
    const { h, work } = await setup();
    await putLocal('moves', [
      { from: 'nope', event: 1 },
      'junk',
      { from: work, event: EV, to: work, fields: {} },
    ]);
    const h2 = await restart(h);
    const seen: HostEvent[] = [];
    h2.onEvent((e) => seen.push(e));
    expect(copies(await h2.eventsInRange(ALL)).map((e) => e.calendarId)).toEqual([work]);
    await h2.listMembers(work); // waits for the replica
    expect(seen.some((e) => e.type === 'error' && /3 unreadable calendar move/.test(e.error.message))).toBe(
      true,
    );
  });

  it('[RT-13] moving to the same or an unknown calendar is refused and changes nothing', async () => {
    const { h, work, home } = await setup();
    await expect(h.moveEvent(work, EV, work)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(h.moveEvent(work, EV, 'f'.repeat(32))).rejects.toMatchObject({ code: 'UnknownDoc' });
    await expect(h.moveEvent(work, EV, home, fields({ title: 'x'.repeat(100_000) }))).rejects.toBeTruthy();
    expect(copies(await h.eventsInRange(ALL)).map((e) => e.calendarId)).toEqual([work]);
  });
});

describe('last synced', () => {
  it('[RT-14] the moment of the last full sync survives a reload (no "Not synced yet" offline)', async () => {
    factory = new IDBFactory();
    const h = await start();
    await h.listCalendars();
    await putLocal('lastSyncedAt', 1_700_000_000_000);
    const h2 = await restart(h);
    expect((await h2.syncStatus()).lastSyncedAt).toBe(1_700_000_000_000);
    await h2.listMembers('0'.repeat(32)).catch(() => {}); // the replica is up now
    expect((await h2.syncStatus()).lastSyncedAt).toBe(1_700_000_000_000);
  });

  it('[RT-14] a stored value that is not a time reads as never synced', async () => {
    factory = new IDBFactory();
    const h = await start();
    await h.listCalendars();
    await putLocal('lastSyncedAt', 'yesterday');
    const h2 = await restart(h);
    expect((await h2.syncStatus()).lastSyncedAt).toBeNull();
  });
});

describe('calendar move at cold start', () => {
  it('[RT-13] before the replica has loaded, a half-done move shows its event once, not twice', async () => {
    const { h, work, home } = await setup();
    const copy = movedEventId(work as DocId, EV as EntityId);
    await putLocal('moves', [{ from: work, event: EV, to: home, fields: fields() }]);
    await h.createEvent(home, copy, fields());
    h.close();
    hosts = hosts.filter((x) => x !== h);
    const h2 = await start(); // first answer comes from the span index, before recovery
    expect(copies(await h2.eventsInRange(ALL)).map((e) => e.calendarId)).toEqual([home]);
  });
});
