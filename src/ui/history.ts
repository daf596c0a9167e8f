// Compliance mode's field history for the open event dialog (docs/PROTOCOL.md CMP-3..7): offered
// only when the event's calendar is in compliance mode; Restore is a new write with an undo that
// writes back the value it replaced.
import { useEffect, useMemo, useState } from 'react';
import type {
  CalendarClient,
  CalendarInfo,
  EventFieldName,
  EventHistory,
  FieldHistoryView,
  HistoryWrite,
} from '../worker/api.ts';
import { HISTORY_LABEL, historyValue } from './components/FieldHistory.tsx';

const REREAD_MS = 500;

export interface HistoryDeps {
  client: CalendarClient;
  calendars: CalendarInfo[];
  /** The dialog's event: calendar and id (absent for a new event). */
  target: { calendarId: string; id?: string | undefined } | null;
  run: <T>(p: Promise<T>) => Promise<T | undefined>;
  record: (label: string, undo: () => Promise<void>) => unknown;
  /** Re-reads the event into the dialog after a restore. */
  refresh: () => Promise<void>;
  /** Bumped when the dialog is re-read, so its history is read again. */
  rev: number;
}

export function useEventHistory(d: HistoryDeps):
  | {
      load: () => Promise<EventHistory>;
      loadOlder: (entityId: string, field: string, beforeOpId: string) => Promise<FieldHistoryView>;
      onRestore: (entityId: string, field: string, w: HistoryWrite) => void;
    }
  | undefined {
  const { client, target, rev } = d;
  const calendarId = target?.calendarId;
  const id = target?.id;
  const on = d.calendars.find((c) => c.id === calendarId)?.compliance === true;
  // Edits arriving while the dialog is open (this or another device) re-read the history, at most
  // once per REREAD_MS: each read is a pass over the calendar's op log (CMP-6).
  const [tick, setTick] = useState(0);
  const watching = on && id !== undefined;
  useEffect(() => {
    if (!watching) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = client.onEventsChanged(() => {
      timer ??= setTimeout(() => {
        timer = undefined;
        setTick((t) => t + 1);
      }, REREAD_MS);
    });
    return () => {
      off();
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [client, watching]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: rev and tick re-read the history
  const load = useMemo(
    () =>
      calendarId !== undefined && id !== undefined ? () => client.eventHistory(calendarId, id) : undefined,
    [client, calendarId, id, rev, tick],
  );
  if (!on || load === undefined || calendarId === undefined) return undefined;
  const onRestore = async (entityId: string, field: string, w: HistoryWrite) => {
    const name = field as EventFieldName | 'deleted';
    const r = await d.run(client.restoreFromHistory(calendarId, entityId, name, w.opId));
    if (r === undefined) return;
    const label = `${HISTORY_LABEL[field] ?? field} restored to “${historyValue(w.value)}”`;
    const back = r.undoOpId;
    if (back !== null)
      d.record(label, async () => {
        await client.restoreFromHistory(calendarId, entityId, name, back);
      });
    await d.refresh();
  };
  return {
    load,
    loadOlder: (entityId, field, before) =>
      client.olderHistory(calendarId, entityId, field as EventFieldName | 'deleted', before),
    onRestore: (e, f, w) => void onRestore(e, f, w),
  };
}
