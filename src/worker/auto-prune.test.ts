// The host's pruning (docs/PROTOCOL.md SNAP-16) over real replicas: it prunes to the newest
// certified frontier once every member has certified it, waits (and says for whom) before, and
// never prunes a calendar in compliance mode.

import { describe, expect, it } from 'vitest';
import { syncAll, syncOps, team, userView } from '../engine/hostile.testkit.ts';
import {
  CALENDAR_ENTITY,
  CalendarField,
  type EntityId,
  EventField,
  type Replica,
  utf8,
} from '../engine/index.ts';
import { AutoPrune } from './auto-prune.ts';

const E1 = '71'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

function pruner(r: Replica) {
  const errors: unknown[] = [];
  const p = new AutoPrune({ replica: r, caughtUp: () => true, onError: (_d, e) => errors.push(e) });
  return { p, errors };
}

/** a seals; every listed device endorses it (a itself included, to certify); all endorsements meet. */
async function sealAndEndorse(reps: Replica[], doc: string, endorsers: Replica[]) {
  const s = await reps[0]!.sealSnapshot(doc as never);
  const ends: Uint8Array[] = [];
  for (const r of endorsers) ends.push(await r.endorseSnapshot(s.manifest, s.chunks));
  for (const r of reps) for (const e of ends) await r.receiveEndorsement(e);
}

describe('pruning in the host', () => {
  it('[SNAP-16] prunes to the certified frontier on every device once all members certified, showing the same', async () => {
    const t = await team(['ap-a', 'ap-b']);
    const [a, b] = t.reps as [Replica, Replica];
    for (let i = 0; i < 20; i++) await (i % 2 ? a : b).write(t.doc, E1, title(`v${i}`));
    await syncAll([a, b], t.doc);
    const pa = pruner(a);
    await pa.p.run();
    expect(pa.p.pruned).toBe(0); // nothing certified yet
    await sealAndEndorse([a, b], t.doc, [a, b]);
    const before = userView(a, t.doc);
    const held = (await a.listOps(t.doc, 0, 100_000)).length;
    await pa.p.run();
    const pb = pruner(b);
    await pb.p.run();
    expect(pa.errors).toEqual([]);
    expect(pb.errors).toEqual([]);
    expect(pa.p.pruned).toBeGreaterThan(0);
    expect(pb.p.pruned).toBe(pa.p.pruned);
    expect((await a.listOps(t.doc, 0, 100_000)).length).toBe(held - pa.p.pruned);
    expect(userView(a, t.doc)).toEqual(before);
    // Later edits from both sides merge as before, and running again prunes nothing more.
    await a.write(t.doc, E1, title('after, a'));
    await b.write(t.doc, E1, title('after, b'));
    await syncAll([a, b], t.doc);
    expect(userView(a, t.doc)).toEqual(userView(b, t.doc));
    await pa.p.run();
    expect(pa.p.pruned).toBe(pb.p.pruned);
  });

  it('[SNAP-16][SNAP-12] waits, naming the member that has not certified; compliance mode is never pruned', async () => {
    const t = await team(['aq-a', 'aq-b', 'aq-c']);
    const [a, b, c] = t.reps as [Replica, Replica, Replica];
    await a.write(t.doc, E1, title('one'));
    await syncAll([a, b, c], t.doc);
    await sealAndEndorse([a, b], t.doc, [a, b]);
    const pa = pruner(a);
    await pa.p.run();
    expect(pa.p.pruned).toBe(0);
    expect(pa.p.reports.get(t.doc)?.waitingFor).toEqual([c.deviceId]);
    // c writes after seeing the frontier: certified, and a next snapshot is endorsed by all; then a
    // manager turns compliance mode on (no device endorses after that, SNAP-17, CMP-2).
    await syncOps(a, c, t.doc);
    await c.write(t.doc, E1, title('c after'));
    await syncAll([a, b, c], t.doc);
    await sealAndEndorse([a, b, c], t.doc, [a, b, c]);
    await a.write(t.doc, CALENDAR_ENTITY, [{ field: CalendarField.Compliance, value: new Uint8Array([1]) }]);
    await syncAll([a, b, c], t.doc);
    await pa.p.run();
    expect(pa.p.pruned).toBe(0);
    expect(pa.p.reports.get(t.doc)?.blocked).toMatch(/compliance/);
    expect(pa.errors).toEqual([]);
  });

  it('[SNAP-16] a newer certified frontier with one head is tried before an older one with two (the host stayed on the older, refused for good)', async () => {
    const t = await team(['ar-a', 'ar-b', 'ar-c']);
    const [a, b, c] = t.reps as [Replica, Replica, Replica];
    for (let i = 0; i < 10; i++) await a.write(t.doc, E1, title(`a ${i}`));
    await syncAll([a, b, c], t.doc);
    // Two heads: a and b write concurrently; a's snapshot there, endorsed by a and b.
    await a.write(t.doc, E1, title('a, concurrently'));
    await b.write(t.doc, E1, title('b, concurrently'));
    await syncAll([a, b], t.doc);
    expect(a.heads(t.doc).length).toBe(2);
    await sealAndEndorse([a, b, c], t.doc, [a, b]);
    // c wrote offline meanwhile: that first snapshot never prunes (concurrent ops).
    await c.write(t.doc, E1, title('c, offline'));
    await syncAll([a, b, c], t.doc);
    const pa = pruner(a);
    await pa.p.run();
    expect(pa.p.reports.get(t.doc)?.blocked).toMatch(/without the whole frontier/);
    // One head now (a merges everything); a second snapshot, certified by every member.
    await a.write(t.doc, E1, title('a merges'));
    await syncAll([a, b, c], t.doc);
    expect(a.heads(t.doc).length).toBe(1);
    await sealAndEndorse([a, b, c], t.doc, [a, b, c]);
    expect((await a.certifiedFrontiers(t.doc))[0]).toEqual(a.heads(t.doc));
    await pa.p.run();
    expect(pa.errors).toEqual([]);
    expect(pa.p.pruned).toBeGreaterThan(0);
  });
});
