// Recovery (docs/PROTOCOL.md REC-*): "Save recovery file" (a password, then the file as a
// download) and "Restore from recovery file" (the file and its password; each calendar joined as
// this new device). The file holds one single-use invite per calendar, never a device's keys.
import { useId, useState } from 'react';
import type { CalendarClient, RecoveryResult } from '../../worker/api.ts';
import { Modal } from './Modal.tsx';

const MIN_PASSWORD = 10;

function saveAs(fileName: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

const messageOf = (e: unknown) => String((e as Error)?.message ?? e).replace(/^\w+: /, '');

export function SaveRecoveryDialog(props: {
  client: CalendarClient;
  calendarNames: string[];
  onClose: (saved: boolean) => void;
}) {
  const id = useId();
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [phase, setPhase] = useState<'idle' | 'busy' | 'done'>('idle');
  const [error, setError] = useState('');
  const [fileName, setFileName] = useState('');
  const tooShort = [...password].length < MIN_PASSWORD;
  const mismatch = again !== '' && again !== password;
  return (
    <Modal
      label="Save recovery file"
      describedBy={`${id}-about`}
      onClose={() => props.onClose(phase === 'done')}
    >
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (tooShort || again !== password || phase === 'busy') return;
          setPhase('busy');
          setError('');
          try {
            const file = await props.client.makeRecoveryFile(password);
            saveAs(file.fileName, file.text);
            setFileName(file.fileName);
            setPhase('done');
          } catch (err) {
            setError(messageOf(err));
            setPhase('idle');
          }
        }}
      >
        <h2>Save recovery file</h2>
        <p id={`${id}-about`}>
          If you lose this device and every other device of yours, this file and its password bring back{' '}
          {props.calendarNames.length === 1
            ? `“${props.calendarNames[0]}”`
            : `your ${props.calendarNames.length} calendars`}{' '}
          on a new device. Anyone with the file and the password can join them, so keep the file somewhere
          safe off this device and choose a password you will remember. It works once, for a year.
        </p>
        {phase === 'done' ? (
          <p role="status">
            Saved “{fileName}”. Keep it somewhere other than this device, with its password. Calendars you
            create later need a new file.
          </p>
        ) : (
          <>
            <div className="field">
              <label htmlFor={`${id}-pw`}>Password</label>
              <input
                id={`${id}-pw`}
                type="password"
                autoComplete="new-password"
                data-autofocus
                value={password}
                aria-describedby={`${id}-pw-hint`}
                onChange={(e) => setPassword(e.target.value)}
              />
              <p id={`${id}-pw-hint`} className="hint">
                At least {MIN_PASSWORD} characters. There is no way to recover it.
              </p>
            </div>
            <div className="field">
              <label htmlFor={`${id}-again`}>Repeat password</label>
              <input
                id={`${id}-again`}
                type="password"
                autoComplete="new-password"
                value={again}
                aria-invalid={mismatch}
                onChange={(e) => setAgain(e.target.value)}
              />
              {mismatch && <p className="form-error">The passwords differ.</p>}
            </div>
          </>
        )}
        {error && (
          <p role="alert" className="form-error">
            {error}
          </p>
        )}
        {phase === 'busy' && <p role="status">Protecting the file with your password…</p>}
        <div className="actions">
          <button type="button" onClick={() => props.onClose(phase === 'done')}>
            {phase === 'done' ? 'Done' : 'Cancel'}
          </button>
          {phase !== 'done' && (
            <button
              type="submit"
              className="primary"
              disabled={tooShort || again !== password || phase === 'busy'}
            >
              Save
            </button>
          )}
        </div>
      </form>
    </Modal>
  );
}

/** "Restored “Personal” and “Work”. “Family” could not be restored: …" */
export function restoreSummary(r: RecoveryResult): string {
  const names = (xs: { name: string }[]) => xs.map((x) => `“${x.name || 'a calendar'}”`).join(', ');
  const parts: string[] = [];
  if (r.joined.length > 0) parts.push(`Restored ${names(r.joined)}.`);
  for (const f of r.failed)
    parts.push(`“${f.name || 'a calendar'}” could not be restored: ${reasonOf(f.code, f.message)}`);
  return parts.join(' ');
}

function reasonOf(code: string, message: string): string {
  switch (code) {
    case 'InviteUsed':
      return 'this recovery file was already used for it.';
    case 'InviteExpired':
      return 'this recovery file has expired.';
    case 'InviteInvalid':
      return 'the device that made this file is no longer in it, or the server does not know it.';
    case 'Offline':
      return 'this device is offline.';
    default:
      return messageOf(message);
  }
}

export function RestoreRecoveryDialog(props: {
  client: CalendarClient;
  onClose: (result: RecoveryResult | null) => void;
}) {
  const id = useId();
  const [file, setFile] = useState<File | null>(null);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [result, setResult] = useState<RecoveryResult | null>(null);
  return (
    <Modal
      label="Restore from recovery file"
      describedBy={`${id}-about`}
      onClose={() => props.onClose(result)}
    >
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          if (file === null || password === '' || busy) return;
          setBusy(true);
          setError('');
          try {
            if (file.size > 512 * 1024) throw new Error('this file is too large to be a recovery file');
            const r = await props.client.restoreRecoveryFile(await file.text(), password);
            setResult(r);
          } catch (err) {
            setError(messageOf(err));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2>Restore from recovery file</h2>
        <p id={`${id}-about`}>
          Brings back the calendars of a recovery file saved on another device. This device joins them as a
          new device; your other devices and the people you share with see it in their lists.
        </p>
        {result === null && (
          <>
            <div className="field">
              <label htmlFor={`${id}-file`}>Recovery file</label>
              <input
                id={`${id}-file`}
                type="file"
                accept=".json,application/json"
                data-autofocus
                onChange={(e) => setFile(e.target.files?.[0] ?? null)}
              />
            </div>
            <div className="field">
              <label htmlFor={`${id}-pw`}>Password</label>
              <input
                id={`${id}-pw`}
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </div>
          </>
        )}
        {busy && <p role="status">Opening the file and joining its calendars…</p>}
        {result !== null && <p role="status">{restoreSummary(result)}</p>}
        {error && (
          <p role="alert" className="form-error">
            {error}
          </p>
        )}
        <div className="actions">
          <button type="button" onClick={() => props.onClose(result)}>
            {result === null ? 'Cancel' : 'Done'}
          </button>
          {result === null && (
            <button type="submit" className="primary" disabled={file === null || password === '' || busy}>
              Restore
            </button>
          )}
        </div>
      </form>
    </Modal>
  );
}
