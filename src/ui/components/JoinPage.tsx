// The join page (#/join/<payload>): explains what joining does and waits for "Join" (a visited link
// must not act by itself), then accepts the invite through the client, or says why it cannot.
import { useEffect, useId, useRef, useState } from 'react';
import type { CalendarClient } from '../../worker/api.ts';
import {
  cleanDeviceName,
  isDeviceLinkPayload,
  isPlausiblePayload,
  type JoinFailure,
  joinFailure,
  MAX_DEVICE_NAME,
  suggestDeviceName,
} from '../devices.ts';
import { useThisDevice } from '../hooks.ts';

type Phase = { p: 'ready' } | { p: 'joining' } | { p: 'failed'; failure: JoinFailure };

const INVALID: JoinFailure = joinFailure('InviteInvalid', '');

export function JoinPage(props: {
  client: CalendarClient;
  payload: string;
  onJoined: (calendarIds: string[]) => void;
  onLeave: () => void;
}) {
  const { client } = props;
  const plausible = isPlausiblePayload(props.payload);
  const [phase, setPhase] = useState<Phase>(() =>
    plausible ? { p: 'ready' } : { p: 'failed', failure: INVALID },
  );
  const me = useThisDevice(client);
  // The name is sealed into this device's Add op (DEV-1), so it is asked for before joining.
  const [name, setName] = useState<string | null>(null);
  const shownName = name ?? (me.device ? me.device.name || suggestDeviceName(navigator.userAgent) : '');
  const headRef = useRef<HTMLHeadingElement>(null);
  const id = useId();

  useEffect(() => headRef.current?.focus(), []);
  // A new link (another payload in the same tab) starts over.
  useEffect(() => {
    setPhase(isPlausiblePayload(props.payload) ? { p: 'ready' } : { p: 'failed', failure: INVALID });
  }, [props.payload]);

  const join = async () => {
    if (phase.p === 'joining') return;
    setPhase({ p: 'joining' });
    try {
      const clean = cleanDeviceName(shownName);
      if (clean !== '' && clean !== me.device?.name) await client.setDeviceName(clean);
      // The whole link as the brief of acceptInvite says; it stays inside this tab and its worker.
      const { calendarIds } = await client.acceptInvite(window.location.href);
      props.onJoined(calendarIds);
    } catch (e) {
      setPhase({
        p: 'failed',
        failure: joinFailure((e as { code?: string })?.code, String((e as Error)?.message ?? e)),
      });
    }
  };

  const failed = phase.p === 'failed' ? phase.failure : null;
  const deviceLink = plausible && isDeviceLinkPayload(props.payload);
  const canJoin = phase.p === 'ready' || (failed?.retry ?? false);

  return (
    <div className="join-page">
      <h2 ref={headRef} tabIndex={-1} className="page-title">
        Join calendar(s)
      </h2>
      <p>
        You opened an invite link. Joining adds this device as a member of the calendars it invites to: it
        receives their keys and events, and their members see this device, by its name and fingerprint, on
        their Devices page. Nothing happens until you choose Join.
      </p>
      {deviceLink && (
        <div className="invite-note" role="note" aria-label="Add device link">
          <p>
            <strong>This is an “Add device” link.</strong> Joining makes this device one of the devices of the
            person who made the link: every calendar either device has, creates or joins later reaches both,
            and each can remove the other from all calendars.
          </p>
          <p>Open it only if you made it yourself, on another device of yours.</p>
        </div>
      )}
      {plausible && (
        <form
          className="card"
          onSubmit={(e) => {
            e.preventDefault();
            if (canJoin) void join();
          }}
        >
          <div className="field">
            <label htmlFor={`${id}-name`}>Device name</label>
            <input
              id={`${id}-name`}
              value={shownName}
              maxLength={MAX_DEVICE_NAME}
              disabled={phase.p === 'joining'}
              onChange={(e) => setName(e.target.value)}
            />
            <p className="hint">Other members see this name. You can change it later on the Devices page.</p>
          </div>
          {me.device && (
            <dl className="device-facts">
              <dt>This device's fingerprint</dt>
              <dd>
                <code className="fingerprint">{me.device.fingerprint}</code>
              </dd>
            </dl>
          )}
          {phase.p === 'joining' && (
            <div role="status" className="join-progress">
              <progress aria-label="Joining" />
              <span>Joining: checking the invite, receiving the keys and syncing events…</span>
            </div>
          )}
          <div className="row">
            {canJoin && (
              <button type="submit" className="primary">
                {failed ? 'Try again' : 'Join'}
              </button>
            )}
            <button type="button" onClick={props.onLeave} disabled={phase.p === 'joining'}>
              {failed ? 'Back to the calendar' : 'Cancel'}
            </button>
          </div>
        </form>
      )}
      {failed && (
        <div role="alert" className="join-error">
          <strong>{failed.title}</strong>
          <p>{failed.detail}</p>
        </div>
      )}
      {!plausible && (
        <button type="button" onClick={props.onLeave}>
          Back to the calendar
        </button>
      )}
    </div>
  );
}
