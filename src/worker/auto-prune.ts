// Pruning on this device (docs/PROTOCOL.md SNAP-12, SNAP-16): once caught up, a calendar is pruned
// to the newest frontier an endorsement in force here certifies, when the engine says the
// snapshot there is stable (every member has certified it) and compliance mode is off. The
// snapshot is recomputed here (never taken from another device), and the engine deletes the
// covered ops and stores the base in one commit, so closing the page at any point loses nothing.
// A calendar whose pruning waits (a member that has not certified yet) is tried again on the
// next caught-up moment; one the engine refuses for good at that frontier is not tried again
// until a newer frontier is certified.

import type { DocId, OpId, Replica } from '../engine/index.ts';

/** A caught-up moment is acted on after this wait (ms), and at most once per wait. */
export const PRUNE_DELAY_MS = 10_000;

export interface AutoPruneDeps {
  replica: Pick<Replica, 'listDocs' | 'certifiedFrontiers' | 'snapshot' | 'pruneStatus' | 'prune'>;
  /** Caught up: every calendar's root matches the relay's and nothing waits to upload. */
  caughtUp(): boolean;
  setTimeout?(fn: () => void, ms: number): unknown;
  clearTimeout?(h: unknown): void;
  /** Failures are reported, never thrown (pruning saves space; it never changes what is shown). */
  onError?(doc: DocId, e: unknown): void;
  /** Ops were deleted (diagnostics). */
  onPruned?(): void;
}

/** What pruning did and what holds it back, per calendar (diagnostics). */
export interface PruneReport {
  pruned: number;
  waitingFor: string[];
  blocked: string | null;
}

export class AutoPrune {
  /** The frontier last tried per calendar, its plaintext, and whether it can still become ready. */
  private readonly tried = new Map<DocId, { key: string; final: boolean; plain: Uint8Array }>();
  private running = false;
  private timer: unknown;
  /** Ops deleted here since the worker started. */
  pruned = 0;
  readonly reports = new Map<DocId, PruneReport>();

  constructor(private readonly d: AutoPruneDeps) {}

  /** Sync became "synced": run after PRUNE_DELAY_MS (once, however many pokes meanwhile). */
  poke(): void {
    if (this.timer !== undefined || this.d.setTimeout === undefined) return;
    this.timer = this.d.setTimeout(() => {
      this.timer = undefined;
      void this.run();
    }, PRUNE_DELAY_MS);
  }

  stop(): void {
    if (this.timer !== undefined) this.d.clearTimeout?.(this.timer);
    this.timer = undefined;
  }

  /** Tries every calendar once (one at a time); safe to call often. */
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (const doc of this.d.replica.listDocs()) {
        if (!this.d.caughtUp()) return;
        try {
          await this.one(doc);
        } catch (e) {
          this.d.onError?.(doc, e);
        }
      }
    } finally {
      this.running = false;
    }
  }

  private async one(doc: DocId): Promise<void> {
    const frontier: OpId[] | undefined = (await this.d.replica.certifiedFrontiers(doc))[0];
    if (frontier === undefined) return;
    const key = frontier.join();
    const last = this.tried.get(doc);
    if (last?.key === key && last.final) return;
    // The same frontier gives the same plaintext (SNAP-3): recomputed once per frontier.
    const plain = last?.key === key ? last.plain : await this.d.replica.snapshot(doc, { frontier });
    const status = await this.d.replica.pruneStatus(doc, plain);
    const report = this.reports.get(doc) ?? { pruned: 0, waitingFor: [], blocked: null };
    this.reports.set(doc, { ...report, waitingFor: status.waitingFor, blocked: status.blocked });
    if (!status.ready) {
      this.tried.set(doc, { key, final: status.blocked !== null, plain });
      return;
    }
    if (status.prunable === 0) {
      this.tried.set(doc, { key, final: true, plain });
      return;
    }
    const n = await this.d.replica.prune(doc, plain);
    this.pruned += n;
    this.d.onPruned?.();
    this.reports.set(doc, { pruned: report.pruned + n, waitingFor: [], blocked: null });
    this.tried.set(doc, { key, final: true, plain });
  }
}
