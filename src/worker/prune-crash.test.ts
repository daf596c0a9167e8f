// Crash safety of pruning and re-basing (docs/PROTOCOL.md SNAP-12, SNAP-13, RT-1): pruning is
// one store commit, so a failure at any request of it (a quota error, the page closed: the
// transaction never commits) leaves the calendar fully as before, and a restart works and can
// prune again; a success leaves it fully after. Run over fake-indexeddb, failing each delete and
// put of the commit in turn, and over the memory store, crashing before and after its commit.
// The store's own check: an op of this device the relay has not acknowledged is never deleted.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { utf8 } from '../engine/bytes.ts';
import { EventField } from '../engine/calendar.ts';
import { syncAll, syncOps, team } from '../engine/hostile.testkit.ts';
import type { DocId, EntityId } from '../engine/ids.ts';
import { createMemoryStore } from '../engine/memory-store.ts';
import type { Replica } from '../engine/replica.ts';
import { visibleState } from '../engine/snapshot.testkit.ts';
import type { EngineStore } from '../engine/store.ts';
import { deviceKeys, openReplica, type TestDevice } from '../engine/testkit.testkit.ts';
import { failing } from './idb-faults.testkit.ts';
import { openIdbStore } from './idb-store.ts';

const E1 = '81'.repeat(16) as EntityId;
const E2 = '82'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

/** A calendar a prunes to a stable snapshot: the ops, in a's apply order, and the snapshot. */
async function prunable(): Promise<{ doc: DocId; dev: TestDevice; ops: Uint8Array[]; plain: Uint8Array }> {
  const t = await team(['pc-a', 'pc-b', 'pc-c']);
  const [a, b, c] = t.reps as [Replica, Replica, Replica];
  for (let i = 0; i < 6; i++) {
    await a.write(t.doc, E1, title(`a ${i}`));
    await b.write(t.doc, E2, title(`b ${i}`));
  }
  await c.write(t.doc, E1, title('c'));
  await syncAll([a, b, c], t.doc);
  const plain = await a.snapshot(t.doc);
  await b.write(t.doc, E2, title('b certifies'));
  await c.write(t.doc, E1, title('c certifies'));
  await syncOps(b, a, t.doc);
  await syncOps(c, a, t.doc);
  const ops = (await a.listOps(t.doc, 0, 100_000)).map((o) => o.bytes);
  return { doc: t.doc, dev: t.devs[0]!, ops, plain };
}

async function loaded(dev: TestDevice, store: EngineStore, ops: Uint8Array[]): Promise<Replica> {
  const r = await openReplica(dev, { store });
  for (const o of ops) expect((await r.receive(o)).status).toBe('applied');
  return r;
}

const count = async (r: Replica, doc: DocId) => (await r.listOps(doc, 0, 100_000)).length;

describe('pruning survives a crash at any step', () => {
  it('[SNAP-12][RT-1] IndexedDB: a failure at every delete and put of the prune commit leaves the calendar fully before; a restart prunes', async () => {
    const { doc, dev, ops, plain } = await prunable();
    // The successful run: its state after, and how many requests of each kind the commit makes.
    const okFactory = new IDBFactory();
    const okStore = await openIdbStore({ name: 'ok', factory: okFactory, durability: 'relaxed' });
    const ok = await loaded(dev, okStore, ops);
    const before = visibleState(ok, doc);
    const all = await count(ok, doc);
    const deleted = await ok.prune(doc, plain);
    expect(deleted).toBeGreaterThan(5);
    const after = visibleState(ok, doc);
    expect(after).toEqual(before);
    const reopened = await openReplica(dev, {
      store: await openIdbStore({ name: 'ok', factory: okFactory, durability: 'relaxed' }),
    });
    expect(visibleState(reopened, doc)).toEqual(after);
    expect(await count(reopened, doc)).toBe(all - deleted);
    // Every request of the commit fails in turn (deletes: the ops, the old base; puts: doc, base).
    let trials = 0;
    for (const method of ['delete', 'put'] as const) {
      for (let k = 1; ; k++) {
        const factory = new IDBFactory();
        const store = await openIdbStore({ name: 'crash', factory, durability: 'relaxed' });
        const r = await loaded(dev, store, ops);
        const err = await failing(method, k, () => r.prune(doc, plain)).catch((e: unknown) => e);
        if (typeof err === 'number') break; // k is past the commit's last request of this kind
        trials++;
        expect(err).toMatchObject({ code: 'Storage' });
        expect(visibleState(r, doc)).toEqual(before);
        expect(await count(r, doc)).toBe(all);
        store.close();
        const again = await openReplica(dev, {
          store: await openIdbStore({ name: 'crash', factory, durability: 'relaxed' }),
        });
        expect(visibleState(again, doc)).toEqual(before);
        expect(await count(again, doc)).toBe(all);
        expect(await again.prune(doc, plain)).toBe(deleted);
        expect(visibleState(again, doc)).toEqual(after);
      }
    }
    expect(trials).toBeGreaterThan(deleted);
  }, 120_000);

  it('[SNAP-12] memory store: a crash before the commit is fully before, after it fully after, and both restart', async () => {
    const { doc, dev, ops, plain } = await prunable();
    let crash = true;
    const store = createMemoryStore({
      beforeCommit: (b) => {
        if (crash && b.prune !== undefined) throw new Error('the page was closed');
      },
    });
    const r = await loaded(dev, store, ops);
    const before = visibleState(r, doc);
    const all = await count(r, doc);
    await expect(r.prune(doc, plain)).rejects.toMatchObject({ code: 'Storage' });
    const restarted = await openReplica(dev, { store });
    expect(visibleState(restarted, doc)).toEqual(before);
    expect(await count(restarted, doc)).toBe(all);
    crash = false;
    const deleted = await restarted.prune(doc, plain);
    // Closed right after the commit, before anything in memory: the restart is fully after.
    const after = await openReplica(dev, { store });
    expect(visibleState(after, doc)).toEqual(before);
    expect(await count(after, doc)).toBe(all - deleted);
    expect(await after.pruneStatus(doc, plain)).toMatchObject({ ready: true, prunable: 0 });
  });

  it('[SNAP-12][SNAP-13] IndexedDB never deletes an op of this device the relay has not acknowledged', async () => {
    const { doc, dev, ops, plain } = await prunable();
    const factory = new IDBFactory();
    const store = await openIdbStore({ name: 'outbox', factory, durability: 'relaxed' });
    await store.saveDevice({ publicKey: deviceKeys(dev).signer.publicKey, secret: dev.secret });
    // a's ops arrive as its own: each is in the outbox until the relay acknowledges it.
    const r = await loaded(dev, store, ops);
    const before = visibleState(r, doc);
    await expect(r.prune(doc, plain)).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(r.prune(doc, plain)).rejects.toThrow(/not yet acknowledged/);
    // A reset (SNAP-13's commit) is refused by the store for the same reason.
    await expect(store.commit({ doc, reset: true })).rejects.toThrow(/not yet acknowledged/);
    expect(visibleState(r, doc)).toEqual(before);
    expect(visibleState(await openReplica(dev, { store }), doc)).toEqual(before);
    // Acknowledged: now it prunes.
    const own = await store.listOutbox(doc);
    await store.acknowledge(
      doc,
      own.map((o) => o.id),
    );
    expect(await r.prune(doc, plain)).toBeGreaterThan(0);
    expect(visibleState(r, doc)).toEqual(before);
  });
});

describe('[RT-6] the base store (SNAP-11)', () => {
  it('[RT-6][SNAP-11] a version 3 database upgrades keeping its calendars, and then stores a base', async () => {
    const { doc, dev, ops } = await prunable();
    const factory = new IDBFactory();
    const v3 = await openIdbStore({ name: 'up', factory, durability: 'relaxed', version: 3 });
    const r = await loaded(dev, v3, ops);
    const before = visibleState(r, doc);
    v3.close();
    const v4 = await openIdbStore({ name: 'up', factory, durability: 'relaxed' });
    const again = await openReplica(dev, { store: v4 });
    expect(visibleState(again, doc)).toEqual(before);
    expect((await v4.loadDoc(doc))?.base).toBeUndefined();
    const entities = again.entities(doc);
    await v4.commit({ doc, base: entities });
    expect((await v4.loadDoc(doc))?.base?.map((e) => e.entity).sort()).toEqual(
      entities.map((e) => e.entity).sort(),
    );
  });
});
