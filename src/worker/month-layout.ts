// The month grid as the month view draws it, computed where the events are (the host): per week
// row the bars that fit in the visible lanes and per day the "+N more" count, not every event of
// six weeks. A month of 500 series and 10,000 single events overlaps ~7,900 events; the view shows
// ~150 of them. Building, identifying, sorting and sending all of them was most of drawing a month
// (measured in Chromium: sorting, occurrence ids and views ~14 ms of ~25 ms); here each event costs
// its day numbers, only each day's first few are ordered, and only shown ones get a view and an id.
//
// The placement is the one the view used on the full list (src/ui/time/layout.ts laneRow over the
// events in byTime order, then hiddenPerColumn): bars in the first lane free over their span,
// ordered by first column, longer first, all-day first, then start, end and id. Every day's
// single-day events can only take lanes of that day, after the bars that start there, so they are
// ordered only as far as the free lanes reach (a top-k, not a sort). month-layout.test.ts checks
// that both give the same grid on random calendars.

import type { EventView, MonthBar, MonthLayout, MonthRequest, MonthWeek, MovedEvent } from './api.ts';

export type { MonthBar, MonthLayout, MonthRequest, MonthWeek, MovedEvent } from './api.ts';

import { utcToWall, wallToUtcMs } from './time.ts';

export const MAX_MONTH_WEEKS = 6;
export const MAX_MONTH_LANES = 64;
export const MAX_MOVED = 100;

const DAY = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})/;

/** Day number (days since 1970-01-01) of a "YYYY-MM-DD..." text; undefined when not a date. */
const dayNumbers = new Map<string, number | undefined>();
export function dayNumber(text: string): number | undefined {
  const key = text.slice(0, 10);
  if (dayNumbers.has(key)) return dayNumbers.get(key);
  const m = DATE.exec(key);
  let n: number | undefined;
  if (m !== null) {
    const t = new Date(0);
    t.setUTCFullYear(+m[1]!, +m[2]! - 1, +m[3]!);
    if (t.getUTCFullYear() === +m[1]! && t.getUTCMonth() === +m[2]! - 1 && t.getUTCDate() === +m[3]!)
      n = Math.round(t.getTime() / DAY);
  }
  if (dayNumbers.size >= 10_000) dayNumbers.clear();
  dayNumbers.set(key, n);
  return n;
}

/** A request as the host accepts it, or a reason it does not. */
export function checkMonthRequest(r: MonthRequest): string | undefined {
  if (typeof r !== 'object' || r === null) return 'not a month request';
  if (typeof r.firstDay !== 'string' || r.firstDay.length !== 10 || dayNumber(r.firstDay) === undefined)
    return 'firstDay must be a date';
  if (!Number.isInteger(r.weeks) || r.weeks < 1 || r.weeks > MAX_MONTH_WEEKS)
    return `weeks must be 1..${MAX_MONTH_WEEKS}`;
  if (!Number.isInteger(r.lanes) || r.lanes < 1 || r.lanes > MAX_MONTH_LANES)
    return `lanes must be 1..${MAX_MONTH_LANES}`;
  if (typeof r.zone !== 'string' || wallToUtcMs(r.firstDay, r.zone) === undefined)
    return 'zone must be an IANA time zone';
  if (!Array.isArray(r.hidden) || r.hidden.some((h) => typeof h !== 'string')) return 'hidden must be ids';
  if (!Array.isArray(r.moved) || r.moved.length > MAX_MOVED) return `moved must be at most ${MAX_MOVED}`;
  for (const m of r.moved)
    if (
      typeof m !== 'object' ||
      m === null ||
      typeof m.calendarId !== 'string' ||
      typeof m.id !== 'string' ||
      typeof m.start !== 'string' ||
      typeof m.end !== 'string'
    )
      return 'moved must list calendarId, id, start and end';
  return undefined;
}

/**
 * The instants a month request covers: its days and one either side, as the view's other ranges
 * (fetchRange in src/ui/time/nav.ts). The request must have passed checkMonthRequest.
 */
export function monthRange(req: MonthRequest): { fromMs: number; toMs: number } {
  const first = dayNumber(req.firstDay)!;
  const before = new Date((first - 1) * DAY).toISOString().slice(0, 10);
  const after = new Date((first + req.weeks * 7 + 1) * DAY).toISOString().slice(0, 10);
  return { fromMs: wallToUtcMs(before, req.zone)!, toMs: wallToUtcMs(after, req.zone)! };
}

/** An event as the grid places it: its days (grid columns, -1 / days past the end outside). */
interface Cand<R> {
  ref: R;
  allDay: boolean;
  /** Order within a day after all-day: its first day (all-day) or start (timed). */
  t: number;
  startMs: number;
  endMs: number;
  a: number;
  b: number;
  /** Last in the order: the event's id (a series' for its occurrences), then the original start. */
  entity: string;
  rid: string;
}

/** How the grid gets the view of a shown bar from what it was given. */
export interface GridRefs<R> {
  viewOf(ref: R): EventView;
}

/**
 * One month draw: add every event of `range` (views or lazy references), then `layout()`.
 */
export class MonthGrid<R> {
  readonly range: { fromMs: number; toMs: number };
  private readonly days: number;
  private readonly first: number;
  /** UTC start of each grid day in the zone, and one past the last. */
  private readonly bounds: number[] = [];
  /** Whether that start is the day's 00:00 (not a DST gap's later first minute). */
  private readonly midnight: boolean[] = [];
  private readonly cands: Cand<R>[] = [];

  constructor(
    private readonly req: MonthRequest,
    private readonly refs: GridRefs<R>,
  ) {
    this.days = req.weeks * 7;
    this.first = dayNumber(req.firstDay)!;
    for (let k = 0; k <= this.days; k++) {
      const date = new Date((this.first + k) * DAY).toISOString().slice(0, 10);
      const ms = wallToUtcMs(date, req.zone)!;
      this.bounds.push(ms);
      const wall = utcToWall(ms, req.zone);
      this.midnight.push(wall.length === 16 && wall.endsWith('T00:00'));
    }
    this.range = monthRange(req);
  }

  /** Grid day of an instant: -1 before the grid, `days` after it. */
  private dayOf(ms: number): number {
    const b = this.bounds;
    if (ms < b[0]!) return -1;
    if (ms >= b[this.days]!) return this.days;
    let lo = 0;
    let hi = this.days - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (b[mid]! <= ms) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /**
   * Adds an event: all-day ones by their dates, timed ones by their instants in the display zone
   * (as src/ui/time/zoned.ts eventTimes: an end at 00:00 ends the day before). Unreadable dates
   * are left out, as the view leaves them out. `entity` and `rid` order events with the same
   * start and end: the event's id (its series' for an occurrence), then the original start.
   */
  add(
    ref: R,
    allDay: boolean,
    start: string,
    end: string,
    startMs: number,
    endMs: number,
    entity: string,
    rid: string,
  ): void {
    let a: number;
    let b: number;
    let t: number;
    if (allDay) {
      const f = dayNumber(start);
      let e = dayNumber(end);
      if (f === undefined || e === undefined) return;
      if (e <= f) e = f + 1;
      a = f - this.first;
      b = e - 1 - this.first;
      t = f;
    } else {
      const s = startMs;
      const e = Math.max(endMs, s);
      if (!Number.isFinite(s) || !Number.isFinite(e)) return;
      a = this.dayOf(s);
      b = this.dayOf(e);
      if (e > s && b >= 0 && b <= this.days && this.bounds[b] === e && this.midnight[b]) b--;
      if (b < a) b = a;
      t = s;
    }
    if (b < 0 || a >= this.days) return;
    this.cands.push({ ref, allDay, t, startMs, endMs, a, b, entity, rid });
  }

  /**
   * The order of events on one day: all-day first, then start, end, and for the same start and
   * end the event's (series') id, so a series keeps its place among others at its time day after
   * day (the list's order, byTime, went by each occurrence's own id, a hash: they swapped places).
   */
  private cmp = (x: Cand<R>, y: Cand<R>): number => {
    if (x.allDay !== y.allDay) return x.allDay ? -1 : 1;
    if (x.t !== y.t) return x.t - y.t;
    if (x.startMs !== y.startMs) return x.startMs - y.startMs;
    if (x.endMs !== y.endMs) return x.endMs - y.endMs;
    if (x.entity !== y.entity) return x.entity < y.entity ? -1 : 1;
    return x.rid < y.rid ? -1 : x.rid > y.rid ? 1 : 0;
  };

  layout(): MonthLayout {
    const n = this.days;
    const cover = new Array<number>(n).fill(0);
    const multi: { c: Cand<R>; s: number; e: number }[][] = [];
    const single: Cand<R>[][] = [];
    for (let w = 0; w < this.req.weeks; w++) multi.push([]);
    for (let d = 0; d < n; d++) single.push([]);
    for (const c of this.cands) {
      const a = Math.max(c.a, 0);
      const b = Math.min(c.b, n - 1);
      for (let d = a; d <= b; d++) cover[d]!++;
      for (let w = Math.floor(a / 7); w <= Math.floor(b / 7); w++) {
        const s = Math.max(a, w * 7);
        const e = Math.min(b, w * 7 + 6);
        if (s === e) single[s]!.push(c);
        else multi[w]!.push({ c, s, e });
      }
    }
    const weeks: MonthWeek[] = [];
    for (let w = 0; w < this.req.weeks; w++) weeks.push(this.row(w, multi[w]!, single, cover));
    return { weeks, events: this.cands.length, confirmed: [] };
  }

  /** One week row: bars in lanes, the lanes shown and each day's hidden count. */
  private row(
    w: number,
    multi: { c: Cand<R>; s: number; e: number }[],
    single: Cand<R>[][],
    cover: number[],
  ): MonthWeek {
    const lanes = this.req.lanes;
    const base = w * 7;
    // Occupancy of the lanes that can be shown; a bar beyond them only matters as "overflow".
    const taken = new Uint8Array(lanes * 7);
    let overflow = false;
    const placed: { c: Cand<R>; s: number; e: number; lane: number }[] = [];
    multi.sort((x, y) => x.s - y.s || y.e - y.s - (x.e - x.s) || this.cmp(x.c, y.c));
    let mi = 0;
    for (let col = 0; col < 7; col++) {
      for (; mi < multi.length && multi[mi]!.s - base === col; mi++) {
        const { c, s, e } = multi[mi]!;
        let lane = 0;
        for (; lane < lanes; lane++) {
          let free = true;
          for (let k = s - base; k <= e - base && free; k++) if (taken[lane * 7 + k]) free = false;
          if (free) break;
        }
        if (lane === lanes) {
          overflow = true;
          continue;
        }
        for (let k = s - base; k <= e - base; k++) taken[lane * 7 + k] = 1;
        placed.push({ c, s, e, lane });
      }
      const free: number[] = [];
      for (let lane = 0; lane < lanes; lane++) if (!taken[lane * 7 + col]) free.push(lane);
      const list = single[base + col]!;
      if (list.length > free.length) overflow = true;
      const top = this.first_(list, Math.min(free.length, list.length));
      for (let i = 0; i < top.length; i++) {
        taken[free[i]! * 7 + col] = 1;
        placed.push({ c: top[i]!, s: base + col, e: base + col, lane: free[i]! });
      }
    }
    const shown = overflow ? Math.max(1, lanes - 1) : lanes;
    const more = cover.slice(base, base + 7);
    const bars: MonthBar[] = [];
    for (const p of placed) {
      if (p.lane >= shown) continue;
      for (let d = p.s; d <= p.e; d++) more[d - base]!--;
      bars.push({
        view: this.refs.viewOf(p.c.ref),
        startCol: p.s - base,
        endCol: p.e - base,
        lane: p.lane,
        continuesBefore: p.c.a < base,
        continuesAfter: p.c.b > base + 6,
      });
    }
    return { shown, bars, more };
  }

  /** The first `k` of `list` in the day's order (a partial insertion sort: k is a few lanes). */
  private first_(list: Cand<R>[], k: number): Cand<R>[] {
    const best: Cand<R>[] = [];
    if (k === 0) return best;
    for (const c of list) {
      if (best.length === k && this.cmp(c, best[k - 1]!) >= 0) continue;
      let i = best.length === k ? k - 1 : best.length;
      while (i > 0 && this.cmp(c, best[i - 1]!) < 0) i--;
      best.splice(i, 0, c);
      if (best.length > k) best.pop();
    }
    return best;
  }
}

/** Adds a view (an occurrence's by its series id and original start). */
export function addView<R>(grid: MonthGrid<R>, v: EventView & R): void {
  const o = v.occurrence;
  grid.add(v, v.allDay, v.start, v.end, v.startMs, v.endMs, o?.seriesId ?? v.id, o?.recurrenceId ?? '');
}

/** A view at the times the UI shows before the host reports them (as src/ui/pending.ts does). */
export function movedView(v: EventView, m: MovedEvent): EventView {
  const startMs = wallToUtcMs(m.start, v.timeZone);
  const endMs = wallToUtcMs(m.end, v.timeZone);
  if (startMs === undefined || endMs === undefined) return v;
  return { ...v, start: m.start, end: m.end, startMs, endMs };
}

/** The grid of a list of views (the starting host's early answer, tests). */
export function layoutViews(req: MonthRequest, views: readonly EventView[]): MonthLayout {
  const hidden = new Set(req.hidden);
  const moved = new Map(req.moved.map((m) => [`${m.calendarId}/${m.id}`, m]));
  const confirmed: string[] = [];
  const grid = new MonthGrid<EventView>(req, { viewOf: (v) => v });
  for (let v of views) {
    if (hidden.has(v.calendarId)) continue;
    const m = moved.size === 0 ? undefined : moved.get(`${v.calendarId}/${v.id}`);
    if (m !== undefined) {
      if (v.start === m.start && v.end === m.end) confirmed.push(`${v.calendarId}/${v.id}`);
      v = movedView(v, m);
    }
    addView(grid, v);
  }
  return { ...grid.layout(), confirmed };
}
