// The SNAP-20 mend (docs/PROTOCOL.md SNAP-21..23): snapshots list every endorsement in force that
// their maker judges; a replica with a base counts a late endorsement it cannot judge as a
// divergence (found again after a restart), and re-bases only on a refill that judges it. Checked
// against a replica of the same device that kept every op.

import { describe, expect, it } from 'vitest';
import { compareBytes, toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { MAX_PENDING_CERTS } from './certify.ts';
import { EV, pubOf, refused, syncAll, syncOps, team, titleOf } from './hostile.testkit.ts';
import type { DeviceId, DocId, EntityId, OpId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import { withheldFork } from './prune-hostile.testkit.ts';
import type { Replica } from './replica.ts';
import { membershipOps, visibleState } from './snapshot.testkit.ts';
import { decodeSnapshot, encodeSnapshot, type ListedStatement } from './snapshot-codec.ts';
import { decodeStatement, signEndorsement } from './snapshot-envelope.ts';
import { deviceKeys, openReplica, testDevice } from './testkit.testkit.ts';

const E2 = '33'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];
const idOf = (r: Replica) => r.deviceId as DeviceId;

const asListed = (bytes: Uint8Array): ListedStatement => {
  const { body, sig } = decodeStatement(bytes);
  return { body, sig };
};

/**
 * a (owner), h (hostile), c; `p` is a second replica of a's device over its own store, which
 * prunes. h writes, a writes; a seals S1 and h endorses it at (1, h1) but keeps the endorsement;
 * h forks below it (ctr 1, old parents, a late clock: its title wins). The fork reaches everyone.
 * `namedKept`: the ops the endorsement names stay anchors of the snapshot p prunes to; otherwise
 * a writes on first, so they are deleted.
 */
async function world(prefix: string, namedKept: boolean) {
  const { fork, withheld, ...t } = await withheldFork(prefix);
  const { a, h, c } = t;
  const store = createMemoryStore();
  const p = await openReplica(t.devs[0]!, { store });
  for (const r of t.reps) expect((await r.receive(fork)).status).toBe('applied');
  if (!namedKept) await a.write(t.doc, E2, title('a3'));
  await syncAll(t.reps, t.doc);
  const plain = await a.snapshot(t.doc);
  // Every member certifies that frontier by writing after it.
  await c.write(t.doc, E2, title('c certifies'));
  await h.write(t.doc, E2, title('h certifies'));
  await syncAll(t.reps, t.doc);
  await syncOps(a, p, t.doc);
  return { ...t, a, h, c, p, store, plain, withheld };
}

type World = Awaited<ReturnType<typeof world>>;

/** A refill of `w.doc` for `into` that starts from `maker`'s sealed snapshot, endorsed by `by`. */
async function refill(w: World, into: Replica, maker: Replica, by: Replica): Promise<Replica> {
  const s = await maker.sealSnapshot(w.doc);
  const scratch = into.scratch();
  await scratch.startFromSealed(
    s.manifest,
    s.chunks,
    [await by.endorseSnapshot(s.manifest, s.chunks)],
    [...(await membershipOps(maker, w.doc))],
  );
  return scratch;
}

describe('a late hostile endorsement on a pruned replica (SNAP-20 mended)', () => {
  for (const namedKept of [false, true])
    it(`[SNAP-22][SNAP-23][SNAP-20] released after the prune (named ops ${namedKept ? 'kept as anchors' : 'deleted'}): flagged, kept across a restart, a blind refill refused, then re-based on a refill that lists it, equal to a replica with every op`, async () => {
      const w = await world(namedKept ? 'lk' : 'ld', namedKept);
      expect(await w.p.prune(w.doc, w.plain)).toBeGreaterThan(0);
      expect(w.p.lateEndorsements(w.doc)).toBe(0);
      // c seals a snapshot now, without the endorsement: a refill from it is blind to it.
      const blindSeal = await w.c.sealSnapshot(w.doc);
      const blindBy = await w.a.endorseSnapshot(blindSeal.manifest, blindSeal.chunks);
      // h releases its endorsement: a (every op) and p (pruned).
      expect(await w.a.receiveEndorsement(w.withheld)).toBe('certified');
      expect(await w.p.receiveEndorsement(w.withheld)).toBe(namedKept ? 'certified' : 'pending');
      expect(titleOf(w.a, w.doc)).toBe('a2');
      expect(titleOf(w.p, w.doc)).toBe('evil fork');
      expect(w.p.snapshotRefusals(w.doc)).toBe(0);
      expect(w.p.lateEndorsements(w.doc)).toBe(1);
      // Heads and root agree: only the flag tells.
      expect(w.p.root(w.doc)).toBe(w.a.root(w.doc));
      // A restart between the flag and the re-sync keeps it (found again from the stored endorsements).
      const p2 = await openReplica(w.devs[0]!, { store: w.store });
      expect(p2.lateEndorsements(w.doc)).toBe(1);
      // p's own snapshot does not list what it cannot judge: a (every op) verifies it, nobody accused.
      const own = await p2.snapshot(w.doc);
      expect(decodeSnapshot(own).endorsements ?? []).toEqual([]);
      expect((await w.a.verifySnapshot(w.doc, own, idOf(p2))).status).toBe('valid');
      // A refill from c's earlier snapshot (it lacks the endorsement) cannot judge it either: refused.
      const blind = p2.scratch();
      await blind.startFromSealed(
        blindSeal.manifest,
        blindSeal.chunks,
        [blindBy],
        await membershipOps(w.a, w.doc),
      );
      const before = visibleState(p2, w.doc);
      expect(await refused(p2.rebaseFrom(w.doc, blind))).toBe('Unsupported');
      expect(visibleState(p2, w.doc)).toEqual(before);
      expect(p2.lateEndorsements(w.doc)).toBe(1);
      // c receives it too and seals: its snapshot lists it; p re-bases on a refill from it.
      await w.c.receiveEndorsement(w.withheld);
      const good = await refill(w, p2, w.c, w.a);
      expect(await good.lateEndorsements(w.doc)).toBe(0);
      await p2.rebaseFrom(w.doc, good);
      expect(p2.lateEndorsements(w.doc)).toBe(0);
      expect(titleOf(p2, w.doc)).toBe('a2');
      expect(visibleState(p2, w.doc)).toEqual(visibleState(w.a, w.doc));
      // And it stays so after a restart and further edits on both sides.
      const p3 = await openReplica(w.devs[0]!, { store: w.store });
      expect(p3.lateEndorsements(w.doc)).toBe(0);
      await w.c.write(w.doc, EV, title('c after'));
      await syncOps(w.c, p3, w.doc);
      await syncOps(w.c, w.a, w.doc);
      expect(visibleState(p3, w.doc)).toEqual(visibleState(w.a, w.doc));
      expect(w.a.snapshotEvidence(w.doc)).toEqual([]);
      expect(w.c.snapshotEvidence(w.doc)).toEqual([]);
    });

  it('[SNAP-21][SNAP-22] released before the prune: the snapshot pruned to lists it, nothing is flagged, the pruned replica equals one with every op', async () => {
    const w = await world('lb', false);
    for (const r of [w.a, w.p]) await r.receiveEndorsement(w.withheld);
    expect(titleOf(w.p, w.doc)).toBe('a2');
    const mine = await w.p.snapshot(w.doc, { frontier: decodeSnapshot(w.plain).frontier });
    expect(decodeSnapshot(mine).endorsements).toHaveLength(1);
    expect(await w.p.prune(w.doc, mine)).toBeGreaterThan(0);
    expect(w.p.lateEndorsements(w.doc)).toBe(0);
    // Offered again (the relay forwards it twice): a duplicate, still judged.
    expect(await w.p.receiveEndorsement(w.withheld)).toBe('duplicate');
    expect(w.p.lateEndorsements(w.doc)).toBe(0);
    expect(visibleState(w.p, w.doc)).toEqual(visibleState(w.a, w.doc));
    const again = await openReplica(w.devs[0]!, { store: w.store });
    expect(again.lateEndorsements(w.doc)).toBe(0);
  });
});

describe('an honest endorsement delivered late', () => {
  it('[SNAP-22][SNAP-23][SNAP-21] flags a device started from a snapshot that does not list it; it re-bases on a later one that does, and nobody is accused', async () => {
    const t = await team(['lh-a', 'lh-b', 'lh-c', 'lh-d']);
    const [a, b, c] = t.reps as [Replica, Replica, Replica, Replica];
    await b.write(t.doc, EV, title('b1'));
    await syncAll(t.reps, t.doc);
    const s1 = await a.sealSnapshot(t.doc);
    // b endorses S1 at its position (b1); the endorsement is slow to reach anyone.
    const slow = await b.endorseSnapshot(s1.manifest, s1.chunks);
    await a.write(t.doc, EV, title('a2'));
    await b.write(t.doc, E2, title('b2'));
    await syncAll(t.reps, t.doc);
    const s2 = await a.sealSnapshot(t.doc);
    const fresh = await openReplica(t.devs[3]!);
    await fresh.startFromSealed(
      s2.manifest,
      s2.chunks,
      [await c.endorseSnapshot(s2.manifest, s2.chunks)],
      [...(await membershipOps(a, t.doc))],
    );
    // c's endorsement of S2 at its position in S2 (an anchor, no fork): judged, not flagged.
    expect(fresh.lateEndorsements(t.doc)).toBe(0);
    for (const r of [fresh, c]) await r.receiveEndorsement(slow);
    // b's position (b1) is below its chain position at S2 (b2): fresh cannot judge it.
    expect(fresh.lateEndorsements(t.doc)).toBe(1);
    expect(visibleState(fresh, t.doc)).toEqual(visibleState(c, t.doc));
    // fresh's snapshot leaves it out; c (every op) endorses it.
    const s3 = await fresh.sealSnapshot(t.doc);
    await c.endorseSnapshot(s3.manifest, s3.chunks);
    // c's snapshot lists it: fresh cannot recompute that one (unverifiable, nobody accused).
    const listing = await c.snapshot(t.doc);
    const listedBodies = (decodeSnapshot(listing).endorsements ?? []).map((l) => toHex(l.body));
    expect(listedBodies).toContain(toHex(asListed(slow).body));
    expect((await fresh.verifySnapshot(t.doc, listing, idOf(c))).status).toBe('unverifiable');
    expect(fresh.snapshotEvidence(t.doc)).toEqual([]);
    // The re-base on a refill from c's sealed snapshot ends the flag.
    const s4 = await c.sealSnapshot(t.doc);
    const scratch = fresh.scratch();
    await scratch.startFromSealed(
      s4.manifest,
      s4.chunks,
      [await a.endorseSnapshot(s4.manifest, s4.chunks)],
      [...(await membershipOps(a, t.doc))],
    );
    await fresh.rebaseFrom(t.doc, scratch);
    expect(fresh.lateEndorsements(t.doc)).toBe(0);
    expect(visibleState(fresh, t.doc)).toEqual(visibleState(c, t.doc));
    // A snapshot made by the re-based device lists it (its base's); c and a endorse it.
    await fresh.write(t.doc, E2, title('fresh'));
    await syncOps(fresh, c, t.doc);
    await syncOps(fresh, a, t.doc);
    const s5 = await fresh.sealSnapshot(t.doc);
    await c.endorseSnapshot(s5.manifest, s5.chunks);
    await a.receiveEndorsement(slow);
    await a.endorseSnapshot(s5.manifest, s5.chunks);
    for (const r of [a, c, fresh]) expect(r.snapshotEvidence(t.doc)).toEqual([]);
  });
});

/** `plain` with `listed` in place of its endorsement list (kept in the one order). */
function relisted(plain: Uint8Array, listed: ListedStatement[]): Uint8Array {
  const s = decodeSnapshot(plain);
  const sorted = [...listed].sort((x, y) => compareBytes(x.body, y.body));
  const { endorsements: _e, ...rest } = s;
  return encodeSnapshot(sorted.length === 0 ? rest : { ...rest, endorsements: sorted });
}

describe('the list cannot be turned against anyone', () => {
  it('[SNAP-21][SNAP-5] a snapshot listing a forged, a foreign or a later endorsement, or omitting one it acted on, is a forgery', async () => {
    const w = await world('lf', false);
    const other = await team(['lf-x', 'lf-y']);
    await w.a.receiveEndorsement(w.withheld);
    await w.c.receiveEndorsement(w.withheld);
    const honest = await w.c.snapshot(w.doc);
    expect(decodeSnapshot(honest).endorsements).toHaveLength(1);
    expect((await w.a.verifySnapshot(w.doc, honest, idOf(w.c))).status).toBe('valid');
    const e = asListed(w.withheld);
    const badSig = { body: e.body, sig: e.sig.map((x, i) => (i === 0 ? x ^ 1 : x)) };
    // Another calendar's endorsement, validly signed by a member there.
    const os = await other.reps[0]!.sealSnapshot(other.doc);
    const foreign = asListed(await other.reps[1]!.endorseSnapshot(os.manifest, os.chunks));
    // h's endorsement at a position after the frontier (of a later snapshot).
    await w.h.write(w.doc, E2, title('h later'));
    await syncAll([w.a, w.h, w.c], w.doc);
    const later = await w.a.sealSnapshot(w.doc);
    const above = asListed(await w.h.endorseSnapshot(later.manifest, later.chunks));
    for (const listed of [[badSig], [e, foreign], [e, above], []]) {
      const v = await w.a.verifySnapshot(w.doc, relisted(honest, listed), idOf(w.c));
      expect(v.status).toBe('forged');
    }
    expect(w.a.snapshotEvidence(w.doc).length).toBe(4);
  });

  it('[SNAP-22][SNAP-10] a flood of endorsements it cannot judge costs what SNAP-10 bounds, and a stranger’s flags nothing', async () => {
    const w = await world('lm', false);
    expect(await w.p.prune(w.doc, w.plain)).toBeGreaterThan(0);
    const sign = (n: number, by = w.devs[1]!) =>
      signEndorsement(deviceKeys(by).signer, {
        doc: w.doc,
        manifest: 'ab'.repeat(32),
        endorser: toHex(pubOf(by)) as DeviceId,
        ctr: 0,
        last: null,
        frontier: [n.toString(16).padStart(64, '0') as OpId],
      });
    // A device no membership op names: no op of it is covered, so nothing to judge.
    expect(await w.p.receiveEndorsement(await sign(0, testDevice('lm-stranger')))).toBe('pending');
    expect(w.p.lateEndorsements(w.doc)).toBe(0);
    let waiting = 1;
    for (let i = 1; ; i++) {
      const code = await w.p.receiveEndorsement(await sign(i)).then(
        (s) => s,
        (err: { code?: string }) => err.code,
      );
      if (code === 'PendingFull') break;
      expect(code).toBe('pending');
      waiting++;
    }
    expect(waiting).toBe(MAX_PENDING_CERTS);
    expect(w.p.lateEndorsements(w.doc)).toBe(MAX_PENDING_CERTS - 1);
    // A restart finds the same, no more.
    const again = await openReplica(w.devs[0]!, { store: w.store });
    expect(again.lateEndorsements(w.doc as DocId)).toBe(MAX_PENDING_CERTS - 1);
  }, 120_000);
});

describe('snapshots of the format before SNAP-21', () => {
  it('[SNAP-21] a snapshot of format 1 (listing only acting endorsements) is still verified, started from and stored; a late endorsement on such a base is flagged only when it may act', async () => {
    const t = await team(['lo-a', 'lo-b', 'lo-c', 'lo-d']);
    const [a, b, c] = t.reps as [Replica, Replica, Replica, Replica];
    await b.write(t.doc, EV, title('b1'));
    await syncAll(t.reps, t.doc);
    const s1 = await a.sealSnapshot(t.doc);
    const atPosition = await b.endorseSnapshot(s1.manifest, s1.chunks);
    await b.write(t.doc, E2, title('b2'));
    await syncAll(t.reps, t.doc);
    const s2 = await a.sealSnapshot(t.doc);
    const below = await b.endorseSnapshot(s2.manifest, s2.chunks);
    await a.write(t.doc, EV, title('a3'));
    await syncAll(t.reps, t.doc);
    await c.receiveEndorsement(atPosition);
    await c.receiveEndorsement(below);
    // What a build before SNAP-21 wrote: format 1, no endorsement listed (neither acts). Format 2
    // lists the one at b1 only: the one at b2 is at b's chain position, judged unlisted.
    const now = decodeSnapshot(await c.snapshot(t.doc));
    expect(now.endorsements?.map((l) => toHex(l.body))).toEqual([toHex(asListed(atPosition).body)]);
    const { endorsements: _e, ...rest } = now;
    const old = encodeSnapshot({ ...rest, format: 1 });
    expect(decodeSnapshot(old).format).toBe(1);
    expect(encodeSnapshot(decodeSnapshot(old))).toEqual(old);
    // A replica with every op recomputes it in its own format: valid, nobody accused.
    expect((await c.verifySnapshot(t.doc, old, idOf(a))).status).toBe('valid');
    // The same bytes claimed as format 2 omit what c holds in force and judges: still no forgery
    // (a maker may lack an endorsement, SNAP-10), the list is just shorter.
    expect((await c.verifySnapshot(t.doc, encodeSnapshot(rest), idOf(a))).status).toBe('valid');
    // A device starts from the old snapshot over a store; the endorsements arrive late.
    const store = createMemoryStore();
    const d = await openReplica(t.devs[3]!, { store });
    await d.startFromSnapshot(old);
    // b's endorsement of S2 at b2 (its chain position at the frontier, an anchor, no fork): judged.
    await d.receiveEndorsement(below);
    expect(d.lateEndorsements(t.doc)).toBe(0);
    // b's endorsement of S1 at b1, below b2: the old list cannot say whether it acted: flagged.
    await d.receiveEndorsement(atPosition);
    expect(d.lateEndorsements(t.doc)).toBe(1);
    expect(visibleState(d, t.doc)).toEqual(visibleState(c, t.doc));
    // Nothing stored is lost across a restart, and the flag is found again.
    const again = await openReplica(t.devs[3]!, { store });
    expect(visibleState(again, t.doc)).toEqual(visibleState(c, t.doc));
    expect(again.lateEndorsements(t.doc)).toBe(1);
    // Re-based on a refill from c's current snapshot (it lists both), the flag ends.
    const scratch = again.scratch();
    await scratch.startFromSnapshot(await c.snapshot(t.doc));
    await again.rebaseFrom(t.doc, scratch);
    expect(again.lateEndorsements(t.doc)).toBe(0);
    expect(visibleState(again, t.doc)).toEqual(visibleState(c, t.doc));
  });
});

describe('a snapshot format newer than this build', () => {
  it('[SNAP-21] is unverifiable, not a forgery: nobody is accused, nothing endorsed', async () => {
    const t = await team(['nf-a', 'nf-b']);
    const [a, b] = t.reps as [Replica, Replica];
    await b.write(t.doc, EV, title('b1'));
    await syncAll(t.reps, t.doc);
    const now = decodeSnapshot(await a.snapshot(t.doc));
    // What a later build might write: the same state under format 3, which this build cannot read.
    const newer = encodeSnapshot({ ...now, format: 3 as unknown as 1 });
    const verdict = await b.verifySnapshot(t.doc, newer, idOf(a));
    expect(verdict.status).toBe('unverifiable');
    expect(b.snapshotEvidence(t.doc)).toEqual([]);
    // A plaintext that is not a snapshot at all stays a forgery.
    const junk = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await b.verifySnapshot(t.doc, junk, idOf(a))).status).toBe('forged');
  });
});

describe('an endorsement naming ops nobody holds', () => {
  it('[SNAP-21][SNAP-22][SNAP-23] is listed as waiting by a replica with every op, so a pruned replica that flagged it re-bases and stops flagging; listed in the wrong list it is a forgery', async () => {
    const w = await world('lw', false);
    expect(await w.p.prune(w.doc, w.plain)).toBeGreaterThan(0);
    // h signs an endorsement at ctr 1 (below its chain position) of a frontier that does not exist.
    const ghost = await signEndorsement(deviceKeys(w.devs[1]!).signer, {
      doc: w.doc,
      manifest: 'cd'.repeat(32),
      endorser: toHex(pubOf(w.devs[1]!)) as DeviceId,
      ctr: 0,
      last: null,
      frontier: ['ee'.repeat(32) as OpId],
    });
    for (const r of [w.a, w.p]) expect(await r.receiveEndorsement(ghost)).toBe('pending');
    expect(w.p.lateEndorsements(w.doc)).toBe(1);
    expect(w.a.lateEndorsements(w.doc)).toBe(0);
    const listing = decodeSnapshot(await w.a.snapshot(w.doc));
    expect(listing.waiting?.map((l) => toHex(l.body))).toEqual([toHex(asListed(ghost).body)]);
    // Moved to the in-force list, the snapshot is not what the ops give.
    const { waiting: _w, ...rest } = listing;
    const moved = encodeSnapshot({ ...rest, endorsements: [...(rest.endorsements ?? []), asListed(ghost)] });
    expect((await w.c.verifySnapshot(w.doc, moved, idOf(w.a))).status).toBe('forged');
    // The refill from a's snapshot judges it: p re-bases, the flag ends, and stays ended.
    const good = await refill(w, w.p, w.a, w.c);
    await w.p.rebaseFrom(w.doc, good);
    expect(w.p.lateEndorsements(w.doc)).toBe(0);
    const again = await openReplica(w.devs[0]!, { store: w.store });
    expect(again.lateEndorsements(w.doc)).toBe(0);
    // A snapshot p makes lists it as waiting too (its base's), and c, with every op, endorses it.
    const s = await again.sealSnapshot(w.doc);
    expect(decodeSnapshot(await again.snapshot(w.doc)).waiting).toHaveLength(1);
    await w.c.receiveEndorsement(ghost);
    const accused = w.c.snapshotEvidence(w.doc).length; // the moved list above, nothing else
    await w.c.endorseSnapshot(s.manifest, s.chunks);
    expect(w.c.snapshotEvidence(w.doc).length).toBe(accused);
  });
});

describe('what a snapshot leaves out, and who can judge it', () => {
  it('[SNAP-21][SNAP-22] an endorsement at its endorser’s chain position (nothing written since) is left out, and a replica starting from the snapshot judges it unlisted', async () => {
    const t = await team(['lx-a', 'lx-b', 'lx-c']);
    const [a, b] = t.reps as [Replica, Replica, Replica];
    await b.write(t.doc, EV, title('b1'));
    await syncAll([a, b], t.doc);
    const s1 = await a.sealSnapshot(t.doc);
    const e = await b.endorseSnapshot(s1.manifest, s1.chunks);
    await a.receiveEndorsement(e);
    await a.write(t.doc, E2, title('a2'));
    const plain = await a.snapshot(t.doc);
    expect(decodeSnapshot(plain).endorsements).toBeUndefined();
    const c = await openReplica(t.devs[2]!);
    await c.startFromSnapshot(plain);
    expect(await c.receiveEndorsement(e)).toBe('certified');
    expect(c.lateEndorsements(t.doc)).toBe(0);
    // Once b writes after it, it is listed (a replica starting then could not judge it unlisted).
    await b.write(t.doc, E2, title('b2'));
    await syncAll([a, b], t.doc);
    expect(decodeSnapshot(await a.snapshot(t.doc)).endorsements).toHaveLength(1);
    expect((await b.verifySnapshot(t.doc, await a.snapshot(t.doc), idOf(a))).status).toBe('valid');
  });

  it('[SNAP-21][SNAP-5] a replica whose base lists an endorsement the claimed snapshot lacks cannot recompute it: unverifiable, nobody accused', async () => {
    const w = await world('lv', false);
    // p (pruning) and a hold the endorsement; c, which makes the snapshot, never received it.
    for (const r of [w.a, w.p]) await r.receiveEndorsement(w.withheld);
    const mine = await w.p.snapshot(w.doc, { frontier: decodeSnapshot(w.plain).frontier });
    expect(await w.p.prune(w.doc, mine)).toBeGreaterThan(0);
    const theirs = await w.c.snapshot(w.doc);
    expect(decodeSnapshot(theirs).endorsements ?? []).toEqual([]);
    expect((await w.p.verifySnapshot(w.doc, theirs, idOf(w.c))).status).toBe('unverifiable');
    expect(w.p.snapshotEvidence(w.doc)).toEqual([]);
    // a, with every op, recomputes it without the endorsement: what c's ops give (SNAP-10).
    expect((await w.a.verifySnapshot(w.doc, theirs, idOf(w.c))).status).toBe('valid');
  });
});
