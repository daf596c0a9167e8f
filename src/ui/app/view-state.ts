// What the calendar shows: the settings, the clock, the route (view and date), the calendars with
// their pending show/hide choices, the visible days and their events with optimistic moves applied,
// and the month view's laid-out grid ([UI-18]).
import { useEffect, useMemo, useState } from 'react';
import type { CalendarClient, CalendarInfo, MonthRequest } from '../../worker/api.ts';
import type { Page } from '../devices.ts';
import { useCalendars, useMonthLayout, useRangeEvents, useRoute, useSettings } from '../hooks.ts';
import { toTimed } from '../model.ts';
import {
  applyHidden,
  applyOverrides,
  movedOf,
  pruneConfirmed,
  pruneOverrides,
  type TimeOverride,
} from '../pending.ts';
import { fetchRange, localeWeekStart, monthWeeks, type Route, type View, visibleDays } from '../time/nav.ts';
import {
  deviceZone,
  formatDateLong,
  formatDateRange,
  formatMonthYear,
  localeHourCycle,
  msToZoned,
  setDisplayFormat,
  todayIn,
  uiLocale,
} from '../time/zoned.ts';
import { canonicalZone } from '../time/zones.ts';

/** The UI's one locale: English, with the browser's region conventions ([UI-15]). */
const UI_LOCALE = uiLocale();

/** A phone-sized window opens on the day view; wider ones on the week. */
function defaultView(): View {
  return typeof matchMedia === 'function' && matchMedia('(max-width: 640px)').matches ? 'day' : 'week';
}

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

/** The Settings, with the device's zone they default to; sets the display format ([UI-15]). */
function useDisplaySettings() {
  const device = useMemo(() => canonicalZone(deviceZone()), []);
  const [settings, changeSettings] = useSettings(() => ({
    weekStart: localeWeekStart(),
    timeFormat: localeHourCycle() === 'h23' ? '24' : '12',
    defaultCalendar: '',
    eventMinutes: 60,
    displayZone: device,
  }));
  // Every date and time below is written in one format ([UI-15]); set before children render.
  setDisplayFormat({ locale: UI_LOCALE, hourCycle: settings.timeFormat === '24' ? 'h23' : 'h12' });
  return { device, settings, changeSettings };
}

/** The time now, to the half minute (today's date and the now line follow it). */
function useClock(): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(t);
  }, []);
  return now;
}

/** The main area's title (and the document's): the page, or the view's period. */
function usePeriodTitle(page: Page | null, route: Route, days: string[]): string {
  const period =
    page?.kind === 'devices'
      ? 'Devices'
      : page?.kind === 'join'
        ? 'Join calendar'
        : periodTitle(route.view, days, route.date);
  useEffect(() => {
    document.title = `${period} · Ledgerday`;
  }, [period]);
  return period;
}

export function useViewState(client: CalendarClient) {
  const { device, settings, changeSettings } = useDisplaySettings();
  const zone = settings.displayZone;
  const weekStart = settings.weekStart;
  const now = useClock();
  const today = useMemo(() => msToZoned(now, zone).toPlainDate().toString(), [now, zone]);
  // Narrow screens open on one day: seven columns do not fit a phone ([UI-17]).
  const [route, go, page, openPage] = useRoute(() => ({ view: defaultView(), date: todayIn(zone) }));
  const [calendars, setHiddenPending] = useCalendarList(client);
  const days = useMemo(
    () => visibleDays(route.view, route.date, weekStart),
    [route.view, route.date, weekStart],
  );
  const range = useMemo(() => fetchRange(days, zone), [days, zone]);
  // The month view asks the host for its laid-out grid ([UI-18]), the other views for the range.
  const isMonth = route.view === 'month';
  const { events: stored, loaded: rangeLoaded } = useRangeEvents(client, range, !isMonth);
  const weeks = useMemo(() => monthWeeks(route.date, weekStart), [route.date, weekStart]);
  const [overrides, setOverrides] = useState<ReadonlyMap<string, TimeOverride>>(new Map());
  const month = useMonthGrid(client, isMonth, weeks, zone, calendars, overrides);
  const { layout, setMonthLanes } = month;
  const loaded = isMonth ? month.loaded : rangeLoaded;
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
  const period = usePeriodTitle(page, route, days);
  return {
    period,
    device,
    settings,
    changeSettings,
    zone,
    weekStart,
    now,
    today,
    route,
    go,
    page,
    openPage,
    calendars,
    setHiddenPending,
    days,
    weeks,
    isMonth,
    loaded,
    painted,
    layout,
    setMonthLanes,
    overrides,
    setOverrides,
    timed,
  };
}

/** The calendars, with the show/hide choices the client has not reported back yet. */
function useCalendarList(client: CalendarClient) {
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
  return [calendars, setHiddenPending] as const;
}

/** The month view's grid as the host lays it out for the lanes a week row fits ([UI-18]). */
function useMonthGrid(
  client: CalendarClient,
  isMonth: boolean,
  weeks: string[][],
  zone: string,
  calendars: CalendarInfo[],
  overrides: ReadonlyMap<string, TimeOverride>,
) {
  // Lanes a month week row fits, as the month view measured them (no request before that).
  const [monthLanes, setMonthLanes] = useState<number | null>(null);
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
  const { layout, loaded } = useMonthLayout(client, monthRequest);
  return { layout, loaded, setMonthLanes };
}
