// The engine host in Node over the real Replica and the IndexedDB store (fake-indexeddb):
// range views across time zones, change intervals, cold start from materialized state,
// injected storage failures and corrupt calendars.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFields } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host, HostEvent } from './host-api.ts';

let factory: IDBFactory;
let hosts: Host[] = [];

async function start(): Promise<Host> {
  const h = await startEngineHost({ name: 'host-test', factory, durability: 'relaxed' });
  hosts.push(h);
  return h;
}

function events(h: Host): HostEvent[] {
  const seen: HostEvent[] = [];
  h.onEvent((e) => seen.push(e));
  return seen;
}

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}

afterEach(() => {
  for (const h of hosts) h.close();
  hosts = [];
});

const ev = (over: Partial<EventFields> = {}): EventFields => ({
  title: 'Standup',
  start: '2025-03-10T09:00',
  end: '2025-03-10T09:30',
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: '',
  ...over,
});
const id = (n: number) => n.toString(16).padStart(32, '0');
const MARCH = { fromMs: Date.UTC(2025, 2, 1), toMs: Date.UTC(2025, 3, 1) };

describe('engine host', () => {
  it('creates calendars and events and serves them by UTC range', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    expect(await h.listCalendars()).toEqual([
      { id: cal, name: 'Work', color: '#336699', hidden: false, role: 'manager' },
    ]);
    await h.createEvent(cal, id(1), ev());
    await h.createEvent(
      cal,
      id(2),
      ev({
        title: 'NY call',
        start: '2025-03-10T09:00',
        end: '2025-03-10T10:00',
        timeZone: 'America/New_York',
      }),
    );
    await h.createEvent(
      cal,
      id(3),
      ev({ title: 'Holiday', start: '2025-04-02', end: '2025-04-03', allDay: true }),
    );
    const march = await h.eventsInRange(MARCH);
    expect(march.map((e) => e.title)).toEqual(['Standup', 'NY call']);
    // 09:00 in Berlin (CET, UTC+1) and 09:00 in New York (EDT since 9 March, UTC-4).
    expect(march[0]!.startMs).toBe(Date.UTC(2025, 2, 10, 8, 0));
    expect(march[1]!.startMs).toBe(Date.UTC(2025, 2, 10, 13, 0));
    expect(march[1]!.endMs).toBe(Date.UTC(2025, 2, 10, 14, 0));
    expect(
      (await h.eventsInRange({ fromMs: Date.UTC(2025, 3, 1), toMs: Date.UTC(2025, 4, 1) })).map(
        (e) => e.title,
      ),
    ).toEqual(['Holiday']);
    expect((await h.search('call')).map((e) => e.id)).toEqual([id(2)]);
    expect((await h.getEvent(cal, id(1)))?.title).toBe('Standup');
  });

  it('announces the old and the new extent of a moved event, and deletes / restores', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Home', '#aa0000');
    await h.createEvent(cal, id(1), ev());
    const seen = events(h);
    await h.updateEvent(cal, id(1), { start: '2025-05-01T09:00', end: '2025-05-01T10:00' });
    const change = seen.find((e) => e.type === 'events');
    expect(change).toEqual({
      type: 'events',
      intervals: [
        { fromMs: Date.UTC(2025, 2, 10, 8), toMs: Date.UTC(2025, 2, 10, 8, 30) },
        { fromMs: Date.UTC(2025, 4, 1, 7), toMs: Date.UTC(2025, 4, 1, 8) },
      ],
    });
    expect(await h.eventsInRange(MARCH)).toEqual([]);
    await h.deleteEvent(cal, id(1));
    expect(await h.getEvent(cal, id(1))).toBeUndefined();
    await h.restoreEvent(cal, id(1));
    expect((await h.getEvent(cal, id(1)))?.start).toBe('2025-05-01T09:00');
  });

  it('rejects bad input with a typed error and changes nothing', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('C', '#000000');
    await expect(h.createEvent(cal, id(1), ev({ start: 'tomorrow' }))).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    await expect(h.createEvent('nope', id(1), ev())).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(h.createEvent(id(9), id(1), ev())).rejects.toMatchObject({ code: 'UnknownDoc' });
    await expect(h.createCalendar('x', 'red')).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(await h.eventsInRange({ fromMs: 0, toMs: Number.MAX_SAFE_INTEGER })).toEqual([]);
  });

  it('[RT-10] cold start serves the materialized state without reading the op log', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    for (let i = 1; i <= 20; i++) await h.createEvent(cal, id(i), ev({ title: `e${i}` }));
    for (let i = 1; i <= 20; i++) await h.updateEvent(cal, id(i), { title: `edited ${i}` });
    await h.setCalendarHidden(cal, true);
    h.close();
    // Count op-log reads during the next start.
    const proto = globalThis.IDBIndex.prototype as unknown as { getAll: (...a: unknown[]) => unknown };
    const origGetAll = proto.getAll;
    let opLogReads = 0;
    proto.getAll = function (this: IDBIndex, ...a: unknown[]) {
      if (this.name === 'bySeq' && this.objectStore.name === 'ops') opLogReads++;
      return origGetAll.apply(this, a);
    };
    let again: Host;
    try {
      again = await start();
      // search waits for the replica's load ([RT-12]): count its reads too.
      await again.search('edited');
    } finally {
      proto.getAll = origGetAll;
    }
    expect(opLogReads).toBe(0);
    const list = await again.eventsInRange(MARCH);
    expect(list).toHaveLength(20);
    expect(list.every((e) => e.title.startsWith('edited '))).toBe(true);
    expect((await again.listCalendars())[0]?.hidden).toBe(true);
    expect((await again.syncStatus()).pendingUploads).toBe(42); // genesis + name/colour + 20 creates + 20 edits
  });

  it('[RT-12] a call only the replica answers, sent with the first range, starts the load after that answer', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    for (let i = 1; i <= 5; i++) await h.createEvent(cal, id(i), ev({ title: `e${i}` }));
    h.close();
    // The replica's load begins by reading this device's keys; the first range answer by
    // reading the span index. Which comes first?
    const stores = globalThis.IDBObjectStore.prototype as unknown as { get: (...a: unknown[]) => unknown };
    const indexes = globalThis.IDBIndex.prototype as unknown as { getAll: (...a: unknown[]) => unknown };
    const { get } = stores;
    const { getAll } = indexes;
    const order: string[] = [];
    stores.get = function (this: IDBObjectStore, ...a: unknown[]) {
      if (this.name === 'meta' && a[0] === 'device') order.push('replica load');
      return get.apply(this, a);
    };
    indexes.getAll = function (this: IDBIndex, ...a: unknown[]) {
      if (this.objectStore.name === 'spans') order.push('range');
      return getAll.apply(this, a);
    };
    try {
      const again = await start();
      order.length = 0;
      // As the UI does at start: its device, then its first range, in the same breath.
      const [dev, list] = await Promise.all([again.thisDevice(), again.eventsInRange(MARCH)]);
      expect(order[0]).toBe('range');
      expect(order).toContain('replica load');
      expect(list).toHaveLength(5);
      // Alone, such a call is answered (from the replica, now loaded).
      expect((await again.thisDevice()).id).toBe(dev.id);
    } finally {
      stores.get = get;
      indexes.getAll = getAll;
    }
  });

  it('[RT-12] the first range is answered from the span index before the replica is loaded, as the replica answers it', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    const other = await h.createCalendar('Home', '#aa3300');
    for (let i = 1; i <= 30; i++)
      await h.createEvent(
        i % 2 ? cal : other,
        id(i),
        ev({
          title: `e${i}`,
          start: `2025-03-${String((i % 28) + 1).padStart(2, '0')}T09:00`,
          end: `2025-03-${String((i % 28) + 1).padStart(2, '0')}T10:00`,
        }),
      );
    // Outside March, a long event reaching into it from February, an all-day one, a deleted one,
    // one moved out of March and one moved in.
    await h.createEvent(
      cal,
      id(40),
      ev({ title: 'april', start: '2025-04-10T09:00', end: '2025-04-10T10:00' }),
    );
    await h.createEvent(
      cal,
      id(41),
      ev({ title: 'long', start: '2025-02-01T00:00', end: '2025-03-05T00:00' }),
    );
    await h.createEvent(
      cal,
      id(42),
      ev({ title: 'holiday', start: '2025-03-31', end: '2025-04-01', allDay: true }),
    );
    await h.deleteEvent(cal, id(3));
    await h.updateEvent(cal, id(5), { start: '2025-05-01T09:00', end: '2025-05-01T10:00' });
    await h.updateEvent(cal, id(40), { start: '2025-03-30T23:30', end: '2025-03-31T01:00' });
    const expected = await h.eventsInRange(MARCH);
    h.close();

    const again = await start();
    const seen = events(again);
    const early = await again.eventsInRange(MARCH);
    const answeredBeforeReady = !seen.some((e) => e.type === 'events');
    const cals = await again.listCalendars();
    await until(() => seen.some((e) => e.type === 'events'));
    expect(answeredBeforeReady).toBe(true);
    expect(early).toEqual(expected);
    expect(early.map((e) => e.title)).toContain('long');
    expect(early.map((e) => e.title)).not.toContain('e3');
    expect(await again.eventsInRange(MARCH)).toEqual(expected);
    expect(cals.map((c) => c.name).sort()).toEqual(['Home', 'Work']);
    // Input the early path does not take is answered by the replica, exactly as before.
    expect(await again.eventsInRange({ fromMs: Number.NaN, toMs: 1 })).toEqual([]);
  });

  it('[RT-11] a quota failure on a write is reported, leaves state unchanged, and the host keeps serving', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    await h.createEvent(cal, id(1), ev());
    const seen = events(h);
    const proto = globalThis.IDBObjectStore.prototype as unknown as { put: (...a: unknown[]) => unknown };
    const orig = proto.put;
    let n = 0;
    proto.put = function (this: unknown, ...a: unknown[]) {
      // Fail the third put of the commit: the op and more were already queued.
      if (++n === 3) throw new DOMException('quota', 'QuotaExceededError');
      return orig.apply(this, a);
    };
    try {
      await expect(h.updateEvent(cal, id(1), { title: 'lost' })).rejects.toMatchObject({ code: 'Storage' });
    } finally {
      proto.put = orig;
    }
    expect(seen).toEqual([
      { type: 'error', error: { code: 'Storage', message: expect.stringMatching(/full/) } },
    ]);
    expect((await h.getEvent(cal, id(1)))?.title).toBe('Standup');
    await h.updateEvent(cal, id(1), { title: 'kept' });
    h.close();
    const again = await start();
    expect((await again.getEvent(cal, id(1)))?.title).toBe('kept');
  });

  it('[RT-11] a corrupt calendar is reported while the others are served', async () => {
    factory = new IDBFactory();
    const h = await start();
    const good = await h.createCalendar('Good', '#00aa00');
    const bad = await h.createCalendar('Bad', '#aa0000');
    await h.createEvent(good, id(1), ev({ title: 'fine' }));
    await h.createEvent(bad, id(2), ev({ title: 'doomed' }));
    h.close();
    // Tamper with one entity of the bad calendar.
    const db = await new Promise<IDBDatabase>((res) => {
      const r = factory.open('host-test');
      r.onsuccess = () => res(r.result);
    });
    await new Promise<void>((res) => {
      const tx = db.transaction('entities', 'readwrite');
      tx.objectStore('entities').put({ doc: bad, entity: id(2), registers: 'garbage' });
      tx.oncomplete = () => res();
    });
    db.close();
    const again = await start();
    const seen = events(again);
    // The replica's load runs after the first answers ([RT-12]); its report follows.
    await until(() => seen.length > 0);
    expect(seen[0]).toMatchObject({
      type: 'error',
      error: { code: 'Storage', message: expect.stringMatching(/corrupt/) },
    });
    expect((await again.listCalendars()).map((c) => c.name)).toEqual(['Good']);
    expect((await again.eventsInRange(MARCH)).map((e) => e.title)).toEqual(['fine']);
  });

  it('[RT-2] with IndexedDB unavailable every call fails with a clear Storage error', async () => {
    const broken = {
      open() {
        throw new DOMException('blocked by the browser', 'SecurityError');
      },
    } as unknown as IDBFactory;
    const h = await startEngineHost({ factory: broken });
    const seen = events(h);
    expect(seen[0]).toMatchObject({
      type: 'error',
      error: { code: 'Storage', message: expect.stringMatching(/cannot open/) },
    });
    await expect(h.listCalendars()).rejects.toMatchObject({ code: 'Storage' });
    await expect(h.createCalendar('x', '#000000')).rejects.toMatchObject({ code: 'Storage' });
  });
});
