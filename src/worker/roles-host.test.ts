// Roles in the engine host (docs/PROTOCOL.md ROLE-*): what the DataApi reports and refuses, over
// the real host, Replica and IndexedDB store (fake-indexeddb). One device plays every role by
// changing its own (a manager may): manager, then editor, then viewer.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFields } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host } from './host-api.ts';
import type { IdbStore } from './idb-store.ts';
import { MAX_VIEWER_DISMISSALS, parseViewerDismissals, ViewerDismissals } from './viewer-dismissals.ts';

let hosts: Host[] = [];
afterEach(() => {
  for (const h of hosts) h.close();
  hosts = [];
});

async function start(factory = new IDBFactory()): Promise<Host> {
  const h = await startEngineHost({
    name: 'roles-host',
    factory,
    durability: 'relaxed',
    relayUrl: null,
  });
  hosts.push(h);
  return h;
}

const EV = '0000000000000000000000000000beef';
const START = Date.UTC(2030, 0, 10, 9);
const fields: EventFields = {
  title: 'Dentist',
  start: '2030-01-10T10:00',
  end: '2030-01-10T11:00',
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: '',
  alarms: [30],
};

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

describe('roles in the host', () => {
  it('[ROLE-9][ROLE-8][ROLE-4] roles are reported; an editor cannot change the calendar; a viewer cannot write and dismisses locally', async () => {
    const factory = new IDBFactory();
    const h = await start(factory);
    const cal = await h.createCalendar('Family', '#336699');
    await h.createEvent(cal, EV, fields);
    const me = (await h.thisDevice()).id;
    expect((await h.listCalendars()).find((c) => c.id === cal)?.role).toBe('manager');
    expect((await h.listMembers(cal)).map((d) => [d.isThisDevice, d.role])).toEqual([[true, 'manager']]);
    expect(await code(h.createInvite('https://example.org', [cal], undefined, 'owner' as never))).toBe(
      'InvalidArgument',
    );
    expect(await code(h.setRole(cal, me, 'admin' as never))).toBe('InvalidArgument');

    await h.setRole(cal, me, 'editor');
    expect((await h.listCalendars()).find((c) => c.id === cal)?.role).toBe('editor');
    expect(await code(h.renameCalendar(cal, 'Mine', '#000000'))).toBe('NotPermitted');
    expect(await code(h.setDefaultAlarms(cal, [10]))).toBe('NotPermitted');
    expect(await code(h.createInvite('https://example.org', [cal]))).toBe('NotPermitted');
    expect((await h.listCalendars()).find((c) => c.id === cal)?.name).toBe('Family');
    await h.updateEvent(cal, EV, { title: 'Dentist (edited)' });
    expect(await code(h.setRole(cal, me, 'manager'))).toBe('NotPermitted');

    // A second calendar, where the manager makes itself a viewer.
    const cal2 = await h.createCalendar('Club', '#993366');
    await h.createEvent(cal2, EV, fields);
    await h.setRole(cal2, me, 'viewer');
    expect((await h.listCalendars()).find((c) => c.id === cal2)?.role).toBe('viewer');
    expect(await code(h.updateEvent(cal2, EV, { title: 'x' }))).toBe('NotPermitted');
    expect(await code(h.createEvent(cal2, '0000000000000000000000000000f00d', fields))).toBe('NotPermitted');
    expect((await h.getEvent(cal2, EV))?.title).toBe('Dentist');
    // ROLE-9: the dismissal is kept on this device: the reminder is no longer due here.
    const before = (await h.reminderOccurrences(START - 86_400_000, START + 86_400_000)).filter(
      (o) => o.calendarId === cal2,
    );
    expect(before.map((o) => o.dismissedUntilMs)).toEqual([0]);
    await h.dismissReminder(cal2, EV, START);
    const after = (await h.reminderOccurrences(START - 86_400_000, START + 86_400_000)).filter(
      (o) => o.calendarId === cal2,
    );
    expect(after.map((o) => o.dismissedUntilMs)).toEqual([START]);
    expect((await h.getEvent(cal2, EV))?.title).toBe('Dentist');
    // An earlier dismissal does not move it back.
    await h.dismissReminder(cal2, EV, START - 60_000);
    await h.dismissReminder(cal2, EV, START + 1);

    // It outlives the session: after a restart (a reload) the reminder stays dismissed.
    h.close();
    hosts = [];
    const again = await start(factory);
    const reloaded = (await again.reminderOccurrences(START - 86_400_000, START + 86_400_000)).filter(
      (o) => o.calendarId === cal2,
    );
    expect(reloaded.map((o) => [o.eventId, o.dismissedUntilMs])).toEqual([[EV, START + 1]]);
  });

  it('[ROLE-9] dismissals made at once (two tabs, two reminders) are all kept', async () => {
    // A store whose reads and writes take turns with other calls, as IndexedDB's do.
    let stored: unknown;
    const tick = () => new Promise((r) => setTimeout(r, 1));
    const store = {
      getLocal: async () => {
        await tick();
        return stored;
      },
      putLocal: async (_k: string, v: unknown) => {
        await tick();
        stored = v;
      },
    } as unknown as IdbStore;
    const d = new ViewerDismissals(store);
    const key = (i: number) => `${'ab'.repeat(16)}/${i.toString(16).padStart(32, '0')}`;
    await Promise.all(
      [1, 2, 3, 4].map((i) => d.dismiss('ab'.repeat(16), i.toString(16).padStart(32, '0'), i)),
    );
    expect(await d.read()).toEqual(new Map([1, 2, 3, 4].map((i) => [key(i), i])));
  });

  it('[ROLE-9] stored viewer dismissals are read strictly: a malformed record reads as none, the newest are kept', () => {
    const k = `${'ab'.repeat(16)}/${'cd'.repeat(16)}`;
    expect(parseViewerDismissals({ v: 1, entries: [[k, 5]] })).toEqual(new Map([[k, 5]]));
    for (const bad of [
      undefined,
      null,
      'x',
      { v: 2, entries: [] },
      { v: 1, entries: {} },
      { v: 1, entries: [[k, -1]] },
      { v: 1, entries: [[k, Number.NaN]] },
      { v: 1, entries: [['../x', 5]] },
      { v: 1, entries: [[k, 5, 6]] },
      { v: 1, entries: Array.from({ length: MAX_VIEWER_DISMISSALS + 1 }, () => [k, 1]) },
    ])
      expect(parseViewerDismissals(bad).size).toBe(0);
  });
});
