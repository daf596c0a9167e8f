// The IndexedDB store in Node over fake-indexeddb: EngineStore behaviour, atomic commits under
// injected failures, schema upgrades, and validation of tampered records.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../engine/bytes.ts';
import { EngineError } from '../engine/errors.ts';
import type { DeviceId, DocId, EntityId, OpId } from '../engine/ids.ts';
import { createMemoryStore } from '../engine/memory-store.ts';
import { runStoreContract } from '../engine/store.testkit.ts';
import type { CommitBatch, DocRecord, EntityRecord, OpRecord } from '../engine/store.ts';
import { OpKind } from '../engine/store.ts';
import { failing } from './idb-faults.testkit.ts';
import { SCHEMA_VERSION } from './idb-schema.ts';
import { type IdbStore, openIdbStore } from './idb-store.ts';

const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
const opId = (n: number) => hex(n, 64) as OpId;
const DOC = hex(0xd0c, 32) as DocId;
const DOC2 = hex(0xd0c2, 32) as DocId;
const OWN_KEY = new Uint8Array(32).fill(7);
const OWN = toHex(OWN_KEY) as DeviceId;
const OTHER = 'ab'.repeat(32) as DeviceId;
const ENTITY = hex(0xe1, 32) as EntityId;

function op(n: number, over: Partial<OpRecord> = {}): OpRecord {
  return {
    id: opId(n),
    doc: DOC,
    seq: n,
    author: OWN,
    ctr: n,
    wallTime: 1_700_000_000_000_000 + n,
    kind: OpKind.Patch,
    parents: n > 1 ? [opId(n - 1)] : [],
    prev: n > 1 ? opId(n - 1) : null,
    bytes: new Uint8Array([1, 2, 3, n & 0xff]),
    vv: { [OWN]: n },
    mfront: [opId(1)],
    body: 'applied',
    ...over,
  };
}

function docRecord(heads: OpId[], seq: number, over: Partial<DocRecord> = {}): DocRecord {
  return { doc: DOC, genesis: opId(1), heads, seq, ownLast: heads[0] ?? null, ownCtr: seq, ...over };
}

function entity(title: string, o: OpId): EntityRecord {
  return {
    doc: DOC,
    entity: ENTITY,
    registers: [
      {
        field: 1,
        writes: [{ value: new TextEncoder().encode(title), wallTime: 5, author: OWN, ctr: 1, op: o }],
      },
    ],
  };
}

/** A write of op n that touches every store a local edit touches. */
function localBatch(n: number, title = `t${n}`): CommitBatch {
  return {
    doc: DOC,
    ops: [op(n)],
    docRecord: docRecord([opId(n)], n),
    entities: [entity(title, opId(n))],
    clock: 1_700_000_000_000_000 + n,
  };
}

let factory: IDBFactory;
let stores: IdbStore[] = [];

async function open(opts: { version?: number } = {}): Promise<IdbStore> {
  const s = await openIdbStore({ name: 'test', factory, durability: 'relaxed', ...opts });
  stores.push(s);
  return s;
}

async function fresh(): Promise<IdbStore> {
  factory = new IDBFactory();
  const s = await open();
  await s.saveDevice({ publicKey: OWN_KEY, secret: { kind: 'test-secret' } });
  return s;
}

afterEach(() => {
  for (const s of stores) s.close();
  stores = [];
});

// The engine's shared contract, each test on a fresh fake IndexedDB.
runStoreContract('IndexedDB (fake-indexeddb)', async () => {
  const s = await openIdbStore({ name: 'contract', factory: new IDBFactory(), durability: 'relaxed' });
  stores.push(s);
  return s;
});

describe('IdbStore basics', () => {
  it('round-trips device, clock, docs, entities and ops', async () => {
    const s = await fresh();
    expect(await s.loadClock()).toBe(0);
    await s.commit(localBatch(1));
    await s.commit(localBatch(2));
    expect(await s.loadClock()).toBe(1_700_000_000_000_002);
    expect(await s.listDocs()).toEqual([DOC]);
    const loaded = await s.loadDoc(DOC);
    expect(loaded?.doc.heads).toEqual([opId(2)]);
    expect(loaded?.entities).toHaveLength(1);
    expect(new TextDecoder().decode(loaded?.entities[0]?.registers[0]?.writes[0]?.value ?? undefined)).toBe(
      't2',
    );
    const [a, missing, b] = await s.getOps(DOC, [opId(2), opId(9), opId(1)]);
    expect(a?.id).toBe(opId(2));
    expect(missing).toBeUndefined();
    expect(b?.bytes).toEqual(new Uint8Array([1, 2, 3, 1]));
    expect((await s.getOpsByChain(DOC, OWN, 2)).map((o) => o.id)).toEqual([opId(2)]);
    expect(await s.getOpsByChain(DOC, OTHER, 2)).toEqual([]);
    expect((await s.listOps(DOC, 0, 10)).map((o) => o.seq)).toEqual([1, 2]);
    expect((await s.listOps(DOC, 1, 10)).map((o) => o.seq)).toEqual([2]);
    expect((await s.listOps(DOC, 0, 1)).map((o) => o.seq)).toEqual([1]);
    expect(await s.loadDoc(DOC2)).toBeUndefined();
    expect(await s.getOps(DOC2, [opId(1)])).toEqual([undefined]);
  });

  it('keeps membership ops, pending ops, evidence and body updates per calendar', async () => {
    const s = await fresh();
    await s.commit({
      doc: DOC,
      ops: [op(1, { kind: OpKind.Membership, body: 'locked' }), op(2)],
      docRecord: docRecord([opId(2)], 2),
      pendingAdd: [{ id: opId(50), doc: DOC, bytes: new Uint8Array([9]), missing: [opId(49)] }],
      evidence: [{ doc: DOC, author: OTHER, ctr: 3, ops: [opId(60), opId(61)] }],
    });
    let loaded = await s.loadDoc(DOC);
    expect(loaded?.membership.map((o) => o.id)).toEqual([opId(1)]);
    expect(loaded?.pending.map((p) => p.id)).toEqual([opId(50)]);
    expect(loaded?.evidence[0]?.ops).toEqual([opId(60), opId(61)]);
    await s.commit({ doc: DOC, bodyUpdates: [{ id: opId(1), body: 'applied' }], pendingRemove: [opId(50)] });
    loaded = await s.loadDoc(DOC);
    expect(loaded?.membership[0]?.body).toBe('applied');
    expect(loaded?.pending).toEqual([]);
  });

  it('[SNAP-10][SNAP-21] keeps endorsements per calendar, one record per id (a base one listed as waiting too), and validates them when read back', async () => {
    const s = await fresh();
    const e = { doc: DOC, id: 'e1'.repeat(32), bytes: new Uint8Array([1, 2, 3]) };
    await s.commit({ doc: DOC, ops: [op(1)], docRecord: docRecord([opId(1)], 1), endorsements: [e] });
    await s.commit({
      doc: DOC,
      endorsements: [
        { ...e, base: true },
        { ...e, id: 'e2'.repeat(32) },
        { ...e, id: 'e3'.repeat(32), base: true, waiting: true },
      ],
    });
    const loaded = await s.loadDoc(DOC);
    expect(loaded?.endorsements?.map((x) => x.id).sort()).toEqual(
      ['e1', 'e2', 'e3'].map((x) => x.repeat(32)),
    );
    expect(loaded?.endorsements?.find((x) => x.id === 'e3'.repeat(32))?.waiting).toBe(true);
    expect((await s.loadDoc(DOC2))?.endorsements ?? []).toEqual([]);
    await tamper('endorsements', [DOC, 'e3'.repeat(32)], (v) => ({ ...v, waiting: 'yes' }));
    await expect(s.loadDoc(DOC)).rejects.toThrow(/corrupt record in endorsements/);
    await tamper('endorsements', [DOC, 'e3'.repeat(32)], (v) => ({ ...v, waiting: true }));
    await tamper('endorsements', [DOC, 'e2'.repeat(32)], (v) => ({ ...v, bytes: 'nope' }));
    await expect(s.loadDoc(DOC)).rejects.toThrow(/corrupt record in endorsements/);
  });

  it('[RT-3] puts own ops in the outbox in the commit transaction; acknowledge removes them with the cursor', async () => {
    const s = await fresh();
    await s.commit(localBatch(1));
    await s.commit({ doc: DOC, ops: [op(2, { author: OTHER, vv: { [OTHER]: 2 } })] });
    await s.commit(localBatch(3));
    expect((await s.listOutbox(DOC)).map((r) => r.seq)).toEqual([1, 3]);
    expect(await s.countOutbox()).toBe(2);
    await s.acknowledge(DOC, [opId(1)], 7);
    expect((await s.listOutbox(DOC)).map((r) => r.id)).toEqual([opId(3)]);
    expect(await s.getCursor(DOC)).toBe(7);
    expect(await s.getCursor(DOC2)).toBe(0);
  });

  it('stores per-device calendar prefs', async () => {
    const s = await fresh();
    expect(await s.getPrefs(DOC)).toEqual({ doc: DOC, hidden: false });
    await s.setPrefs({ doc: DOC, hidden: true });
    expect(await s.getPrefs(DOC)).toEqual({ doc: DOC, hidden: true });
    expect(await s.listPrefs()).toEqual([{ doc: DOC, hidden: true }]);
  });

  it('persists across close and reopen', async () => {
    const s = await fresh();
    await s.commit(localBatch(1));
    s.close();
    const again = await open();
    expect((await again.loadDevice())?.publicKey).toEqual(OWN_KEY);
    expect((await again.loadDoc(DOC))?.doc.seq).toBe(1);
    await again.commit(localBatch(2));
    expect(await again.countOutbox()).toBe(2);
  });
});

describe('[RT-1] atomic commits under injected failures', () => {
  // A batch continuing the seq writes its ops with add(), the rest with put().
  for (const [method, failOn] of [
    ['add', 1],
    ['put', 1],
    ['put', 2],
    ['put', 3],
    ['put', 4],
    ['put', 5],
  ] as const) {
    it(`[RT-1] a QuotaExceededError on ${method} ${failOn} of a commit leaves nothing of it`, async () => {
      const s = await fresh();
      await s.commit(localBatch(1));
      const err = await failing(method, failOn, () => s.commit(localBatch(2, 'lost'))).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe('Storage');
      expect((err as EngineError).message).toMatch(/storage for this site is full/);
      // All of batch 2 is absent: op, outbox entry, heads, entity, clock.
      expect(await s.getOps(DOC, [opId(2)])).toEqual([undefined]);
      expect((await s.listOutbox(DOC)).map((r) => r.seq)).toEqual([1]);
      const loaded = await s.loadDoc(DOC);
      expect(loaded?.doc.heads).toEqual([opId(1)]);
      expect(new TextDecoder().decode(loaded?.entities[0]?.registers[0]?.writes[0]?.value ?? undefined)).toBe(
        't1',
      );
      expect(await s.loadClock()).toBe(1_700_000_000_000_001);
      // The store keeps working after the failure.
      await s.commit(localBatch(2));
      expect((await s.loadDoc(DOC))?.doc.heads).toEqual([opId(2)]);
    });
  }

  it('[RT-1] a request that fails inside IndexedDB (constraint) aborts the whole transaction', async () => {
    const s = await fresh();
    await s.commit(localBatch(1));
    // A stray outbox record holding seq 2 makes the unique (doc, seq) outbox index reject op 2's
    // entry asynchronously, after the op, doc, entity and clock puts were already queued.
    await tamper('outbox', [DOC, opId(77)], () => ({ doc: DOC, id: opId(77), seq: 2 }));
    await expect(s.commit(localBatch(2))).rejects.toMatchObject({ code: 'Storage', message: /Constraint/ });
    expect(await s.getOps(DOC, [opId(2)])).toEqual([undefined]);
    expect((await s.loadDoc(DOC))?.doc.seq).toBe(1);
    expect(await s.loadClock()).toBe(1_700_000_000_000_001);
  });

  it('[RT-1] an op out of seq order fails the batch without a partial write', async () => {
    const s = await fresh();
    await s.commit(localBatch(1));
    await expect(s.commit({ ...localBatch(3) })).rejects.toMatchObject({
      code: 'Storage',
      message: /out of order/,
    });
    expect(await s.getOps(DOC, [opId(3)])).toEqual([undefined]);
    expect((await s.loadDoc(DOC))?.doc.seq).toBe(1);
  });

  it('[RT-1] an op already stored under another seq is skipped, as in the memory store (add fails, the commit is redone reading first)', async () => {
    const mem = createMemoryStore();
    const s = await fresh();
    const batch: CommitBatch = {
      doc: DOC,
      ops: [op(2, { seq: 3 })],
      docRecord: docRecord([opId(2)], 2),
      entities: [entity('again', opId(2))],
      clock: 1_700_000_000_000_009,
    };
    for (const store of [mem, s]) {
      await store.commit(localBatch(1));
      await store.commit(localBatch(2));
      await store.commit(batch);
      expect((await store.listOps(DOC, 0, 10)).map((o) => [o.id, o.seq])).toEqual([
        [opId(1), 1],
        [opId(2), 2],
      ]);
      const loaded = await store.loadDoc(DOC);
      expect(new TextDecoder().decode(loaded?.entities[0]?.registers[0]?.writes[0]?.value ?? undefined)).toBe(
        'again',
      );
      expect(await store.loadClock()).toBe(1_700_000_000_000_009);
    }
    expect((await s.listOutbox(DOC)).map((r) => r.seq)).toEqual([1, 2]);
    // A present op followed by one that does not continue the seq fails the whole batch, in both.
    const bad: CommitBatch = { doc: DOC, ops: [op(2, { seq: 3 }), op(3, { seq: 4 })], clock: 1 };
    for (const store of [mem, s]) await expect(store.commit(bad)).rejects.toThrow(/out of order/);
    expect(await s.getOps(DOC, [opId(3)])).toEqual([undefined]);
  });

  it('skips ops already present, ignores body updates for absent ops, and never moves the clock back', async () => {
    const s = await fresh();
    await s.commit(localBatch(1));
    await s.commit({ ...localBatch(1), bodyUpdates: [{ id: opId(99), body: 'applied' }], clock: 5 });
    expect((await s.listOps(DOC, 0, 10)).map((o) => o.id)).toEqual([opId(1)]);
    expect(await s.loadClock()).toBe(1_700_000_000_000_001);
  });

  it('[RT-2] an unavailable IndexedDB is a Storage error, not a crash', async () => {
    const broken = {
      open() {
        throw new DOMException('IndexedDB is disabled', 'InvalidStateError');
      },
    } as unknown as IDBFactory;
    await expect(openIdbStore({ factory: broken })).rejects.toMatchObject({
      code: 'Storage',
      message: expect.stringMatching(/unavailable/),
    });
    const none = openIdbStore({ factory: undefined as unknown as IDBFactory });
    // With no factory option the global is used; here it exists (fake-indexeddb/auto).
    (await none).close();
  });

  it('[RT-2] calls after the database was closed under us fail with a Storage error', async () => {
    const s = await fresh();
    s.close();
    await expect(s.loadClock()).rejects.toMatchObject({ code: 'Storage' });
    await expect(s.commit(localBatch(1))).rejects.toMatchObject({ code: 'Storage' });
  });
});

/** Rewrites one stored record behind the store's back, as a bug, an extension or an attacker could. */
async function tamper(storeName: string, key: IDBValidKey, change: (v: Record<string, unknown>) => unknown) {
  const db = await new Promise<IDBDatabase>((res, rej) => {
    const r = factory.open('test');
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  await new Promise<void>((res, rej) => {
    const tx = db.transaction(storeName, 'readwrite');
    const os = tx.objectStore(storeName);
    const g = os.get(key);
    g.onsuccess = () => {
      const v = change(g.result as Record<string, unknown>);
      if (os.keyPath === null) os.put(v, key);
      else os.put(v);
    };
    tx.oncomplete = () => res();
    tx.onerror = () => rej(tx.error);
  });
  db.close();
}

describe('[RT-5] records read back are validated', () => {
  it('[RT-5] a tampered op, entity, doc record or clock gives a clear Storage error', async () => {
    const s = await fresh();
    await s.commit(localBatch(1));
    await s.commit(localBatch(2));
    await tamper('ops', [DOC, opId(2)], (v) => ({ ...v, parents: ['not-a-hash'] }));
    await expect(s.getOps(DOC, [opId(2)])).rejects.toThrow(/corrupt record in ops\/.*parents/);
    // Other records stay readable: the worker keeps serving what it can.
    expect((await s.getOps(DOC, [opId(1)]))[0]?.id).toBe(opId(1));

    await tamper('entities', [DOC, ENTITY], (v) => ({
      ...v,
      registers: [{ field: 1, writes: [{ value: 'x' }] }],
    }));
    await expect(s.loadDoc(DOC)).rejects.toThrow(/corrupt record in entities/);

    await tamper('meta', 'clock', () => -5);
    await expect(s.loadClock()).rejects.toThrow(/corrupt record in meta\/clock/);

    await tamper('meta', 'device', (v) => ({ ...v, publicKey: new Uint8Array(3) }));
    await expect(s.loadDevice()).rejects.toMatchObject({ code: 'Storage' });
  });
});

describe('[RT-6] schema upgrades', () => {
  it(`[RT-6] upgrades a v1 database to v${SCHEMA_VERSION} keeping its data and queueing own ops for upload`, async () => {
    factory = new IDBFactory();
    const v1 = await open({ version: 1 });
    await v1.saveDevice({ publicKey: OWN_KEY, secret: { kind: 'test-secret' } });
    // Under v1 there is no outbox store: commit the engine's records only.
    await v1.commit({ ...localBatch(1) });
    await v1.commit({ doc: DOC, ops: [op(2, { author: OTHER, vv: { [OTHER]: 1 } })] });
    await v1.commit({ ...localBatch(3) });
    v1.close();

    const current = await open();
    expect((await current.loadDoc(DOC))?.doc.seq).toBe(3);
    expect((await current.getOpsByChain(DOC, OTHER, 2)).map((o) => o.id)).toEqual([opId(2)]);
    expect((await current.listOutbox(DOC)).map((r) => r.id)).toEqual([opId(1), opId(3)]);
    expect(await current.getCursor(DOC)).toBe(0);
    await current.setPrefs({ doc: DOC, hidden: true });
    expect((await current.getPrefs(DOC)).hidden).toBe(true);
  });

  it('[RT-6] a failing migration aborts the upgrade and leaves the old version intact', async () => {
    factory = new IDBFactory();
    const v1 = await open({ version: 1 });
    // A device record the v2 migration cannot parse makes the migration throw.
    await v1.commit(localBatch(1));
    v1.close();
    await tamper('meta', 'device', () => ({ publicKey: new Uint8Array(1), secret: 1 }));
    await expect(open()).rejects.toMatchObject({ code: 'Storage' });
    const again = await open({ version: 1 });
    expect((await again.loadDoc(DOC))?.doc.seq).toBe(1);
  });

  it('[RT-6] opening a database newer than the app is a Storage error', async () => {
    factory = new IDBFactory();
    await new Promise<void>((res) => {
      const r = factory.open('test', SCHEMA_VERSION + 5);
      r.onsuccess = () => {
        r.result.close();
        res();
      };
    });
    await expect(open()).rejects.toThrow(/newer than this version/);
  });
});

describe('[RT-12] span index', () => {
  const enc = new TextEncoder();
  function event(n: number, start: string, end: string, deleted = false): EntityRecord {
    const w = (value: Uint8Array) => [{ value, wallTime: 5, author: OWN, ctr: n, op: opId(n) }];
    return {
      doc: DOC,
      entity: hex(0x100 + n, 32) as EntityId,
      registers: [
        { field: 1, writes: w(enc.encode(`event ${n}`)) },
        { field: 2, writes: w(enc.encode(start)) },
        { field: 3, writes: w(enc.encode(end)) },
        { field: 5, writes: w(enc.encode('Europe/Berlin')) },
        ...(deleted ? [{ field: 8, writes: w(new Uint8Array([1])) }] : []),
      ],
    };
  }
  const MARCH = [Date.UTC(2025, 2, 1), Date.UTC(2025, 3, 1)] as const;
  const titles = async (s: IdbStore) => (await s.spansNear(DOC, ...MARCH)).map((r) => r.fields.title).sort();

  it('[RT-12] every commit keeps the span of an event next to it: found by range, moved, deleted', async () => {
    const s = await fresh();
    await s.commit({
      ...localBatch(1),
      entities: [
        event(1, '2025-03-10T09:00', '2025-03-10T10:00'),
        event(2, '2025-06-10T09:00', '2025-06-10T10:00'),
        event(3, '2025-01-20T09:00', '2025-03-02T10:00'),
      ],
    });
    expect(await titles(s)).toEqual(['event 1', 'event 3']);
    const [one] = await s.spansNear(DOC, ...MARCH);
    expect(one?.startMs).toBe(Date.UTC(2025, 2, 10, 8));
    await s.commit({
      ...localBatch(2),
      entities: [event(1, '2025-07-10T09:00', '2025-07-10T10:00'), event(2, '2025-03-05', '2025-03-06')],
    });
    expect(await titles(s)).toEqual(['event 2', 'event 3']);
    await s.commit({ ...localBatch(3), entities: [event(3, '2025-01-20T09:00', '2025-03-02T10:00', true)] });
    expect(await titles(s)).toEqual(['event 2']);
    // A failed commit leaves the span index as it was ([RT-1]).
    await expect(
      s.commit({ ...localBatch(9), entities: [event(2, '2025-08-01T09:00', '2025-08-01T10:00')] }),
    ).rejects.toMatchObject({ code: 'Storage' });
    expect(await titles(s)).toEqual(['event 2']);
  });

  it('[RT-5] a tampered span record is a Storage error naming the store', async () => {
    const s = await fresh();
    await s.commit({ ...localBatch(1), entities: [event(1, '2025-03-10T09:00', '2025-03-10T10:00')] });
    await tamper('spans', [DOC, hex(0x101, 32)], (v) => ({ ...v, fields: { title: 5 } }));
    await expect(s.spansNear(DOC, ...MARCH)).rejects.toThrow(/corrupt record in spans/);
  });

  it('[RT-5] span values are checked on every read, those seen before included (valid and not)', async () => {
    const s = await fresh();
    await s.commit({ ...localBatch(1), entities: [event(1, '2025-03-10T09:00', '2025-03-10T10:00')] });
    const key = [DOC, hex(0x101, 32)] as const;
    let good: unknown;
    await tamper('spans', [...key], (v) => {
      good = v;
      return v;
    });
    for (const bad of [
      { timeZone: 'not a zone!' },
      { start: '2025-13-45T09:00' },
      { rrule: 'FREQ=SOMETIMES' },
      { location: 7 },
    ]) {
      for (let round = 0; round < 2; round++) {
        await tamper('spans', [...key], (v) => ({ ...v, fields: { ...(v['fields'] as object), ...bad } }));
        await expect(s.spansNear(DOC, ...MARCH), JSON.stringify(bad)).rejects.toThrow(
          /corrupt record in spans/,
        );
        await tamper('spans', [...key], () => good);
        expect(await titles(s)).toEqual(['event 1']);
      }
    }
  });

  it('[RT-6] upgrading a v2 database fills the span index from the stored entities', async () => {
    factory = new IDBFactory();
    const v2 = await open({ version: 2 });
    await v2.saveDevice({ publicKey: OWN_KEY, secret: { kind: 'test-secret' } });
    await v2.commit({
      ...localBatch(1),
      entities: [
        event(1, '2025-03-10T09:00', '2025-03-10T10:00'),
        event(2, '2025-06-10T09:00', '2025-06-10T10:00'),
      ],
    });
    expect(await v2.spansNear(DOC, ...MARCH)).toEqual([]);
    v2.close();
    const current = await open();
    expect(await titles(current)).toEqual(['event 1']);
    expect((await current.loadDoc(DOC))?.entities).toHaveLength(2);
  });
});
