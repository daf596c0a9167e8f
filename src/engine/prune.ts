// Pruning a calendar to a snapshot on a replica (docs/PROTOCOL.md SNAP-12): the ops the snapshot
// covers are deleted except its anchors, and the calendar becomes one that starts from the
// snapshot (its mark, its stored registers, SNAP-7 from then on), in one store commit. Only when
// compliance mode is off, the snapshot is what the ops it covers give (recomputed here), no op
// held here was made concurrently with it, and it is stable: every member has certified its
// frontier, so no member's later op can name a deleted op.

import { commit } from './applier.ts';
import { bytesEqual, toHex } from './bytes.ts';
import { calendarFromRecord } from './calendar.ts';
import type { Core } from './core.ts';
import { EngineError, isEngineError } from './errors.ts';
import { CALENDAR_ENTITY, type DeviceId, type DocId, type OpId } from './ids.ts';
import { snapshotAt } from './snapshot.ts';
import { baseRecords, type SnapshotBase } from './snapshot-base.ts';
import { decodeSnapshot, encodeSnapshot, type SnapshotState } from './snapshot-codec.ts';
import { reloadCertifications, stageListed, unlistStale } from './snapshot-start.ts';
import { snapshotHash } from './snapshot-verify.ts';
import type { OpRecord } from './store.ts';
import { Txn } from './txn.ts';

/** SNAP-12: whether a replica may prune to a snapshot now, and what holds it back. */
export interface PruneStatus {
  /** `prune` would delete now. */
  ready: boolean;
  /** Members that have not certified the frontier yet (the UI says "waiting for <device>"). */
  waitingFor: DeviceId[];
  /** Why this snapshot can never be pruned to here (null when ready or only waiting). */
  blocked: string | null;
  /** How many ops pruning would delete. */
  prunable: number;
}

interface Plan {
  status: PruneStatus;
  state: SnapshotState;
  doomed: OpId[];
}

const PAGE = 2000;

/** One pass over the log: which held ops the frontier covers, and which hold the whole frontier. */
export async function scanLog(core: Core, doc: DocId, frontier: readonly OpId[]) {
  const log: OpRecord[] = [];
  for (let after = 0; ; ) {
    const page = await core.store.listOps(doc, after, PAGE);
    if (page.length === 0) break;
    after = page[page.length - 1]!.seq;
    for (const r of page) log.push({ ...r, bytes: new Uint8Array(0) });
  }
  const preds = (r: OpRecord): OpId[] => (r.prev === null ? r.parents : [...r.parents, r.prev]);
  // Covered: the frontier's past among held ops (seq order is a topological order). On a
  // calendar pruned before, the old base's anchors are in it too (the snapshot was recomputed
  // from that base, so its frontier holds the old one), though only deleted ops may link them.
  const covered = new Set<OpId>([...frontier, ...(core.bases.get(doc)?.anchors ?? [])]);
  for (let i = log.length - 1; i >= 0; i--)
    if (covered.has(log[i]!.id)) for (const p of preds(log[i]!)) covered.add(p);
  // Which frontier ops each op's past holds, as a bit set (a missing predecessor holds none).
  const bit = new Map(frontier.map((f, i) => [f, 1n << BigInt(i)]));
  const full = (1n << BigInt(frontier.length)) - 1n;
  const reach = new Map<OpId, bigint>();
  for (const r of log) {
    let m = bit.get(r.id) ?? 0n;
    for (const p of preds(r)) m |= reach.get(p) ?? 0n;
    reach.set(r.id, m);
  }
  const holds = (id: OpId): boolean => reach.get(id) === full;
  /** Whether the causal past of a set of ops (themselves included) holds the whole frontier. */
  const together = (ids: readonly OpId[]): boolean =>
    ids.reduce((m, id) => m | (reach.get(id) ?? 0n), 0n) === full;
  return { log, covered, holds, together };
}

/** Whether the past of `frontier` among the held ops (`log`, seq order) holds every op of the base's frontier. */
function holdsBase(
  base: SnapshotBase | undefined,
  log: readonly OpRecord[],
  frontier: readonly OpId[],
): boolean {
  if (base === undefined) return true;
  const past = new Set<OpId>(frontier);
  for (let i = log.length - 1; i >= 0; i--) {
    const r = log[i]!;
    if (!past.has(r.id)) continue;
    for (const p of r.parents) past.add(p);
    if (r.prev !== null) past.add(r.prev);
  }
  return [...base.frontier].every((f) => past.has(f));
}

/**
 * SNAP-12: the members (other than this device) that have not certified the frontier: none of
 * their newest ops here (all of them at its highest ctr) holds it, and no endorsement of theirs in
 * force (SNAP-10) names a frontier that holds it.
 */
async function uncertified(
  core: Core,
  doc: DocId,
  holds: (id: OpId) => boolean,
  together: (ids: readonly OpId[]) => boolean,
): Promise<DeviceId[]> {
  const st = core.mustDoc(doc);
  const heads = await core.metas(doc, st.rec.heads);
  const certs = core.certs.get(doc) ?? [];
  const out: DeviceId[] = [];
  for (const d of st.membership.membersAt(core.headFront(st)).keys()) {
    if (d === core.deviceId) continue;
    if (certs.some((c) => c.author === d && together(c.frontier))) continue;
    let top = 0;
    for (const m of heads) top = Math.max(top, m?.vv[d] ?? 0);
    const newest = top === 0 ? [] : await core.store.getOpsByChain(doc, d, top);
    if (newest.length === 0 || !newest.every((o) => holds(o.id))) out.push(d);
  }
  return out.sort();
}

/**
 * Snapshots (by SNAP-1 hash) this replica recomputed and found equal, per calendar. A valid
 * verdict never changes (the ops a frontier covers are fixed), so `pruneStatus`, which a host may
 * ask often, replays the covered ops once per snapshot.
 */
const verified = new WeakMap<Core, Map<DocId, Set<string>>>();

/** SNAP-5 by recomputation: null when `plain` is what the covered ops give here, else why not. */
async function notVerified(
  core: Core,
  doc: DocId,
  plain: Uint8Array,
  state: SnapshotState,
): Promise<string | null> {
  const key = toHex(snapshotHash(plain));
  const docs = verified.get(core) ?? new Map<DocId, Set<string>>();
  verified.set(core, docs);
  const seen = docs.get(doc) ?? new Set<string>();
  docs.set(doc, seen);
  if (seen.has(key)) return null;
  let mine: SnapshotState | undefined;
  try {
    mine = await snapshotAt(core, doc, state.frontier, state.previous);
  } catch (e) {
    if (isEngineError(e) && (e.code === 'NoKey' || e.code === 'Unsupported')) return e.message;
    throw e;
  }
  if (mine === undefined) return "an op of the snapshot frontier's past is not held here";
  if (!bytesEqual(encodeSnapshot(mine), plain))
    return 'the snapshot is not what the ops it covers give (SNAP-5)';
  seen.add(key);
  return null;
}

async function plan(core: Core, doc: DocId, plain: Uint8Array): Promise<Plan> {
  const st = core.mustDoc(doc);
  const state = decodeSnapshot(plain);
  if (state.doc !== doc) throw new EngineError('InvalidArgument', 'the snapshot is of another calendar');
  const no = (blocked: string): Plan => ({
    status: { ready: false, waitingFor: [], blocked, prunable: 0 },
    state,
    doomed: [],
  });
  if (core.device === undefined) return no('a verify-only replica reads no body');
  // CMP-2: nothing is pruned in a calendar whose Compliance register is on.
  if (calendarFromRecord(st.entities.get(CALENDAR_ENTITY)).compliance)
    return no('the calendar is in compliance mode: nothing is pruned (CMP-2)');
  const why = await notVerified(core, doc, plain, state);
  if (why !== null) return no(why);
  const { log, covered, holds, together } = await scanLog(core, doc, state.frontier);
  // A snapshot older than the one this calendar was pruned to (stale, SNAP-5) would drop anchors
  // the newer base keeps and let covered ops apply again: its frontier must hold the base's.
  if (!holdsBase(core.bases.get(doc), log, state.frontier))
    return no('the snapshot is older than the one this calendar was pruned to: a later snapshot prunes');
  const anchors = new Set(state.anchors.map((a) => a.id));
  const tail = log.filter((r) => !covered.has(r.id));
  const concurrent = tail.filter((r) => !holds(r.id)).length;
  if (concurrent > 0)
    return no(`${concurrent} ops held here were made without the whole frontier: a later snapshot prunes`);
  const firstTail = tail[0]?.seq ?? Number.POSITIVE_INFINITY;
  if (log.some((r) => anchors.has(r.id) && r.seq > firstTail))
    return no('an anchor was applied after an op that holds the frontier');
  const doomed = log.filter((r) => covered.has(r.id) && !anchors.has(r.id)).map((r) => r.id);
  const waitingFor = await uncertified(core, doc, holds, together);
  return {
    status: { ready: waitingFor.length === 0, waitingFor, blocked: null, prunable: doomed.length },
    state,
    doomed,
  };
}

/** SNAP-12: what holds pruning to `plain` back on this replica (nothing changes). */
export async function pruneStatus(core: Core, doc: DocId, plain: Uint8Array): Promise<PruneStatus> {
  return (await plan(core, doc, plain)).status;
}

/**
 * SNAP-12: prunes `doc` to the snapshot `plain` in one store commit; refused (`InvalidArgument`,
 * naming what holds it back) unless `pruneStatus` says ready. Returns how many ops it deleted.
 */
export async function prune(core: Core, doc: DocId, plain: Uint8Array): Promise<number> {
  const { status, state, doomed } = await plan(core, doc, plain);
  if (!status.ready)
    throw new EngineError(
      'InvalidArgument',
      `cannot prune to this snapshot: ${status.blocked ?? `waiting for ${status.waitingFor.join(', ')}`} (SNAP-12)`,
    );
  const st = core.mustDoc(doc);
  const vv: Record<string, number> = {};
  for (const a of state.anchors)
    if (state.frontier.includes(a.id)) for (const d in a.vv) vv[d] = Math.max(vv[d] ?? 0, a.vv[d]!);
  const txn = new Txn(doc, st);
  const snap = new Map(state.entities.map((e) => [e.entity, e]));
  // SNAP-11: base records for the entities the ops after the frontier changed (copy-on-write).
  const records = baseRecords(doc, snap, st.entities);
  txn.rec = {
    ...st.rec,
    snapshot: { frontier: [...state.frontier], anchors: state.anchors.length, vv, base: records.length },
  };
  txn.snapshot = { prune: doomed, base: records, baseReset: true };
  // SNAP-10: the certifications the snapshot lists are the base's own from now on (replays list them).
  const staged = await stageListed(core, txn, state);
  unlistStale(core, txn, staged);
  const err = await commit(core, txn);
  if (err !== undefined) throw err;
  const gone = new Set(doomed);
  core.forget(doc, (id) => gone.has(id));
  const base: SnapshotBase = {
    frontier: new Set(state.frontier),
    anchors: new Set(state.anchors.map((a) => a.id)),
    vv,
    entities: snap,
    stored: new Set(records.map((e) => e.entity)),
  };
  core.bases.set(doc, base);
  await reloadCertifications(core, doc, staged);
  return doomed.length;
}
