// Pruning on the relay (docs/PROTOCOL.md RELAY-29..32, SNAP-17). The relay cannot read a
// snapshot nor the Compliance register, so it prunes a calendar to a stored complete snapshot S
// only on every member's consent: an endorsement of S by each member at its heads (a verified
// recomputation; honest devices never endorse in compliance mode), read here from the relay's
// endorsement table and checked against the log by the engine (`Replica.pruneUnread`), which also
// refuses while an op concurrent with S's frontier is held. The op deletions, the mark and the
// snapshots S makes unservable go in one store transaction (`SnapshotStore.armDrop`).
// When: a while after an endorsement is stored or ops are applied (debounced per calendar, one
// calendar at a time, off the hot path), and for every calendar at start. Cost: one scan of the
// calendar's log metadata per attempt, and only when every member at the frontier has endorsed;
// after pruning a log is its anchors and its tail, so the scan stays short.

import {
  type DeviceId,
  type DocId,
  type OpId,
  openEndorsement,
  type PruneConsent,
  type PruneStatus,
} from '../engine/index.ts';
import type { Logger } from './log.ts';
import type { RelayReplica } from './replicas.ts';
import { coveredVv, type Log } from './snapshot-scan.ts';
import type { SnapshotStore, StoredSnapshot } from './snapshot-store.ts';

/** Quiet time after the last trigger before a calendar is looked at (ms). */
export const PRUNE_DEBOUNCE_MS = 2000;
/** Snapshots looked at per attempt, newest first (an older one is pruned to only if no newer can be). */
const TRIED = 4;

export interface PruneHost extends Log {
  readonly snapshots: SnapshotStore;
  readonly crypto: Parameters<typeof openEndorsement>[0];
  readonly replica: Pick<
    RelayReplica,
    'hasDoc' | 'members' | 'membersAt' | 'pruneUnread' | 'pruneUnreadStatus' | 'startsFrom'
  >;
  readonly log: Logger;
  /** A connection is being sent the calendar's history or a snapshot of it (pruning waits). */
  busy(doc: DocId): boolean;
  /** Gives the storage pruning freed back to the file system (after a prune, off the hot path). */
  reclaim(): Promise<unknown>;
}

/** For whom, or why, pruning of a calendar waits (operators, tests). */
export interface PruneReport {
  snapshot: string;
  status: PruneStatus;
}

export class RelayPruner {
  private readonly timers = new Map<DocId, ReturnType<typeof setTimeout>>();
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  readonly reports = new Map<DocId, PruneReport>();
  readonly stats = { prunes: 0, opsPruned: 0, snapshotsDropped: 0, lastPruneMs: 0 };
  /** The storage given back after the last prune (benchmarks wait for it). */
  reclaiming: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly h: PruneHost,
    private readonly debounceMs = PRUNE_DEBOUNCE_MS,
  ) {}

  /** RELAY-31: looks at `doc` once nothing has triggered it for the debounce time. */
  schedule(doc: DocId): void {
    if (this.closed) return;
    const t = this.timers.get(doc);
    if (t !== undefined) clearTimeout(t);
    const timer = setTimeout(() => {
      this.timers.delete(doc);
      void this.prune(doc).catch((e: unknown) => this.h.log.warn('pruning failed', { doc, err: String(e) }));
    }, this.debounceMs);
    timer.unref?.();
    this.timers.set(doc, timer);
  }

  /** Prunes `doc` now if it may (after any attempt in progress); returns the ops deleted. */
  prune(doc: DocId): Promise<number> {
    const run = this.chain.then(() => (this.closed ? 0 : this.attempt(doc)));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Stops scheduling; waits for an attempt in progress. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    await this.chain;
    await this.reclaiming;
  }

  /** RELAY-29: each member's consent to `s`: its endorsement's chain position. */
  private async consentTo(s: StoredSnapshot): Promise<Map<DeviceId, PruneConsent>> {
    const out = new Map<DeviceId, PruneConsent>();
    for (const e of await this.h.snapshots.endorsementsOf(s.doc, s.id)) {
      try {
        const o = await openEndorsement(this.h.crypto, e.bytes);
        if (o.manifest === s.id && o.endorser === e.endorser && o.doc === s.doc)
          out.set(o.endorser, { ctr: o.ctr, last: o.last });
      } catch {
        // Stored only after these checks passed; a row that no longer opens consents to nothing.
      }
    }
    return out;
  }

  private async attempt(doc: DocId): Promise<number> {
    if (!this.h.replica.hasDoc(doc)) return 0;
    const snaps = await this.h.snapshots.listSnapshots(doc);
    const base = this.h.replica.startsFrom(doc);
    for (const s of snaps.slice(0, TRIED)) {
      if (base !== undefined && s.frontier.join() === base.frontier.join()) break;
      // Cheap first: a member at the frontier without an endorsement row holds it back (no
      // signature checked, no log scan).
      const rows = new Set((await this.h.snapshots.endorsementsOf(doc, s.id)).map((e) => e.endorser));
      const atF = await this.h.replica.membersAt(doc, s.frontier);
      const missing = [...this.h.replica.members(doc).keys()].filter((d) => atF?.has(d) && !rows.has(d));
      if (missing.length > 0) {
        this.reports.set(doc, {
          snapshot: s.id,
          status: { ready: false, waitingFor: missing.sort(), blocked: null, prunable: 0 },
        });
        continue;
      }
      const consent = await this.consentTo(s);
      const status = await this.h.replica.pruneUnreadStatus(doc, s.frontier, consent);
      this.reports.set(doc, { snapshot: s.id, status });
      if (!status.ready) continue;
      if (this.h.busy(doc)) {
        this.schedule(doc);
        return 0;
      }
      return this.pruneTo(s, snaps, consent);
    }
    return 0;
  }

  /** RELAY-30: one transaction: the ops, the mark, and the snapshots S covers (never served again). */
  private async pruneTo(
    s: StoredSnapshot,
    snaps: readonly StoredSnapshot[],
    consent: ReadonlyMap<DeviceId, PruneConsent>,
  ): Promise<number> {
    const vv = await coveredVv(this.h, s.doc, s.frontier);
    const drop = snaps.filter((x) => x.id !== s.id && this.covers(s.doc, x.frontier, vv)).map((x) => x.id);
    // A connection that started streaming the history or a snapshot since `busy` was asked
    // abandons the commit from inside its transaction (tried again after the debounce).
    this.h.snapshots.armDrop(s.doc, drop, () =>
      this.h.busy(s.doc) ? 'a connection is being sent the calendar' : undefined,
    );
    let n: number;
    const t0 = performance.now();
    try {
      n = await this.h.replica.pruneUnread(s.doc, s.frontier, consent);
    } catch (e) {
      if (!this.h.busy(s.doc)) throw e;
      this.schedule(s.doc);
      return 0;
    } finally {
      this.h.snapshots.armDrop(s.doc, []);
    }
    this.stats.lastPruneMs = Math.round(performance.now() - t0);
    this.stats.prunes++;
    this.stats.opsPruned += n;
    this.stats.snapshotsDropped += drop.length;
    this.reports.delete(s.doc);
    this.reclaiming = this.h
      .reclaim()
      .catch((e: unknown) => this.h.log.warn('reclaiming storage failed', { err: String(e) }));
    this.h.log.info('pruned a calendar to a snapshot', {
      doc: s.doc,
      snapshot: s.id,
      ops: n,
      dropped: drop.length,
    });
    return n;
  }

  /**
   * Whether every op of `frontier` is in the past of the frontier with version vector `vv`. Exact
   * here: pruning holds no op concurrent with that frontier, so an op within `vv` is in its past.
   */
  private covers(doc: DocId, frontier: readonly OpId[], vv: Readonly<Record<string, number>>): boolean {
    for (const f of frontier) {
      const seq = this.h.seqOf(doc, f);
      if (seq === undefined) return true;
      const [op] = this.h.opsAfter(doc, seq - 1, 1);
      if (op === undefined || op.ctr > (vv[op.author] ?? 0)) return false;
    }
    return true;
  }
}
