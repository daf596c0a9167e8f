// Staging SNAP-10 certifications (docs/PROTOCOL.md SNAP-10; the predicates are in
// certification.ts): when a replica holds what an endorsement names, the author's Patches that
// break it stop counting and what they changed is rebuilt, in the endorsement's own commit.

import { commit, knownAuthor } from './applier.ts';
import {
  breaksOne,
  type Certification,
  certificationFromRecord,
  certificationOf,
  held,
  recordOf,
} from './certification.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DocId, OpId } from './ids.ts';
import { refreshLate } from './late-endorsements.ts';
import { chainOf, rebuild } from './revoke-apply.ts';
import type { OpenedEndorsement } from './snapshot-envelope.ts';
import { type EndorsementRecord, OpKind, type OpRecord } from './store.ts';
import { Txn } from './txn.ts';

/** Most endorsements a calendar keeps waiting for the ops they name (a bound on memory). */
export const MAX_PENDING_CERTS = 1024;
/** Of those, most by devices no membership op of the calendar names. */
export const MAX_STRANGER_CERTS = 64;

/**
 * SNAP-10: stages certification `c` in `txn` when this replica holds what it names, revoking the
 * author's applied Patches that break it and rebuilding what they had changed. False (nothing
 * staged) while an op it names is missing.
 */
export async function activate(core: Core, txn: Txn, c: Certification): Promise<boolean | 'void'> {
  const at = await held(core, txn, c);
  if (at === undefined) return false;
  // Only a member at F certifies (a function of F's past, so every replica judges alike).
  const fronts: OpId[] = at.f.flatMap((r) => r.mfront);
  if (!txn.membership.membersAt(txn.membership.maximal(fronts)).has(c.author)) return 'void';
  txn.certs.push(c);
  const hit: OpRecord[] = [];
  const consider = async (o: OpRecord | undefined) => {
    if (o === undefined || o.kind !== OpKind.Patch || !(await breaksOne(core, txn, c, o))) return;
    txn.acted.add(c.id);
    if ((txn.bodyUpdates.get(o.id) ?? o.body) === 'applied') hit.push(o);
  };
  // Below c only an equivocated ctr can hold an op outside h's past (h's past holds the author's
  // chain, and every op in it is held); above c, every op of the author is outside it.
  for await (const o of chainOf(core, txn, c.author, c.ctr + 1)) await consider(o);
  for (const e of txn.evidence)
    if (e.author === c.author && e.ctr <= c.ctr)
      for (const id of e.ops) await consider(await recordOf(core, txn, id));
  await rebuild(core, txn, hit);
  return true;
}

export type EndorsementStatus = 'certified' | 'pending' | 'duplicate';

const known = (core: Core, doc: DocId, id: string): boolean =>
  (core.certs.get(doc) ?? []).some((c) => c.id === id) ||
  (core.pendingCerts.get(doc) ?? []).some((c) => c.id === id);

/**
 * SNAP-10: stores an endorsement (its signature checked) and, when this replica holds what it
 * names, puts its certification in force in the same commit; otherwise it waits (`pending`,
 * stored) until `settle` finds the ops held. `NotMember` when its endorser is not a member at
 * the frontier (nothing is stored).
 */
export async function receiveEndorsement(core: Core, e: OpenedEndorsement): Promise<EndorsementStatus> {
  const st = core.mustDoc(e.doc);
  if (known(core, e.doc, e.hash)) return 'duplicate';
  const pending = core.pendingCerts.get(e.doc) ?? [];
  const txn = new Txn(e.doc, st);
  txn.endorsements.push({ doc: e.doc, id: e.hash, bytes: e.bytes });
  const c = certificationOf(e);
  const on = await activate(core, txn, c);
  if (on === 'void')
    throw new EngineError('NotMember', 'the endorser is not a member at the frontier (SNAP-10)');
  // DAG-4's spirit: a device no membership op names (a stranger) holds at most a few slots.
  const strangers = pending.filter((p) => !knownAuthor(txn, p.author)).length;
  const stranger = !knownAuthor(txn, c.author);
  if (!on && (pending.length >= MAX_PENDING_CERTS || (stranger && strangers >= MAX_STRANGER_CERTS)))
    throw new EngineError('PendingFull', 'too many endorsements wait for ops this replica lacks');
  const err = await commit(core, txn);
  if (err !== undefined) throw err;
  if (!on) core.pendingCerts.set(e.doc, [...pending, c]);
  await refreshLate(core, e.doc, [c]);
  return on ? 'certified' : 'pending';
}

/** SNAP-10: puts in force the waiting certifications of `doc` whose ops are now held. */
export async function settle(core: Core, doc: DocId): Promise<void> {
  const waiting = core.pendingCerts.get(doc);
  const st = core.docs.get(doc);
  if (waiting === undefined || st === undefined) return;
  const settled: Certification[] = [];
  for (const c of waiting) {
    const ids = c.last === null ? c.frontier : [c.last, ...c.frontier];
    if ((await core.metas(doc, ids)).some((m) => m === undefined)) continue;
    const txn = new Txn(doc, core.mustDoc(doc));
    const on = await activate(core, txn, c);
    if (on === 'void')
      core.pendingCerts.set(
        doc,
        (core.pendingCerts.get(doc) ?? []).filter((x) => x.id !== c.id),
      );
    if (on !== true) continue;
    const err = await commit(core, txn);
    if (err !== undefined) throw err;
    settled.push(c);
  }
  // SNAP-22: an endorsement whose ops arrived may be judged now (its frontier held after the base).
  if (settled.length > 0) await refreshLate(core, doc, settled);
}

/**
 * SNAP-10 at open: the stored endorsements' certifications. Revocations they made are stored
 * (body states), so only which are in force is rebuilt: those whose ops are held; the others
 * wait. A record that does not decode is skipped (its signature was checked when it was stored).
 */
export async function loadCertifications(core: Core, doc: DocId, records: readonly EndorsementRecord[]) {
  const on: Certification[] = [];
  const waiting: Certification[] = [];
  for (const r of records) {
    let c: Certification;
    try {
      c = certificationFromRecord(r);
    } catch {
      continue;
    }
    // Listed in force by the base: in force whether or not its ops are still held (SNAP-10).
    if (c.base && !c.waiting) {
      on.push(c);
      continue;
    }
    const ids = c.last === null ? c.frontier : [c.last, ...c.frontier];
    const metas = await core.metas(doc, ids);
    if (metas.some((m) => m === undefined)) {
      waiting.push(c);
      continue;
    }
    const index = core.mustDoc(doc).membership;
    const fronts = metas.slice(c.last === null ? 0 : 1).flatMap((m) => m!.mfront);
    if (index.membersAt(index.maximal(fronts)).has(c.author)) on.push(c);
  }
  const known = new Set(
    [...(core.certs.get(doc) ?? []), ...(core.pendingCerts.get(doc) ?? [])].map((c) => c.id),
  );
  const fresh = (l: Certification[]) => l.filter((c) => !known.has(c.id));
  if (on.length > 0) core.certs.set(doc, [...(core.certs.get(doc) ?? []), ...fresh(on)]);
  if (waiting.length > 0)
    core.pendingCerts.set(doc, [...(core.pendingCerts.get(doc) ?? []), ...fresh(waiting)]);
  // SNAP-22: what this replica cannot judge is found again from the stored endorsements.
  await refreshLate(core, doc);
}

/** SNAP-10: whether certification `c` acts here (some held op breaks it; kept with its record). */
export const acts = (c: Certification): boolean => c.acted === true;
