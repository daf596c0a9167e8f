// Answers to pushed ops (SYNC-4, RELAY-5): which connections wait for which op, acks held back
// until the durability barrier, and exactly one answer per op per connection.

import type { DocId, OpId } from '../engine/index.ts';
import type { AckEntry, SyncErrorName } from '../sync/messages.ts';

/** The part of a connection that receives answers. */
export interface AnswerPeer {
  readonly closed: boolean;
  /** Pushed on this connection, not decided yet. */
  readonly awaited: Set<OpId>;
  /** Decided (ack waiting for the barrier), not sent yet. */
  readonly acking: Set<OpId>;
  queueAck(a: AckEntry): void;
  sendError(
    code: SyncErrorName,
    message: string,
    op: OpId | null,
    doc: DocId | null,
    retryAfterMs?: number,
  ): void;
}

export class Answers {
  private readonly awaiting = new Map<OpId, Set<AnswerPeer>>();
  private readonly durable: { peer: AnswerPeer; ack: AckEntry }[] = [];

  /** True when `peer` already has an answer coming for `id` (a repeat push is not answered again). */
  answering(peer: AnswerPeer, id: OpId): boolean {
    return peer.awaited.has(id) || peer.acking.has(id);
  }

  await(id: OpId, peer: AnswerPeer): void {
    let s = this.awaiting.get(id);
    if (s === undefined) {
      s = new Set();
      this.awaiting.set(id, s);
    }
    s.add(peer);
    peer.awaited.add(id);
  }

  private unawait(id: OpId, peer: AnswerPeer): void {
    const s = this.awaiting.get(id);
    s?.delete(peer);
    if (s !== undefined && s.size === 0) this.awaiting.delete(id);
    peer.awaited.delete(id);
  }

  /** A connection closed: it waits for nothing any more. */
  drop(peer: AnswerPeer): void {
    for (const id of peer.awaited) {
      const s = this.awaiting.get(id);
      s?.delete(peer);
      if (s !== undefined && s.size === 0) this.awaiting.delete(id);
    }
  }

  /** Acks `peer` for an op after the barrier (a duplicate, or the commit of what it pushed). */
  ack(peer: AnswerPeer, ack: AckEntry): void {
    this.unawait(ack.op, peer);
    if (peer.acking.has(ack.op)) return;
    peer.acking.add(ack.op);
    this.durable.push({ peer, ack });
  }

  /** Every connection waiting for `ack.op` gets it after the barrier. */
  ackAll(ack: AckEntry): void {
    for (const peer of [...(this.awaiting.get(ack.op) ?? [])]) this.ack(peer, ack);
  }

  /** An error for one connection's op, now. */
  refuse(
    peer: AnswerPeer,
    id: OpId,
    doc: DocId | null,
    code: SyncErrorName,
    message: string,
    retryAfterMs = 0,
  ) {
    this.unawait(id, peer);
    peer.sendError(code, message, id, doc, retryAfterMs);
  }

  /** An error for every connection waiting for `id` (a held op refused at release). */
  refuseAll(id: OpId, doc: DocId, code: SyncErrorName, message: string): void {
    for (const peer of [...(this.awaiting.get(id) ?? [])]) this.refuse(peer, id, doc, code, message);
  }

  /** Acks decided so far, taken before an fsync starts: they are sent once it is done. */
  takeDurable(): { peer: AnswerPeer; ack: AckEntry }[] {
    return this.durable.splice(0);
  }

  /** After the fsync: sends the acks it covered. */
  sendDurable(list: readonly { peer: AnswerPeer; ack: AckEntry }[]): void {
    for (const { peer, ack } of list) {
      peer.acking.delete(ack.op);
      if (!peer.closed) peer.queueAck(ack);
    }
  }

  /** The fsync failed: nothing it covered is acknowledged; devices resend what stays unacked. */
  discardDurable(list: readonly { peer: AnswerPeer; ack: AckEntry }[]): void {
    for (const { peer, ack } of list) peer.acking.delete(ack.op);
  }
}
