// Certification by endorsement (docs/PROTOCOL.md SNAP-10). An endorsement by device A at its chain
// position (c, h) over a snapshot with frontier F says "my chain from here on holds F". An op of
// A that is not h or in h's causal past, nor in F's (the snapshot covers those: endorsing never
// changes the snapshot endorsed), and whose causal past does not hold all of F, is revoked
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
import type { OpMeta } from './validate.ts';

/** SNAP-10: what an endorsement certifies about its author. */
export interface Certification {
  /** The endorsement's hash (hex). */
  id: string;
  author: DeviceId;
  ctr: number;
  last: OpId | null;
  frontier: OpId[];
  /** The endorsement's canonical signed bytes (listed in snapshots, SNAP-10). */
  bytes: Uint8Array;
  /** In force by the snapshot this calendar started from (its ops may be covered, not held). */
  base?: true;
  /** With `base`: that snapshot listed it as waiting (SNAP-21): it waits here as it did there. */
  waiting?: true;
  /**
   * Whether some op this replica holds breaks it (so its effect is in the registers and
   * snapshots list it): set after the commit that finds one, which stores it so (`acted` in
   * its record).
   */
  acted?: boolean;
}

export const certificationOf = (e: Endorsement & { hash: string; bytes: Uint8Array }): Certification => ({
  id: e.hash,
  author: e.endorser,
  ctr: e.ctr,
  last: e.last,
  frontier: e.frontier,
  bytes: e.bytes,
});

/** A stored endorsement record (its signature was checked before it was stored), its shape checked. */
export function certificationFromRecord(r: EndorsementRecord): Certification {
  const e = decodeEndorsement(decodeStatementBody(r.bytes));
  return {
    ...certificationOf({ ...e, hash: r.id, bytes: r.bytes }),
    ...(r.base ? { base: true as const } : {}),
    ...(r.base && r.waiting ? { waiting: true as const } : {}),
    acted: r.acted === true,
  };
}

/** The certifications in force in `txn`'s calendar: committed, and staged by `txn`. */
function certsIn(core: Core, txn: Txn): Certification[] {
  const live = core.certs.get(txn.doc) ?? [];
  return txn.certs.length === 0 ? live : [...live, ...txn.certs];
}

export const recordOf = async (core: Core, txn: Txn, id: OpId): Promise<OpRecord | undefined> =>
  txn.stagedOp(id) ?? (await core.store.getOps(txn.doc, [id]))[0];

/** What the predicates read of a held op: its id and metadata (cached, core.metas). */
export type Held = OpMeta & { id: OpId };

/**
 * Whether the ops a certification names (h and F) are all held, with their metadata. Read
 * through the metadata cache: this runs for every Patch of a certified author that arrives.
 */
export async function held(
  core: Core,
  txn: Txn,
  c: Certification,
): Promise<{ h: Held | undefined; f: Held[] } | undefined> {
  const ids = c.last === null ? c.frontier : [c.last, ...c.frontier];
  const metas = await core.metas(txn.doc, ids, txn);
  const out: Held[] = [];
  for (let i = 0; i < ids.length; i++) {
    const m = metas[i];
    if (m === undefined) return undefined;
    out.push({ ...m, id: ids[i]! });
  }
  return c.last === null ? { h: undefined, f: out } : { h: out[0], f: out.slice(1) };
}

/** Whether `target` (held) is in the causal past of a stored op `o`, or is `o`. */
const holdsStored = (core: Core, txn: Txn, o: OpRecord, target: Held): Promise<boolean> =>
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
  target: Held,
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

/** SNAP-10 for a stored op and one certification: does `c` revoke `o`? */
export async function breaksOne(core: Core, txn: Txn, c: Certification, o: OpRecord): Promise<boolean> {
  if (c.author !== o.author) return false;
  // SNAP-20: an anchor of the snapshot this calendar starts from is covered: its judgement needs
  // the covered DAG, which is not held here (a walk stops at covered ops and would take an op in
  // the frontier's past for one outside it); it counts as the snapshot counted it.
  if (core.bases.get(txn.doc)?.anchors.has(o.id) === true) return false;
  const at = await held(core, txn, c);
  if (at === undefined) return false;
  if (at.h !== undefined && o.ctr <= c.ctr && (await inPastOf(core, txn, at.h, o))) return false;
  if (await inPastOfAny(core, txn, at.f, o)) return false;
  for (const f of at.f) if (!(await holdsStored(core, txn, o, f))) return true;
  return false;
}

/** SNAP-10 for a stored op: does some certification in force revoke it? (Each that does has acted.) */
export async function breaksStored(core: Core, txn: Txn, o: OpRecord): Promise<boolean> {
  let out = false;
  for (const c of certsIn(core, txn))
    if (await breaksOne(core, txn, c, o)) {
      txn.acted.add(c.id);
      out = true;
    }
  return out;
}

/** Whether `o` is in the causal past of some op of F (so the endorsed snapshot covers it). */
async function inPastOfAny(core: Core, txn: Txn, f: readonly Held[], o: OpRecord): Promise<boolean> {
  for (const x of f) if (await inPastOf(core, txn, x, o)) return true;
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
  let out = false;
  for (const c of certsIn(core, txn)) {
    if (c.author !== o.author) continue;
    const at = await held(core, txn, c);
    if (at === undefined) continue;
    for (const f of at.f)
      if (!(await holdsArriving(core, txn, o, f))) {
        txn.acted.add(c.id);
        out = true;
        break;
      }
  }
  return out;
}
