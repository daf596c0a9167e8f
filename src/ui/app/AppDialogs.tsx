// The app's dialogs beyond the event's: a calendar's settings (name, colour, compliance mode),
// keyboard help, .ics import (its own chunk) and Settings; which one is open, and each one drawn.
import { lazy, type ReactNode, Suspense, useCallback, useState } from 'react';
import type { CalendarClient, CalendarInfo } from '../../worker/api.ts';
import { CalendarSettingsDialog } from '../components/CalendarSettingsDialog.tsx';
import { HelpDialog } from '../components/HelpDialog.tsx';
import { SettingsDialog } from '../components/SettingsDialog.tsx';
import type { Settings } from '../settings.ts';

const ImportDialog = lazy(() =>
  import('../components/ImportDialog.tsx').then((m) => ({ default: m.ImportDialog })),
);

/** Which of these dialogs is open. */
export function useAppDialogs() {
  const [help, setHelp] = useState(false);
  const [settingsOpen, setSettingsOpen] = useState(false);
  /** The calendar whose settings dialog is open (name, colour, compliance mode). */
  const [calSettings, setCalSettings] = useState<CalendarInfo | null>(null);
  /** The Import dialog, with the file dropped on the app if it was opened that way. */
  const [importing, setImporting] = useState<{ file?: File } | null>(null);
  return {
    help,
    setHelp,
    settingsOpen,
    setSettingsOpen,
    calSettings,
    setCalSettings,
    importing,
    setImporting,
  };
}

export function AppDialogs(p: {
  open: ReturnType<typeof useAppDialogs>;
  client: CalendarClient;
  calendars: CalendarInfo[];
  zone: string;
  /** The device's own zone (imports read floating times in it; Settings offers it). */
  device: string;
  shared: ReadonlySet<string>;
  settings: Settings;
  changeSettings: (patch: Partial<Settings>) => void;
  run: <T>(p: Promise<T>) => Promise<T | undefined>;
  onToast: (text: string) => void;
  /** The storage notice the Settings dialog shows. */
  storage: ReactNode;
}) {
  const { open, client, run } = p;
  const { calSettings } = open;
  const calSettingsId = calSettings?.id;
  const loadComplianceHistory = useCallback(
    () =>
      calSettingsId === undefined
        ? Promise.resolve({ writes: [], more: 0 })
        : client.complianceHistory(calSettingsId),
    [client, calSettingsId],
  );
  return (
    <>
      {calSettings && (
        <CalendarSettingsDialog
          calendar={calSettings}
          displayZone={p.zone}
          loadComplianceHistory={loadComplianceHistory}
          onClose={() => open.setCalSettings(null)}
          onSave={async (next) => {
            const c = calSettings;
            if (next.name !== c.name || next.color !== c.color)
              await run(client.renameCalendar(c.id, next.name, next.color));
            if (next.compliance !== (c.compliance === true))
              await run(client.setCompliance(c.id, next.compliance));
            open.setCalSettings(null);
          }}
        />
      )}
      {open.help && <HelpDialog onClose={() => open.setHelp(false)} />}
      {open.importing && (
        <Suspense fallback={null}>
          <ImportDialog
            client={client}
            calendars={p.calendars}
            zone={p.device}
            file={open.importing.file}
            onClose={() => open.setImporting(null)}
            onDone={(text) => {
              open.setImporting(null);
              p.onToast(text);
            }}
          />
        </Suspense>
      )}
      {open.settingsOpen && (
        <SettingsDialog
          settings={p.settings}
          calendars={p.calendars}
          shared={p.shared}
          deviceZone={p.device}
          storage={p.storage}
          onChange={p.changeSettings}
          onClose={() => open.setSettingsOpen(false)}
        />
      )}
    </>
  );
}
