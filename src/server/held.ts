// Held future-dated ops (RELAY-7, RELAY-11, RELAY-12): verified and persisted when they arrive,
// bounded per author (count, bytes) and in all, and at release put through the same admission as
// a fresh push before the engine applies them. The invites that held Adds reserve are persisted
// with them: they are reserved again at start.

import { type CryptoProvider, type OpenedOp, openOp, verifyOp } from '../engine/index.ts';
import { wireCode } from '../sync/codes.ts';
import { type Admission, newBatch } from './admission.ts';
import type { Answers } from './answers.ts';
import { type Ledger, ledgerFact } from './ledger.ts';
import { applyInSlices } from './push.ts';
import type { RelayReplica } from './replicas.ts';
import type { SqliteStore } from './sqlite-store.ts';

export interface HeldLimits {
  maxSkewMs: number;
  maxHeldPerDevice: number;
  maxHeldBytesPerAuthor: number;
  maxHeldTotal: number;
}

export interface HeldDeps {
  store: SqliteStore;
  replica: RelayReplica;
  crypto: CryptoProvider;
  ledger: Ledger;
  admission: Admission;
  answers: Answers;
  limits: HeldLimits;
  nowUs: () => number;
  stats: { opsRejected: number; opsHeld: number };
}

export class HeldOps {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private releasing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly d: HeldDeps) {
    // Held Adds keep their invites reserved across a restart (INV-8).
    for (const h of d.store.allHeld()) {
      const f = ledgerFact(h.bytes);
      if (f?.kind === 'use' && d.ledger.usedBy(h.doc, f.invite) === undefined)
        d.ledger.reserve(f.invite, h.id);
    }
    this.schedule();
  }

  private get skewUs(): number {
    return this.d.limits.maxSkewMs * 1000;
  }

  /** Verifies and persists a future-dated op within the held budgets (RELAY-12). */
  async hold(op: OpenedOp): Promise<'held' | 'full' | 'bad-signature'> {
    const { store, limits } = this.d;
    if (!(await verifyOp(this.d.crypto, op))) return 'bad-signature';
    if (!store.isHeld(op.id)) {
      if (
        store.heldCountByAuthor(op.author) >= limits.maxHeldPerDevice ||
        store.heldBytesByAuthor(op.author) + op.bytes.length > limits.maxHeldBytesPerAuthor ||
        store.heldCount() >= limits.maxHeldTotal
      ) {
        return 'full';
      }
    }
    store.hold({
      id: op.id,
      doc: op.doc,
      author: op.author,
      wallTime: op.header.wallTime,
      bytes: op.bytes,
      receivedAt: Date.now(),
    });
    this.d.stats.opsHeld++;
    this.schedule();
    return 'held';
  }

  schedule(): void {
    if (this.closed) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.d.store.nextHeldTime();
    if (next === undefined) return;
    const dueInMs = Math.max(0, (next - this.skewUs - this.d.nowUs()) / 1000);
    // Re-check at least every minute: the wall clock may jump.
    this.timer = setTimeout(() => void this.releaseDue(), Math.min(Math.ceil(dueInMs), 60_000));
    this.timer.unref?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.releasing;
  }

  /** Applies held ops whose time has come, after admission (RELAY-11). Public for tests with a moved clock. */
  releaseDue(): Promise<void> {
    this.releasing = this.releasing.then(async () => {
      for (;;) {
        const due = this.d.store.dueHeld(this.d.nowUs() + this.skewUs, 256);
        if (due.length === 0) break;
        if (!(await this.releaseRound(due))) break;
      }
      this.schedule();
    });
    return this.releasing;
  }

  /** One round; false if storage failed (the rest stays held for the next attempt). */
  private async releaseRound(due: { id: OpenedOp['id']; doc: OpenedOp['doc']; bytes: Uint8Array }[]) {
    const { store, ledger, admission, answers, stats } = this.d;
    const batch = newBatch();
    const toApply: { op: OpenedOp; invite?: OpenedOp['id'] | undefined }[] = [];
    for (const h of due) {
      let op: OpenedOp;
      try {
        op = openOp(h.bytes);
      } catch {
        store.unhold(h.id);
        continue;
      }
      const v = admission.check(op, batch, 'release');
      if (v.kind === 'apply') {
        toApply.push({ op, invite: v.invite });
        continue;
      }
      if (v.kind === 'duplicate') answers.ackAll({ doc: h.doc, op: h.id, seq: v.seq });
      else if (v.kind === 'refuse') {
        stats.opsRejected++;
        const f = ledgerFact(h.bytes);
        if (f?.kind === 'use') ledger.release(f.invite, h.id);
        answers.refuseAll(h.id, h.doc, v.refusal.code, v.refusal.message);
      }
      store.unhold(h.id);
    }
    if (toApply.length === 0) return true;
    const results = await applyInSlices(
      this.d.replica,
      toApply.map((x) => x.op),
    );
    let ok = true;
    results.forEach((r, i) => {
      const { op, invite } = toApply[i]!;
      if (r.status === 'rejected') {
        if (invite !== undefined) ledger.release(invite, op.id);
        if (r.error?.code === 'Storage') {
          ok = false;
          return; // stays held
        }
        stats.opsRejected++;
        answers.refuseAll(
          op.id,
          op.doc,
          wireCode(r.error?.code ?? 'Malformed'),
          r.error?.message ?? 'rejected',
        );
      } else if (r.status === 'duplicate') {
        const seq = store.seqOf(op.doc, op.id);
        if (seq !== undefined) answers.ackAll({ doc: op.doc, op: op.id, seq });
      }
      // 'pending' ops now live in the engine's persisted pending set; 'applied' acks went out on commit.
      store.unhold(op.id);
    });
    return ok;
  }
}
