// Certification by endorsement (docs/PROTOCOL.md SNAP-10). An endorsement by device A at its chain
// position (c, h) over a snapshot with frontier F says "my chain from here on holds F". An op of
// A that is not h or in h's causal past, and whose causal past does not hold all of F, is revoked
// with MEM-5's semantics: it stays in the DAG, its descendants are valid, it changes no register,
// whichever of the op and the endorsement arrives first. An honest device never makes such an op
// (its later ops take its heads, which hold F, as parents; it has no fork below c).
//
// A certification is judged once this replica holds h and every op of F (then every op of their
// pasts too, so the judgement is exact): before that it waits (`pending`), and it is activated
// after the commit that brings the last of them (certify.ts). Only Patches are revoked (as MEM-5
// does). This file holds the predicates; certify.ts stages certifications.

import type { Core } from './core.ts';
import type { DeviceId, OpId } from './ids.ts';
import { inPastOf, walk } from './revocation.ts';
import { decodeEndorsement, decodeStatementBody, type Endorsement } from './snapshot-envelope.ts';
import type { EndorsementRecord, OpRecord } from './store.ts';
import type { Txn } from './txn.ts';

/** SNAP-10: what an endorsement certifies about its author. */
export interface Certification {
  /** The endorsement's hash (hex). */
  id: string;
  author: DeviceId;
  ctr: number;
  last: OpId | null;
  frontier: OpId[];
}

export const certificationOf = (id: string, e: Endorsement): Certification => ({
  id,
  author: e.endorser,
  ctr: e.ctr,
  last: e.last,
  frontier: e.frontier,
});

/** A stored endorsement record (its signature was checked before it was stored), its shape checked. */
export function certificationFromRecord(r: EndorsementRecord): Certification {
  return certificationOf(r.id, decodeEndorsement(decodeStatementBody(r.bytes)));
}

/** The certifications in force in `txn`'s calendar: committed, and staged by `txn`. */
function certsIn(core: Core, txn: Txn): Certification[] {
  const live = core.certs.get(txn.doc) ?? [];
  return txn.certs.length === 0 ? live : [...live, ...txn.certs];
}

export const recordOf = async (core: Core, txn: Txn, id: OpId): Promise<OpRecord | undefined> =>
  txn.stagedOp(id) ?? (await core.store.getOps(txn.doc, [id]))[0];

/** Whether the ops a certification names (h and F) are all held, with their records. */
export async function held(
  core: Core,
  txn: Txn,
  c: Certification,
): Promise<{ h: OpRecord | undefined; f: OpRecord[] } | undefined> {
  const h = c.last === null ? undefined : await recordOf(core, txn, c.last);
  if (c.last !== null && h === undefined) return undefined;
  const f: OpRecord[] = [];
  for (const id of c.frontier) {
    const r = await recordOf(core, txn, id);
    if (r === undefined) return undefined;
    f.push(r);
  }
  return { h, f };
}

/** Whether `target` (held) is in the causal past of a stored op `o`, or is `o`. */
const holdsStored = (core: Core, txn: Txn, o: OpRecord, target: OpRecord): Promise<boolean> =>
  inPastOf(core, txn, o, target);

/**
 * Whether `target` (held) is in the causal past of an op arriving now (not stored), given its
 * version vector and predecessors. Exact: version vectors decide unless the target's (author,
 * ctr) is equivocated (held evidence, or the arriving op itself is the sibling); then walk.
 */
async function holdsArriving(
  core: Core,
  txn: Txn,
  o: { author: DeviceId; ctr: number; vv: Readonly<Record<string, number>>; preds: readonly OpId[] },
  target: OpRecord,
): Promise<boolean> {
  if ((o.vv[target.author] ?? 0) < target.ctr) return false;
  const forked =
    (o.author === target.author && o.ctr === target.ctr) ||
    txn.evidence.some((e) => e.author === target.author && e.ctr === target.ctr);
  if (!forked) return true;
  for (const p of o.preds)
    if ((await walk(core, txn, p, target.author, target.ctr)).has(target.id)) return true;
  return false;
}

/** SNAP-10 for a stored op: does some certification in force revoke it? */
export async function breaksStored(core: Core, txn: Txn, o: OpRecord): Promise<boolean> {
  for (const c of certsIn(core, txn)) {
    if (c.author !== o.author) continue;
    const at = await held(core, txn, c);
    if (at === undefined) continue;
    if (at.h !== undefined && o.ctr <= c.ctr && (await inPastOf(core, txn, at.h, o))) continue;
    let holdsAll = true;
    for (const f of at.f) if (!(await holdsStored(core, txn, o, f))) holdsAll = false;
    if (!holdsAll) return true;
  }
  return false;
}

/**
 * SNAP-10 for an op arriving now. Every op in h's past is held already (h is), so the arriving
 * op is not among them: it breaks a certification of its author exactly when it does not hold F.
 */
export async function breaksArriving(
  core: Core,
  txn: Txn,
  o: { author: DeviceId; ctr: number; vv: Readonly<Record<string, number>>; preds: readonly OpId[] },
): Promise<boolean> {
  for (const c of certsIn(core, txn)) {
    if (c.author !== o.author) continue;
    const at = await held(core, txn, c);
    if (at === undefined) continue;
    for (const f of at.f) if (!(await holdsArriving(core, txn, o, f))) return true;
  }
  return false;
}
