// "Reminder" in the event dialog: the event's alarms as "N minutes/hours/days before" (timed) or
// "N days before at HH:MM" (all-day), "Add reminder", "Remove". Alarms are minutes before the
// start (all-day: before 00:00 of the first day), as the Alarms register stores them (REM-1).
// null means the calendar's default reminders. The notification permission is asked when the
// first reminder is added (REM-4), never before.
import { useId } from 'react';

import {
  askNotificationPermission,
  joinAllDay,
  splitAllDay,
  splitTimed,
  UNIT_MIN,
  type Unit,
} from '../reminders/alarms.ts';

export function ReminderField(props: {
  /** The event's own alarms, or null for the calendar's default. */
  value: readonly number[] | null;
  /** The calendar's default reminders (shown when `value` is null). */
  calendarDefault: readonly number[];
  allDay: boolean;
  onChange: (alarms: number[]) => void;
}) {
  const id = useId();
  const alarms = props.value ?? props.calendarDefault;
  // Kept in the person's order while editing; sorted and deduplicated when saved (alarmsToSave).
  const set = (next: number[]) => props.onChange(next);
  const replace = (i: number, m: number) => set(alarms.map((x, j) => (j === i ? m : x)));
  const denied = typeof Notification !== 'undefined' && Notification.permission === 'denied';
  return (
    <fieldset className="field reminders">
      <legend>Reminder</legend>
      {props.value === null && alarms.length > 0 && <p className="hint">The calendar's default reminders</p>}
      <ul>
        {alarms.map((m, i) => {
          const rowId = `${id}-${i}`;
          if (props.allDay) {
            const { days, time } = splitAllDay(m);
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: a row is a position in the list being edited
              <li key={i}>
                <input
                  type="number"
                  min={0}
                  max={7}
                  aria-label="Days before"
                  value={days}
                  onChange={(e) => replace(i, joinAllDay(Math.max(0, Number(e.target.value) || 0), time))}
                />
                <span id={`${rowId}-at`}>days before at</span>
                <input
                  type="time"
                  aria-labelledby={`${rowId}-at`}
                  value={time}
                  onChange={(e) => replace(i, joinAllDay(days, e.target.value || '09:00'))}
                />
                <button
                  type="button"
                  className="link-btn"
                  aria-label="Remove reminder"
                  onClick={() => set(alarms.filter((_, j) => j !== i))}
                >
                  Remove
                </button>
              </li>
            );
          }
          const { n, unit } = splitTimed(m);
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: a row is a position in the list being edited
            <li key={i}>
              <input
                type="number"
                min={0}
                aria-label="Reminder amount"
                value={n}
                onChange={(e) => replace(i, Math.max(0, Number(e.target.value) || 0) * UNIT_MIN[unit])}
              />
              <select
                aria-label="Reminder unit"
                value={unit}
                onChange={(e) => replace(i, n * UNIT_MIN[e.target.value as Unit])}
              >
                <option value="minutes">minutes before</option>
                <option value="hours">hours before</option>
                <option value="days">days before</option>
              </select>
              <button
                type="button"
                className="link-btn"
                aria-label="Remove reminder"
                onClick={() => set(alarms.filter((_, j) => j !== i))}
              >
                Remove
              </button>
            </li>
          );
        })}
      </ul>
      <button
        type="button"
        className="link-btn"
        disabled={alarms.length >= 8}
        onClick={() => {
          askNotificationPermission();
          const fresh = props.allDay ? [900, 2340, 1440 * 2 - 540] : [10, 30, 60, 1440];
          set([...alarms, fresh.find((f) => !alarms.includes(f)) ?? (alarms.at(-1) ?? 0) + 5]);
        }}
      >
        Add reminder
      </button>
      {denied && alarms.length > 0 && (
        <p className="hint">
          Notifications are blocked for this site: allow them in the browser to be reminded.
        </p>
      )}
    </fieldset>
  );
}
