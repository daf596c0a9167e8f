// The catch-up and want pump of one connection (SYNC-3, SYNC-5, RELAY-9, RELAY-14): streams each
// subscribed calendar's durable ops in seq order, and answers Want from a bounded, deduplicated
// queue; both pause while the socket has more than HIGH_WATER bytes unsent (a slow reader costs
// the relay a bounded buffer, not a growing one).

import type { DocId, OpId } from '../engine/index.ts';
import type { SeqOp, SyncErrorName, SyncMessage } from '../sync/messages.ts';

/** Catch-up page: ops per frame and the byte budget that keeps a frame under its limit. */
export const PAGE_OPS = 256;
const PAGE_BYTES = 512 * 1024;
/** Pause streaming to a connection while this much is queued in its socket (slow consumer). */
export const HIGH_WATER = 4 * 1024 * 1024;

export interface StreamPort {
  readonly closed: boolean;
  send(m: SyncMessage): void;
  sendError(code: SyncErrorName, message: string, op: OpId | null, doc: DocId | null): void;
  bufferedAmount(): number;
  /** The connection was sent CaughtUp for `doc` (the first time on this subscription). */
  caughtUp?(doc: DocId): void;
}

export interface StreamSource {
  page(doc: DocId, afterSeq: number): { seq: number; id: OpId; bytes: Uint8Array }[];
  headsOf(doc: DocId): { root: string; heads: OpId[] };
  durableSeq(doc: DocId): number;
  /** Durable ops by id; `later`: stored, durable after the next fsync. */
  opBytes(doc: DocId, ids: readonly OpId[]): { bytes: Uint8Array[]; later: OpId[] };
}

interface Subscription {
  doc: DocId;
  /** Highest seq sent to this connection in seq order. */
  sentSeq: number;
  caughtUp: boolean;
  scheduled: boolean;
  /** RELAY-9: the device was removed; stream up to this seq (its own Remove), then stop. */
  revokeAt?: number | undefined;
  /** SYNC-15: ops a snapshot the device started from covers (not sent). */
  skip?: ReadonlySet<OpId> | undefined;
}

export class Streams {
  private readonly subs = new Map<DocId, Subscription>();
  private readonly wants = new Map<DocId, Set<OpId>>();
  /** Asked-for ops stored but not durable yet: answered when the barrier wakes their calendar. */
  private readonly wantsLater = new Map<DocId, Set<OpId>>();
  private wantCount = 0;
  private wantScheduled = false;

  constructor(
    private readonly port: StreamPort,
    private readonly src: StreamSource,
    private readonly maxWantIds: number,
  ) {}

  has(doc: DocId): boolean {
    return this.subs.has(doc);
  }

  /** Whether this connection is still streaming `doc`'s log up to its CaughtUp (SNAP-17 waits). */
  catchingUp(doc: DocId): boolean {
    const sub = this.subs.get(doc);
    return sub !== undefined && !sub.caughtUp;
  }

  /**
   * SYNC-3. RELAY-16: a cursor beyond the relay's log (a relay restored from an old backup)
   * restarts the stream at 0; CaughtUp then tells the device the relay's real seq.
   */
  subscribe(doc: DocId, cursor: number, revokeAt?: number, skip?: ReadonlySet<OpId>): void {
    const start = cursor > this.src.durableSeq(doc) ? 0 : cursor;
    const sub: Subscription = { doc, sentSeq: start, caughtUp: false, scheduled: false, revokeAt, skip };
    this.subs.set(doc, sub);
    this.pump(sub);
  }

  /** RELAY-9: this device was removed from `doc` by the op at `seq`. */
  revoke(doc: DocId, seq: number): void {
    const sub = this.subs.get(doc);
    if (sub === undefined) return;
    sub.revokeAt = seq;
    this.pump(sub);
  }

  /** A commit in `doc`: stream what is new to this connection on the next tick (batched). */
  wake(doc: DocId): void {
    const later = this.wantsLater.get(doc);
    if (later !== undefined) {
      this.wantsLater.delete(doc);
      this.wantCount -= later.size;
      this.want(doc, [...later]);
    }
    const sub = this.subs.get(doc);
    if (sub === undefined || sub.scheduled || this.port.closed) return;
    sub.scheduled = true;
    setImmediate(() => {
      sub.scheduled = false;
      this.pump(sub);
    });
  }

  private later(f: () => void): void {
    setTimeout(f, 20);
  }

  /**
   * Sends ops with seq > sentSeq in seq order, in pages, from the store. Synchronous between
   * pages, so nothing committed in between is skipped or sent twice. Pauses under backpressure.
   */
  private pump(sub: Subscription): void {
    if (this.port.closed || this.subs.get(sub.doc) !== sub) return;
    for (;;) {
      if (this.port.bufferedAmount() > HIGH_WATER) {
        if (!sub.scheduled) {
          sub.scheduled = true;
          this.later(() => {
            sub.scheduled = false;
            this.pump(sub);
          });
        }
        return;
      }
      const limit = sub.revokeAt;
      const page = this.src.page(sub.doc, sub.sentSeq).filter((op) => limit === undefined || op.seq <= limit);
      if (page.length === 0) break;
      const skip = sub.skip;
      this.sendPaged(
        sub.doc,
        (skip === undefined ? page : page.filter((op) => !skip.has(op.id))).map((op) => ({
          seq: op.seq,
          bytes: op.bytes,
        })),
      );
      sub.sentSeq = page[page.length - 1]!.seq;
      if (page.length < PAGE_OPS) break;
    }
    if (sub.revokeAt !== undefined && sub.sentSeq >= sub.revokeAt) {
      // The Remove itself went out: the device learns it was removed; nothing after it does.
      this.subs.delete(sub.doc);
      this.port.sendError('NotMember', 'this device was removed from the calendar', null, sub.doc);
      return;
    }
    if (!sub.caughtUp) {
      sub.caughtUp = true;
      const { root, heads } = this.src.headsOf(sub.doc);
      this.port.send({ type: 'caughtUp', doc: sub.doc, seq: sub.sentSeq, root, heads });
      this.port.caughtUp?.(sub.doc);
    }
  }

  /** Ops frames of at most PAGE_OPS ops and PAGE_BYTES bytes (a frame stays under its limit). */
  private sendPaged(doc: DocId, ops: readonly SeqOp[]): void {
    let batch: SeqOp[] = [];
    let size = 0;
    for (const op of ops) {
      if (batch.length > 0 && size + op.bytes.length > PAGE_BYTES) {
        this.port.send({ type: 'ops', doc, ops: batch });
        batch = [];
        size = 0;
      }
      batch.push(op);
      size += op.bytes.length;
    }
    if (batch.length > 0) this.port.send({ type: 'ops', doc, ops: batch });
  }

  /**
   * RELAY-14: ids are deduplicated against everything still queued, at most `maxWantIds` wait
   * per connection (the rest are dropped: the device asks again when roots still differ), and
   * answers go out in pages only while the socket drains.
   */
  want(doc: DocId, ids: readonly OpId[]): void {
    let q = this.wants.get(doc);
    if (q === undefined) {
      q = new Set();
      this.wants.set(doc, q);
    }
    for (const id of ids) {
      if (this.wantCount >= this.maxWantIds) break;
      if (q.has(id)) continue;
      q.add(id);
      this.wantCount++;
    }
    this.drainWants();
  }

  private drainWants(): void {
    if (this.port.closed) {
      this.wants.clear();
      this.wantCount = 0;
      return;
    }
    for (const [doc, q] of this.wants) {
      while (q.size > 0) {
        if (this.port.bufferedAmount() > HIGH_WATER) {
          if (!this.wantScheduled) {
            this.wantScheduled = true;
            this.later(() => {
              this.wantScheduled = false;
              this.drainWants();
            });
          }
          return;
        }
        const chunk: OpId[] = [];
        for (const id of q) {
          chunk.push(id);
          if (chunk.length >= PAGE_OPS) break;
        }
        for (const id of chunk) q.delete(id);
        this.wantCount -= chunk.length;
        const { bytes, later } = this.src.opBytes(doc, chunk);
        this.sendPaged(
          doc,
          bytes.map((b) => ({ seq: 0, bytes: b })),
        );
        if (later.length > 0) {
          const l = this.wantsLater.get(doc) ?? new Set<OpId>();
          for (const id of later) {
            if (l.has(id)) continue;
            l.add(id);
            this.wantCount++;
          }
          this.wantsLater.set(doc, l);
        }
      }
      this.wants.delete(doc);
    }
  }
}
