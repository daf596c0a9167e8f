// Whole engine hosts for the my-devices tests (docs/PROTOCOL.md section 8a): IndexedDB over
// fake-indexeddb, the real sync loop over ws, the in-process relay; and the steps they share.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import type { EventFields } from '../worker/api.ts';
import { startEngineHost } from '../worker/host.ts';
import type { Host } from '../worker/host-api.ts';
import { type TestRelay, wsFactory } from './relay.testkit.ts';

export const ORIGIN = 'http://localhost:5173';
export const MARCH = { fromMs: Date.UTC(2025, 2, 1), toMs: Date.UTC(2025, 3, 1) };
let seq = 0;
export const eventId = () => (++seq).toString(16).padStart(32, 'e');

export const ev = (title: string, day = 10): EventFields => ({
  title,
  start: `2025-03-${String(day).padStart(2, '0')}T09:00`,
  end: `2025-03-${String(day).padStart(2, '0')}T10:00`,
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: '',
});

export interface Dev {
  h: Host;
  name: string;
  factory: IDBFactory;
}

/** A device: its own IndexedDB, named, syncing with `r`; closed by `defer` after the test. */
export async function device(r: TestRelay, name: string, defer: (f: () => void) => void): Promise<Dev> {
  const factory = new IDBFactory();
  const h = await startEngineHost({
    name,
    factory,
    durability: 'relaxed',
    relayUrl: r.url,
    socket: wsFactory,
  });
  defer(() => h.close());
  await h.setDeviceName(name);
  return { h, name, factory };
}

export async function until(what: string, ok: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out: ${what}`);
}

export const calendarNames = async (d: Dev) => (await d.h.listCalendars()).map((c) => c.name).sort();
export const titles = async (d: Dev) => (await d.h.eventsInRange(MARCH)).map((e) => e.title).sort();
export const memberIds = async (d: Dev, cal: string) => (await d.h.listMembers(cal)).map((m) => m.id).sort();
export const synced = (d: Dev) =>
  until(`${d.name} synced`, async () => {
    const s = await d.h.syncStatus();
    return s.state === 'synced' && s.pendingUploads === 0;
  });

/** "Add device" on `from`, the link opened on `to`. */
export async function pair(from: Dev, to: Dev): Promise<void> {
  const link = await from.h.createInvite(ORIGIN);
  await to.h.acceptInvite(link.url);
}
