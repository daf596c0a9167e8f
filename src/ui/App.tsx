// The calendar application: the layout shell (skip link, header, sidebar, main area, status bits)
// composed from src/ui/app/: what is shown (view-state.ts), feedback and undo (feedback.ts), edits
// (edits.ts), the event dialog (event-dialog.ts, event-actions.ts), shortcuts, search, and the
// other dialogs.
import { useEffect, useMemo, useRef, useState } from 'react';
import type { CalendarClient } from '../worker/api.ts';
import { AppDialogs, useAppDialogs } from './app/AppDialogs.tsx';
import { AppSidebar } from './app/AppSidebar.tsx';
import { EventDialogs } from './app/EventDialogs.tsx';
import { useEdits } from './app/edits.ts';
import { eventActions } from './app/event-actions.ts';
import { useEventDialog, useScopeAsk } from './app/event-dialog.ts';
import { useFeedback } from './app/feedback.ts';
import { useFileDrop, useReminders } from './app/listeners.ts';
import { MainView } from './app/MainView.tsx';
import { useSearch } from './app/search.ts';
import { useShortcuts } from './app/shortcuts.ts';
import { useViewState } from './app/view-state.ts';
import { Header } from './components/Header.tsx';
import { RecoveryOffer } from './components/Recovery.tsx';
import { ErrorAlerts, SyncStatusView, Toast, UpdatePrompt } from './components/StatusBits.tsx';
import { onlyCopyCalendars, StorageNotice } from './components/StorageNotice.tsx';
import { DEVICES_HASH } from './devices.ts';
import { usePersistentStorage, useSharedCalendars, useSyncStatus } from './hooks.ts';
import type { PwaHandle } from './pwa.ts';
import { type Route, step, type View } from './time/nav.ts';
import { shiftEvent } from './time/zoned.ts';

export function App({ client, pwa }: { client: CalendarClient; pwa?: PwaHandle | undefined }) {
  const v = useViewState(client);
  const { calendars, route, go, page, openPage, zone, today, now, days } = v;
  const sync = useSyncStatus(client);
  const shared = useSharedCalendars(client, calendars, v.painted);
  const persistence = usePersistentStorage(v.painted);
  const fb = useFeedback(client);
  const { run, setToast, pushError } = fb;
  const toastText = (text: string) => setToast({ text });
  const d = useEventDialog({ client, calendars, run, record: fb.record, setToast });
  const [scopeAsk, askScope] = useScopeAsk();
  const dialogs = useAppDialogs();
  const [menu, setMenu] = useState(false);
  const search = useSearch(client, pushError);
  const searchRef = useRef<HTMLInputElement>(null);
  const mainRef = useRef<HTMLElement>(null);
  const [update, setUpdate] = useState(false);
  useEffect(() => pwa?.onUpdate(() => setUpdate(true)), [pwa]);

  const commands = useEdits(client, v, fb, askScope);
  const act = eventActions({
    calendars,
    shared,
    settings: v.settings,
    route,
    today,
    now,
    zone,
    dialog: d,
    commands,
    setToast,
  });

  const nav = (r: Route) => go(r);
  const stepBy = (dir: 1 | -1) => nav({ view: route.view, date: step(route.view, route.date, dir) });
  const setView = (view: View) => nav({ view, date: route.date });
  const goToday = () => nav({ view: route.view, date: today });
  const goToDay = (day: string) => nav({ view: 'day', date: day });
  const closeMenuThen = (f: () => void) => () => {
    setMenu(false);
    f();
  };

  useShortcuts({
    blocked: d.dialog !== null || dialogs.help || dialogs.settingsOpen,
    menuOpen: menu,
    closeMenu: () => {
      setMenu(false);
      document.querySelector<HTMLElement>('.menu-btn')?.focus();
    },
    undo: () => void fb.undoLast(),
    act: (action) => {
      if (action === 'new') act.openNew();
      else if (action === 'today') goToday();
      else if (action === 'next') stepBy(1);
      else if (action === 'prev') stepBy(-1);
      else if (action === 'search') searchRef.current?.focus();
      else if (action === 'help') dialogs.setHelp(true);
      else setView(action);
    },
  });
  useReminders(client, pushError);
  useFileDrop((file) => dialogs.setImporting({ file }));

  const onlyCopy = onlyCopyCalendars(calendars, shared, sync?.lastSyncedAt ?? null);
  const visibleSet = useMemo(() => new Set(route.view === 'month' ? [] : days), [route.view, days]);

  const onJoined = async (calendarIds: string[]) => {
    // Replace the join entry: the link's secret does not stay in this tab's history.
    go({ view: 'week', date: today }, true);
    const cals = (await client.listCalendars().catch(() => [])).filter((c) => calendarIds.includes(c.id));
    const names = cals.map((c) => `“${c.name}”`).join(', ');
    setToast({
      text:
        calendarIds.length === 0
          ? 'Linked to your other devices: your calendars arrive as they sync'
          : calendarIds.length === 1
            ? `Joined ${names || 'the calendar'}`
            : `Joined ${calendarIds.length} calendars${names ? `: ${names}` : ''}`,
    });
  };

  const storage = (onAddDevice: () => void) => (
    <StorageNotice persistence={persistence} onlyCopy={onlyCopy} onAddDevice={onAddDevice} />
  );

  return (
    <div className={`app${menu ? ' menu-open' : ''}`}>
      {/* First tab stop ([UI-12]): straight to the calendar, past the header and sidebar. The hash
          is the route here, so the link focuses <main> itself instead of navigating. */}
      {/* biome-ignore lint/a11y/useValidAnchor: a skip link is a link by convention; the hash is the route */}
      <a
        href="#main"
        className="skip-link"
        onClick={(e) => {
          e.preventDefault();
          mainRef.current?.focus();
        }}
      >
        Skip to calendar
      </a>
      <Header
        view={page ? null : route.view}
        devicesOpen={page?.kind === 'devices'}
        onDevices={() => openPage(DEVICES_HASH)}
        period={v.period}
        query={search.query}
        searchRef={searchRef}
        onQuery={search.setQuery}
        onToday={goToday}
        onStep={stepBy}
        onView={setView}
        onHelp={() => dialogs.setHelp(true)}
        onSettings={() => dialogs.setSettingsOpen(true)}
        onMenu={() => setMenu((m) => !m)}
        menuOpen={menu}
        status={<SyncStatusView status={sync} now={now} />}
      />
      {/* Narrow screens: "New event" floats over the calendar while the sidebar is a closed drawer. */}
      <button type="button" className="fab primary" aria-label="New event" onClick={() => act.openNew()}>
        <span aria-hidden="true">+</span>
      </button>
      {/* On narrow screens the sidebar is a drawer: a tap outside or Escape closes it ([UI-17]). */}
      {menu && (
        // biome-ignore lint/a11y/useKeyWithClickEvents: Escape closes the menu (window keydown); this is the tap target
        // biome-ignore lint/a11y/noStaticElementInteractions: a backdrop, not a control
        <div className="menu-backdrop" onClick={() => setMenu(false)} />
      )}
      <AppSidebar
        client={client}
        calendars={calendars}
        zone={zone}
        selected={route.date}
        today={today}
        weekStart={v.weekStart}
        visible={visibleSet}
        storage={storage(() => openPage(DEVICES_HASH))}
        onNewEvent={closeMenuThen(() => act.openNew())}
        onPickDay={(day) => {
          setMenu(false);
          nav({ view: route.view, date: day });
        }}
        onToggle={(c, hidden) => {
          v.setHiddenPending((p) => new Map(p).set(c.id, hidden));
          void run(client.setCalendarHidden(c.id, hidden));
        }}
        onCreateCalendar={async (name, color) => {
          await run(client.createCalendar(name, color));
        }}
        onCalendarSettings={(c) => dialogs.setCalSettings(c)}
        onImport={() => dialogs.setImporting({})}
        onDevices={closeMenuThen(() => openPage(DEVICES_HASH))}
        onError={(message) => pushError({ code: 'export', message })}
        onToast={toastText}
      />
      <main
        id="main"
        ref={mainRef}
        tabIndex={-1}
        className={page ? `main page-${page.kind}` : `main view-${route.view}`}
        aria-label={v.period}
      >
        <MainView
          client={client}
          page={page}
          route={route}
          calendars={calendars}
          now={now}
          query={search.query}
          results={search.results}
          onClearQuery={() => search.setQuery('')}
          onPickResult={(ui, firstDay) => {
            search.setQuery('');
            goToDay(firstDay);
            d.openEvent(ui);
          }}
          onJoined={(ids) => void onJoined(ids)}
          onLeaveJoin={() => go(route, true)}
          onError={pushError}
          onToast={toastText}
          events={v.timed}
          zone={zone}
          today={today}
          days={days}
          weeks={v.weeks}
          layout={v.layout}
          overrides={v.overrides}
          onFit={v.setMonthLanes}
          onOpen={d.openEvent}
          onKey={act.onEventKey}
          onCreate={act.openNew}
          onGoToDay={goToDay}
          onMoveDays={(ui, n) =>
            act.viewOnly(ui.ev.calendarId) ||
            void commands.changeTimes(ui.ev, shiftEvent(ui.ev, { days: n }), 'Event moved', false)
          }
          onChangeTime={(c) =>
            act.viewOnly(c.ui.ev.calendarId) || void commands.dragTo(c.ui.ev, c.startMs, c.endMs)
          }
          defaultMinutes={v.settings.eventMinutes}
        />
      </main>
      <ErrorAlerts errors={fb.errors} onDismiss={fb.dismissError} />
      {/* After the main view in the tab order (UI-12): a card at the bottom left, not in the sidebar. */}
      <RecoveryOffer client={client} calendars={calendars} now={now} />
      <Toast
        text={fb.toast?.text ?? null}
        canUndo={fb.toast?.entry !== undefined}
        onUndo={() => void fb.undoEntry(fb.toast?.entry)}
        onClose={() => setToast(null)}
      />
      {update && pwa && <UpdatePrompt onReload={() => pwa.applyUpdate()} onLater={() => setUpdate(false)} />}
      <EventDialogs
        d={d}
        calendars={calendars}
        writable={act.writable}
        zone={zone}
        shared={shared}
        canWrite={act.canWrite}
        onSave={(c, f) => void act.save(c, f)}
        onRemove={(c, id, title, occ) => void act.remove(c, id, title, occ)}
        scopeAsk={scopeAsk}
      />
      <AppDialogs
        open={dialogs}
        client={client}
        calendars={calendars}
        zone={zone}
        device={v.device}
        shared={shared}
        settings={v.settings}
        changeSettings={v.changeSettings}
        run={run}
        onToast={toastText}
        storage={storage(() => {
          dialogs.setSettingsOpen(false);
          openPage(DEVICES_HASH);
        })}
      />
    </div>
  );
}
