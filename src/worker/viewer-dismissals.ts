// ROLE-9: reminders a viewer dismissed. A viewer may not write an event's synced DismissedUntil
// register, so its dismissals stay on this device: kept in the store's host-local records
// (meta/viewerDismissals), so a reload, a crash or another tab of this device does not bring a
// dismissed reminder back. Read from the store on every use; one engine host per device (the
// tabs' leader, tabs.ts) writes it, one dismissal at a time.

import type { IdbStore } from './idb-store.ts';

const KEY = 'viewerDismissals';
/** At most this many events are remembered; beyond it the oldest dismissals are dropped. */
export const MAX_VIEWER_DISMISSALS = 2_000;
const ENTRY_KEY = /^[0-9a-f]{32}\/[0-9a-f]{32}$/;

type Entries = Map<string, number>;

/** The stored record read strictly: anything malformed reads as no dismissals (never throws). */
export function parseViewerDismissals(v: unknown): Entries {
  const out: Entries = new Map();
  if (typeof v !== 'object' || v === null || (v as { v?: unknown }).v !== 1) return out;
  const entries = (v as { entries?: unknown }).entries;
  if (!Array.isArray(entries) || entries.length > MAX_VIEWER_DISMISSALS) return out;
  for (const e of entries) {
    if (!Array.isArray(e) || e.length !== 2) return new Map();
    const [k, until] = e as [unknown, unknown];
    if (typeof k !== 'string' || !ENTRY_KEY.test(k)) return new Map();
    if (typeof until !== 'number' || !Number.isFinite(until) || until < 0) return new Map();
    out.set(k, until);
  }
  return out;
}

export class ViewerDismissals {
  /** Dismissals are read, changed and written one at a time, so none overwrites another. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly store: IdbStore) {}

  /** Every remembered dismissal, `doc/event` → UTC ms (empty when none or unreadable). */
  async read(): Promise<Entries> {
    return parseViewerDismissals(await this.store.getLocal(KEY).catch(() => undefined));
  }

  /** Remembers a dismissal (only ever forward, REM-3), durably before resolving. */
  dismiss(doc: string, event: string, untilMs: number): Promise<void> {
    const next = this.queue.then(() => this.write(doc, event, untilMs));
    this.queue = next.catch(() => {});
    return next;
  }

  private async write(doc: string, event: string, untilMs: number): Promise<void> {
    const all = await this.read();
    const k = `${doc}/${event}`;
    if ((all.get(k) ?? -1) >= untilMs) return;
    all.set(k, untilMs);
    const entries = [...all].sort((a, b) => b[1] - a[1]).slice(0, MAX_VIEWER_DISMISSALS);
    await this.store.putLocal(KEY, { v: 1, entries });
  }
}
