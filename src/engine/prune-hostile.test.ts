// A hostile member after pruning (docs/PROTOCOL.md SNAP-10, SNAP-12, SNAP-20): a member that
// endorsed a snapshot, forked its chain below the endorsed position and kept the endorsement to
// itself, then releases it once honest replicas pruned to a later snapshot covering the fork.
// Checked against a twin of the pruned device that kept every op.

import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { EV, lastOp, patchOp, pubOf, syncAll, syncOps, team, titleOf } from './hostile.testkit.ts';
import type { EntityId } from './ids.ts';
import { openOp } from './op.ts';
import { withheldFork } from './prune-hostile.testkit.ts';
import type { Replica } from './replica.ts';
import { membershipOps, visibleState } from './snapshot.testkit.ts';
import { openReplica } from './testkit.testkit.ts';

const E2 = '33'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

/** Everything a user sees (heads and root aside). */
const shown = (r: Replica, doc: Parameters<Replica['heads']>[0]) => {
  const { heads: _h, root: _r, ...rest } = visibleState(r, doc);
  return rest;
};

/**
 * a (owner), h (hostile), c; h writes, a writes, a seals S1 and h endorses it at (1, h1) but
 * keeps the endorsement; h forks below it (ctr 1, old parents, a late clock: its title wins).
 * The fork reaches every replica; `full` is a twin of a that never prunes.
 */
async function forkedBelow(prefix: string) {
  const { fork, withheld, ...t } = await withheldFork(prefix);
  const { a, h, c } = t;
  const full = await openReplica(t.devs[0]!);
  await syncOps(a, full, t.doc);
  for (const r of [a, h, c, full]) expect((await r.receive(fork)).status).toBe('applied');
  expect(titleOf(a, t.doc)).toBe('evil fork');
  return { ...t, a, h, c, full, withheld };
}

/** Every member certifies the replicas' current frontier by writing after it. */
async function certifyAll(t: { doc: Parameters<Replica['heads']>[0]; a: Replica; h: Replica; c: Replica }) {
  await syncAll([t.a, t.h, t.c], t.doc);
  await t.c.write(t.doc, E2, title('c certifies'));
  await t.h.write(t.doc, E2, title('h certifies'));
  await syncAll([t.a, t.h, t.c], t.doc);
}

/**
 * SNAP-20: `a` (pruned) still counts the fork's write where `full` revoked it; everything else is
 * the same; re-based on a snapshot of `c` (every op and the endorsement), `a` is `full`.
 */
async function differsOnlyByTheFork(t: Awaited<ReturnType<typeof forkedBelow>>): Promise<void> {
  expect(titleOf(t.full, t.doc)).toBe('a2');
  expect(titleOf(t.c, t.doc)).toBe('a2');
  expect(titleOf(t.a, t.doc)).toBe('evil fork');
  const others = (v: ReturnType<typeof shown>) => ({
    ...v,
    entities: v.entities.filter((e) => (e.event as { id: string }).id !== EV),
  });
  expect(others(shown(t.a, t.doc))).toEqual(others(shown(t.full, t.doc)));
  const regs = (r: Replica) => r.entity(t.doc, EV)!.registers;
  expect(regs(t.a).filter((g) => g.field !== EventField.Title)).toEqual(
    regs(t.full).filter((g) => g.field !== EventField.Title),
  );
  const titles = (r: Replica) =>
    regs(r)
      .find((g) => g.field === EventField.Title)!
      .writes.map((w) => w.op);
  const forkOp = titles(t.a)[0]!;
  expect(titles(t.a).filter((op) => op !== forkOp)).toEqual(titles(t.full));
  // Re-basing on a snapshot made by a replica holding every op and the endorsement ends it.
  await t.c.write(t.doc, E2, title('c later'));
  await syncAll([t.a, t.c], t.doc);
  await syncOps(t.c, t.full, t.doc);
  await t.a.rebase(t.doc, await t.c.snapshot(t.doc));
  expect(visibleState(t.a, t.doc)).toEqual(visibleState(t.full, t.doc));
}

describe('a hostile member after pruning', () => {
  it('[SNAP-20] an endorsement released after a replica pruned the fork it revokes, naming ops kept as anchors: the base keeps the fork’s write, the one difference, until a re-base', async () => {
    const t = await forkedBelow('ph');
    const plain = await t.a.snapshot(t.doc);
    await certifyAll(t);
    expect(await t.a.prune(t.doc, plain)).toBeGreaterThan(0);
    for (const r of [t.a, t.h, t.c]) await syncOps(r, t.full, t.doc);
    expect(visibleState(t.a, t.doc)).toEqual(visibleState(t.full, t.doc));
    // h releases its endorsement. Its position (h1, a sibling of the fork: both anchors) and the
    // frontier it names (a2, a's last op: an anchor) are still held on a, so it is in force there.
    for (const r of [t.a, t.c, t.full]) expect(await r.receiveEndorsement(t.withheld)).toBe('certified');
    // A later removal makes a rebuild the event from its base: the fork's write is still there.
    await t.c.write(t.doc, EV, title('c, concurrently with its removal'));
    await t.a.removeMember(t.doc, pubOf(t.devs[2]!));
    await syncAll([t.a, t.c], t.doc);
    for (const r of [t.a, t.c]) await syncOps(r, t.full, t.doc);
    expect(titleOf(t.full, t.doc)).toBe('a2');
    expect(titleOf(t.a, t.doc)).toBe('evil fork');
    await t.a.rebase(t.doc, await t.full.snapshot(t.doc));
    expect(visibleState(t.a, t.doc)).toEqual(visibleState(t.full, t.doc));
  });

  it('[SNAP-20] an endorsement released after a replica pruned the ops it names: full replicas revoke the fork, the pruned one cannot judge it and differs only on that write until it re-bases', async () => {
    const t = await forkedBelow('pn');
    // a writes on after the endorsed frontier, so a2 is no anchor of the next snapshot.
    await t.a.write(t.doc, E2, title('a3'));
    const plain = await t.a.snapshot(t.doc);
    await certifyAll(t);
    expect(await t.a.prune(t.doc, plain)).toBeGreaterThan(0);
    for (const r of [t.a, t.h, t.c]) await syncOps(r, t.full, t.doc);
    expect(visibleState(t.a, t.doc)).toEqual(visibleState(t.full, t.doc));
    for (const r of [t.c, t.full]) expect(await r.receiveEndorsement(t.withheld)).toBe('certified');
    expect(await t.a.receiveEndorsement(t.withheld)).toBe('pending');
    await differsOnlyByTheFork(t);
  });

  it('[SNAP-20] the same with the named ops kept as anchors: in force, but the base keeps the write', async () => {
    const t = await forkedBelow('pk');
    const plain = await t.a.snapshot(t.doc);
    await certifyAll(t);
    expect(await t.a.prune(t.doc, plain)).toBeGreaterThan(0);
    for (const r of [t.a, t.h, t.c]) await syncOps(r, t.full, t.doc);
    for (const r of [t.a, t.c, t.full]) expect(await r.receiveEndorsement(t.withheld)).toBe('certified');
    await differsOnlyByTheFork(t);
  });

  it('[SNAP-12][SNAP-10] a replica holding an endorsement in force never prunes to a snapshot that does not list it (its stored base would bring the revoked write back)', async () => {
    const t = await forkedBelow('pl');
    // a (the pruner) and the twin hold the endorsement; c, which makes the snapshot offered, does not.
    for (const r of [t.a, t.full]) await r.receiveEndorsement(t.withheld);
    expect(titleOf(t.a, t.doc)).toBe('a2');
    const offered = await t.c.snapshot(t.doc);
    await certifyAll(t);
    const st = await t.a.pruneStatus(t.doc, offered);
    expect(st.ready).toBe(false);
    expect(st.blocked).toContain('SNAP-5');
    await expect(t.a.prune(t.doc, offered)).rejects.toMatchObject({ code: 'InvalidArgument' });
    // Its own snapshot at that frontier lists the endorsement: that one prunes.
    const mine = await t.a.snapshot(t.doc, {
      frontier: (await import('./snapshot-codec.ts')).decodeSnapshot(offered).frontier,
    });
    expect(await t.a.prune(t.doc, mine)).toBeGreaterThan(0);
    // A tail write by c on the event, then c's removal made concurrently: a rebuilds the event from its base.
    await t.c.write(t.doc, EV, title('c, concurrently with its removal'));
    await t.a.removeMember(t.doc, pubOf(t.devs[2]!));
    await syncAll([t.a, t.c], t.doc);
    for (const r of [t.a, t.h, t.c]) await syncOps(r, t.full, t.doc);
    expect(titleOf(t.full, t.doc)).toBe('a2');
    expect(titleOf(t.a, t.doc)).toBe('a2');
    expect(visibleState(t.a, t.doc)).toEqual(visibleState(t.full, t.doc));
  });
});

describe('stale snapshots offered for pruning', () => {
  it('[SNAP-12] a replica pruned to a snapshot refuses an older one (it would drop anchors the newer base needs and take covered ops back)', async () => {
    const t = await team(['ps-a', 'ps-b', 'ps-c']);
    const [a, b, c] = t.reps as [Replica, Replica, Replica];
    const full = await openReplica(t.devs[0]!);
    await syncOps(a, full, t.doc);
    const certify = async (n: string) => {
      await b.write(t.doc, E2, title(`b ${n}`));
      await c.write(t.doc, EV, title(`c ${n}`));
      await syncAll([a, b, c], t.doc);
    };
    // a's last op ('Start') stays its chain position, so an anchor; the stale snapshot is there.
    // b1 and c1 both name it; b2 names c1 (its prev b1 will be deleted), so every op that stays
    // held after pruning reaches 'Start' through held ops.
    const stale = await a.snapshot(t.doc);
    await b.write(t.doc, E2, title('b1'));
    await c.write(t.doc, EV, title('c1'));
    await syncAll([a, b, c], t.doc);
    await b.write(t.doc, E2, title('b2'));
    await syncAll([a, b, c], t.doc);
    const plain = await a.snapshot(t.doc);
    await certify('3');
    expect(await a.prune(t.doc, plain)).toBeGreaterThan(0);
    const before = visibleState(a, t.doc);
    const held = (await a.listOps(t.doc, 0, 100_000)).length;
    const st = await a.pruneStatus(t.doc, stale);
    expect(st).toMatchObject({ ready: false, prunable: 0 });
    expect(st.blocked).toContain('older');
    await expect(a.prune(t.doc, stale)).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect((await a.listOps(t.doc, 0, 100_000)).length).toBe(held);
    // Every op offered again (the covered ones too) changes nothing; later ops apply as everywhere.
    for (const r of [b, c]) await syncOps(r, a, t.doc);
    expect(visibleState(a, t.doc)).toEqual(before);
    await certify('5');
    for (const r of [a, b, c]) await syncOps(r, full, t.doc);
    expect(visibleState(a, t.doc)).toEqual(visibleState(full, t.doc));
  });
});

describe('a late endorsement on a device that started from a snapshot', () => {
  it('[SNAP-20][SNAP-5] never revokes an anchor there (a walk stops at covered ops), so the device is never taken for a forger', async () => {
    const t = await team(['pf-a', 'pf-h', 'pf-b', 'pf-c']);
    const [a, h, b, c] = t.reps as [Replica, Replica, Replica, Replica];
    await h.write(t.doc, EV, title('h1'));
    await syncAll(t.reps, t.doc);
    const h1 = await lastOp(h, t.doc);
    // h forks at ctr 1 (a sibling of h1); b's next op names the fork, a's names b's: the fork is
    // in the past of a's op only through b's op, which the later snapshot covers and drops.
    const late = (await lastOp(a, t.doc)).wallTime + 1000;
    const fork = patchOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, prev: null, parents: h1.parents, wallTime: late },
      t.key,
      'fork',
      E2,
    );
    for (const r of t.reps) await r.receive(fork);
    await b.write(t.doc, E2, title('b1'));
    await syncOps(b, a, t.doc);
    await a.write(t.doc, EV, title('a2'));
    await syncAll(t.reps, t.doc);
    // h endorses a snapshot whose frontier (a2) holds its fork: the endorsement revokes nothing.
    const s1 = await a.sealSnapshot(t.doc);
    await syncAll(t.reps, t.doc);
    const withheld = await h.endorseSnapshot(s1.manifest, s1.chunks);
    await b.write(t.doc, E2, title('b2'));
    await syncAll(t.reps, t.doc);
    const s2 = await a.sealSnapshot(t.doc);
    await syncAll(t.reps, t.doc);
    const fresh = await openReplica(t.devs[3]!);
    await fresh.startFromSealed(
      s2.manifest,
      s2.chunks,
      [await c.endorseSnapshot(s2.manifest, s2.chunks)],
      await membershipOps(a, t.doc),
    );
    // The endorsement arrives late, on the fresh device and on c, which holds every op.
    for (const r of [fresh, c]) expect(await r.receiveEndorsement(withheld)).toBe('certified');
    const forkId = openOp(fork).id;
    expect((await c.getOps(t.doc, [forkId]))[0]!.body).toBe('applied');
    expect((await fresh.getOps(t.doc, [forkId]))[0]!.body).toBe('applied');
    expect(visibleState(fresh, t.doc)).toEqual(visibleState(c, t.doc));
    // The fresh device's own snapshot is what c recomputes: c endorses it and accuses nobody.
    const s3 = await fresh.sealSnapshot(t.doc);
    await c.endorseSnapshot(s3.manifest, s3.chunks);
    expect(c.snapshotEvidence(t.doc)).toEqual([]);
  });
});
