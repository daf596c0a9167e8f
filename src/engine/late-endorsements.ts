// Late endorsements on a replica with a base (docs/PROTOCOL.md SNAP-21, SNAP-22): which stored
// endorsements this replica can judge exactly, and which it cannot (a divergence, SNAP-18).
//
// An endorsement by A at chain position (c, h) over frontier F' may revoke an op of A that is not
// in h's past nor F''s past and does not hold F' (SNAP-10). On a replica whose calendar starts
// from a snapshot at frontier B (started from one or pruned to one), the ops B covers are judged
// by the snapshot's maker, as the registers it counted; a certification put in force here never
// revokes an anchor (SNAP-20). So the replica judges an endorsement exactly when no op B covers
// can break it, or when the snapshot it starts from lists it (its maker judged it, SNAP-21):
//  - it is listed by the base (in force from the start, `base`);
//  - A has no op B covers (B's version vector for A is 0);
//  - its position is above B's version vector for A: h is an op after B, which holds B (SNAP-7),
//    so every covered op is in h's past;
//  - its position is A's chain position at B (h an anchor at ctr vv_B[A]) and no equivocation of
//    A is recorded here: every covered op of A is then in h's past (one outside it would be a
//    sibling of an op of h's chain, both in B's past, which B's maker recorded, SNAP-2 (4));
//  - its frontier is held and holds B (an op of it after B, or B's every frontier op in it):
//    every covered op is in F''s past.
// Any other endorsement (waiting for ops, or in force) may act on a covered op that a replica with
// every op revokes and this one keeps counting: SNAP-22 counts it as a divergence.

import type { Certification } from './certification.ts';
import type { Core } from './core.ts';
import type { DocId, OpId } from './ids.ts';
import type { EquivocationRecord } from './store.ts';

/**
 * SNAP-21: whether every replica that starts from a snapshot (version vector `vv`, anchors,
 * evidence) judges `c` without the snapshot listing it, by SNAP-22 (2) or (4): its endorser has
 * no op in the frontier's past, or `c`'s position is the endorser's chain position there (an
 * anchor) and no equivocation of it is recorded. Such a certification also breaks no op of the
 * frontier's past (every op of its endorser there is in h's past), so its effect is in no
 * register either: a snapshot leaves it out, and its list grows only with endorsers that wrote
 * after endorsing.
 */
export function impliedAt(
  c: Certification,
  vv: Readonly<Record<string, number>>,
  anchors: ReadonlySet<OpId>,
  evidence: readonly EquivocationRecord[],
): boolean {
  const v = vv[c.author] ?? 0;
  if (v === 0) return true;
  return (
    c.ctr === v &&
    c.last !== null &&
    anchors.has(c.last) &&
    !evidence.some((e) => e.author === c.author && e.ctr <= c.ctr)
  );
}

/** SNAP-22: whether this replica judges certification `c` of calendar `doc` exactly. */
export async function judgeable(core: Core, doc: DocId, c: Certification): Promise<boolean> {
  const base = core.bases.get(doc);
  if (base === undefined || c.base === true) return true;
  const v = base.vv[c.author] ?? 0;
  if (v === 0 || c.ctr > v) return true;
  const evidence = core.docs.get(doc)?.evidence ?? [];
  if (
    c.ctr === v &&
    c.last !== null &&
    base.anchors.has(c.last) &&
    !evidence.some((e) => e.author === c.author && e.ctr <= c.ctr)
  )
    return true;
  const metas = await core.metas(doc, c.frontier);
  if (metas.some((m) => m === undefined)) return false;
  if (c.frontier.some((f) => !base.anchors.has(f))) return true;
  return [...base.frontier].every((b) => c.frontier.includes(b));
}

/**
 * SNAP-22: recomputes which endorsements of `doc` this replica cannot judge (in force or
 * waiting): all of them, or only `only` (one just received or put in force; the judgement of
 * the others does not change with it).
 */
export async function refreshLate(core: Core, doc: DocId, only?: readonly Certification[]): Promise<void> {
  const stored = [...(core.certs.get(doc) ?? []), ...(core.pendingCerts.get(doc) ?? [])];
  const ids = new Set(stored.map((c) => c.id));
  // Kept: those still stored (one found void, its endorser no member, is dropped).
  const out = new Set(
    [...(only === undefined ? [] : (core.lateCerts.get(doc) ?? []))].filter((id) => ids.has(id)),
  );
  const judge = (only ?? stored).filter((c) => ids.has(c.id));
  if (core.bases.has(doc))
    for (const c of judge)
      if (await judgeable(core, doc, c)) out.delete(c.id);
      else out.add(c.id);
  if (out.size > 0) core.lateCerts.set(doc, out);
  else core.lateCerts.delete(doc);
}

/** SNAP-22: how many stored endorsements of `doc` this replica cannot judge (0: none). */
export const lateCount = (core: Core, doc: DocId): number => core.lateCerts.get(doc)?.size ?? 0;

/** SNAP-21: the certifications in force here that a snapshot made here lists (those it judges). */
export async function judgedInForce(core: Core, doc: DocId): Promise<Certification[]> {
  const out: Certification[] = [];
  for (const c of core.certs.get(doc) ?? []) if (await judgeable(core, doc, c)) out.push(c);
  return out;
}
