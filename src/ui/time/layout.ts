// Pure layout: overlapping timed events packed side by side in day columns, multi-day and all-day
// events in lanes (all-day row, month bars), and agenda day groups. No DOM; positions in minutes/columns.
import { Temporal } from 'temporal-polyfill';
import type { DateStr, EventTimes } from './zoned.ts';
import { minuteOfDay, msToZoned, startOfDayMs } from './zoned.ts';

export interface Timed<T> {
  item: T;
  times: EventTimes;
}

/** Events shorter than this still get a clickable block (minutes). */
export const MIN_BLOCK_MINUTES = 20;

/** Timed events of a day or longer go to the all-day row, as in Google and Proton Calendar. */
export function goesInAllDayRow(t: EventTimes): boolean {
  return t.allDay || t.endMs - t.startMs >= 24 * 3_600_000;
}

export interface ColumnBlock<T> {
  item: T;
  times: EventTimes;
  /** Wall-clock minutes from the day's midnight in the display zone, end exclusive. */
  top: number;
  bottom: number;
  /** Index of this block's sub-column and how many sub-columns its overlap cluster has. */
  col: number;
  cols: number;
  continuesBefore: boolean;
  continuesAfter: boolean;
}

/**
 * Blocks for one day column in the display zone. Positions use wall-clock minutes (the grid is a
 * 24-hour clock face), so on DST days the hour lines stay put and events sit where their clock says.
 */
export function dayColumn<T>(events: Timed<T>[], day: DateStr, zone: string): ColumnBlock<T>[] {
  const dayStart = startOfDayMs(day, zone);
  const dayEnd = startOfDayMs(Temporal.PlainDate.from(day).add({ days: 1 }), zone);
  const blocks: ColumnBlock<T>[] = [];
  for (const e of events) {
    const t = e.times;
    if (goesInAllDayRow(t)) continue;
    const overlaps =
      t.startMs < dayEnd && (t.endMs > dayStart || (t.endMs === t.startMs && t.startMs >= dayStart));
    if (!overlaps) continue;
    const continuesBefore = t.startMs < dayStart;
    const continuesAfter = t.endMs > dayEnd;
    const top = continuesBefore ? 0 : minuteOfDay(msToZoned(t.startMs, zone));
    let bottom = t.endMs >= dayEnd ? 1440 : minuteOfDay(msToZoned(t.endMs, zone));
    // Fall-back overlap can put the wall-clock end before the start; keep the real length instead.
    if (bottom < top)
      bottom = Math.min(1440, top + Math.round((t.endMs - Math.max(t.startMs, dayStart)) / 60_000));
    bottom = Math.min(1440, Math.max(bottom, top + MIN_BLOCK_MINUTES));
    blocks.push({ item: e.item, times: t, top, bottom, col: 0, cols: 1, continuesBefore, continuesAfter });
  }
  packColumns(blocks);
  return blocks;
}

/**
 * Column packing: blocks are sorted by start (longer first), grouped into clusters of transitively
 * overlapping blocks, and each takes the first sub-column free at its start; every block of a
 * cluster shares the cluster's column count so widths line up.
 */
export function packColumns<B extends { top: number; bottom: number; col: number; cols: number }>(
  blocks: B[],
): void {
  blocks.sort((a, b) => a.top - b.top || b.bottom - b.top - (a.bottom - a.top));
  let cluster: B[] = [];
  let colEnds: number[] = [];
  let clusterEnd = -1;
  const close = () => {
    for (const b of cluster) b.cols = colEnds.length;
    cluster = [];
    colEnds = [];
  };
  for (const b of blocks) {
    if (b.top >= clusterEnd) {
      close();
      clusterEnd = -1;
    }
    let col = colEnds.findIndex((end) => end <= b.top);
    if (col === -1) {
      col = colEnds.length;
      colEnds.push(b.bottom);
    } else {
      colEnds[col] = b.bottom;
    }
    b.col = col;
    cluster.push(b);
    clusterEnd = Math.max(clusterEnd, b.bottom);
  }
  close();
}

export interface LaneSegment<T> {
  item: T;
  times: EventTimes;
  /** Inclusive column indexes within the row. */
  startCol: number;
  endCol: number;
  lane: number;
  continuesBefore: boolean;
  continuesAfter: boolean;
}

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const epochDays = new Map<DateStr, number>();

/**
 * Days since 1970-01-01 of a date. A month view asks this for every event of every week row
 * (~8,000 events x 6 rows with 500 series): two Temporal.PlainDate objects and an until() per call
 * were ~0.9 s of a cold start's first paint in Chromium (measured), so plain "YYYY-MM-DD" dates
 * are counted with Date.UTC (proleptic Gregorian, as Temporal's ISO calendar) and remembered;
 * anything else (extended years) goes through Temporal.
 */
export function epochDay(d: DateStr): number {
  let n = epochDays.get(d);
  if (n !== undefined) return n;
  const m = ISO_DATE.exec(d);
  if (m !== null) {
    const t = new Date(0);
    t.setUTCFullYear(+m[1]!, +m[2]! - 1, +m[3]!);
    n = Math.round(t.getTime() / 86_400_000);
    if (t.getUTCFullYear() !== +m[1]! || t.getUTCMonth() !== +m[2]! - 1 || t.getUTCDate() !== +m[3]!)
      n = Temporal.PlainDate.from(d).since('1970-01-01', { largestUnit: 'days' }).days;
  } else n = Temporal.PlainDate.from(d).since('1970-01-01', { largestUnit: 'days' }).days;
  if (epochDays.size >= 10_000) epochDays.clear();
  epochDays.set(d, n);
  return n;
}

function dayIndex(first: DateStr, d: DateStr): number {
  return epochDay(d) - epochDay(first);
}

/**
 * Lane layout for one row of consecutive days (a week of the month grid, or the all-day row):
 * each event becomes a bar clipped to the row; bars are placed greedily in the first lane free over
 * their whole span, longest and all-day first so long bars stay on top and unbroken.
 */
export function laneRow<T>(events: Timed<T>[], days: DateStr[]): LaneSegment<T>[] {
  if (days.length === 0) return [];
  const first = days[0]!;
  const n = days.length;
  const segs: LaneSegment<T>[] = [];
  for (const e of events) {
    const a = dayIndex(first, e.times.firstDay);
    const b = dayIndex(first, e.times.lastDay);
    if (b < 0 || a >= n) continue;
    segs.push({
      item: e.item,
      times: e.times,
      startCol: Math.max(0, a),
      endCol: Math.min(n - 1, b),
      lane: 0,
      continuesBefore: a < 0,
      continuesAfter: b >= n,
    });
  }
  segs.sort(
    (x, y) =>
      x.startCol - y.startCol ||
      y.endCol - y.startCol - (x.endCol - x.startCol) ||
      Number(y.times.allDay) - Number(x.times.allDay) ||
      x.times.startMs - y.times.startMs,
  );
  const lanes: boolean[][] = [];
  for (const s of segs) {
    let lane = 0;
    for (; lane < lanes.length; lane++) {
      const row = lanes[lane]!;
      let free = true;
      for (let c = s.startCol; c <= s.endCol; c++) if (row[c]) free = false;
      if (free) break;
    }
    if (lane === lanes.length) lanes.push(new Array<boolean>(n).fill(false));
    const row = lanes[lane]!;
    for (let c = s.startCol; c <= s.endCol; c++) row[c] = true;
    s.lane = lane;
  }
  return segs;
}

/** How many bars each column has in lanes >= `visibleLanes` (the "+N more" count). */
export function hiddenPerColumn(
  segs: LaneSegment<unknown>[],
  columns: number,
  visibleLanes: number,
): number[] {
  const hidden = new Array<number>(columns).fill(0);
  for (const s of segs) {
    if (s.lane < visibleLanes) continue;
    for (let c = s.startCol; c <= s.endCol; c++) hidden[c] = (hidden[c] ?? 0) + 1;
  }
  return hidden;
}

export interface AgendaDay<T> {
  day: DateStr;
  entries: { item: T; times: EventTimes; dayNumber: number; dayCount: number }[];
}

/** Agenda: each day in order with the events touching it (multi-day events repeat, "day 2 of 3"). */
export function agendaDays<T>(events: Timed<T>[], days: DateStr[]): AgendaDay<T>[] {
  const out: AgendaDay<T>[] = [];
  if (days.length === 0) return out;
  const byDay = new Map<DateStr, AgendaDay<T>>();
  for (const d of days) byDay.set(d, { day: d, entries: [] });
  const first = days[0]!;
  for (const e of events) {
    const a = dayIndex(first, e.times.firstDay);
    const b = dayIndex(first, e.times.lastDay);
    const dayCount = b - a + 1;
    for (let i = Math.max(0, a); i <= Math.min(days.length - 1, b); i++) {
      byDay.get(days[i]!)!.entries.push({ item: e.item, times: e.times, dayNumber: i - a + 1, dayCount });
    }
  }
  for (const d of days) {
    const g = byDay.get(d)!;
    if (g.entries.length === 0) continue;
    g.entries.sort(
      (x, y) => Number(y.times.allDay) - Number(x.times.allDay) || x.times.startMs - y.times.startMs,
    );
    out.push(g);
  }
  return out;
}
