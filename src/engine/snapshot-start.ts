// Starting a calendar from a snapshot instead of its whole history (docs/PROTOCOL.md SNAP-6..8).
// The snapshot's anchors become ordinary ops of the log (signatures checked; membership ops
// validated again against the anchors before them, so members, roles and keys are recomputed,
// not taken on trust), its registers and evidence the calendar's state, its frontier the heads.
// The tail then applies as usual, under SNAP-7: a replica started from a snapshot applies only
// ops whose causal past holds the whole frontier (or that are held already), and refuses ops the
// snapshot covers. Its base (the snapshot's registers) is what MEM-5 rebuilds from (SNAP-8).

import { commit, membershipOp } from './applier.ts';
import { calendarFromRecord } from './calendar.ts';
import { certificationOf } from './certification.ts';
import { loadCertifications } from './certify.ts';
import type { MembershipBody } from './codec.ts';
import { type Core, metaOf } from './core.ts';
import { EngineError } from './errors.ts';
import { CALENDAR_ENTITY, type DocId, type EntityId } from './ids.ts';
import { docIdFromGenesis, type OpenedOp, openOp, verifyOp } from './op.ts';
import type { SnapshotBase } from './snapshot-base.ts';
import type { ListedStatement, SnapshotState } from './snapshot-codec.ts';
import { openEndorsement, statementBytes } from './snapshot-envelope.ts';
import { type EndorsementRecord, OpKind, type OpRecord } from './store.ts';
import { Txn } from './txn.ts';
import { validate } from './validate.ts';

const invalid = (msg: string): EngineError => new EngineError('Malformed', `snapshot: ${msg}`);

/** SNAP-6: the genesis anchor and the calendar id it fixes. */
function genesisOf(state: SnapshotState, first: OpenedOp | undefined): OpenedOp {
  if (
    first === undefined ||
    first.header.doc.length !== 0 ||
    first.header.kind !== OpKind.Membership ||
    docIdFromGenesis(first.id) !== state.doc
  )
    throw invalid('the first anchor is not the genesis of its calendar');
  return first;
}

/**
 * SNAP-6: a membership anchor, validated like any op against the anchors before it (its
 * predecessors are anchors too, SNAP-2); what it derives must be what the snapshot says.
 */
async function stageMembership(core: Core, txn: Txn, op: OpenedOp, rec: OpRecord): Promise<void> {
  const preds = op.prev === null ? op.parents : [...op.parents, op.prev];
  const metas = preds.map((p) => txn.meta.get(p));
  if (metas.some((m) => m === undefined)) throw invalid(`a predecessor of membership op ${op.id} is missing`);
  const v = await validate(op, {
    preds: metas as NonNullable<(typeof metas)[number]>[],
    membership: txn.membership,
    verify: (k, s, m) => core.crypto.verify(k, s, m),
  });
  if (v instanceof EngineError)
    throw new EngineError(v.code, `snapshot: membership op ${op.id}: ${v.message}`);
  if (!sameVv(v.vv, rec.vv)) throw invalid(`membership op ${op.id} has another version vector`);
  const body = v.mbody as MembershipBody;
  txn.membership.add(
    membershipOp(op, body, txn.membership.closure(v.predFront), v.vv, txn.membership, v.predFront),
  );
  txn.keys.absorbOp(body, core.me());
}

function sameVv(a: Record<string, number>, b: Record<string, number>): boolean {
  const ka = Object.keys(a).filter((k) => a[k] !== 0);
  const kb = Object.keys(b).filter((k) => b[k] !== 0);
  return ka.length === kb.length && ka.every((k) => a[k] === b[k]);
}

/** SNAP-6: stages every anchor as an op of the log, in the snapshot's (topological) order. */
async function stageAnchors(core: Core, txn: Txn, state: SnapshotState, opened: OpenedOp[]): Promise<void> {
  for (let i = 0; i < opened.length; i++) {
    const op = opened[i]!;
    const a = state.anchors[i]!;
    if (op.doc !== state.doc) throw invalid(`anchor ${op.id} belongs to another calendar`);
    if (txn.meta.has(op.id)) throw invalid(`anchor ${op.id} twice`);
    if (!(await verifyOp(core.crypto, op)))
      throw new EngineError('BadSignature', `snapshot: anchor ${op.id} signature does not verify`);
    if ((a.vv[op.author] ?? 0) !== op.header.ctr) throw invalid(`anchor ${op.id}: version vector`);
    txn.rec = { ...txn.rec, seq: txn.rec.seq + 1 };
    const rec: OpRecord = {
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
      vv: a.vv,
      mfront: a.mfront,
      body: a.body,
    };
    // Every membership op an anchor has seen is an anchor too (so none can be left out unseen).
    for (const m of a.mfront)
      if (m !== op.id && txn.membership.get(m) === undefined)
        throw invalid(`anchor ${op.id} names membership op ${m}, which is not an earlier anchor`);
    if (op.header.kind === OpKind.Membership) {
      if (a.mfront.length !== 1 || a.mfront[0] !== op.id) throw invalid(`membership op ${op.id}: mfront`);
      await stageMembership(core, txn, op, rec);
    } else if (op.header.kind !== OpKind.Patch)
      throw invalid(`anchor ${op.id} is not a Patch or Membership op`);
    txn.ops.push(rec);
    txn.meta.set(op.id, metaOf(rec));
    const ck = `${op.author}:${op.header.ctr}`;
    txn.chain.set(ck, [...(txn.chain.get(ck) ?? []), op.id]);
  }
}

/**
 * SNAP-10, SNAP-21: the certifications the snapshot lists in force are in force here from the
 * start (their effect is in its registers), stored with the calendar and listed again in this
 * replica's snapshots; those it lists as waiting are stored and wait here as there. Returns the
 * records staged (the base's list).
 */
export async function stageListed(core: Core, txn: Txn, state: SnapshotState): Promise<EndorsementRecord[]> {
  const staged: EndorsementRecord[] = [];
  const lists: [readonly ListedStatement[], boolean][] = [
    [state.endorsements ?? [], false],
    [state.waiting ?? [], true],
  ];
  for (const [list, waiting] of lists)
    for (const l of list) {
      const e = await openEndorsement(core.crypto, statementBytes(l.body, l.sig));
      if (e.doc !== state.doc) throw invalid('a listed endorsement belongs to another calendar');
      const rec: EndorsementRecord = waiting
        ? { doc: state.doc, id: e.hash, bytes: e.bytes, base: true, waiting: true }
        : { doc: state.doc, id: e.hash, bytes: e.bytes, base: true, acted: true };
      txn.endorsements.push(rec);
      staged.push(rec);
      if (!waiting) txn.certs.push({ ...certificationOf(e), base: true, acted: true });
    }
  return staged;
}

/** The stored endorsement records of `doc` as this replica holds them (in force and waiting). */
function heldRecords(core: Core, doc: DocId): EndorsementRecord[] {
  return [...(core.certs.get(doc) ?? []), ...(core.pendingCerts.get(doc) ?? [])].map((c) => ({
    doc,
    id: c.id,
    bytes: c.bytes,
    ...(c.base ? { base: true as const } : {}),
    ...(c.base && c.waiting ? { waiting: true as const } : {}),
    ...(c.acted ? { acted: true as const } : {}),
  }));
}

/** A record no longer the base's. */
function unlisted(r: EndorsementRecord): EndorsementRecord {
  const { base: _b, waiting: _w, ...rest } = r;
  return rest;
}

/**
 * SNAP-21, SNAP-22, in the commit that replaces a calendar's base (pruning, re-basing): an
 * endorsement the old base listed and the new one does not is no longer the base's (its record
 * says so), so whether this replica judges it is decided again against the new base.
 */
export function unlistStale(core: Core, txn: Txn, staged: readonly EndorsementRecord[]): void {
  const ids = new Set(staged.map((r) => r.id));
  for (const r of heldRecords(core, txn.doc))
    if (r.base && !ids.has(r.id)) txn.endorsements.push(unlisted(r));
}

/**
 * After the commit that set a base: which certifications are in force, waiting, or the base's is
 * found again from the records (SNAP-10's rule at open), and which this replica cannot judge
 * (SNAP-22).
 */
export async function reloadCertifications(core: Core, doc: DocId, staged: readonly EndorsementRecord[]) {
  const ids = new Set(staged.map((r) => r.id));
  const records = [
    ...heldRecords(core, doc)
      .filter((r) => !ids.has(r.id))
      .map(unlisted),
    ...staged,
  ];
  core.certs.delete(doc);
  core.pendingCerts.delete(doc);
  await loadCertifications(core, doc, records);
}

/** This device's own chain position at the frontier (CLK-1 continues from it). */
function ownChain(core: Core, txn: Txn, vv: Record<string, number>): void {
  const me = core.deviceId;
  const ctr = me === undefined ? 0 : (vv[me] ?? 0);
  if (ctr === 0) return;
  const mine = txn.ops.filter((o) => o.author === me && o.ctr === ctr).map((o) => o.id);
  if (mine.length === 0) throw invalid("this device's last op is not an anchor");
  txn.rec = { ...txn.rec, ownLast: mine.sort()[0]!, ownCtr: ctr };
}

/**
 * SNAP-6: starts calendar `state.doc` on this replica from a verified snapshot (the caller's
 * SNAP-5 trust rule decides which: `check` runs on the staged anchors, with the membership this
 * device computed, before the commit, and may stage more in it). One store commit; nothing
 * changes on failure. `replace` (SNAP-13, rebase.ts): the calendar is on this replica and that
 * commit replaces it whole.
 */
export async function startFromSnapshot(
  core: Core,
  state: SnapshotState,
  check?: (txn: Txn) => void,
  replace = false,
): Promise<void> {
  if (core.docs.has(state.doc) !== replace)
    throw new EngineError(
      'InvalidArgument',
      replace ? 'the calendar is not on this replica' : 'the calendar is already on this replica',
    );
  if (core.device === undefined)
    throw new EngineError('InvalidArgument', 'a verify-only replica starts from genesis');
  // CMP-2: a calendar in compliance mode keeps every op from genesis on every device.
  const cal = state.entities.find((e) => e.entity === CALENDAR_ENTITY);
  if (calendarFromRecord(cal).compliance)
    throw new EngineError(
      'InvalidArgument',
      'a calendar in compliance mode starts from its genesis (SNAP-6)',
    );
  const opened = state.anchors.map((a) => openOp(a.bytes));
  const genesis = genesisOf(state, opened[0]);
  const txn = new Txn(state.doc, undefined, {
    doc: state.doc,
    genesis: genesis.id,
    heads: [...state.frontier],
    seq: 0,
    ownLast: null,
    ownCtr: 0,
  });
  await stageAnchors(core, txn, state, opened);
  const vv: Record<string, number> = {};
  for (const h of state.frontier) {
    const m = txn.meta.get(h);
    if (m === undefined) throw invalid(`frontier op ${h} is not an anchor`);
    for (const d in m.vv) vv[d] = Math.max(vv[d] ?? 0, m.vv[d]!);
  }
  ownChain(core, txn, vv);
  const staged = await stageListed(core, txn, state);
  if (replace) unlistStale(core, txn, staged);
  check?.(txn);
  const entities = new Map<EntityId, (typeof state.entities)[number]>();
  for (const e of state.entities) {
    entities.set(e.entity, e);
    txn.entities.set(e.entity, e);
  }
  txn.evidence = [...state.evidence];
  txn.rec = {
    ...txn.rec,
    keyIds: txn.keys.ids().sort(),
    snapshot: { frontier: [...state.frontier], anchors: opened.length, vv, base: 0 },
  };
  // SNAP-11: the live registers are the snapshot's: no base record yet (copy-on-write from here).
  txn.snapshot = { baseReset: true, ...(replace ? { reset: true } : {}) };
  txn.events.push({ doc: state.doc, entities: [...entities.keys()], ops: [], membershipChanged: true });
  const base: SnapshotBase = {
    frontier: new Set(state.frontier),
    anchors: new Set(opened.map((o) => o.id)),
    vv,
    entities,
    stored: new Set(),
  };
  const err = await commit(core, txn);
  if (err !== undefined) throw err;
  // SNAP-13: nothing of the calendar it replaced stays in memory (cached metadata, waiting ops).
  if (replace) core.forget(state.doc, (id) => !txn.meta.has(id), true);
  core.bases.set(state.doc, base);
  await reloadCertifications(core, state.doc, staged);
}
