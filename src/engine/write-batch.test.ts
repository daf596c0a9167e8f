import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField, eventFromRecord } from './calendar.ts';
import { createNobleCrypto, type Signer } from './crypto.ts';
import type { EntityId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import { Replica } from './replica.ts';
import type { EngineStore } from './store.ts';
import { deviceKeys, manualClock, openReplica, testDevice } from './testkit.testkit.ts';

const ent = (i: number) => i.toString(16).padStart(32, '0') as EntityId;
const items = (n: number, title = 'Imported') =>
  Array.from({ length: n }, (_, i) => ({
    entity: ent(i + 1),
    writes: [{ field: EventField.Title, value: utf8(`${title} ${i}`) }],
  }));

/** A memory store whose commits can be counted and made to fail. */
function spyStore(): { store: EngineStore; commits: () => number; failNext: () => void } {
  const inner = createMemoryStore();
  let commits = 0;
  let fail = false;
  const store: EngineStore = {
    ...inner,
    loadDevice: () => inner.loadDevice(),
    saveDevice: (d) => inner.saveDevice(d),
    loadClock: () => inner.loadClock(),
    listDocs: () => inner.listDocs(),
    loadDoc: (d) => inner.loadDoc(d),
    getOps: (d, ids) => inner.getOps(d, ids),
    getOpsByChain: (d, a, c) => inner.getOpsByChain(d, a, c),
    listOps: (d, s, l) => inner.listOps(d, s, l),
    async commit(b) {
      if (fail) {
        fail = false;
        throw new Error('quota exceeded');
      }
      commits++;
      return inner.commit(b);
    },
  };
  return { store, commits: () => commits, failNext: () => (fail = true) };
}

describe('writeBatch', () => {
  it('[DAG-11] many entities are one commit; another member applies the ops and converges', async () => {
    const spy = spyStore();
    const r = await openReplica(testDevice('a'), { store: spy.store });
    const { doc } = await r.createCalendar({ name: 'C' });
    const events: number[] = [];
    r.onChange((e) => events.push(e.entities.length));
    const before = spy.commits();
    const ops = await r.writeBatch(doc, items(700));
    expect(ops).toHaveLength(700);
    expect(spy.commits() - before).toBe(1);
    expect(events.reduce((a, b) => a + b, 0)).toBe(700);
    expect(eventFromRecord(r.entity(doc, ent(700))!).title).toBe('Imported 699');
    // A reload from the store sees all of it, and the next write continues the chain.
    const again = await openReplica(testDevice('a'), { store: spy.store });
    expect(again.entities(doc).length).toBe(r.entities(doc).length);
    await again.write(doc, ent(1), [{ field: EventField.Title, value: utf8('after') }]);
    const relay = await openReplica(undefined);
    for (const op of await again.listOps(doc, 0, 10_000))
      expect((await relay.receive(op.bytes)).status).toBe('applied');
    expect(relay.root(doc)).toBe(again.root(doc));
  });

  it('[DAG-11] a cancel mid-batch keeps nothing: no op stored, memory and heads as before, chain intact', async () => {
    const spy = spyStore();
    const r = await openReplica(testDevice('a'), { store: spy.store });
    const { doc } = await r.createCalendar({ name: 'C' });
    const root = r.root(doc);
    const seq = r.seq(doc);
    let changed = 0;
    r.onChange(() => changed++);
    const commits = spy.commits();
    await expect(
      r.writeBatch(doc, items(300), (done) => {
        if (done >= 150) throw new Error('cancelled by the user');
      }),
    ).rejects.toThrow(/cancelled/);
    expect(spy.commits()).toBe(commits);
    expect(changed).toBe(0);
    expect(r.root(doc)).toBe(root);
    expect(r.seq(doc)).toBe(seq);
    expect(r.entity(doc, ent(1))).toBeUndefined();
    expect(await r.listOps(doc, 0, 1000)).toHaveLength(seq);
    // The next write reuses the counter the discarded ops would have had: nothing was handed out.
    await r.write(doc, ent(1), [{ field: EventField.Title, value: utf8('x') }]);
    const relay = await openReplica(undefined);
    for (const op of await r.listOps(doc, 0, 1000))
      expect((await relay.receive(op.bytes)).status).toBe('applied');
    expect(relay.evidence(doc)).toEqual([]);
  });

  it('[DAG-11] a signature that fails while others are in flight keeps nothing: no op stored, no half chain', async () => {
    const d = testDevice('a');
    const keys = deviceKeys(d);
    let calls = 0;
    let failAt = Number.POSITIVE_INFINITY;
    const signer: Signer = {
      publicKey: keys.signer.publicKey,
      sign: async (m) => {
        calls++;
        if (calls === failAt) throw new Error('the signing key is unavailable');
        return keys.signer.sign(m);
      },
    };
    const spy = spyStore();
    const r = await Replica.open({
      store: spy.store,
      crypto: createNobleCrypto(),
      nowUs: manualClock().nowUs,
      random: d.random,
      device: { signer, box: keys.box },
    });
    const { doc } = await r.createCalendar({ name: 'C' });
    const root = r.root(doc);
    const seq = r.seq(doc);
    const commits = spy.commits();
    failAt = calls + 120;
    await expect(r.writeBatch(doc, items(300))).rejects.toThrow(/signing key is unavailable/);
    expect(calls).toBeGreaterThanOrEqual(failAt);
    expect(spy.commits()).toBe(commits);
    expect(r.root(doc)).toBe(root);
    expect(r.seq(doc)).toBe(seq);
    expect(r.entity(doc, ent(1))).toBeUndefined();
    expect(await r.listOps(doc, 0, 1000)).toHaveLength(seq);
    // The next batch reuses the counters: no op of the failed one was ever handed out.
    failAt = Number.POSITIVE_INFINITY;
    expect(await r.writeBatch(doc, items(10, 'After'))).toHaveLength(10);
    const relay = await openReplica(undefined);
    for (const op of await r.listOps(doc, 0, 1000))
      expect((await relay.receive(op.bytes)).status).toBe('applied');
    expect(relay.evidence(doc)).toEqual([]);
    expect(relay.root(doc)).toBe(r.root(doc));
  });

  it('[DAG-11] a failed commit keeps nothing and reports Storage; the replica keeps working', async () => {
    const spy = spyStore();
    const r = await openReplica(testDevice('a'), { store: spy.store });
    const { doc } = await r.createCalendar({ name: 'C' });
    const root = r.root(doc);
    spy.failNext();
    await expect(r.writeBatch(doc, items(50))).rejects.toMatchObject({ code: 'Storage' });
    expect(r.root(doc)).toBe(root);
    expect(r.entity(doc, ent(1))).toBeUndefined();
    const ops = await r.writeBatch(doc, items(50, 'Retry'));
    expect(ops).toHaveLength(50);
    expect(eventFromRecord(r.entity(doc, ent(50))!).title).toBe('Retry 49');
  });

  it('[DAG-11] an invalid item refuses the whole batch before anything is signed', async () => {
    const r = await openReplica(testDevice('a'));
    const { doc } = await r.createCalendar({ name: 'C' });
    const bad = [...items(3), { entity: ent(9), writes: [{ field: EventField.AllDay, value: utf8('yes') }] }];
    await expect(r.writeBatch(doc, bad)).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(r.entity(doc, ent(1))).toBeUndefined();
  });
});
