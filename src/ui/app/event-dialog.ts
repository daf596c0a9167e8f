// The event dialog's state: which event it shows (re-read and remounted after a restore), the
// repeating event's extra and skipped dates, the names of the devices behind a conflict, compliance
// mode's history; and the "Edit/Delete recurring event" question an edit may ask first.
import { useEffect, useState } from 'react';
import type {
  CalendarClient,
  CalendarInfo,
  DeviceInfo,
  FieldConflict,
  RegisterWrite,
  SeriesExceptions,
  SeriesScope,
} from '../../worker/api.ts';
import type { DialogTarget } from '../components/EventDialog.tsx';
import { useEventHistory } from '../history.ts';
import type { UiEvent } from '../model.ts';
import type { ToastState } from './feedback.ts';

export interface DialogDeps {
  client: CalendarClient;
  calendars: CalendarInfo[];
  run: <T>(p: Promise<T>) => Promise<T | undefined>;
  record: (label: string, undo: () => Promise<void>) => () => void;
  setToast: (t: ToastState) => void;
}

export function useEventDialog({ client, calendars, run, record, setToast }: DialogDeps) {
  const [dialog, setDialog] = useState<DialogTarget | null>(null);
  const [rev, setRev] = useState(0);
  const exceptions = useSeriesExceptions(client, dialog);
  const members = useConflictMembers(client, dialog);

  const restoreSkipped = async (recurrenceId: string) => {
    if (dialog?.occurrence === undefined) return;
    const { calendarId } = dialog;
    const { seriesId } = dialog.occurrence;
    const undo = await run(client.restoreOccurrence(calendarId, seriesId, recurrenceId));
    if (undo === undefined) return;
    record('Occurrence restored', () => client.restoreSeries(calendarId, undo));
    exceptions.set(await run(client.seriesExceptions(calendarId, seriesId)));
  };

  // Compliance mode: the dialog's "History" and its Restore (src/ui/history.ts, CMP-3..7).
  const refresh = async () => {
    const target = dialog;
    if (!target?.id) return;
    const fresh = await run(client.getEvent(target.calendarId, target.id));
    // A new key remounts the dialog, so its form shows the restored value.
    setRev((r) => r + 1);
    setDialog(
      fresh
        ? {
            id: fresh.id,
            calendarId: fresh.calendarId,
            fields: fresh,
            conflicts: fresh.conflicts,
            occurrence: fresh.occurrence,
          }
        : null,
    );
  };
  const history = useEventHistory({ client, calendars, target: dialog, run, record, refresh, rev });

  const restoreConflict = async (c: FieldConflict, loser: RegisterWrite) => {
    const target = dialog;
    if (!target?.id) return;
    await run(client.restoreConflict(target.calendarId, target.id, c.field, loser.opId));
    const fresh = await run(client.getEvent(target.calendarId, target.id));
    // A new key remounts the dialog, so its form shows the restored value (the form keeps its own state).
    setRev((r) => r + 1);
    setDialog(
      fresh
        ? { id: fresh.id, calendarId: fresh.calendarId, fields: fresh, conflicts: fresh.conflicts }
        : null,
    );
    setToast({ text: `Restored the other ${c.field === 'allDay' ? 'all-day setting' : c.field}` });
  };

  const openEvent = (ui: UiEvent) => {
    setDialog({
      id: ui.ev.id,
      calendarId: ui.ev.calendarId,
      fields: ui.ev,
      conflicts: ui.ev.conflicts,
      occurrence: ui.ev.occurrence,
    });
  };

  return {
    dialog,
    setDialog,
    rev,
    exceptions: exceptions.value,
    members,
    history,
    restoreSkipped,
    restoreConflict,
    openEvent,
  };
}

/** A repeating event's extra and skipped dates, for the repeat editor (restore a skipped one). */
function useSeriesExceptions(client: CalendarClient, dialog: DialogTarget | null) {
  const [value, set] = useState<SeriesExceptions | undefined>();
  const dialogSeries = dialog?.occurrence ? `${dialog.calendarId}/${dialog.occurrence.seriesId}` : null;
  useEffect(() => {
    set(undefined);
    if (dialogSeries === null) return;
    const [cal, series] = dialogSeries.split('/') as [string, string];
    let live = true;
    client.seriesExceptions(cal, series).then(
      (x) => live && set(x),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [client, dialogSeries]);
  return { value, set };
}

/** Names of the devices behind a conflict's values, from the event's calendar members. */
function useConflictMembers(client: CalendarClient, dialog: DialogTarget | null) {
  const [members, setMembers] = useState<ReadonlyMap<string, DeviceInfo> | undefined>();
  const conflictCalendar = dialog && dialog.conflicts.length > 0 ? dialog.calendarId : null;
  useEffect(() => {
    setMembers(undefined);
    if (conflictCalendar === null) return;
    let live = true;
    client.listMembers(conflictCalendar).then(
      (list) => live && setMembers(new Map(list.map((d) => [d.id, d]))),
      () => {}, // without names the dialog still shows device ids
    );
    return () => {
      live = false;
    };
  }, [client, conflictCalendar]);
  return members;
}

export interface ScopeAsk {
  kind: 'edit' | 'delete';
  allowThis: boolean;
  resolve: (s: SeriesScope | undefined) => void;
}

/** "Edit/Delete recurring event": the question open, and `ask`, which opens it and awaits the answer. */
export function useScopeAsk() {
  const [scopeAsk, setScopeAsk] = useState<ScopeAsk | null>(null);
  const ask = (kind: 'edit' | 'delete', allowThis: boolean) =>
    new Promise<SeriesScope | undefined>((resolve) =>
      setScopeAsk({
        kind,
        allowThis,
        resolve: (s) => {
          setScopeAsk(null);
          resolve(s);
        },
      }),
    );
  return [scopeAsk, ask] as const;
}
