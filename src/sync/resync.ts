// Re-syncing a diverged calendar (docs/PROTOCOL.md SNAP-18, SNAP-19, SYNC-16): a calendar this
// device started from (or pruned to) a snapshot refuses ops made concurrently with its frontier
// (SNAP-7); the engine counts them (`snapshotRefusals`), and this decides what the sync client
// does about it. On a fresh connection the calendar is subscribed again from cursor 0, asking for
// the relay's trusted snapshot, and what arrives is refilled into a scratch replica beside the
// real one (the real one keeps showing its state); once the scratch matches the relay's root and
// holds everything the real copy holds, with no own op of the calendar unacknowledged, the real
// copy is re-based on the scratch in one store commit (`Replica.rebaseFrom`). No DOM, no Node.

import type { DocId, Replica } from '../engine/index.ts';

/** First wait before another attempt after one that could not finish; doubles up to RETRY_MAX_MS. */
const RETRY_BASE_MS = 30_000;
const RETRY_MAX_MS = 10 * 60_000;

/** The wait after the `n`-th failure (n >= 1). */
const backoff = (n: number): number => Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(n - 1, 8));

interface Attempt {
  /** The refill: created when the calendar is subscribed on a connection, gone when it ends. */
  scratch: Replica | undefined;
  /** Attempts that ended without a re-base (their wait grows). */
  failures: number;
  /** Not before this time (ms, the client's clock) is the next attempt made. */
  notBefore: number;
  /** Ask the relay for its snapshot (SYNC-16); false after a refill from one refused ops itself. */
  fromSnapshot: boolean;
}

export interface ResyncStats {
  /** Calendars re-based on a refill since the client started (SNAP-18). */
  rebased: number;
  /** Attempts that ended without a re-base (the refill could not cover, refused ops, no key). */
  failed: number;
}

export class Resyncs {
  private readonly docs = new Map<DocId, Attempt>();
  /**
   * Re-bases per calendar within RETRY_MAX_MS of each other: from the second on, the next
   * re-sync waits (RETRY_BASE_MS doubling), so a hostile member or relay that keeps a calendar
   * diverging makes this device refill it a few times, not continuously.
   */
  private readonly recent = new Map<DocId, { at: number; n: number }>();
  readonly stats: ResyncStats = { rebased: 0, failed: 0 };

  constructor(
    private readonly replica: Replica,
    private readonly nowMs: () => number,
  ) {}

  /** True while some calendar diverged and is not re-based yet (the status says "resyncing"). */
  get busy(): boolean {
    return this.docs.size > 0;
  }

  has(doc: DocId): boolean {
    return this.docs.has(doc);
  }

  /**
   * SNAP-18: whether `doc` diverged and is not being re-synced yet: the engine refused ops of it by
   * SNAP-7, or holds an endorsement it cannot judge (SNAP-22). Marks it, so the caller starts
   * over on a fresh connection.
   */
  diverged(doc: DocId, nowMs: number): boolean {
    if (this.docs.has(doc)) return false;
    if (this.replica.snapshotRefusals(doc) === 0 && this.replica.lateEndorsements(doc) === 0) return false;
    const r = this.recent.get(doc);
    const notBefore = r === undefined || r.n < 2 || nowMs - r.at > RETRY_MAX_MS ? 0 : r.at + backoff(r.n - 1);
    this.docs.set(doc, { scratch: undefined, failures: 0, notBefore, fromSnapshot: true });
    return true;
  }

  /** The replica ops of `doc` go to on this connection: the refill while one runs. */
  target(doc: DocId): Replica {
    return this.docs.get(doc)?.scratch ?? this.replica;
  }

  /** A refill runs for `doc` on this connection (the cursor is not persisted meanwhile). */
  refilling(doc: DocId): boolean {
    return this.docs.get(doc)?.scratch !== undefined;
  }

  /**
   * Subscribing `doc` on a connection: when it is to be re-synced and its wait is over, a fresh
   * refill starts (undefined otherwise). `fromSnapshot`: ask for the relay's trusted snapshot.
   */
  begin(doc: DocId, nowMs: number): { fromSnapshot: boolean } | undefined {
    const a = this.docs.get(doc);
    if (a === undefined || nowMs < a.notBefore) return undefined;
    a.scratch = this.replica.scratch();
    return { fromSnapshot: a.fromSnapshot };
  }

  /** A start from the relay's snapshot failed for the refill: the whole history instead. */
  noSnapshot(doc: DocId): void {
    const a = this.docs.get(doc);
    if (a !== undefined) a.fromSnapshot = false;
  }

  /** Whether the refill of `doc` refused ops itself (it started from a snapshot that lacks them). */
  refillDiverged(doc: DocId): boolean {
    const s = this.docs.get(doc)?.scratch;
    return s?.hasDoc(doc) === true && s.snapshotRefusals(doc) > 0;
  }

  /**
   * Whether the refill holds every head of the real copy (SNAP-13's precondition, checked again
   * by the engine). Ops of this device not acknowledged yet are the caller's to check.
   */
  async covers(doc: DocId): Promise<boolean> {
    const s = this.docs.get(doc)?.scratch;
    if (s === undefined || !s.hasDoc(doc)) return false;
    const held = await s.getOps(doc, this.replica.heads(doc));
    return held.every((r) => r !== undefined);
  }

  /** SNAP-18: re-bases the real copy on the refill (one store commit); true when done. */
  async finish(doc: DocId): Promise<boolean> {
    const a = this.docs.get(doc);
    if (a?.scratch === undefined) return false;
    await this.replica.rebaseFrom(doc, a.scratch);
    this.docs.delete(doc);
    const r = this.recent.get(doc);
    const now = this.nowMs();
    this.recent.set(
      doc,
      r !== undefined && now - r.at <= RETRY_MAX_MS ? { at: now, n: r.n + 1 } : { at: now, n: 1 },
    );
    this.stats.rebased++;
    return true;
  }

  /**
   * The attempt ended without a re-base (the refill refused ops, has no key, the connection
   * closed): the real copy is unchanged; the next one waits longer. `retry`: the next connection
   * may try at once (the connection closed, nothing failed).
   */
  abandon(doc: DocId, nowMs: number, failed: boolean): void {
    const a = this.docs.get(doc);
    if (a === undefined) return;
    a.scratch = undefined;
    if (!failed) return;
    a.failures++;
    this.stats.failed++;
    a.notBefore = nowMs + backoff(a.failures);
  }

  /** The relay no longer serves `doc` to this device (removed): nothing to re-sync it from. */
  forget(doc: DocId): void {
    this.docs.delete(doc);
  }

  /** The connection closed: every refill in progress is dropped (the next connection starts over). */
  reset(): void {
    for (const a of this.docs.values()) a.scratch = undefined;
  }

  /** ms until the earliest waiting calendar may try again, or undefined. */
  nextWait(nowMs: number): number | undefined {
    let min: number | undefined;
    for (const a of this.docs.values())
      if (a.scratch === undefined && a.notBefore > nowMs)
        min = Math.min(min ?? Infinity, a.notBefore - nowMs);
    return min;
  }
}
