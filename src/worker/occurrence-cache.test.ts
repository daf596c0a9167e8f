// The caches behind drawing repeating events (occurrences.ts plainCache, series-host.ts views):
// every draw must equal what a host without any cache answers for the same calendar, after each
// kind of change a series can get from this device or another one between two draws: its title,
// its zone, its rule, an exception, an override added, changed and removed, a split, a deletion.

import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  createMemoryStore,
  createWebCrypto,
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  eventFromRecord,
  type NewWrite,
  overrideId,
  Replica,
  type SubtleLike,
} from '../engine/index.ts';
import { deviceKeys, manualClock, testDevice } from '../engine/testkit.testkit.ts';
import type { EventView, Range } from './api.ts';
import { assemble, occurrenceId, SeriesSet } from './occurrences.ts';
import { createSeriesHost, fastExpander } from './series-host.ts';

const crypto = createWebCrypto(globalThis.crypto.subtle as unknown as SubtleLike);
const S = 'c3'.repeat(16) as EntityId;
const T = 'd4'.repeat(16) as EntityId;
const MARCH: Range = { fromMs: Date.UTC(2026, 1, 22), toMs: Date.UTC(2026, 3, 8) };
const APRIL: Range = { fromMs: Date.UTC(2026, 2, 25), toMs: Date.UTC(2026, 4, 6) };

let replica: Replica;
let doc: DocId;
beforeAll(async () => {
  const d = testDevice('occurrence-cache');
  replica = await Replica.open({
    store: createMemoryStore(),
    crypto,
    nowUs: manualClock().nowUs,
    random: d.random,
    device: deviceKeys(d),
  });
  ({ doc } = await replica.createCalendar({ name: 'Cache', color: '#336699' }));
});

const text = (field: number, v: string): NewWrite => ({ field, value: encodeValue('text', v) });
const at = (field: number, v: string): NewWrite => ({ field, value: encodeValue('datetime', v) });

/**
 * A host and a SeriesSet over the replica's current state from fresh module instances: their
 * caches are empty and shared with nothing the live host filled.
 */
async function reference() {
  vi.resetModules();
  const occ = await import('./occurrences.ts');
  const sh = await import('./series-host.ts');
  const host = sh.createSeriesHost(replica);
  const set = new occ.SeriesSet();
  for (const rec of replica.entities(doc)) {
    host.reindex(doc, rec.entity, eventFromRecord(rec));
    set.put(eventFromRecord(rec));
  }
  return { host, assembled: (r: Range) => occ.assemble(set, sh.fastExpander, r.fromMs, r.toMs) };
}

/** What a view shows, as plain data (a snapshot the next draws must not change). */
const data = (vs: EventView[]) => JSON.parse(JSON.stringify(vs)) as unknown[];

describe('cached occurrences and their views', () => {
  it('[RRULE-2][SER-2][SER-3] every draw equals an uncached host after each change; views already handed out never change', async () => {
    // The host that draws over and over (caches warm), kept up to date as the engine host is.
    const live = createSeriesHost(replica);
    // And a SeriesSet kept the same way, for what assembly hands to reminders and export.
    const liveSet = new SeriesSet();
    replica.onChange((e) => {
      for (const id of e.entities) {
        const rec = replica.entity(e.doc, id);
        const ev = rec && eventFromRecord(rec);
        live.reindex(e.doc, id, ev);
        if (ev === undefined) liveSet.remove(id);
        else liveSet.put(ev);
      }
    });
    const shown: { views: EventView[]; snapshot: unknown[] }[] = [];
    const check = async (label: string) => {
      for (const r of [MARCH, APRIL]) {
        const got = await live.occurrences(r);
        const again = await live.occurrences(r);
        // The second draw of an unchanged calendar reuses the first one's views (the cache works).
        expect(again.length, label).toBe(got.length);
        if (got.length > 0) expect(again.filter((v, i) => v === got[i]).length, label).toBeGreaterThan(0);
        const ref = await reference();
        expect(data(got), label).toEqual(data(await ref.host.occurrences(r)));
        const assembled = assemble(liveSet, fastExpander, r.fromMs, r.toMs);
        expect(data(assembled as never), label).toEqual(data(ref.assembled(r) as never));
        shown.push({ views: got, snapshot: data(got) });
      }
    };

    await replica.write(doc, S, [
      text(EventField.Title, 'Stand-up'),
      at(EventField.Start, '2026-03-02T09:00'),
      at(EventField.End, '2026-03-02T09:30'),
      { field: EventField.TimeZone, value: encodeValue('zone', 'Europe/Berlin') },
      { field: EventField.Rrule, value: encodeValue('rrule', 'FREQ=WEEKLY;BYDAY=MO,WE') },
    ]);
    await check('new series');
    const before = (await live.occurrences(MARCH)).length;
    expect(before).toBeGreaterThan(8);

    await replica.write(doc, S, [text(EventField.Title, 'Daily sync')]);
    await check('title');
    expect((await live.occurrences(MARCH)).every((v) => v.title === 'Daily sync')).toBe(true);

    // Across the DST change of 2026-03-29 (Berlin) and 2026-03-08 (New York).
    await replica.write(doc, S, [
      { field: EventField.TimeZone, value: encodeValue('zone', 'America/New_York') },
    ]);
    await check('zone');

    await replica.write(doc, S, [
      { field: EventField.Rrule, value: encodeValue('rrule', 'FREQ=DAILY;COUNT=20') },
    ]);
    await check('rule');
    expect((await live.occurrences(MARCH)).length).toBe(20);

    await replica.write(doc, S, [
      { field: EventField.Exdates, value: encodeValue('datetimes', ['2026-03-04T09:00']) },
    ]);
    await check('exdate');

    const o = overrideId(S, '2026-03-05T09:00');
    await replica.write(doc, o, [
      { field: EventField.OverrideOf, value: encodeValue('entity', S) },
      at(EventField.RecurrenceId, '2026-03-05T09:00'),
      text(EventField.Title, 'Moved stand-up'),
      at(EventField.Start, '2026-03-05T11:00'),
      at(EventField.End, '2026-03-05T11:30'),
    ]);
    await check('override added');
    await replica.write(doc, o, [text(EventField.Title, 'Moved again')]);
    await check('override changed');
    await replica.write(doc, o, [
      { field: EventField.Title, value: null },
      { field: EventField.Start, value: null },
      { field: EventField.End, value: null },
    ]);
    await check('override emptied');

    // "This and following" from 2026-03-12: a split series takes the rest of the timeline over.
    await replica.write(doc, T, [
      text(EventField.Title, 'Later sync'),
      at(EventField.Start, '2026-03-12T10:00'),
      at(EventField.End, '2026-03-12T10:30'),
      { field: EventField.TimeZone, value: encodeValue('zone', 'America/New_York') },
      { field: EventField.Rrule, value: encodeValue('rrule', 'FREQ=DAILY') },
      { field: EventField.SplitOf, value: encodeValue('entity', S) },
      at(EventField.RecurrenceId, '2026-03-12T09:00'),
    ]);
    await check('split');

    await replica.write(doc, S, [{ field: EventField.Deleted, value: encodeValue('bool', true) }]);
    await check('deleted');

    // Nothing handed out before was changed afterwards (the UI may still hold it).
    for (const s of shown) expect(data(s.views)).toEqual(s.snapshot);
  });

  it("a plain occurrence carries its series' fields with its own start and end, made on first read, across DST and the year end", async () => {
    const id = 'e5'.repeat(16) as EntityId;
    await replica.write(doc, id, [
      text(EventField.Title, 'Night shift'),
      at(EventField.Start, '2026-10-24T23:30'),
      at(EventField.End, '2026-10-25T07:00'),
      { field: EventField.TimeZone, value: encodeValue('zone', 'Europe/Berlin') },
      { field: EventField.Rrule, value: encodeValue('rrule', 'FREQ=WEEKLY;BYDAY=SA') },
    ]);
    const series = eventFromRecord(replica.entity(doc, id)!);
    const set = new SeriesSet();
    set.put(series);
    // Across Berlin's autumn change (2026-10-25: the first one lasts 8.5 h by the wall clock,
    // 07:00 to an hour later) and into 2027.
    const got = assemble(set, fastExpander, Date.UTC(2026, 9, 20), Date.UTC(2027, 0, 10));
    expect(got.map((a) => `${a.start} ${a.end}`)).toEqual([
      '2026-10-24T23:30 2026-10-25T07:00',
      '2026-10-31T23:30 2026-11-01T08:00',
      '2026-11-07T23:30 2026-11-08T08:00',
      '2026-11-14T23:30 2026-11-15T08:00',
      '2026-11-21T23:30 2026-11-22T08:00',
      '2026-11-28T23:30 2026-11-29T08:00',
      '2026-12-05T23:30 2026-12-06T08:00',
      '2026-12-12T23:30 2026-12-13T08:00',
      '2026-12-19T23:30 2026-12-20T08:00',
      '2026-12-26T23:30 2026-12-27T08:00',
      '2027-01-02T23:30 2027-01-03T08:00',
      '2027-01-09T23:30 2027-01-10T08:00',
    ]);
    for (const a of got) {
      expect(a.fields).toBe(a.fields);
      expect(a.fields).toEqual({ ...series, start: a.start, end: a.end, deleted: false });
      expect(a.endMs - a.startMs).toBe(8.5 * 3_600_000);
      expect(JSON.parse(JSON.stringify(a)).fields.start).toBe(a.start);
    }
    await replica.write(doc, id, [{ field: EventField.Deleted, value: encodeValue('bool', true) }]);
  });

  it('[SER-2] every id a draw showed maps back to its series and original start, looked up before, between and after later draws', async () => {
    const id = 'f6'.repeat(16) as EntityId;
    await replica.write(doc, id, [
      text(EventField.Title, 'Check-in'),
      at(EventField.Start, '2026-03-02T08:00'),
      at(EventField.End, '2026-03-02T08:15'),
      { field: EventField.TimeZone, value: encodeValue('zone', 'Europe/Berlin') },
      { field: EventField.Rrule, value: encodeValue('rrule', 'FREQ=DAILY') },
    ]);
    const host = createSeriesHost(replica);
    for (const rec of replica.entities(doc)) host.reindex(doc, rec.entity, eventFromRecord(rec));
    const mine = (vs: EventView[]) => vs.filter((v) => v.occurrence?.seriesId === id);
    const expectMapped = (vs: EventView[]) => {
      for (const v of mine(vs))
        expect(host.occurrenceOf(doc, v.id)).toEqual({
          seriesId: id,
          recurrenceId: v.occurrence!.recurrenceId,
        });
    };
    const march = await host.occurrences(MARCH);
    expect(host.occurrenceOf(doc, 'ab'.repeat(16))).toBeUndefined();
    expectMapped(march);
    const april = await host.occurrences(APRIL);
    expectMapped(april);
    expectMapped(march);
    // The series moves: ids drawn before still name their original starts; new ones the new.
    await replica.write(doc, id, [
      at(EventField.Start, '2026-03-02T09:00'),
      at(EventField.End, '2026-03-02T09:15'),
    ]);
    host.reindex(doc, id, eventFromRecord(replica.entity(doc, id)!));
    const moved = await host.occurrences(MARCH);
    expect(mine(moved).every((v) => v.occurrence!.recurrenceId.endsWith('T09:00'))).toBe(true);
    expectMapped(moved);
    expectMapped(april);
    await replica.write(doc, id, [{ field: EventField.Deleted, value: encodeValue('bool', true) }]);
  });

  it('occurrence ids are cyrb128 of "series|start" computed whole, whatever order they are asked in', () => {
    // The reference: cyrb128 over the whole text with Math.imul, as published.
    const cyrb128 = (text: string): string => {
      let [h1, h2, h3, h4] = [1779033703, 3144134277, 1013904242, 2773480762];
      for (let i = 0; i < text.length; i++) {
        const k = text.charCodeAt(i);
        h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
        h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
        h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
        h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
      }
      h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
      h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
      h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
      h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
      h1 ^= h2 ^ h3 ^ h4;
      h2 ^= h1;
      h3 ^= h1;
      h4 ^= h1;
      return [h1, h2, h3, h4].map((h) => (h >>> 0).toString(16).padStart(8, '0')).join('');
    };
    const series = fc.constantFrom(S, T, 'e5'.repeat(16) as EntityId, '0f'.repeat(16) as EntityId);
    // Starts of a few months (the per-series month lanes switch), all-day dates, short and odd texts.
    const start = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('2025-12-', '2026-01-', '2026-02-', '2026-01-0'),
          fc.integer({ min: 1, max: 31 }),
        )
        .map(([m, d]) => `${m}${String(d).padStart(2, '0')}T09:30`),
      fc.constantFrom('2026-01-15', '2026-01-', '2026-01', '', '2026-01-15T09:30:15', '2026-01-\u00e9\u4e2d'),
      fc.string({ maxLength: 24 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(series, start), { maxLength: 40 }), (asks) => {
        for (const [s, r] of asks) expect(occurrenceId(s, r)).toBe(cyrb128(`${s}|${r}`));
      }),
      { numRuns: 300 },
    );
  });

  it('occurrence ids stay what they were (cyrb128 of "series|start"; the series part is kept per series)', () => {
    // Values from the build before the per-series lanes (the UI keys and undo records use them).
    for (let round = 0; round < 2; round++) {
      expect(occurrenceId(S, '2026-03-02T09:00')).toBe('9d59cf2c647504ecf61474e9f3510984');
      expect(occurrenceId(S, '2026-03-04')).toBe('749cce6d1229e56d117b5e436970fa35');
      expect(occurrenceId(T, '2026-03-02T09:00')).toBe('4fa3d0bb06213f1f1624a61a5d4fdb73');
    }
  });
});
