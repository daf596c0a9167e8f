// When this device was last fully in sync with the relay, kept across reloads: after an offline
// reload the status says "Synced 5 minutes ago", not "Not synced yet" ([RT-14]).

import type { SyncStatus } from './api.ts';
import type { IdbStore } from './idb-store.ts';

export class LastSynced {
  private constructor(
    private readonly store: IdbStore,
    private stored: number | null,
  ) {}

  /** Reads the stored moment; anything but a finite non-negative number reads as never. */
  static async open(store: IdbStore): Promise<LastSynced> {
    const v = await store.getLocal('lastSyncedAt').catch(() => undefined);
    return new LastSynced(store, typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : null);
  }

  get value(): number | null {
    return this.stored;
  }

  /** The status with the remembered moment filled in; a newer moment is stored (best effort). */
  apply(s: SyncStatus): SyncStatus {
    if (s.lastSyncedAt !== null && s.lastSyncedAt > (this.stored ?? -1)) {
      this.stored = s.lastSyncedAt;
      void this.store.putLocal('lastSyncedAt', s.lastSyncedAt).catch(() => {});
      return s;
    }
    return s.lastSyncedAt === null && this.stored !== null ? { ...s, lastSyncedAt: this.stored } : s;
  }
}
