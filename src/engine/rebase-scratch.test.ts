// Re-basing a diverged calendar from a refilled copy (docs/PROTOCOL.md SNAP-18): a replica
// started from a snapshot refuses an offline member's concurrent ops (SNAP-7) and says so
// (`snapshotRefusals`); refilled beside it from every op and re-based, it shows exactly what a
// replica with every op shows, keeps its chain and its keys, and is refused (unchanged) while it
// holds an own op the refill lacks.

import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { syncAll, syncOps, team, titleOf } from './hostile.testkit.ts';
import type { DocId, EntityId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import type { Replica } from './replica.ts';
import { visibleState } from './snapshot.testkit.ts';
import { openReplica, testDevice } from './testkit.testkit.ts';

const E1 = '81'.repeat(16) as EntityId;
const E2 = '82'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

/** Every op `from` holds, given to `to` in `from`'s apply order. */
async function refill(from: Replica, to: Replica, doc: DocId): Promise<void> {
  await to.receiveBatch((await from.listOps(doc, 0, 100_000)).map((r) => r.bytes));
}

/** a and b hold the history; b goes offline and edits; c starts from a's snapshot after b left. */
async function diverging() {
  const t = await team(['rs-a', 'rs-b', 'rs-c']);
  const [a, b] = t.reps as [Replica, Replica, Replica];
  await a.write(t.doc, E1, title('a before'));
  await syncAll([a, b], t.doc);
  // b is offline from here: its edits are concurrent with the snapshot a makes.
  await b.write(t.doc, E1, title('b offline'));
  await b.write(t.doc, E2, title('b offline, new event'));
  for (let i = 0; i < 3; i++) await a.write(t.doc, E1, title(`a ${i}`));
  const store = createMemoryStore();
  const c = await openReplica(t.devs[2]!, { store });
  await c.startFromSnapshot(await a.snapshot(t.doc));
  await c.write(t.doc, E2, title('c after its start'));
  await syncOps(c, a, t.doc);
  return { ...t, a, b, c, store };
}

describe('re-basing from a refilled copy', () => {
  it('[SNAP-18] a replica started from a snapshot counts the returning member’s ops it refuses; refilled and re-based it equals a full replica', async () => {
    const { doc, devs, a, b, c, store } = await diverging();
    expect(c.snapshotRefusals(doc)).toBe(0);
    // b returns: a (every op) applies its ops; c refuses them (SNAP-7) and says so.
    await syncOps(b, a, doc);
    await syncOps(a, b, doc);
    await syncOps(a, c, doc);
    expect(c.snapshotRefusals(doc)).toBeGreaterThan(0);
    expect(c.root(doc)).not.toBe(a.root(doc));

    const scratch = c.scratch();
    await refill(a, scratch, doc);
    await c.rebaseFrom(doc, scratch);
    expect(c.snapshotRefusals(doc)).toBe(0);
    expect(visibleState(c, doc)).toEqual(visibleState(a, doc));
    expect(visibleState(c, doc)).toEqual(visibleState(b, doc));
    // Its chain continues, it still reads and writes, and it survives a restart.
    await c.write(doc, E1, title('c after the re-base'));
    await syncOps(c, a, doc);
    await syncOps(c, b, doc);
    expect(titleOf(a, doc, E1)).toBe('c after the re-base');
    expect(visibleState(c, doc)).toEqual(visibleState(a, doc));
    expect(visibleState(await openReplica(devs[2]!, { store }), doc)).toEqual(visibleState(a, doc));
  });

  it('[SNAP-18][SNAP-13] a device that joined by invite (INV-1) reads the calendar on after the re-base and after a restart', async () => {
    const t = await team(['rk-a', 'rk-b']);
    const a = t.reps[0]!;
    const { op, secret } = await a.createInvite(t.doc, 4_000_000_000_000_000);
    const store = createMemoryStore();
    const dev = testDevice('rk-j');
    const j = await openReplica(dev, { store });
    await refill(a, j, t.doc);
    await j.joinWithInvite(t.doc, op.id, secret);
    await syncOps(j, a, t.doc);
    await a.write(t.doc, E1, title('a, under the key the invite carries'));
    await syncOps(a, j, t.doc);
    expect(titleOf(j, t.doc, E1)).toBe('a, under the key the invite carries');
    const scratch = j.scratch();
    await refill(a, scratch, t.doc);
    await j.rebaseFrom(t.doc, scratch);
    expect(visibleState(j, t.doc)).toEqual(visibleState(a, t.doc));
    // A later write under that key still opens here, and after a restart.
    await a.write(t.doc, E1, title('a, after the re-base'));
    await syncOps(a, j, t.doc);
    expect(titleOf(j, t.doc, E1)).toBe('a, after the re-base');
    const again = await openReplica(dev, { store });
    expect(titleOf(again, t.doc, E1)).toBe('a, after the re-base');
    expect(visibleState(again, t.doc)).toEqual(visibleState(a, t.doc));
  });

  it('[SNAP-18] refused, changing nothing, while c holds an own op the refill lacks, or the refill refused ops too', async () => {
    const { doc, a, b, c } = await diverging();
    await syncOps(b, a, doc);
    await syncOps(a, c, doc);
    const scratch = c.scratch();
    await refill(a, scratch, doc);
    // An edit on c after the refill was taken: not covered, so nothing happens.
    await c.write(doc, E2, title('c, not uploaded yet'));
    const before = visibleState(c, doc);
    await expect(c.rebaseFrom(doc, scratch)).rejects.toThrow(/SNAP-13/);
    expect(visibleState(c, doc)).toEqual(before);
    expect(titleOf(c, doc, E2)).toBe('c, not uploaded yet');
    // A refill that started from the same stale snapshot refuses b's ops itself: not used.
    const stale = c.scratch();
    await stale.startFromSnapshot(await c.snapshot(doc));
    await refill(a, stale, doc);
    expect(stale.snapshotRefusals(doc)).toBeGreaterThan(0);
    await expect(c.rebaseFrom(doc, stale)).rejects.toThrow(/SNAP-18/);
    // An empty refill: refused.
    await expect(c.rebaseFrom(doc, c.scratch())).rejects.toThrow(/SNAP-18/);
    expect(visibleState(c, doc)).toEqual(before);
  });
});
