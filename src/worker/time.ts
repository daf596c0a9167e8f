// Wall-clock time in an IANA zone -> UTC instant, for the range index. Temporal (polyfill) is
// exact but costs ~13 µs per conversion in Node (20,000 took 265 ms, measured), too slow for a
// cold start over 10,000 events; so the zone's offset is computed once per (zone, day) and
// reused when the day has no offset transition. Days with a transition go through Temporal.

import { Temporal } from 'temporal-polyfill';

const WALL = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?)?$/;
const MAX_CACHE = 50_000;

/** (zone|date) -> offset in ms valid for the whole day, or null when the day has a transition. */
const dayOffsets = new Map<string, number | null>();

function offsetForDay(zone: string, date: string): number | null {
  const key = `${zone}|${date}`;
  let off = dayOffsets.get(key);
  if (off === undefined) {
    const day = Temporal.PlainDate.from(date, { overflow: 'reject' });
    const start = day.toZonedDateTime({ timeZone: zone });
    const next = day.add({ days: 1 }).toZonedDateTime({ timeZone: zone });
    // The fast path needs a day that starts at midnight and keeps one offset until the next
    // midnight. Days that start late (a DST change at 00:00) or do not exist at all (Samoa
    // skipped 2011-12-30) go through Temporal.
    const plain = start.hour === 0 && start.minute === 0 && start.toPlainDate().equals(day);
    off = plain && start.offsetNanoseconds === next.offsetNanoseconds ? start.offsetNanoseconds / 1e6 : null;
    if (dayOffsets.size >= MAX_CACHE) dayOffsets.clear();
    dayOffsets.set(key, off);
  }
  return off;
}

/**
 * UTC ms of a wall-clock time ("YYYY-MM-DD" = start of that day, or "YYYY-MM-DDTHH:MM[:SS]") in
 * `zone`; undefined when the time or the zone is not valid. Nonexistent times (spring forward)
 * resolve like Temporal's 'compatible' disambiguation: moved forward by the gap.
 */
export function wallToUtcMs(wall: string, zone: string): number | undefined {
  const m = WALL.exec(wall);
  if (!m) return undefined;
  const date = wall.slice(0, 10);
  if (+(m[4] ?? 0) > 23 || +(m[5] ?? 0) > 59 || +(m[6] ?? 0) > 59) return undefined;
  try {
    const off = offsetForDay(zone, date);
    if (off !== null) {
      const ms = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +(m[4] ?? 0), +(m[5] ?? 0), +(m[6] ?? 0));
      // Date.UTC rolls "02-31" over to March; Temporal.PlainDate.from above already rejected it.
      return ms - off;
    }
    const pdt =
      m[4] === undefined
        ? Temporal.PlainDate.from(wall, { overflow: 'reject' }).toPlainDateTime()
        : Temporal.PlainDateTime.from(wall, { overflow: 'reject' });
    return pdt.toZonedDateTime(zone, { disambiguation: 'compatible' }).epochMilliseconds;
  } catch {
    return undefined;
  }
}

/**
 * UTC extent of an event as the range index sees it: start (0 when unreadable) and an end never
 * before the start. Shared by the host's in-memory index and the store's persisted span index, so
 * both place an event identically.
 */
export function eventSpanMs(start: string, end: string, zone: string): { startMs: number; endMs: number } {
  const startMs = wallToUtcMs(start, zone) ?? 0;
  return { startMs, endMs: Math.max(wallToUtcMs(end, zone) ?? startMs, startMs) };
}

/** Last offset seen per zone: the guess utcToWall starts from. */
const lastOffset = new Map<string, number>();
const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * The wall-clock time ("YYYY-MM-DDTHH:MM", ":SS" only when not zero) of a UTC instant in `zone`,
 * the inverse of wallToUtcMs for times that exist. Uses the same per-day offsets, so expanding a
 * month of occurrences costs Date arithmetic, not a Temporal object per occurrence (measured:
 * the Temporal conversions were most of a month's expansion in Chromium).
 */
export function utcToWall(ms: number, zone: string): string {
  const guess = lastOffset.get(zone) ?? 0;
  const date = new Date(ms + guess).toISOString().slice(0, 10);
  let off: number | null = null;
  try {
    off = offsetForDay(zone, date);
  } catch {
    off = null;
  }
  if (off !== null) {
    const d = new Date(ms + off);
    if (d.toISOString().slice(0, 10) === date) {
      lastOffset.set(zone, off);
      const s = d.getUTCSeconds();
      return `${date}T${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}${s === 0 ? '' : `:${pad2(s)}`}`;
    }
    // The guess was a day off: try again from this day's offset (at most once more).
    if (off !== guess) {
      lastOffset.set(zone, off);
      return utcToWall(ms, zone);
    }
  }
  const z = Temporal.Instant.fromEpochMilliseconds(ms).toZonedDateTimeISO(zone);
  const s = z.second;
  return `${z.toPlainDate().toString()}T${pad2(z.hour)}:${pad2(z.minute)}${s === 0 ? '' : `:${pad2(s)}`}`;
}
