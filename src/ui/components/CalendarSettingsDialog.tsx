// A calendar's settings (synced to every member device): name, colour and compliance mode
// (docs/PROTOCOL.md CMP-1: every change is kept forever and each field's history is shown).
import { useEffect, useId, useState } from 'react';
import type { CalendarInfo, HistoryWrite } from '../../worker/api.ts';
import { isHexColor } from '../colors.ts';
import { formatDateTime } from '../time/zoned.ts';
import { Modal } from './Modal.tsx';

export interface CalendarSettings {
  name: string;
  color: string;
  compliance: boolean;
}

export function CalendarSettingsDialog(props: {
  calendar: CalendarInfo;
  onSave: (next: CalendarSettings) => Promise<void>;
  onClose: () => void;
  /** Who turned compliance mode on and off (its register's writes, newest first). */
  loadComplianceHistory: () => Promise<{ writes: HistoryWrite[]; more: number }>;
  displayZone: string;
}) {
  const c = props.calendar;
  const [name, setName] = useState(c.name);
  const [color, setColor] = useState(isHexColor(c.color) ? c.color : '#4f7cff');
  const [compliance, setCompliance] = useState(c.compliance === true);
  const [busy, setBusy] = useState(false);
  const id = useId();
  return (
    <Modal label={`Edit calendar ${c.name}`} onClose={props.onClose} className="calendar-settings">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (name.trim() === '' || !isHexColor(color) || busy) return;
          setBusy(true);
          try {
            await props.onSave({ name: name.trim(), color, compliance });
          } finally {
            setBusy(false);
          }
        }}
      >
        <header className="dialog-head">
          <h2>Calendar settings</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={props.onClose}>
            ✕
          </button>
        </header>
        <div className="field">
          <label htmlFor={`${id}-name`}>Name</label>
          <input
            id={`${id}-name`}
            value={name}
            required
            data-autofocus
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-color`}>Colour</label>
          <input id={`${id}-color`} type="color" value={color} onChange={(e) => setColor(e.target.value)} />
        </div>
        <div className="field">
          <div className="field check">
            <input
              id={`${id}-compliance`}
              type="checkbox"
              checked={compliance}
              aria-describedby={`${id}-compliance-hint`}
              onChange={(e) => setCompliance(e.target.checked)}
            />
            <label htmlFor={`${id}-compliance`}>Compliance mode</label>
          </div>
          <p id={`${id}-compliance-hint`} className="hint">
            Every change is kept forever and each field's history is shown in the event dialog, for every
            member device.
          </p>
          <ComplianceChanges load={props.loadComplianceHistory} displayZone={props.displayZone} />
        </div>
        <footer className="dialog-foot">
          <span className="spacer" />
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            Save
          </button>
        </footer>
      </form>
    </Modal>
  );
}

/** "Turned on by Laptop (7K2M-…) · Nov 27, 2026, 10:58 PM", newest first; nothing while never set. */
function ComplianceChanges(props: {
  load: () => Promise<{ writes: HistoryWrite[]; more: number }>;
  displayZone: string;
}) {
  const [h, setH] = useState<{ writes: HistoryWrite[]; more: number } | null>(null);
  const { load } = props;
  useEffect(() => {
    let live = true;
    load().then(
      (r) => live && setH(r),
      () => {}, // the setting itself still works without its history
    );
    return () => {
      live = false;
    };
  }, [load]);
  if (h === null || h.writes.length === 0) return null;
  return (
    <ul className="hint compliance-changes" aria-label="Compliance mode changes">
      {h.writes.map((w) => (
        <li key={w.opId}>
          {w.value === true ? 'Turned on' : 'Turned off'} by {w.deviceName || 'Unnamed device'} (
          {w.fingerprint}) · {formatDateTime(w.wallTime / 1000, props.displayZone)}
          {w.status === 'conflict' && ' (lost to a simultaneous change)'}
          {(w.status === 'revoked' || w.status === 'inert') && ' (did not count)'}
        </li>
      ))}
      {h.more > 0 && <li>{h.more} earlier change(s)</li>}
    </ul>
  );
}
