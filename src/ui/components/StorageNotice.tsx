// Where this device's data lives, said plainly ([UI-16]): whether the browser promised to keep it,
// and which calendars exist only here (no other device, nothing the server has acknowledged yet).
import type { CalendarInfo } from '../../worker/api.ts';
import type { Persistence } from '../hooks.ts';

/** Calendars whose only copy is this device: not shared with another device, never synced. */
export function onlyCopyCalendars(
  calendars: readonly CalendarInfo[],
  shared: ReadonlySet<string>,
  lastSyncedAt: number | null,
): CalendarInfo[] {
  if (lastSyncedAt !== null) return [];
  return calendars.filter((c) => !shared.has(c.id));
}

export function StorageNotice(props: {
  persistence: Persistence;
  onlyCopy: readonly CalendarInfo[];
  onAddDevice: () => void;
}) {
  const names = props.onlyCopy.map((c) => `“${c.name}”`).join(', ');
  if (props.persistence !== 'refused' && props.onlyCopy.length === 0) return null;
  return (
    <section className="storage-note" aria-label="Storage">
      {props.onlyCopy.length > 0 && (
        <p>
          This device holds the only copy of {names}. A second copy appears once this device syncs with the
          server or you{' '}
          <button type="button" className="link-btn" onClick={props.onAddDevice}>
            add another device
          </button>
          .
        </p>
      )}
      {props.persistence === 'refused' && (
        <p>
          This browser has not agreed to keep Ledgerday’s data permanently, so it may clear it if the device
          runs low on space. Installing the app or bookmarking it usually changes that.
        </p>
      )}
    </section>
  );
}
