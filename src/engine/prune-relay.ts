// Pruning on a replica that reads no body: the relay's verify-only replica (docs/PROTOCOL.md
// SNAP-17, RELAY-29..32). It cannot recompute a snapshot (SNAP-3 needs the bodies), so it prunes
// to a snapshot's frontier F on its members' word instead: every member at its heads consented
// (an endorsement of the snapshot, i.e. a verified recomputation, whose chain position is held
// here; the caller reads the endorsements, this file checks what they say against the log), no op
// held here was made concurrently with F, and no op waits for its predecessors. It keeps the
// anchors SNAP-2 names (selected as a maker selects them, `anchorIds`), deletes every other op F
// covers and becomes a replica started from F (the mark, SNAP-7 from then on), in one commit.
// Memory: one pass over the log's metadata (`scanLog`, as SNAP-12 does); after a prune a log is
// its anchors and its tail, so the pass stays short.

import { commit } from './applier.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DeviceId, DocId, OpId } from './ids.ts';
import { type PruneStatus, scanLog } from './prune.ts';
import { anchorIds } from './snapshot.ts';
import { Txn } from './txn.ts';

/** SNAP-17: a member's consent to pruning to a frontier: its endorsement's chain position. */
export interface PruneConsent {
  /** The endorser's ctr when it endorsed (0: it had made no op). */
  ctr: number;
  /** Its op at that ctr (null when ctr is 0). */
  last: OpId | null;
}

interface Plan {
  status: PruneStatus;
  frontier: OpId[];
  anchors: OpId[];
  doomed: OpId[];
  vv: Record<string, number>;
}

const not = (blocked: string): Plan => ({
  status: { ready: false, waitingFor: [], blocked, prunable: 0 },
  frontier: [],
  anchors: [],
  doomed: [],
  vv: {},
});

/**
 * SNAP-17 (1): the members at the heads that have not consented. A member at F consents by an
 * endorsement whose chain position is held here (so every op of its chain up to there is held,
 * and honest ops after it hold F, SNAP-10). A member that is not a member at F cannot endorse
 * (SNAP-10: `NotMember`); it needs no consent when nothing of it is in F's past (no op, no
 * membership op naming it): every op it can make has a grant of it in its past, which is not in
 * F's past, so it is held here (and then holds F, condition 2) or comes later holding F.
 */
async function unconsented(
  core: Core,
  doc: DocId,
  frontier: readonly OpId[],
  vv: Readonly<Record<string, number>>,
  covered: ReadonlySet<OpId>,
  consent: ReadonlyMap<DeviceId, PruneConsent>,
): Promise<DeviceId[]> {
  const st = core.mustDoc(doc);
  const fronts: OpId[] = [];
  for (const m of await core.metas(doc, frontier)) fronts.push(...(m?.mfront ?? []));
  const atF = st.membership.membersAt(st.membership.maximal(fronts));
  const named = new Set<DeviceId>();
  for (const m of st.membership.all()) if (covered.has(m.id)) named.add(m.subject);
  const out: DeviceId[] = [];
  for (const d of st.membership.membersAt(core.headFront(st)).keys()) {
    if (!atF.has(d)) {
      if ((vv[d] ?? 0) > 0 || named.has(d)) out.push(d);
      continue;
    }
    const c = consent.get(d);
    if (c === undefined) out.push(d);
    else if (c.last !== null) {
      const [m] = await core.metas(doc, [c.last]);
      if (m === undefined || m.author !== d || m.ctr !== c.ctr) out.push(d);
    } else if (c.ctr !== 0) out.push(d);
  }
  return out.sort();
}

async function plan(
  core: Core,
  doc: DocId,
  frontier: readonly OpId[],
  consent: ReadonlyMap<DeviceId, PruneConsent>,
): Promise<Plan> {
  core.mustDoc(doc);
  if (core.device !== undefined)
    return not('a replica that reads bodies prunes by recomputing the snapshot (SNAP-12)');
  const front = [...new Set(frontier)].sort();
  if (front.length === 0) throw new EngineError('InvalidArgument', 'an empty frontier');
  if ((await core.metas(doc, front)).some((m) => m === undefined))
    return not('an op of the frontier is not held here');
  const base = core.bases.get(doc);
  if (base !== undefined && front.every((f) => base.frontier.has(f)) && front.length === base.frontier.size)
    return not('the calendar is already pruned to this frontier');
  // An op waiting for a predecessor may wait for one F covers: it would never apply after.
  const waiting = core.gate.count(doc);
  if (waiting > 0) return not(`${waiting} ops wait for their predecessors here`);
  const { log, covered, holds } = await scanLog(core, doc, front);
  if (base !== undefined && [...base.frontier].some((f) => !covered.has(f)))
    return not('the frontier does not hold the frontier this calendar was pruned to');
  const tail = log.filter((r) => !covered.has(r.id));
  const concurrent = tail.filter((r) => !holds(r.id)).length;
  if (concurrent > 0)
    return not(`${concurrent} ops held here were made without the whole frontier: a later snapshot prunes`);
  const st = core.mustDoc(doc);
  const mops = [...st.membership.all()].map((m) => m.id).filter((id) => covered.has(id));
  const { ids, vv } = await anchorIds(core, doc, front, mops);
  const anchors = new Set([...ids].filter((id) => covered.has(id)));
  const firstTail = tail[0]?.seq ?? Number.POSITIVE_INFINITY;
  if (log.some((r) => anchors.has(r.id) && r.seq > firstTail))
    return not('an anchor was applied after an op that holds the frontier');
  const doomed = log.filter((r) => covered.has(r.id) && !anchors.has(r.id)).map((r) => r.id);
  const waitingFor = await unconsented(core, doc, front, vv, covered, consent);
  return {
    status: { ready: waitingFor.length === 0, waitingFor, blocked: null, prunable: doomed.length },
    frontier: front,
    anchors: log.filter((r) => anchors.has(r.id)).map((r) => r.id),
    doomed,
    vv,
  };
}

/** SNAP-17: what holds pruning `doc` to `frontier` back on this verify-only replica (changes nothing). */
export async function pruneUnreadStatus(
  core: Core,
  doc: DocId,
  frontier: readonly OpId[],
  consent: ReadonlyMap<DeviceId, PruneConsent>,
): Promise<PruneStatus> {
  return (await plan(core, doc, frontier, consent)).status;
}

/**
 * SNAP-17: prunes `doc` to `frontier` in one store commit: the ops it covers are deleted except
 * the anchors, and the doc record's mark makes the calendar one started from it (SNAP-7 from
 * then on, across restarts; a verify-only replica stores no registers, so no base record).
 * Refused (`InvalidArgument`, nothing changed) unless `pruneUnreadStatus` says ready. Returns how
 * many ops it deleted.
 */
export async function pruneUnread(
  core: Core,
  doc: DocId,
  frontier: readonly OpId[],
  consent: ReadonlyMap<DeviceId, PruneConsent>,
): Promise<number> {
  const p = await plan(core, doc, frontier, consent);
  if (!p.status.ready)
    throw new EngineError(
      'InvalidArgument',
      `cannot prune to this frontier: ${p.status.blocked ?? `waiting for ${p.status.waitingFor.join(', ')}`} (SNAP-17)`,
    );
  const st = core.mustDoc(doc);
  const txn = new Txn(doc, st);
  txn.rec = {
    ...st.rec,
    snapshot: { frontier: p.frontier, anchors: p.anchors.length, vv: p.vv, base: 0 },
  };
  txn.snapshot = { prune: p.doomed, base: [], baseReset: true };
  const err = await commit(core, txn);
  if (err !== undefined) throw err;
  const gone = new Set(p.doomed);
  core.forget(doc, (id) => gone.has(id));
  core.bases.set(doc, {
    frontier: new Set(p.frontier),
    anchors: new Set(p.anchors),
    vv: p.vv,
    entities: new Map(),
    stored: new Set(),
  });
  return p.doomed.length;
}
