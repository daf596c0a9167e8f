// The relay's SQLite store: the EngineStore (`SqliteLog`, sqlite-log.ts) and what the relay reads
// and keeps beside it in the same file: ops by seq and id up to the durable point, op metadata, the
// pending set read by index (RELAY-13) and held future-dated ops (RELAY-7).

import type { DeviceId, DocId, DocRecord, OpId, OpRecord } from '../engine/index.ts';
import { SqliteLog } from './sqlite-log.ts';
import {
  bufferOf,
  type DocRow,
  type HeldOp,
  type HeldRow,
  type OpRow,
  ownBytes,
  registersFromJson,
  rowToHeld,
  rowToOp,
  splitIds,
} from './store-rows.ts';

export class SqliteStore extends SqliteLog {
  /** The version vector of a held op (its causal past and itself), or undefined. */
  vvOf(doc: DocId, id: OpId): Record<string, number> | undefined {
    const r = this.guard('vvOf', () => this.st.getOp.get(doc, id) as OpRow | undefined);
    return r === undefined ? undefined : rowToOp(r).vv;
  }

  /** Ops after `afterSeq` in seq order with their chain positions (relay-snapshots.ts); no bytes. */
  opsAfter(
    doc: DocId,
    afterSeq: number,
    limit: number,
  ): { seq: number; id: OpId; author: DeviceId; ctr: number; vv: Record<string, number> }[] {
    return this.guard('opsAfter', () =>
      (
        this.st.listOpMeta.all(doc, afterSeq, limit) as {
          seq: number;
          id: string;
          author: string;
          ctr: number;
          vv: string;
        }[]
      ).map((r) => ({
        seq: r.seq,
        id: r.id as OpId,
        author: r.author as DeviceId,
        ctr: r.ctr,
        vv: JSON.parse(r.vv) as Record<string, number>,
      })),
    );
  }

  /** Relay fast path: (seq, bytes) of durable ops only, no JSON decoding (catch-up streams these). */
  listOpBytes(doc: DocId, afterSeq: number, limit: number): { seq: number; id: OpId; bytes: Uint8Array }[] {
    const upTo = this.durableSeqOf(doc);
    return this.guard('listOpBytes', () =>
      (
        this.st.listOpBytes.all(doc, afterSeq, upTo, limit) as { seq: number; id: string; bytes: Buffer }[]
      ).map((r) => ({ seq: r.seq, id: r.id as OpId, bytes: ownBytes(r.bytes) })),
    );
  }

  /** Membership ops of a calendar in seq order, read synchronously (the relay's invite ledger). */
  membershipOps(doc: DocId): OpRecord[] {
    return this.guard('membershipOps', () => (this.st.listMembership.all(doc) as OpRow[]).map(rowToOp));
  }

  /** SNAP-17: the stored snapshot mark of a calendar's doc record, as JSON (undefined: none). */
  markOf(doc: DocId): string | undefined {
    return this.guard('markOf', () => {
      const d = this.st.getDoc.get(doc) as DocRow | undefined;
      if (d?.extra == null) return undefined;
      const m = (registersFromJson(d.extra) as unknown as Partial<DocRecord>).snapshot;
      return m === undefined ? undefined : JSON.stringify(m);
    });
  }

  /** Seq of an op this store holds, or undefined. */
  seqOf(doc: DocId, id: OpId): number | undefined {
    return this.guard('seqOf', () => (this.st.getSeq.get(doc, id) as { seq: number } | undefined)?.seq);
  }

  /** The seq of a calendar's doc record, or undefined if the store has none. */
  docSeqOf(doc: DocId): number | undefined {
    return this.guard('docSeqOf', () => (this.st.getDoc.get(doc) as DocRow | undefined)?.seq);
  }

  /** Ids of a calendar's pending ops. */
  pendingIdsOf(doc: DocId): OpId[] {
    return this.guard('pendingIdsOf', () =>
      (this.st.listPendingIds.all(doc) as { id: string }[]).map((r) => r.id as OpId),
    );
  }

  /** Ids a pending op still waits for (empty if it is not pending). */
  pendingMissing(doc: DocId, id: OpId): OpId[] {
    return this.guard('pendingMissing', () => {
      const r = this.st.getPending.get(doc, id) as { missing: string } | undefined;
      return r === undefined ? [] : splitIds<OpId>(r.missing);
    });
  }

  // --- relay-only: the pending set, read by index (RELAY-13) ----------------------------------

  /** Ids the pending ops of a calendar wait for (SYNC-7), from the table's (doc, id) key. */
  missingOf(doc: DocId, limit: number): OpId[] {
    return this.guard('missingOf', () => {
      const out = new Set<OpId>();
      for (const r of this.st.listMissing.iterate(doc) as Iterable<{ missing: string }>) {
        for (const id of splitIds<OpId>(r.missing)) {
          if (out.size >= limit) return [...out];
          out.add(id);
        }
      }
      return [...out];
    });
  }

  pendingCountAll(): number {
    return this.guard('pendingCountAll', () => (this.st.countPending.get() as { n: number }).n);
  }

  /** Every pending op: id, calendar, bytes (the relay's per-author budget is built from these at start). */
  *pendingOps(): Generator<{ id: OpId; doc: DocId; bytes: Uint8Array }> {
    for (const r of this.st.allPending.iterate() as Iterable<{ id: string; doc: string; bytes: Buffer }>) {
      yield { id: r.id as OpId, doc: r.doc as DocId, bytes: ownBytes(r.bytes) };
    }
  }

  /** Deletes pending ops of calendars this store does not hold (a flood must not outlive a restart). */
  dropOrphanPending(): number {
    return this.guard('dropOrphanPending', () => this.st.dropOrphanPending.run().changes);
  }

  /** Deletes pending ops by id (the relay evicts what no longer fits its budgets). */
  dropPending(doc: DocId, ids: readonly OpId[]): void {
    this.guard('dropPending', () => {
      for (const id of ids) this.st.deletePending.run(doc, id);
    });
  }

  /**
   * Stored bytes of ops by id, only up to the durable seq (answers to Want, RELAY-5); `later`:
   * ids stored but not durable yet (answered after the next fsync).
   */
  durableOpBytes(doc: DocId, ids: readonly OpId[]): { bytes: Uint8Array[]; later: OpId[] } {
    const upTo = this.durableSeqOf(doc);
    return this.guard('durableOpBytes', () => {
      const bytes: Uint8Array[] = [];
      const later: OpId[] = [];
      for (const id of ids) {
        const r = this.st.getOpBytes.get(doc, id) as { seq: number; bytes: Buffer } | undefined;
        if (r === undefined) continue;
        if (r.seq <= upTo) bytes.push(ownBytes(r.bytes));
        else later.push(id);
      }
      return { bytes, later };
    });
  }

  // --- relay-only: held future-dated ops (RELAY-7) -----------------------------------------

  /** Persists a held op (durable on return). Returns false if it was already held. */
  hold(op: HeldOp): boolean {
    return this.guard(
      'hold',
      () =>
        this.st.putHeld.run(op.id, op.doc, op.author, op.wallTime, bufferOf(op.bytes), op.receivedAt)
          .changes === 1,
    );
  }

  /** Held ops with wall_time <= `untilUs`, oldest first. */
  dueHeld(untilUs: number, limit: number): HeldOp[] {
    return this.guard('dueHeld', () => (this.st.dueHeld.all(untilUs, limit) as HeldRow[]).map(rowToHeld));
  }

  isHeld(id: OpId): boolean {
    return this.guard('isHeld', () => this.st.getHeld.get(id) !== undefined);
  }

  heldCountByAuthor(author: DeviceId): number {
    return this.guard('heldCountByAuthor', () => (this.st.countHeldByAuthor.get(author) as { n: number }).n);
  }

  heldBytesByAuthor(author: DeviceId): number {
    return this.guard('heldBytesByAuthor', () => (this.st.bytesHeldByAuthor.get(author) as { n: number }).n);
  }

  /** Every held op (the ledger re-reserves the invites of held Adds at start, RELAY-11). */
  allHeld(): HeldOp[] {
    return this.guard('allHeld', () => (this.st.allHeld.all() as HeldRow[]).map(rowToHeld));
  }

  /** Earliest held wall_time (µs), or undefined if nothing is held. */
  nextHeldTime(): number | undefined {
    return this.guard('nextHeldTime', () => {
      const r = this.st.nextHeld.get() as { t: number | null };
      return r.t ?? undefined;
    });
  }

  heldCount(): number {
    return this.guard('heldCount', () => (this.st.countHeld.get() as { n: number }).n);
  }

  unhold(id: OpId): void {
    this.guard('unhold', () => this.st.deleteHeld.run(id));
  }
}
