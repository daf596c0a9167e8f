// "Reminder" in the event dialog: the event's alarms as "N minutes/hours/days before" (timed) or
// "N days before at HH:MM" (all-day), "Add reminder", "Remove". Alarms are minutes before the
// start (all-day: before 00:00 of the first day), as the Alarms register stores them (REM-1).
// null means the calendar's default reminders. The notification permission is asked when the
// first reminder is added (REM-4), never before.
import { useId } from 'react';

type Unit = 'minutes' | 'hours' | 'days';
const UNIT_MIN: Record<Unit, number> = { minutes: 1, hours: 60, days: 1440 };

/** A timed alarm as an amount and the largest unit that divides it. */
export function splitTimed(minutes: number): { n: number; unit: Unit } {
  if (minutes > 0 && minutes % 1440 === 0) return { n: minutes / 1440, unit: 'days' };
  if (minutes > 0 && minutes % 60 === 0) return { n: minutes / 60, unit: 'hours' };
  return { n: minutes, unit: 'minutes' };
}

/** An all-day alarm as days before and a time of day: 900 = 1 day before at 09:00. */
export function splitAllDay(minutes: number): { days: number; time: string } {
  const days = Math.max(0, Math.ceil(minutes / 1440));
  const ofDay = days * 1440 - minutes;
  const hh = String(Math.floor(ofDay / 60)).padStart(2, '0');
  const mm = String(ofDay % 60).padStart(2, '0');
  return { days, time: `${hh}:${mm}` };
}

export function joinAllDay(days: number, time: string): number {
  const [h, m] = time.split(':').map(Number);
  return days * 1440 - ((h ?? 9) * 60 + (m ?? 0));
}

/** Asks for the notification permission if it was never asked (REM-4). */
/** What the Alarms register gets: ascending, each once, within the register's bounds. */
export function alarmsToSave(alarms: readonly number[]): number[] {
  const ok = alarms.filter((m) => Number.isInteger(m) && m >= -7 * 1440 && m <= 366 * 1440);
  return [...new Set(ok)].sort((a, b) => a - b);
}

export function askNotificationPermission(): void {
  if (typeof Notification !== 'undefined' && Notification.permission === 'default')
    void Notification.requestPermission().catch(() => {});
}

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
