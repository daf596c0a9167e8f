// The Devices page (#/devices): this device's name and fingerprint, "Add device", your devices
// with "Remove from all calendars" (PER-4), and per calendar its member devices grouped by person
// (PER-6: "You" first; name, fingerprint, added, last seen) with "Share" and "Remove".
import { useEffect, useId, useRef, useState } from 'react';
import type { CalendarClient, CalendarInfo, DeviceInfo, HostError, RoleName } from '../../worker/api.ts';
import { safeColor } from '../colors.ts';
import { cleanDeviceName, deviceLabel, groupByPerson, MAX_DEVICE_NAME, personLabel } from '../devices.ts';
import { type MembersState, useMembers, useMyDevices, useThisDevice } from '../hooks.ts';
import { InviteDialog, type InviteKind } from './InviteDialog.tsx';
import { DeviceRow, MyDevicesSection, RemoveEverywhereDialog } from './MyDevices.tsx';
import { RecoveryCard } from './Recovery.tsx';
import { restoreSummary } from './RecoveryDialogs.tsx';
import { RemoveConfirm } from './RemoveConfirm.tsx';
import { ROLE_LABELS, RoleControl } from './RoleControl.tsx';

interface RemoveTarget {
  calendar: CalendarInfo;
  device: DeviceInfo;
}

export function DevicesPage(props: {
  client: CalendarClient;
  calendars: CalendarInfo[];
  now: number;
  onError: (e: HostError) => void;
  onToast: (text: string) => void;
}) {
  const { client, calendars } = props;
  const me = useThisDevice(client);
  const [members, reloadMembers] = useMembers(
    client,
    calendars.map((c) => c.id),
  );
  const mine = useMyDevices(client);
  const [invite, setInvite] = useState<InviteKind | null>(null);
  const [removing, setRemoving] = useState<RemoveTarget | null>(null);
  const [removingMine, setRemovingMine] = useState<DeviceInfo | null>(null);
  const headRef = useRef<HTMLHeadingElement>(null);
  const noCalsId = useId();

  // A page change moves focus to its heading, so screen readers announce where they are.
  useEffect(() => headRef.current?.focus(), []);

  const fail = (e: unknown, code = 'devices') =>
    props.onError({
      code: (e as { code?: string })?.code ?? code,
      message: String((e as Error)?.message ?? e),
    });

  const remove = async (t: RemoveTarget) => {
    try {
      await client.removeDevice(t.calendar.id, t.device.id);
      setRemoving(null);
      props.onToast(`Removed ${deviceLabel(t.device)} from “${t.calendar.name}”`);
    } catch (e) {
      setRemoving(null);
      fail(e);
    } finally {
      reloadMembers(t.calendar.id);
    }
  };

  const removeEverywhere = async (d: DeviceInfo) => {
    try {
      await client.removeMyDevice(d.id);
      setRemovingMine(null);
      props.onToast(`Removed ${deviceLabel(d)} from all calendars`);
    } catch (e) {
      setRemovingMine(null);
      fail(e);
    } finally {
      mine.reload();
      for (const c of calendars) reloadMembers(c.id);
    }
  };

  return (
    <div className="devices-page">
      <h2 ref={headRef} tabIndex={-1} className="page-title">
        Devices and sharing
      </h2>
      <section className="card" aria-labelledby={`${noCalsId}-this`}>
        <h3 id={`${noCalsId}-this`}>This device</h3>
        {me.error && (
          <p role="alert" className="form-error">
            Could not read this device: {me.error}
          </p>
        )}
        {me.device && (
          <DeviceNameForm
            key={me.device.id}
            device={me.device}
            onSave={async (name) => {
              try {
                await client.setDeviceName(name);
                me.reload();
                for (const c of calendars) reloadMembers(c.id);
                return true;
              } catch (e) {
                fail(e);
                return false;
              }
            }}
          />
        )}
        <p className="muted small">
          Compare fingerprints to check that a device in a list below is really the one you think it is: each
          device shows its own here.
        </p>
        <div className="row">
          <button
            type="button"
            className="primary"
            disabled={calendars.length === 0}
            aria-describedby={calendars.length === 0 ? `${noCalsId}-none` : undefined}
            onClick={() => setInvite({ kind: 'device' })}
          >
            Add device
          </button>
          <span className="muted small">
            Link another device of yours: every calendar you have or make later reaches both.
          </span>
        </div>
        {calendars.length === 0 && (
          <p id={`${noCalsId}-none`} className="muted">
            No calendars on this device yet. Create one in the sidebar first, or open an invite link from a
            device that has them.
          </p>
        )}
      </section>

      <RecoveryCard
        client={client}
        calendars={calendars}
        onRestored={(r) => props.onToast(restoreSummary(r))}
      />

      <MyDevicesSection state={mine.state} now={props.now} onRemove={setRemovingMine} />

      {calendars.map((cal) => (
        <CalendarMembers
          key={cal.id}
          calendar={cal}
          state={members.get(cal.id)}
          now={props.now}
          onShare={() => setInvite({ kind: 'share', calendarId: cal.id, calendarName: cal.name })}
          onRemove={(device) => setRemoving({ calendar: cal, device })}
          onSetRole={async (device, role) => {
            try {
              await client.setRole(cal.id, device.id, role);
              props.onToast(`${deviceLabel(device)} now: ${ROLE_LABELS[role]}`);
            } catch (e) {
              fail(e);
            } finally {
              reloadMembers(cal.id);
            }
          }}
        />
      ))}

      {invite && (
        <InviteDialog
          client={client}
          invite={invite}
          calendarNames={
            invite.kind === 'device'
              ? // PER-3, ROLE-11: every calendar reaches the new device (those it manages by the link,
                // the others by my devices' sponsored Adds once it is paired).
                calendars.map((c) => c.name)
              : [invite.calendarName]
          }
          now={props.now}
          onClose={() => {
            setInvite(null);
            mine.reload();
            for (const c of calendars) reloadMembers(c.id);
          }}
        />
      )}
      {removing && (
        <RemoveDeviceDialog
          target={removing}
          onCancel={() => setRemoving(null)}
          onConfirm={() => remove(removing)}
        />
      )}
      {removingMine && (
        <RemoveEverywhereDialog
          device={removingMine}
          onCancel={() => setRemovingMine(null)}
          onConfirm={() => removeEverywhere(removingMine)}
        />
      )}
    </div>
  );
}

function DeviceNameForm(props: { device: DeviceInfo; onSave: (name: string) => Promise<boolean> }) {
  const [name, setName] = useState(props.device.name);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const id = useId();
  const clean = cleanDeviceName(name);
  return (
    <form
      className="device-name"
      onSubmit={async (e) => {
        e.preventDefault();
        if (busy || clean === '' || clean === props.device.name) return;
        setBusy(true);
        const ok = await props.onSave(clean);
        setBusy(false);
        setSaved(ok);
        if (ok) setName(clean);
      }}
    >
      <div className="field">
        <label htmlFor={`${id}-name`}>Device name</label>
        <div className="copy-row">
          <input
            id={`${id}-name`}
            value={name}
            maxLength={MAX_DEVICE_NAME}
            placeholder="e.g. Work laptop"
            onChange={(e) => {
              setName(e.target.value);
              setSaved(false);
            }}
          />
          <button type="submit" disabled={busy || clean === '' || clean === props.device.name}>
            Save name
          </button>
        </div>
        <p className="hint" role="status">
          {saved ? 'Name saved. Calendars you create or join from now on show it to their members.' : ''}
        </p>
      </div>
      <p className="hint">
        The name helps you and the people you share with tell your devices apart. Other devices see it in
        calendars this device joins or creates from now on; calendars it is already in keep the name it had
        when it joined.
      </p>
      <dl className="device-facts">
        <dt>Fingerprint</dt>
        <dd>
          <code className="fingerprint">{props.device.fingerprint}</code>
        </dd>
      </dl>
    </form>
  );
}

function CalendarMembers(props: {
  calendar: CalendarInfo;
  state: MembersState | undefined;
  now: number;
  onShare: () => void;
  onRemove: (d: DeviceInfo) => void;
  onSetRole: (d: DeviceInfo, role: RoleName) => Promise<void>;
}) {
  const { calendar: cal, state } = props;
  const id = useId();
  // A calendar this device was removed from stays listed (what it had stays readable), but it can
  // no longer invite or remove anyone: say so instead of offering buttons that would fail.
  const removed = Array.isArray(state) && !state.some((d) => d.isThisDevice);
  // ROLE-4: only a manager shares, removes others and changes roles (the engine refuses the rest).
  const manages =
    !removed && (Array.isArray(state) ? state.find((d) => d.isThisDevice)?.role : cal.role) === 'manager';
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <div className="card-head">
        <h3 id={`${id}-h`}>
          <span className="swatch" style={{ background: safeColor(cal.color) }} aria-hidden="true" />
          {cal.name}
        </h3>
        {manages && (
          <button type="button" aria-describedby={`${id}-h`} onClick={props.onShare}>
            Share
          </button>
        )}
      </div>
      {removed && (
        <p className="removed-note">
          This device was removed from “{cal.name}”. It keeps what it had, but receives no new events, and its
          edits are refused.
        </p>
      )}
      {state === undefined && (
        <p className="muted" role="status">
          Loading devices…
        </p>
      )}
      {state !== undefined && 'error' in state && (
        <p className="form-error" role="alert">
          Could not list the devices of “{cal.name}”: {state.error}
        </p>
      )}
      {Array.isArray(state) &&
        groupByPerson(state).map((g) => (
          <div key={g.key} className="person">
            <h4 className="person-name">{personLabel(g)}</h4>
            <ul className="members" aria-label={`Devices of ${cal.name}: ${personLabel(g)}`}>
              {g.devices.map((d) => (
                <DeviceRow
                  key={d.id}
                  device={d}
                  now={props.now}
                  facts={
                    <>
                      <dt>Role</dt>
                      <dd>
                        <RoleControl device={d} canChange={manages} onChange={(r) => props.onSetRole(d, r)} />
                      </dd>
                    </>
                  }
                  actions={
                    d.isThisDevice || !(manages || d.removable === true)
                      ? undefined
                      : (nameId) => (
                          <button
                            type="button"
                            className="danger"
                            aria-describedby={nameId}
                            onClick={() => props.onRemove(d)}
                          >
                            Remove
                          </button>
                        )
                  }
                />
              ))}
            </ul>
          </div>
        ))}
    </section>
  );
}

function RemoveDeviceDialog(props: {
  target: RemoveTarget;
  onCancel: () => void;
  onConfirm: () => Promise<void>;
}) {
  const { device, calendar } = props.target;
  return (
    <RemoveConfirm
      title="Remove device"
      device={device}
      from={`from “${calendar.name}”`}
      what={[
        "It stops receiving this calendar's changes, and its edits from now on are refused.",
        'It can still read everything it already had: removal cannot take back what a device has seen.',
        'Events written from now on are encrypted with a new key that it does not get.',
        // ROLE-13: another person's device leaves with the devices linked to it by sponsored Adds.
        ...(device.mine
          ? []
          : [
              'Devices of the same person that joined this calendar through it, or it through them, are removed too.',
            ]),
      ]}
      busyText="Removing and changing the calendar's key…"
      confirmLabel="Remove"
      onCancel={props.onCancel}
      onConfirm={props.onConfirm}
    />
  );
}
