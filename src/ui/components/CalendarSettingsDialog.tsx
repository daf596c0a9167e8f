// A calendar's settings (synced to every member device): name, colour and compliance mode
// (docs/PROTOCOL.md CMP-1: every change is kept forever and each field's history is shown).
import { useId, useState } from 'react';
import type { CalendarInfo } from '../../worker/api.ts';
import { isHexColor } from '../colors.ts';
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
