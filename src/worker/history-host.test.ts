// Compliance mode and field history through the engine host (CMP-1, CMP-3, CMP-7): the flag in
// the calendar list, each field's history with device name and fingerprint, Restore as a new
// write with its undo, occurrences of a series, and refusals that leave state as it was.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import type { EventFields } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host } from './host-api.ts';

let hosts: Host[] = [];
async function start(): Promise<Host> {
  const h = await startEngineHost({ name: 'history-test', factory: new IDBFactory(), durability: 'relaxed' });
  hosts.push(h);
  return h;
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
const E = '7'.repeat(32);

describe('history host', () => {
  it('[CMP-1] compliance mode is off by default, on and off again per calendar', async () => {
    const h = await start();
    const cal = await h.createCalendar('Audit', '#336699');
    const other = await h.createCalendar('Home', '#993366');
    expect((await h.listCalendars()).every((c) => c.compliance === undefined)).toBe(true);
    await h.setCompliance(cal, true);
    const list = await h.listCalendars();
    expect(list.find((c) => c.id === cal)?.compliance).toBe(true);
    expect(list.find((c) => c.id === other)?.compliance).toBeUndefined();
    await h.setCompliance(cal, false);
    expect((await h.listCalendars()).find((c) => c.id === cal)?.compliance).toBeUndefined();
    // Who switched it, newest first (the flag's own history).
    const me = await h.thisDevice();
    const changes = await h.complianceHistory(cal);
    expect(changes.writes.map((w) => [w.value, w.status, w.device, w.fingerprint])).toEqual([
      [false, 'winner', me.id, me.fingerprint],
      [true, 'superseded', me.id, me.fingerprint],
    ]);
    expect((await h.complianceHistory(other)).writes).toEqual([]);
    await expect(h.setCompliance(cal, 'yes' as never)).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('[CMP-3][CMP-7] each field with device name and fingerprint; Restore writes the old value back, undo restores the one it replaced', async () => {
    const h = await start();
    await h.setDeviceName('Laptop');
    const me = await h.thisDevice();
    const cal = await h.createCalendar('Audit', '#336699');
    await h.createEvent(cal, E, ev({ title: 'First' }));
    await h.updateEvent(cal, E, { title: 'Second' });
    await h.updateEvent(cal, E, { title: 'Third', location: 'Room 1' });
    const hist = await h.eventHistory(cal, E);
    expect(hist.unreadable).toBe(0);
    expect(hist.parts.map((p) => p.role)).toEqual(['event']);
    const title = hist.parts[0]!.fields.find((f) => f.field === 'title')!;
    expect(title.writes.map((w) => [w.value, w.first ? 'first' : w.old, w.status])).toEqual([
      ['Third', 'Second', 'winner'],
      ['Second', 'First', 'superseded'],
      ['First', 'first', 'superseded'],
    ]);
    for (const w of title.writes) {
      expect(w).toMatchObject({ device: me.id, deviceName: 'Laptop', fingerprint: me.fingerprint });
    }
    expect(hist.parts[0]!.fields.find((f) => f.field === 'location')!.writes.map((w) => w.value)).toEqual([
      'Room 1',
      '',
    ]);
    const first = title.writes[2]!;
    const { undoOpId } = await h.restoreFromHistory(cal, E, 'title', first.opId);
    expect((await h.getEvent(cal, E))?.title).toBe('First');
    expect(undoOpId).toBe(title.writes[0]!.opId);
    const after = (await h.eventHistory(cal, E)).parts[0]!.fields.find((f) => f.field === 'title')!;
    expect(after.writes.map((w) => [w.value, w.old, w.status])[0]).toEqual(['First', 'Third', 'winner']);
    expect(after.writes).toHaveLength(4);
    await h.restoreFromHistory(cal, E, 'title', undoOpId!);
    expect((await h.getEvent(cal, E))?.title).toBe('Third');
  });

  it('[CMP-7] Restore refuses an op that did not write that field of that event, and writes nothing', async () => {
    const h = await start();
    const cal = await h.createCalendar('Audit', '#336699');
    await h.createEvent(cal, E, ev());
    await h.createEvent(cal, '8'.repeat(32), ev({ title: 'Other' }));
    const other = (await h.eventHistory(cal, '8'.repeat(32))).parts[0]!.fields.find(
      (f) => f.field === 'title',
    )!;
    const mine = (await h.eventHistory(cal, E)).parts[0]!.fields.find((f) => f.field === 'title')!;
    const before = await h.eventHistory(cal, E);
    await expect(h.restoreFromHistory(cal, E, 'title', other.writes[0]!.opId)).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    await expect(h.restoreFromHistory(cal, E, 'uid' as never, mine.writes[0]!.opId)).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    await expect(h.restoreFromHistory(cal, E, 'title', 'zz')).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    await expect(h.eventHistory(cal, E, 0)).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(await h.eventHistory(cal, E)).toEqual(before);
    expect((await h.getEvent(cal, E))?.title).toBe('Standup');
  });

  it('[CMP-6] a long history comes in pages: the newest 50, then older pages until none remain', async () => {
    const h = await start();
    const cal = await h.createCalendar('Audit', '#336699');
    await h.createEvent(cal, E, ev({ title: 't0' }));
    for (let i = 1; i <= 60; i++) await h.updateEvent(cal, E, { title: `t${i}` });
    const first = (await h.eventHistory(cal, E)).parts[0]!.fields.find((f) => f.field === 'title')!;
    expect(first.writes).toHaveLength(50);
    expect(first.more).toBe(11);
    const next = await h.olderHistory(cal, E, 'title', first.writes[49]!.opId, 10);
    expect(next.writes.map((w) => w.value)).toEqual([
      't10',
      't9',
      't8',
      't7',
      't6',
      't5',
      't4',
      't3',
      't2',
      't1',
    ]);
    expect(next.more).toBe(1);
    const last = await h.olderHistory(cal, E, 'title', next.writes[9]!.opId);
    expect(last.writes.map((w) => [w.value, w.first])).toEqual([['t0', true]]);
    expect(last.more).toBe(0);
    await expect(h.olderHistory(cal, E, 'title', 'nope')).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(h.olderHistory(cal, E, 'title', first.writes[0]!.opId, 5000)).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
  });

  it('[CMP-3] an occurrence of a series shows its own changes and the series', async () => {
    const h = await start();
    const cal = await h.createCalendar('Audit', '#336699');
    await h.createEvent(cal, E, ev({ title: 'Weekly', rrule: 'FREQ=WEEKLY;COUNT=4' }));
    await h.editSeries(cal, {
      seriesId: E,
      recurrenceId: '2025-03-17T09:00',
      scope: 'this',
      fields: { title: 'Moved one' },
    });
    const occ = (await h.eventsInRange({ fromMs: Date.UTC(2025, 2, 16), toMs: Date.UTC(2025, 2, 18) }))[0]!;
    expect(occ.title).toBe('Moved one');
    const hist = await h.eventHistory(cal, occ.id);
    expect(hist.parts.map((p) => p.role)).toEqual(['occurrence', 'series']);
    expect(hist.parts[0]!.fields.find((f) => f.field === 'title')!.writes.map((w) => w.value)).toEqual([
      'Moved one',
    ]);
    expect(hist.parts[1]!.entityId).toBe(E);
    expect(hist.parts[1]!.fields.find((f) => f.field === 'rrule')!.writes.map((w) => w.value)).toEqual([
      'FREQ=WEEKLY;COUNT=4',
    ]);
  });
});
