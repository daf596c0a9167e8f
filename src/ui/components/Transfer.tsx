// Sidebar section "Import and export": opens the Import dialog; per calendar an "Export" action
// and one for all calendars (each a download of one .ics file).
import { useId, useState } from 'react';
import type { CalendarClient, CalendarInfo } from '../../worker/api.ts';

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
