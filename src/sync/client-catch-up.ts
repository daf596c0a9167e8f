// The sync client's catch-up (between client-session.ts and client.ts's SyncClient): subscribing
// to a calendar from its cursor (with an invite proof, or from a snapshot, SYNC-15), applying the
// ops that arrive, CaughtUp, reconciling heads until Merkle roots match (SYNC-6, SYNC-7), and the
// re-sync of a diverged calendar: its refill on a fresh connection and the re-base (SNAP-18).

import { type ApplyResult, type DeviceId, type DocId, signInvite } from '../engine/index.ts';
import type { SyncState } from './client-contract.ts';
import { SyncSession } from './client-session.ts';
import { type MessageOf, SYNC_LIMITS } from './messages.ts';
import { inviteFetchMessage } from './messages-auth.ts';

const MAX_ROUNDS = 64;

/** Subscriptions, what arrives on them, reconciliation and re-base. */
export abstract class SyncCatchUp extends SyncSession {
  protected async subscribe(doc: DocId): Promise<void> {
    if (!this.authed) return;
    // SNAP-18, SYNC-16: a diverged calendar is refilled from cursor 0 (from the relay's trusted
    // snapshot when it has one) into a scratch replica; the real copy is re-based on it.
    const refill = this.resync.has(doc) ? this.resync.begin(doc, this.nowMs()) : undefined;
    if (this.resync.has(doc) && refill === undefined) this.restartLater();
    const cursor = refill === undefined ? await this.o.persistence.getCursor(doc) : 0;
    this.refused.delete(doc);
    this.docs.set(doc, {
      caughtUp: false,
      subscribed: true,
      cursor,
      matched: false,
      rounds: 0,
      asking: false,
    });
    const invite = this.followed.get(doc);
    const self = this.o.replica.deviceId;
    // SYNC-15: a calendar this device holds nothing of may start from a snapshot.
    const from: { fromSnapshot?: true } =
      refill !== undefined
        ? refill.fromSnapshot && this.snaps !== undefined
          ? { fromSnapshot: true }
          : {}
        : this.snaps?.mayStart(doc, cursor) === true
          ? { fromSnapshot: true }
          : {};
    if (invite !== undefined && self !== undefined && this.challenge !== undefined && !this.isMember(doc)) {
      const msg = inviteFetchMessage(doc, invite.op, self as DeviceId, this.challenge);
      this.send({
        type: 'subscribe',
        doc,
        cursor,
        invite: { op: invite.op, sig: signInvite(invite.secret, msg) },
        ...from,
      });
    } else {
      this.send({ type: 'subscribe', doc, cursor, ...from });
    }
    this.set({ state: this.busyState() });
  }

  private busyState(): SyncState {
    return this.resync.busy ? 'resyncing' : 'syncing';
  }

  /**
   * SNAP-18: a calendar diverged or its refill must start over or was given up: on a fresh
   * connection (no frame of this one's subscription can be taken for the next one's).
   */
  protected restart(): void {
    this.updateSynced();
    this.socket?.close(1000, 'resync');
  }

  /** SNAP-18: a re-sync waits after a failed attempt: start over when the wait is over. */
  private restartLater(): void {
    const wait = this.resync.nextWait(this.nowMs());
    if (wait === undefined) return;
    const socket = this.socket;
    this.o.clock.clearTimeout(this.resyncTimer);
    this.resyncTimer = this.o.clock.setTimeout(() => {
      if (this.socket === socket) this.serial(async () => this.restart());
    }, wait);
  }

  /**
   * SNAP-18: re-bases the real copy of `doc` on its refill once the refill is caught up and
   * holds everything the real copy holds, and no own op of the calendar waits for its
   * acknowledgement (it holds the frontier; the relay forwards it into the refill once stored).
   */
  protected async tryRebase(doc: DocId): Promise<void> {
    const d = this.docs.get(doc);
    if (d === undefined || !this.resync.refilling(doc)) return;
    if (this.resync.refillDiverged(doc)) {
      // The relay's snapshot predates ops the refill was sent: the whole history next time.
      this.resync.noSnapshot(doc);
      this.resync.abandon(doc, this.nowMs(), false);
      this.restart();
      return;
    }
    // Matched: the refill holds what the relay holds (a refill with gaps would only diverge again).
    if (!d.caughtUp || !d.matched) return;
    if (this.inFlightFor(doc) > 0) return;
    const outbox = await this.o.persistence.listOutbox(SYNC_LIMITS.maxIdsPerFrame);
    if (outbox.some((o) => o.doc === doc)) return;
    if (!(await this.resync.covers(doc))) return;
    try {
      await this.resync.finish(doc);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      const message = e instanceof Error ? e.message : String(e);
      this.set({ lastError: { code: typeof code === 'string' ? code : 'Internal', message } });
      // Not covered after all (SNAP-13: an own op made a moment ago), or the store still holds an
      // own op in its outbox: nothing changed; tried again after the next acknowledgement.
      if (code === 'InvalidArgument') return;
      this.resync.abandon(doc, this.nowMs(), true);
      this.restart();
      return;
    }
    await this.o.persistence.setCursor(doc, d.cursor);
    d.matched = false;
    d.rounds = 0;
    this.set({ rebased: this.st.rebased + 1, lastError: null });
    this.askHeads(doc);
    this.updateSynced();
  }

  private isMember(doc: DocId): boolean {
    const self = this.o.replica.deviceId;
    return self !== undefined && this.o.replica.members(doc).has(self);
  }

  protected async ops(m: MessageOf<'ops'>): Promise<void> {
    // One store commit per page of ops (DAG-7): catch-up of a large calendar is bound by verification.
    const target = this.resync.target(m.doc);
    const refilling = this.resync.refilling(m.doc);
    const results: ApplyResult[] = await target.receiveBatch(m.ops.map((o) => o.bytes));
    this.st.opsReceived += m.ops.length;
    const d = this.docs.get(m.doc);
    let cursor = d?.cursor ?? 0;
    let pending = false;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      const seq = m.ops[i]!.seq;
      if (r.status === 'rejected' && r.error?.code === 'Storage') {
        // Not applied here: do not move the cursor past it; retry on a new connection.
        throw r.error;
      }
      if (r.status === 'pending') pending = true;
      // Ops from the subscription stream come in seq order; answers to Want carry seq 0.
      if (seq > cursor) cursor = seq;
    }
    if (d !== undefined && cursor > d.cursor) {
      d.cursor = cursor;
      if (!refilling) await this.o.persistence.setCursor(m.doc, cursor);
    }
    // SNAP-18: the engine refused ops by SNAP-7: this copy diverged; refill it on a fresh connection.
    if (!refilling && this.resync.diverged(m.doc, this.nowMs())) {
      this.restart();
      return;
    }
    if (refilling) await this.tryRebase(m.doc);
    if (pending) {
      // SYNC-7: fetch what the pending ops wait for.
      const ids = target.missing(m.doc).slice(0, SYNC_LIMITS.maxIdsPerFrame);
      if (ids.length > 0) this.send({ type: 'want', doc: m.doc, ids });
    } else if (d?.caughtUp && !d.matched && this.inFlightFor(m.doc) === 0) {
      // During reconciliation (an answer to our Want, or the op we wanted arriving by the live
      // stream instead): compare again.
      this.askHeads(m.doc);
    }
  }

  protected async caughtUp(m: MessageOf<'caughtUp'>): Promise<void> {
    const d = this.docs.get(m.doc);
    if (d === undefined) return;
    d.caughtUp = true;
    this.unserved.delete(m.doc);
    const refilling = this.resync.refilling(m.doc);
    if (m.seq < d.cursor) {
      // RELAY-16: the relay's log is shorter than our cursor (it was restored from a backup): it
      // streamed from the start; resume from its seq from now on, and reconcile roots (SYNC-6).
      d.cursor = m.seq;
      if (!refilling) await this.o.persistence.setCursor(m.doc, m.seq);
    }
    // SNAP-22: a copy that holds an endorsement it cannot judge (found at open, or arrived while
    // the relay streamed) diverged though its root may match: re-sync it.
    if (!refilling && this.resync.diverged(m.doc, this.nowMs())) {
      this.restart();
      return;
    }
    d.matched = m.root === this.resync.target(m.doc).root(m.doc);
    if (d.matched && refilling) await this.tryRebase(m.doc);
    else if (d.matched) this.updateSynced();
    else if (this.inFlightFor(m.doc) === 0) this.askHeads(m.doc);
  }

  private inFlightFor(doc: DocId): number {
    let n = 0;
    for (const d of this.inFlight.values()) if (d === doc) n++;
    return n;
  }

  protected checkRoots(): void {
    for (const [doc, d] of this.docs) if (d.caughtUp) this.askHeads(doc);
  }

  /** SYNC-6: send our heads and root; the relay answers with its own and asks for what it lacks. */
  private askHeads(doc: DocId): void {
    const d = this.docs.get(doc);
    if (d === undefined || d.asking) return;
    if (d.rounds >= MAX_ROUNDS) {
      this.set({ lastError: { code: 'Internal', message: `reconciliation of ${doc} did not converge` } });
      if (this.resync.refilling(doc)) {
        // SYNC-16: the relay cannot give the refill what it names (its history pruned, say):
        // the real copy stays as it is and is subscribed again from its own cursor; a later
        // connection tries again (restartLater, from subscribe).
        this.resync.abandon(doc, this.nowMs(), true);
        this.restart();
      }
      return;
    }
    d.rounds++;
    d.asking = true;
    const target = this.resync.target(doc);
    this.send({
      type: 'heads',
      doc,
      root: target.root(doc),
      heads: target.heads(doc).slice(0, SYNC_LIMITS.maxIdsPerFrame),
    });
  }

  protected async heads(m: MessageOf<'heads'>): Promise<void> {
    const d = this.docs.get(m.doc);
    if (d === undefined) return;
    d.asking = false;
    const target = this.resync.target(m.doc);
    d.matched = m.root === target.root(m.doc);
    if (d.matched) {
      d.rounds = 0;
      await this.tryRebase(m.doc);
      this.updateSynced();
      return;
    }
    this.set({ state: this.busyState() });
    const have = await target.getOps(m.doc, m.heads);
    const unknown = m.heads.filter((_, i) => have[i] === undefined);
    if (unknown.length > 0) this.send({ type: 'want', doc: m.doc, ids: unknown });
    else if (this.inFlightFor(m.doc) === 0) {
      // We hold all the relay's heads: the relay lacks some of ours; it asked for them with a
      // Want (answered by pushes). Compare again once those are acked.
      this.o.clock.setTimeout(() => this.serial(async () => this.askHeads(m.doc)), 50);
    }
  }
}
