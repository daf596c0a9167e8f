// Always-visible sync status, host error alerts, the undo toast and the PWA update prompt.
import type { SyncStatus } from '../../worker/api.ts';
import type { ShownError } from '../hooks.ts';
import { formatDateTime } from '../time/zoned.ts';

/** A clock this far from the relay's gets a warning (the relay holds ops dated in the future). */
export const CLOCK_WARN_MS = 2 * 60_000;

const STATE_TEXT: Record<SyncStatus['state'], string> = {
  offline: 'Offline',
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  resyncing: 'Resyncing…',
  synced: 'Synced',
};

export function describeOffset(ms: number): string {
  const abs = Math.abs(ms);
  const amount =
    abs >= 3_600_000 ? `${Math.round(abs / 360_000) / 10} hours` : `${Math.round(abs / 60_000)} minutes`;
  return `Your clock is ${amount} ${ms > 0 ? 'ahead of' : 'behind'} the server; edits may sort oddly until it is corrected.`;
}

export function SyncStatusView(props: { status: SyncStatus | null; now: number }) {
  const s = props.status;
  const state = s?.state ?? 'connecting';
  const pending = s?.pendingUploads ?? 0;
  const last = s?.lastSyncedAt ?? null;
  const offset = s?.clockOffsetMs ?? null;
  return (
    <div
      role="status"
      aria-label="Sync status"
      className={`sync sync-${state}`}
      title={s?.detail}
      data-ops-downloaded={s?.opsDownloaded}
      data-snapshot-starts={s?.snapshotStarts}
      data-snapshot-uploads={s?.snapshotUploads}
      data-ops-pruned={s?.opsPruned}
      data-rebased={s?.rebased}
    >
      <span className="sync-icon" aria-hidden="true">
        {state === 'synced' ? '✓' : state === 'offline' ? '⨯' : '↻'}
      </span>
      <span className="sync-state">{STATE_TEXT[state]}</span>
      {pending > 0 && (
        <span className="sync-pending">
          {pending} {pending === 1 ? 'edit' : 'edits'} waiting to upload
        </span>
      )}
      <span className="sync-last muted">
        {last === null ? 'Not synced yet' : `Last synced ${relative(last, props.now)}`}
      </span>
      {offset !== null && Math.abs(offset) >= CLOCK_WARN_MS && (
        <span className="sync-clock">
          <span aria-hidden="true">⚠ </span>
          {describeOffset(offset)}
        </span>
      )}
    </div>
  );
}

function relative(ms: number, now: number): string {
  const d = Math.max(0, now - ms);
  if (d < 60_000) return 'just now';
  if (d < 3_600_000) return `${Math.floor(d / 60_000)} min ago`;
  return `at ${formatDateTime(ms)}`;
}

export function ErrorAlerts(props: { errors: ShownError[]; onDismiss: (key: number) => void }) {
  return (
    <div role="alert" className="alerts">
      {props.errors.map((e) => (
        <div key={e.key} className="alert">
          <span aria-hidden="true">⚠ </span>
          <strong>{e.message}</strong> <span className="muted">({e.code})</span>
          <button type="button" onClick={() => props.onDismiss(e.key)}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}

export function Toast(props: {
  text: string | null;
  canUndo: boolean;
  onUndo: () => void;
  onClose: () => void;
}) {
  return (
    <div className="toast-region" aria-live="polite">
      {props.text && (
        <div className="toast">
          <span>{props.text}</span>
          {props.canUndo && (
            <button type="button" onClick={props.onUndo}>
              Undo
            </button>
          )}
          <button
            type="button"
            className="icon-btn"
            aria-label="Dismiss notification"
            onClick={props.onClose}
          >
            ✕
          </button>
        </div>
      )}
    </div>
  );
}

export function UpdatePrompt(props: { onReload: () => void; onLater: () => void }) {
  return (
    <div className="update" role="alertdialog" aria-label="Update available" aria-describedby="update-text">
      <span id="update-text">Update available: a new version of Ledgerday is ready.</span>
      <button type="button" className="primary" onClick={props.onReload}>
        Reload
      </button>
      <button type="button" onClick={props.onLater}>
        Later
      </button>
    </div>
  );
}
