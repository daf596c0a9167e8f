// The UI's only door to its data: a CalendarClient over comlink to this tab's worker. Range
// subscriptions live here: the host announces which UTC intervals changed, and every
// subscription whose range overlaps one re-reads its events (coalesced: one read in flight).

import * as Comlink from 'comlink';
import type {
  CalendarClient,
  CalendarInfo,
  HostError,
  ImportProgress,
  Range,
  SyncStatus,
  Unsubscribe,
} from './api.ts';
import { callHost, type HostEvent, hostApiOf, RemoteError, toWireError } from './host-api.ts';
import { checkMonthRequest, monthRange } from './month-layout.ts';
import type { WorkerApi } from './rpc.ts';

export interface ClientOptions {
  /** Starts the worker (or hands over one already started; undefined: start the default one);
   * tests and fixtures pass their own bundle's URL. */
  worker?: () => Worker | undefined;
}

interface RangeSub {
  range: Range;
  /** What the subscriber reads (its range's events, or a month layout of that range). */
  read: () => Promise<unknown>;
  cb: (answer: never) => void;
  running: boolean;
  dirty: boolean;
  live: boolean;
}

const overlaps = (a: Range, b: Range) => a.fromMs < b.toMs && a.toMs > b.fromMs;

/** A fresh random event id (16 bytes hex), chosen here so a retried create stays one event. */
function newEventId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export async function createCalendarClient(options: ClientOptions = {}): Promise<CalendarClient> {
  const worker =
    options.worker?.() ??
    new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'ledgerday' });
  const remote = Comlink.wrap<WorkerApi>(worker);

  const errorCbs = new Set<(e: HostError) => void>();
  const calendarCbs = new Set<(c: CalendarInfo[]) => void>();
  const syncCbs = new Set<(s: SyncStatus) => void>();
  const memberCbs = new Set<(calendarId: string) => void>();
  const importCbs = new Set<(p: ImportProgress) => void>();
  const changeCbs = new Set<() => void>();
  const subs = new Set<RangeSub>();
  // Errors seen before the UI subscribed (e.g. storage unavailable at start) are replayed once.
  const early: HostError[] = [];

  const reportError = (e: HostError) => {
    if (errorCbs.size === 0) {
      if (early.length < 10) early.push(e);
      return;
    }
    for (const cb of errorCbs) cb(e);
  };

  const workerFailed = (ev: Event) =>
    `the data worker failed to start: ${(ev as ErrorEvent).message || 'its script did not load'}`;
  worker.addEventListener('error', (ev) => reportError({ code: 'Worker', message: workerFailed(ev) }));
  // A worker whose script never loads (a failed fetch, a syntax error, a blocked module) answers
  // nothing: the first call below would wait forever behind the splash. Its error event ends the
  // wait instead, and the caller shows why.
  const startFailed = new Promise<never>((_, reject) =>
    worker.addEventListener('error', (ev) => reject(new Error(workerFailed(ev))), { once: true }),
  );
  startFailed.catch(() => {});

  async function call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err = new RemoteError(toWireError(e));
      if (err.code === 'Storage') reportError({ code: err.code, message: err.message });
      throw err;
    }
  }

  async function refresh(sub: RangeSub): Promise<void> {
    if (sub.running) {
      sub.dirty = true;
      return;
    }
    sub.running = true;
    try {
      do {
        sub.dirty = false;
        const answer = await call(sub.read).catch(() => undefined);
        if (sub.live && answer !== undefined) sub.cb(answer as never);
      } while (sub.dirty && sub.live);
    } finally {
      sub.running = false;
    }
  }

  function subscribe<T>(range: Range, read: () => Promise<T>, cb: (answer: T) => void): Unsubscribe {
    const sub: RangeSub = { range, read, cb, running: false, dirty: false, live: true };
    subs.add(sub);
    void refresh(sub);
    return () => {
      sub.live = false;
      subs.delete(sub);
    };
  }

  let syncRefreshing = false;
  async function refreshSync(): Promise<void> {
    if (syncCbs.size === 0 || syncRefreshing) return;
    syncRefreshing = true;
    try {
      const s = await remote.syncStatus().catch(() => undefined);
      if (s) for (const cb of syncCbs) cb(s);
    } finally {
      syncRefreshing = false;
    }
  }

  const onHostEvent = (e: HostEvent) => {
    switch (e.type) {
      case 'events':
        for (const sub of subs) if (e.intervals.some((i) => overlaps(i, sub.range))) void refresh(sub);
        for (const cb of changeCbs) cb();
        void refreshSync();
        break;
      case 'calendars':
        if (calendarCbs.size > 0) {
          void call(() => remote.listCalendars()).then(
            (cals) => {
              for (const cb of calendarCbs) cb(cals);
            },
            () => {},
          );
        }
        void refreshSync();
        break;
      case 'error':
        reportError(e.error);
        break;
      case 'sync':
        for (const cb of syncCbs) cb(e.status);
        break;
      case 'members':
        for (const cb of memberCbs) cb(e.calendarId);
        break;
      case 'import':
        for (const cb of importCbs) cb({ importId: e.importId, done: e.done, total: e.total });
        break;
    }
  };
  await Promise.race([remote.subscribe(Comlink.proxy(onHostEvent)), startFailed]);
  // Connectivity as the page sees it goes to the sync loop (SYNC-10): a worker may not get these
  // events (or the emulated offline state of a test browser), and an open WebSocket is not closed
  // by the browser going offline.
  if (typeof globalThis.addEventListener === 'function') {
    globalThis.addEventListener('online', () => void remote.setOnline(true).catch(() => {}));
    globalThis.addEventListener('offline', () => void remote.setOnline(false).catch(() => {}));
  }

  // Every shared call goes to the worker as is; errors come back as RemoteError (and Storage
  // errors are also shown). The method list is HOST_METHODS, not a second copy here.
  const host = hostApiOf(
    (m) =>
      (...args: unknown[]) =>
        call(() => callHost(remote, m, args)),
  );
  return {
    ...host,
    onCalendarsChanged(cb) {
      calendarCbs.add(cb);
      return () => calendarCbs.delete(cb);
    },
    subscribeRange(range, cb): Unsubscribe {
      const r = { ...range };
      return subscribe(r, () => remote.eventsInRange(r), cb);
    },
    subscribeMonth(request, cb): Unsubscribe {
      const req = structuredClone(request);
      // A malformed request covers no range; the host says why (as an error of the read).
      const range = checkMonthRequest(req) === undefined ? monthRange(req) : { fromMs: 0, toMs: 0 };
      return subscribe(range, () => remote.monthLayout(req), cb);
    },
    createEvent: (cal, fields) => host.createEvent(cal, newEventId(), fields),
    onSyncStatus(cb) {
      syncCbs.add(cb);
      void remote.syncStatus().then(
        (s) => syncCbs.has(cb) && cb(s),
        () => {},
      );
      return () => syncCbs.delete(cb);
    },
    onError(cb) {
      errorCbs.add(cb);
      for (const e of early.splice(0)) cb(e);
      return () => errorCbs.delete(cb);
    },
    onMembersChanged(cb) {
      memberCbs.add(cb);
      return () => memberCbs.delete(cb);
    },
    onImportProgress(cb) {
      importCbs.add(cb);
      return () => importCbs.delete(cb);
    },
    onEventsChanged(cb) {
      changeCbs.add(cb);
      return () => changeCbs.delete(cb);
    },
  };
}
