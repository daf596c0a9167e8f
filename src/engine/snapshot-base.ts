// What a calendar started from a snapshot keeps of it, and SNAP-7's rule for the ops after it
// (docs/PROTOCOL.md SNAP-7, SNAP-8). Read by the applier for every op of such a calendar.

import { bytesEqual } from './bytes.ts';
import type { DeviceId, DocId, EntityId, OpId } from './ids.ts';
import { encodeSnapshot } from './snapshot-codec.ts';
import type { EntityRecord } from './store.ts';
import type { Txn } from './txn.ts';

/** SNAP-7, SNAP-8: what a calendar started from a snapshot keeps of it (snapshot-start.ts). */
export interface SnapshotBase {
  frontier: ReadonlySet<OpId>;
  /** The ops the snapshot carried whole (stored in the log). */
  anchors: ReadonlySet<OpId>;
  /** The frontier's version vector. */
  vv: Readonly<Record<string, number>>;
  /**
   * The snapshot's registers: what MEM-5 rebuilds an entity from (SNAP-8), stored as base records
   * (SNAP-11). Absent only for a calendar started before SNAP-11 and reopened: a rebuild is then
   * refused.
   */
  entities: ReadonlyMap<EntityId, EntityRecord> | undefined;
  /**
   * SNAP-11: entities whose base record is stored. The others' live record is still the
   * snapshot's: a commit that first changes one stores its base record with it (`baseCopies`).
   */
  stored: Set<EntityId>;
}

/** An entity's registers in the snapshot's one encoding (SNAP-4): equal registers, equal bytes. */
function canonical(doc: DocId, e: EntityRecord | undefined): Uint8Array {
  if (e === undefined || e.registers.length === 0) return new Uint8Array(0);
  const registers = [...e.registers].sort((a, b) => a.field - b.field);
  const entities = [{ ...e, registers }];
  return encodeSnapshot({
    doc,
    frontier: [],
    previous: new Uint8Array(0),
    anchors: [],
    entities,
    evidence: [],
  });
}

const sameEntity = (doc: DocId, a: EntityRecord | undefined, b: EntityRecord | undefined): boolean =>
  bytesEqual(canonical(doc, a), canonical(doc, b));

/**
 * SNAP-11: the base records a calendar starting from a snapshot with registers `snap` stores
 * while its live entities are `live`: one for each entity whose live record differs from the
 * snapshot's (no registers: the snapshot has none for it).
 */
export function baseRecords(
  doc: DocId,
  snap: ReadonlyMap<EntityId, EntityRecord>,
  live: ReadonlyMap<EntityId, EntityRecord>,
): EntityRecord[] {
  const out: EntityRecord[] = [];
  for (const [e, rec] of live)
    if (!sameEntity(doc, rec, snap.get(e))) out.push(snap.get(e) ?? { doc, entity: e, registers: [] });
  return out;
}

/**
 * SNAP-11, copy-on-write: the base records `txn` must store with it (the snapshot's registers of
 * each entity it changes for the first time since the base); its doc record counts them. The
 * caller adds the ids to `base.stored` once the commit succeeded.
 */
export function baseCopies(base: SnapshotBase | undefined, txn: Txn): EntityId[] {
  if (base?.entities === undefined || txn.snapshot.baseReset || txn.rec.snapshot === undefined) return [];
  const add: EntityRecord[] = [];
  for (const e of txn.entities.keys())
    if (!base.stored.has(e)) add.push(base.entities.get(e) ?? { doc: txn.doc, entity: e, registers: [] });
  if (add.length === 0) return [];
  txn.snapshot = { ...txn.snapshot, base: [...(txn.snapshot.base ?? []), ...add] };
  txn.rec = { ...txn.rec, snapshot: { ...txn.rec.snapshot, base: base.stored.size + add.length } };
  return add.map((e) => e.entity);
}

/**
 * SNAP-7: on a replica started from a snapshot, whether an op may apply; the reason when not.
 * `missing`: its predecessors not held here. An op with missing predecessors that the snapshot
 * covers (its ctr within the frontier's version vector) never will: refused. An op whose
 * predecessors are all held applies only if its causal past holds the whole frontier: it names
 * every frontier op, or an op applied after the snapshot (which holds it, by induction).
 */
export function beyondBase(
  base: SnapshotBase,
  author: DeviceId,
  ctr: number,
  preds: readonly OpId[],
  missing: readonly OpId[],
): string | null {
  if (missing.length > 0)
    return ctr <= (base.vv[author] ?? 0)
      ? 'the snapshot this replica started from covers this op (SNAP-7)'
      : null;
  if (preds.some((p) => !base.anchors.has(p))) return null;
  const named = new Set(preds);
  for (const h of base.frontier)
    if (!named.has(h)) return "the op's causal past does not hold the whole snapshot frontier (SNAP-7)";
  return null;
}
