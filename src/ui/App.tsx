// The calendar application: route, data subscriptions, edits with undo, keyboard shortcuts, dialogs,
// and the Devices and Join pages.
import {
  lazy,
  type KeyboardEvent as ReactKeyboardEvent,
  Suspense,
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import type {
  CalendarClient,
  CalendarInfo,
  DeviceInfo,
  EventFields,
  EventView,
  FieldConflict,
  MonthRequest,
  OccurrenceInfo,
  RegisterWrite,
  SeriesExceptions,
  SeriesScope,
} from '../worker/api.ts';
import { createCommands, keyboardTimes } from './commands.ts';
import { AgendaView } from './components/AgendaView.tsx';
import { CalendarSettingsDialog } from './components/CalendarSettingsDialog.tsx';
import { eventKey } from './components/EventChip.tsx';
import { type DialogTarget, EventDialog } from './components/EventDialog.tsx';
import { EventReadOnly, VIEW_ONLY } from './components/EventReadOnly.tsx';
import { Header } from './components/Header.tsx';
import { HelpDialog } from './components/HelpDialog.tsx';
import { MonthView } from './components/MonthView.tsx';
import { RecoveryOffer } from './components/Recovery.tsx';
import { SearchResults } from './components/SearchResults.tsx';
import { SeriesScopeDialog } from './components/SeriesScopeDialog.tsx';
import { SettingsDialog } from './components/SettingsDialog.tsx';
import { CalendarList, MiniMonth } from './components/Sidebar.tsx';
import { ErrorAlerts, SyncStatusView, Toast, UpdatePrompt } from './components/StatusBits.tsx';
import { onlyCopyCalendars, StorageNotice } from './components/StorageNotice.tsx';
import { TimeGrid } from './components/TimeGrid.tsx';
import { TransferSection } from './components/Transfer.tsx';
import { DEVICES_HASH } from './devices.ts';
import { useEventHistory } from './history.ts';
import {
  useCalendars,
  useHostErrors,
  useMonthLayout,
  usePersistentStorage,
  useRangeEvents,
  useRoute,
  useSettings,
  useSharedCalendars,
  useSyncStatus,
} from './hooks.ts';
import { titleOf, toTimed, type UiEvent } from './model.ts';
import {
  applyHidden,
  applyOverrides,
  movedOf,
  pruneConfirmed,
  pruneOverrides,
  type TimeOverride,
} from './pending.ts';
import type { PwaHandle } from './pwa.ts';
import { startReminders } from './reminders/service.ts';
import { pickDefaultCalendar } from './settings.ts';
import {
  fetchRange,
  localeWeekStart,
  monthWeeks,
  type Route,
  step,
  type View,
  visibleDays,
} from './time/nav.ts';
import {
  addDays,
  deviceZone,
  formatDateLong,
  formatDateRange,
  formatMonthYear,
  localeHourCycle,
  MS_PER_MINUTE,
  msToWall,
  msToZoned,
  setDisplayFormat,
  shiftEvent,
  todayIn,
  uiLocale,
  wallToMs,
} from './time/zoned.ts';
import { canonicalZone } from './time/zones.ts';
import { type UndoEntry, UndoStack } from './undo.ts';

// Pages most visits never open: separate chunks (precached for offline like the rest), so the
// shell that paints the calendar stays small.
const DevicesPage = lazy(() =>
  import('./components/DevicesPage.tsx').then((m) => ({ default: m.DevicesPage })),
);
const JoinPage = lazy(() => import('./components/JoinPage.tsx').then((m) => ({ default: m.JoinPage })));
const ImportDialog = lazy(() =>
  import('./components/ImportDialog.tsx').then((m) => ({ default: m.ImportDialog })),
);
const pageFallback = (
  <p className="muted page-loading" role="status">
    Loading…
  </p>
);

/** The UI's one locale: English, with the browser's region conventions ([UI-15]). */
const UI_LOCALE = uiLocale();

/** A phone-sized window opens on the day view; wider ones on the week. */
function defaultView(): View {
  return typeof matchMedia === 'function' && matchMedia('(max-width: 640px)').matches ? 'day' : 'week';
}

/** Single-key shortcuts (no modifiers); the help dialog lists the same keys. */
const SHORTCUT_ACTIONS: Record<string, View | 'new' | 'today' | 'next' | 'prev' | 'search' | 'help'> = {
  n: 'new',
  t: 'today',
  m: 'month',
  w: 'week',
  d: 'day',
  a: 'agenda',
  j: 'next',
  k: 'prev',
  ArrowRight: 'next',
  ArrowLeft: 'prev',
  '/': 'search',
  '?': 'help',
};
const TOAST_MS = 10_000;

function periodTitle(view: View, days: string[], date: string): string {
  switch (view) {
    case 'month':
      return formatMonthYear(date);
    case 'day':
      return formatDateLong(date);
    case 'week':
    case 'agenda':
      return formatDateRange(days[0]!, days.at(-1)!);
  }
}

function isTyping(t: EventTarget | null): boolean {
  if (!(t instanceof HTMLElement)) return false;
  return t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName);
}

export function App({ client, pwa }: { client: CalendarClient; pwa?: PwaHandle | undefined }) {
  const device = useMemo(() => canonicalZone(deviceZone()), []);
  const [settings, changeSettings] = useSettings(() => ({
    weekStart: localeWeekStart(),
    timeFormat: localeHourCycle() === 'h23' ? '24' : '12',
    defaultCalendar: '',
    eventMinutes: 60,
    displayZone: device,
  }));
  const zone = settings.displayZone;
  const weekStart = settings.weekStart;
  // Every date and time below is written in one format ([UI-15]); set before children render.
  setDisplayFormat({ locale: UI_LOCALE, hourCycle: settings.timeFormat === '24' ? 'h23' : 'h12' });
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, []);
  const today = useMemo(() => msToZoned(now, zone).toPlainDate().toString(), [now, zone]);
  // Narrow screens open on one day: seven columns do not fit a phone ([UI-17]).
  const [route, go, page, openPage] = useRoute(() => ({ view: defaultView(), date: todayIn(zone) }));
  const storedCalendars = useCalendars(client);
  const [hiddenPending, setHiddenPending] = useState<ReadonlyMap<string, boolean>>(new Map());
  const calendars = useMemo(
    () => applyHidden(storedCalendars ?? [], hiddenPending),
    [storedCalendars, hiddenPending],
  );
  useEffect(() => {
    // Drop pending show/hide choices once the client reports them.
    setHiddenPending((p) => {
      const next = new Map(
        [...p].filter(([id, h]) => storedCalendars?.find((c) => c.id === id)?.hidden !== h),
      );
      return next.size === p.size ? p : next;
    });
  }, [storedCalendars]);
  const days = useMemo(
    () => visibleDays(route.view, route.date, weekStart),
    [route.view, route.date, weekStart],
  );
  const range = useMemo(() => fetchRange(days, zone), [days, zone]);
  // The month view asks the host for its laid-out grid ([UI-18]), the other views for the range.
  const isMonth = route.view === 'month';
  const { events: stored, loaded: rangeLoaded } = useRangeEvents(client, range, !isMonth);
  const weeks = useMemo(() => monthWeeks(route.date, weekStart), [route.date, weekStart]);
  // Lanes a month week row fits, as the month view measured them (no request before that).
  const [monthLanes, setMonthLanes] = useState<number | null>(null);
  const [overrides, setOverrides] = useState<ReadonlyMap<string, TimeOverride>>(new Map());
  const hiddenIds = calendars
    .filter((c) => c.hidden)
    .map((c) => c.id)
    .join(',');
  const monthRequest = useMemo(
    (): MonthRequest | null =>
      isMonth && monthLanes !== null
        ? {
            firstDay: weeks[0]![0]!,
            weeks: weeks.length,
            zone,
            lanes: monthLanes,
            hidden: hiddenIds === '' ? [] : hiddenIds.split(','),
            moved: movedOf(overrides),
          }
        : null,
    [isMonth, weeks, zone, monthLanes, hiddenIds, overrides],
  );
  const { layout, loaded: monthLoaded } = useMonthLayout(client, monthRequest);
  const loaded = isMonth ? monthLoaded : rangeLoaded;
  // Work the first paint does not need waits until the first range is drawn.
  const [painted, setPainted] = useState(false);
  useEffect(() => {
    if (loaded) setPainted(true);
  }, [loaded]);
  useEffect(() => setOverrides((o) => pruneOverrides(stored, o, Date.now())), [stored]);
  useEffect(() => {
    if (layout) setOverrides((o) => pruneConfirmed(layout.confirmed, o, Date.now()));
  }, [layout]);
  const events = useMemo(() => applyOverrides(stored, overrides), [stored, overrides]);
  const timed = useMemo(() => toTimed(events, calendars, zone), [events, calendars, zone]);
  const sync = useSyncStatus(client);
  const shared = useSharedCalendars(client, calendars, painted);
  const persistence = usePersistentStorage(painted);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [errors, dismissError, pushError] = useHostErrors(client);

  const [dialog, setDialog] = useState<DialogTarget | null>(null);
  const [scopeAsk, setScopeAsk] = useState<{
    kind: 'edit' | 'delete';
    allowThis: boolean;
    resolve: (s: SeriesScope | undefined) => void;
  } | null>(null);
  const [dialogRev, setDialogRev] = useState(0);
  // A repeating event's extra and skipped dates, for the repeat editor (restore a skipped one).
  const [exceptions, setExceptions] = useState<SeriesExceptions | undefined>();
  const dialogSeries = dialog?.occurrence ? `${dialog.calendarId}/${dialog.occurrence.seriesId}` : null;
  useEffect(() => {
    setExceptions(undefined);
    if (dialogSeries === null) return;
    const [cal, series] = dialogSeries.split('/') as [string, string];
    let live = true;
    client.seriesExceptions(cal, series).then(
      (x) => live && setExceptions(x),
      () => {},
    );
    return () => {
      live = false;
    };
  }, [client, dialogSeries]);
  const restoreSkipped = async (recurrenceId: string) => {
    if (dialog?.occurrence === undefined) return;
    const { calendarId } = dialog;
    const { seriesId } = dialog.occurrence;
    const undo = await run(client.restoreOccurrence(calendarId, seriesId, recurrenceId));
    if (undo === undefined) return;
    record('Occurrence restored', () => client.restoreSeries(calendarId, undo));
    setExceptions(await run(client.seriesExceptions(calendarId, seriesId)));
  };
  // Names of the devices behind a conflict's values, from the event's calendar members.
  const [dialogMembers, setDialogMembers] = useState<ReadonlyMap<string, DeviceInfo> | undefined>();
  const conflictCalendar = dialog && dialog.conflicts.length > 0 ? dialog.calendarId : null;
  useEffect(() => {
    setDialogMembers(undefined);
    if (conflictCalendar === null) return;
    let live = true;
    client.listMembers(conflictCalendar).then(
      (list) => live && setDialogMembers(new Map(list.map((d) => [d.id, d]))),
      () => {}, // without names the dialog still shows device ids
    );
    return () => {
      live = false;
    };
  }, [client, conflictCalendar]);
  const [help, setHelp] = useState(false);
  /** The calendar whose settings dialog is open (name, colour, compliance mode). */
  const [calSettings, setCalSettings] = useState<CalendarInfo | null>(null);
  const calSettingsId = calSettings?.id;
  const loadComplianceHistory = useCallback(
    () =>
      calSettingsId === undefined
        ? Promise.resolve({ writes: [], more: 0 })
        : client.complianceHistory(calSettingsId),
    [client, calSettingsId],
  );
  /** The Import dialog, with the file dropped on the app if it was opened that way. */
  const [importing, setImporting] = useState<{ file?: File } | null>(null);
  const [menu, setMenu] = useState(false);
  const [toast, setToast] = useState<{ text: string; entry?: UndoEntry } | null>(null);
  const undo = useRef(new UndoStack());
  // An event to focus once it is rendered (after a keyboard move into another column, or creation).
  const [focusKey, setFocusKey] = useState<string | null>(null);
  const [query, setQuery] = useState('');
  const [results, setResults] = useState<EventView[] | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);
  const mainRef = useRef<HTMLElement>(null);
  const [update, setUpdate] = useState(false);

  useEffect(() => pwa?.onUpdate(() => setUpdate(true)), [pwa]);

  const period =
    page?.kind === 'devices'
      ? 'Devices'
      : page?.kind === 'join'
        ? 'Join calendar'
        : periodTitle(route.view, days, route.date);
  useEffect(() => {
    document.title = `${period} · Ledgerday`;
  }, [period]);

  useEffect(() => {
    if (!toast) return;
    const t = setTimeout(() => setToast(null), TOAST_MS);
    return () => clearTimeout(t);
  }, [toast]);

  // Keyboard moves can carry an event into another column (a remount): put focus back on it, in
  // the commit that remounts it (a layout effect), so a key pressed right after is not lost to
  // the page while the month view's layout arrives from the host.
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-run when the events change
  useLayoutEffect(() => {
    if (!focusKey) return;
    // The month view's bar moves to its new day when the host's layout for the move arrives: until
    // then the focused bar is the one to keep, and the focus follows it once it is redrawn.
    if (isMonth && !loaded) return;
    const el = document.querySelector<HTMLElement>(`main [data-event-key="${CSS.escape(focusKey)}"]`);
    if (!el) return;
    if (document.activeElement !== el) el.focus();
    setFocusKey(null);
  }, [focusKey, timed, layout, isMonth, loaded]);

  useEffect(() => {
    const q = query.trim();
    if (q === '') {
      setResults(null);
      return;
    }
    let live = true;
    setResults(null);
    const t = setTimeout(() => {
      client.search(q, 100).then(
        (r) => live && setResults(r),
        (e: unknown) => live && pushError({ code: 'search', message: String((e as Error)?.message ?? e) }),
      );
    }, 150);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [client, query, pushError]);

  /** Runs a client call; a rejection becomes a visible error instead of an unhandled promise. */
  const run = useCallback(
    async <T,>(p: Promise<T>): Promise<T | undefined> => {
      try {
        return await p;
      } catch (e) {
        pushError({
          code: (e as { code?: string })?.code ?? 'error',
          message: String((e as Error)?.message ?? e),
        });
        return undefined;
      }
    },
    [pushError],
  );

  const record = (text: string, undoFn: () => Promise<void>) => {
    const entry: UndoEntry = { label: text, undo: undoFn };
    undo.current.push(entry);
    setToast({ text, entry });
    return () => {
      undo.current.remove(entry);
      setToast((t) => (t?.entry === entry ? null : t));
    };
  };

  // Compliance mode: the dialog's "History" and its Restore (src/ui/history.ts, CMP-3..7).
  const refreshDialog = async () => {
    const target = dialog;
    if (!target?.id) return;
    const fresh = await run(client.getEvent(target.calendarId, target.id));
    // A new key remounts the dialog, so its form shows the restored value.
    setDialogRev((r) => r + 1);
    setDialog(
      fresh
        ? {
            id: fresh.id,
            calendarId: fresh.calendarId,
            fields: fresh,
            conflicts: fresh.conflicts,
            occurrence: fresh.occurrence,
          }
        : null,
    );
  };
  const history = useEventHistory({
    client,
    calendars,
    target: dialog,
    run,
    record,
    refresh: refreshDialog,
    rev: dialogRev,
  });

  const undoEntry = async (entry: UndoEntry | undefined) => {
    if (!entry) {
      setToast({ text: 'Nothing to undo' });
      return;
    }
    undo.current.remove(entry);
    await run(entry.undo());
    setToast({ text: `Undone: ${entry.label.toLowerCase()}` });
  };

  const commands = createCommands({
    client,
    run,
    record,
    focus: setFocusKey,
    askScope: (kind, allowThis) =>
      new Promise((resolve) =>
        setScopeAsk({
          kind,
          allowThis,
          resolve: (s) => {
            setScopeAsk(null);
            resolve(s);
          },
        }),
      ),
    setOverride: (key, times) =>
      setOverrides((o) => {
        const m = new Map(o);
        if (times) m.set(key, { ...times, at: Date.now() });
        else m.delete(key);
        return m;
      }),
  });

  // ROLE-4: a viewer's calendars are read-only here (the engine refuses their writes anyway): new
  // events go to a calendar this device may write (with none, saving creates "Personal").
  const writable = calendars.filter((c) => c.role !== 'viewer');
  const canWrite = (calendarId: string) => calendars.find((c) => c.id === calendarId)?.role !== 'viewer';
  const viewOnly = (calendarId: string) => {
    if (canWrite(calendarId)) return false;
    setToast({ text: VIEW_ONLY });
    return true;
  };
  const defaultCalendar = () => pickDefaultCalendar(writable, settings.defaultCalendar, shared);

  const openNew = (slot?: { start: string; end: string; allDay: boolean }) => {
    let s = slot;
    if (!s) {
      // Next full hour today, 09:00 on another day.
      const base =
        route.date === today
          ? msToZoned(now, zone).round({ smallestUnit: 'hour', roundingMode: 'ceil' })
          : null;
      const start = base ? msToWall(base.epochMilliseconds, zone) : `${route.date}T09:00`;
      const end = msToWall(wallToMs(start, zone) + settings.eventMinutes * MS_PER_MINUTE, zone);
      s = { start, end, allDay: false };
    }
    const fields: EventFields = {
      title: '',
      start: s.start,
      end: s.allDay ? addDays(s.end, 1) : s.end,
      allDay: s.allDay,
      timeZone: zone,
      location: '',
      notes: '',
    };
    setDialog({ calendarId: defaultCalendar(), fields, conflicts: [] });
  };

  const openEvent = (ui: UiEvent) => {
    setDialog({
      id: ui.ev.id,
      calendarId: ui.ev.calendarId,
      fields: ui.ev,
      conflicts: ui.ev.conflicts,
      occurrence: ui.ev.occurrence,
    });
  };

  const save = async (calendarId: string, fields: EventFields) => {
    const target = dialog;
    if (!target) return;
    // The dialog closes only once the write is durable (or has failed and says so): closing it
    // earlier would let a reload in that moment lose an edit the user saw as saved.
    try {
      await commands.save(target, calendarId, fields);
    } finally {
      setDialog(null);
    }
  };

  const remove = async (calendarId: string, id: string, title: string, occ?: OccurrenceInfo) => {
    setDialog(null);
    await commands.remove(calendarId, id, title, occ);
  };

  const hasFocus = (ui: UiEvent) =>
    document.activeElement instanceof HTMLElement &&
    document.activeElement.dataset['eventKey'] === eventKey(ui);

  const onEventKey = (e: ReactKeyboardEvent<HTMLButtonElement>, ui: UiEvent) => {
    const ev = ui.ev;
    if ((e.key === 'Delete' || e.key === 'Backspace') && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      if (viewOnly(ev.calendarId)) return;
      void remove(ev.calendarId, ev.id, titleOf(ev));
      return;
    }
    if (!e.altKey || !e.key.startsWith('Arrow')) return;
    e.preventDefault();
    e.stopPropagation();
    if (viewOnly(ev.calendarId)) return;
    const next = keyboardTimes(ev, e, route.view);
    if (next) void commands.changeTimes(ev, next, next.what, hasFocus(ui));
  };

  const restoreConflict = async (c: FieldConflict, loser: RegisterWrite) => {
    const target = dialog;
    if (!target?.id) return;
    await run(client.restoreConflict(target.calendarId, target.id, c.field, loser.opId));
    const fresh = await run(client.getEvent(target.calendarId, target.id));
    // A new key remounts the dialog, so its form shows the restored value (the form keeps its own state).
    setDialogRev((r) => r + 1);
    setDialog(
      fresh
        ? { id: fresh.id, calendarId: fresh.calendarId, fields: fresh, conflicts: fresh.conflicts }
        : null,
    );
    setToast({ text: `Restored the other ${c.field === 'allDay' ? 'all-day setting' : c.field}` });
  };

  const nav = (r: Route) => go(r);
  const stepBy = (dir: 1 | -1) => nav({ view: route.view, date: step(route.view, route.date, dir) });
  const setView = (view: View) => nav({ view, date: route.date });
  const goToday = () => nav({ view: route.view, date: today });
  const goToDay = (d: string) => nav({ view: 'day', date: d });

  // Global shortcuts. Ignored while typing and while a dialog is open (the dialog owns the keyboard).
  const keyHandler = useRef<(e: KeyboardEvent) => void>(() => {});
  keyHandler.current = (e: KeyboardEvent) => {
    if (e.defaultPrevented || dialog || help || settingsOpen) return;
    if (e.key === 'Escape' && menu) {
      setMenu(false);
      document.querySelector<HTMLElement>('.menu-btn')?.focus();
      return;
    }
    if ((e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'z' && !e.shiftKey) {
      if (isTyping(e.target)) return; // text fields keep their own undo
      e.preventDefault();
      void undoEntry(undo.current.pop());
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return;
    const action = SHORTCUT_ACTIONS[e.key];
    if (!action) return;
    e.preventDefault();
    if (action === 'new') openNew();
    else if (action === 'today') goToday();
    else if (action === 'next') stepBy(1);
    else if (action === 'prev') stepBy(-1);
    else if (action === 'search') searchRef.current?.focus();
    else if (action === 'help') setHelp(true);
    else setView(action);
  };
  useEffect(() => {
    const h = (e: KeyboardEvent) => keyHandler.current(e);
    window.addEventListener('keydown', h);
    return () => window.removeEventListener('keydown', h);
  }, []);

  useEffect(
    () =>
      startReminders({
        sources: (fromMs, toMs) => client.reminderOccurrences(fromMs, toMs),
        onChange: (cb) => {
          const a = client.onEventsChanged(cb);
          const b = client.onCalendarsChanged(cb);
          return () => {
            a();
            b();
          };
        },
        dismiss: (calendarId, eventId, untilMs) => client.dismissReminder(calendarId, eventId, untilMs),
        zone: deviceZone,
        onError: (message) => pushError({ code: 'reminders', message }),
      }),
    [client, pushError],
  );

  useEffect(() => {
    // A file dropped anywhere on the app opens the Import dialog with it.
    const over = (e: DragEvent) => {
      if (e.dataTransfer?.types.includes('Files')) e.preventDefault();
    };
    const drop = (e: DragEvent) => {
      const file = e.dataTransfer?.files[0];
      if (file === undefined) return;
      e.preventDefault();
      setImporting({ file });
    };
    window.addEventListener('dragover', over);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragover', over);
      window.removeEventListener('drop', drop);
    };
  }, []);

  const onlyCopy = onlyCopyCalendars(calendars, shared, sync?.lastSyncedAt ?? null);
  const visibleSet = useMemo(() => new Set(route.view === 'month' ? [] : days), [route.view, days]);
  const common = { events: timed, zone, today, onOpen: openEvent, onKey: onEventKey };

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

  let main: React.ReactNode;
  if (page?.kind === 'join') {
    main = (
      <Suspense fallback={pageFallback}>
        <JoinPage
          client={client}
          payload={page.payload}
          onJoined={(ids) => void onJoined(ids)}
          onLeave={() => go(route, true)}
        />
      </Suspense>
    );
  } else if (query.trim() !== '') {
    main = (
      <SearchResults
        query={query.trim()}
        results={results}
        calendars={calendars}
        zone={zone}
        onClear={() => setQuery('')}
        onPick={(ui, firstDay) => {
          setQuery('');
          goToDay(firstDay);
          openEvent(ui);
        }}
      />
    );
  } else if (page?.kind === 'devices') {
    main = (
      <Suspense fallback={pageFallback}>
        <DevicesPage
          client={client}
          calendars={calendars}
          now={now}
          onError={pushError}
          onToast={(text) => setToast({ text })}
        />
      </Suspense>
    );
  } else if (route.view === 'month') {
    main = (
      <MonthView
        {...common}
        weeks={weeks}
        layout={layout}
        calendars={calendars}
        overrides={overrides}
        onFit={setMonthLanes}
        month={route.date.slice(0, 7)}
        onCreate={openNew}
        onGoToDay={goToDay}
        onMoveDays={(ui, n) =>
          viewOnly(ui.ev.calendarId) ||
          void commands.changeTimes(ui.ev, shiftEvent(ui.ev, { days: n }), 'Event moved', false)
        }
      />
    );
  } else if (route.view === 'agenda') {
    main = <AgendaView {...common} days={days} />;
  } else {
    main = (
      <TimeGrid
        key={route.view}
        {...common}
        days={days}
        onCreate={openNew}
        onChangeTime={(c) =>
          viewOnly(c.ui.ev.calendarId) || void commands.dragTo(c.ui.ev, c.startMs, c.endMs)
        }
        onGoToDay={goToDay}
        defaultMinutes={settings.eventMinutes}
      />
    );
  }

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
        period={period}
        query={query}
        searchRef={searchRef}
        onQuery={setQuery}
        onToday={goToday}
        onStep={stepBy}
        onView={setView}
        onHelp={() => setHelp(true)}
        onSettings={() => setSettingsOpen(true)}
        onMenu={() => setMenu((m) => !m)}
        menuOpen={menu}
        status={<SyncStatusView status={sync} now={now} />}
      />
      {/* Narrow screens: "New event" floats over the calendar while the sidebar is a closed drawer. */}
      <button type="button" className="fab primary" aria-label="New event" onClick={() => openNew()}>
        <span aria-hidden="true">+</span>
      </button>
      {/* On narrow screens the sidebar is a drawer: a tap outside or Escape closes it ([UI-17]). */}
      {menu && (
        // biome-ignore lint/a11y/useKeyWithClickEvents: Escape closes the menu (window keydown); this is the tap target
        // biome-ignore lint/a11y/noStaticElementInteractions: a backdrop, not a control
        <div className="menu-backdrop" onClick={() => setMenu(false)} />
      )}
      <aside id="sidebar" className="sidebar" aria-label="Sidebar">
        <button
          type="button"
          className="new-event primary"
          aria-keyshortcuts="n"
          onClick={() => {
            setMenu(false);
            openNew();
          }}
        >
          <span aria-hidden="true">+ </span>New event
        </button>
        <MiniMonth
          selected={route.date}
          today={today}
          weekStart={weekStart}
          visible={visibleSet}
          onPick={(d) => {
            setMenu(false);
            nav({ view: route.view, date: d });
          }}
        />
        <CalendarList
          calendars={calendars}
          onToggle={(c, hidden) => {
            setHiddenPending((p) => new Map(p).set(c.id, hidden));
            void run(client.setCalendarHidden(c.id, hidden));
          }}
          onCreate={async (name, color) => {
            await run(client.createCalendar(name, color));
          }}
          onSettings={(c) => setCalSettings(c)}
        />
        <TransferSection
          client={client}
          calendars={calendars}
          zone={zone}
          onImport={() => setImporting({})}
          onError={(message) => pushError({ code: 'export', message })}
          onToast={(text) => setToast({ text })}
        />
        <StorageNotice
          persistence={persistence}
          onlyCopy={onlyCopy}
          onAddDevice={() => openPage(DEVICES_HASH)}
        />
        {/* Phones: the header's Devices button lives here (hidden on wider screens). */}
        <nav className="drawer-links" aria-label="More">
          <button
            type="button"
            onClick={() => {
              setMenu(false);
              openPage(DEVICES_HASH);
            }}
          >
            Devices
          </button>
        </nav>
      </aside>
      <main
        id="main"
        ref={mainRef}
        tabIndex={-1}
        className={page ? `main page-${page.kind}` : `main view-${route.view}`}
        aria-label={period}
      >
        {main}
      </main>
      <ErrorAlerts errors={errors} onDismiss={dismissError} />
      {/* After the main view in the tab order (UI-12): a card at the bottom left, not in the sidebar. */}
      <RecoveryOffer client={client} calendars={calendars} now={now} />
      <Toast
        text={toast?.text ?? null}
        canUndo={toast?.entry !== undefined}
        onUndo={() => void undoEntry(toast?.entry)}
        onClose={() => setToast(null)}
      />
      {update && pwa && <UpdatePrompt onReload={() => pwa.applyUpdate()} onLater={() => setUpdate(false)} />}
      {dialog?.id !== undefined && !canWrite(dialog.calendarId) ? (
        <EventReadOnly
          fields={dialog.fields}
          calendar={calendars.find((c) => c.id === dialog.calendarId)}
          displayZone={zone}
          onClose={() => setDialog(null)}
        />
      ) : (
        dialog && (
          <EventDialog
            key={`${dialog.id ?? 'new'}:${dialogRev}`}
            target={dialog}
            calendars={dialog.id === undefined ? writable : calendars}
            displayZone={zone}
            members={dialogMembers}
            shared={shared}
            onClose={() => setDialog(null)}
            onSave={(c, f) => void save(c, f)}
            onDelete={() =>
              dialog.id &&
              void remove(dialog.calendarId, dialog.id, titleOf(dialog.fields), dialog.occurrence)
            }
            onRestore={(c, l) => void restoreConflict(c, l)}
            exceptions={exceptions}
            onRestoreSkipped={(r) => void restoreSkipped(r)}
            history={history}
          />
        )
      )}
      {scopeAsk && (
        <SeriesScopeDialog kind={scopeAsk.kind} allowThis={scopeAsk.allowThis} onDone={scopeAsk.resolve} />
      )}
      {calSettings && (
        <CalendarSettingsDialog
          calendar={calSettings}
          displayZone={zone}
          loadComplianceHistory={loadComplianceHistory}
          onClose={() => setCalSettings(null)}
          onSave={async (next) => {
            const c = calSettings;
            if (next.name !== c.name || next.color !== c.color)
              await run(client.renameCalendar(c.id, next.name, next.color));
            if (next.compliance !== (c.compliance === true))
              await run(client.setCompliance(c.id, next.compliance));
            setCalSettings(null);
          }}
        />
      )}
      {help && <HelpDialog onClose={() => setHelp(false)} />}
      {importing && (
        <Suspense fallback={null}>
          <ImportDialog
            client={client}
            calendars={calendars}
            zone={device}
            file={importing.file}
            onClose={() => setImporting(null)}
            onDone={(text) => {
              setImporting(null);
              setToast({ text });
            }}
          />
        </Suspense>
      )}
      {settingsOpen && (
        <SettingsDialog
          settings={settings}
          calendars={calendars}
          shared={shared}
          deviceZone={device}
          storage={
            <StorageNotice
              persistence={persistence}
              onlyCopy={onlyCopy}
              onAddDevice={() => {
                setSettingsOpen(false);
                openPage(DEVICES_HASH);
              }}
            />
          }
          onChange={changeSettings}
          onClose={() => setSettingsOpen(false)}
        />
      )}
    </div>
  );
}
