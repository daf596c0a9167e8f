// .ics import in the engine host over the real Replica and IndexedDB store (fake-indexeddb):
// one atomic write, re-import by UID, cancel, bad items, a crash before the commit.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFields, ImportItem } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host, HostEvent } from './host-api.ts';

let factory: IDBFactory;
let hosts: Host[] = [];

async function start(): Promise<Host> {
  const h = await startEngineHost({ name: 'import-test', factory, durability: 'relaxed', relayUrl: null });
  hosts.push(h);
  return h;
}

afterEach(() => {
  for (const h of hosts) h.close();
  hosts = [];
});

const fields = (i: number, over: Partial<EventFields> = {}): EventFields => ({
  title: `Event ${i}`,
  start: `2025-03-${String((i % 28) + 1).padStart(2, '0')}T09:00`,
  end: `2025-03-${String((i % 28) + 1).padStart(2, '0')}T10:00`,
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: '',
  ...over,
});
const items = (n: number, over: Partial<EventFields> = {}): ImportItem[] =>
  Array.from({ length: n }, (_, i) => ({ uid: `uid-${i}@example.com`, fields: fields(i, over) }));
const ALL = { fromMs: Date.UTC(2000, 0, 1), toMs: Date.UTC(2100, 0, 1) };

describe('.ics import in the host', () => {
  it('[IMP-3] imports every event in one step with progress, and [IMP-2] re-importing updates by UID', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Imported', '#336699');
    const seen: HostEvent[] = [];
    h.onEvent((e) => seen.push(e));
    expect(await h.importEvents(cal, 'imp-1', items(300))).toEqual({ written: 300, unchanged: 0 });
    expect(await h.eventsInRange(ALL)).toHaveLength(300);
    const progress = seen.filter((e) => e.type === 'import');
    expect(progress.at(-1)).toEqual({ type: 'import', importId: 'imp-1', done: 300, total: 300 });
    expect(progress.length).toBeGreaterThan(3);
    // Same file again: nothing to write. One changed event: one write, same id, no copy.
    expect(await h.importEvents(cal, 'imp-2', items(300))).toEqual({ written: 0, unchanged: 300 });
    const changed = items(300);
    changed[7] = { uid: changed[7]!.uid, fields: fields(7, { title: 'Renamed' }) };
    expect(await h.importEvents(cal, 'imp-3', changed)).toEqual({ written: 1, unchanged: 299 });
    const all = await h.eventsInRange(ALL);
    expect(all).toHaveLength(300);
    expect(all.filter((e) => e.title === 'Renamed')).toHaveLength(1);
    // A deleted event comes back when the file is imported again.
    const victim = all.find((e) => e.title === 'Event 3')!;
    await h.deleteEvent(cal, victim.id);
    expect(await h.importEvents(cal, 'imp-4', changed)).toEqual({ written: 1, unchanged: 299 });
    expect((await h.eventsInRange(ALL)).some((e) => e.id === victim.id)).toBe(true);
  });

  it('[IMP-1] the same UID gives the same event id on another device; exported ids come back as themselves', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('A', '#336699');
    await h.importEvents(cal, 'x', items(2));
    const ids = (await h.eventsInRange(ALL)).map((e) => e.id).sort();
    const exported = await h.exportEvents(cal);
    expect(exported.map((e) => e.id).sort()).toEqual(ids);
    // Export, then import into the same calendar: the same events, updated in place.
    const back = exported.map((e) => ({ uid: e.uid, fields: { ...e.fields, notes: 'again' } }));
    expect(await h.importEvents(cal, 'y', back)).toEqual({ written: 2, unchanged: 0 });
    expect((await h.eventsInRange(ALL)).map((e) => e.id).sort()).toEqual(ids);
    // A fresh profile (another device) importing the same file derives the same ids.
    h.close();
    factory = new IDBFactory();
    const other = await start();
    const cal2 = await other.createCalendar('A', '#336699');
    await other.importEvents(cal2, 'z', items(2));
    const again = await other.exportEvents(cal2);
    expect(again.map((e) => e.id)).not.toEqual(ids); // ids are per calendar: (calendar, UID)
    await other.importEvents(cal2, 'z2', items(2));
    expect(await other.exportEvents(cal2)).toEqual(again);
  });

  it('[IMP-3] cancel leaves nothing; an invalid item refuses the whole file before anything is written', async () => {
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('C', '#336699');
    let cancelled = false;
    h.onEvent((e) => {
      if (e.type === 'import' && e.done >= 100 && !cancelled) {
        cancelled = true;
        void h.cancelImport('big');
      }
    });
    await expect(h.importEvents(cal, 'big', items(400))).rejects.toThrow(/cancelled/);
    expect(cancelled).toBe(true);
    expect(await h.eventsInRange(ALL)).toEqual([]);
    const bad = items(20);
    bad[13] = { uid: 'bad', fields: fields(13, { timeZone: 'Not a zone!' }) };
    await expect(h.importEvents(cal, 'bad', bad)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(h.importEvents(cal, 'nouid', [{ uid: '', fields: fields(1) }])).rejects.toThrow(/UID/);
    expect(await h.eventsInRange(ALL)).toEqual([]);
    // After all that, a reload finds nothing either, and a good import still works.
    h.close();
    const again = await start();
    expect(await again.eventsInRange(ALL)).toEqual([]);
    expect((await again.importEvents(cal, 'ok', items(5))).written).toBe(5);
  });
});
