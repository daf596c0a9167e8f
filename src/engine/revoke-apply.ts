// Applying revocation inside a transaction (MEM-5, ROLE-7, MEM-12): which stored or staged Patches
// stop counting when a Remove, a demotion or a voiding op is staged, and rebuilding the entities
// they had changed from the ops that still count (from a snapshot's registers, SNAP-8). Also the
// transaction's view of every op and of each op's body state, which unlocking shares.

import { breaksStored } from './certification.ts';
import { MembershipKind } from './codec.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DeviceId, EntityId, OpId } from './ids.ts';
import type { MembershipOp } from './membership.ts';
import { openOp } from './op.ts';
import { materialize, openPatch } from './registers.ts';
import { inPastOf, revokedStored } from './revocation.ts';
import { type BodyState, OpKind, type OpRecord } from './store.ts';
import type { Txn } from './txn.ts';

/** Ops read per page when every op of a calendar is walked. */
const PAGE = 500;

/**
 * MEM-12: Adds that the op just staged voided (MEM-10, ROLE-6, the chain rule): the Patches of
 * their subjects that stood only on void Adds stop counting, and what they touched is rebuilt.
 */
export async function revokeVoided(core: Core, txn: Txn, before: ReadonlySet<OpId>): Promise<void> {
  const subjects = new Set<DeviceId>();
  for (const id of txn.membership.voided()) {
    const m = before.has(id) ? undefined : txn.membership.get(id);
    if (m?.body.kind === MembershipKind.Add) subjects.add(m.subject);
  }
  const hit: OpRecord[] = [];
  for (const d of subjects)
    for await (const o of chainOf(core, txn, d, 1))
      if (bodyOf(txn, o) === 'applied' && txn.membership.standsOnVoid(d, o.mfront)) hit.push(o);
  await rebuild(core, txn, hit);
}

/** d's Patches from chain position `from` on, equivocating siblings included, staged or stored. */
export async function* chainOf(core: Core, txn: Txn, d: DeviceId, from: number): AsyncGenerator<OpRecord> {
  for (let ctr = from; ; ctr++) {
    const ids = new Set(txn.chain.get(`${d}:${ctr}`) ?? []);
    if (txn.live !== undefined)
      for (const o of await core.store.getOpsByChain(txn.doc, d, ctr)) ids.add(o.id);
    if (ids.size === 0) return;
    for (const id of ids) {
      const o = txn.stagedOp(id) ?? (await core.store.getOps(txn.doc, [id]))[0];
      if (o !== undefined && o.kind === OpKind.Patch) yield o;
    }
  }
}

/** Every op of the calendar, committed then staged, page by page. */
export async function* allOps(core: Core, txn: Txn): AsyncGenerator<OpRecord> {
  if (txn.live !== undefined) {
    let after = 0;
    for (;;) {
      const page = await core.store.listOps(txn.doc, after, PAGE);
      if (page.length === 0) break;
      after = page[page.length - 1]!.seq;
      for (const r of page) yield txn.stagedOp(r.id) ?? r;
    }
  }
  for (const r of txn.ops) yield r;
}

export const bodyOf = (txn: Txn, r: OpRecord): BodyState => txn.bodyUpdates.get(r.id) ?? r.body;

export function setBody(txn: Txn, r: OpRecord, body: BodyState): void {
  const staged = txn.stagedOp(r.id);
  if (staged !== undefined) staged.body = body;
  else txn.bodyUpdates.set(r.id, body);
}

/**
 * MEM-5, ROLE-7: a Remove of d, or a SetRole making d a viewer, was staged. d's ops that are not in its causal past (d made them without
 * having seen it, as they were stored first) stop counting: those above the Remove's version
 * vector for d, and equivocating siblings of ops it saw (revocation.ts). If any had changed
 * registers, the entities they touched are rebuilt from every op that still counts.
 */
export async function revoke(core: Core, txn: Txn, r: MembershipOp): Promise<void> {
  const d = r.subject;
  const hit: OpRecord[] = [];
  const consider = async (o: OpRecord | undefined): Promise<void> => {
    if (o === undefined || o.kind !== OpKind.Patch || bodyOf(txn, o) !== 'applied') return;
    if (!(await inPastOf(core, txn, r, o))) hit.push(o);
  };
  for await (const o of chainOf(core, txn, d, (r.vv[d] ?? 0) + 1)) await consider(o);
  for (const e of txn.evidence)
    if (e.author === d && e.ctr <= (r.vv[d] ?? 0))
      for (const id of e.ops) await consider(txn.stagedOp(id) ?? (await core.store.getOps(txn.doc, [id]))[0]);
  await rebuild(core, txn, hit);
}

/** MEM-5, MEM-12: `hit` stop counting; the entities they touched are rebuilt from what counts. */
export async function rebuild(core: Core, txn: Txn, hit: readonly OpRecord[]): Promise<void> {
  if (hit.length === 0 || core.device === undefined) return;
  const entities = new Set<EntityId>();
  for (const r of hit) {
    const op = openOp(r.bytes);
    const key = op.keyId === null ? undefined : txn.keys.get(op.keyId);
    const p = key === undefined ? null : openPatch(op, key);
    if (p !== null) entities.add(p.entity);
    setBody(txn, r, 'inert');
  }
  // SNAP-8: on a calendar started from a snapshot, what counts is the snapshot's registers (no
  // covered op is revoked: SNAP-7 applies only ops after the whole frontier) and the ops after it.
  const snap = core.bases.get(txn.doc);
  if (snap !== undefined && snap.entities === undefined)
    throw new EngineError(
      'Unsupported',
      'this calendar started from a snapshot whose registers are not kept across a restart: it cannot rebuild what a revocation changes (SNAP-8)',
    );
  const base = snap?.entities;
  for (const e of entities) txn.entities.set(e, base?.get(e) ?? { doc: txn.doc, entity: e, registers: [] });
  for await (const r of allOps(core, txn)) {
    if (r.kind !== OpKind.Patch || bodyOf(txn, r) !== 'applied') continue;
    const op = openOp(r.bytes);
    const key = op.keyId === null ? undefined : txn.keys.get(op.keyId);
    const p = key === undefined ? null : openPatch(op, key);
    if (p === null || !entities.has(p.entity) || (await revokedStored(core, txn, r))) continue;
    if (await breaksStored(core, txn, r)) continue;
    materialize(txn, op, key!, r, p, false);
  }
  txn.events.push({ doc: txn.doc, entities: [...entities], ops: [], membershipChanged: true });
}
