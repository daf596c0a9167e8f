// Reminder values as people enter them (REM-1): timed alarms as an amount of minutes, hours or
// days before; all-day alarms as days before at a time of day; what the Alarms register gets.

export type Unit = 'minutes' | 'hours' | 'days';
export const UNIT_MIN: Record<Unit, number> = { minutes: 1, hours: 60, days: 1440 };

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
