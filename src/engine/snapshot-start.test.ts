// Starting a calendar from a snapshot plus the ops after it (docs/PROTOCOL.md SNAP-6..8): the
// new replica ends where a replica that kept every op ends, on everything a user can see; ops it
// cannot judge are refused with a clear error; a forged anchor never becomes its state.

import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { lastOp, pubOf, syncOps, team } from './hostile.testkit.ts';
import type { EntityId, OpId } from './ids.ts';
import type { Replica } from './replica.ts';
import { visibleState } from './snapshot.testkit.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';
import { cardOf, openReplica, testDevice } from './testkit.testkit.ts';

const E1 = '51'.repeat(16) as EntityId;
const E2 = '52'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

async function syncAll(reps: Replica[], doc: Parameters<Replica['heads']>[0]) {
  for (const x of reps) for (const y of reps) if (x !== y) await syncOps(x, y, doc);
}

/** a, b, c; d added; a conflict on E1, E2 deleted; then d's fresh install starts from a's snapshot. */
async function started() {
  const t = await team(['st-a', 'st-b', 'st-c']);
  const [a, b, c] = t.reps as [Replica, Replica, Replica];
  const d = testDevice('st-d');
  await a.addMember(t.doc, await cardOf(d, t.doc));
  await a.write(t.doc, E1, title('a'));
  await b.write(t.doc, E1, title('b'));
  await c.write(t.doc, E2, [...title('x'), { field: EventField.Deleted, value: new Uint8Array([1]) }]);
  for (let i = 0; i < 6; i++)
    await a.write(t.doc, E2, [{ field: EventField.Location, value: utf8(`room ${i}`) }]);
  await syncAll([a, b, c], t.doc);
  const full = await openReplica(d);
  await syncOps(a, full, t.doc);
  const plain = await a.snapshot(t.doc);
  const fresh = await openReplica(d);
  expect(await fresh.startFromSnapshot(plain)).toBe(t.doc);
  const fresh2 = await openReplica(d);
  await fresh2.startFromSnapshot(plain);
  return { ...t, a, b, c, d, full, fresh, fresh2, plain };
}

describe('starting from a snapshot', () => {
  it('[SNAP-6] a replica started from a snapshot shows what a replica with every op shows', async () => {
    const { doc, full, fresh } = await started();
    expect(visibleState(fresh, doc)).toEqual(visibleState(full, doc));
    // It holds the anchors only, not the history.
    expect(fresh.seq(doc)).toBeLessThan(full.seq(doc));
  });

  it('[SNAP-6] then the tail: writes, a conflict, a role change and its own writes end the same', async () => {
    const { doc, a, b, c, full, fresh } = await started();
    await a.write(doc, E1, title('later a'));
    await b.write(doc, E2, [{ field: EventField.Deleted, value: new Uint8Array([0]) }]);
    await a.setRole(doc, pubOf(testDevice('st-c')), 1);
    await syncAll([a, b, c], doc);
    await c.write(doc, E1, title('viewer write')).catch(() => undefined);
    for (const r of [full, fresh]) await syncOps(a, r, doc);
    await fresh.write(doc, E2, title('from the started device'));
    await syncOps(fresh, full, doc);
    await syncOps(fresh, a, doc);
    expect(visibleState(fresh, doc)).toEqual(visibleState(full, doc));
    expect(visibleState(a, doc)).toEqual(visibleState(full, doc));
  });

  it('[SNAP-8] a removal after the snapshot revokes a concurrent write on the started replica too', async () => {
    const { doc, a, b, full, fresh, fresh2 } = await started();
    await b.write(doc, E1, title('b, concurrently with its removal'));
    await b.write(doc, E2, title('b again'));
    await a.removeMember(doc, pubOf(testDevice('st-b')));
    // The removal first, then b's writes; and b's writes first, then the removal (a rebuild).
    await syncOps(a, fresh, doc);
    await syncOps(b, fresh, doc);
    await syncOps(b, fresh2, doc);
    await syncOps(a, fresh2, doc);
    await syncOps(b, full, doc);
    await syncOps(a, full, doc);
    expect(visibleState(fresh, doc)).toEqual(visibleState(full, doc));
    expect(visibleState(fresh2, doc)).toEqual(visibleState(full, doc));
    for (const r of [fresh, fresh2]) {
      const e1 = r.entity(doc, E1)!.registers.find((x) => x.field === EventField.Title)!;
      expect(e1.writes.map((w) => new TextDecoder().decode(w.value!)).sort()).toEqual(['a', 'b']);
      const e2 = r.entity(doc, E2)!.registers.find((x) => x.field === EventField.Location)!;
      expect(new TextDecoder().decode(e2.writes[0]!.value!)).toBe('room 5');
    }
  });

  it('[SNAP-7] an op whose past lacks part of the frontier is refused, with the rule named', async () => {
    const t = await team(['s7-a', 's7-b']);
    const [a, b] = t.reps as [Replica, Replica];
    const d = testDevice('s7-d');
    await a.addMember(t.doc, await cardOf(d, t.doc));
    await syncOps(a, b, t.doc);
    const old = b.heads(t.doc);
    await a.write(t.doc, E1, title('a'));
    const plain = await a.snapshot(t.doc);
    const fresh = await openReplica(d);
    await fresh.startFromSnapshot(plain);
    // b never saw a's write: its op's past lacks that frontier op.
    const w = await b.write(t.doc, E1, title('b offline'));
    expect(b.heads(t.doc)).not.toEqual(old);
    const res = await fresh.receive(w.bytes);
    expect(res.status).toBe('rejected');
    expect(res.error?.code).toBe('Unsupported');
    expect(res.error?.message).toContain('SNAP-7');
    // An op the snapshot covers (re-sent by sync) is refused too, and nothing waits for it.
    const covered = (await a.listOps(t.doc, 0, 100)).find((o) => o.kind === 0 && o.ctr > 0)!;
    const before = visibleState(fresh, t.doc);
    const r2 = await fresh.receive(covered.bytes);
    expect(['duplicate', 'rejected']).toContain(r2.status);
    expect(visibleState(fresh, t.doc)).toEqual(before);
    expect(fresh.missing(t.doc)).toEqual([]);
  });

  it('[SNAP-6] a forged or altered anchor never becomes state: clear error, nothing stored', async () => {
    const { doc, plain } = await started();
    const d = testDevice('st-d');
    const s = decodeSnapshot(plain);
    // A membership anchor with one signed byte changed; an Add dropped (its Rotate/Add successors then fail).
    const tampered = structuredClone(s);
    const m = tampered.anchors.findIndex(
      (x) => x.mfront.length === 1 && x.mfront[0] === x.id && x !== tampered.anchors[0],
    );
    const bytes = tampered.anchors[m]!.bytes.slice();
    bytes[bytes.length - 70]! ^= 1;
    tampered.anchors[m] = { ...tampered.anchors[m]!, bytes };
    const dropped = structuredClone(s);
    dropped.anchors.splice(m, 1);
    const wrongVv = structuredClone(s);
    wrongVv.anchors[m] = {
      ...wrongVv.anchors[m]!,
      vv: { ...wrongVv.anchors[m]!.vv, [toHex(fromHex('ab'.repeat(32)))]: 3 },
    };
    for (const bad of [tampered, dropped, wrongVv]) {
      const r = await openReplica(d);
      await expect(r.startFromSnapshot(encodeSnapshot(bad))).rejects.toMatchObject({ name: 'EngineError' });
      expect(r.hasDoc(doc)).toBe(false);
    }
    // Starting twice, or on a replica that already holds the calendar: InvalidArgument.
    const twice = await openReplica(d);
    await twice.startFromSnapshot(plain);
    await expect(twice.startFromSnapshot(plain)).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('[SNAP-6] a snapshot that leaves out a removal never starts: members are recomputed, not taken', async () => {
    const { doc, a, b, c } = await started();
    await a.removeMember(doc, pubOf(testDevice('st-b')));
    const removal = a.heads(doc)[0]!;
    for (const later of [false, true]) {
      // The Remove as the frontier, then (later) under a write that has seen it.
      if (later) await a.write(doc, E1, title('after the removal'));
      await syncAll([a, b, c], doc);
      const s = decodeSnapshot(await a.snapshot(doc));
      const hidden = structuredClone(s);
      hidden.anchors = hidden.anchors.filter((x) => x.id !== removal);
      expect(hidden.anchors.length).toBe(s.anchors.length - 1);
      const r = await openReplica(testDevice('st-d'));
      await expect(r.startFromSnapshot(encodeSnapshot(hidden))).rejects.toMatchObject({ code: 'Malformed' });
      expect(r.hasDoc(doc)).toBe(false);
      const honest = await openReplica(testDevice('st-d'));
      await honest.startFromSnapshot(encodeSnapshot(s));
      expect(honest.members(doc).has(b.deviceId!)).toBe(false);
    }
  });

  it('[SNAP-11][SNAP-8] after a restart the SNAP-7 rule holds, and a tail removal rebuilds from the stored base as a full replica does', async () => {
    const { doc, a, b, full, plain } = await started();
    const { createMemoryStore } = await import('./memory-store.ts');
    const store = createMemoryStore();
    const d = testDevice('st-d');
    const first = await openReplica(d, { store });
    await first.startFromSnapshot(plain);
    const before = visibleState(first, doc);
    const again = await openReplica(d, { store });
    expect(visibleState(again, doc)).toEqual(before);
    // A covered op is still refused by SNAP-7.
    const covered = (await a.listOps(doc, 0, 1000)).filter((o) => o.kind === 0);
    const refused = await again.receive(covered[0]!.bytes);
    expect(refused.status === 'duplicate' || refused.error?.message.includes('SNAP-7')).toBe(true);
    // A tail write, then a removal that revokes it: the rebuild reads the stored registers.
    await b.write(doc, E1, title('b, concurrently with its removal'));
    await a.removeMember(doc, pubOf(testDevice('st-b')));
    for (const r of [again, full]) await syncOps(b, r, doc);
    // A restart between the tail write and the removal: the base record kept E1 as the snapshot had it.
    const third = await openReplica(d, { store });
    const remove = (await a.listOps(doc, 0, 1000)).at(-1)!;
    expect((await third.receive(remove.bytes)).status).toBe('applied');
    await syncOps(a, full, doc);
    expect(third.members(doc).has(b.deviceId!)).toBe(false);
    expect(visibleState(third, doc)).toEqual(visibleState(full, doc));
    // And once more after another restart.
    expect(visibleState(await openReplica(d, { store }), doc)).toEqual(visibleState(full, doc));
  });

  it('[SNAP-8][SNAP-11] a calendar started before SNAP-11 (no stored registers) refuses a rebuild, not guesses it', async () => {
    const { doc, a, b, plain } = await started();
    const { createMemoryStore } = await import('./memory-store.ts');
    const store = createMemoryStore();
    const d = testDevice('st-d');
    await (await openReplica(d, { store })).startFromSnapshot(plain);
    // What an older build stored: the mark without a base count, and no base records.
    const loaded = (await store.loadDoc(doc))!;
    const { base: _count, ...mark } = loaded.doc.snapshot!;
    await store.commit({ doc, docRecord: { ...loaded.doc, snapshot: mark }, base: [] });
    const again = await openReplica(d, { store });
    await b.write(doc, E1, title('b, concurrently with its removal'));
    await a.removeMember(doc, pubOf(testDevice('st-b')));
    await syncOps(b, again, doc);
    const remove = (await a.listOps(doc, 0, 1000)).at(-1)!;
    const r = await again.receive(remove.bytes);
    expect(r.status).toBe('rejected');
    expect(r.error?.code).toBe('Unsupported');
    expect(r.error?.message).toContain('SNAP-8');
    expect(again.members(doc).has(b.deviceId!)).toBe(true);
  });

  it('[SNAP-11] base records that do not match the mark are a Storage error, not a silent loss', async () => {
    const { doc, plain } = await started();
    const { createMemoryStore } = await import('./memory-store.ts');
    const store = createMemoryStore();
    const d = testDevice('st-d');
    const r = await openReplica(d, { store });
    await r.startFromSnapshot(plain);
    // Copy-on-write: no base record until an entity changes; then its snapshot registers are kept.
    expect((await store.loadDoc(doc))!.base).toBeUndefined();
    await r.write(doc, E1, title('after the start'));
    const loaded = (await store.loadDoc(doc))!;
    expect(loaded.base?.map((e) => e.entity)).toEqual([E1]);
    expect(loaded.doc.snapshot?.base).toBe(1);
    expect(loaded.base![0]!.registers).toEqual(
      decodeSnapshot(plain).entities.find((e) => e.entity === E1)!.registers,
    );
    await store.commit({ doc, baseReset: true });
    await expect(openReplica(d, { store })).rejects.toMatchObject({ code: 'Storage' });
  });

  it('[SNAP-6] a calendar in compliance mode does not start from a snapshot', async () => {
    const t = await team(['cmp-a']);
    const a = t.reps[0]!;
    await a.write(t.doc, '00'.repeat(16) as EntityId, [{ field: 4, value: new Uint8Array([1]) }]);
    const plain = await a.snapshot(t.doc);
    const fresh = await openReplica(testDevice('cmp-a'));
    await expect(fresh.startFromSnapshot(plain)).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect((await lastOp(a, t.doc)).id as OpId).toBeTruthy();
  });
});
