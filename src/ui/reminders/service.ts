// Reminders at run time (docs/PROTOCOL.md REM-*): one tab of the profile (the holder of a Web
// Lock) watches the events with reminders, shows each due one as a system notification through
// the service worker, shows on start the ones that fell due while no tab was open, closes those
// dismissed on another device, and writes a dismissal (a synced register) when the user closes or
// clicks one. There is no server push (the relay cannot read times), so nothing fires while no
// tab or window of the app is open.

import { dueBetween, MISSED_LOOKBACK_MS, nextFire, type ReminderSource } from './schedule.ts';

export interface ReminderDeps {
  /** Occurrences with reminders whose start is in the range, and a way to hear of changes. */
  sources(fromMs: number, toMs: number): Promise<ReminderSource[]>;
  onChange(cb: () => void): () => void;
  /** Writes the synced dismissal of an event's reminders up to `untilMs` (REM-3). */
  dismiss(calendarId: string, eventId: string, untilMs: number): Promise<void>;
  zone(): string;
  now?: () => number;
  /** Where the last moment this device checked is kept (per device, not synced). */
  storage?: Pick<Storage, 'getItem' | 'setItem'>;
  onError?: (message: string) => void;
}

const LAST_KEY = 'ledgerday.reminders.checkedUntil';
/** The schedule is re-read at least this often (clock changes, a sleeping laptop, new range). */
const MAX_SLEEP_MS = 15 * 60_000;
/** Occurrences starting this far ahead are read (alarms of up to 7 days before, plus slack). */
const AHEAD_MS = 8 * 24 * 3_600_000;

interface ReminderData {
  kind: 'ledgerday-reminder';
  calendarId: string;
  eventId: string;
  fireAtMs: number;
  startMs: number;
}

function isReminderData(v: unknown): v is ReminderData {
  const o = v as Partial<ReminderData> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    o.kind === 'ledgerday-reminder' &&
    typeof o.calendarId === 'string' &&
    typeof o.eventId === 'string' &&
    Number.isFinite(o.fireAtMs)
  );
}

async function registration(): Promise<ServiceWorkerRegistration | undefined> {
  if (!('serviceWorker' in navigator)) return undefined;
  return (await navigator.serviceWorker.getRegistration()) ?? undefined;
}

/** Starts the reminder loop in this tab once it holds the profile's reminder lock. Returns stop. */
export function startReminders(deps: ReminderDeps): () => void {
  let stopLoop: (() => void) | undefined;
  let stopped = false;
  let releaseLock = () => {};
  // Held until stop (this tab closing releases it too): then the next tab's request is granted.
  const held = () =>
    new Promise<void>((resolve) => {
      releaseLock = resolve;
      if (stopped) resolve();
      else stopLoop = loop(deps);
    });
  if (typeof navigator !== 'undefined' && navigator.locks)
    void navigator.locks.request('ledgerday-reminders', held).catch(() => {});
  else void held();
  return () => {
    stopped = true;
    stopLoop?.();
    releaseLock();
  };
}

function loop(deps: ReminderDeps): () => void {
  const now = deps.now ?? Date.now;
  const storage = deps.storage ?? globalThis.localStorage;
  const stored = Number(storage?.getItem(LAST_KEY));
  // First start on this device: nothing counts as missed.
  let checkedUntil =
    Number.isFinite(stored) && stored > 0 ? Math.max(stored, now() - MISSED_LOOKBACK_MS) : now();
  const firstRun = { missed: true };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let again = false;
  let live = true;

  const tick = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        const t = now();
        const sources = await deps.sources(checkedUntil - AHEAD_MS, t + AHEAD_MS);
        if (!live) return;
        await closeDismissed(sources);
        const due = dueBetween(sources, checkedUntil, t, deps.zone());
        for (const d of due) await show(d, firstRun.missed && d.fireAtMs < t - 60_000);
        firstRun.missed = false;
        checkedUntil = t;
        storage?.setItem(LAST_KEY, String(t));
        const next = nextFire(sources, t, deps.zone());
        clearTimeout(timer);
        const sleep = next === undefined ? MAX_SLEEP_MS : Math.min(MAX_SLEEP_MS, Math.max(0, next - now()));
        timer = setTimeout(() => void tick(), sleep);
      } while (again && live);
    } catch (e) {
      deps.onError?.(`Reminders: ${e instanceof Error ? e.message : String(e)}`);
      clearTimeout(timer);
      timer = setTimeout(() => void tick(), MAX_SLEEP_MS);
    } finally {
      running = false;
    }
  };

  const show = async (d: ReturnType<typeof dueBetween>[number], missed: boolean) => {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    const data: ReminderData = {
      kind: 'ledgerday-reminder',
      calendarId: d.calendarId,
      eventId: d.eventId,
      fireAtMs: d.fireAtMs,
      startMs: d.startMs,
    };
    const opts: NotificationOptions = {
      body: missed ? `Missed while Ledgerday was closed · ${d.body}` : d.body,
      tag: d.tag,
      data,
      icon: '/icons/icon-192.png',
    };
    const reg = await registration();
    if (reg) await reg.showNotification(d.title, opts);
    else new Notification(d.title, opts);
  };

  /** REM-3: a reminder dismissed on another device is closed here too. */
  const closeDismissed = async (sources: ReminderSource[]) => {
    const reg = await registration();
    if (!reg) return;
    const until = new Map(sources.map((s) => [`${s.calendarId}/${s.eventId}`, s.dismissedUntilMs]));
    for (const n of await reg.getNotifications()) {
      if (!isReminderData(n.data)) continue;
      const u = until.get(`${n.data.calendarId}/${n.data.eventId}`);
      if (u !== undefined && n.data.fireAtMs <= u) n.close();
    }
  };

  const onMessage = (e: MessageEvent) => {
    const m = e.data as { type?: unknown; reminder?: unknown } | null;
    if (m?.type !== 'ledgerday-reminder-dismissed' || !isReminderData(m.reminder)) return;
    const r = m.reminder;
    deps.dismiss(r.calendarId, r.eventId, r.fireAtMs).catch((err: unknown) => {
      deps.onError?.(`Reminder dismissal not saved: ${err instanceof Error ? err.message : String(err)}`);
    });
  };
  const sw =
    typeof navigator !== 'undefined' && 'serviceWorker' in navigator ? navigator.serviceWorker : undefined;
  sw?.addEventListener('message', onMessage);
  const off = deps.onChange(() => void tick());
  void tick();
  return () => {
    live = false;
    clearTimeout(timer);
    off();
    sw?.removeEventListener('message', onMessage);
  };
}
