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
  /** Start day number (UTC) -> the short events starting that day. */
  private readonly byDay = new Map<number, Set<Indexed>>();
  private readonly long = new Set<Indexed>();
  /** The day each entry was filed under (undefined: long), as computed when it was set. */
  private readonly filed = new Map<Indexed, number | undefined>();

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
    this.filed.set(item, day);
    if (day === undefined) {
      this.long.add(item);
      return;
    }
    let set = this.byDay.get(day);
    if (set === undefined) {
      set = new Set();
      this.byDay.set(day, set);
    }
    set.add(item);
  }

  delete(key: string): void {
    const item = this.byKey.get(key);
    if (item === undefined) return;
    this.byKey.delete(key);
    const day = this.filed.get(item);
    this.filed.delete(item);
    if (day === undefined) {
      this.long.delete(item);
      return;
    }
    const set = this.byDay.get(day);
    set?.delete(item);
    if (set?.size === 0) this.byDay.delete(day);
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
      for (const [day, set] of this.byDay) if (day >= from && day <= to) push(set, range, out);
      return;
    }
    for (let day = from; day <= to; day++) {
      const set = this.byDay.get(day);
      if (set !== undefined) push(set, range, out);
    }
  }
}

function push(set: Set<Indexed>, range: Range, out: EventView[]): void {
  for (const item of set) if (inRange(item.view, range)) out.push(item.view);
}

/** The UTC day a short event is filed under, or undefined for a long (or unmeasurable) one. */
function dayOf(view: EventView): number | undefined {
  const { startMs, endMs } = view;
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs - startMs > MAX_SHORT_MS)
    return undefined;
  return Math.floor(startMs / DAY_MS);
}
