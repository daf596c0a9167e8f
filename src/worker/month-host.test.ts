// The host's month layout (monthLayout) against the full lists the other views get (Node,
// fake-indexeddb): every day's shown bars plus its "+N more" are that day's full list, across a
// DST change, with overrides moved into and out of the month and a cancelled occurrence.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { toTimed } from '../ui/model.ts';
import { fetchRange, monthWeeks } from '../ui/time/nav.ts';
import type { CalendarInfo, EventFields, MonthLayout, MonthRequest } from './api.ts';
import { startEngineHost } from './host.ts';
import type { Host } from './host-api.ts';
import { layoutViews, monthRange } from './month-layout.ts';

let hosts: Host[] = [];
afterEach(() => {
  for (const h of hosts) h.close();
  hosts = [];
});
const start = async (factory = new IDBFactory()): Promise<Host> => {
  const h = await startEngineHost({ name: 'month-host', factory, durability: 'relaxed' });
  hosts.push(h);
  return h;
};

const ZONE = 'Europe/Berlin';
const id = (n: number) => n.toString(16).padStart(32, '0');
const ev = (f: Partial<EventFields> & { title: string; start: string; end: string }): EventFields => ({
  allDay: false,
  timeZone: ZONE,
  location: '',
  notes: '',
  ...f,
});
/** October 2025 in a Monday-first grid: 29 September to 2 November; DST ends 26 October. */
const WEEKS = monthWeeks('2025-10-15', 1);
const request = (lanes: number, more: Partial<MonthRequest> = {}): MonthRequest => ({
  firstDay: WEEKS[0]![0]!,
  weeks: WEEKS.length,
  zone: ZONE,
  lanes,
  hidden: [],
  moved: [],
  ...more,
});

/** A calendar with daily and weekly series, overrides, a cancelled occurrence and single events. */
async function calendar(h: Host): Promise<string> {
  const cal = await h.createCalendar('Work', '#336699');
  for (let i = 0; i < 4; i++)
    await h.createEvent(
      cal,
      id(10 + i),
      ev({ title: `Daily ${i}`, start: '2025-09-01T08:00', end: '2025-09-01T08:30', rrule: 'FREQ=DAILY' }),
    );
  await h.createEvent(
    cal,
    id(20),
    ev({
      title: 'Weekly',
      start: '2025-09-01T10:00',
      end: '2025-09-01T11:00',
      rrule: 'FREQ=WEEKLY;BYDAY=MO',
    }),
  );
  // An all-day series over two days, every Saturday (its Sunday in the next column).
  await h.createEvent(
    cal,
    id(21),
    ev({
      title: 'Weekend',
      start: '2025-09-06',
      end: '2025-09-08',
      allDay: true,
      rrule: 'FREQ=WEEKLY;BYDAY=SA',
    }),
  );
  // Into the month: 3 November's occurrence moved to 22 October; out of it: 13 October's to December.
  await h.editSeries(cal, {
    seriesId: id(20),
    recurrenceId: '2025-11-03T10:00',
    scope: 'this',
    fields: { start: '2025-10-22T15:00', end: '2025-10-22T16:00' },
  });
  await h.editSeries(cal, {
    seriesId: id(20),
    recurrenceId: '2025-10-13T10:00',
    scope: 'this',
    fields: { start: '2025-12-01T10:00', end: '2025-12-01T11:00' },
  });
  await h.editSeries(cal, {
    seriesId: id(20),
    recurrenceId: '2025-10-20T10:00',
    scope: 'this',
    delete: true,
  });
  // The hour that happens twice on 26 October, a night across midnight, a trip across week rows,
  // an event ending exactly at midnight.
  await h.createEvent(
    cal,
    id(30),
    ev({ title: 'Twice', start: '2025-10-26T02:30', end: '2025-10-26T03:00' }),
  );
  await h.createEvent(
    cal,
    id(31),
    ev({ title: 'Night', start: '2025-10-25T22:00', end: '2025-10-26T06:00' }),
  );
  await h.createEvent(
    cal,
    id(32),
    ev({ title: 'Trip', start: '2025-10-09', end: '2025-10-21', allDay: true }),
  );
  await h.createEvent(cal, id(33), ev({ title: 'Late', start: '2025-10-07T22:00', end: '2025-10-08T00:00' }));
  return cal;
}

/** Titles a day shows in the layout, and its "+N more". */
function day(layout: MonthLayout, date: string): { titles: string[]; more: number } {
  const k = WEEKS.flat().indexOf(date);
  const w = layout.weeks[Math.floor(k / 7)]!;
  const col = k % 7;
  const titles = w.bars.filter((b) => b.startCol <= col && b.endCol >= col).map((b) => b.view.title);
  return { titles, more: w.more[col]! };
}

const ids = (l: MonthLayout) => l.weeks.map((w) => [w.shown, w.more, w.bars.map((b) => [b.view.id, b.lane])]);

/** What the day view lists for a date: every event of its range that falls on it. */
async function fullDay(h: Host, cals: CalendarInfo[], date: string): Promise<string[]> {
  const events = await h.eventsInRange(fetchRange([date], ZONE));
  return toTimed(events, cals, ZONE)
    .filter((t) => t.times.firstDay <= date && t.times.lastDay >= date)
    .map((t) => t.item.ev.title)
    .sort();
}

describe('engine host: month layout', () => {
  it('[UI-18] every day shows its first lanes and counts the rest: shown + more is the full list of the day', async () => {
    const h = await start();
    await calendar(h);
    const cals = await h.listCalendars();
    for (const lanes of [2, 3, 8]) {
      const layout = await h.monthLayout(request(lanes));
      for (const date of WEEKS.flat()) {
        const full = await fullDay(h, cals, date);
        const got = day(layout, date);
        expect(got.titles.length + got.more, `${date} with ${lanes} lanes`).toBe(full.length);
        for (const t of got.titles) expect(full).toContain(t);
      }
      // The same grid as laying out the full list of the range (list order, host ties).
      const list = layoutViews(request(lanes), await h.eventsInRange(monthRange(request(lanes))));
      const ids = (l: MonthLayout) =>
        l.weeks.map((w) => [w.shown, w.more, w.bars.map((b) => [b.view.id, b.lane])]);
      expect(ids(layout)).toEqual(ids(list));
    }
  });

  it('[UI-18][SER-3][SER-4] overrides moved into and out of the month, a cancelled occurrence, a DST day', async () => {
    const h = await start();
    await calendar(h);
    const layout = await h.monthLayout(request(8));
    expect(day(layout, '2025-10-22').titles).toContain('Weekly');
    expect(day(layout, '2025-10-13').titles).not.toContain('Weekly');
    expect(day(layout, '2025-10-20').titles).not.toContain('Weekly');
    expect(day(layout, '2025-10-27').titles).toContain('Weekly');
    // 26 October (25 hours): the doubled hour and the night from the 25th are on it, after the
    // all-day bar.
    const dst = day(layout, '2025-10-26');
    expect(dst.titles.slice(0, 3)).toEqual(['Weekend', 'Night', 'Twice']);
    expect(day(layout, '2025-10-25').titles).toContain('Night');
    // Ending at 00:00 ends the day before.
    expect(day(layout, '2025-10-07').titles).toContain('Late');
    expect(day(layout, '2025-10-08').titles).not.toContain('Late');
    // The all-day series: a bar over Saturday and Sunday, under the trip that started before it.
    expect(day(layout, '2025-10-11').titles.slice(0, 2)).toEqual(['Trip', 'Weekend']);
    expect(day(layout, '2025-10-12').titles).toContain('Weekend');
    // The trip is one bar per week row, continued across the rows.
    const trips = layout.weeks.flatMap((w, i) =>
      w.bars
        .filter((b) => b.view.title === 'Trip')
        .map((b) => [i, b.startCol, b.endCol, b.continuesBefore, b.continuesAfter]),
    );
    expect(trips).toEqual([
      [1, 3, 6, false, true],
      [2, 0, 6, true, true],
      [3, 0, 0, true, false],
    ]);
    // All-day first: the trip takes the first lane of its days.
    for (const w of layout.weeks) for (const b of w.bars) if (b.view.title === 'Trip') expect(b.lane).toBe(0);
  });

  it('[UI-18][UI-7] a shown occurrence is edited by its id; a pending move is drawn at once and confirmed once written', async () => {
    const h = await start();
    const cal = await calendar(h);
    let layout = await h.monthLayout(request(8));
    const bar = layout.weeks[2]!.bars.find((b) => b.view.title === 'Daily 0')!;
    const moved = { calendarId: cal, id: bar.view.id, start: '2025-10-30T12:00', end: '2025-10-30T12:30' };
    layout = await h.monthLayout(request(8, { moved: [moved] }));
    expect(day(layout, '2025-10-30').titles.filter((t) => t === 'Daily 0')).toHaveLength(2);
    expect(layout.confirmed).toEqual([]);
    // The id the layout handed out is one the host maps back to its occurrence (This event).
    await h.updateEvent(cal, bar.view.id, { start: moved.start, end: moved.end });
    layout = await h.monthLayout(request(8, { moved: [moved] }));
    expect(layout.confirmed).toEqual([`${cal}/${bar.view.id}`]);
    expect(day(layout, '2025-10-30').titles.filter((t) => t === 'Daily 0')).toHaveLength(2);
    // A hidden calendar draws nothing and counts nothing.
    const hidden = await h.monthLayout(request(3, { hidden: [cal] }));
    expect(hidden.events).toBe(0);
    expect(hidden.weeks.every((w) => w.bars.length === 0 && w.more.every((m) => m === 0))).toBe(true);
  });

  it("[UI-18][RT-12] at a cold start the layout answered from the span index is the replica's", async () => {
    const factory = new IDBFactory();
    let h = await start(factory);
    await calendar(h);
    const full = await h.monthLayout(request(3));
    h.close();
    h = await start(factory);
    // The first call of a fresh host, before its replica loads: the starting host's early path.
    expect(ids(await h.monthLayout(request(3)))).toEqual(ids(full));
  });

  it('[UI-18] a malformed request is refused with a clear error', async () => {
    const h = await start();
    await expect(h.monthLayout({ ...request(3), weeks: 100 })).rejects.toThrow(/weeks/);
    await expect(h.monthLayout({ ...request(3), zone: 'Nowhere/City' })).rejects.toThrow(/zone/);
  });
});
