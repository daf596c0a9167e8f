// The confirmation before removing a device (from one calendar, or from all of them, PER-4): what it
// removes, what removal means, then Cancel (focused first) or the named action; busy while the
// Remove (and its key change) is written.
import { type ReactNode, useId, useState } from 'react';
import type { DeviceInfo } from '../../worker/api.ts';
import { deviceLabel } from '../devices.ts';
import { Modal } from './Modal.tsx';

export function RemoveConfirm(props: {
  /** The dialog's name and heading. */
  title: string;
  device: DeviceInfo;
  /** Where from, after the device: e.g. `from “Work”`. */
  from: ReactNode;
  /** What removal means, one line each. */
  what: ReactNode[];
  busyText: string;
  confirmLabel: string;
  onCancel: () => void;
  onConfirm: () => Promise<void>;
}) {
  const { device } = props;
  const [busy, setBusy] = useState(false);
  const id = useId();
  return (
    <Modal
      label={props.title}
      describedBy={`${id}-what`}
      onClose={() => !busy && props.onCancel()}
      className="remove-dialog"
    >
      <div className="dialog-body">
        <header className="dialog-head">
          <h2>{props.title}</h2>
        </header>
        <p>
          Remove <strong>{deviceLabel(device)}</strong> (
          <code className="fingerprint">{device.fingerprint}</code>) {props.from}?
        </p>
        <ul id={`${id}-what`} className="remove-what">
          {props.what.map((line, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: fixed lines, never reordered
            <li key={i}>{line}</li>
          ))}
        </ul>
        {busy && (
          <p role="status" className="muted">
            {props.busyText}
          </p>
        )}
        <footer className="dialog-foot">
          <span className="spacer" />
          <button type="button" data-autofocus disabled={busy} onClick={props.onCancel}>
            Cancel
          </button>
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              await props.onConfirm();
            }}
          >
            {props.confirmLabel}
          </button>
        </footer>
      </div>
    </Modal>
  );
}
