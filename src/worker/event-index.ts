// The host's in-memory index of single (non-repeating) events: by key (`doc/entity`) for lookups
// and search, and by the UTC day each starts on, so a range is answered by looking only at the
// events that start in it or shortly before (a month of a 10,000-event calendar reads a few
// hundred, not all 10,000). Events longer than MAX_SHORT_MS (and any with a span that is not a
// finite number) are kept apart and checked on every query: they are few.

import type { DocId } from '../engine/index.ts';
import type { EventView, Range } from './api.ts';
import { inRange } from './views.ts';

export interface Indexed {
  doc: DocId;
  view: EventView;
}

const DAY_MS = 86_400_000;
/** Events at most this long are filed under their start day; longer ones go to `long`. */
const MAX_SHORT_MS = 7 * DAY_MS;

export class EventIndex {
  private readonly byKey = new Map<string, Indexed>();
  /**
   * Start day number (UTC) -> the short events starting that day (a list, read by index: a first
   * month draw reads ~1,200 from cold code, where a Set's iterator costs more than the check).
   */
  private readonly byDay = new Map<number, Indexed[]>();
  private readonly long = new Set<Indexed>();
  /**
   * Where each entry was filed when it was set: its day (undefined: long) and its place in that
   * day's list, so a delete is O(1) however many events one day holds (a calendar may put
   * thousands on one day).
   */
  private readonly filed = new Map<Indexed, { day: number | undefined; at: number }>();

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Indexed | undefined {
    return this.byKey.get(key);
  }

  values(): IterableIterator<Indexed> {
    return this.byKey.values();
  }

  set(key: string, item: Indexed): void {
    this.delete(key);
    this.byKey.set(key, item);
    const day = dayOf(item.view);
    if (day === undefined) {
      this.filed.set(item, { day, at: 0 });
      this.long.add(item);
      return;
    }
    let list = this.byDay.get(day);
    if (list === undefined) {
      list = [];
      this.byDay.set(day, list);
    }
    this.filed.set(item, { day, at: list.length });
    list.push(item);
  }

  delete(key: string): void {
    const item = this.byKey.get(key);
    if (item === undefined) return;
    this.byKey.delete(key);
    const where = this.filed.get(item)!;
    this.filed.delete(item);
    if (where.day === undefined) {
      this.long.delete(item);
      return;
    }
    const list = this.byDay.get(where.day)!;
    // The day's last entry takes the deleted one's place (order within a day is not kept: a
    // range's events are placed or sorted by their callers).
    const last = list.pop()!;
    if (last !== item) {
      list[where.at] = last;
      this.filed.get(last)!.at = where.at;
    }
    if (list.length === 0) this.byDay.delete(where.day);
  }

  /**
   * Appends to `out` the views of every event that overlaps `range` (views.ts inRange): exactly
   * those a scan of every event would give. A short event overlapping the range starts before its
   * end and at most MAX_SHORT_MS before its start, so only those start days are read.
   */
  inRange(range: Range, out: EventView[]): void {
    for (const item of this.long) if (inRange(item.view, range)) out.push(item.view);
    const from = Math.floor((range.fromMs - MAX_SHORT_MS) / DAY_MS);
    const to = Math.floor(range.toMs / DAY_MS);
    if (!Number.isFinite(from) || !Number.isFinite(to)) return;
    if (to - from > this.byDay.size) {
      // A range longer than the number of days that have events: walk those days instead.
      for (const [day, list] of this.byDay) if (day >= from && day <= to) push(list, range, out);
      return;
    }
    for (let day = from; day <= to; day++) {
      const list = this.byDay.get(day);
      if (list !== undefined) push(list, range, out);
    }
  }
}

function push(list: readonly Indexed[], range: Range, out: EventView[]): void {
  for (let i = 0; i < list.length; i++) {
    const v = list[i]!.view;
    if (inRange(v, range)) out.push(v);
  }
}

/** The UTC day a short event is filed under, or undefined for a long (or unmeasurable) one. */
function dayOf(view: EventView): number | undefined {
  const { startMs, endMs } = view;
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs - startMs > MAX_SHORT_MS)
    return undefined;
  return Math.floor(startMs / DAY_MS);
}
