// "Add device" (this person's other device: every calendar) and "Share calendar" (another person:
// one calendar): creates a single-use invite and shows its link, the same link as a QR code, and
// when it expires. The link's fragment carries the secret; it is shown and copied, never fetched.
import { useEffect, useId, useRef, useState } from 'react';
import type { CalendarClient, InviteLink, RoleName } from '../../worker/api.ts';
import { formatExpiry } from '../devices.ts';
import { Modal } from './Modal.tsx';
import { QrCode } from './QrCode.tsx';

export type InviteKind = { kind: 'device' } | { kind: 'share'; calendarId: string; calendarName: string };

/** "Share" asks what the other person may do (docs/PROTOCOL.md ROLE-*); "Add device" makes a manager. */
const SHARE_ROLES: { role: RoleName; label: string; hint: string }[] = [
  { role: 'viewer', label: 'Can view', hint: 'sees every event, changes nothing' },
  { role: 'editor', label: 'Can edit', hint: 'also creates, edits and deletes events' },
  { role: 'manager', label: 'Can manage', hint: 'also shares, removes devices and changes roles' },
];

type State = { s: 'creating' } | { s: 'ready'; link: InviteLink } | { s: 'error'; message: string };

/** Clipboard API where allowed (secure contexts); otherwise the selected field and execCommand. */
async function copyText(text: string, field: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!field) return false;
    field.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

export function InviteDialog(props: {
  client: CalendarClient;
  invite: InviteKind;
  /** Names of the calendars an "Add device" link joins (for the explanation). */
  calendarNames: string[];
  now: number;
  onClose: () => void;
}) {
  const { client, invite } = props;
  const [state, setState] = useState<State>({ s: 'creating' });
  const [copied, setCopied] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const [role, setRole] = useState<RoleName>(invite.kind === 'device' ? 'manager' : 'editor');
  const fieldRef = useRef<HTMLInputElement>(null);
  const copyRef = useRef<HTMLButtonElement>(null);
  // One invite per opening, also under StrictMode's double effects: the promise is kept in a ref.
  const pending = useRef<{ attempt: number; role: RoleName; p: Promise<InviteLink> } | null>(null);
  const uid = useId();
  const shareId = invite.kind === 'share' ? invite.calendarId : null;

  useEffect(() => {
    // A new role makes a new link; the one shown before was never sent (its secret lived only here).
    if (pending.current?.attempt !== attempt || pending.current.role !== role) {
      // The link of the role chosen before is no longer shown: copying it would grant that role.
      setState({ s: 'creating' });
      pending.current = {
        attempt,
        role,
        p: client.createInvite(
          window.location.origin,
          shareId === null ? undefined : [shareId],
          undefined,
          role,
        ),
      };
    }
    let live = true;
    pending.current.p.then(
      (link) => live && setState({ s: 'ready', link }),
      (e: unknown) => live && setState({ s: 'error', message: String((e as Error)?.message ?? e) }),
    );
    return () => {
      live = false;
    };
  }, [client, shareId, attempt, role]);

  // The link appears after the dialog opened: move focus to "Copy link", the next thing to do.
  useEffect(() => {
    if (state.s === 'ready') copyRef.current?.focus();
  }, [state.s]);

  const title = invite.kind === 'device' ? 'Add device' : 'Share calendar';
  const names = props.calendarNames.map((n) => `“${n}”`).join(', ');

  return (
    <Modal label={title} onClose={props.onClose} className="invite-dialog">
      <div className="dialog-body">
        <header className="dialog-head">
          <h2>{invite.kind === 'device' ? 'Add device' : `Share “${invite.calendarName}”`}</h2>
          <button type="button" className="icon-btn" aria-label="Close" onClick={props.onClose}>
            ✕
          </button>
        </header>
        {invite.kind === 'device' ? (
          <p>
            Open this link on your other device, or scan the QR code with its camera. It joins your{' '}
            {props.calendarNames.length === 1 ? 'calendar' : 'calendars'} {names} and gets all their events.
          </p>
        ) : (
          <>
            <fieldset className="share-role">
              <legend>What they can do</legend>
              {SHARE_ROLES.map((r) => (
                <div key={r.role} className="share-role-option">
                  <label>
                    <input
                      type="radio"
                      name={`${uid}-role`}
                      value={r.role}
                      checked={role === r.role}
                      aria-describedby={`${uid}-${r.role}`}
                      onChange={() => {
                        setState({ s: 'creating' });
                        setCopied(null);
                        setRole(r.role);
                      }}
                    />
                    {r.label}
                  </label>{' '}
                  <span id={`${uid}-${r.role}`} className="muted">
                    {r.hint}
                  </span>
                </div>
              ))}
            </fieldset>
            <p>
              Send this link to the person you want to share {names} with; your other calendars stay private.
            </p>
          </>
        )}
        {state.s === 'creating' && (
          <p role="status" className="muted">
            Creating a link…
          </p>
        )}
        {state.s === 'error' && (
          <div role="alert" className="form-error">
            <p>Could not create the link: {state.message}</p>
            <button
              type="button"
              onClick={() => {
                setState({ s: 'creating' });
                setAttempt((a) => a + 1);
              }}
            >
              Try again
            </button>
          </div>
        )}
        {state.s === 'ready' && (
          <>
            <div className="invite-qr">
              <QrCode
                text={state.link.url}
                label={
                  invite.kind === 'device'
                    ? 'QR code of the link to add a device'
                    : 'QR code of the share link'
                }
              />
            </div>
            <div className="field">
              <label htmlFor={`${uid}-link`}>Invite link</label>
              <div className="copy-row">
                <input
                  ref={fieldRef}
                  id={`${uid}-link`}
                  readOnly
                  value={state.link.url}
                  spellCheck={false}
                  onFocus={(e) => e.currentTarget.select()}
                />
                <button
                  type="button"
                  ref={copyRef}
                  className="primary"
                  onClick={async () => {
                    const ok = await copyText(state.link.url, fieldRef.current);
                    setCopied(ok ? 'Link copied.' : 'Copying is blocked here: select the link and copy it.');
                  }}
                >
                  Copy link
                </button>
              </div>
              <p className="hint" role="status">
                {copied ?? ''}
              </p>
            </div>
            <p className="invite-expiry">
              <strong>{formatExpiry(state.link.expiresAt, props.now)}</strong>
            </p>
            <div className="invite-note" role="note">
              <p>
                <strong>This link is a one-time secret.</strong> It carries the key to{' '}
                {invite.kind === 'device' ? 'your calendars' : 'this calendar'}: whoever opens it first joins
                and can read every event. It works once and stops working when it expires. Send it only over a
                channel you trust, and never post it publicly.
              </p>
              <p className="muted">
                The secret is in the part after “#”, which browsers never send to a server: the relay cannot
                read it.
              </p>
            </div>
          </>
        )}
        <footer className="dialog-foot">
          <span className="spacer" />
          <button type="button" onClick={props.onClose}>
            Done
          </button>
        </footer>
      </div>
    </Modal>
  );
}
