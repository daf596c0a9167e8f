// Which reminders are due, as pure functions of the events, the clock and what was dismissed
// (docs/PROTOCOL.md REM-*). Alarms are minutes before the start; for an all-day event, minutes
// before 00:00 of its first day in the device's zone (so 15 hours before = the day before, 09:00).

import { Temporal } from 'temporal-polyfill';
import type { ReminderOccurrence } from '../../worker/api.ts';
import { formatDateMedium, formatTime, msToDate } from '../time/zoned.ts';

/** An occurrence with its reminders resolved (the host's ReminderOccurrence: one definition). */
export type ReminderSource = ReminderOccurrence;

export interface Due {
  /** Stable across tabs and devices: one notification per (event, occurrence, alarm). */
  tag: string;
  fireAtMs: number;
  calendarId: string;
  eventId: string;
  startMs: number;
  title: string;
  body: string;
}

/** Reminders are looked for this far back when the app starts (missed while closed) at most. */
export const MISSED_LOOKBACK_MS = 7 * 24 * 3_600_000;
/** And this far ahead of an occurrence's start: alarms of up to 7 days before are scheduled. */
export const MAX_LEAD_MS = 7 * 24 * 3_600_000;

/** When an alarm fires. All-day: wall-clock arithmetic, so "9:00 the day before" stays 9:00 across DST. */
export function fireTime(s: ReminderSource, minutes: number, zone: string): number {
  if (!s.allDay) return s.startMs - minutes * 60_000;
  const wall = Temporal.PlainDate.from(s.startDate).toPlainDateTime().subtract({ minutes });
  return wall.toZonedDateTime(zone).epochMilliseconds;
}

function body(s: ReminderSource, zone: string): string {
  const when = s.allDay
    ? `${formatDateMedium(s.startDate)} (all day)`
    : `${formatDateMedium(msToDate(s.startMs, zone))}, ${formatTime(s.startMs, zone)}`;
  return s.location ? `${when} · ${s.location}` : when;
}

/** Reminders firing in (fromMs, toMs], not dismissed, oldest first. */
export function dueBetween(
  sources: readonly ReminderSource[],
  fromMs: number,
  toMs: number,
  zone: string,
): Due[] {
  const out: Due[] = [];
  for (const s of sources) {
    for (const m of s.alarms) {
      const at = fireTime(s, m, zone);
      if (at <= fromMs || at > toMs || at <= s.dismissedUntilMs) continue;
      out.push({
        tag: `ledgerday:${s.calendarId}:${s.eventId}:${s.startMs}:${m}`,
        fireAtMs: at,
        calendarId: s.calendarId,
        eventId: s.eventId,
        startMs: s.startMs,
        title: s.title || '(No title)',
        body: body(s, zone),
      });
    }
  }
  return out.sort((a, b) => a.fireAtMs - b.fireAtMs || (a.tag < b.tag ? -1 : 1));
}

/** The first fire time after `afterMs` (not dismissed), or undefined. */
export function nextFire(
  sources: readonly ReminderSource[],
  afterMs: number,
  zone: string,
): number | undefined {
  let best: number | undefined;
  for (const s of sources)
    for (const m of s.alarms) {
      const at = fireTime(s, m, zone);
      if (at > afterMs && at > s.dismissedUntilMs && (best === undefined || at < best)) best = at;
    }
  return best;
}
