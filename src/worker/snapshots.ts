// Automatic snapshots in the engine host (SNAP-14): a caught-up member device seals a snapshot
// of a calendar over ops the relay has acknowledged (sync "synced", outbox empty) when the ops
// since the last snapshot outweigh it, at most SNAPSHOT_MAX_TAIL ops apart, never in compliance
// mode, and uploads it (SYNC-13). Which device makes it is left to a random delay: concurrent
// snapshots are fine (SNAP-3: the same frontier gives the same plaintext), and a snapshot offered
// by another device meanwhile resets the count. Endorsing (SNAP-15) and starting from a snapshot
// (SYNC-15) happen in the sync client (src/sync/snapshot-sync.ts).

import { CALENDAR_ENTITY, calendarFromRecord, type DocId, type Replica } from '../engine/index.ts';

/** At most this many ops between two snapshots of a calendar (the cap). */
export const SNAPSHOT_MAX_TAIL = 500;
/** At least this many: a small calendar is not sealed after every few edits. */
export const SNAPSHOT_MIN_TAIL = 64;
/** Most of the random wait before sealing (ms): devices that are all caught up rarely all seal. */
const JITTER_MS = 5000;

export interface AutoSnapshotDeps {
  replica: Pick<Replica, 'listDocs' | 'seq' | 'entity' | 'listOps' | 'sealSnapshot' | 'members' | 'deviceId'>;
  /** Caught up: every calendar's root matches the relay's and nothing waits to upload. */
  caughtUp(): boolean;
  upload(doc: DocId, manifest: Uint8Array, chunks: Uint8Array[]): Promise<boolean>;
  random: () => number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(h: unknown): void;
  /** Failures are reported, never thrown (a snapshot is an optimisation). */
  onError?(doc: DocId, e: unknown): void;
}

interface Last {
  /** This replica's seq when the last snapshot (made here or offered) was sealed or seen. */
  seq: number;
  /** Its ciphertext bytes. */
  bytes: number;
}

export class AutoSnapshots {
  private readonly last = new Map<DocId, Last>();
  private timer: unknown;
  private running = false;
  /** Snapshots made and uploaded here (diagnostics). */
  made = 0;

  constructor(private readonly d: AutoSnapshotDeps) {}

  /** Another device's snapshot reached this one: it counts as the last snapshot. */
  seen(doc: DocId, bytes: number): void {
    this.last.set(doc, { seq: this.d.replica.seq(doc), bytes });
  }

  /** Sync became "synced": consider sealing after a random wait. */
  poke(): void {
    if (this.timer !== undefined || this.running) return;
    this.timer = this.d.setTimeout(
      () => {
        this.timer = undefined;
        void this.run();
      },
      Math.floor(this.d.random() * JITTER_MS),
    );
  }

  stop(): void {
    if (this.timer !== undefined) this.d.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Seals and uploads every calendar that is due (one at a time). */
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const doc of this.d.replica.listDocs()) {
        if (!this.d.caughtUp()) return;
        if (!(await this.due(doc))) continue;
        try {
          const seq = this.d.replica.seq(doc);
          const { manifest, chunks } = await this.d.replica.sealSnapshot(doc);
          if (!this.d.caughtUp()) return;
          if (await this.d.upload(doc, manifest, chunks)) {
            this.last.set(doc, { seq, bytes: chunks.reduce((n, c) => n + c.length, 0) });
            this.made++;
          }
        } catch (e) {
          this.d.onError?.(doc, e);
        }
      }
    } finally {
      this.running = false;
    }
  }

  /**
   * SNAP-14: a member here, compliance mode off, and the ops since the last snapshot outweigh it
   * (at least SNAPSHOT_MIN_TAIL of them), or SNAPSHOT_MAX_TAIL of them whatever their size.
   */
  async due(doc: DocId): Promise<boolean> {
    const r = this.d.replica;
    const self = r.deviceId;
    if (self === undefined || !r.members(doc).has(self)) return false;
    if (calendarFromRecord(r.entity(doc, CALENDAR_ENTITY)).compliance) return false;
    const last = this.last.get(doc) ?? { seq: 0, bytes: 0 };
    const tail = r.seq(doc) - last.seq;
    if (tail >= SNAPSHOT_MAX_TAIL) return true;
    if (tail < SNAPSHOT_MIN_TAIL) return false;
    let bytes = 0;
    for (let after = last.seq; bytes < last.bytes; ) {
      const page = await r.listOps(doc, after, 256);
      if (page.length === 0) break;
      for (const op of page) bytes += op.bytes.length;
      after = page[page.length - 1]!.seq;
    }
    return bytes >= last.bytes;
  }
}
