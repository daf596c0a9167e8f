// The event dialog (named "Event") for a calendar this device can only view (docs/PROTOCOL.md
// ROLE-4): what the event says, and why nothing can be changed here. The engine refuses a viewer's
// writes anyway; this only does not offer them.
import { useId } from 'react';
import type { CalendarInfo, EventFields } from '../../worker/api.ts';
import { eventTimes, timeLabel } from '../time/zoned.ts';
import { Modal } from './Modal.tsx';

export const VIEW_ONLY = 'You can view this calendar';

export function EventReadOnly(props: {
  fields: EventFields;
  calendar: CalendarInfo | undefined;
  displayZone: string;
  onClose: () => void;
}) {
  const { fields: f } = props;
  const id = useId();
  let when = f.start.slice(0, 10);
  try {
    const t = eventTimes(f, props.displayZone);
    const day = new Intl.DateTimeFormat(undefined, {
      weekday: 'long',
      month: 'long',
      day: 'numeric',
      year: 'numeric',
      timeZone: props.displayZone,
    }).format(t.startMs);
    const l = timeLabel(f, t, props.displayZone);
    when = `${day}, ${l.display}${l.original ? ` (${l.original})` : ''}`;
  } catch {
    // A value the views cannot place: show the stored start as it is.
  }
  return (
    <Modal label="Event" describedBy={`${id}-note`} onClose={props.onClose} className="event-dialog">
      <div className="dialog-body">
        <header className="dialog-head">
          <h2>{f.title === '' ? '(No title)' : f.title}</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={props.onClose}>
            ✕
          </button>
        </header>
        <p id={`${id}-note`} className="hint view-only" role="note">
          {VIEW_ONLY}
        </p>
        <dl className="device-facts">
          <dt>When</dt>
          <dd>{when}</dd>
          {f.location !== '' && (
            <>
              <dt>Location</dt>
              <dd>{f.location}</dd>
            </>
          )}
          {f.notes !== '' && (
            <>
              <dt>Notes</dt>
              <dd className="notes">{f.notes}</dd>
            </>
          )}
          <dt>Calendar</dt>
          <dd>{props.calendar?.name ?? ''}</dd>
        </dl>
        <footer className="dialog-foot">
          <span className="spacer" />
          <button type="button" className="primary" data-autofocus onClick={props.onClose}>
            Close
          </button>
        </footer>
      </div>
    </Modal>
  );
}
