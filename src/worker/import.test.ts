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
const item = (uid: string, f: EventFields, more: Partial<ImportItem> = {}): ImportItem => ({
  uid,
  recurrenceId: null,
  cancelled: false,
  extra: '',
  fields: f,
  ...more,
});
const items = (n: number, over: Partial<EventFields> = {}): ImportItem[] =>
  Array.from({ length: n }, (_, i) => item(`uid-${i}@example.com`, fields(i, over)));
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
    changed[7] = item(changed[7]!.uid, fields(7, { title: 'Renamed' }));
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
    const back = exported.map((e) => item(e.uid, { ...e.fields, notes: 'again' }));
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
    bad[13] = item('bad', fields(13, { timeZone: 'Not a zone!' }));
    await expect(h.importEvents(cal, 'bad', bad)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(h.importEvents(cal, 'nouid', [item('', fields(1))])).rejects.toThrow(/UID/);
    expect(await h.eventsInRange(ALL)).toEqual([]);
    // After all that, a reload finds nothing either, and a good import still works.
    h.close();
    const again = await start();
    expect(await again.eventsInRange(ALL)).toEqual([]);
    expect((await again.importEvents(cal, 'ok', items(5))).written).toBe(5);
  });
});

describe('.ics through the host', () => {
  it('[ICS-6][IMP-1] real exports imported, stored, exported and read again have the same occurrences', async () => {
    const { readFileSync } = await import('node:fs');
    const { parseIcs } = await import('../ui/ics/parse.ts');
    const { serializeIcs } = await import('../ui/ics/serialize.ts');
    const { toImportItems, toIcsEvents } = await import('../ui/ics/convert.ts');
    const { appOccurrences, icalOccurrences } = await import('../ui/ics/occurrences.testkit.ts');
    factory = new IDBFactory();
    const h = await start();
    for (const name of ['google.ics', 'apple.ics', 'outlook.ics', 'thunderbird.ics']) {
      const text = readFileSync(new URL(`../ui/ics/fixtures/${name}`, import.meta.url), 'utf8');
      const cal = parseIcs(text, { defaultZone: 'Asia/Tokyo' });
      const id = await h.createCalendar(name, '#336699');
      const r = await h.importEvents(id, name, toImportItems(cal));
      expect(r.written).toBe(cal.events.length);
      const out = serializeIcs([{ name, events: toIcsEvents(await h.exportEvents(id)) }], {
        nowMs: Date.UTC(2026, 10, 27),
        zone: cal.zone || 'Asia/Tokyo',
      });
      const again = parseIcs(out, { defaultZone: 'Asia/Tokyo' });
      const want = icalOccurrences(text, cal.zone || 'Asia/Tokyo', '2027-01-01');
      expect(await appOccurrences(again, '2027-01-01')).toEqual(want);
      // Unknown properties and UIDs survived the store.
      if (name === 'google.ics') {
        expect(out).toContain('UID:7kukuqrfedlm2f9t8ahm8i2g9a@google.com\r\n');
        expect(out).toContain('X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij\r\n');
        expect(out.replace(/\r\n[ \t]/g, '')).toContain(
          'ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=anna.schmidt@example.com;X-NUM-GUESTS=0:mailto:anna.schmidt@example.com',
        );
      }
      // Importing the exported file again into the same calendar changes nothing.
      expect((await h.importEvents(id, `${name}-again`, toImportItems(again))).written).toBe(0);
    }
  });

  it('[SER-2][SER-3][SER-4] an imported override is the derived entity and stores only what it changes', async () => {
    const { parseIcs } = await import('../ui/ics/parse.ts');
    const { toImportItems } = await import('../ui/ics/convert.ts');
    const { readFileSync } = await import('node:fs');
    const { overrideId } = await import('../engine/index.ts');
    const { importedEventId } = await import('./import.ts');
    factory = new IDBFactory();
    const h = await start();
    const id = await h.createCalendar('Work', '#336699');
    const cal = parseIcs(readFileSync(new URL('../ui/ics/fixtures/google.ics', import.meta.url), 'utf8'), {
      defaultZone: 'UTC',
    });
    await h.importEvents(id, 'g', toImportItems(cal));
    const exported = await h.exportEvents(id);
    const series = importedEventId(id as never, '7kukuqrfedlm2f9t8ahm8i2g9a@google.com');
    const moved = exported.find((e) => e.recurrenceId === '2024-01-24T09:00')!;
    expect(moved.id).toBe(overrideId(series, '2024-01-24T09:00'));
    expect(moved.fields).toMatchObject({ title: 'Stand-up (late)', start: '2024-01-24T10:00', rrule: '' });
    const cancelled = exported.find((e) => e.recurrenceId === '2024-01-29T09:00')!;
    expect(cancelled).toMatchObject({ id: overrideId(series, '2024-01-29T09:00'), cancelled: true });
    // The cancelled one did not change title or times: it reads them through from the series.
    expect(cancelled.fields).toMatchObject({
      title: 'Stand-up',
      start: '2024-01-29T09:00',
      end: '2024-01-29T09:15',
    });
    // "All events": renaming the series reaches the cancelled override's title, not the moved one's.
    await h.updateEvent(id, series, { title: 'Daily' });
    const after = await h.exportEvents(id);
    expect(after.find((e) => e.id === cancelled.id)?.fields.title).toBe('Daily');
    expect(after.find((e) => e.id === moved.id)?.fields.title).toBe('Stand-up (late)');
  });
});

describe('export after series edits', () => {
  it('[ICS-6][SER-5] a series split by "This and following" exports as two series with the same occurrences', async () => {
    const { serializeIcs } = await import('../ui/ics/serialize.ts');
    const { parseIcs } = await import('../ui/ics/parse.ts');
    const { toIcsEvents } = await import('../ui/ics/convert.ts');
    const { appOccurrences } = await import('../ui/ics/occurrences.testkit.ts');
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    const S = 'a'.repeat(32);
    await h.createEvent(cal, S, {
      ...fields(0),
      title: 'Standup',
      start: '2026-03-02T09:00',
      end: '2026-03-02T09:15',
      rrule: 'FREQ=WEEKLY;COUNT=8',
    });
    await h.editSeries(cal, {
      seriesId: S,
      recurrenceId: '2026-03-23T09:00',
      scope: 'following',
      fields: { title: 'Standup (new room)', location: 'Room 9' },
    });
    await h.editSeries(cal, {
      seriesId: S,
      recurrenceId: '2026-03-09T09:00',
      scope: 'this',
      fields: { title: 'Standup (moved)', start: '2026-03-09T11:00', end: '2026-03-09T11:15' },
    });
    const shown = (await h.eventsInRange({ fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2027, 0, 1) }))
      .map((v) => ({
        start: new Date(v.startMs).toISOString().replace('.000', ''),
        end: new Date(v.endMs).toISOString().replace('.000', ''),
        title: v.title,
      }))
      .sort((a, b) => (a.start < b.start ? -1 : 1));
    expect(shown).toHaveLength(8);
    const text = serializeIcs([{ name: 'Work', events: toIcsEvents(await h.exportEvents(cal)) }], {
      nowMs: Date.UTC(2026, 10, 27),
      zone: 'Europe/Berlin',
    });
    const again = await appOccurrences(parseIcs(text, { defaultZone: 'Europe/Berlin' }), '2027-01-01');
    expect(again.sort((a, b) => (a.start < b.start ? -1 : 1))).toEqual(shown);
  });

  it('[ICS-6][SER-8][SER-5] carried and layered overrides and a split of a split export as the calendar shows them', async () => {
    const { serializeIcs } = await import('../ui/ics/serialize.ts');
    const { parseIcs } = await import('../ui/ics/parse.ts');
    const { toIcsEvents } = await import('../ui/ics/convert.ts');
    const { appOccurrences } = await import('../ui/ics/occurrences.testkit.ts');
    factory = new IDBFactory();
    const h = await start();
    const cal = await h.createCalendar('Work', '#336699');
    const S = 'b'.repeat(32);
    await h.createEvent(cal, S, {
      ...fields(0),
      title: 'Standup',
      start: '2026-03-02T09:00',
      end: '2026-03-02T09:15',
      rrule: 'FREQ=WEEKLY;COUNT=10',
    });
    await h.editSeries(cal, {
      seriesId: S,
      recurrenceId: '2026-03-09T09:00',
      scope: 'this',
      fields: { location: 'Hall' },
    });
    // "All events" to 10:00 carries the override; then an edit of the carried occurrence layers on it.
    await h.editSeries(cal, {
      seriesId: S,
      recurrenceId: '2026-03-02T09:00',
      scope: 'all',
      fields: { start: '2026-03-02T10:00', end: '2026-03-02T10:15' },
    });
    await h.editSeries(cal, {
      seriesId: S,
      recurrenceId: '2026-03-09T10:00',
      scope: 'this',
      fields: { title: 'Demo' },
    });
    await h.editSeries(cal, {
      seriesId: S,
      recurrenceId: '2026-03-23T10:00',
      scope: 'following',
      fields: { title: 'B' },
    });
    const child = (await h.eventsInRange(ALL)).find((v) => v.start === '2026-03-23T10:00')!.occurrence!
      .seriesId;
    await h.editSeries(cal, {
      seriesId: child,
      recurrenceId: '2026-04-06T10:00',
      scope: 'following',
      fields: { title: 'C' },
    });
    const shown = (await h.eventsInRange({ fromMs: Date.UTC(2026, 0, 1), toMs: Date.UTC(2027, 0, 1) }))
      .map((v) => ({
        start: new Date(v.startMs).toISOString().replace('.000', ''),
        end: new Date(v.endMs).toISOString().replace('.000', ''),
        title: v.title,
      }))
      .sort((a, b) => (a.start < b.start ? -1 : 1));
    expect(shown).toHaveLength(10);
    expect(shown[1]).toEqual({ start: '2026-03-09T09:00:00Z', end: '2026-03-09T09:15:00Z', title: 'Demo' });
    const exported = await h.exportEvents(cal);
    expect(exported.filter((e) => e.recurrenceId !== null)).toHaveLength(1);
    expect(exported.find((e) => e.recurrenceId !== null)?.fields.location).toBe('Hall');
    const text = serializeIcs([{ name: 'Work', events: toIcsEvents(exported) }], {
      nowMs: Date.UTC(2026, 10, 27),
      zone: 'Europe/Berlin',
    });
    const again = await appOccurrences(parseIcs(text, { defaultZone: 'Europe/Berlin' }), '2027-01-01');
    expect(again.sort((a, b) => (a.start < b.start ? -1 : 1))).toEqual(shown);
  });
});
