// The event dialog's "History" (compliance mode, docs/PROTOCOL.md CMP-3..7): per field, every
// write with who (device name and fingerprint), when (in the display zone), old → new value and
// its status; a past value can be restored (a new write, undoable).
import { useEffect, useId, useState } from 'react';
import type { EntityHistoryView, EventHistory, HistoryWrite } from '../../worker/api.ts';
import { formatDateTime } from '../time/zoned.ts';

export const HISTORY_LABEL: Record<string, string> = {
  title: 'Title',
  start: 'Start',
  end: 'End',
  allDay: 'All day',
  timeZone: 'Time zone',
  location: 'Location',
  notes: 'Notes',
  rrule: 'Repeat',
  rdates: 'Extra dates',
  exdates: 'Skipped dates',
  alarms: 'Reminders',
  deleted: 'Deleted',
};

const PART_LABEL: Record<EntityHistoryView['role'], string> = {
  event: '',
  occurrence: 'This occurrence',
  series: 'All events of the series',
};

const STATUS: Record<HistoryWrite['status'], string> = {
  winner: 'current',
  conflict: 'conflict: lost to a simultaneous edit',
  superseded: '',
  revoked: 'did not count: the device was removed meanwhile',
  inert: 'did not count: invalid edit',
};

export function historyValue(v: HistoryWrite['value'] | undefined): string {
  if (v === undefined) return '(unknown)';
  if (v === null) return '(cleared)';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.join(', ');
  return v === '' ? '(empty)' : v;
}

const who = (w: HistoryWrite) => `${w.deviceName || 'Unnamed device'} (${w.fingerprint})`;

export function FieldHistoryPanel(props: {
  load: () => Promise<EventHistory>;
  displayZone: string;
  onRestore: (entityId: string, field: string, w: HistoryWrite) => void;
}) {
  const [hist, setHist] = useState<EventHistory | null>(null);
  const [error, setError] = useState<string | null>(null);
  const headId = useId();
  const { load } = props;
  useEffect(() => {
    let live = true;
    load().then(
      (h) => live && setHist(h),
      (e: unknown) => live && setError(e instanceof Error ? e.message : String(e)),
    );
    return () => {
      live = false;
    };
  }, [load]);
  return (
    <section className="history" aria-labelledby={headId} aria-busy={hist === null && error === null}>
      <h3 id={headId}>History</h3>
      {error && <p role="alert">History could not be read: {error}</p>}
      {hist === null && error === null && <p>Reading the history…</p>}
      {hist?.unreadable ? (
        <p className="hint">
          {hist.unreadable} edit(s) in this calendar cannot be read on this device yet (its key has not
          arrived); they may belong to this event.
        </p>
      ) : null}
      {hist?.parts.map((part) => (
        <div key={part.entityId}>
          {PART_LABEL[part.role] && <h4>{PART_LABEL[part.role]}</h4>}
          {part.fields.map((f) => {
            const label = HISTORY_LABEL[f.field] ?? f.field;
            const current = f.writes.find((w) => w.status === 'winner');
            return (
              <section key={f.field} aria-label={`${label} history`}>
                {PART_LABEL[part.role] ? <h5>{label}</h5> : <h4>{label}</h4>}
                <ol>
                  {f.writes.map((w) => {
                    const counted = w.status !== 'revoked' && w.status !== 'inert';
                    const canRestore =
                      counted &&
                      w.status !== 'winner' &&
                      historyValue(w.value) !== historyValue(current?.value);
                    return (
                      <li key={w.opId} className={`history-${w.status}`}>
                        <span>
                          {who(w)} · {formatDateTime(w.wallTime / 1000, props.displayZone)}:{' '}
                          {w.first ? '(not set)' : historyValue(w.old)} →{' '}
                          <strong>{historyValue(w.value)}</strong>
                          {STATUS[w.status] && <em> ({STATUS[w.status]})</em>}
                        </span>
                        {canRestore && (
                          <button
                            type="button"
                            aria-label={`Restore ${label} to “${historyValue(w.value)}”`}
                            onClick={() => props.onRestore(part.entityId, f.field, w)}
                          >
                            Restore
                          </button>
                        )}
                      </li>
                    );
                  })}
                </ol>
                {f.more > 0 && <p className="hint">{f.more} older change(s) not shown.</p>}
              </section>
            );
          })}
        </div>
      ))}
    </section>
  );
}
