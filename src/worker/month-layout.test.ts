import { describe, expect, it } from 'vitest';
import { toTimed } from '../ui/model.ts';
import { hiddenPerColumn, laneRow } from '../ui/time/layout.ts';
import { monthWeeks } from '../ui/time/nav.ts';
import type { EventView } from './api.ts';
import { checkMonthRequest, layoutViews, type MonthLayout, type MonthRequest } from './month-layout.ts';
import { utcToWall, wallToUtcMs } from './time.ts';

/** A small deterministic PRNG (mulberry32): the same calendars on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pad = (n: number) => String(n).padStart(2, '0');
const addDays = (date: string, n: number) =>
  new Date(Date.parse(`${date}T00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

function view(
  id: string,
  f: { start: string; end: string; allDay?: boolean; timeZone?: string; calendarId?: string },
): EventView {
  const zone = f.timeZone ?? 'UTC';
  const startMs = wallToUtcMs(f.start, zone)!;
  return {
    id,
    calendarId: f.calendarId ?? 'cal',
    title: id,
    start: f.start,
    end: f.end,
    allDay: f.allDay ?? false,
    timeZone: zone,
    location: '',
    notes: '',
    startMs,
    endMs: Math.max(wallToUtcMs(f.end, zone) ?? startMs, startMs),
    conflicts: [],
  } as unknown as EventView;
}

const SERIES = ['a0', 'b1', 'c2', 'd3'] as const;

/** A random calendar around the grid: ties of start and end, multi-day bars, all-day runs. */
function calendar(seed: number, firstDay: string, n: number): EventView[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'] as const;
  const out: EventView[] = [];
  for (let i = 0; i < n; i++) {
    const id = Math.floor(r() * 2 ** 52)
      .toString(16)
      .padStart(14, '0');
    const day = addDays(firstDay, Math.floor(r() * 48) - 3);
    if (r() < 0.15) {
      const len = pick([0, 1, 1, 1, 2, 3, 5, 9]);
      out.push(view(id, { start: day, end: addDays(day, len), allDay: true }));
      continue;
    }
    const zone = pick(zones);
    const start = `${day}T${pad(pick([0, 8, 9, 9, 10, 23]))}:${pick(['00', '30'])}`;
    const startMs = wallToUtcMs(start, zone)!;
    const mins = pick([0, 30, 60, 60, 90, 600, 1440, 2000, 4320]);
    // Some end exactly at a midnight of their zone (they end the day before there).
    const end = r() < 0.1 ? `${addDays(day, 1)}T00:00` : utcToWall(startMs + mins * 60_000, zone);
    const v = view(id, { start, end, timeZone: zone, calendarId: r() < 0.1 ? 'other' : 'cal' });
    // Some are occurrences of a few series (ties broken by series id, then original start).
    if (r() < 0.4) v.occurrence = { seriesId: pick(SERIES), recurrenceId: start, detached: false };
    out.push(v);
  }
  return out;
}

/**
 * The list's order with the grid's tie-break: start, end, then the event's (series') id and the
 * original start (byTime went by each occurrence's own id there).
 */
const byTimeThenEntity = (a: EventView, b: EventView): number => {
  const ka = [a.occurrence?.seriesId ?? a.id, a.occurrence?.recurrenceId ?? ''] as const;
  const kb = [b.occurrence?.seriesId ?? b.id, b.occurrence?.recurrenceId ?? ''] as const;
  return (
    a.startMs - b.startMs ||
    a.endMs - b.endMs ||
    (ka[0] !== kb[0] ? (ka[0] < kb[0] ? -1 : 1) : ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0)
  );
};

/** The grid the view drew before the host laid it out: laneRow over every event in list order. */
function viewGrid(req: MonthRequest, events: EventView[]): MonthLayout {
  const cals = [
    { id: 'cal', hidden: false },
    { id: 'other', hidden: req.hidden.includes('other') },
  ] as never;
  const timed = toTimed([...events].sort(byTimeThenEntity), cals, req.zone);
  const days = Array.from({ length: req.weeks * 7 }, (_, k) => addDays(req.firstDay, k));
  let count = 0;
  const weeks = Array.from({ length: req.weeks }, (_, w) => {
    const segs = laneRow(timed, days.slice(w * 7, w * 7 + 7));
    const maxLane = segs.reduce((m, s) => Math.max(m, s.lane), -1);
    const shown = maxLane < req.lanes ? req.lanes : Math.max(1, req.lanes - 1);
    const bars = segs
      .filter((s) => s.lane < shown)
      .map((s) => ({
        view: s.item.ev,
        startCol: s.startCol,
        endCol: s.endCol,
        lane: s.lane,
        continuesBefore: s.continuesBefore,
        continuesAfter: s.continuesAfter,
      }));
    return { shown, bars, more: hiddenPerColumn(segs, 7, shown) };
  });
  for (const t of timed) if (t.times.lastDay >= days[0]! && t.times.firstDay <= days.at(-1)!) count++;
  return { weeks, events: count, confirmed: [] };
}

const sortBars = (l: MonthLayout) =>
  l.weeks.map((w) => ({
    ...w,
    bars: w.bars
      .map((b) => ({ ...b, view: b.view.id }))
      .sort((x, y) => x.lane - y.lane || x.startCol - y.startCol),
  }));

describe('month grid laid out by the host', () => {
  it('[UI-18] places every bar and counts "+N more" exactly as the view did over the full list', () => {
    const cases: [string, string][] = [
      ['Europe/Berlin', '2026-10-01'], // DST ends 25 October
      ['America/New_York', '2026-11-24'], // DST ends 1 November
      ['Europe/Berlin', '2027-03-10'], // DST starts 28 March
      ['Asia/Kolkata', '2026-11-24'],
    ];
    let seed = 1;
    for (const [zone, date] of cases) {
      const weeks = monthWeeks(date, 1);
      for (const n of [5, 60, 400]) {
        for (const lanes of [1, 2, 4, 7]) {
          const req: MonthRequest = {
            firstDay: weeks[0]![0]!,
            weeks: weeks.length,
            zone,
            lanes,
            hidden: seed % 3 === 0 ? ['other'] : [],
            moved: [],
          };
          const events = calendar(seed++, req.firstDay, n);
          const got = layoutViews(req, events);
          expect(sortBars(got)).toEqual(sortBars(viewGrid(req, events)));
          expect(got.events).toBe(viewGrid(req, events).events);
        }
      }
    }
  });

  it('[UI-18] "+N more" plus the shown bars of a day is the full list of that day', () => {
    const req: MonthRequest = {
      firstDay: '2026-10-26',
      weeks: 6,
      zone: 'Europe/Berlin',
      lanes: 3,
      hidden: [],
      moved: [],
    };
    const events = calendar(99, req.firstDay, 500);
    const got = layoutViews(req, events);
    for (const [w, week] of got.weeks.entries())
      for (let col = 0; col < 7; col++) {
        const day = addDays(req.firstDay, w * 7 + col);
        // The day's full list, as the day view asks for it: every event overlapping that day.
        const from = wallToUtcMs(day, req.zone)!;
        const to = wallToUtcMs(addDays(day, 1), req.zone)!;
        const full = events.filter((e) =>
          e.allDay
            ? e.start <= day && (e.end > day || (e.end <= e.start && e.start === day))
            : (e.startMs < to && e.endMs > from) || (e.startMs === e.endMs && e.startMs === from),
        );
        const shown = week.bars.filter((b) => b.startCol <= col && b.endCol >= col).length;
        expect(shown + week.more[col]!, day).toBe(full.length);
        expect(shown).toBeLessThanOrEqual(week.shown);
      }
  });

  it('[UI-18] two series at the same time keep their order on every day', () => {
    const req: MonthRequest = {
      firstDay: '2026-10-26',
      weeks: 6,
      zone: 'UTC',
      lanes: 4,
      hidden: [],
      moved: [],
    };
    const views: EventView[] = [];
    for (let d = 0; d < 42; d++) {
      const day = addDays(req.firstDay, d);
      for (const series of ['ffff', '0000']) {
        // Occurrence ids differ per day (a hash); the series ids decide.
        const v = view(`${series}${d}`.padEnd(32, String(d % 10)), {
          start: `${day}T09:00`,
          end: `${day}T09:30`,
        });
        v.occurrence = { seriesId: series, recurrenceId: `${day}T09:00`, detached: false };
        views.push(v);
      }
    }
    const got = layoutViews(req, views.reverse());
    for (const w of got.weeks)
      for (const b of w.bars) expect(b.view.occurrence!.seriesId).toBe(b.lane === 0 ? '0000' : 'ffff');
  });

  it('[UI-18] a bar across week rows is cut at each row, continued on both sides', () => {
    const req: MonthRequest = {
      firstDay: '2026-10-26',
      weeks: 6,
      zone: 'UTC',
      lanes: 3,
      hidden: [],
      moved: [],
    };
    const trip = view('trip', { start: '2026-11-06', end: '2026-11-18', allDay: true });
    const got = layoutViews(req, [trip]);
    const rows = got.weeks.map((w) =>
      w.bars.map((b) => [b.startCol, b.endCol, b.continuesBefore, b.continuesAfter]),
    );
    expect(rows).toEqual([[], [[4, 6, false, true]], [[0, 6, true, true]], [[0, 1, true, false]], [], []]);
    expect(got.weeks.every((w) => w.more.every((m) => m === 0))).toBe(true);
  });

  it('[UI-18] refuses a malformed request with a reason', () => {
    const ok: MonthRequest = {
      firstDay: '2026-10-26',
      weeks: 6,
      zone: 'UTC',
      lanes: 3,
      hidden: [],
      moved: [],
    };
    expect(checkMonthRequest(ok)).toBeUndefined();
    expect(checkMonthRequest({ ...ok, weeks: 60 })).toMatch(/weeks/);
    expect(checkMonthRequest({ ...ok, lanes: 0 })).toMatch(/lanes/);
    expect(checkMonthRequest({ ...ok, zone: 'Mars/Olympus' })).toMatch(/zone/);
    expect(checkMonthRequest({ ...ok, firstDay: '2026-02-30' })).toMatch(/firstDay/);
    expect(checkMonthRequest({ ...ok, moved: [{ id: 1 }] as never })).toMatch(/moved/);
    expect(checkMonthRequest(null as never)).toMatch(/month request/);
  });
});
