// Sidebar section "Import and export": opens the Import dialog; per calendar an "Export" action
// and one for all calendars (each a download of one .ics file), and its default reminder (REM-1).
import { useId, useState } from 'react';
import type { CalendarClient, CalendarInfo } from '../../worker/api.ts';
import { askNotificationPermission } from '../reminders/alarms.ts';

/** Default reminder choices: minutes before the start ('' = none). */
const DEFAULTS: [string, string][] = [
  ['', 'No default reminder'],
  ['10', '10 minutes before'],
  ['30', '30 minutes before'],
  ['60', '1 hour before'],
  ['1440', '1 day before'],
];

export function TransferSection(props: {
  client: CalendarClient;
  calendars: CalendarInfo[];
  zone: string;
  onImport: () => void;
  onError: (message: string) => void;
  onToast: (text: string) => void;
}) {
  const headId = useId();
  const [busy, setBusy] = useState(false);
  const exportCals = async (cals: CalendarInfo[], fileName: string) => {
    if (busy) return;
    setBusy(true);
    try {
      const { downloadIcs } = await import('../ics/download.ts');
      const n = await downloadIcs(props.client, cals, props.zone, fileName);
      props.onToast(`Exported ${n.toLocaleString('en-US')} events to ${fileName}`);
    } catch (e) {
      props.onError(`Export failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      setBusy(false);
    }
  };
  const fileName = async (name: string) => (await import('../ics/download.ts')).icsFileName(name);
  return (
    <section className="transfer" aria-labelledby={headId}>
      <h2 id={headId}>Import and export</h2>
      <button type="button" onClick={props.onImport}>
        Import
      </button>
      {props.calendars.length > 0 && (
        <ul>
          {props.calendars.map((c) => (
            <li key={c.id}>
              <select
                aria-label={`Default reminder for ${c.name}`}
                // ROLE-8: the calendar's settings are its managers' to change.
                disabled={c.role !== undefined && c.role !== 'manager'}
                value={
                  c.defaultAlarms?.length === 1
                    ? String(c.defaultAlarms[0])
                    : c.defaultAlarms?.length
                      ? 'custom'
                      : ''
                }
                onChange={(e) => {
                  const v = e.target.value;
                  if (v !== '') askNotificationPermission();
                  props.client
                    .setDefaultAlarms(c.id, v === '' ? [] : [Number(v)])
                    .catch((err: unknown) => props.onError(`Default reminder not saved: ${String(err)}`));
                }}
              >
                {DEFAULTS.map(([v, label]) => (
                  <option key={v} value={v}>
                    {label}
                  </option>
                ))}
                {(c.defaultAlarms?.length ?? 0) > 1 && <option value="custom">Several reminders</option>}
              </select>
              <button
                type="button"
                className="link-btn"
                disabled={busy}
                aria-label={`Export ${c.name}`}
                onClick={async () => void exportCals([c], await fileName(c.name))}
              >
                Export “{c.name}”
              </button>
            </li>
          ))}
          {props.calendars.length > 1 && (
            <li>
              <button
                type="button"
                className="link-btn"
                disabled={busy}
                onClick={() => void exportCals(props.calendars, 'ledgerday-all-calendars.ics')}
              >
                Export all calendars
              </button>
            </li>
          )}
        </ul>
      )}
    </section>
  );
}
