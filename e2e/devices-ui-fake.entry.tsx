// Chromium entry for e2e/devices-ui-pages.spec.ts: the real <App> over an in-page test double of
// CalendarClient, so the Devices page, its dialogs and the join page's states (progress, expired,
// used, invalid) are tested on their own. The two-device flow through the real worker and relay
// is e2e/devices-ui.spec.ts. `?join=` picks how acceptInvite answers; calls are recorded in
// `window.fake.calls` for the spec to check (e.g. nothing joins before "Join" is pressed).
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from '../src/ui/App.tsx';
import type {
  CalendarClient,
  CalendarInfo,
  DeviceInfo,
  EventView,
  InviteLink,
  SyncStatus,
} from '../src/worker/api.ts';

interface Fake {
  calls: { method: string; args: unknown[] }[];
  /** Resolves a pending acceptInvite (join=hold). */
  release?: () => void;
}
const fake: Fake = { calls: [] };
(globalThis as { fake?: Fake }).fake = fake;

const params = new URL(location.href).searchParams;
const joinMode = params.get('join') ?? 'ok';
const empty = params.get('empty') === '1';

const HOUR = 3_600_000;
const now = Date.now();
const me: DeviceInfo = {
  id: 'aa'.repeat(32),
  name: params.get('unnamed') === '1' ? '' : 'Laptop',
  fingerprint: '7K2M-Q9TX-4HDA-R1CE',
  addedAt: now - 40 * 24 * HOUR,
  lastSeen: now,
  isThisDevice: true,
  role: 'manager',
  mine: true,
  person: 'aa'.repeat(32),
};
const phone: DeviceInfo = {
  id: 'bb'.repeat(32),
  name: 'Phone',
  fingerprint: 'P3ZN-8WQA-DE4K-MV0T',
  addedAt: now - 10 * 24 * HOUR,
  lastSeen: now - 5 * 60_000,
  isThisDevice: false,
  role: 'manager',
  mine: true,
  person: 'aa'.repeat(32),
};
const friend: DeviceInfo = {
  id: 'cc'.repeat(32),
  name: 'Sam’s tablet',
  fingerprint: 'R1CE-4HDA-Q9TX-7K2M',
  addedAt: now - 2 * 24 * HOUR,
  lastSeen: null,
  isThisDevice: false,
  role: 'editor',
  mine: false,
  person: 'cc'.repeat(32),
};
let myDevices: DeviceInfo[] = [me, phone];

let calendars: CalendarInfo[] = empty
  ? []
  : [
      { id: 'cal-personal', name: 'Personal', color: '#1a73e8', hidden: false, role: 'manager' },
      { id: 'cal-work', name: 'Work', color: '#0b8043', hidden: false, role: 'manager' },
    ];
const members = new Map<string, DeviceInfo[]>([
  ['cal-personal', [phone, me]],
  ['cal-work', [me, phone, friend]],
]);
const calCbs = new Set<(c: CalendarInfo[]) => void>();
const memberCbs = new Set<(id: string) => void>();

const err = (code: string, message: string) => Object.assign(new Error(message), { code });
const rec =
  <A extends unknown[], R>(method: string, fn: (...a: A) => R) =>
  (...args: A): R => {
    fake.calls.push({ method, args });
    return fn(...args);
  };

const synced: SyncStatus = { state: 'synced', pendingUploads: 0, lastSyncedAt: now, clockOffsetMs: 0 };

// The calls this page answers; any other call of the app (import, history, reminders, …) gets a
// subscription that never fires or a rejected promise, instead of a TypeError that unmounts the app.
const answered: Partial<CalendarClient> = {
  listCalendars: async () => calendars,
  createCalendar: async () => 'x',
  renameCalendar: async () => {},
  setCalendarHidden: async () => {},
  onCalendarsChanged(cb) {
    calCbs.add(cb);
    return () => calCbs.delete(cb);
  },
  eventsInRange: async () => [],
  subscribeRange(_r, cb: (e: EventView[]) => void) {
    queueMicrotask(() => cb([]));
    return () => {};
  },
  getEvent: async () => undefined,
  createEvent: async () => 'e',
  updateEvent: async () => {},
  deleteEvent: async () => {},
  restoreEvent: async () => {},
  restoreConflict: async () => {},
  search: async () => [],
  onSyncStatus(cb) {
    queueMicrotask(() => cb(synced));
    return () => {};
  },
  onError: () => () => {},
  thisDevice: rec('thisDevice', async () => ({ ...me, role: null })),
  setDeviceName: rec('setDeviceName', async (name: string) => {
    me.name = name;
  }),
  createInvite: rec(
    'createInvite',
    async (origin: string, calendarIds?: string[]): Promise<InviteLink> => ({
      url: `${origin}/#/join/${calendarIds ? 'share' : 'device'}-${fake.calls.length}-Zm9vYmFyYmF6cXV4`,
      expiresAt: Date.now() + 24 * HOUR,
      calendarIds: calendarIds ?? calendars.map((c) => c.id),
    }),
  ),
  acceptInvite: rec('acceptInvite', async (_link: string) => {
    if (joinMode === 'expired') throw err('InviteExpired', 'the invite had expired');
    if (joinMode === 'used') throw err('InviteUsed', 'the invite was already used');
    if (joinMode === 'invalid') throw err('InviteInvalid', 'the invite proof does not verify');
    if (joinMode === 'offline') throw err('Offline', 'this device is offline');
    if (joinMode === 'timeout') throw err('Timeout', 'the server did not answer in time');
    if (joinMode === 'broken') throw err('Internal', 'something unexpected');
    if (joinMode === 'hold') await new Promise<void>((r) => (fake.release = r));
    calendars = [...calendars, { id: 'cal-shared', name: 'Team', color: '#8e24aa', hidden: false }];
    for (const cb of calCbs) cb(calendars);
    return { calendarIds: ['cal-shared'] };
  }),
  listMembers: rec('listMembers', async (id: string) => members.get(id) ?? [me]),
  removeDevice: rec('removeDevice', async (calendarId: string, deviceId: string) => {
    members.set(
      calendarId,
      (members.get(calendarId) ?? []).filter((d) => d.id !== deviceId),
    );
    for (const cb of memberCbs) cb(calendarId);
  }),
  setRole: rec('setRole', async (calendarId: string, deviceId: string, role: DeviceInfo['role']) => {
    members.set(
      calendarId,
      (members.get(calendarId) ?? []).map((d) => (d.id === deviceId ? { ...d, role } : d)),
    );
    for (const cb of memberCbs) cb(calendarId);
  }),
  listMyDevices: rec('listMyDevices', async () => myDevices.map((d) => (d.isThisDevice ? { ...me } : d))),
  removeMyDevice: rec('removeMyDevice', async (deviceId: string) => {
    myDevices = myDevices.filter((d) => d.id !== deviceId);
    for (const [cal, list] of members) {
      members.set(
        cal,
        list.filter((d) => d.id !== deviceId),
      );
      for (const cb of memberCbs) cb(cal);
    }
  }),
  onMembersChanged(cb) {
    memberCbs.add(cb);
    return () => memberCbs.delete(cb);
  },
  onEventsChanged: () => () => {},
  reminderOccurrences: async () => [],
  recoveryStatus: rec('recoveryStatus', async () => ({
    lastFile: null,
    uncoveredIds: [],
    hasEvents: false,
  })),
  makeRecoveryFile: rec('makeRecoveryFile', async () => {
    throw err('Unsupported', 'not on this test page');
  }),
  restoreRecoveryFile: rec('restoreRecoveryFile', async () => {
    throw err('Unsupported', 'not on this test page');
  }),
};
const client = new Proxy(answered, {
  get(target, key) {
    if (key in target) return target[key as keyof CalendarClient];
    if (typeof key === 'string' && key.startsWith('on')) return () => () => {};
    return async () => {
      throw err('Unsupported', `${String(key)} is not on this test page`);
    };
  },
}) as CalendarClient;

const root = document.getElementById('root');
if (!root) throw new Error('no #root');
createRoot(root).render(
  <StrictMode>
    <App client={client} />
  </StrictMode>,
);
