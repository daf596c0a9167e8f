// Applying ops inside a transaction: duplicates, the causal gate for missing predecessors, the
// validator, bodies into registers, equivocation evidence, membership and keys, the history a
// new key unlocks (KEY-6) or a removal revokes (MEM-5), and the ops each applied op wakes.
// Nothing here touches live state: everything is staged in the Txn; commit() publishes it.

import { toHex } from './bytes.ts';
import { breaksArriving, breaksStored } from './certification.ts';
import { type MembershipBody, MembershipKind } from './codec.ts';
import { type Core, metaOf } from './core.ts';
import { EngineError, toEngineError } from './errors.ts';
import type { DeviceId, DocId, EntityId, KeyId, OpId } from './ids.ts';
import type { MembershipIndex, MembershipOp } from './membership.ts';
import { type OpenedOp, openOp } from './op.ts';
import { materialize, revoked } from './registers.ts';
import { revokedStored } from './revocation.ts';
import { allOps, bodyOf, revoke, revokeVoided, setBody } from './revoke-apply.ts';
import { Role } from './roles.ts';
import { baseCopies, beyondBase } from './snapshot-base.ts';
import { type BodyState, type DocRecord, type EquivocationRecord, OpKind, type OpRecord } from './store.ts';
import { Txn } from './txn.ts';
import { type OpMeta, validate } from './validate.ts';

export type ApplyStatus = 'applied' | 'duplicate' | 'pending' | 'rejected';

export interface ApplyResult {
  status: ApplyStatus;
  id?: OpId;
  doc?: DocId;
  error?: EngineError;
}

export const rejected = (op: OpenedOp, error: EngineError): ApplyResult => ({
  status: 'rejected',
  id: op.id,
  doc: op.doc,
  error,
});

/** A transaction for an op's calendar (a genesis starts a new calendar). */
export function txnFor(core: Core, op: OpenedOp): Txn {
  const st = core.docs.get(op.doc);
  if (st !== undefined) return new Txn(op.doc, st);
  const rec: DocRecord = { doc: op.doc, genesis: op.id, heads: [], seq: 0, ownLast: null, ownCtr: 0 };
  return new Txn(op.doc, undefined, rec);
}

/** Commits a transaction and publishes it. Returns the storage error, if any; then nothing changed. */
export async function commit(core: Core, txn: Txn): Promise<EngineError | undefined> {
  // DAG-9: what refused ops wait for is asked for, whatever becomes of this commit.
  for (const [doc, ids] of txn.wants) core.gate.want(doc, ids);
  recordActed(core, txn);
  if (txn.size === 0 && txn.rec === txn.live?.rec && txn.clock === undefined) {
    // SNAP-10: a certification put in force that revokes nothing stores nothing (its endorsement
    // is stored already, and a load finds it in force from the ops it names), but it is in force
    // from now on: without this a settled one stayed "waiting" until a restart, and a snapshot
    // made meanwhile listed it as waiting where every other replica lists it in force (SNAP-21).
    if (txn.certs.length > 0) core.certify(txn.doc, txn.certs);
    return undefined;
  }
  const base = core.bases.get(txn.doc);
  const copied = baseCopies(base, txn);
  try {
    await core.store.commit(txn.batch());
  } catch (e) {
    return toEngineError(e, 'Storage', 'committing ops');
  }
  for (const e of copied) base!.stored.add(e);
  core.docs.set(txn.doc, txn.publish());
  if (txn.clock !== undefined) core.clock = Math.max(core.clock, txn.clock);
  for (const [id, m] of txn.meta) core.remember(id, m);
  for (const id of txn.unpend) core.gate.drop(id);
  for (const o of txn.ops) core.gate.applied(o.id, txn.doc);
  for (const p of txn.admits.values()) core.gate.admitted(p);
  for (const e of txn.events) core.emit(e);
  if (txn.certs.length > 0 || txn.acted.size > 0) core.certify(txn.doc, txn.certs, txn.acted);
  return undefined;
}

/** SNAP-10: a certification found acting is stored so, in the same commit (it stays so). */
function recordActed(core: Core, txn: Txn): void {
  if (txn.acted.size === 0) return;
  const staged = new Map(txn.endorsements.map((r) => [r.id, r]));
  for (const c of [...(core.certs.get(txn.doc) ?? []), ...txn.certs]) {
    if (!txn.acted.has(c.id) || c.acted === true) continue;
    const r = staged.get(c.id);
    if (r !== undefined) r.acted = true;
    else
      txn.endorsements.push({
        doc: txn.doc,
        id: c.id,
        bytes: c.bytes,
        acted: true,
        ...(c.base ? { base: true as const } : {}),
      });
  }
}

async function isKnown(core: Core, op: OpenedOp, txn: Txn): Promise<boolean> {
  if (txn.meta.has(op.id)) return true;
  if (txn.live === undefined || beyondStored(core, txn.live.rec, op.author, op.header.ctr)) return false;
  return (await core.metas(op.doc, [op.id]))[0] !== undefined;
}

/**
 * The op no longer waits. Its stored pending record (if any) is removed in the same commit: an
 * op re-admitted by this txn (its missing set updated) may also have one from an earlier commit.
 */
function unpend(core: Core, txn: Txn, id: OpId): void {
  const readmitted = txn.admits.delete(id);
  if (!readmitted || core.gate.has(id)) txn.unpend.add(id);
}

/**
 * Applies an op and, breadth first, the waiting ops it makes applicable. `staged`: the op was
 * already staged in `txn` by applyOne (while its signature was being checked); only its wakeups
 * remain.
 */
export async function applyWithWakeups(
  core: Core,
  first: OpenedOp,
  txn: Txn,
  staged?: ApplyResult,
): Promise<ApplyResult> {
  const result = staged ?? (await applyOne(core, first, txn, false));
  if (result.status === 'applied') await wake(core, txn, [first.id]);
  return result;
}

/** Applies, breadth first, the waiting ops that the ops `applied` make applicable. */
export async function wake(core: Core, txn: Txn, applied: OpId[]): Promise<void> {
  const work = [...applied];
  while (work.length > 0) {
    const id = work.shift()!;
    const kids = new Set(core.gate.waitingFor(id));
    for (const p of txn.admits.values()) if (p.missing.has(id)) kids.add(p.op.id);
    for (const kid of kids) {
      if (txn.unpend.has(kid)) continue;
      const p = txn.admits.get(kid) ?? core.gate.get(kid);
      if (p === undefined) continue;
      const r = await applyOne(core, p.op, txn, true);
      if (r.status === 'applied') work.push(kid);
    }
  }
}

/** Stages one op. `fromPending`: it was waiting in the gate (or was admitted by this txn). */
export async function applyOne(core: Core, op: OpenedOp, txn: Txn, waiting: boolean): Promise<ApplyResult> {
  const base = { id: op.id, doc: op.doc };
  // An op that waits (stored as pending) and arrives again is one that waits: whatever happens
  // to it now also removes its pending record.
  const fromPending = waiting || core.gate.has(op.id) || txn.admits.has(op.id);
  // A fresh own op (just signed, random nonce) is not known yet and has no sibling by ctr.
  const own = txn.own?.id === op.id ? txn.own : undefined;
  if (own === undefined && (await isKnown(core, op, txn))) {
    if (fromPending) unpend(core, txn, op.id);
    return { status: 'duplicate', ...base };
  }
  const preds = op.prev === null ? op.parents : [...op.parents, op.prev];
  const metas = await core.metas(op.doc, preds, txn);
  const missing = preds.filter((_, i) => metas[i] === undefined);
  const snap = core.bases.get(op.doc);
  const gap = snap === undefined ? null : beyondBase(snap, op.author, op.header.ctr, preds, missing);
  if (gap !== null) {
    if (fromPending) unpend(core, txn, op.id);
    // SNAP-7: ops waiting for a covered op never apply here: they stop waiting (and asking).
    if (missing.length > 0) dropWaiters(core, txn, op.id);
    core.snapRefusals.set(op.doc, (core.snapRefusals.get(op.doc) ?? 0) + 1); // SNAP-18
    return rejected(op, new EngineError('Unsupported', gap, op.id));
  }
  if (missing.length > 0) return park(core, op, missing, txn, fromPending);
  const v = await validate(op, {
    preds: metas as OpMeta[],
    membership: txn.membership,
    verify: (k, s, m) => core.crypto.verify(k, s, m),
  });
  if (v instanceof EngineError) {
    if (fromPending) unpend(core, txn, op.id);
    return rejected(op, v);
  }
  // OP-6: the body. Decryption failures make the op inert, never invalid.
  let body: BodyState = v.mbody === undefined ? 'locked' : 'applied';
  let entity: EntityId | undefined;
  if (v.mbody === undefined && op.keyId !== null && core.device !== undefined) {
    // SNAP-10: a Patch breaking its author's certification counts for nothing (an own op never
    // does). Judged for every Patch, readable or not, so a certification is known to act as soon
    // as an op that breaks it is held (snapshots list those, SNAP-10).
    const o = { author: op.author, ctr: op.header.ctr, vv: v.vv, preds };
    const broken = own === undefined && (await breaksArriving(core, txn, o));
    const key = txn.keys.get(op.keyId);
    if (key !== undefined)
      [body, entity] = materialize(
        txn,
        op,
        key,
        v,
        own?.plain,
        broken || revoked(txn.membership, op.author, v),
      );
  }
  stageOp(core, op, txn, v.vv, v.mfront, body);
  if (own === undefined) await evidence(core, op, txn);
  if (fromPending) unpend(core, txn, op.id);
  if (v.mbody !== undefined) await stageMembership(core, op, v.mbody, v.predFront, v.vv, txn);
  txn.events.push({
    doc: op.doc,
    entities: entity === undefined ? [] : [entity],
    ops: [op.id],
    membershipChanged: v.mbody !== undefined,
  });
  return { status: 'applied', ...base };
}

function stageOp(
  core: Core,
  op: OpenedOp,
  txn: Txn,
  vv: Record<string, number>,
  mfront: OpId[],
  body: BodyState,
) {
  const preds = new Set(op.prev === null ? op.parents : [...op.parents, op.prev]);
  const heads = txn.rec.heads.filter((h) => !preds.has(h));
  heads.push(op.id);
  heads.sort();
  const own = core.deviceId === op.author && op.header.ctr > txn.rec.ownCtr;
  txn.rec = {
    ...txn.rec,
    heads,
    seq: txn.rec.seq + 1,
    ...(own ? { ownLast: op.id, ownCtr: op.header.ctr } : {}),
  };
  const record: OpRecord = {
    id: op.id,
    doc: op.doc,
    seq: txn.rec.seq,
    author: op.author,
    ctr: op.header.ctr,
    wallTime: op.header.wallTime,
    kind: op.header.kind,
    parents: op.parents,
    prev: op.prev,
    bytes: op.bytes,
    vv,
    mfront,
    body,
  };
  txn.ops.push(record);
  txn.meta.set(op.id, metaOf(record));
  const ck = `${op.author}:${op.header.ctr}`;
  txn.chain.set(ck, [...(txn.chain.get(ck) ?? []), op.id]);
}

/** DAG-6: another op with the same (author, ctr) is evidence, whatever the order. */
async function evidence(core: Core, op: OpenedOp, txn: Txn): Promise<void> {
  const ids = new Set<OpId>(txn.chain.get(`${op.author}:${op.header.ctr}`) ?? []);
  if (txn.live !== undefined && !beyondStored(core, txn.live.rec, op.author, op.header.ctr))
    for (const o of await core.store.getOpsByChain(op.doc, op.author, op.header.ctr)) ids.add(o.id);
  if (ids.size < 2) return;
  const prev = txn.evidence.find((e) => e.author === op.author && e.ctr === op.header.ctr);
  for (const id of prev?.ops ?? []) ids.add(id);
  const rec: EquivocationRecord = {
    doc: op.doc,
    author: op.author,
    ctr: op.header.ctr,
    ops: [...ids].sort(),
  };
  txn.evidence = [...txn.evidence.filter((e) => e !== prev), rec];
}

/**
 * Whether no stored op of the calendar can have (author, ctr): every stored op is in the causal
 * past of a committed head, so the heads' version vectors reach every stored (author, ctr). False
 * (ask the store) when a head's metadata is not at hand.
 */
function beyondStored(core: Core, rec: DocRecord, author: DeviceId, ctr: number): boolean {
  for (const h of rec.heads) {
    const m = core.cached(h, rec.doc);
    if (m === undefined || (m.vv[author] ?? 0) >= ctr) return false;
  }
  return true;
}

async function stageMembership(
  core: Core,
  op: OpenedOp,
  body: MembershipBody,
  predFront: OpId[],
  vv: Record<string, number>,
  txn: Txn,
): Promise<void> {
  // MEM-12: a lowering op can void Adds (MEM-10, ROLE-6); what it voids is known after it is in.
  const lowering =
    body.kind === MembershipKind.Remove ||
    (body.kind === MembershipKind.SetRole && body.role !== Role.Manager);
  const voidBefore = lowering ? txn.membership.voided() : undefined;
  txn.membership.add(
    membershipOp(op, body, txn.membership.closure(predFront), vv, txn.membership, predFront),
  );
  const learned = txn.keys.absorbOp(body, core.me());
  if (learned.length > 0 && core.device !== undefined) {
    await unlock(core, txn, new Set(learned));
    txn.rec = { ...txn.rec, keyIds: txn.keys.ids().sort() };
  }
  const staged = txn.membership.get(op.id);
  const revokes =
    body.kind === MembershipKind.Remove ||
    (body.kind === MembershipKind.SetRole && body.role === Role.Viewer);
  if (revokes && staged !== undefined) await revoke(core, txn, staged);
  if (voidBefore !== undefined) await revokeVoided(core, txn, voidBefore);
}

export function membershipOp(
  op: OpenedOp,
  body: MembershipBody,
  ancestors: Set<OpId>,
  vv: Record<string, number>,
  index: MembershipIndex,
  predFront: readonly OpId[],
): MembershipOp {
  const subject = toHex(body.subject) as DeviceId;
  return {
    id: op.id,
    author: op.author,
    wallTime: op.header.wallTime,
    body,
    subject,
    ancestors,
    vv,
    raises: body.kind === MembershipKind.SetRole && index.raises(subject, body.role, predFront),
  };
}

/** KEY-6: ops stored `locked` under a key just learned are decrypted and merged, in this txn. */
export async function unlock(core: Core, txn: Txn, ids: Set<KeyId> | 'all'): Promise<void> {
  for await (const r of allOps(core, txn)) {
    if (r.kind !== OpKind.Patch || bodyOf(txn, r) !== 'locked') continue;
    const op = openOp(r.bytes);
    if (op.keyId === null || (ids !== 'all' && !ids.has(op.keyId))) continue;
    const key = txn.keys.get(op.keyId);
    if (key === undefined) continue;
    const off = (await revokedStored(core, txn, r)) || (await breaksStored(core, txn, r));
    const [body, entity] = materialize(txn, op, key, r, undefined, off);
    setBody(txn, r, body);
    if (entity !== undefined)
      txn.events.push({ doc: txn.doc, entities: [entity], ops: [r.id], membershipChanged: false });
  }
}

/** SNAP-7: the ops waiting, directly or not, for `id`, which will never apply: dropped. */
function dropWaiters(core: Core, txn: Txn, id: OpId): void {
  const work = [id];
  while (work.length > 0) {
    const at = work.pop()!;
    const kids = new Set(core.gate.waitingFor(at));
    for (const p of txn.admits.values()) if (p.missing.has(at)) kids.add(p.op.id);
    for (const kid of kids) {
      if (txn.unpend.has(kid)) continue;
      unpend(core, txn, kid);
      work.push(kid);
    }
  }
}

/** DAG-3, DAG-4: an op with missing predecessors waits, if the gate admits it. */
function park(core: Core, op: OpenedOp, missing: OpId[], txn: Txn, fromPending: boolean): ApplyResult {
  const base = { id: op.id, doc: op.doc };
  const waiting = txn.admits.get(op.id) ?? core.gate.get(op.id);
  if (waiting !== undefined) {
    if (fromPending) txn.admits.set(op.id, { ...waiting, missing: new Set(missing) });
    return { status: 'pending', ...base };
  }
  const known = knownAuthor(txn, op.author);
  const now = core.nowUs();
  const check = core.gate.check(op, known, now);
  if (!check.ok) {
    if (known) txn.wants.push([op.doc, missing]);
    return rejected(op, check.error);
  }
  for (const id of check.evict) txn.unpend.add(id);
  txn.admits.set(op.id, { op, missing: new Set(missing), since: now, known });
  return { status: 'pending', ...base };
}

/** DAG-4: a device some membership op of the calendar names (as author or subject). */
export function knownAuthor(txn: Txn, d: DeviceId): boolean {
  for (const m of txn.membership.all()) if (m.author === d || m.subject === d) return true;
  return false;
}
