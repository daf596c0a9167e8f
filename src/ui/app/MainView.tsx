// The main area: a page that replaces the calendar (Join, Devices), the search results while there
// is a query, or the calendar in the chosen view (month, agenda, week or day).
import { lazy, Suspense } from 'react';
import type { CalendarClient, CalendarInfo, EventView, HostError, MonthLayout } from '../../worker/api.ts';
import { AgendaView } from '../components/AgendaView.tsx';
import { MonthView } from '../components/MonthView.tsx';
import { SearchResults } from '../components/SearchResults.tsx';
import { type GridProps, TimeGrid } from '../components/TimeGrid.tsx';
import type { Page } from '../devices.ts';
import type { UiEvent } from '../model.ts';
import type { TimeOverride } from '../pending.ts';
import type { Route } from '../time/nav.ts';
import type { DateStr } from '../time/zoned.ts';

// Pages most visits never open: separate chunks (precached for offline like the rest), so the
// shell that paints the calendar stays small.
const DevicesPage = lazy(() =>
  import('../components/DevicesPage.tsx').then((m) => ({ default: m.DevicesPage })),
);
const JoinPage = lazy(() => import('../components/JoinPage.tsx').then((m) => ({ default: m.JoinPage })));
const pageFallback = (
  <p className="muted page-loading" role="status">
    Loading…
  </p>
);

/** The calendar views' common props (the week/day grid's, less what only the grid takes). */
type ViewProps = Omit<GridProps, 'defaultMinutes'>;

export interface MainViewProps extends ViewProps {
  client: CalendarClient;
  page: Page | null;
  route: Route;
  calendars: CalendarInfo[];
  now: number;
  query: string;
  results: EventView[] | null;
  onClearQuery: () => void;
  onPickResult: (ui: UiEvent, firstDay: DateStr) => void;
  onJoined: (calendarIds: string[]) => void;
  onLeaveJoin: () => void;
  onError: (e: HostError) => void;
  onToast: (text: string) => void;
  weeks: DateStr[][];
  layout: MonthLayout | null;
  overrides: ReadonlyMap<string, TimeOverride>;
  onFit: (lanes: number) => void;
  onMoveDays: (ui: UiEvent, days: number) => void;
  defaultMinutes: number;
}

export function MainView(p: MainViewProps) {
  const { page, route } = p;
  const common = { events: p.events, zone: p.zone, today: p.today, onOpen: p.onOpen, onKey: p.onKey };
  if (page?.kind === 'join') {
    return (
      <Suspense fallback={pageFallback}>
        <JoinPage client={p.client} payload={page.payload} onJoined={p.onJoined} onLeave={p.onLeaveJoin} />
      </Suspense>
    );
  }
  if (p.query.trim() !== '') {
    return (
      <SearchResults
        query={p.query.trim()}
        results={p.results}
        calendars={p.calendars}
        zone={p.zone}
        onClear={p.onClearQuery}
        onPick={p.onPickResult}
      />
    );
  }
  if (page?.kind === 'devices') {
    return (
      <Suspense fallback={pageFallback}>
        <DevicesPage
          client={p.client}
          calendars={p.calendars}
          now={p.now}
          onError={p.onError}
          onToast={p.onToast}
        />
      </Suspense>
    );
  }
  if (route.view === 'month') {
    return (
      <MonthView
        {...common}
        weeks={p.weeks}
        layout={p.layout}
        calendars={p.calendars}
        overrides={p.overrides}
        onFit={p.onFit}
        month={route.date.slice(0, 7)}
        onCreate={p.onCreate}
        onGoToDay={p.onGoToDay}
        onMoveDays={p.onMoveDays}
      />
    );
  }
  if (route.view === 'agenda') return <AgendaView {...common} days={p.days} />;
  return (
    <TimeGrid
      key={route.view}
      {...common}
      days={p.days}
      onCreate={p.onCreate}
      onChangeTime={p.onChangeTime}
      onGoToDay={p.onGoToDay}
      defaultMinutes={p.defaultMinutes}
    />
  );
}
