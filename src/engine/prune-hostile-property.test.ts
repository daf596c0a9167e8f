// Property test for a hostile member AFTER some replicas pruned (docs/PROTOCOL.md SNAP-10,
// SNAP-12, SNAP-20) over the Byzantine world (byzantine-world.testkit.ts): 5 devices, one
// hostile. A random history that everyone then receives; an honest member seals a snapshot at
// its heads, another honest member endorses it, the hostile member certifies it (by a write, or
// by an endorsement it publishes or keeps to itself; keeping it, in a quarter of the cases it also
// writes after its position from old parents, on an event of its own, and the replicas prune to
// a later snapshot that covers that write: SNAP-20 as it happens); every member certifies; replicas 0..2 prune
// at random (at least one), replica 3 never does. Then, with honest writes, partial deliveries,
// restarts, a second snapshot pruned to on some replicas, the hostile member: forks its chain from
// below its certification, writes from its old parents, names a pruned op as an extra parent,
// keeps writing after a removal made concurrently, releases its withheld endorsement late, and
// offers pruners a forged snapshot and a stale one; a new install joins from the sealed snapshot
// (maker plus honest endorser) and gets ops partially while this goes on. At the end, with every op and every
// endorsement delivered:
// - the replica that never pruned shows exactly what a twin that kept every op shows;
// - a pruned replica (and the one that joined from the snapshot) holds no op the twin lacks; every op the twin holds that it lacks (beyond
//   what its base covers) is one SNAP-12 and SNAP-20 let it lack: a hostile op naming a pruned
//   op, or an op with such an op in its causal past; when there is none and no endorsement was
//   released late, it shows exactly what the twin shows (heads and root included);
// - a pruned replica that differs from a replica given exactly the ops it holds (a late
//   endorsement acting on an op it pruned, SNAP-20) flags it (SNAP-22: `lateEndorsements`);
// - re-synced (SNAP-18, SNAP-23: `rebaseFrom` a refill started from a snapshot made by the
//   replica that never pruned, given every endorsement it holds), every pruned replica shows
//   exactly what the twin shows, flags nothing, and again after a restart.
// Default: a CI-sized run; PRUNE_HOSTILE_RUNS=200 for a long one.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import type { ChainPoint } from './byzantine-hostile.testkit.ts';
import {
  createWorld,
  deliver,
  ENTITIES,
  FIELDS,
  local,
  type Node,
  publish,
  reopen,
  settle,
  type World,
} from './byzantine-world.testkit.ts';
import { createNobleCrypto } from './crypto.ts';
import { refused } from './hostile.testkit.ts';
import type { EntityId, OpId } from './ids.ts';
import { afterArb, lacksOnlyWhatItMay, type Step, withoutLacking } from './prune-hostile.testkit.ts';
import type { Replica } from './replica.ts';
import { membershipOps, visibleState } from './snapshot.testkit.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';
import { openManifest } from './snapshot-envelope.ts';
import { type Step as HistoryStep, HOSTILE, OBSERVER, run, stepArb } from './snapshot-world.testkit.ts';
import { openReplica } from './testkit.testkit.ts';

const crypto = createNobleCrypto();
/** The event a hostile write after its endorsed position goes to (SNAP-20 as it happens). */
const FORK_ENTITY = 'f0'.repeat(16) as EntityId;
const RUNS = Number(process.env['PRUNE_HOSTILE_RUNS'] ?? 8);
const stats = {
  cases: 0,
  pruned: 0,
  poisoned: 0,
  exact: 0,
  rebased: 0,
  late: 0,
  forgedRefused: 0,
  staleRefused: 0,
  second: 0,
  joined: 0,
  joinedRebased: 0,
  flagged: 0,
  mended: 0,
  covering: 0,
};

/**
 * SNAP-22, SNAP-23: a copy that differs from `given` (a replica of exactly the ops it holds)
 * flags a late endorsement; re-synced from a refill that starts from `source`'s snapshot (a
 * replica with every op), it is `full` and flags nothing.
 */
async function mend(
  doc: World['doc'],
  rep: Replica,
  given: ReturnType<typeof visibleState>,
  source: Replica,
  full: ReturnType<typeof visibleState>,
): Promise<void> {
  const shown = visibleState(rep, doc);
  const differs = JSON.stringify(shown) !== JSON.stringify(given);
  if (differs) {
    expect(rep.lateEndorsements(doc)).toBeGreaterThan(0);
    stats.flagged++;
  }
  const scratch = rep.scratch();
  await scratch.startFromSnapshot(await source.snapshot(doc));
  await rep.rebaseFrom(doc, scratch);
  expect(rep.lateEndorsements(doc)).toBe(0);
  expect(visibleState(rep, doc)).toEqual(full);
  if (differs) stats.mended++;
}

interface Run {
  w: World;
  /** The hostile member's point just before it certified the frontier (a fork goes below it). */
  below: ChainPoint;
  /** Ops the first pruning deleted (a hostile names one as an extra parent). */
  prunedIds: OpId[];
  /** Its endorsement of the snapshot, while it keeps it to itself. */
  withheld: Uint8Array | undefined;
  /** Every endorsement made, released or not (all reach every replica at the end). */
  endorsements: Uint8Array[];
  /** Snapshot plaintexts taken so far, oldest first. */
  snaps: Uint8Array[];
  /** Replicas that pruned at least once. */
  prunedOn: Set<number>;
  /** The frontier each pruned replica last pruned to. */
  bases: Map<number, readonly OpId[]>;
  late: boolean;
}

const node = (r: Run, i: number): Node => r.w.nodes[i]!;

/** The hostile member publishes a patch at `at` (its crafted ops reach the pool). */
async function hostilePatch(r: Run, at: ChainPoint | undefined, label: string): Promise<void> {
  const evil = node(r, HOSTILE).evil!;
  const c = evil.patch(ENTITIES[0]!, [{ field: FIELDS[0]!, value: utf8(label) }], at);
  if (c !== undefined) await publish(r.w, node(r, HOSTILE), [c], false);
}

/** Prunes node `who` to its own snapshot at `frontier` when ready: nothing shown changes. */
async function pruneTo(r: Run, who: number, frontier: readonly OpId[]): Promise<number> {
  const rep = node(r, who).replica;
  let plain: Uint8Array;
  try {
    plain = await rep.snapshot(r.w.doc, { frontier });
  } catch (e) {
    // A frontier this replica does not hold (any more), or a body it cannot read.
    expect(['NoKey', 'InvalidArgument', 'Unsupported', 'NotMember']).toContain((e as { code?: string }).code);
    return 0;
  }
  const st = await rep.pruneStatus(r.w.doc, plain);
  if (!st.ready || st.prunable === 0) return 0;
  const before = visibleState(rep, r.w.doc);
  const n = await rep.prune(r.w.doc, plain);
  expect(visibleState(rep, r.w.doc)).toEqual(before);
  r.prunedOn.add(who);
  r.bases.set(who, frontier);
  stats.pruned++;
  return n;
}

/** A snapshot offered for pruning that must not prune: refused, and nothing shown changes. */
async function offerRefused(r: Run, who: number, plain: Uint8Array): Promise<boolean> {
  const rep = node(r, who).replica;
  const before = visibleState(rep, r.w.doc);
  const st = await rep.pruneStatus(r.w.doc, plain).catch(() => undefined);
  if (st?.ready === true) return false;
  expect(await refused(rep.prune(r.w.doc, plain))).not.toBe('ok');
  expect(visibleState(rep, r.w.doc)).toEqual(before);
  return true;
}

async function step(r: Run, s: Step): Promise<void> {
  const { w } = r;
  const doc = w.doc;
  const evil = node(r, HOSTILE).evil!;
  if (s.t === 'write') {
    const n = node(r, s.who);
    n.clock.advance(s.jump);
    const entity = ENTITIES[s.entity]!;
    const writes = [{ field: FIELDS[s.field]!, value: utf8(`h${s.who}-${s.value}`) }];
    await local(w, n, 'write', (x) => x.write(doc, entity, writes), { entity, writes });
  } else if (s.t === 'deliver') {
    const open = w.pool.filter((p) => !p.withheld);
    const n = 1 + (s.pick % Math.max(1, open.length));
    const from = Math.floor(s.pick / 7) % Math.max(1, open.length);
    await deliver(w, node(r, s.to), [...open.slice(from), ...open.slice(0, from)].slice(0, n), s.batch);
  } else if (s.t === 'fork') {
    await hostilePatch(r, r.below, 'fork below its certification');
  } else if (s.t === 'old') {
    await hostilePatch(r, evil.early, 'from its old parents');
  } else if (s.t === 'extra') {
    const tip = evil.tip();
    const ghost = r.prunedIds[s.pick % Math.max(1, r.prunedIds.length)];
    if (ghost !== undefined && ghost !== tip.prev)
      await hostilePatch(
        r,
        { ...tip, parents: [...new Set([...tip.parents, ghost])].sort() },
        'extra parent',
      );
  } else if (s.t === 'remove') {
    // The owner removes the hostile member; until it is delivered there, it writes on, naming
    // old (pruned) parents too.
    const pub = Uint8Array.from(
      node(r, HOSTILE)
        .replica.deviceId!.match(/../g)!
        .map((x) => Number.parseInt(x, 16)),
    );
    await local(w, node(r, 0), 'remove', (x) => x.removeMember(doc, pub));
    await hostilePatch(r, evil.tip(), 'concurrently with its removal');
    await hostilePatch(r, evil.early, 'old parents, concurrently with its removal');
  } else if (s.t === 'release') {
    if (r.withheld === undefined) return;
    r.late = true;
    stats.late++;
    r.withheld = undefined;
    await spread(r, node(r, s.to));
  } else if (s.t === 'forged') {
    const state = decodeSnapshot(r.snaps.at(-1)!);
    const reg = state.entities.flatMap((e) => e.registers).find((g) => g.writes[0]?.value != null);
    if (reg === undefined) return;
    reg.writes[0]!.value = utf8('forged by the hostile member');
    expect(await offerRefused(r, s.who, encodeSnapshot(state))).toBe(true);
    stats.forgedRefused++;
  } else if (s.t === 'stale') {
    // The oldest snapshot (taken before the one pruned to): refused where the replica moved past
    // it; where it is still ready (SNAP-5: a stale snapshot is harmless) pruning to it shows the same.
    const rep = node(r, s.who).replica;
    const st = await rep.pruneStatus(doc, r.snaps[0]!).catch(() => undefined);
    if (st?.ready !== true) {
      expect(await offerRefused(r, s.who, r.snaps[0]!)).toBe(true);
      stats.staleRefused++;
    } else if (st.prunable > 0) {
      const before = visibleState(rep, doc);
      await rep.prune(doc, r.snaps[0]!);
      expect(visibleState(rep, doc)).toEqual(before);
      r.prunedOn.add(s.who);
      r.bases.set(s.who, decodeSnapshot(r.snaps[0]!).frontier);
    }
  } else if (s.t === 'snap') {
    try {
      r.snaps.push(await node(r, s.who).replica.snapshot(doc));
    } catch (e) {
      expect(['NoKey', 'UnknownDoc', 'NotMember']).toContain((e as { code?: string }).code);
    }
  } else if (s.t === 'prune') {
    const last = r.snaps.at(-1)!;
    if ((await pruneTo(r, s.who, decodeSnapshot(last).frontier)) > 0 && r.snaps.length > 1) stats.second++;
  } else if (s.t === 'certify') {
    // Every device catches up and writes (the hostile one at its tip): a later frontier certified.
    for (let round = 0; round < 2; round++)
      for (const i of [0, 1, 2, OBSERVER, HOSTILE]) await deliver(w, node(r, i), w.pool, round === 0);
    for (const i of [0, 1, 2, OBSERVER])
      await step(r, { t: 'write', who: i, entity: 1, field: 0, value: i, jump: 1 });
    await deliver(w, node(r, HOSTILE), w.pool, true);
    await hostilePatch(r, evil.tip(), 'certifies again');
    for (const i of [0, 1, 2, OBSERVER]) await deliver(w, node(r, i), w.pool, true);
  } else {
    await reopen(node(r, s.who));
  }
}

/** The released endorsements to `n` (the withheld one stays with the hostile member). */
async function spread(r: Run, n: Node): Promise<void> {
  for (const e of r.endorsements) {
    if (e === r.withheld) continue;
    const code = await refused(n.replica.receiveEndorsement(e));
    expect(['ok', 'NotMember', 'PendingFull']).toContain(code);
  }
}

async function property(seed: number, history: HistoryStep[], after: Step[]): Promise<void> {
  const w = await createWorld({ n: 5, hostile: 1, joiner: false, seed, faults: false });
  const doc = w.doc;
  const half = Math.floor(history.length / 2);
  for (const s of history.slice(0, half)) await run(w, s);
  // A snapshot from the middle of the history: stale by the time replicas prune.
  const early = await w.nodes[OBSERVER]!.replica.snapshot(doc).catch(() => undefined);
  for (const s of history.slice(half)) await run(w, s);
  await settle(w, [seed % 5, 2, 1]);
  const hostile = node({ w } as Run, HOSTILE);
  await deliver(w, hostile, w.pool, true);
  const r: Run = {
    w,
    below: hostile.evil!.tip(),
    prunedIds: [],
    withheld: undefined,
    endorsements: [],
    snaps: [],
    prunedOn: new Set(),
    bases: new Map(),
    late: false,
  };
  // An honest member seals at its heads; another honest member endorses it.
  const maker = w.nodes[seed % 3]!;
  let sealed: Awaited<ReturnType<Replica['sealSnapshot']>>;
  try {
    sealed = await maker.replica.sealSnapshot(doc);
  } catch (e) {
    expect(['NoKey', 'NotMember', 'NotPermitted']).toContain((e as { code?: string }).code);
    return;
  }
  await settle(w, [seed % 3, 1]); // a rotation sealing asked for goes out like any own op
  await deliver(w, hostile, w.pool, true);
  const { frontier } = await openManifest(crypto, sealed.manifest);
  if (early !== undefined) r.snaps.push(early);
  r.snaps.push(await maker.replica.snapshot(doc, { frontier }));
  let honestEndorsement: Uint8Array | undefined;
  for (const n of [w.nodes[(seed + 1) % 3]!, hostile]) {
    const e = await n.replica.endorseSnapshot(sealed.manifest, sealed.chunks).catch(() => undefined);
    if (e === undefined) continue;
    r.endorsements.push(e);
    if (n !== hostile) honestEndorsement = e;
    if (n === hostile && seed % 2 === 0) r.withheld = e;
  }
  for (const n of w.nodes) if (n.honest) await spread(r, n);
  // SNAP-20 as it happens: with its endorsement withheld, the hostile member writes after its
  // position from old parents (breaking it), and the replicas prune to a later snapshot that
  // covers that write; the endorsement comes out only at the end.
  const coverFork = seed % 4 === 2 && r.withheld !== undefined && hostile.evil!.early !== undefined;
  if (coverFork) {
    // On an event of its own, so that nothing else decides what it shows.
    const evil = hostile.evil!;
    const at = { ...evil.tip(), parents: evil.early!.parents };
    const c = evil.patch(FORK_ENTITY, [{ field: FIELDS[0]!, value: utf8('after its position') }], at);
    if (c !== undefined) await publish(w, hostile, [c], false);
  }
  // Every member certifies: honest ones and the hostile one write after the frontier.
  for (const i of [0, 1, 2, OBSERVER])
    await step(r, { t: 'write', who: i, entity: 1, field: 1, value: i, jump: 1 });
  await deliver(w, hostile, w.pool, true);
  await hostilePatch(r, hostile.evil!.tip(), 'certifies');
  await settle(w, [seed % 7, 3, 1]);
  let target = frontier;
  if (coverFork) {
    // A snapshot over the fork (and the certifying writes), certified by everyone in turn.
    await settle(w, [seed % 5, 2]);
    const later = await maker.replica.snapshot(doc).catch(() => undefined);
    if (later !== undefined) {
      r.snaps.push(later);
      target = decodeSnapshot(later).frontier;
      await step(r, { t: 'certify' });
      stats.covering++;
    }
  }
  const before = new Set((await w.nodes[OBSERVER]!.replica.listOps(doc, 0, 1_000_000)).map((o) => o.id));
  for (const i of [0, 1, 2]) if (((seed >> i) & 1) === 1 || i === seed % 3) await pruneTo(r, i, target);

  for (const i of r.prunedOn)
    for (const o of await w.nodes[i]!.replica.listOps(doc, 0, 1_000_000)) before.delete(o.id);
  r.prunedIds = [...before].sort();

  /** No replica lists as a head an op another op it holds names (a broken base shows so). */
  const checkHeads = async () => {
    for (const i of [0, 1, 2]) {
      const rep = w.nodes[i]!.replica;
      const ops = await rep.listOps(doc, 0, 1_000_000);
      const named = new Set(ops.flatMap((o) => [...o.parents, ...(o.prev === null ? [] : [o.prev])]));
      expect(rep.heads(doc).filter((h) => named.has(h))).toEqual([]);
    }
  };
  // A new install of the observer's device joins from the sealed snapshot (SNAP-9: the maker and
  // an honest endorser); it never writes (a second install writing would equivocate) and gets
  // ops partially and out of order while the rest goes on, as a pruned replica does.
  let joiner: Replica | undefined;
  if (honestEndorsement !== undefined) {
    const fresh = await openReplica(w.nodes[OBSERVER]!.device);
    const keys = await membershipOps(w.nodes[OBSERVER]!.replica, doc);
    const code = await refused(
      fresh.startFromSealed(sealed.manifest, sealed.chunks, [honestEndorsement], keys),
    );
    if (code === 'ok') {
      joiner = fresh;
      stats.joined++;
    } else expect(['NotPermitted', 'NotMember', 'NoKey', 'InvalidArgument']).toContain(code);
  }
  const feed = async (ops: readonly { bytes: Uint8Array }[]) => {
    if (joiner !== undefined) for (const p of ops) await joiner.receive(p.bytes);
  };
  await checkHeads();
  for (const s of after) {
    await step(r, s);
    await checkHeads();
    await feed(w.pool.slice(-4).reverse());
  }

  // Everything reaches everyone: every op, every endorsement (the withheld one too, late).
  if (r.withheld !== undefined) {
    r.late = true;
    r.withheld = undefined;
  }
  await settle(w, [seed % 5, 1, 3]);
  for (const n of w.nodes) if (n.honest) await spread(r, n);
  await settle(w, [2, seed % 3]);
  await checkHeads();
  expect(w.unexpected.filter((u) => !u.includes('NotPermitted'))).toEqual([]);

  const twin = await openReplica(w.nodes[0]!.device);
  const pool = w.pool.filter((p) => !p.withheld);
  for (let round = 0; round < 4; round++)
    for (const p of round % 2 === 0 ? pool : [...pool].reverse()) await twin.receive(p.bytes);
  for (const e of r.endorsements) await twin.receiveEndorsement(e).catch(() => undefined);
  const full = visibleState(twin, doc);
  // The replica that never pruned is exactly the twin.
  expect(visibleState(w.nodes[OBSERVER]!.replica, doc)).toEqual(full);
  const observer = w.nodes[OBSERVER]!.replica;
  const members = observer.members(doc);
  const hostileKey = hostile.replica.deviceId!;
  if (joiner !== undefined) {
    // The device that joined from the snapshot: as a pruned replica (its base is the snapshot).
    for (let round = 0; round < 4; round++) await feed(round % 2 === 0 ? pool : [...pool].reverse());
    for (const e of r.endorsements) await joiner.receiveEndorsement(e).catch(() => undefined);
    const lacking = await lacksOnlyWhatItMay(doc, joiner, frontier, twin, hostileKey);
    const given = await withoutLacking(doc, joiner, twin, w.nodes[0]!.device, r.endorsements);
    if (!r.late) expect(visibleState(joiner, doc)).toEqual(given);
    if (lacking === 0 && !r.late) expect(visibleState(joiner, doc)).toEqual(full);
    // Re-basing needs its own last op among the snapshot's anchors: an install of the observer's
    // device that lacks some of the observer's ops (written on top of a hostile op it refused)
    // is a second install, which no real device is; only the others re-base here.
    const own = (await observer.listOps(doc, 0, 1_000_000)).filter((o) => o.author === observer.deviceId);
    const mine = new Set((await joiner.listOps(doc, 0, 1_000_000)).map((o) => o.id));
    if (own.every((o) => mine.has(o.id))) {
      await mend(doc, joiner, given, observer, full);
      stats.joinedRebased++;
    }
  }
  for (const i of [0, 1, 2]) {
    const n = w.nodes[i]!;
    // A removed device does not read what is written after its removal: it is compared on nothing.
    if (!members.has(n.replica.deviceId!)) continue;
    if (!r.prunedOn.has(i)) {
      expect(visibleState(n.replica, doc)).toEqual(full);
      continue;
    }
    const lacking = await lacksOnlyWhatItMay(doc, n.replica, r.bases.get(i)!, twin, hostileKey);
    const given = await withoutLacking(doc, n.replica, twin, w.nodes[0]!.device, r.endorsements);
    // Exactly a replica with every op but the ones it lacks (heads and root included).
    if (!r.late) expect(visibleState(n.replica, doc)).toEqual(given);
    if (lacking === 0 && !r.late) {
      expect(visibleState(n.replica, doc)).toEqual(full);
      stats.exact++;
    } else {
      stats.poisoned++;
    }
    // SNAP-13, SNAP-23: re-synced from a refill of the replica that kept every op, it is the twin.
    await mend(doc, n.replica, given, observer, full);
    await reopen(n);
    expect(visibleState(n.replica, doc)).toEqual(full);
    expect(n.replica.lateEndorsements(doc)).toBe(0);
    stats.rebased++;
  }
  stats.cases++;
}

describe('pruning against a hostile member', () => {
  it('[SNAP-12][SNAP-20][SNAP-22][SNAP-23] hostile forks, extra parents naming pruned ops, removals, late endorsements, forged and stale snapshots after some replicas pruned: honest replicas end like a twin that kept every op (pruned ones after re-basing)', async () => {
    const run = () =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 2 ** 31 - 1 }),
          fc.array(stepArb, { minLength: 3, maxLength: 16 }),
          fc.array(afterArb, { minLength: 5, maxLength: 30 }),
          property,
        ),
        {
          numRuns: RUNS,
          ...(process.env['PRUNE_HOSTILE_SEED']
            ? {
                seed: Number(process.env['PRUNE_HOSTILE_SEED']),
                path: process.env['PRUNE_HOSTILE_PATH'] ?? '',
                endOnFailure: true,
              }
            : {}),
        },
      );
    await run();
    // The checks above mean something only where a replica pruned: a CI-sized run of random
    // cases sometimes has none (8 cases and 0 prunes failed npm test once, session 14), so it runs more
    // random cases until one prunes, a bounded number of times (~1.5 prunes a case on average).
    for (let more = 0; more < 6 && stats.pruned === 0 && !process.env['PRUNE_HOSTILE_SEED']; more++)
      await run();
    if (process.env['PRUNE_HOSTILE_DEBUG']) console.log(stats);
    expect(stats.pruned).toBeGreaterThan(0);
  }, 600_000);
});
