// The sidebar (a drawer on narrow screens, [UI-17]): New event, the mini month, the calendar list,
// import and export, the storage notice and, on phones, the Devices link.
import type { ReactNode } from 'react';
import type { CalendarClient, CalendarInfo } from '../../worker/api.ts';
import { CalendarList, MiniMonth } from '../components/Sidebar.tsx';
import { TransferSection } from '../components/Transfer.tsx';
import type { WeekStart } from '../time/nav.ts';
import type { DateStr } from '../time/zoned.ts';

export function AppSidebar(p: {
  client: CalendarClient;
  calendars: CalendarInfo[];
  zone: string;
  selected: DateStr;
  today: DateStr;
  weekStart: WeekStart;
  /** Days the main view shows, marked in the mini month. */
  visible: Set<DateStr>;
  /** The storage notice (the Settings dialog shows it too). */
  storage: ReactNode;
  onNewEvent: () => void;
  onPickDay: (d: DateStr) => void;
  onToggle: (c: CalendarInfo, hidden: boolean) => void;
  onCreateCalendar: (name: string, color: string) => Promise<void>;
  onCalendarSettings: (c: CalendarInfo) => void;
  onImport: () => void;
  onDevices: () => void;
  onError: (message: string) => void;
  onToast: (text: string) => void;
}) {
  return (
    <aside id="sidebar" className="sidebar" aria-label="Sidebar">
      <button type="button" className="new-event primary" aria-keyshortcuts="n" onClick={p.onNewEvent}>
        <span aria-hidden="true">+ </span>New event
      </button>
      <MiniMonth
        selected={p.selected}
        today={p.today}
        weekStart={p.weekStart}
        visible={p.visible}
        onPick={p.onPickDay}
      />
      <CalendarList
        calendars={p.calendars}
        onToggle={p.onToggle}
        onCreate={p.onCreateCalendar}
        onSettings={p.onCalendarSettings}
      />
      <TransferSection
        client={p.client}
        calendars={p.calendars}
        zone={p.zone}
        onImport={p.onImport}
        onError={p.onError}
        onToast={p.onToast}
      />
      {p.storage}
      {/* Phones: the header's Devices button lives here (hidden on wider screens). */}
      <nav className="drawer-links" aria-label="More">
        <button type="button" onClick={p.onDevices}>
          Devices
        </button>
      </nav>
    </aside>
  );
}
