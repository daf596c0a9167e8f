// Re-basing a calendar on a snapshot (docs/PROTOCOL.md SNAP-13): a device that was away while
// the ops a snapshot covers were pruned elsewhere cannot catch up op by op (the ops its heads
// lead to are gone), so it replaces its copy of the calendar by the snapshot, in one store
// commit, as a fresh device starts from one (SNAP-6). Refused when it holds anything the snapshot
// does not cover: an op of its own (unsynced, or synced and not yet in the snapshot) or anyone's.

import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DocId } from './ids.ts';
import { seal } from './seal.ts';
import { decodeSnapshot } from './snapshot-codec.ts';
import { startFromSnapshot } from './snapshot-start.ts';
import type { DocState, Txn } from './txn.ts';

const refuse = (why: string): EngineError =>
  new EngineError('InvalidArgument', `cannot re-base on this snapshot: ${why} (SNAP-13)`);

/**
 * SNAP-13: replaces calendar `doc` by the snapshot `plain` (trusted by the caller's SNAP-5 rule,
 * as for `startFromSnapshot`). Every head of this replica must be covered by the snapshot's
 * frontier, this device's last op included; then nothing held here is lost.
 */
export async function rebase(core: Core, doc: DocId, plain: Uint8Array): Promise<void> {
  const st = core.mustDoc(doc);
  const state = decodeSnapshot(plain);
  if (state.doc !== doc) throw new EngineError('InvalidArgument', 'the snapshot is of another calendar');
  const anchors = new Map(state.anchors.map((a) => [a.id, a]));
  const vv: Record<string, number> = {};
  for (const f of state.frontier) {
    const a = anchors.get(f);
    if (a === undefined) throw new EngineError('Malformed', `snapshot: frontier op ${f} is not an anchor`);
    for (const d in a.vv) vv[d] = Math.max(vv[d] ?? 0, a.vv[d]!);
  }
  // This device's chain: its last op must be in the frontier's past (an anchor: its position there).
  if (st.rec.ownCtr > 0 && (st.rec.ownLast === null || !anchors.has(st.rec.ownLast)))
    throw refuse('this device has ops the snapshot does not cover; sync them first');
  // Every head covered: an anchor, or within the frontier's version vector where nobody equivocated.
  const forked = (a: string, c: number) =>
    [...state.evidence, ...st.evidence].some((e) => e.author === a && e.ctr === c);
  const metas = await core.metas(doc, st.rec.heads);
  for (const [i, h] of st.rec.heads.entries()) {
    const m = metas[i];
    if (anchors.has(h)) continue;
    // An equivocated head is covered when the snapshot's evidence (of the frontier's past) names it.
    const listed = state.evidence.some((e) => e.ops.includes(h));
    if (m === undefined || (vv[m.author] ?? 0) < m.ctr || (forked(m.author, m.ctr) && !listed))
      throw refuse(`op ${h} held here is not covered by the snapshot`);
  }
  await startFromSnapshot(core, state, (txn) => keepWhatWasHeld(core, st, txn), true);
  core.snapRefusals.delete(doc);
}

/**
 * SNAP-13, in the re-base's own commit: this device keeps every content key it held (one added
 * out of band, KEY-9, may be in no anchor it can open), stored sealed for itself as KEY-9 stores
 * them; and every entity it showed is named in the change event, so a
 * host re-reads those the snapshot lacks too.
 */
function keepWhatWasHeld(core: Core, old: DocState, txn: Txn): void {
  const kept = [...(old.rec.keys ?? [])];
  const stored = new Set(kept.map((k) => k.id));
  const box = core.device?.box;
  for (const id of old.keys.ids()) {
    const key = old.keys.get(id)!;
    if (txn.keys.has(id)) continue;
    txn.keys.learn(id, key);
    if (!stored.has(id) && box !== undefined)
      kept.push({ id, sealed: seal(box.publicKey, key, core.random) });
  }
  if (kept.length > 0) txn.rec = { ...txn.rec, keys: kept };
  txn.events.push({ doc: txn.doc, entities: [...old.entities.keys()], ops: [], membershipChanged: true });
}
