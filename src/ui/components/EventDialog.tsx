// The event dialog (named "Event"): edit every field, see conflicts that LWW resolved and restore a loser.
import { useId, useMemo, useState } from 'react';
import type {
  CalendarInfo,
  DeviceInfo,
  EventFields,
  EventHistory,
  FieldConflict,
  FieldHistoryView,
  HistoryWrite,
  OccurrenceInfo,
  RegisterWrite,
  SeriesExceptions,
} from '../../worker/api.ts';
import { deviceLabel } from '../devices.ts';
import { type FormState, fieldsFromForm, formFromFields, toggleAllDay } from '../draft.ts';
import {
  eventTimes,
  formatDateTime,
  formatWall,
  parseDate,
  parseWall,
  timeLabel,
  zoneList,
} from '../time/zoned.ts';
import { FieldHistoryPanel, HISTORY_LABEL } from './FieldHistory.tsx';
import { Modal } from './Modal.tsx';
import { ReminderField } from './ReminderField.tsx';
import { RepeatField } from './RepeatField.tsx';

export interface DialogTarget {
  /** Absent for a new event. */
  id?: string;
  calendarId: string;
  fields: EventFields;
  conflicts: FieldConflict[];
  /** Set when the dialog edits an occurrence of a repeating event. */
  occurrence?: OccurrenceInfo | undefined;
}

function showValue(v: RegisterWrite['value']): string {
  if (v === null) return '(cleared)';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (Array.isArray(v)) return v.length === 0 ? '(none)' : v.join(', ');
  return v === '' ? '(empty)' : v;
}

/** Who wrote a value: the name the write carries, else the calendar's member list (name and fingerprint). */
function who(w: RegisterWrite, members: ReadonlyMap<string, DeviceInfo> | undefined): string {
  const m = members?.get(w.device);
  if (w.deviceName) return `${w.deviceName} (${m?.fingerprint ?? `${w.device.slice(0, 8)}…`})`;
  if (m) return `${deviceLabel(m)} (${m.fingerprint})`;
  return `device ${w.device.slice(0, 8)}…`;
}

function when(w: RegisterWrite): string {
  return formatDateTime(w.wallTime / 1000);
}

export function EventDialog(props: {
  target: DialogTarget;
  calendars: CalendarInfo[];
  displayZone: string;
  /** Members of the event's calendar by device id, to name who wrote each value of a conflict. */
  members?: ReadonlyMap<string, DeviceInfo> | undefined;
  /** Calendars with other member devices: saving there is said out loud ([UI-16]). */
  shared?: ReadonlySet<string>;
  /** A calendar other than the target's means a move (src/ui/commands.ts, RT-13). */
  onSave: (calendarId: string, fields: EventFields) => void;
  onDelete: () => void;
  onRestore: (c: FieldConflict, loser: RegisterWrite) => void;
  onClose: () => void;
  /** A repeating event's extra and skipped dates; restoring one acts at once (with undo). */
  exceptions?: SeriesExceptions | undefined;
  onRestoreSkipped?: (recurrenceId: string) => void;
  /** Set when the event's calendar is in compliance mode (CMP-*): each field's full history. */
  history?:
    | {
        load: () => Promise<EventHistory>;
        loadOlder: (entityId: string, field: string, beforeOpId: string) => Promise<FieldHistoryView>;
        onRestore: (entityId: string, field: string, w: HistoryWrite) => void;
      }
    | undefined;
}) {
  const { target } = props;
  const [showHistory, setShowHistory] = useState(false);
  const [initial] = useState<FormState>(() => formFromFields(target.fields, target.calendarId));
  const [form, setForm] = useState<FormState>(initial);
  // Escape or ✕ with unsaved edits asks first ([UI-10]); "Cancel" is an explicit discard.
  const [asking, setAsking] = useState(false);
  const dirty = JSON.stringify(form) !== JSON.stringify(initial);
  const requestClose = () => {
    if (asking) setAsking(false);
    else if (dirty) setAsking(true);
    else props.onClose();
  };
  const [error, setError] = useState<{ field: string; message: string } | null>(null);
  const zones = useMemo(
    () => zoneList(target.fields.timeZone, props.displayZone),
    [target.fields.timeZone, props.displayZone],
  );
  const uid = useId();
  const id = (n: string) => `${uid}-${n}`;
  const set = (patch: Partial<FormState>) => setForm((f) => ({ ...f, ...patch }));

  const parsed = fieldsFromForm(form);
  let hint: string | null = null;
  if (parsed.ok && !parsed.fields.allDay) {
    const t = eventTimes(parsed.fields, props.displayZone);
    const l = timeLabel(parsed.fields, t, props.displayZone);
    // Show the display-zone time when the event lives in another zone.
    if (l.original) hint = `In your display zone (${props.displayZone}): ${l.display}`;
  }

  const save = (e: React.FormEvent) => {
    e.preventDefault();
    const r = fieldsFromForm(form);
    if (!r.ok) {
      setError({ field: r.field, message: r.message });
      return;
    }
    props.onSave(form.calendarId, r.fields);
  };

  const inputType = form.allDay ? 'date' : 'datetime-local';
  const errFor = (f: string) => (error?.field === f ? id('err') : undefined);

  return (
    <Modal label="Event" onClose={requestClose} className="event-dialog">
      <form onSubmit={save} noValidate>
        <header className="dialog-head">
          <h2>{target.id ? 'Edit event' : 'New event'}</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={requestClose}>
            ✕
          </button>
        </header>
        {target.conflicts.length > 0 && (
          <section className="conflicts" aria-labelledby={id('conf')}>
            <h3 id={id('conf')}>
              <span aria-hidden="true">⚠ </span>Conflict
            </h3>
            <p>
              Edits made at the same time on different devices changed the same field. The newest write was
              kept; the other values are below and one click brings a value back on every device.
            </p>
            <ul>
              {target.conflicts.flatMap((c) =>
                c.losers.map((l) => (
                  <li key={`${c.field}-${l.opId}`}>
                    <div id={id(`l-${l.opId}`)}>
                      <strong>{HISTORY_LABEL[c.field] ?? c.field}</strong>: kept “{showValue(c.winner.value)}”
                      from {who(c.winner, props.members)} at {when(c.winner)}; replaced “{showValue(l.value)}”
                      from {who(l, props.members)} at {when(l)}.
                    </div>
                    <button
                      type="button"
                      aria-describedby={id(`l-${l.opId}`)}
                      onClick={() => props.onRestore(c, l)}
                    >
                      Restore
                    </button>
                  </li>
                )),
              )}
            </ul>
          </section>
        )}
        <div className="field">
          <label htmlFor={id('title')}>Title</label>
          <input
            id={id('title')}
            value={form.title}
            onChange={(e) => set({ title: e.target.value })}
            data-autofocus
            placeholder="Add title"
          />
        </div>
        <div className="field-row">
          <div className="field">
            <label htmlFor={id('start')}>Start</label>
            <input
              id={id('start')}
              type={inputType}
              value={form.start}
              aria-invalid={error?.field === 'Start' || undefined}
              aria-describedby={errFor('Start')}
              onChange={(e) => {
                const start = e.target.value;
                // Keep the duration when the start moves, as every calendar does.
                set({ start, end: keepDuration(form, start) });
              }}
            />
          </div>
          <div className="field">
            <label htmlFor={id('end')}>End</label>
            <input
              id={id('end')}
              type={inputType}
              value={form.end}
              aria-invalid={error?.field === 'End' || undefined}
              aria-describedby={errFor('End')}
              onChange={(e) => set({ end: e.target.value })}
            />
          </div>
        </div>
        <div className="field check">
          <input
            id={id('allday')}
            type="checkbox"
            checked={form.allDay}
            onChange={(e) => setForm((f) => toggleAllDay(f, e.target.checked))}
          />
          <label htmlFor={id('allday')}>All day</label>
        </div>
        <RepeatField
          rule={form.rrule ?? ''}
          start={form.start}
          onChange={(rrule) => set({ rrule })}
          {...(props.exceptions === undefined ? {} : { exceptions: props.exceptions })}
          {...(props.onRestoreSkipped === undefined ? {} : { onRestoreSkipped: props.onRestoreSkipped })}
        />
        <div className="field">
          <label htmlFor={id('tz')}>Time zone</label>
          <select
            id={id('tz')}
            value={form.timeZone}
            aria-invalid={error?.field === 'Time zone' || undefined}
            aria-describedby={errFor('Time zone')}
            onChange={(e) => set({ timeZone: e.target.value })}
          >
            {zones.map((z) => (
              <option key={z} value={z}>
                {z.replaceAll('_', ' ')}
              </option>
            ))}
          </select>
          {hint && <p className="hint">{hint}</p>}
        </div>
        <div className="field">
          <label htmlFor={id('loc')}>Location</label>
          <input id={id('loc')} value={form.location} onChange={(e) => set({ location: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor={id('notes')}>Notes</label>
          <textarea
            id={id('notes')}
            rows={3}
            value={form.notes}
            onChange={(e) => set({ notes: e.target.value })}
          />
        </div>
        <ReminderField
          value={form.alarms}
          calendarDefault={props.calendars.find((c) => c.id === form.calendarId)?.defaultAlarms ?? []}
          allDay={form.allDay}
          onChange={(alarms) => set({ alarms })}
        />
        <div className="field">
          <label htmlFor={id('cal')}>Calendar</label>
          <select
            id={id('cal')}
            value={form.calendarId}
            onChange={(e) => set({ calendarId: e.target.value })}
          >
            {props.calendars.length === 0 && <option value="">Personal (new)</option>}
            {props.calendars.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name}
              </option>
            ))}
          </select>
          {props.shared?.has(form.calendarId) && (
            <p className="hint">Shared: the other devices in this calendar will see this event.</p>
          )}
        </div>
        {props.history && target.id && (
          <div className="history-toggle">
            <button type="button" aria-expanded={showHistory} onClick={() => setShowHistory((v) => !v)}>
              History
            </button>
            {showHistory && (
              <FieldHistoryPanel
                load={props.history.load}
                loadOlder={props.history.loadOlder}
                displayZone={props.displayZone}
                onRestore={props.history.onRestore}
              />
            )}
          </div>
        )}
        {asking && <DiscardPrompt onDiscard={props.onClose} onKeep={() => setAsking(false)} />}
        {error && (
          <p id={id('err')} className="form-error" role="alert">
            {error.message}
          </p>
        )}
        <footer className="dialog-foot">
          {target.id && (
            <button type="button" className="danger" onClick={props.onDelete}>
              Delete
            </button>
          )}
          <span className="spacer" />
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary">
            Save
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/** "Discard changes?": keeps focus on "Keep editing" so a second Escape or Enter keeps the edits. */
function DiscardPrompt(props: { onDiscard: () => void; onKeep: () => void }) {
  const uid = useId();
  return (
    <div className="discard" role="alertdialog" aria-modal="false" aria-labelledby={`${uid}-h`}>
      <p id={`${uid}-h`}>
        <strong>Discard changes?</strong>
      </p>
      <button type="button" className="danger" onClick={props.onDiscard}>
        Discard
      </button>
      <button
        type="button"
        className="primary"
        ref={(el) => {
          el?.focus();
        }}
        onClick={props.onKeep}
      >
        Keep editing
      </button>
    </div>
  );
}

function keepDuration(form: FormState, newStart: string): string {
  // Wall-clock arithmetic (PlainDate/PlainDateTime): the duration as the clock reads it, zone-free.
  try {
    if (form.allDay) {
      const d = parseDate(form.start).until(parseDate(form.end));
      return d.sign < 0 ? form.end : parseDate(newStart).add(d).toString();
    }
    const d = parseWall(form.start).until(parseWall(form.end));
    return d.sign < 0 ? form.end : formatWall(parseWall(newStart).add(d));
  } catch {
    return form.end;
  }
}
