// Admission: every check an op must pass before the relay's engine sees it, the same for a fresh
// push and for a held op at its release (RELAY-11). The engine's replica rules judge an op by its
// causal past; these checks add what only the relay can judge: its clock, its ledger of invites
// and removals, and its budgets. Nothing here decrypts or stores anything.

import type { DeviceId, DocId, OpenedOp, OpId } from '../engine/index.ts';
import type { SyncErrorName } from '../sync/messages.ts';
import type { PendingBudget, TokenBucket } from './budgets.ts';
import { type Ledger, ledgerFact, membershipSubject } from './ledger.ts';
import type { RelayReplica } from './replicas.ts';
import type { SnapshotCerts } from './snapshot-certs.ts';
import type { SqliteStore } from './sqlite-store.ts';

/** Why the relay refuses an op (INV-7, INV-8, RELAY-10..13). */
export interface Refusal {
  code: SyncErrorName;
  message: string;
  retryAfterMs?: number;
}

/**
 * What a stranger is told about a calendar it is not a member of, whether or not it exists
 * (RELAY-18): the same code and text as for a calendar the relay does not hold.
 */
export const NOT_SERVED: Refusal = {
  code: 'UnknownDoc',
  message: 'no such calendar on this relay for this device',
};

export type Verdict =
  | { kind: 'refuse'; refusal: Refusal }
  | { kind: 'duplicate'; seq: number }
  | { kind: 'hold' }
  | { kind: 'apply'; invite?: OpId };

/** State of one batch (a push frame, or one release round): ops admitted so far in it. */
export interface BatchContext {
  ids: Set<OpId>;
  /** Calendars whose genesis was admitted in this batch. */
  creating: Set<DocId>;
  /** `doc:device` made a member by an op admitted earlier in this batch (an Add). */
  adding: Set<string>;
  /** Pending ops admitted in this batch per author (not yet in the budget's index). */
  pending: Map<DeviceId, { n: number; bytes: number }>;
  /** Ops admitted in this batch that will wait for a predecessor (so will their descendants). */
  waiting: Set<OpId>;
  /** The device that pushed the batch (undefined: ops released from the hold, RELAY-12). */
  pusher?: DeviceId | undefined;
}

export function newBatch(pusher?: DeviceId): BatchContext {
  return {
    ids: new Set(),
    creating: new Set(),
    adding: new Set(),
    pending: new Map(),
    waiting: new Set(),
    pusher,
  };
}

export interface AdmissionLimits {
  maxSkewMs: number;
  maxHoldAheadMs: number;
  maxPendingPerAuthor: number;
  maxPendingBytesPerAuthor: number;
}

export interface AdmissionDeps {
  replica: RelayReplica;
  store: SqliteStore;
  ledger: Ledger;
  pending: PendingBudget;
  calendars: TokenBucket;
  limits: AdmissionLimits;
  nowUs: () => number;
  /** What stored endorsements certify (RELAY-28, SNAP-10). */
  certs?: SnapshotCerts;
}

const refuse = (code: SyncErrorName, message: string, retryAfterMs?: number): Verdict => ({
  kind: 'refuse',
  refusal: retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs },
});

export class Admission {
  constructor(private readonly d: AdmissionDeps) {}

  /**
   * RELAY-30: an op whose chain position is within the version vector of the frontier the
   * calendar was pruned to is covered by it: held and pruned here (an honest device sends one
   * again when an ack was lost), or a fork below it that no replica started from the snapshot
   * could apply. It is acknowledged as a duplicate (at the frontier's seq), never applied again:
   * the device drops it from its outbox, as it would had the first ack arrived. Only for a
   * device that is a member: no signature is checked here, so anyone else gets the answer
   * everything else gives it (RELAY-18: a stranger cannot tell a pruned calendar exists).
   */
  private pruned(op: OpenedOp, pusher: DeviceId | undefined): number | undefined {
    if (pusher === undefined || !this.isMember(op.doc, pusher)) return undefined;
    const base = this.d.replica.startsFrom(op.doc);
    if (base === undefined || op.header.ctr > (base.vv[op.author] ?? 0)) return undefined;
    let seq = 0;
    for (const f of base.frontier) seq = Math.max(seq, this.d.store.seqOf(op.doc, f) ?? 0);
    return seq;
  }

  isMember(doc: DocId, device: DeviceId): boolean {
    return this.d.replica.members(doc).has(device);
  }

  /**
   * Decides what happens to `op`. `phase` 'release': the op was held and its time has come
   * (no hold again, no calendar budget: it was charged when it arrived).
   */
  check(op: OpenedOp, batch: BatchContext, phase: 'push' | 'release'): Verdict {
    const { replica, store, ledger, limits } = this.d;
    const now = this.d.nowUs();
    const isGenesis = op.header.doc.length === 0;
    const held = replica.hasDoc(op.doc);
    if (held) {
      const seq = store.seqOf(op.doc, op.id);
      if (seq !== undefined) return { kind: 'duplicate', seq };
      const covered = this.pruned(op, batch.pusher);
      if (covered !== undefined) return { kind: 'duplicate', seq: covered };
    }
    if (batch.ids.has(op.id)) return refuse('Malformed', 'the same op twice in one batch');
    // RELAY-12: a clock decades ahead is not skew; holding such an op would pin it for good.
    if (op.header.wallTime > now + limits.maxHoldAheadMs * 1000) {
      return refuse('ClockRule', 'wall_time is beyond what the relay holds (check the device clock)');
    }
    if (isGenesis) {
      if (!held && phase === 'push') {
        const wait = this.d.calendars.take(now / 1000);
        if (wait > 0) return refuse('RateLimited', 'too many new calendars on this relay', wait);
      }
      batch.creating.add(op.doc);
      return this.admitted(op, batch, phase);
    }
    if (!held && !batch.creating.has(op.doc)) return { kind: 'refuse', refusal: NOT_SERVED };
    const fact = op.header.kind === 2 ? ledgerFact(op.bytes) : undefined;
    let invite: OpId | undefined;
    if (fact?.kind === 'use') {
      const r = this.inviteUse(op, fact.invite);
      if (r !== undefined) return { kind: 'refuse', refusal: r };
      invite = fact.invite;
      batch.adding.add(`${op.doc}:${op.author}`);
    } else if (
      !batch.creating.has(op.doc) &&
      !batch.adding.has(`${op.doc}:${op.author}`) &&
      !this.isMember(op.doc, op.author)
    ) {
      // RELAY-10: a removed device's new ops; RELAY-13/18: a stranger's, whatever they claim.
      if (ledger.wasRemoved(op.doc, op.author)) {
        return refuse('NotMember', 'the author was removed from this calendar');
      }
      return { kind: 'refuse', refusal: NOT_SERVED };
    }
    const uncertified = this.certified(op);
    if (uncertified !== undefined) return { kind: 'refuse', refusal: uncertified };
    if (op.header.kind === 2) {
      const subject = membershipSubject(op);
      if (subject !== undefined) batch.adding.add(`${op.doc}:${subject}`);
    }
    const v = this.admitted(op, batch, phase);
    if (v.kind === 'refuse') {
      if (invite !== undefined) ledger.release(invite, op.id);
      return v;
    }
    if (invite !== undefined) ledger.reserve(invite, op.id);
    return v.kind === 'apply' && invite !== undefined ? { kind: 'apply', invite } : v;
  }

  /**
   * RELAY-28 (SNAP-10): an endorser's op after its endorsement must hold the frontier it
   * certified. Read from its predecessors' version vectors when the relay holds them all.
   */
  private certified(op: OpenedOp): Refusal | undefined {
    const certs = this.d.certs;
    if (certs === undefined || !certs.binds(op.doc, op.author, op.header.ctr)) return undefined;
    const vv: Record<string, number> = {};
    for (const p of op.prev === null ? op.parents : [...op.parents, op.prev]) {
      const pv = this.d.store.vvOf(op.doc, p);
      if (pv === undefined) return undefined;
      for (const [d, n] of Object.entries(pv)) if ((vv[d] ?? 0) < n) vv[d] = n;
    }
    const missing = certs.violation(op.doc, op.author, op.header.ctr, vv);
    if (missing === undefined) return undefined;
    return {
      code: 'NotPermitted',
      message: `SNAP-10: the author endorsed a snapshot whose frontier this op does not hold (${missing})`,
    };
  }

  /** INV-7, INV-8: the invite exists at the relay, is unexpired by its clock and unused. */
  private inviteUse(op: OpenedOp, invite: OpId): Refusal | undefined {
    const { ledger } = this.d;
    const inv = ledger.invite(op.doc, invite);
    if (inv === undefined)
      return { code: 'InviteInvalid', message: 'the relay holds no such invite in this calendar' };
    if (this.d.nowUs() > inv.expires) {
      return { code: 'InviteExpired', message: "the invite expired (by the relay's clock)" };
    }
    const used = ledger.usedBy(op.doc, invite);
    if (used !== undefined && used.op !== op.id)
      return { code: 'InviteUsed', message: 'the invite was already used' };
    return undefined;
  }

  /** Past the membership checks: future-dated (hold) or not, and the pending budget (RELAY-13). */
  private admitted(op: OpenedOp, batch: BatchContext, phase: 'push' | 'release'): Verdict {
    const { store, limits, pending } = this.d;
    if (phase === 'push' && op.header.wallTime > this.d.nowUs() + limits.maxSkewMs * 1000) {
      batch.ids.add(op.id);
      return { kind: 'hold' };
    }
    const preds = op.prev === null ? op.parents : [...op.parents, op.prev];
    const waits = preds.some(
      (p) => batch.waiting.has(p) || (!batch.ids.has(p) && store.seqOf(op.doc, p) === undefined),
    );
    if (waits) {
      const used = pending.usage(op.author);
      const t = batch.pending.get(op.author) ?? { n: 0, bytes: 0 };
      if (
        used.n + t.n + 1 > limits.maxPendingPerAuthor ||
        used.bytes + t.bytes + op.bytes.length > limits.maxPendingBytesPerAuthor
      ) {
        return refuse('PendingFull', 'too many ops from this author wait for their predecessors', 1000);
      }
      t.n++;
      t.bytes += op.bytes.length;
      batch.pending.set(op.author, t);
      batch.waiting.add(op.id);
    }
    batch.ids.add(op.id);
    return { kind: 'apply' };
  }
}
