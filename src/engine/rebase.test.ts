// Re-basing a calendar on a snapshot (docs/PROTOCOL.md SNAP-13): a replica whose heads are behind
// a snapshot replaces its copy by it in one commit and then shows what a replica with every op
// shows; one holding anything the snapshot does not cover (its own unsynced op above all) is
// refused and unchanged, so nothing a user saved is lost.

import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { syncAll, syncOps, team, titleOf } from './hostile.testkit.ts';
import type { EntityId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import type { Replica } from './replica.ts';
import { visibleState } from './snapshot.testkit.ts';
import { openReplica, testDevice } from './testkit.testkit.ts';

const E1 = '71'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

/** c stops syncing after its last write; a and b go on; a snapshot at a's heads. */
async function behind() {
  const t = await team(['rb-a', 'rb-b', 'rb-c']);
  const [a, b] = t.reps as [Replica, Replica, Replica];
  const store = createMemoryStore();
  const c = await openReplica(t.devs[2]!, { store });
  await syncOps(a, c, t.doc);
  await c.write(t.doc, E1, title('c, before it left'));
  await syncAll([a, b, c], t.doc);
  for (let i = 0; i < 4; i++) {
    await a.write(t.doc, E1, title(`a ${i}`));
    await b.write(t.doc, E1, title(`b ${i}`));
    await syncAll([a, b], t.doc);
  }
  const plain = await a.snapshot(t.doc);
  return { ...t, a, b, c, store, plain };
}

describe('re-basing on a snapshot', () => {
  it('[SNAP-13] a replica behind the snapshot replaces its copy by it, keeps its chain, and then ends like a full replica', async () => {
    const { doc, devs, a, b, c, store, plain } = await behind();
    const cCtr = (await c.listOps(doc, 0, 1000)).filter((o) => o.author === c.deviceId).length;
    await c.rebase(doc, plain);
    expect(visibleState(c, doc)).toEqual(visibleState(a, doc));
    // Its own chain continues from the snapshot; the tail and its new ops apply everywhere.
    await a.write(doc, E1, title('a after'));
    await syncOps(a, c, doc);
    const mine = await c.write(doc, E1, title('c after the rebase'));
    expect((await c.getOps(doc, [mine.id]))[0]!.ctr).toBe(cCtr + 1);
    await syncAll([a, b], doc);
    await syncOps(c, a, doc);
    await syncOps(c, b, doc);
    expect(titleOf(a, doc, E1)).toBe('c after the rebase');
    expect(visibleState(c, doc)).toEqual(visibleState(a, doc));
    // Across a restart too.
    expect(visibleState(await openReplica(devs[2]!, { store }), doc)).toEqual(visibleState(a, doc));
  });

  it('[SNAP-13] refused, changing nothing, while the replica holds an op of its own (or anyone) the snapshot does not cover', async () => {
    const { doc, b, c, plain } = await behind();
    await c.write(doc, E1, title('c, offline and unsynced'));
    const before = visibleState(c, doc);
    await expect(c.rebase(doc, plain)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(c.rebase(doc, plain)).rejects.toThrow(/SNAP-13/);
    expect(visibleState(c, doc)).toEqual(before);
    expect(titleOf(c, doc, E1)).toBe('c, offline and unsynced');
    // Someone else's op it holds that the snapshot lacks: refused as well.
    await b.write(doc, E1, title('b, after the snapshot'));
    const d = await openReplica(testDevice('rb-a'));
    await syncOps(b, d, doc);
    await expect(d.rebase(doc, plain)).rejects.toThrow(/not covered by the snapshot/);
    expect(titleOf(d, doc, E1)).toBe('b, after the snapshot');
  });
});
