// Making a snapshot (docs/PROTOCOL.md SNAP-1..4): the materialized state of a calendar at a
// frontier of ops, as a pure function of the ops in the frontier's causal past. At the replica's
// own heads it is read from live state; at an earlier frontier the covered ops are replayed into
// a scratch replica over a memory store (same keys), so every replica holding the covered ops
// computes the same bytes (SNAP-3) and verification is recompute-and-compare (SNAP-5).

import { applyOne, commit, txnFor } from './applier.ts';
import { bytesEqual, compareBytes, toHex } from './bytes.ts';
import type { Certification } from './certification.ts';
import { acts, receiveEndorsement } from './certify.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DeviceId, DocId, OpId } from './ids.ts';
import { impliedAt, judgeable, judgedInForce } from './late-endorsements.ts';
import { openOp } from './op.ts';
import { type ListedStatement, SNAPSHOT_FORMAT_ACTING, type SnapshotState } from './snapshot-codec.ts';
import { decodeStatement, openEndorsement, statementBytes } from './snapshot-envelope.ts';
import { anchorsOf, pastOf, predsOf, replayFromBase, scratchOf } from './snapshot-replay.ts';
import { OpKind, type OpRecord } from './store.ts';

const PAGE = 500;

/** Every op of a calendar in apply order (seq), a topological order. */
async function* opLog(core: Core, doc: DocId): AsyncGenerator<OpRecord> {
  for (let after = 0; ; ) {
    const page = await core.store.listOps(doc, after, PAGE);
    if (page.length === 0) return;
    after = page[page.length - 1]!.seq;
    yield* page;
  }
}

/** SNAP-21: the format a snapshot is made in (`SNAPSHOT_FORMAT_ACTING` only to verify an old one). */
export type Format = SnapshotState['format'];

/**
 * SNAP-2, SNAP-3: the snapshot of `doc` at this replica's heads. Refused (`NoKey`) while any
 * covered Patch is locked (its effect on the registers is unknown here), and on a verify-only
 * replica (it reads no body). `format`: the current one, or the old one to verify an old snapshot.
 */
export async function snapshotAtHeads(
  core: Core,
  doc: DocId,
  previous: Uint8Array = new Uint8Array(0),
  format?: Format,
): Promise<SnapshotState> {
  const st = core.mustDoc(doc);
  if (core.device === undefined) throw new EngineError('NoKey', 'a verify-only replica reads no body');
  if (previous.length !== 0 && previous.length !== 32)
    throw new EngineError('InvalidArgument', 'previous is a 32-byte snapshot hash');
  for await (const r of opLog(core, doc))
    if (r.body === 'locked') throw new EngineError('NoKey', `op ${r.id} is locked: cannot snapshot (SNAP-3)`);
  const frontier = [...st.rec.heads].sort();
  const { ids, vv } = await anchorIds(
    core,
    doc,
    frontier,
    [...st.membership.all()].map((m) => m.id),
  );
  const anchors = anchorsOf(await core.store.getOps(doc, [...ids]), 'an op of the snapshot');
  const entities = [...st.entities.values()]
    .filter((e) => e.registers.length > 0)
    .sort((a, b) => (a.entity < b.entity ? -1 : 1))
    .map((e) => ({ ...e, registers: [...e.registers].sort((a, b) => a.field - b.field) }));
  const evidence = [...st.evidence]
    .map((e) => ({ ...e, ops: [...e.ops].sort() }))
    .sort((a, b) => (a.author !== b.author ? (a.author < b.author ? -1 : 1) : a.ctr - b.ctr));
  const { endorsements, waiting } = await listedHere(core, doc, format, { vv, anchors: ids });
  return {
    doc,
    frontier,
    previous,
    anchors,
    entities,
    evidence,
    ...(endorsements.length > 0 ? { endorsements } : {}),
    ...(waiting.length > 0 ? { waiting } : {}),
    ...(format === undefined ? {} : { format }),
  };
}

/**
 * SNAP-2 (3): the ids of the anchors of a snapshot at `frontier` (every op of it held here), given
 * the membership ops of its causal past: those ops and their predecessors, the frontier ops, and
 * each author's ops at its highest ctr in the frontier's past (its chain position; more than one
 * under equivocation). Also the frontier's version vector. Making a snapshot (at the heads) and
 * the relay's pruning (prune-relay.ts, at a stored snapshot's frontier) select anchors alike.
 */
export async function anchorIds(
  core: Core,
  doc: DocId,
  frontier: readonly OpId[],
  membership: Iterable<OpId>,
): Promise<{ ids: Set<OpId>; vv: Record<string, number> }> {
  const metas = await core.metas(doc, frontier);
  const vv: Record<string, number> = {};
  for (const m of metas) {
    if (m === undefined) throw new EngineError('Storage', 'a frontier op is not in the log');
    for (const d in m.vv) vv[d] = Math.max(vv[d] ?? 0, m.vv[d]!);
  }
  const ids = new Set<OpId>(frontier);
  for (const id of membership) ids.add(id);
  for (const r of await core.store.getOps(doc, [...ids]))
    if (r !== undefined && r.kind === OpKind.Membership) for (const p of predsOf(r)) ids.add(p);
  for (const d in vv)
    for (const r of await core.store.getOpsByChain(doc, d as DeviceId, vv[d]!)) ids.add(r.id);
  return { ids, vv };
}

/** SNAP-10: certifications as a snapshot lists them (body and signature, ascending by body). */
function listedOf(certs: readonly Certification[]): ListedStatement[] {
  return certs
    .map((c) => {
      const { body, sig } = decodeStatement(c.bytes);
      return { body, sig };
    })
    .sort((a, b) => compareBytes(a.body, b.body));
}

/** SNAP-10, SNAP-21: a snapshot's two lists of endorsements. */
export interface Listed {
  endorsements: ListedStatement[];
  waiting: ListedStatement[];
}

/**
 * SNAP-21: what a snapshot made here at the heads (version vector `vv`) lists: every
 * certification in force here that this replica judges (SNAP-22; in force, so its position is
 * in the frontier's past), and as waiting every stored one that waits for an op (not in the
 * frontier's past) that the base listed so, or that this replica judges and whose position is
 * at or below `vv` for its endorser (1 or more: those a replica starting from this snapshot could
 * not judge). In the old format (to verify an old snapshot) those in force that act, no waiting.
 */
async function listedHere(
  core: Core,
  doc: DocId,
  format: Format,
  at: { vv: Readonly<Record<string, number>>; anchors: ReadonlySet<OpId> },
): Promise<Listed> {
  if (format === SNAPSHOT_FORMAT_ACTING)
    return { endorsements: listedOf((core.certs.get(doc) ?? []).filter(acts)), waiting: [] };
  const { vv, anchors } = at;
  const evidence = core.mustDoc(doc).evidence;
  const implied = (c: Certification) => impliedAt(c, vv, anchors, evidence);
  const waiting: Certification[] = [];
  for (const c of core.pendingCerts.get(doc) ?? []) {
    const v = vv[c.author] ?? 0;
    if (implied(c)) continue;
    if (c.base === true || (v >= 1 && c.ctr <= v && (await judgeable(core, doc, c)))) waiting.push(c);
  }
  const inForce = (await judgedInForce(core, doc)).filter((c) => !implied(c));
  return { endorsements: listedOf(inForce), waiting: listedOf(waiting) };
}

const sameList = (a: readonly ListedStatement[], b: readonly ListedStatement[]): boolean =>
  a.length === b.length && a.every((x, i) => bytesEqual(x.body, b[i]!.body) && bytesEqual(x.sig, b[i]!.sig));

const sameListed = (a: Listed, b: Listed): boolean =>
  sameList(a.endorsements, b.endorsements) && sameList(a.waiting, b.waiting);

/**
 * SNAP-10: puts endorsements in force on a scratch replica after its replay, as a replica that
 * received them would; one that is not in force there (a non-member, ops outside the replay) is
 * left out. Returns whether the scratch (one replayed from a base) cannot judge one of them
 * (SNAP-22): then it cannot recompute a snapshot that lists it (SNAP-21).
 */
async function certifyScratch(scratch: Core, doc: DocId, listed: readonly Uint8Array[]): Promise<boolean> {
  for (const bytes of listed) {
    try {
      await receiveEndorsement(scratch, await openEndorsement(scratch.crypto, bytes));
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
    }
  }
  return (scratch.lateCerts.get(doc)?.size ?? 0) > 0;
}

/** Whether `state` (made on `scratch`) lists a certification of the scratch's base that `listed` lacks. */
function listsBeyond(scratch: Core, doc: DocId, state: SnapshotState, listed: Listed): boolean {
  const claimed = new Set([...listed.endorsements, ...listed.waiting].map((l) => toHex(l.body)));
  const base = new Set(
    [...(scratch.certs.get(doc) ?? []), ...(scratch.pendingCerts.get(doc) ?? [])]
      .filter((c) => c.base === true)
      .map((c) => toHex(decodeStatement(c.bytes).body)),
  );
  return [...(state.endorsements ?? []), ...(state.waiting ?? [])].some((l) => {
    const body = toHex(l.body);
    return base.has(body) && !claimed.has(body);
  });
}

/**
 * SNAP-3: the snapshot of `doc` at `frontier`, from the covered ops alone: at the heads it is
 * read directly; otherwise the ops in the frontier's past are replayed, in this replica's apply
 * order, into a scratch replica with this device's keys and every content key this replica
 * holds. `undefined` when an op of the frontier's past is not held here, or (verifying `listed`)
 * when this replica cannot judge a listed endorsement (SNAP-22). `format`: the claimed snapshot's.
 */
export async function snapshotAt(
  core: Core,
  doc: DocId,
  frontier: readonly OpId[],
  previous: Uint8Array = new Uint8Array(0),
  listed?: Listed,
  format?: Format,
): Promise<SnapshotState | undefined> {
  const st = core.mustDoc(doc);
  const sorted = [...frontier].sort();
  if (sorted.join() === [...st.rec.heads].sort().join()) {
    const heads = [...st.rec.heads];
    const at = listed === undefined ? undefined : await anchorIds(core, doc, heads, []);
    if (
      at === undefined ||
      sameListed(listed!, await listedHere(core, doc, format, { vv: at.vv, anchors: at.ids }))
    )
      return snapshotAtHeads(core, doc, previous, format);
  }
  const past = await pastOf(core, doc, sorted);
  // SNAP-10: the endorsements a claimed snapshot lists, or (making one) every one this replica has.
  const all = [...(core.certs.get(doc) ?? []), ...(core.pendingCerts.get(doc) ?? [])].map((c) => c.bytes);
  const toList =
    listed === undefined
      ? all
      : [...listed.endorsements, ...listed.waiting].map((e) => statementBytes(e.body, e.sig));
  if (past === undefined) {
    // SNAP-12: on a calendar that starts from a snapshot, the covered ops are replayed from it.
    const replayed = await replayFromBase(core, doc, sorted);
    if (replayed === undefined) return undefined;
    // SNAP-22: verifying, a listed endorsement this base cannot judge makes the snapshot one this
    // replica cannot recompute (its maker judged it with ops this one no longer holds).
    if ((await certifyScratch(replayed, doc, toList)) && listed !== undefined) return undefined;
    const state = await snapshotAtHeads(replayed, doc, previous, format);
    // Likewise one the base lists (its effect is in the base's registers) that the claimed
    // snapshot does not: this replica cannot recompute without it; the maker may lack it.
    if (listed !== undefined && listsBeyond(replayed, doc, state, listed)) return undefined;
    return state;
  }
  const scratch = scratchOf(core);
  const genesis = openOp(past[0]!.bytes);
  const txn = txnFor(scratch, genesis);
  for (const id of st.keys.ids()) txn.keys.learn(id, st.keys.get(id)!);
  for (const r of past) {
    const res = await applyOne(scratch, openOp(r.bytes), txn, false);
    if (res.status !== 'applied') throw new EngineError('Storage', `replaying ${r.id}: ${res.status}`);
  }
  const err = await commit(scratch, txn);
  if (err !== undefined) throw err;
  await certifyScratch(scratch, doc, toList);
  return snapshotAtHeads(scratch, doc, previous, format);
}
