// Checks of the pruning property tests (prune-hostile-property.test.ts, docs/PROTOCOL.md SNAP-12,
// SNAP-20): what a pruned replica may lack of a twin that kept every op, and the replica that
// holds exactly what it holds; the steps a hostile member and honest ones take after pruning.

import fc from 'fast-check';
import { expect } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { EV, lastOp, patchOp, syncAll, team } from './hostile.testkit.ts';
import type { DeviceId, DocId, OpId } from './ids.ts';
import type { Replica } from './replica.ts';
import { visibleState } from './snapshot.testkit.ts';
import { HOSTILE, OBSERVER } from './snapshot-world.testkit.ts';
import { openReplica, type TestDevice } from './testkit.testkit.ts';

/**
 * SNAP-20's scene: a (owner), h (hostile), c; h writes, a writes; a seals S1 and h endorses it at
 * (1, h1) but keeps the endorsement (`withheld`); `fork` is h's op below it (ctr 1, old parents,
 * a late clock: its title wins), made but not sent to anyone yet.
 */
export async function withheldFork(prefix: string) {
  const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];
  const t = await team([`${prefix}-a`, `${prefix}-h`, `${prefix}-c`]);
  const [a, h, c] = t.reps as [Replica, Replica, Replica];
  await h.write(t.doc, EV, title('h1'));
  await syncAll(t.reps, t.doc);
  const h1 = await lastOp(h, t.doc);
  await a.write(t.doc, EV, title('a2'));
  await syncAll(t.reps, t.doc);
  const s1 = await a.sealSnapshot(t.doc);
  const withheld = await h.endorseSnapshot(s1.manifest, s1.chunks);
  const late = (await lastOp(a, t.doc)).wallTime + 1_000_000;
  const fork = patchOp(
    { by: t.devs[1]!, doc: t.doc, ctr: 1, prev: null, parents: h1.parents, wallTime: late },
    t.key,
    'evil fork',
  );
  return { ...t, a, h, c, withheld, fork };
}

/** Ids of every op in the causal past of `ids` (themselves included) among `ops`. */
export function pastOf(
  ops: Map<OpId, { parents: OpId[]; prev: OpId | null }>,
  ids: Iterable<OpId>,
): Set<OpId> {
  const seen = new Set<OpId>();
  const stack = [...ids];
  while (stack.length > 0) {
    const id = stack.pop()!;
    const o = ops.get(id);
    if (seen.has(id) || o === undefined) continue;
    seen.add(id);
    stack.push(...o.parents, ...(o.prev === null ? [] : [o.prev]));
  }
  return seen;
}

/**
 * SNAP-12, SNAP-20: what a pruned replica may lack of the twin's ops: the ops its base covers,
 * hostile ops that name an op it deleted (waiting for ever) or whose causal past lacks part of
 * its base's frontier (refused, SNAP-7), and every op with such an op in its causal past. Returns how many ops it lacks beyond its base.
 */
export async function lacksOnlyWhatItMay(
  doc: DocId,
  rep: Replica,
  base: readonly OpId[],
  twin: Replica,
  hostileKey: DeviceId,
): Promise<number> {
  const all = new Map((await twin.listOps(doc, 0, 1_000_000)).map((o) => [o.id, o]));
  const held = new Set((await rep.listOps(doc, 0, 1_000_000)).map((o) => o.id));
  for (const id of held) expect(all.has(id)).toBe(true);
  // What the base covers: the past of the held ops the twin knows, minus the held ops.
  const heldIds = [...held];
  const covered = pastOf(all, heldIds);
  const lacking = [...all.keys()].filter((id) => !held.has(id) && !covered.has(id));
  // A lacking op must be poison: hostile and naming a deleted op (one in the covered set that
  // is not held), or have a lacking op as a predecessor.
  const deleted = (id: OpId) => covered.has(id) && !held.has(id);
  const poison = new Set<OpId>();
  const lack = new Set(lacking);
  let grew = true;
  while (grew) {
    grew = false;
    for (const id of lacking) {
      if (poison.has(id)) continue;
      const o = all.get(id)!;
      const preds = [...o.parents, ...(o.prev === null ? [] : [o.prev])];
      // SNAP-7: made without the whole frontier (refused), or naming a deleted op (waits for ever).
      const mine =
        o.author === hostileKey && (preds.some(deleted) || !base.every((f) => pastOf(all, [id]).has(f)));
      if (mine || preds.some((p) => poison.has(p) && lack.has(p))) {
        poison.add(id);
        grew = true;
      }
    }
  }
  expect(lacking.filter((id) => !poison.has(id)).map((id) => ({ id, author: all.get(id)!.author }))).toEqual(
    [],
  );
  return lacking.length;
}

/** A replica of `device` given only the twin's ops that `rep` holds or covers, and `endorsements`. */
export async function withoutLacking(
  doc: DocId,
  rep: Replica,
  twin: Replica,
  device: TestDevice,
  endorsements: readonly Uint8Array[],
) {
  const all = await twin.listOps(doc, 0, 1_000_000);
  const byId = new Map(all.map((o) => [o.id, o]));
  const keep = pastOf(
    byId,
    (await rep.listOps(doc, 0, 1_000_000)).map((o) => o.id),
  );
  const part = await openReplica(device);
  for (let round = 0; round < 3; round++)
    for (const o of all) if (keep.has(o.id)) await part.receive(o.bytes);
  for (const e of endorsements) await part.receiveEndorsement(e).catch(() => undefined);
  return visibleState(part, doc);
}

/** The steps after some replicas pruned. */
export type Step =
  | { t: 'write'; who: number; entity: number; field: number; value: number; jump: number }
  | { t: 'deliver'; to: number; pick: number; batch: boolean }
  | { t: 'fork' }
  | { t: 'old' }
  | { t: 'extra'; pick: number }
  | { t: 'remove' }
  | { t: 'release'; to: number }
  | { t: 'forged'; who: number }
  | { t: 'stale'; who: number }
  | { t: 'snap'; who: number }
  | { t: 'prune'; who: number }
  | { t: 'restart'; who: number }
  | { t: 'certify' };

const honest = fc.constantFrom(0, 1, 2, OBSERVER);
const pruner = fc.constantFrom(0, 1, 2);
export const afterArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      who: honest,
      entity: fc.nat(1),
      field: fc.nat(1),
      value: fc.nat(5),
      jump: fc.integer({ min: -3_000_000, max: 3_000_000 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('deliver' as const),
      to: fc.constantFrom(0, 1, 2, OBSERVER, HOSTILE),
      pick: fc.nat(),
      batch: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'fork' as const }) },
  { weight: 1, arbitrary: fc.constant({ t: 'old' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('extra' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ t: 'remove' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('release' as const), to: honest }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('forged' as const), who: pruner }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stale' as const), who: pruner }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('snap' as const), who: honest }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('prune' as const), who: pruner }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), who: honest }) },
  { weight: 1, arbitrary: fc.constant({ t: 'certify' as const }) },
);
