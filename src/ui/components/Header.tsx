// Top bar: today / previous / next, the period title, search, view switches, sync status, devices, help.
import type { ReactNode, RefObject } from 'react';
import type { View } from '../time/nav.ts';

const VIEW_LABEL: Record<View, string> = { month: 'Month', week: 'Week', day: 'Day', agenda: 'Agenda' };
const VIEW_KEY: Record<View, string> = { month: 'm', week: 'w', day: 'd', agenda: 'a' };

export function Header(props: {
  /** The calendar view shown, or null on a page (Devices, Join) where no view switch is pressed. */
  view: View | null;
  devicesOpen: boolean;
  onDevices: () => void;
  period: string;
  query: string;
  searchRef: RefObject<HTMLInputElement | null>;
  onQuery: (q: string) => void;
  onToday: () => void;
  onStep: (dir: 1 | -1) => void;
  onView: (v: View) => void;
  onHelp: () => void;
  onSettings: () => void;
  onMenu: () => void;
  menuOpen: boolean;
  status: ReactNode;
}) {
  return (
    <header className="topbar">
      <button
        type="button"
        className="icon-btn menu-btn"
        aria-label="Menu"
        aria-expanded={props.menuOpen}
        aria-controls="sidebar"
        onClick={props.onMenu}
      >
        ☰
      </button>
      <span className="brand">
        <img src="/icon.svg" alt="" width="28" height="28" />
        <span>Ledgerday</span>
      </span>
      <nav className="nav" aria-label="Date navigation">
        <button type="button" onClick={props.onToday} aria-keyshortcuts="t">
          Today
        </button>
        <button
          type="button"
          className="icon-btn"
          aria-label="Previous"
          title={`Previous ${props.view === 'agenda' ? 'days' : (props.view ?? 'week')}`}
          aria-keyshortcuts="k ArrowLeft"
          onClick={() => props.onStep(-1)}
        >
          ‹
        </button>
        <button
          type="button"
          className="icon-btn"
          aria-label="Next"
          title={`Next ${props.view === 'agenda' ? 'days' : (props.view ?? 'week')}`}
          aria-keyshortcuts="j ArrowRight"
          onClick={() => props.onStep(1)}
        >
          ›
        </button>
        <h1 className="period" aria-live="polite">
          {props.period}
        </h1>
      </nav>
      <search className="search">
        <input
          ref={props.searchRef}
          type="search"
          aria-label="Search"
          placeholder="Search"
          aria-keyshortcuts="/"
          value={props.query}
          onChange={(e) => props.onQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              props.onQuery('');
              e.currentTarget.blur();
            }
          }}
        />
      </search>
      {/* biome-ignore lint/a11y/useSemanticElements: a group of toggle buttons, not a form fieldset */}
      <div className="views" role="group" aria-label="View">
        {(['month', 'week', 'day', 'agenda'] as const).map((v) => (
          <button
            key={v}
            type="button"
            aria-pressed={props.view === v}
            aria-keyshortcuts={VIEW_KEY[v]}
            onClick={() => props.onView(v)}
          >
            {VIEW_LABEL[v]}
          </button>
        ))}
      </div>
      {props.status}
      <button
        type="button"
        className="devices-btn"
        aria-current={props.devicesOpen ? 'page' : undefined}
        onClick={props.onDevices}
      >
        Devices
      </button>
      <button
        type="button"
        className="icon-btn settings-btn"
        aria-label="Settings"
        onClick={props.onSettings}
      >
        <span aria-hidden="true">⚙</span>
      </button>
      <button
        type="button"
        className="icon-btn help-btn"
        aria-label="Keyboard shortcuts"
        aria-keyshortcuts="?"
        onClick={props.onHelp}
      >
        ?
      </button>
    </header>
  );
}
