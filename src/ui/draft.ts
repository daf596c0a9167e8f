// The event dialog's form state and its validation into EventFields (pure, unit-tested).
import type { EventFields } from '../worker/api.ts';
import { alarmsToSave } from './reminders/alarms.ts';
import { addDays, isDateStr, isValidZone, isWallStr, wallToMs } from './time/zoned.ts';

/** Form values as the inputs hold them. For all-day events `endDate` is inclusive (as people read it). */
export interface FormState {
  title: string;
  allDay: boolean;
  /** datetime-local value "YYYY-MM-DDTHH:MM" or, when allDay, "YYYY-MM-DD". */
  start: string;
  end: string;
  timeZone: string;
  location: string;
  notes: string;
  calendarId: string;
  /** The event's own reminders (minutes before), or null for the calendar's default (REM-1). */
  alarms: number[] | null;
  /** RRULE value ('' = does not repeat); undefined while the Custom editor holds no valid rule. */
  rrule: string | undefined;
}

export function formFromFields(f: EventFields, calendarId: string): FormState {
  return {
    title: f.title,
    allDay: f.allDay,
    start: f.allDay ? f.start.slice(0, 10) : f.start,
    // Stored all-day ends are exclusive; the form shows the last day.
    end: f.allDay ? addDays(f.end.slice(0, 10), -1) : f.end,
    timeZone: f.timeZone,
    location: f.location,
    notes: f.notes,
    calendarId,
    alarms: f.alarms === undefined || f.alarms === null ? null : [...f.alarms],
    rrule: f.rrule ?? '',
  };
}

/** Switching "All day" converts the times instead of clearing them. */
export function toggleAllDay(s: FormState, allDay: boolean): FormState {
  if (allDay === s.allDay) return s;
  if (allDay) {
    const start = s.start.slice(0, 10);
    let end = s.end.slice(0, 10);
    if (!isDateStr(end) || end < start) end = start;
    return { ...s, allDay, start, end };
  }
  const date = isDateStr(s.start.slice(0, 10)) ? s.start.slice(0, 10) : s.start;
  return { ...s, allDay, start: `${date}T09:00`, end: `${date}T10:00` };
}

export type FormResult =
  | { ok: true; fields: EventFields }
  | { ok: false; field: 'Start' | 'End' | 'Time zone' | 'Repeat'; message: string };

export function fieldsFromForm(s: FormState): FormResult {
  if (!isValidZone(s.timeZone))
    return { ok: false, field: 'Time zone', message: `Unknown time zone “${s.timeZone}”.` };
  if (s.rrule === undefined)
    return { ok: false, field: 'Repeat', message: 'Choose on which days it repeats and when it ends.' };
  const base = {
    title: s.title.trim(),
    timeZone: s.timeZone,
    location: s.location.trim(),
    notes: s.notes,
    // Reminders are written only when the event has its own (null keeps the calendar's default).
    ...(s.alarms === null ? {} : { alarms: alarmsToSave(s.alarms) }),
    rrule: s.rrule,
  };
  if (s.allDay) {
    if (!isDateStr(s.start)) return { ok: false, field: 'Start', message: 'Enter a start date.' };
    if (!isDateStr(s.end)) return { ok: false, field: 'End', message: 'Enter an end date.' };
    if (s.end < s.start)
      return { ok: false, field: 'End', message: 'The end date is before the start date.' };
    return { ok: true, fields: { ...base, allDay: true, start: s.start, end: addDays(s.end, 1) } };
  }
  if (!isWallStr(s.start)) return { ok: false, field: 'Start', message: 'Enter a start date and time.' };
  if (!isWallStr(s.end)) return { ok: false, field: 'End', message: 'Enter an end date and time.' };
  if (wallToMs(s.end, s.timeZone) < wallToMs(s.start, s.timeZone)) {
    return { ok: false, field: 'End', message: 'The end is before the start.' };
  }
  return { ok: true, fields: { ...base, allDay: false, start: s.start, end: s.end } };
}
