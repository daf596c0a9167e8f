// Snapshots (docs/PROTOCOL.md SNAP-*): making them, their one encoding, and verification by
// recompute-and-compare against a forging member. The property tests are in
// snapshot-property.test.ts.

import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { EngineError } from './errors.ts';
import { lastOp, patchOp, pubOf, syncOps, team } from './hostile.testkit.ts';
import type { DeviceId, EntityId, OpId } from './ids.ts';
import { openOp } from './op.ts';
import { decodeSnapshot, encodeSnapshot, type SnapshotState } from './snapshot-codec.ts';
import { snapshotHash } from './snapshot-verify.ts';

const E1 = '41'.repeat(16) as EntityId;
const E2 = '42'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

/** a, b, c in one calendar; a and b write the same title concurrently (a conflict), c deletes E2. */
async function world(prefix = 'snap') {
  const t = await team([`${prefix}-a`, `${prefix}-b`, `${prefix}-c`]);
  const [a, b, c] = t.reps as [(typeof t.reps)[0], (typeof t.reps)[0], (typeof t.reps)[0]];
  await a.write(t.doc, E1, title('from a'));
  await b.write(t.doc, E1, title('from b'));
  await c.write(t.doc, E2, [...title('gone'), { field: EventField.Deleted, value: new Uint8Array([1]) }]);
  for (const x of t.reps) for (const y of t.reps) if (x !== y) await syncOps(x, y, t.doc);
  return { ...t, a, b, c };
}

const mutate = (plain: Uint8Array, f: (s: SnapshotState) => void): Uint8Array => {
  const s = decodeSnapshot(plain);
  f(s);
  return encodeSnapshot(s);
};

describe('snapshots', () => {
  it('[SNAP-2] a snapshot holds tombstones, unknown fields, conflicts, members and roles, keys, chain positions and evidence', async () => {
    const t = await team(['s2-a', 's2-b', 's2-c']);
    const [a, b] = t.reps as [(typeof t.reps)[0], (typeof t.reps)[0]];
    const [, db, dc] = t.devs;
    // A tombstone, a field this build does not know, a demotion and a removal.
    await a.write(t.doc, E1, [
      { field: EventField.Location, value: null },
      { field: 200, value: utf8('opaque') },
    ]);
    await a.setRole(t.doc, pubOf(db!), 2);
    // c equivocates: two ops with one (author, ctr).
    const head = await lastOp(a, t.doc);
    const twins = ['x', 'y'].map((v, i) =>
      patchOp(
        { by: dc!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 10 + i, parents: [head.id] },
        t.key,
        v,
        E2,
      ),
    );
    for (const o of twins) await a.receive(o);
    await a.removeMember(t.doc, pubOf(dc!));
    await syncOps(a, b, t.doc);
    const s = decodeSnapshot(await a.snapshot(t.doc));
    const e1 = s.entities.find((e) => e.entity === E1)!;
    expect(e1.registers.find((r) => r.field === EventField.Location)!.writes[0]!.value).toBeNull();
    expect(toHex(e1.registers.find((r) => r.field === 200)!.writes[0]!.value!)).toBe(toHex(utf8('opaque')));
    // Both equivocating writes are in E2's frontier (a conflict), and the pair is evidence.
    expect(s.entities.find((e) => e.entity === E2)!.registers[0]!.writes).toHaveLength(2);
    expect(s.evidence).toHaveLength(1);
    expect(s.evidence[0]!.ops).toEqual(twins.map((o) => openOp(o).id).sort());
    // Every membership op (adds with their wrapped keys, the SetRole, the Remove) is an anchor.
    const anchors = new Set(s.anchors.map((x) => x.id));
    const log = await a.listOps(t.doc, 0, 1000);
    for (const o of log.filter((x) => x.kind === 2)) expect(anchors.has(o.id)).toBe(true);
    // Each author's chain position: its ops at its highest ctr (both twins for c).
    for (const o of log) {
      const top = Math.max(...log.filter((x) => x.author === o.author).map((x) => x.ctr));
      if (o.ctr === top) expect(anchors.has(o.id)).toBe(true);
    }
    expect(s.frontier).toEqual(a.heads(t.doc));
    // The order is topological: every predecessor of an anchor that is an anchor comes first.
    const at = new Map(s.anchors.map((x, i) => [x.id, i]));
    for (const [i, x] of s.anchors.entries()) {
      const op = openOp(x.bytes);
      for (const p of [...op.parents, ...(op.prev === null ? [] : [op.prev])])
        if (at.has(p)) expect(at.get(p)!).toBeLessThan(i);
    }
  });

  it('[SNAP-3] replicas holding the same ops make byte-identical snapshots; a conflict stays in it', async () => {
    const { a, b, c, doc } = await world();
    const sa = await a.snapshot(doc);
    expect(toHex(await b.snapshot(doc))).toBe(toHex(sa));
    expect(toHex(await c.snapshot(doc))).toBe(toHex(sa));
    const s = decodeSnapshot(sa);
    const e1 = s.entities.find((e) => e.entity === E1)!;
    expect(e1.registers.find((r) => r.field === EventField.Title)!.writes).toHaveLength(2);
    expect(s.frontier).toEqual(a.heads(doc));
    expect(s.anchors.some((x) => x.id === a.heads(doc)[0])).toBe(true);
  });

  it('[SNAP-3] a snapshot at an earlier frontier is recomputed from the covered ops alone', async () => {
    const { a, b, doc } = await world();
    const frontier = a.heads(doc);
    const early = await a.snapshot(doc);
    await b.write(doc, E1, title('later'));
    await syncOps(b, a, doc);
    expect(toHex(await a.snapshot(doc, { frontier }))).toBe(toHex(early));
    expect(toHex(await b.snapshot(doc, { frontier }))).toBe(toHex(early));
    expect(toHex(await a.snapshot(doc))).not.toBe(toHex(early));
  });

  it('[SNAP-1] a snapshot names the previous snapshot by its hash', async () => {
    const { a, doc } = await world();
    const first = await a.snapshot(doc);
    const second = await a.snapshot(doc, { previous: snapshotHash(first) });
    expect(toHex(decodeSnapshot(second).previous)).toBe(toHex(snapshotHash(first)));
    await expect(a.snapshot(doc, { previous: new Uint8Array(5) })).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
  });

  it('[SNAP-4] one encoding: decoding and encoding give the same bytes; any other form is Malformed', async () => {
    const { a, doc } = await world();
    const plain = await a.snapshot(doc);
    expect(toHex(encodeSnapshot(decodeSnapshot(plain)))).toBe(toHex(plain));
    // Reordered entities, a truncated buffer, random bytes: a clear error, never a crash.
    const swapped = mutate(plain, (s) => s.entities.reverse());
    expect(() => decodeSnapshot(swapped)).toThrow(EngineError);
    for (const bad of [plain.subarray(0, plain.length - 9), new Uint8Array(40).fill(7), new Uint8Array(0)])
      expect(() => decodeSnapshot(bad)).toThrow(EngineError);
  });

  it('[SNAP-4] random corruption of a snapshot gives a state or a clear error, never a crash', async () => {
    const { a, doc } = await world();
    const plain = await a.snapshot(doc);
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const bad = plain.slice();
      const at = (i * 7919) % bad.length;
      bad[at] = bad[at]! ^ (1 + (i % 255));
      try {
        decodeSnapshot(bad);
      } catch (e) {
        expect(e).toBeInstanceOf(EngineError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(0);
  });

  it('[SNAP-5] an honest snapshot verifies on every replica holding its ops', async () => {
    const { a, b, c, doc } = await world();
    const plain = await a.snapshot(doc);
    for (const r of [a, b, c]) expect((await r.verifySnapshot(doc, plain, a.deviceId!)).status).toBe('valid');
  });

  it('[SNAP-5] a forged snapshot (a register changed, a member added, a conflict hidden) is evidence', async () => {
    const { a, b, c, doc } = await world();
    const plain = await a.snapshot(doc);
    const signer = c.deviceId as DeviceId;
    const changed = mutate(plain, (s) => {
      const w = s.entities.find((e) => e.entity === E1)!.registers[0]!.writes[0]!;
      w.value = utf8('forged');
    });
    const hidden = mutate(plain, (s) => {
      const r = s.entities.find((e) => e.entity === E1)!.registers.find((x) => x.field === EventField.Title)!;
      r.writes = r.writes.slice(0, 1);
    });
    // A member added: a membership op of another calendar (validly signed) slipped in as an anchor.
    const other = await world('other');
    const foreign = (await other.a.listOps(other.doc, 0, 10)).find((o) => o.kind === 2 && o.ctr > 1)!;
    const added = mutate(plain, (s) => {
      s.anchors.push({ id: foreign.id, bytes: foreign.bytes, vv: foreign.vv, mfront: [], body: 'applied' });
      s.anchors.sort((x, y) => depth(x.vv) - depth(y.vv) || (x.id < y.id ? -1 : 1));
    });
    const stale = mutate(plain, (s) => {
      s.frontier = [...s.frontier, 'ff'.repeat(32) as OpId].sort();
    });
    for (const [forged, part] of [
      [changed, 'entities'],
      [hidden, 'entities'],
      [added, 'anchors'],
    ] as const) {
      const v = await b.verifySnapshot(doc, forged, signer);
      expect(v.status).toBe('forged');
      if (v.status === 'forged') expect(v.evidence.differs).toContain(part);
    }
    expect((await b.verifySnapshot(doc, new Uint8Array([1, 2, 3]), signer)).status).toBe('forged');
    // A frontier naming an op b does not hold: b cannot judge, and accuses nobody.
    expect((await b.verifySnapshot(doc, stale, signer)).status).toBe('unverifiable');
    const ev = b.snapshotEvidence(doc);
    expect(ev).toHaveLength(4);
    expect(ev.every((e) => e.signer === signer)).toBe(true);
    expect(a.snapshotEvidence(doc)).toEqual([]);
    // Nothing about the calendar changed.
    expect(toHex(await b.snapshot(doc))).toBe(toHex(plain));
  });

  it('[SNAP-3] a verify-only replica (the relay) makes no snapshot: it reads no body', async () => {
    const { a, doc } = await world();
    const { openReplica } = await import('./testkit.testkit.ts');
    const relay = await openReplica(undefined);
    await syncOps(a, relay, doc);
    await expect(relay.snapshot(doc)).rejects.toMatchObject({ code: 'NoKey' });
    expect(fromHex(doc)).toHaveLength(16);
  });
});

function depth(vv: Record<string, number>): number {
  let s = 0;
  for (const d in vv) s += vv[d]!;
  return s;
}
