// Crash safety of re-basing a diverged calendar over IndexedDB (docs/PROTOCOL.md SNAP-18,
// SNAP-19, SNAP-13, RT-1): the re-base is one store commit, so a failure at any request of it
// (a quota error, the page closed: the transaction never commits) leaves the calendar fully as
// before, after a restart too, and it can re-base again; a success leaves it fully after. The
// store refuses the commit while an own op of the calendar is not acknowledged, so nothing a user
// saved is lost even if a host re-based early. Run over fake-indexeddb, failing each delete and
// put of the commit in turn.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../engine/bytes.ts';
import { EventField } from '../engine/calendar.ts';
import { syncOps, team } from '../engine/hostile.testkit.ts';
import type { DocId, EntityId } from '../engine/ids.ts';
import type { Replica } from '../engine/replica.ts';
import { visibleState } from '../engine/snapshot.testkit.ts';
import { deviceKeys, openReplica, type TestDevice } from '../engine/testkit.testkit.ts';
import { failing } from './idb-faults.testkit.ts';
import { type IdbStore, openIdbStore } from './idb-store.ts';

const E1 = '91'.repeat(16) as EntityId;
const E2 = '92'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

interface World {
  doc: DocId;
  dev: TestDevice;
  a: Replica;
  plain: Uint8Array;
  /** c's own op, made after its start and uploaded to a. */
  own: Uint8Array;
  /** Every op a holds (b's offline ones included), in a's apply order. */
  all: Uint8Array[];
}

/** b edits offline; c starts from a's snapshot, writes, and then sees b's ops (which it refuses). */
async function world(): Promise<World> {
  const t = await team(['rc-a', 'rc-b', 'rc-c']);
  const [a, b] = t.reps as [Replica, Replica, Replica];
  await a.write(t.doc, E1, title('a before'));
  await syncOps(a, b, t.doc);
  await b.write(t.doc, E1, title('b offline'));
  await b.write(t.doc, E2, title('b offline, new'));
  for (let i = 0; i < 3; i++) await a.write(t.doc, E1, title(`a ${i}`));
  const plain = await a.snapshot(t.doc);
  const c = await openReplica(t.devs[2]!);
  await c.startFromSnapshot(plain);
  const own = (await c.write(t.doc, E2, title('c after its start'))).bytes;
  await syncOps(c, a, t.doc);
  await syncOps(b, a, t.doc);
  const all = (await a.listOps(t.doc, 0, 100_000)).map((o) => o.bytes);
  return { doc: t.doc, dev: t.devs[2]!, a, plain, own, all };
}

/** c over IndexedDB, diverged: started from the snapshot, its own op acknowledged, b's ops refused. */
async function diverged(
  w: World,
  factory: IDBFactory,
  name: string,
): Promise<{ c: Replica; store: IdbStore }> {
  const store = await openIdbStore({ name, factory, durability: 'relaxed' });
  await store.saveDevice({ publicKey: deviceKeys(w.dev).signer.publicKey, secret: w.dev.secret });
  const c = await openReplica(w.dev, { store });
  await c.startFromSnapshot(w.plain);
  expect((await c.receive(w.own)).status).toBe('applied');
  await c.receiveBatch(w.all);
  expect(c.snapshotRefusals(w.doc)).toBeGreaterThan(0);
  return { c, store };
}

/** A refill of `doc` beside `c`: every op a holds. */
async function refill(c: Replica, w: World): Promise<Replica> {
  const s = c.scratch();
  await s.receiveBatch(w.all);
  return s;
}

async function acknowledgeAll(store: IdbStore, doc: DocId): Promise<void> {
  const own = await store.listOutbox(doc);
  await store.acknowledge(
    doc,
    own.map((o) => o.id),
  );
}

describe('re-basing a diverged calendar survives a crash at any step', () => {
  it('[SNAP-19][SNAP-13] IndexedDB refuses the re-base while an own op is unacknowledged: nothing changes, and it goes through once acknowledged', async () => {
    const w = await world();
    const factory = new IDBFactory();
    const { c, store } = await diverged(w, factory, 'outbox');
    const before = visibleState(c, w.doc);
    expect(await store.countOutbox()).toBeGreaterThan(0);
    await expect(c.rebaseFrom(w.doc, await refill(c, w))).rejects.toThrow(/not yet acknowledged/);
    expect(visibleState(c, w.doc)).toEqual(before);
    store.close();
    const again = await openReplica(w.dev, {
      store: await openIdbStore({ name: 'outbox', factory, durability: 'relaxed' }),
    });
    expect(visibleState(again, w.doc)).toEqual(before);
    const store2 = await openIdbStore({ name: 'outbox', factory, durability: 'relaxed' });
    await acknowledgeAll(store2, w.doc);
    store2.close();
    const r = await openReplica(w.dev, {
      store: await openIdbStore({ name: 'outbox', factory, durability: 'relaxed' }),
    });
    await r.rebaseFrom(w.doc, await refill(r, w));
    expect(visibleState(r, w.doc)).toEqual(visibleState(w.a, w.doc));
  });

  it('[SNAP-18][SNAP-19][RT-1] a failure at every delete and put of the re-base commit leaves the calendar fully before (after a restart too); a success is fully after', async () => {
    const w = await world();
    const expected = visibleState(w.a, w.doc);
    // The successful run.
    const okFactory = new IDBFactory();
    const ok = await diverged(w, okFactory, 'ok');
    await acknowledgeAll(ok.store, w.doc);
    const before = visibleState(ok.c, w.doc);
    expect(before).not.toEqual(expected);
    await ok.c.rebaseFrom(w.doc, await refill(ok.c, w));
    expect(visibleState(ok.c, w.doc)).toEqual(expected);
    ok.store.close();
    const reopened = await openReplica(w.dev, {
      store: await openIdbStore({ name: 'ok', factory: okFactory, durability: 'relaxed' }),
    });
    expect(visibleState(reopened, w.doc)).toEqual(expected);
    // Every request of the commit fails in turn.
    let trials = 0;
    for (const method of ['delete', 'put'] as const) {
      for (let k = 1; ; k++) {
        const factory = new IDBFactory();
        const { c, store } = await diverged(w, factory, 'crash');
        await acknowledgeAll(store, w.doc);
        const scratch = await refill(c, w);
        const err = await failing(method, k, () => c.rebaseFrom(w.doc, scratch)).then(
          () => 'committed',
          (e: unknown) => e,
        );
        if (err === 'committed') {
          expect(visibleState(c, w.doc)).toEqual(expected);
          break; // k is past the commit's last request of this kind
        }
        trials++;
        expect(err).toMatchObject({ code: 'Storage' });
        expect(visibleState(c, w.doc)).toEqual(before);
        store.close();
        const again = await openReplica(w.dev, {
          store: await openIdbStore({ name: 'crash', factory, durability: 'relaxed' }),
        });
        expect(visibleState(again, w.doc)).toEqual(before);
        // It diverged still (b's ops arrive again and are refused) and re-bases now.
        await again.receiveBatch(w.all);
        expect(again.snapshotRefusals(w.doc)).toBeGreaterThan(0);
        await again.rebaseFrom(w.doc, await refill(again, w));
        expect(visibleState(again, w.doc)).toEqual(expected);
      }
    }
    expect(trials).toBeGreaterThan(5);
  }, 180_000);
});
