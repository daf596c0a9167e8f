// Optimistic edits: a time change shows at once and stays until the client reports the same values
// (or a short expiry passes), so fast repeated keyboard moves build on each other instead of on stale data.
import type { CalendarInfo, EventView, MovedEvent } from '../worker/api.ts';
import { wallToMs } from './time/zoned.ts';

export interface TimeOverride {
  start: string;
  end: string;
  /** ms since epoch when the edit was made. */
  at: number;
}

/** An override older than this is dropped even if unconfirmed (a concurrent edit elsewhere won). */
export const OVERRIDE_TTL_MS = 5_000;

export const keyOf = (ev: { calendarId: string; id: string }) => `${ev.calendarId}/${ev.id}`;

export function applyOverrides(events: EventView[], o: ReadonlyMap<string, TimeOverride>): EventView[] {
  if (o.size === 0) return events;
  return events.map((ev) => {
    const p = o.get(keyOf(ev));
    if (!p) return ev;
    try {
      return {
        ...ev,
        start: p.start,
        end: p.end,
        startMs: wallToMs(p.start, ev.timeZone),
        endMs: wallToMs(p.end, ev.timeZone),
      };
    } catch {
      return ev;
    }
  });
}

/** Overrides still needed: not yet confirmed by `events` and not expired. Same map if nothing changed. */
export function pruneOverrides(
  events: EventView[],
  o: ReadonlyMap<string, TimeOverride>,
  now: number,
): ReadonlyMap<string, TimeOverride> {
  if (o.size === 0) return o;
  const byKey = new Map(events.map((e) => [keyOf(e), e]));
  let changed = false;
  const next = new Map(o);
  for (const [k, p] of o) {
    const ev = byKey.get(k);
    if (now - p.at > OVERRIDE_TTL_MS || (ev && ev.start === p.start && ev.end === p.end)) {
      next.delete(k);
      changed = true;
    }
  }
  return changed ? next : o;
}

/**
 * The same for the month view, whose events the host draws with the overrides applied: an
 * override goes once the host says the stored times are its times (`confirmed` keys), or expires.
 */
export function pruneConfirmed(
  confirmed: readonly string[],
  o: ReadonlyMap<string, TimeOverride>,
  now: number,
): ReadonlyMap<string, TimeOverride> {
  if (o.size === 0) return o;
  const done = new Set(confirmed);
  const next = new Map([...o].filter(([k, p]) => !done.has(k) && now - p.at <= OVERRIDE_TTL_MS));
  return next.size === o.size ? o : next;
}

/** The overrides as a month request's moved events. */
export function movedOf(o: ReadonlyMap<string, TimeOverride>): MovedEvent[] {
  return [...o].map(([k, p]) => {
    const i = k.indexOf('/');
    return { calendarId: k.slice(0, i), id: k.slice(i + 1), start: p.start, end: p.end };
  });
}

/** Calendars with pending show/hide choices applied (the checkbox answers at once). */
export function applyHidden(cals: CalendarInfo[], pending: ReadonlyMap<string, boolean>): CalendarInfo[] {
  if (pending.size === 0) return cals;
  return cals.map((c) => (pending.has(c.id) ? { ...c, hidden: pending.get(c.id)! } : c));
}
