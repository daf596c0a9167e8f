// The EngineStore contract: one suite every implementation runs (memory here, IndexedDB in the
// worker, SQLite on the relay). Call runStoreContract(name, makeStore) inside a test file.

import { describe, expect, it } from 'vitest';
import type { DeviceId, DocId, EntityId, OpId } from './ids.ts';
import { type CommitBatch, type EngineStore, OpKind, type OpRecord } from './store.ts';

const DOC = 'd0'.repeat(16) as DocId;
const DOC2 = 'd1'.repeat(16) as DocId;
const AUTHOR = 'aa'.repeat(32) as DeviceId;
const id = (n: number) => n.toString(16).padStart(64, '0') as OpId;
const ENT = 'e0'.repeat(16) as EntityId;

function op(n: number, over: Partial<OpRecord> = {}): OpRecord {
  return {
    id: id(n),
    doc: DOC,
    seq: n,
    author: AUTHOR,
    ctr: n,
    wallTime: 1_000 + n,
    kind: n === 1 ? OpKind.Membership : OpKind.Patch,
    parents: n === 1 ? [] : [id(n - 1)],
    prev: n === 1 ? null : id(n - 1),
    bytes: new Uint8Array([n, 0, 255, n]),
    vv: { [AUTHOR]: n },
    mfront: [id(1)],
    body: 'applied',
    ...over,
  };
}

function docBatch(n: number, extra: Partial<CommitBatch> = {}): CommitBatch {
  return {
    doc: DOC,
    ops: [op(n)],
    docRecord: { doc: DOC, genesis: id(1), heads: [id(n)], seq: n, ownLast: id(n), ownCtr: n },
    ...extra,
  };
}

export function runStoreContract(name: string, makeStore: () => Promise<EngineStore>): void {
  describe(`EngineStore contract: ${name}`, () => {
    it('[STORE-1] a new store is empty', async () => {
      const s = await makeStore();
      expect(await s.loadDevice()).toBeUndefined();
      expect(await s.loadClock()).toBe(0);
      expect(await s.listDocs()).toEqual([]);
      expect(await s.loadDoc(DOC)).toBeUndefined();
      expect(await s.getOps(DOC, [id(1)])).toEqual([undefined]);
      expect(await s.listOps(DOC, 0, 10)).toEqual([]);
    });

    it('[STORE-2] ops round-trip exactly: by id, by (author, ctr), and in seq order', async () => {
      const s = await makeStore();
      for (let n = 1; n <= 5; n++) await s.commit(docBatch(n));
      const [a, missing, c] = await s.getOps(DOC, [id(2), id(99), id(3)]);
      expect(a).toEqual(op(2));
      expect(missing).toBeUndefined();
      expect(c?.bytes).toEqual(new Uint8Array([3, 0, 255, 3]));
      expect((await s.getOpsByChain(DOC, AUTHOR, 4)).map((o) => o.id)).toEqual([id(4)]);
      expect((await s.listOps(DOC, 2, 2)).map((o) => o.seq)).toEqual([3, 4]);
      expect((await s.listOps(DOC, 5, 10)).length).toBe(0);
      expect(await s.listDocs()).toEqual([DOC]);
      expect(await s.getOps(DOC2, [id(2)])).toEqual([undefined]);
    });

    it('[STORE-3] loadDoc returns doc record, entities, pending, membership ops and evidence', async () => {
      const s = await makeStore();
      await s.commit(docBatch(1));
      const entity = {
        doc: DOC,
        entity: ENT,
        registers: [
          {
            field: 1,
            writes: [
              {
                value: new Uint8Array([1, 2]),
                wallTime: 5,
                author: AUTHOR,
                ctr: 2,
                op: id(2),
                vv: { [AUTHOR]: 2 },
              },
              { value: null, wallTime: 4, author: AUTHOR, ctr: 1, op: id(1) },
            ],
          },
        ],
      };
      await s.commit(
        docBatch(2, {
          entities: [entity],
          pendingAdd: [{ id: id(50), doc: DOC, bytes: new Uint8Array([9]), missing: [id(49)] }],
          evidence: [{ doc: DOC, author: AUTHOR, ctr: 2, ops: [id(2), id(77)] }],
        }),
      );
      const l = await s.loadDoc(DOC);
      expect(l?.doc.heads).toEqual([id(2)]);
      expect(l?.entities).toEqual([entity]);
      expect(l?.pending).toEqual([{ id: id(50), doc: DOC, bytes: new Uint8Array([9]), missing: [id(49)] }]);
      expect(l?.membership.map((o) => o.id)).toEqual([id(1)]);
      expect(l?.evidence).toEqual([{ doc: DOC, author: AUTHOR, ctr: 2, ops: [id(2), id(77)] }]);
      await s.commit({ doc: DOC, pendingRemove: [id(50)] });
      expect((await s.loadDoc(DOC))?.pending).toEqual([]);
    });

    it('[STORE-4] entities are replaced whole and body states update in place', async () => {
      const s = await makeStore();
      await s.commit(docBatch(1));
      const mk = (v: number) => ({
        doc: DOC,
        entity: ENT,
        registers: [
          {
            field: 1,
            writes: [{ value: new Uint8Array([v]), wallTime: v, author: AUTHOR, ctr: 1, op: id(1) }],
          },
        ],
      });
      await s.commit({ doc: DOC, entities: [mk(1)] });
      await s.commit({ doc: DOC, entities: [mk(2)] });
      expect((await s.loadDoc(DOC))?.entities).toEqual([mk(2)]);
      await s.commit({ doc: DOC, bodyUpdates: [{ id: id(1), body: 'inert' }] });
      expect((await s.getOps(DOC, [id(1)]))[0]?.body).toBe('inert');
    });

    it('[STORE-5] the clock only moves forward and device keys round-trip', async () => {
      const s = await makeStore();
      await s.commit({ doc: DOC, clock: 500 });
      await s.commit({ doc: DOC, clock: 400 });
      expect(await s.loadClock()).toBe(500);
      await s.saveDevice({ publicKey: new Uint8Array(32).fill(7), secret: new Uint8Array(32).fill(8) });
      expect((await s.loadDevice())?.publicKey).toEqual(new Uint8Array(32).fill(7));
    });

    it('[STORE-6] a commit is atomic: a refused batch (seq gap) leaves no trace', async () => {
      const s = await makeStore();
      await s.commit(docBatch(1));
      const bad: CommitBatch = {
        ...docBatch(3),
        entities: [{ doc: DOC, entity: ENT, registers: [] }],
        clock: 9_999,
      };
      await expect(s.commit(bad)).rejects.toThrow();
      expect(await s.getOps(DOC, [id(3)])).toEqual([undefined]);
      expect((await s.loadDoc(DOC))?.doc.heads).toEqual([id(1)]);
      expect((await s.loadDoc(DOC))?.entities).toEqual([]);
      expect(await s.loadClock()).toBe(0);
    });

    it('[STORE-7] returned records are copies: mutating them does not change the store', async () => {
      const s = await makeStore();
      await s.commit(docBatch(1));
      const [r] = await s.getOps(DOC, [id(1)]);
      r!.bytes[0] = 200;
      r!.parents.push(id(9));
      const [again] = await s.getOps(DOC, [id(1)]);
      expect(again).toEqual(op(1));
    });

    it('[STORE-10] one commit may append a run of ops (batched apply): all in seq order, or none', async () => {
      const s = await makeStore();
      await s.commit(docBatch(1));
      const run: CommitBatch = {
        doc: DOC,
        ops: [op(2), op(3), op(4)],
        docRecord: { doc: DOC, genesis: id(1), heads: [id(4)], seq: 4, ownLast: id(4), ownCtr: 4 },
        pendingRemove: [],
      };
      await s.commit(run);
      expect((await s.listOps(DOC, 0, 10)).map((o) => o.seq)).toEqual([1, 2, 3, 4]);
      expect((await s.getOpsByChain(DOC, AUTHOR, 3)).map((o) => o.id)).toEqual([id(3)]);
      const gap: CommitBatch = {
        doc: DOC,
        ops: [op(5), op(7)],
        docRecord: { ...run.docRecord!, heads: [id(7)], seq: 7 },
      };
      await expect(s.commit(gap)).rejects.toThrow();
      expect(await s.getOps(DOC, [id(5)])).toEqual([undefined]);
      expect((await s.loadDoc(DOC))?.doc.seq).toBe(4);
    });

    it('[STORE-8] appending an op that is already stored is a no-op', async () => {
      const s = await makeStore();
      await s.commit(docBatch(1));
      await s.commit({ doc: DOC, ops: [op(1)] });
      expect((await s.listOps(DOC, 0, 10)).length).toBe(1);
    });
  });
}
