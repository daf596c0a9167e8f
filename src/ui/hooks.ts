// React hooks over the CalendarClient: calendars, events of the visible range, sync status, host errors,
// route and pages, this device and calendar members.
import { useCallback, useEffect, useRef, useState } from 'react';
import type {
  CalendarClient,
  CalendarInfo,
  DeviceInfo,
  EventView,
  HostError,
  MonthLayout,
  MonthRequest,
  Range,
  SyncStatus,
} from '../worker/api.ts';
import { type Page, parsePage } from './devices.ts';
import { loadSettings, parseSettings, type Settings, saveSettings } from './settings.ts';
import { formatRoute, parseRoute, type Route } from './time/nav.ts';

export function useCalendars(client: CalendarClient): CalendarInfo[] | null {
  const [cals, setCals] = useState<CalendarInfo[] | null>(null);
  useEffect(() => {
    let live = true;
    const off = client.onCalendarsChanged((c) => live && setCals(c));
    client.listCalendars().then(
      (c) => live && setCals(c),
      () => live && setCals([]),
    );
    return () => {
      live = false;
      off();
    };
  }, [client]);
  return cals;
}

/** Events of a range, kept current by the client's subscription (local, other tab, remote edits). */
export function useRangeEvents(
  client: CalendarClient,
  range: Range,
  enabled = true,
): { events: EventView[]; loaded: boolean } {
  const [state, setState] = useState<{ key: string; events: EventView[] }>({ key: '', events: [] });
  const key = `${range.fromMs}:${range.toMs}`;
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    const [from, to] = key.split(':').map(Number) as [number, number];
    const off = client.subscribeRange({ fromMs: from, toMs: to }, (events) => {
      if (live) setState({ key, events });
    });
    return () => {
      live = false;
      off();
    };
  }, [client, key, enabled]);
  // Keep showing the previous range's events until the new range arrives (no blank flash).
  return { events: state.events, loaded: state.key === key };
}

/**
 * The month grid the host lays out for `request` (null: not in the month view), kept current like
 * a range. The last layout of the same grid (days and zone) is kept while a new one is asked for
 * (another lane count, an optimistic move); one of another grid is not shown.
 */
export function useMonthLayout(
  client: CalendarClient,
  request: MonthRequest | null,
): { layout: MonthLayout | null; loaded: boolean } {
  const [state, setState] = useState<{ key: string; grid: string; layout: MonthLayout | null }>({
    key: '',
    grid: '',
    layout: null,
  });
  const key = request === null ? '' : JSON.stringify(request);
  const grid = request === null ? '' : gridOf(request);
  useEffect(() => {
    if (key === '') return;
    let live = true;
    const req = JSON.parse(key) as MonthRequest;
    const off = client.subscribeMonth(req, (layout) => {
      if (live) setState({ key, grid: gridOf(req), layout });
    });
    return () => {
      live = false;
      off();
    };
  }, [client, key]);
  return { layout: state.grid === grid ? state.layout : null, loaded: key !== '' && state.key === key };
}

const gridOf = (r: MonthRequest) => `${r.firstDay}|${r.weeks}|${r.zone}`;

export function useSyncStatus(client: CalendarClient): SyncStatus | null {
  const [s, setS] = useState<SyncStatus | null>(null);
  useEffect(() => client.onSyncStatus(setS), [client]);
  return s;
}

export interface ShownError extends HostError {
  key: number;
}

export function useHostErrors(
  client: CalendarClient,
): [ShownError[], (key: number) => void, (e: HostError) => void] {
  const [errors, setErrors] = useState<ShownError[]>([]);
  const push = useCallback(
    (e: HostError) =>
      setErrors((prev) => {
        // The same error repeating (e.g. quota on every write) is shown once.
        if (prev.some((p) => p.code === e.code && p.message === e.message)) return prev;
        return [...prev.slice(-4), { ...e, key: Date.now() + Math.random() }];
      }),
    [],
  );
  useEffect(() => client.onError(push), [client, push]);
  const dismiss = useCallback((key: number) => setErrors((prev) => prev.filter((e) => e.key !== key)), []);
  return [errors, dismiss, push];
}

/**
 * The route lives in location.hash so reload and back/forward keep the place. Besides calendar
 * views (`#/<view>/<date>`) the hash can name a page (`#/devices`, `#/join/<payload>`); while a
 * page is shown, `route` keeps the last calendar place so the header still has a date to step from.
 */
export function useRoute(
  fallback: () => Route,
): [Route, (r: Route, replace?: boolean) => void, Page | null, (hash: string) => void] {
  const fb = useRef(fallback);
  fb.current = fallback;
  const read = useCallback((prev?: Route): { route: Route; page: Page | null } => {
    const h = window.location.hash;
    return { route: parseRoute(h) ?? prev ?? fb.current(), page: parsePage(h) };
  }, []);
  const [loc, setLoc] = useState(() => read());
  useEffect(() => {
    const onHash = () => setLoc((l) => read(l.route));
    window.addEventListener('hashchange', onHash);
    // Normalise a missing or invalid hash without adding a history entry (pages are valid hashes).
    const h = window.location.hash;
    if (parseRoute(h) === null && parsePage(h) === null) {
      history.replaceState(null, '', formatRoute(read().route));
    }
    return () => window.removeEventListener('hashchange', onHash);
  }, [read]);
  const go = useCallback((r: Route, replace = false) => {
    const hash = formatRoute(r);
    if (hash === window.location.hash) return;
    if (replace) history.replaceState(null, '', hash);
    else history.pushState(null, '', hash);
    setLoc({ route: r, page: null });
  }, []);
  const open = useCallback((hash: string) => {
    if (hash === window.location.hash) return;
    history.pushState(null, '', hash);
    setLoc((l) => ({ route: l.route, page: parsePage(hash) }));
  }, []);
  return [loc.route, go, loc.page, open];
}

/** This device as the client describes it; `reload` after renaming. */
export function useThisDevice(client: CalendarClient): {
  device: DeviceInfo | null;
  error: string | null;
  reload: () => void;
} {
  const [state, setState] = useState<{ device: DeviceInfo | null; error: string | null }>({
    device: null,
    error: null,
  });
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the reload trigger
  useEffect(() => {
    let live = true;
    client.thisDevice().then(
      (device) => live && setState({ device, error: null }),
      (e: unknown) => live && setState((s) => ({ ...s, error: String((e as Error)?.message ?? e) })),
    );
    return () => {
      live = false;
    };
  }, [client, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export type MembersState = DeviceInfo[] | { error: string };

/** Members of every listed calendar: read now, on onMembersChanged, and every `refreshMs` (last seen). */
export function useMembers(
  client: CalendarClient,
  calendarIds: readonly string[],
  refreshMs = 30_000,
): [ReadonlyMap<string, MembersState>, (calendarId: string) => void] {
  const [members, setMembers] = useState<ReadonlyMap<string, MembersState>>(new Map());
  const key = calendarIds.join(',');
  const liveRef = useRef(true);
  const load = useCallback(
    (id: string) => {
      client.listMembers(id).then(
        (list) => liveRef.current && setMembers((m) => new Map(m).set(id, list)),
        (e: unknown) =>
          liveRef.current &&
          setMembers((m) => new Map(m).set(id, { error: String((e as Error)?.message ?? e) })),
      );
    },
    [client],
  );
  useEffect(() => {
    liveRef.current = true;
    const ids = key === '' ? [] : key.split(',');
    const all = () => {
      for (const id of ids) load(id);
    };
    all();
    const off = client.onMembersChanged((id) => {
      if (ids.includes(id)) load(id);
    });
    const t = setInterval(all, refreshMs);
    return () => {
      liveRef.current = false;
      off();
      clearInterval(t);
    };
  }, [client, key, load, refreshMs]);
  return [members, load];
}

/** This person's devices (PER-1): read now, on any membership change, and every `refreshMs`. */
export function useMyDevices(
  client: CalendarClient,
  refreshMs = 30_000,
): { state: MembersState | undefined; reload: () => void } {
  const [state, setState] = useState<MembersState | undefined>(undefined);
  const [tick, setTick] = useState(0);
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is the reload trigger
  useEffect(() => {
    let live = true;
    const load = () =>
      client.listMyDevices().then(
        (list) => live && setState(list),
        (e: unknown) => live && setState({ error: String((e as Error)?.message ?? e) }),
      );
    load();
    const off = client.onMembersChanged(() => load());
    const t = setInterval(load, refreshMs);
    return () => {
      live = false;
      off();
      clearInterval(t);
    };
  }, [client, tick, refreshMs]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { state, reload };
}

/** A string preference in localStorage, validated on read (storage is input like any other). */
/** Settings kept on this device ([UI-15]); every change is saved at once. */
export function useSettings(defaults: () => Settings): [Settings, (patch: Partial<Settings>) => void] {
  const storage = typeof localStorage === 'undefined' ? undefined : localStorage;
  const [s, setS] = useState(() => loadSettings(storage, defaults()));
  const update = useCallback(
    (patch: Partial<Settings>) =>
      setS((cur) => {
        const next = parseSettings({ ...cur, ...patch }, cur);
        saveSettings(storage, next);
        return next;
      }),
    [storage],
  );
  return [s, update];
}

/**
 * Calendars that have member devices besides this one (kept fresh as members change). Asked only
 * once `enabled` (the first range has been drawn): member lists need the replica, and asking
 * earlier would start its load before the first paint ([RT-12]).
 */
export function useSharedCalendars(
  client: CalendarClient,
  calendars: CalendarInfo[],
  enabled: boolean,
): ReadonlySet<string> {
  const [shared, setShared] = useState<ReadonlySet<string>>(new Set());
  const [rev, setRev] = useState(0);
  useEffect(() => client.onMembersChanged(() => setRev((r) => r + 1)), [client]);
  const ids = calendars.map((c) => c.id).join(',');
  // biome-ignore lint/correctness/useExhaustiveDependencies: re-read when the ids or members change
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    const list = ids === '' ? [] : ids.split(',');
    Promise.all(
      list.map((id) =>
        client.listMembers(id).then(
          (m) => (m.length > 1 ? id : null),
          () => null,
        ),
      ),
    ).then((r) => {
      if (live) setShared(new Set(r.filter((x): x is string => x !== null)));
    });
    return () => {
      live = false;
    };
  }, [client, ids, rev, enabled]);
  return shared;
}

export type Persistence = 'persisted' | 'refused' | 'unsupported' | 'unknown';

/**
 * Asks the browser once per start to keep this site's data ([UI-16]): without it IndexedDB is
 * "best effort" and may be evicted under storage pressure. The answer is shown, not hidden.
 */
export function usePersistentStorage(enabled: boolean): Persistence {
  const [p, setP] = useState<Persistence>('unknown');
  useEffect(() => {
    if (!enabled) return;
    let live = true;
    const sm = typeof navigator === 'undefined' ? undefined : navigator.storage;
    if (!sm?.persist || !sm.persisted) {
      setP('unsupported');
      return;
    }
    (async () => {
      const already = await sm.persisted();
      const ok = already || (await sm.persist());
      if (live) setP(ok ? 'persisted' : 'refused');
    })().catch(() => live && setP('refused'));
    return () => {
      live = false;
    };
  }, [enabled]);
  return p;
}
