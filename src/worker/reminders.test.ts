// Reminder occurrences from the host (series expanded with their overrides, defaults, dismissals)
// and the dismissal register's merge across devices.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { type EntityId, EventField, eventFromRecord, utf8 } from '../engine/index.ts';
import { manualClock, openReplica, testDevice } from '../engine/testkit.testkit.ts';
import type { EventFields } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host } from './host-api.ts';
import { dismissedUntilMs } from './reminders.ts';

let hosts: Host[] = [];
afterEach(() => {
  for (const h of hosts) h.close();
  hosts = [];
});
async function start(): Promise<Host> {
  const h = await startEngineHost({
    name: 'rem',
    factory: new IDBFactory(),
    durability: 'relaxed',
    relayUrl: null,
  });
  hosts.push(h);
  return h;
}
const weekly: EventFields = {
  title: 'Standup',
  start: '2026-11-23T09:00',
  end: '2026-11-23T09:15',
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: 'Room 2',
  notes: '',
  rrule: 'FREQ=WEEKLY;COUNT=10',
  alarms: [10],
};
const S = '5'.repeat(32);
const at = (iso: string) => Date.parse(iso);

describe('reminder occurrences', () => {
  it('[REM-1] a series reminds at every occurrence; an override moves its reminder, a cancelled one has none', async () => {
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    await h.createEvent(cal, S, weekly);
    const range = [at('2026-11-20T00:00Z'), at('2026-12-20T00:00Z')] as const;
    expect((await h.reminderOccurrences(...range)).map((o) => new Date(o.startMs).toISOString())).toEqual([
      '2026-11-23T08:00:00.000Z',
      '2026-11-30T08:00:00.000Z',
      '2026-12-07T08:00:00.000Z',
      '2026-12-14T08:00:00.000Z',
    ]);
    // Overrides through the import path (the same entities a "This event" edit writes).
    await h.importEvents(cal, 'y', [
      {
        uid: `${S}@ledgerday`,
        recurrenceId: null,
        cancelled: false,
        extra: '',
        fields: weekly,
      },
      {
        uid: `${S}@ledgerday`,
        recurrenceId: '2026-11-30T09:00',
        cancelled: false,
        extra: '',
        fields: {
          ...weekly,
          rrule: '',
          start: '2026-11-30T11:00',
          end: '2026-11-30T11:15',
          title: 'Late standup',
        },
      },
      { uid: `${S}@ledgerday`, recurrenceId: '2026-12-07T09:00', cancelled: true, extra: '', fields: weekly },
    ]);
    const occ = await h.reminderOccurrences(...range);
    expect(occ.map((o) => [new Date(o.startMs).toISOString(), o.title, o.eventId])).toEqual([
      ['2026-11-23T08:00:00.000Z', 'Standup', S],
      ['2026-11-30T10:00:00.000Z', 'Late standup', S],
      ['2026-12-14T08:00:00.000Z', 'Standup', S],
    ]);
  });

  it("[REM-1] events without their own reminders take the calendar's default", async () => {
    const h = await start();
    const cal = await h.createCalendar('Home', '#336699');
    const { alarms: _a, ...noAlarms } = weekly;
    await h.createEvent(cal, S, { ...noAlarms, rrule: '' });
    const range = [at('2026-11-20T00:00Z'), at('2026-11-30T00:00Z')] as const;
    expect(await h.reminderOccurrences(...range)).toEqual([]);
    await h.setDefaultAlarms(cal, [30, 1440]);
    expect((await h.listCalendars())[0]?.defaultAlarms).toEqual([30, 1440]);
    expect((await h.reminderOccurrences(...range)).map((o) => o.alarms)).toEqual([[30, 1440]]);
    await h.updateEvent(cal, S, { alarms: [] });
    expect(await h.reminderOccurrences(...range)).toEqual([]);
  });

  it('[REM-3] a dismissal is stored on the event and never moves back', async () => {
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    await h.createEvent(cal, S, { ...weekly, rrule: '' });
    const range = [at('2026-11-20T00:00Z'), at('2026-11-30T00:00Z')] as const;
    await h.dismissReminder(cal, S, at('2026-11-23T07:50Z'));
    await h.dismissReminder(cal, S, at('2026-11-23T07:00Z'));
    expect((await h.reminderOccurrences(...range))[0]?.dismissedUntilMs).toBe(at('2026-11-23T07:50Z'));
    expect((await h.getEvent(cal, S))?.dismissedUntilMs).toBe(at('2026-11-23T07:50Z'));
  });

  it('[REM-3] concurrent dismissals on two devices merge to the later time, whichever write wins', async () => {
    const a = testDevice('a');
    const b = testDevice('b');
    const ra = await openReplica(a);
    // B's clock is far ahead: its (older) dismissal wins the register by LWW.
    const rb = await openReplica(b, { clock: manualClock(1_800_000_000_000_000) });
    const g = await ra.createCalendar({ name: 'C' });
    await ra.addMember(g.doc, await rb.deviceCard(g.doc));
    const E = '6'.repeat(32) as EntityId;
    await ra.write(g.doc, E, [{ field: EventField.Title, value: utf8('x') }]);
    for (const op of await ra.listOps(g.doc, 0, 100)) await rb.receive(op.bytes);
    // A dismisses the 10:00 reminder; B, concurrently and with a later clock, an older one.
    await ra.write(g.doc, E, [{ field: EventField.DismissedUntil, value: utf8('2026-11-23T10:00:00') }]);
    await rb.write(g.doc, E, [{ field: EventField.DismissedUntil, value: utf8('2026-11-23T09:00:00') }]);
    for (const op of await ra.listOps(g.doc, 0, 100)) await rb.receive(op.bytes);
    for (const op of await rb.listOps(g.doc, 0, 100)) await ra.receive(op.bytes);
    for (const r of [ra, rb]) {
      const ev = eventFromRecord(r.entity(g.doc, E)!);
      expect(ev.dismissedUntil).toBe('2026-11-23T09:00:00');
      expect(dismissedUntilMs(ev)).toBe(at('2026-11-23T10:00:00Z'));
    }
  });
});
