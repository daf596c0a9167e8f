// Opening a replica over its store: each calendar's materialized state, membership and keys,
// without the op log (RT-10); then, on the queue, STORE-11's re-checks of what was stored:
// pending ops already applied are dropped, pending ops whose predecessors are all stored are
// applied, and ops stored locked under a key the replica holds are unlocked.

import { applyOne, commit, membershipOp, unlock, wake } from './applier.ts';
import { loadCertifications } from './certify.ts';
import { decodeMembership } from './codec.ts';
import { type Core, metaOf } from './core.ts';
import { EngineError } from './errors.ts';
import { type DocId, isDeviceId, isKeyId, isOpId, type KeyId, type OpId } from './ids.ts';
import { Keyring } from './keyring.ts';
import { MembershipIndex } from './membership.ts';
import { openOp, verifyOp } from './op.ts';
import { openSealed } from './seal.ts';
import type { SnapshotMark } from './store.ts';
import { type DocState, Txn } from './txn.ts';

export async function loadDoc(core: Core, doc: DocId): Promise<void> {
  const loaded = await core.store.loadDoc(doc);
  if (loaded === undefined) return;
  const st: DocState = {
    rec: loaded.doc,
    entities: new Map(loaded.entities.map((e) => [e.entity, e])),
    membership: new MembershipIndex(),
    keys: new Keyring(),
    evidence: loaded.evidence,
  };
  // Membership ops in seq order (a topological order): rebuild the index and the keys.
  const mops = [...loaded.membership].sort((a, b) => a.seq - b.seq);
  for (const r of mops) core.remember(r.id, metaOf(r));
  for (const r of mops) {
    const op = openOp(r.bytes);
    const body = decodeMembership(op.env.body);
    const preds = [...op.parents, ...(op.prev === null ? [] : [op.prev])];
    const predFront: OpId[] = [];
    for (const m of await core.metas(doc, preds)) if (m !== undefined) predFront.push(...m.mfront);
    const front = st.membership.maximal(predFront);
    st.membership.add(membershipOp(op, body, st.membership.closure(front), r.vv, st.membership, front));
    st.keys.absorbOp(body, core.me());
  }
  // KEY-9: keys added out of band, sealed for this device. A bad record is skipped.
  const box = core.device?.box;
  for (const k of loaded.doc.keys ?? []) {
    if (box === undefined || !isKeyId(k.id) || !(k.sealed instanceof Uint8Array)) continue;
    const key = openSealed(box, k.sealed);
    if (key !== null) st.keys.learn(k.id as KeyId, key);
  }
  for (const h of loaded.doc.heads) await core.metas(doc, [h]);
  await loadBase(core, doc, loaded.doc.snapshot);
  core.docs.set(doc, st);
  await loadCertifications(core, doc, loaded.endorsements ?? []);
  // Pending ops come from storage: check them again as if they had just arrived. A record of an
  // op already stored is dropped, and what a record waits for is what is still not stored, so
  // missing() asks for the same ops right after the open as before it (STORE-11, DAG-3).
  const now = core.nowUs();
  const bad: OpId[] = [];
  for (const p of loaded.pending) {
    try {
      const op = openOp(p.bytes);
      if (op.id === p.id && op.doc === doc && (await verifyOp(core.crypto, op))) {
        if ((await core.metas(doc, [op.id]))[0] !== undefined) {
          bad.push(p.id);
          continue;
        }
        const preds = op.prev === null ? op.parents : [...op.parents, op.prev];
        const metas = await core.metas(doc, preds);
        const missing = preds.filter((_, i) => metas[i] === undefined);
        core.gate.admitted({ op, missing: new Set(missing), since: now, known: true });
        continue;
      }
    } catch {
      // dropped below
    }
    bad.push(p.id);
  }
  if (bad.length > 0) await core.store.commit({ doc, pendingRemove: bad });
}

/**
 * SNAP-7: a calendar started from a snapshot keeps its rule across a restart: the mark in its doc
 * record names the frontier and how many of the first ops of the log are its anchors. The
 * snapshot's registers are not kept (SNAP-8). A malformed mark is a `Storage` error (RT-5).
 */
async function loadBase(core: Core, doc: DocId, mark: SnapshotMark | undefined): Promise<void> {
  if (mark === undefined) return;
  const ok =
    isPlainObject(mark) &&
    Array.isArray(mark.frontier) &&
    mark.frontier.every(isOpId) &&
    Number.isSafeInteger(mark.anchors) &&
    mark.anchors > 0 &&
    isPlainObject(mark.vv) &&
    Object.entries(mark.vv).every(([d, c]) => isDeviceId(d) && Number.isSafeInteger(c) && c > 0);
  if (!ok) throw new EngineError('Storage', `docs/${doc}: snapshot mark`);
  const anchors = await core.store.listOps(doc, 0, mark.anchors);
  core.bases.set(doc, {
    frontier: new Set(mark.frontier),
    anchors: new Set(anchors.map((a) => a.id)),
    vv: { ...mark.vv },
    entities: undefined,
  });
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** STORE-11: re-checks a loaded calendar against its own store. One transaction; a failure leaves it as loaded. */
export async function recheck(core: Core, doc: DocId): Promise<void> {
  const st = core.docs.get(doc);
  if (st === undefined) return;
  const txn = new Txn(doc, st);
  for (const p of core.gate.ofDoc(doc)) {
    if (txn.unpend.has(p.op.id) || txn.meta.has(p.op.id)) continue;
    const r = await applyOne(core, p.op, txn, true);
    if (r.status === 'applied') await wake(core, txn, [p.op.id]);
  }
  // Every commit that teaches a key unlocks what it opens and records the ids held (keyIds), so
  // the op log is read only when a key is held that the record does not list (an older store).
  const held = st.keys.ids().sort();
  const recorded = new Set(Array.isArray(st.rec.keyIds) ? st.rec.keyIds : []);
  if (core.device !== undefined && held.some((k) => !recorded.has(k))) {
    await unlock(core, txn, new Set(held.filter((k) => !recorded.has(k))));
    txn.rec = { ...txn.rec, keyIds: held };
  }
  await commit(core, txn);
}
