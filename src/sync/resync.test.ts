// What the sync client decides about a diverged calendar (docs/PROTOCOL.md SYNC-16, SNAP-18),
// over real replicas and no network: a calendar is marked only when the engine refused ops by
// SNAP-7 or holds an endorsement it cannot judge (SNAP-22); a failed attempt (a blind refill,
// SNAP-23, among them) leaves the copy unchanged and waits 30 s, doubling up to 10 min; a
// calendar that keeps diverging after re-bases waits too (a hostile member or relay cannot make
// the device refill continuously).

import { describe, expect, it } from 'vitest';
import { utf8 } from '../engine/bytes.ts';
import { EventField } from '../engine/calendar.ts';
import { syncAll, syncOps, team } from '../engine/hostile.testkit.ts';
import type { DocId, EntityId } from '../engine/ids.ts';
import type { Replica } from '../engine/replica.ts';
import { visibleState } from '../engine/snapshot.testkit.ts';
import { openReplica } from '../engine/testkit.testkit.ts';
import { Resyncs } from './resync.ts';

const E1 = 'a1'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

/** A refill: every op `from` holds. */
async function refillFrom(from: Replica, to: Replica, doc: DocId): Promise<void> {
  await to.receiveBatch((await from.listOps(doc, 0, 100_000)).map((r) => r.bytes));
}

/** b writes offline (from old parents) and its ops reach a and then c, which refuses them. */
async function bReturns(a: Replica, b: Replica, c: Replica, doc: DocId, what: string): Promise<void> {
  await b.write(doc, E1, title(`b offline ${what}`));
  await syncOps(b, a, doc);
  await syncOps(a, c, doc);
}

async function world() {
  const t = await team(['rz-a', 'rz-b', 'rz-c']);
  const [a, b] = t.reps as [Replica, Replica, Replica];
  await syncAll([a, b], t.doc);
  await a.write(t.doc, E1, title('a'));
  const c = await openReplica(t.devs[2]!);
  await c.startFromSnapshot(await a.snapshot(t.doc));
  return { doc: t.doc, a, b, c };
}

describe('re-sync decisions', () => {
  it('[SYNC-16] a calendar is marked only once the engine refused ops by SNAP-7; a failed attempt changes nothing and waits 30 s, doubling up to 10 min', async () => {
    const { doc, a, b, c } = await world();
    let now = 1_000_000;
    const rs = new Resyncs(c, () => now);
    expect(rs.diverged(doc, now)).toBe(false);
    expect(rs.busy).toBe(false);
    await bReturns(a, b, c, doc, '1');
    expect(rs.diverged(doc, now)).toBe(true);
    expect(rs.diverged(doc, now)).toBe(false); // once
    expect(rs.busy).toBe(true);
    const before = visibleState(c, doc);
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      expect(rs.begin(doc, now)).toEqual({ fromSnapshot: true });
      expect(rs.refilling(doc)).toBe(true);
      // The refill got nothing (a relay that cannot serve the calendar): not used.
      expect(await rs.covers(doc)).toBe(false);
      await expect(rs.finish(doc)).rejects.toThrow(/SNAP-18/);
      expect(visibleState(c, doc)).toEqual(before);
      rs.abandon(doc, now, true);
      expect(rs.refilling(doc)).toBe(false);
      expect(rs.begin(doc, now + 1)).toBeUndefined();
      const wait = rs.nextWait(now)!;
      waits.push(wait);
      now += wait;
    }
    expect(waits).toEqual([30_000, 60_000, 120_000, 240_000, 480_000, 600_000, 600_000]);
    expect(rs.stats.failed).toBe(7);
    // A connection that closed is no failure: the next one may try at once.
    rs.begin(doc, now);
    rs.reset();
    expect(rs.begin(doc, now)).toBeDefined();
    // Then the refill works.
    await refillFrom(a, rs.target(doc), doc);
    expect(await rs.covers(doc)).toBe(true);
    expect(await rs.finish(doc)).toBe(true);
    expect(rs.busy).toBe(false);
    expect(visibleState(c, doc)).toEqual(visibleState(a, doc));
  });

  it('[SYNC-16][SNAP-18] a calendar that keeps diverging after re-bases waits before the third refill within 10 min', async () => {
    const { doc, a, b, c } = await world();
    let now = 5_000_000;
    const rs = new Resyncs(c, () => now);
    const round = async (what: string) => {
      await bReturns(a, b, c, doc, what);
      expect(rs.diverged(doc, now)).toBe(true);
    };
    const rebase = async () => {
      rs.begin(doc, now);
      await refillFrom(a, rs.target(doc), doc);
      expect(await rs.finish(doc)).toBe(true);
      expect(c.snapshotRefusals(doc)).toBe(0);
      expect(visibleState(c, doc)).toEqual(visibleState(a, doc));
    };
    await round('1');
    await rebase();
    now += 1000;
    await round('2'); // the second re-base within 10 min: at once
    expect(rs.begin(doc, now)).toBeDefined();
    rs.reset();
    await rebase();
    now += 1000;
    await round('3'); // the third waits
    expect(rs.begin(doc, now)).toBeUndefined();
    expect(rs.nextWait(now)).toBe(30_000 - 1000);
    now += 30_000;
    await rebase();
    // Quiet for more than 10 min: at once again.
    now += 11 * 60_000;
    await round('4');
    expect(rs.begin(doc, now)).toBeDefined();
    // A calendar the relay stops serving to this device (removed, RELAY-9) is not re-synced.
    rs.forget(doc);
    expect(rs.busy).toBe(false);
    expect(rs.refilling(doc)).toBe(false);
  });

  it('[SNAP-23][SNAP-22][SYNC-16] a calendar holding an endorsement it cannot judge is marked; a blind refill is refused, changes nothing and waits; a refill that lists it re-bases', async () => {
    const t = await team(['rl-a', 'rl-b', 'rl-c']);
    const [a, b] = t.reps as [Replica, Replica, Replica];
    const doc = t.doc;
    await b.write(doc, E1, title('b1'));
    await syncAll([a, b], doc);
    const s1 = await a.sealSnapshot(doc);
    const late = await b.endorseSnapshot(s1.manifest, s1.chunks);
    await b.write(doc, E1, title('b2'));
    await syncAll([a, b], doc);
    const blindPlain = await a.snapshot(doc);
    const c = await openReplica(t.devs[2]!);
    await c.startFromSnapshot(blindPlain);
    let now = 2_000_000;
    const rs = new Resyncs(c, () => now);
    expect(rs.diverged(doc, now)).toBe(false);
    await c.receiveEndorsement(late);
    expect(c.snapshotRefusals(doc)).toBe(0);
    expect(c.lateEndorsements(doc)).toBe(1);
    expect(rs.diverged(doc, now)).toBe(true);
    // The relay's snapshot does not list it: each refill is blind, refused, nothing changes, and
    // the next attempt waits longer (no replica judges it yet: nothing loops).
    const before = visibleState(c, doc);
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      expect(rs.begin(doc, now)).toEqual({ fromSnapshot: true });
      await rs.target(doc).startFromSnapshot(blindPlain);
      expect(await rs.covers(doc)).toBe(true);
      await expect(rs.finish(doc)).rejects.toMatchObject({ code: 'Unsupported' });
      expect(visibleState(c, doc)).toEqual(before);
      expect(c.lateEndorsements(doc)).toBe(1);
      rs.abandon(doc, now, true);
      expect(rs.begin(doc, now + 1)).toBeUndefined();
      waits.push(rs.nextWait(now)!);
      now += waits.at(-1)!;
    }
    expect(waits).toEqual([30_000, 60_000, 120_000]);
    // a (every op) gets it; its snapshot lists it: the next refill re-bases.
    await a.receiveEndorsement(late);
    rs.begin(doc, now);
    await rs.target(doc).startFromSnapshot(await a.snapshot(doc));
    expect(await rs.finish(doc)).toBe(true);
    expect(c.lateEndorsements(doc)).toBe(0);
    expect(visibleState(c, doc)).toEqual(visibleState(a, doc));
    expect(rs.busy).toBe(false);
  });
});
