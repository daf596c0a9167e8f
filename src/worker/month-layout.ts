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
  /** What the caller needs besides `ref` to make its view (shared by many events). */
  aux: unknown;
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
  viewOf(ref: R, aux: unknown): EventView;
}

/** A week row's segment of an event spanning days. */
interface Span<R> {
  c: Cand<R>;
  s: number;
  e: number;
}

/**
 * One month draw: add every event of `range` (views or lazy references), then `layout()`.
 * An event on one day of the grid (nearly all) costs a few comparisons as it is added: each day
 * keeps only its first `lanes` single-day events in order (no more can ever be shown) and a
 * count; nothing is allocated for the others. Events over several days are placed at layout().
 */
export class MonthGrid<R> {
  readonly range: { fromMs: number; toMs: number };
  private readonly days: number;
  private readonly first: number;
  private readonly lanes: number;
  /** UTC start of each grid day in the zone, and one past the last. */
  private readonly bounds: number[] = [];
  /** Whether that start is the day's 00:00 (not a DST gap's later first minute). */
  private readonly midnight: boolean[] = [];
  /** Per day: its first single-day events in order (at most `lanes`), and how many it has. */
  private readonly top: Cand<R>[][] = [];
  private readonly singles: number[] = [];
  /** Per day: events on it (shown or not). */
  private readonly cover: number[] = [];
  /** Events over more than one day of the grid. */
  private readonly spanning: Cand<R>[] = [];
  private count = 0;

  constructor(
    private readonly req: MonthRequest,
    private readonly refs: GridRefs<R>,
  ) {
    this.days = req.weeks * 7;
    this.first = dayNumber(req.firstDay)!;
    this.lanes = req.lanes;
    for (let k = 0; k <= this.days; k++) {
      const date = new Date((this.first + k) * DAY).toISOString().slice(0, 10);
      const ms = wallToUtcMs(date, req.zone)!;
      this.bounds.push(ms);
      const wall = utcToWall(ms, req.zone);
      this.midnight.push(wall.length === 16 && wall.endsWith('T00:00'));
    }
    for (let d = 0; d < this.days; d++) {
      this.top.push([]);
      this.singles.push(0);
      this.cover.push(0);
    }
    this.range = monthRange(req);
  }

  /** Grid day of an instant: -1 before the grid, `days` after it (days are 23 to 25 hours). */
  private dayOf(ms: number): number {
    const b = this.bounds;
    if (ms < b[0]!) return -1;
    if (ms >= b[this.days]!) return this.days;
    let k = Math.min(this.days - 1, Math.floor((ms - b[0]!) / DAY));
    while (k > 0 && b[k]! > ms) k--;
    while (k < this.days - 1 && b[k + 1]! <= ms) k++;
    return k;
  }

  /**
   * Adds an event: all-day ones by their dates, timed ones by their instants in the display zone
   * (as src/ui/time/zoned.ts eventTimes: an end at 00:00 ends the day before). Unreadable dates
   * are left out, as the view leaves them out. `entity` and `rid` order events with the same
   * start and end: the event's id (its series' for an occurrence), then the original start.
   */
  add(
    ref: R,
    aux: unknown,
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
    this.count++;
    const lo = Math.max(a, 0);
    const hi = Math.min(b, this.days - 1);
    for (let d = lo; d <= hi; d++) this.cover[d]!++;
    if (lo !== hi) {
      this.spanning.push({ ref, aux, allDay, t, startMs, endMs, a, b, entity, rid });
      return;
    }
    this.singles[lo]!++;
    const top = this.top[lo]!;
    // Most events of a busy day come after its first few: compared, then left (no object).
    if (top.length === this.lanes && !before(allDay, t, startMs, endMs, entity, rid, top[this.lanes - 1]!))
      return;
    this.keep(top, { ref, aux, allDay, t, startMs, endMs, a, b, entity, rid });
  }

  /**
   * Adds the first `n` occurrences of one series' list as add() would add each (`entity` the
   * series id, each one's original start its order after that): one loop here, not a call from
   * the caller per occurrence (a first draw adds ~6,000 from cold code).
   */
  addRun(
    list: readonly (R & {
      start: string;
      end: string;
      startMs: number;
      endMs: number;
      recurrenceId: string;
    })[],
    n: number,
    aux: unknown,
    allDay: boolean,
    entity: string,
  ): void {
    for (let i = 0; i < n; i++) {
      const o = list[i]!;
      // (The end's text of all-day ones only: a timed one's is made when shown.)
      this.add(o, aux, allDay, o.start, allDay ? o.end : '', o.startMs, o.endMs, entity, o.recurrenceId);
    }
  }

  /** Inserts into a day's first events in order, keeping at most `lanes`. */
  private keep(top: Cand<R>[], c: Cand<R>): void {
    let i = top.length;
    while (i > 0 && cmp(c, top[i - 1]!) < 0) i--;
    if (i >= this.lanes) return;
    top.splice(i, 0, c);
    if (top.length > this.lanes) top.pop();
  }

  layout(): MonthLayout {
    const multi: Span<R>[][] = [];
    for (let w = 0; w < this.req.weeks; w++) multi.push([]);
    // Events over several days: a bar per week row, or a single day of a row (its first or last).
    for (const c of this.spanning) {
      const a = Math.max(c.a, 0);
      const b = Math.min(c.b, this.days - 1);
      for (let w = Math.floor(a / 7); w <= Math.floor(b / 7); w++) {
        const s = Math.max(a, w * 7);
        const e = Math.min(b, w * 7 + 6);
        if (s === e) {
          this.singles[s]!++;
          this.keep(this.top[s]!, c);
        } else multi[w]!.push({ c, s, e });
      }
    }
    const weeks: MonthWeek[] = [];
    for (let w = 0; w < this.req.weeks; w++) weeks.push(this.row(w, multi[w]!));
    return { weeks, events: this.count, confirmed: [] };
  }

  /** One week row: bars in lanes, the lanes shown and each day's hidden count. */
  private row(w: number, multi: Span<R>[]): MonthWeek {
    const lanes = this.lanes;
    const base = w * 7;
    // Occupancy of the lanes that can be shown; a bar beyond them only matters as "overflow".
    const taken = new Uint8Array(lanes * 7);
    let overflow = false;
    const placed: { c: Cand<R>; s: number; e: number; lane: number }[] = [];
    multi.sort((x, y) => x.s - y.s || y.e - y.s - (x.e - x.s) || cmp(x.c, y.c));
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
      // The day's single-day events take its free lanes in order (laneRow's greedy placement).
      const free: number[] = [];
      for (let lane = 0; lane < lanes; lane++) if (!taken[lane * 7 + col]) free.push(lane);
      if (this.singles[base + col]! > free.length) overflow = true;
      const top = this.top[base + col]!;
      for (let i = 0; i < top.length && i < free.length; i++) {
        taken[free[i]! * 7 + col] = 1;
        placed.push({ c: top[i]!, s: base + col, e: base + col, lane: free[i]! });
      }
    }
    const shown = overflow ? Math.max(1, lanes - 1) : lanes;
    const more = this.cover.slice(base, base + 7);
    const bars: MonthBar[] = [];
    for (const p of placed) {
      if (p.lane >= shown) continue;
      for (let d = p.s; d <= p.e; d++) more[d - base]!--;
      bars.push({
        view: this.refs.viewOf(p.c.ref, p.c.aux),
        startCol: p.s - base,
        endCol: p.e - base,
        lane: p.lane,
        continuesBefore: p.c.a < base,
        continuesAfter: p.c.b > base + 6,
      });
    }
    return { shown, bars, more };
  }
}

/**
 * The order of events on one day: all-day first, then start, end, and for the same start and
 * end the event's (series') id, so a series keeps its place among others at its time day after
 * day (the list's order, byTime, went by each occurrence's own id, a hash: they swapped places).
 */
function cmp<R>(x: Cand<R>, y: Cand<R>): number {
  return before(x.allDay, x.t, x.startMs, x.endMs, x.entity, x.rid, y)
    ? -1
    : before(y.allDay, y.t, y.startMs, y.endMs, y.entity, y.rid, x)
      ? 1
      : 0;
}

/** Whether an event with these keys comes before `y` (cmp's order, without an object). */
function before<R>(
  allDay: boolean,
  t: number,
  startMs: number,
  endMs: number,
  entity: string,
  rid: string,
  y: Cand<R>,
): boolean {
  if (allDay !== y.allDay) return allDay;
  if (t !== y.t) return t < y.t;
  if (startMs !== y.startMs) return startMs < y.startMs;
  if (endMs !== y.endMs) return endMs < y.endMs;
  if (entity !== y.entity) return entity < y.entity;
  return rid < y.rid;
}

/** Adds a view (an occurrence's by its series id and original start). */
export function addView<R>(grid: MonthGrid<R>, v: EventView & R): void {
  const o = v.occurrence;
  grid.add(
    v,
    undefined,
    v.allDay,
    v.start,
    v.end,
    v.startMs,
    v.endMs,
    o?.seriesId ?? v.id,
    o?.recurrenceId ?? '',
  );
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
