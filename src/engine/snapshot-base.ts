// What a calendar started from a snapshot keeps of it, and SNAP-7's rule for the ops after it
// (docs/PROTOCOL.md SNAP-7, SNAP-8). Read by the applier for every op of such a calendar.

import type { DeviceId, EntityId, OpId } from './ids.ts';
import type { EntityRecord } from './store.ts';

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
