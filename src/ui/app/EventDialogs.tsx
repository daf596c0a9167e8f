// The dialogs of one event: read-only for a calendar this device may only view (ROLE-4), the event
// dialog otherwise, and the "Edit/Delete recurring event" question an edit may ask.
import type { CalendarInfo, EventFields, OccurrenceInfo } from '../../worker/api.ts';
import { EventDialog } from '../components/EventDialog.tsx';
import { EventReadOnly } from '../components/EventReadOnly.tsx';
import { SeriesScopeDialog } from '../components/SeriesScopeDialog.tsx';
import { titleOf } from '../model.ts';
import type { ScopeAsk, useEventDialog } from './event-dialog.ts';

export function EventDialogs(p: {
  d: ReturnType<typeof useEventDialog>;
  calendars: CalendarInfo[];
  /** The calendars a new event may go to. */
  writable: CalendarInfo[];
  zone: string;
  shared: ReadonlySet<string>;
  canWrite: (calendarId: string) => boolean;
  onSave: (calendarId: string, fields: EventFields) => void;
  onRemove: (calendarId: string, id: string, title: string, occ?: OccurrenceInfo) => void;
  scopeAsk: ScopeAsk | null;
}) {
  const { d, calendars, zone } = p;
  const { dialog } = d;
  const close = () => d.setDialog(null);
  return (
    <>
      {dialog?.id !== undefined && !p.canWrite(dialog.calendarId) ? (
        <EventReadOnly
          fields={dialog.fields}
          calendar={calendars.find((c) => c.id === dialog.calendarId)}
          displayZone={zone}
          onClose={close}
        />
      ) : (
        dialog && (
          <EventDialog
            key={`${dialog.id ?? 'new'}:${d.rev}`}
            target={dialog}
            calendars={dialog.id === undefined ? p.writable : calendars}
            displayZone={zone}
            members={d.members}
            shared={p.shared}
            onClose={close}
            onSave={p.onSave}
            onDelete={() =>
              dialog.id && p.onRemove(dialog.calendarId, dialog.id, titleOf(dialog.fields), dialog.occurrence)
            }
            onRestore={(c, l) => void d.restoreConflict(c, l)}
            exceptions={d.exceptions}
            onRestoreSkipped={(r) => void d.restoreSkipped(r)}
            history={d.history}
          />
        )
      )}
      {p.scopeAsk && (
        <SeriesScopeDialog
          kind={p.scopeAsk.kind}
          allowThis={p.scopeAsk.allowThis}
          onDone={p.scopeAsk.resolve}
        />
      )}
    </>
  );
}
