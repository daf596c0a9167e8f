// What the app listens to beyond its views, started once: the reminder loop and files dropped
// anywhere on the page.
import { useEffect, useRef } from 'react';
import type { CalendarClient, HostError } from '../../worker/api.ts';
import { startReminders } from '../reminders/service.ts';
import { deviceZone } from '../time/zoned.ts';

/** Notifications for the reminders of events (reminders/service.ts), in the device's zone. */
export function useReminders(client: CalendarClient, pushError: (e: HostError) => void): void {
  useEffect(
    () =>
      startReminders({
        sources: (fromMs, toMs) => client.reminderOccurrences(fromMs, toMs),
        onChange: (cb) => {
          const a = client.onEventsChanged(cb);
          const b = client.onCalendarsChanged(cb);
          return () => {
            a();
            b();
          };
        },
        dismiss: (calendarId, eventId, untilMs) => client.dismissReminder(calendarId, eventId, untilMs),
        zone: deviceZone,
        onError: (message) => pushError({ code: 'reminders', message }),
      }),
    [client, pushError],
  );
}

/** A file dropped anywhere on the app goes to `onFile` (the Import dialog opens with it). */
export function useFileDrop(onFile: (file: File) => void): void {
  const latest = useRef(onFile);
  latest.current = onFile;
  useEffect(() => {
    const over = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      const file = e.dataTransfer?.files[0];
      if (file === undefined) return;
      e.preventDefault();
      latest.current(file);
    };
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, []);
}
