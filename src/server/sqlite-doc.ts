// A calendar's rows in the relay's SQLite file and the engine's records: loading one (`loadDoc`)
// and writing a CommitBatch (`applyBatch`, inside the caller's transaction: the whole batch or
// none of it, RELAY-5).

import type Database from 'better-sqlite3';
import {
  type CommitBatch,
  type DeviceId,
  type DocId,
  EngineError,
  type EntityId,
  type EntityRecord,
  type EquivocationRecord,
  type LoadedDoc,
  type OpId,
  type PendingRecord,
} from '../engine/index.ts';
import type { Statements } from './sqlite-schema.ts';
import {
  bufferOf,
  type DocRow,
  docRecordOf,
  joinIds,
  type OpRow,
  ownBytes,
  registersFromJson,
  registersToJson,
  rowToOp,
  splitIds,
} from './store-rows.ts';

/** SNAP-17: what a pruning commit of a calendar also does in its transaction (`armPrune`). */
export type PruneHook = (db: Database.Database) => void;

/** Everything stored of one calendar but its ops, or undefined if the store has none. */
export function loadDoc(st: Statements, doc: DocId): LoadedDoc | undefined {
  const d = st.getDoc.get(doc) as DocRow | undefined;
  if (d === undefined) return undefined;
  const entities = (st.listEntities.all(doc) as { entity: string; registers: string }[]).map(
    (r): EntityRecord => ({
      doc,
      entity: r.entity as EntityId,
      registers: registersFromJson(r.registers),
    }),
  );
  const pending = (st.listPending.all(doc) as { id: string; bytes: Buffer; missing: string }[]).map(
    (r): PendingRecord => ({
      id: r.id as OpId,
      doc,
      bytes: ownBytes(r.bytes),
      missing: splitIds<OpId>(r.missing),
    }),
  );
  const membership = (st.listMembership.all(doc) as OpRow[]).map(rowToOp);
  const evidence = (st.listEvidence.all(doc) as { author: string; ctr: number; ops: string }[]).map(
    (r): EquivocationRecord => ({
      doc,
      author: r.author as DeviceId,
      ctr: r.ctr,
      ops: splitIds<OpId>(r.ops),
    }),
  );
  return {
    doc: docRecordOf(doc, d),
    entities,
    pending,
    membership,
    evidence,
  };
}

/** Writes one batch; the caller runs it in one transaction. `armed`: pruning hooks by calendar. */
export function applyBatch(
  db: Database.Database,
  st: Statements,
  b: CommitBatch,
  armed: Map<DocId, PruneHook>,
): void {
  appendOps(st, b);
  for (const u of b.bodyUpdates ?? []) {
    const r = st.updateBody.run(u.body, b.doc, u.id);
    if (r.changes !== 1) throw new EngineError('Storage', `body update for unknown op ${u.id}`);
  }
  if (b.reset === true || (b.base ?? []).length > 0)
    throw new EngineError('Unsupported', 'the relay stores no snapshot registers (SNAP-13, SNAP-11)');
  if (b.docRecord !== undefined) {
    const { doc, genesis, heads, seq, ownLast, ownCtr, ...extra } = b.docRecord;
    const more = Object.keys(extra).length === 0 ? null : registersToJson(extra as never);
    st.putDoc.run(doc, genesis, joinIds(heads), seq, ownLast, ownCtr, more);
  }
  // SNAP-17: the pruned ops go in the same transaction as the mark (and, when the relay armed
  // it, the snapshots the new base makes unservable: `armPrune`). Seqs are not reused.
  if ((b.prune ?? []).length > 0) {
    for (const id of b.prune!) st.deleteOp.run(b.doc, id);
    const hook = armed.get(b.doc);
    armed.delete(b.doc);
    hook?.(db);
  }
  for (const e of b.entities ?? []) st.putEntity.run(e.doc, e.entity, registersToJson(e.registers));
  for (const p of b.pendingAdd ?? []) st.putPending.run(p.doc, p.id, bufferOf(p.bytes), joinIds(p.missing));
  for (const id of b.pendingRemove ?? []) st.deletePending.run(b.doc, id);
  for (const e of b.evidence ?? []) st.putEvidence.run(e.doc, e.author, e.ctr, joinIds(e.ops));
  // The clock only moves forward (CLK-1), whatever order commits arrive in.
  if (b.clock !== undefined) st.putClock.run(b.clock);
}

/** Appends a batch's new ops; an op already stored is skipped, a seq out of order refused. */
function appendOps(st: Statements, b: CommitBatch): void {
  let lastSeq = b.ops === undefined ? 0 : ((st.maxSeq.get(b.doc) as { s: number | null }).s ?? 0);
  for (const op of b.ops ?? []) {
    if (op.doc !== b.doc)
      throw new EngineError('Storage', `op ${op.id} belongs to another doc than its batch`);
    // Appending an op already stored is a no-op (idempotent retries after a crash).
    if (st.getSeq.get(op.doc, op.id) !== undefined) continue;
    // The log has no gaps: seq is 1, 2, 3, ... per calendar (the relay's cursor relies on it).
    if (op.seq !== lastSeq + 1)
      throw new EngineError('Storage', `op ${op.id} has seq ${op.seq}, expected ${lastSeq + 1}`);
    lastSeq = op.seq;
    st.insertOp.run(
      op.doc,
      op.seq,
      op.id,
      op.author,
      op.ctr,
      op.wallTime,
      op.kind,
      joinIds(op.parents),
      op.prev,
      bufferOf(op.bytes),
      JSON.stringify(op.vv),
      joinIds(op.mfront),
      op.body,
    );
  }
}
