// View model: events from the client joined with their calendar and their times in the display zone.
import type { CalendarInfo, EventFields, EventView } from '../worker/api.ts';
import type { Timed } from './time/layout.ts';
import { type EventTimes, eventTimes } from './time/zoned.ts';

export interface UiEvent {
  ev: EventView;
  color: string;
  calendarName: string;
}

export const NO_TITLE = '(No title)';

export function titleOf(ev: EventFields): string {
  return ev.title.trim() === '' ? NO_TITLE : ev.title;
}

/**
 * Visible events with their times in the display zone. Hidden calendars are filtered here (the
 * client returns everything). An event whose stored times cannot be read is skipped rather than
 * breaking the whole view; the dialog still opens it through search.
 */
export function toTimed(events: EventView[], calendars: CalendarInfo[], zone: string): Timed<UiEvent>[] {
  const cals = new Map(calendars.map((c) => [c.id, c]));
  const out: Timed<UiEvent>[] = [];
  for (const ev of events) {
    const cal = cals.get(ev.calendarId);
    if (cal?.hidden) continue;
    let times: EventTimes;
    try {
      times = eventTimes(ev, zone, ev.allDay ? undefined : { startMs: ev.startMs, endMs: ev.endMs });
    } catch {
      continue;
    }
    out.push({ item: { ev, color: cal?.color ?? '#607d8b', calendarName: cal?.name ?? '' }, times });
  }
  return out;
}

export function hasConflict(e: UiEvent): boolean {
  return e.ev.conflicts.length > 0;
}
