// Replaying a calendar that starts from a snapshot (started from one, or pruned to one) up to a
// later frontier (docs/PROTOCOL.md SNAP-3, SNAP-12): its covered ops are gone, so the scratch
// replica starts from the stored base (anchors, registers, evidence at the base's frontier)
// and applies the held ops of the later frontier's past in apply order. So a pruned replica can
// make, verify and prune to the next snapshot as a replica with every op does.

import { applyOne, commit, txnFor } from './applier.ts';
import { compareBytes } from './bytes.ts';
import { settle } from './certify.ts';
import { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DocId, OpId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import { openOp } from './op.ts';
import type { SnapshotBase } from './snapshot-base.ts';
import {
  anchorKey,
  type ListedStatement,
  type SnapshotAnchor,
  type SnapshotState,
} from './snapshot-codec.ts';
import { decodeStatement } from './snapshot-envelope.ts';
import { startFromSnapshot } from './snapshot-start.ts';
import type { EquivocationRecord, OpRecord } from './store.ts';

/** An empty replica over a memory store with `core`'s device keys, clock and randomness. */
export function scratchOf(core: Core): Core {
  return new Core({
    store: createMemoryStore(),
    crypto: core.crypto,
    nowUs: core.nowUs,
    random: core.random,
    ...(core.device === undefined ? {} : { device: core.device }),
  });
}

export const predsOf = (r: OpRecord): OpId[] => (r.prev === null ? r.parents : [...r.parents, r.prev]);

/**
 * SNAP-2 (3): stored ops as a snapshot's anchors, in (causal depth, id) order; `what` names them
 * in the `Storage` error when one is not in the log.
 */
export function anchorsOf(recs: readonly (OpRecord | undefined)[], what: string): SnapshotAnchor[] {
  const anchors: SnapshotAnchor[] = [];
  for (const r of recs) {
    if (r === undefined) throw new EngineError('Storage', `${what} is not in the log`);
    anchors.push({
      id: r.id,
      bytes: r.bytes,
      vv: r.vv,
      mfront: [...r.mfront].sort(),
      body: r.body as 'applied',
    });
  }
  return anchors.sort((a, b) => (anchorKey(a) < anchorKey(b) ? -1 : 1));
}

/**
 * The held ops in `frontier`'s causal past (frontier included), in seq order, not walked below
 * the ops in `stop` (themselves included); undefined when one is not held here.
 */
export async function pastOf(
  core: Core,
  doc: DocId,
  frontier: readonly OpId[],
  stop: ReadonlySet<OpId> = new Set(),
): Promise<OpRecord[] | undefined> {
  const out = new Map<OpId, OpRecord>();
  const stack = [...frontier];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (out.has(id)) continue;
    const r = (await core.store.getOps(doc, [id]))[0];
    if (r === undefined) return undefined;
    out.set(id, r);
    if (!stop.has(id)) stack.push(...predsOf(r));
  }
  return [...out.values()].sort((a, b) => a.seq - b.seq);
}

/**
 * The held ops in `frontier`'s past down to the base's anchors (not walked below), in seq
 * order; undefined when one is not held or the past does not hold the whole base frontier.
 */
async function pastAbove(core: Core, doc: DocId, base: SnapshotBase, frontier: readonly OpId[]) {
  const past = await pastOf(core, doc, frontier, base.anchors);
  if (past === undefined) return undefined;
  const ids = new Set(past.map((r) => r.id));
  for (const f of base.frontier) if (!ids.has(f)) return undefined;
  return past.filter((r) => !base.anchors.has(r.id));
}

/**
 * SNAP-2 (4) at the base's frontier: the equivocations whose ops are covered by it. Every op a
 * record names was applied here; the covered ones are the anchors and the ops no longer held.
 */
async function evidenceAtBase(
  core: Core,
  doc: DocId,
  base: SnapshotBase,
  all: readonly EquivocationRecord[],
) {
  const out: EquivocationRecord[] = [];
  for (const e of all) {
    const held = await core.store.getOps(doc, e.ops);
    const ops = e.ops.filter((id, i) => held[i] === undefined || base.anchors.has(id)).sort();
    if (ops.length > 1) out.push({ ...e, ops });
  }
  return out;
}

/** SNAP-10, SNAP-21: the certifications the base lists (in force there, or waiting there). */
function listedAtBase(
  core: Core,
  doc: DocId,
): { endorsements?: ListedStatement[]; waiting?: ListedStatement[] } {
  const all = [...(core.certs.get(doc) ?? []), ...(core.pendingCerts.get(doc) ?? [])].filter(
    (c) => c.base === true,
  );
  const listed = (waiting: boolean) =>
    all
      .filter((c) => (c.waiting === true) === waiting)
      .map((c) => decodeStatement(c.bytes))
      .map(({ body, sig }) => ({ body, sig }))
      .sort((a, b) => compareBytes(a.body, b.body));
  const endorsements = listed(false);
  const waiting = listed(true);
  return {
    ...(endorsements.length > 0 ? { endorsements } : {}),
    ...(waiting.length > 0 ? { waiting } : {}),
  };
}

/** The base this calendar starts from, as the snapshot state it was (SNAP-2's order). */
async function baseState(core: Core, doc: DocId, base: SnapshotBase): Promise<SnapshotState> {
  const st = core.mustDoc(doc);
  if (base.entities === undefined)
    throw new EngineError('Unsupported', 'the base registers are not stored (SNAP-11)');
  const anchors = anchorsOf(await core.store.getOps(doc, [...base.anchors]), 'an anchor of the base');
  const entities = [...base.entities.values()].sort((a, b) => (a.entity < b.entity ? -1 : 1));
  return {
    doc,
    frontier: [...base.frontier].sort(),
    previous: new Uint8Array(0),
    anchors,
    entities,
    evidence: await evidenceAtBase(core, doc, base, st.evidence),
    ...listedAtBase(core, doc),
  };
}

/**
 * SNAP-3 on a calendar that starts from a snapshot: a scratch replica holding exactly the ops of
 * `frontier`'s past (the base standing for the covered ones), or undefined when one is not held
 * here. Every content key this replica holds is given to it, as `snapshotAt` does.
 */
export async function replayFromBase(
  core: Core,
  doc: DocId,
  frontier: readonly OpId[],
): Promise<Core | undefined> {
  const base = core.bases.get(doc);
  if (base === undefined) return undefined;
  const past = await pastAbove(core, doc, base, frontier);
  if (past === undefined) return undefined;
  const scratch = scratchOf(core);
  await startFromSnapshot(scratch, await baseState(core, doc, base));
  if (past.length === 0) return scratch;
  const st = core.mustDoc(doc);
  const txn = txnFor(scratch, openOp(past[0]!.bytes));
  for (const id of st.keys.ids()) txn.keys.learn(id, st.keys.get(id)!);
  for (const r of past) {
    const res = await applyOne(scratch, openOp(r.bytes), txn, false);
    if (res.status !== 'applied') throw new EngineError('Storage', `replaying ${r.id}: ${res.status}`);
  }
  const err = await commit(scratch, txn);
  if (err !== undefined) throw err;
  // SNAP-21: what the base listed as waiting is put in force once its ops are replayed, as here.
  await settle(scratch, doc);
  return scratch;
}
