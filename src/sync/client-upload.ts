// The sync client's upload (between client-catch-up.ts and client.ts's SyncClient): the outbox
// pushed in frames under the frame limit with a bounded number of ops in flight (SYNC-4), the
// relay's acknowledgements (the outbox emptied only then), and the ops the relay asks for (Want).

import { SyncCatchUp } from './client-catch-up.ts';
import type { OutboxOp } from './client-contract.ts';
import { type MessageOf, SYNC_LIMITS } from './messages.ts';

/** The outbox pushed and acknowledged; ops sent on request. */
export abstract class SyncUpload extends SyncCatchUp {
  protected async pushOutbox(): Promise<void> {
    if (!this.authed || this.pushing) return;
    this.pushing = true;
    try {
      let socket = this.socket;
      while (this.authed && this.inFlight.size < this.o.maxInFlight) {
        const skip = this.inFlight.size + this.parked.size;
        const list = await this.o.persistence.listOutbox(skip + this.o.pushBatch);
        // The connection may have closed (and even reopened) while the outbox was read: ops sent
        // now would be marked in flight on a connection that never carries them, and the next
        // connection would skip them for good (their descendants then wait at the relay). Read
        // again for the connection there is now, if any.
        if (this.socket !== socket) {
          socket = this.socket;
          continue;
        }
        // Ops of a calendar the relay refuses on this connection (RELAY-9): kept in the outbox,
        // not pushed, and not waited for by the status, like ops it refused one by one; parked, so
        // the next read looks past them.
        const withheld = list.filter(
          (x) => this.refused.has(x.doc) && !this.inFlight.has(x.id) && !this.parked.has(x.id),
        );
        for (const x of withheld) {
          this.parked.add(x.id);
          this.refusedOps.add(x.id);
        }
        const fresh = list
          .filter((x) => !this.inFlight.has(x.id) && !this.parked.has(x.id))
          .slice(0, this.o.pushBatch);
        if (fresh.length > 0) this.sendOps(fresh);
        else if (withheld.length === 0) break;
      }
    } finally {
      this.pushing = false;
    }
    await this.refreshPending();
  }

  /** Sends ops in frames that stay under the frame limit. */
  protected sendOps(ops: readonly OutboxOp[]): void {
    let batch: Uint8Array[] = [];
    let size = 0;
    const flush = () => {
      if (batch.length > 0) this.send({ type: 'push', ops: batch });
      batch = [];
      size = 0;
    };
    for (const op of ops) {
      if (
        batch.length >= SYNC_LIMITS.maxOpsPerFrame ||
        size + op.bytes.length > SYNC_LIMITS.maxFrameBytes / 2
      )
        flush();
      batch.push(op.bytes);
      size += op.bytes.length + 16;
      this.inFlight.set(op.id, op.doc);
    }
    flush();
  }

  protected async acked(m: MessageOf<'ack'>): Promise<void> {
    const ids = m.acks.map((a) => a.op);
    // Removed only now: the relay acks after its commit, so the op is durable there (RELAY-5).
    await this.o.persistence.removeOutbox(m.acks.map((a) => ({ doc: a.doc, id: a.op })));
    for (const id of ids) {
      this.inFlight.delete(id);
      this.parked.delete(id);
      this.refusedOps.delete(id);
    }
    this.emit({ type: 'acked', acks: m.acks });
    await this.pushOutbox();
    for (const doc of new Set(m.acks.map((a) => a.doc))) {
      if (this.seeding.has(doc) && ![...this.inFlight.values()].includes(doc)) {
        this.seeding.delete(doc);
        await this.subscribe(doc);
      }
    }
    if (this.inFlight.size === 0) this.checkRoots();
    for (const doc of new Set(m.acks.map((a) => a.doc))) await this.tryRebase(doc);
    this.updateSynced();
  }

  protected async want(m: MessageOf<'want'>): Promise<void> {
    const recs = await this.o.replica.getOps(m.doc, m.ids);
    const ops: OutboxOp[] = [];
    for (const r of recs)
      if (r !== undefined && !this.inFlight.has(r.id)) ops.push({ id: r.id, doc: r.doc, bytes: r.bytes });
    if (ops.length > 0) this.sendOps(ops);
  }
}
