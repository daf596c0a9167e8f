// One device's row (shared by "Your devices" and every calendar's members, grouped by person) and
// the "Your devices" section: this person's devices (docs/PROTOCOL.md PER-1) with "Remove from all
// calendars" (PER-4), which asks first and says what removal means.
import { type ReactNode, useId } from 'react';
import type { DeviceInfo } from '../../worker/api.ts';
import { deviceLabel, formatDateTime, formatWhen, sortMembers } from '../devices.ts';
import type { MembersState } from '../hooks.ts';
import { RemoveConfirm } from './RemoveConfirm.tsx';

/**
 * A device: name, "This device", fingerprint, added, last seen; `actions` (Remove buttons, and
 * per-member controls such as a role) sit at the row's end, described by the device's name.
 */
export function DeviceRow(props: {
  device: DeviceInfo;
  now: number;
  actions?: ((nameId: string) => ReactNode) | undefined;
  /** More facts after "Last seen" (a calendar's member row shows its role, ROLE-3). */
  facts?: ReactNode;
}) {
  const d = props.device;
  const id = useId();
  return (
    <li className="member">
      <div className="member-main">
        <strong id={`${id}-name`}>{deviceLabel(d)}</strong>
        {d.isThisDevice && <span className="badge">This device</span>}
      </div>
      <dl className="device-facts">
        <dt>Fingerprint</dt>
        <dd>
          <code className="fingerprint">{d.fingerprint}</code>
        </dd>
        <dt>Added</dt>
        <dd>{d.addedAt === null ? 'Unknown' : formatDateTime(d.addedAt)}</dd>
        <dt>Last seen</dt>
        <dd>{formatWhen(d.lastSeen, props.now)}</dd>
        {props.facts}
      </dl>
      {props.actions && <div className="member-actions">{props.actions(`${id}-name`)}</div>}
    </li>
  );
}

export function MyDevicesSection(props: {
  state: MembersState | undefined;
  now: number;
  onRemove: (d: DeviceInfo) => void;
}) {
  const { state } = props;
  const id = useId();
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h3 id={`${id}-h`}>Your devices</h3>
      <p className="muted small">
        Every calendar you create or join on one of them reaches all of them. The people you share with see
        them as one person.
      </p>
      {state === undefined && (
        <p className="muted" role="status">
          Loading devices…
        </p>
      )}
      {state !== undefined && 'error' in state && (
        <p className="form-error" role="alert">
          Could not list your devices: {state.error}
        </p>
      )}
      {Array.isArray(state) && (
        <ul className="members" aria-label="Your devices">
          {sortMembers(state).map((d) => (
            <DeviceRow
              key={d.id}
              device={d}
              now={props.now}
              actions={
                d.isThisDevice
                  ? undefined
                  : (nameId) => (
                      <button
                        type="button"
                        className="danger"
                        aria-describedby={nameId}
                        onClick={() => props.onRemove(d)}
                      >
                        Remove from all calendars
                      </button>
                    )
              }
            />
          ))}
        </ul>
      )}
      {Array.isArray(state) && state.length < 2 && (
        <p className="muted small">Only this device so far. “Add device” links another one.</p>
      )}
    </section>
  );
}

export function RemoveEverywhereDialog(props: {
  device: DeviceInfo;
  onCancel: () => void;
  onConfirm: () => Promise<void>;
}) {
  return (
    <RemoveConfirm
      title="Remove from all calendars"
      device={props.device}
      from="from your devices and from every calendar"
      what={[
        'It stops receiving your calendars, and its edits from now on are refused.',
        'Calendars this device is not in are finished by your other devices when they next connect.',
        'It can still read everything it already had: removal cannot take back what a device has seen.',
        'Events written from now on are encrypted with new keys that it does not get.',
      ]}
      busyText="Removing and changing the keys…"
      confirmLabel="Remove from all calendars"
      onCancel={props.onCancel}
      onConfirm={props.onConfirm}
    />
  );
}
