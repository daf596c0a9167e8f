// Pruning on a replica (docs/PROTOCOL.md SNAP-12): it waits until every member has certified the
// snapshot's frontier, never runs in compliance mode or on a snapshot it cannot recompute, and
// afterwards the replica shows, across later ops, removals and restarts, what a replica that
// kept every op shows.

import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import {
  craftAt,
  type Key,
  patchOp,
  pubOf,
  syncAll,
  syncOps,
  team,
  titleOf,
  userView,
} from './hostile.testkit.ts';
import { CALENDAR_ENTITY, type DocId, type EntityId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import type { Replica } from './replica.ts';
import { visibleState } from './snapshot.testkit.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';
import { openReplica, type TestDevice, testDevice } from './testkit.testkit.ts';

const E1 = '61'.repeat(16) as EntityId;
const E2 = '62'.repeat(16) as EntityId;
const E3 = '63'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

/** a (on a store it can reopen), b, c; a full observer that keeps every op; some history. */
async function world() {
  const t = await team(['pr-a', 'pr-b', 'pr-c']);
  const [a0, b, c] = t.reps as [Replica, Replica, Replica];
  const store = createMemoryStore();
  const a = await openReplica(t.devs[0]!, { store });
  await syncOps(a0, a, t.doc);
  // a twin of a (same device keys, so it reads every body) that never prunes.
  const full = await openReplica(t.devs[0]!);
  for (let i = 0; i < 5; i++) {
    await a.write(t.doc, E1, title(`a ${i}`));
    await b.write(t.doc, E2, title(`b ${i}`));
  }
  await c.write(t.doc, E1, title('c, concurrently'));
  await syncAll([a, b, c], t.doc);
  return { ...t, a, b, c, full, store };
}

/** Everything both replicas hold, to both. */
async function meet(x: Replica, y: Replica, doc: DocId): Promise<void> {
  await syncOps(x, y, doc);
  await syncOps(y, x, doc);
}

describe('pruning on a replica', () => {
  it('[SNAP-12] waits for every member to certify the frontier, then deletes the covered ops and shows the same', async () => {
    const { doc, a, b, c, full, store } = await world();
    const plain = await a.snapshot(doc);
    const status = await a.pruneStatus(doc, plain);
    expect(status.ready).toBe(false);
    expect(status.blocked).toBeNull();
    expect(status.waitingFor).toEqual([b.deviceId!, c.deviceId!].sort());
    await expect(a.prune(doc, plain)).rejects.toMatchObject({ code: 'InvalidArgument' });
    // b certifies (a write made after seeing the frontier); c still holds it back.
    await b.write(doc, E2, title('b after'));
    await syncOps(b, a, doc);
    expect((await a.pruneStatus(doc, plain)).waitingFor).toEqual([c.deviceId!]);
    await c.write(doc, E1, title('c after'));
    await syncOps(c, a, doc);
    const ready = await a.pruneStatus(doc, plain);
    expect(ready).toMatchObject({ ready: true, waitingFor: [], blocked: null });
    const before = visibleState(a, doc);
    const held = (await a.listOps(doc, 0, 100_000)).length;
    expect(await a.prune(doc, plain)).toBe(ready.prunable);
    expect(ready.prunable).toBeGreaterThan(0);
    expect((await a.listOps(doc, 0, 100_000)).length).toBe(held - ready.prunable);
    expect(visibleState(a, doc)).toEqual(before);
    // Later: writes from everyone, a removal revoking a concurrent write, a restart: as a full replica.
    await b.write(doc, E1, title('b, concurrently with its removal'));
    await a.removeMember(doc, pubOf(testDevice('pr-b')));
    await c.write(doc, E2, title('c later'));
    await syncAll([a, b, c], doc);
    for (const r of [a, b, c]) await syncOps(r, full, doc);
    expect(a.members(doc).has(b.deviceId!)).toBe(false);
    expect(visibleState(a, doc)).toEqual(visibleState(full, doc));
    const again = await openReplica(testDevice('pr-a'), { store });
    expect(visibleState(again, doc)).toEqual(visibleState(full, doc));
    // A covered op offered again changes nothing.
    const covered = (await full.listOps(doc, 0, 5)).at(-1)!;
    await again.receive(covered.bytes);
    expect(visibleState(again, doc)).toEqual(visibleState(full, doc));
  });

  it('[SNAP-12][SNAP-10] an endorsement of the snapshot certifies a member that has not written since', async () => {
    const { doc, a, b, c, full } = await world();
    const sealed = await a.sealSnapshot(doc);
    const plain = await a.snapshot(doc);
    expect((await a.pruneStatus(doc, plain)).waitingFor).toEqual([b.deviceId!, c.deviceId!].sort());
    // b endorses (recomputing it) without writing; c writes after seeing the frontier.
    expect(await a.receiveEndorsement(await b.endorseSnapshot(sealed.manifest, sealed.chunks))).toBe(
      'certified',
    );
    expect((await a.pruneStatus(doc, plain)).waitingFor).toEqual([c.deviceId!]);
    await c.write(doc, E1, title('c after'));
    await syncOps(c, a, doc);
    const before = visibleState(a, doc);
    expect(await a.prune(doc, plain)).toBeGreaterThan(0);
    expect(visibleState(a, doc)).toEqual(before);
    // b's next op (from its heads, which hold the frontier) applies on the pruned replica.
    await b.write(doc, E2, title('b, later'));
    await syncAll([a, b, c], doc);
    for (const r of [a, b, c]) await syncOps(r, full, doc);
    expect(visibleState(a, doc)).toEqual(visibleState(full, doc));
  });

  it('[SNAP-12] prunes again to a later snapshot (made and verified from the stored base)', async () => {
    const { doc, a, b, c, full } = await world();
    const certify = async (n: string) => {
      await b.write(doc, E2, title(`b ${n}`));
      await c.write(doc, E1, title(`c ${n}`));
      await syncAll([a, b, c], doc);
    };
    const first = await a.snapshot(doc);
    await certify('1');
    await a.prune(doc, first);
    await a.write(doc, E1, title('a between'));
    await syncAll([a, b, c], doc);
    const second = await a.snapshot(doc);
    // b computes the same bytes from its whole history; a from its base and the ops after it.
    expect(await b.snapshot(doc, { frontier: decodeSnapshot(second).frontier })).toEqual(second);
    await certify('2');
    const third = await b.snapshot(doc, { frontier: decodeSnapshot(second).frontier });
    expect(await a.pruneStatus(doc, third)).toMatchObject({ blocked: null, ready: true });
    expect(await a.prune(doc, third)).toBeGreaterThan(0);
    for (const r of [a, b, c]) await syncOps(r, full, doc);
    expect(visibleState(a, doc)).toEqual(visibleState(full, doc));
  });

  it('[SNAP-12] never in compliance mode (CMP-2), never to a forged snapshot, never over ops made concurrently with it', async () => {
    const { doc, a, b, c } = await world();
    // Forged: a register changed.
    const s = decodeSnapshot(await a.snapshot(doc));
    s.entities.find((e) => e.entity === E1)!.registers[0]!.writes[0]!.value = utf8('forged');
    const forged = await a.pruneStatus(doc, encodeSnapshot(s));
    expect(forged.ready).toBe(false);
    expect(forged.blocked).toContain('SNAP-5');
    // Concurrent: c wrote without having seen the frontier; then everyone certifies.
    await a.write(doc, E1, title('a, not yet seen by c'));
    const plain = await a.snapshot(doc);
    await c.write(doc, E2, title('c, offline'));
    await syncAll([a, b, c], doc);
    await b.write(doc, E2, title('b after'));
    await c.write(doc, E1, title('c after'));
    await syncAll([a, b, c], doc);
    const st = await a.pruneStatus(doc, plain);
    expect(st.ready).toBe(false);
    expect(st.blocked).toContain('without the whole frontier');
    // The next snapshot prunes, unless compliance mode is on.
    const next = await a.snapshot(doc);
    await b.write(doc, E2, title('b again'));
    await c.write(doc, E1, title('c again'));
    await a.write(doc, CALENDAR_ENTITY, [{ field: 4, value: new Uint8Array([1]) }]);
    await syncAll([a, b, c], doc);
    const cmp = await a.pruneStatus(doc, next);
    expect(cmp.blocked).toContain('CMP-2');
    await expect(a.prune(doc, next)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await a.write(doc, CALENDAR_ENTITY, [{ field: 4, value: new Uint8Array([0]) }]);
    await syncAll([a, b, c], doc);
    expect((await a.pruneStatus(doc, next)).ready).toBe(true);
  });

  it('[SNAP-12] an offline member holds pruning back; back online its offline edits win and lose exactly as against the full history', async () => {
    const { doc, devs, a, b, c, full, key } = await world();
    // c goes offline and edits E1 with a clock far ahead (it will win) and E2 far behind (it will lose).
    const cOffline = c;
    const plain = await a.snapshot(doc);
    await b.write(doc, E2, title('b after'));
    await syncAll([a, b], doc);
    expect((await a.pruneStatus(doc, plain)).waitingFor).toEqual([c.deviceId!]);
    const craft = await craftAt(cOffline, devs[2] as TestDevice, doc);
    const ahead = patchOp(
      { ...craft, wallTime: craft.wallTime + 3_600_000_000 },
      key as Key,
      'c offline wins',
      E1,
    );
    expect((await cOffline.receive(ahead)).status).toBe('applied');
    const behind = await craftAt(cOffline, devs[2] as TestDevice, doc);
    const lose = patchOp({ ...behind, wallTime: behind.wallTime }, key as Key, 'c offline loses', E2);
    expect((await cOffline.receive(lose)).status).toBe('applied');
    // Still waiting; a cannot prune while c is away.
    await expect(a.prune(doc, plain)).rejects.toThrow(/waiting for/);
    // c returns: its offline ops reach a (concurrent with the frontier: that snapshot never prunes).
    await meet(a, cOffline, doc);
    await meet(b, a, doc);
    await b.write(doc, E2, title('b wins over c on E2'));
    await syncAll([a, b, cOffline], doc);
    const next = await a.snapshot(doc);
    await b.write(doc, E3, title('b certifies'));
    await cOffline.write(doc, E3, title('c certifies'));
    await syncAll([a, b, cOffline], doc);
    expect(await a.prune(doc, next)).toBeGreaterThan(0);
    for (const r of [a, b, cOffline]) await syncOps(r, full, doc);
    expect(userView(a, doc)).toEqual(userView(full, doc));
    expect(visibleState(a, doc)).toEqual(visibleState(full, doc));
    expect(titleOf(a, doc, E1)).toBe('c offline wins');
    expect(titleOf(a, doc, E2)).toBe('b wins over c on E2');
  });
});
