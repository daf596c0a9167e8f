// The event dialog's "History" (compliance mode, docs/PROTOCOL.md CMP-3..7): per field, every
// write with who (device name and fingerprint), when (in the display zone), old → new value and
// its status; a past value can be restored (a new write, undoable).
import { useEffect, useId, useState } from 'react';
import type { EntityHistoryView, EventHistory, FieldHistoryView, HistoryWrite } from '../../worker/api.ts';
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
  loadOlder: (entityId: string, field: string, beforeOpId: string) => Promise<FieldHistoryView>;
  /** Absent when this device may not write here (a viewer, ROLE-4): no Restore buttons. */
  onRestore?: ((entityId: string, field: string, w: HistoryWrite) => void) | undefined;
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
          {part.fields.map((f) => (
            <FieldRows
              key={f.field}
              field={f}
              part={part}
              displayZone={props.displayZone}
              loadOlder={props.loadOlder}
              onRestore={props.onRestore}
            />
          ))}
        </div>
      ))}
    </section>
  );
}

/** One field's writes, newest first, with "Show older changes" while older ones remain (CMP-6). */
function FieldRows(props: {
  field: FieldHistoryView;
  part: EntityHistoryView;
  displayZone: string;
  loadOlder: (entityId: string, field: string, beforeOpId: string) => Promise<FieldHistoryView>;
  /** Absent when this device may not write here (a viewer, ROLE-4): no Restore buttons. */
  onRestore?: ((entityId: string, field: string, w: HistoryWrite) => void) | undefined;
}) {
  const { field: f, part } = props;
  // Older pages belong to the newest page they continue (`base`): a re-read (an edit arrived)
  // brings a new page and starts again from it.
  const [loaded, setOlder] = useState<{
    base: FieldHistoryView;
    writes: HistoryWrite[];
    more: number;
  } | null>(null);
  const older = loaded?.base === f ? loaded : null;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const writes = older === null ? f.writes : [...f.writes, ...older.writes];
  const more = older === null ? f.more : older.more;
  const label = HISTORY_LABEL[f.field] ?? f.field;
  const partLabel = PART_LABEL[part.role];
  const current = f.writes.find((w) => w.status === 'winner');
  const showOlder = async () => {
    const last = writes[writes.length - 1];
    if (last === undefined || busy) return;
    setBusy(true);
    setError(null);
    try {
      const page = await props.loadOlder(part.entityId, f.field, last.opId);
      setOlder((o) => ({
        base: f,
        writes: [...(o?.base === f ? o.writes : []), ...page.writes],
        more: page.more,
      }));
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-label={partLabel ? `${label} history (${partLabel})` : `${label} history`}>
      {partLabel ? <h5>{label}</h5> : <h4>{label}</h4>}
      <ol>
        {writes.map((w) => {
          const counted = w.status !== 'revoked' && w.status !== 'inert';
          const canRestore =
            counted && w.status !== 'winner' && historyValue(w.value) !== historyValue(current?.value);
          return (
            <li key={w.opId} className={`history-${w.status}`}>
              <span>
                {who(w)} · {formatDateTime(w.wallTime / 1000, props.displayZone)}:{' '}
                {w.first ? '(not set)' : historyValue(w.old)} → <strong>{historyValue(w.value)}</strong>
                {STATUS[w.status] && <em> ({STATUS[w.status]})</em>}
              </span>
              {canRestore && props.onRestore && (
                <button
                  type="button"
                  aria-label={`Restore ${label} to “${historyValue(w.value)}”`}
                  onClick={() => props.onRestore?.(part.entityId, f.field, w)}
                >
                  Restore
                </button>
              )}
            </li>
          );
        })}
      </ol>
      {error && <p role="alert">Older changes could not be read: {error}</p>}
      {more > 0 && (
        <button type="button" className="link-btn" disabled={busy} onClick={() => void showOlder()}>
          Show {more} older change(s)
        </button>
      )}
    </section>
  );
}
