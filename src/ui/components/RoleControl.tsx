// A member's role on the Devices page (docs/PROTOCOL.md ROLE-*): a select for a manager
// ("Role of <device>"), plain text otherwise. The engine enforces roles; this only offers what
// this device's role allows.
import { useState } from 'react';
import type { DeviceInfo, RoleName } from '../../worker/api.ts';
import { deviceLabel } from '../devices.ts';

export const ROLE_LABELS: Record<RoleName, string> = {
  viewer: 'Can view',
  editor: 'Can edit',
  manager: 'Can manage',
};

export function RoleControl(props: {
  device: DeviceInfo;
  /** This device may change roles in the calendar (it is a manager there). */
  canChange: boolean;
  onChange: (role: RoleName) => Promise<void>;
}) {
  const { device } = props;
  const [busy, setBusy] = useState(false);
  if (device.role === null) return null;
  if (!props.canChange || device.isThisDevice)
    return <span className="role">{ROLE_LABELS[device.role]}</span>;
  return (
    <select
      className="role"
      aria-label={`Role of ${deviceLabel(device)}`}
      value={device.role}
      disabled={busy}
      onChange={async (e) => {
        setBusy(true);
        try {
          await props.onChange(e.target.value as RoleName);
        } finally {
          setBusy(false);
        }
      }}
    >
      {(Object.keys(ROLE_LABELS) as RoleName[]).map((r) => (
        <option key={r} value={r}>
          {ROLE_LABELS[r]}
        </option>
      ))}
    </select>
  );
}
