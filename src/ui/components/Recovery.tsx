// Where recovery is offered (docs/PROTOCOL.md REC-4): a quiet card at the bottom left once a calendar
// of this device has its first event (never a wall at first start), again when a calendar is not
// covered by the last file or the file nears its expiry; and a "Recovery" card on the Devices page
// with the status and both actions (save a file, restore from one).
import { useCallback, useEffect, useId, useState } from 'react';
import type { CalendarClient, CalendarInfo, RecoveryResult, RecoveryStatus } from '../../worker/api.ts';
import { formatDateTime } from '../devices.ts';
import { RestoreRecoveryDialog, SaveRecoveryDialog } from './RecoveryDialogs.tsx';

const DISMISS_KEY = 'ledgerday.recoveryOfferDismissed';
const EXPIRY_WARNING_MS = 30 * 24 * 3600_000;

export function useRecoveryStatus(client: CalendarClient, calendars: CalendarInfo[]) {
  const [status, setStatus] = useState<RecoveryStatus | null>(null);
  const ids = calendars.map((c) => c.id).join(',');
  const reload = useCallback(() => {
    // A status that cannot be read offers nothing (never an error in the page).
    Promise.resolve()
      .then(() => client.recoveryStatus())
      .then(setStatus, () => setStatus(null));
  }, [client]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-read when the calendar list changes
  useEffect(reload, [reload, ids]);
  // Until some calendar has an event, every event change may be the first one.
  const waiting = status !== null && !status.hasEvents;
  useEffect(() => (waiting ? client.onEventsChanged(reload) : undefined), [client, reload, waiting]);
  return [status, reload] as const;
}

/** What the note says, or null when there is nothing to offer. */
export function offerText(status: RecoveryStatus, calendars: CalendarInfo[], now: number): string | null {
  if (!status.hasEvents) return null;
  if (status.lastFile === null) {
    if (status.uncoveredIds.length === 0) return null;
    return 'If you lose this device, a recovery file brings your calendars back on a new one.';
  }
  const names = calendars.filter((c) => status.uncoveredIds.includes(c.id)).map((c) => `“${c.name}”`);
  if (names.length > 0) return `Your recovery file does not cover ${names.join(', ')}.`;
  if (status.lastFile.expiresAt - now < EXPIRY_WARNING_MS) {
    return `Your recovery file expires on ${formatDateTime(status.lastFile.expiresAt)}.`;
  }
  return null;
}

export function RecoveryOffer(props: { client: CalendarClient; calendars: CalendarInfo[]; now: number }) {
  const [status, reload] = useRecoveryStatus(props.client, props.calendars);
  const [saving, setSaving] = useState(false);
  const [dismissed, setDismissed] = useState(() => localStorage.getItem(DISMISS_KEY));
  const text = status === null ? null : offerText(status, props.calendars, props.now);
  // "Not now" holds until the situation changes (another calendar uncovered, a new file made).
  const situation = text ?? '';
  if (text === null || (dismissed === situation && !saving)) return null;
  return (
    <section className="recovery-note" aria-label="Recovery file offer">
      <p>{text}</p>
      <div className="row">
        <button type="button" className="link-btn" onClick={() => setSaving(true)}>
          Save recovery file
        </button>
        <button
          type="button"
          className="link-btn"
          onClick={() => {
            localStorage.setItem(DISMISS_KEY, situation);
            setDismissed(situation);
          }}
        >
          Not now
        </button>
      </div>
      {saving && (
        <SaveRecoveryDialog
          client={props.client}
          calendarNames={props.calendars.map((c) => c.name)}
          onClose={() => {
            setSaving(false);
            reload();
          }}
        />
      )}
    </section>
  );
}

export function RecoveryCard(props: {
  client: CalendarClient;
  calendars: CalendarInfo[];
  onRestored: (result: RecoveryResult) => void;
}) {
  const id = useId();
  const [status, reload] = useRecoveryStatus(props.client, props.calendars);
  const [dialog, setDialog] = useState<'save' | 'restore' | null>(null);
  const last = status?.lastFile ?? null;
  const uncovered = props.calendars.filter((c) => status?.uncoveredIds.includes(c.id));
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Recovery</h3>
      <p className="muted small" role="status">
        {last === null
          ? 'This device has not saved a recovery file.'
          : `Recovery file saved ${formatDateTime(last.madeAt)}, usable once until ${formatDateTime(last.expiresAt)}.`}
        {last !== null &&
          uncovered.length > 0 &&
          ` It does not cover ${uncovered.map((c) => `“${c.name}”`).join(', ')}.`}
      </p>
      <div className="row">
        <button type="button" disabled={props.calendars.length === 0} onClick={() => setDialog('save')}>
          Save recovery file
        </button>
        <button type="button" onClick={() => setDialog('restore')}>
          Restore from recovery file
        </button>
      </div>
      {dialog === 'save' && (
        <SaveRecoveryDialog
          client={props.client}
          calendarNames={props.calendars.map((c) => c.name)}
          onClose={() => {
            setDialog(null);
            reload();
          }}
        />
      )}
      {dialog === 'restore' && (
        <RestoreRecoveryDialog
          client={props.client}
          onClose={(result) => {
            setDialog(null);
            reload();
            if (result !== null) props.onRestored(result);
          }}
        />
      )}
    </section>
  );
}
