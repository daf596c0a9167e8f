// Every multi-step change is atomic: storage failures in the middle of unlocking history or of a
// batch leave the replica as before (and able to finish later), and a reopened replica re-checks
// what it stored (pending ops, locked ops, keys added out of band).

import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { EV, lastOp, patchOp, syncOps, team, titleOf } from './hostile.testkit.ts';
import type { KeyId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import { openOp } from './op.ts';
import type { CommitBatch } from './store.ts';
import { cardOf, openReplica, testDevice } from './testkit.testkit.ts';

describe('atomic multi-step changes', () => {
  it('[ERR-1][KEY-6] a storage failure while unlocking history rejects the Add as a whole; applying it again unlocks', async () => {
    const t = await team(['at-a', 'at-b']);
    const [ra] = t.reps;
    const n = testDevice('at-n');
    let failOn: ((b: CommitBatch) => boolean) | undefined;
    const store = createMemoryStore({
      beforeCommit: (b) => {
        if (failOn?.(b)) {
          failOn = undefined;
          throw new Error('QuotaExceededError');
        }
      },
    });
    const rn = await openReplica(n, { store });
    await syncOps(ra!, rn, t.doc);
    expect(titleOf(rn, t.doc)).toBeUndefined();
    const add = await ra!.addMember(t.doc, await cardOf(n, t.doc));
    failOn = (b) => (b.bodyUpdates?.length ?? 0) > 0;
    const first = await rn.receive(add.bytes);
    const second = await rn.receive(add.bytes);
    expect([first.status, second.status]).toEqual(['rejected', 'applied']);
    expect(titleOf(rn, t.doc)).toBe('Start');
    const reopened = await openReplica(n, { store });
    expect(titleOf(reopened, t.doc)).toBe('Start');
  });

  it('[DAG-7][ERR-1] a failed batch commit keeps waiting children wakeable', async () => {
    const t = await team(['wk-a', 'wk-b']);
    const [ra] = t.reps;
    const p = await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('parent') }]);
    const c = await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('child') }]);
    let fail = false;
    const store = createMemoryStore({
      beforeCommit: (b) => {
        if (fail && (b.ops?.length ?? 0) > 0) throw new Error('QuotaExceededError');
      },
    });
    const r = await openReplica(t.devs[0]!, { store });
    await syncOps(t.reps[1]!, r, t.doc);
    expect((await r.receive(c.bytes)).status).toBe('pending');
    fail = true;
    const res = await r.receiveBatch([p.bytes]);
    expect(res[0]!.error?.code).toBe('Storage');
    fail = false;
    expect((await r.receive(p.bytes)).status).toBe('applied');
    expect(r.pendingCount()).toBe(0);
    expect(titleOf(r, t.doc)).toBe('child');
  });

  it('[STORE-11] on open, pending ops already stored are dropped and those whose parents are stored are applied', async () => {
    const t = await team(['ld-a', 'ld-b']);
    const [ra] = t.reps;
    const p = await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('p') }]);
    const c = await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('c') }]);
    const store = createMemoryStore();
    const r = await openReplica(t.devs[0]!, { store });
    await syncOps(t.reps[1]!, r, t.doc);
    await r.receive(p.bytes);
    // A store left by a crash or an older version: the applied op also in pending, and a
    // child pending although its parent is stored.
    await store.commit({
      doc: t.doc,
      pendingAdd: [
        { id: p.id, doc: t.doc, bytes: p.bytes, missing: [p.id] },
        { id: c.id, doc: t.doc, bytes: c.bytes, missing: [p.id] },
      ],
    });
    const reopened = await openReplica(t.devs[0]!, { store });
    await reopened.idle();
    expect(reopened.pendingCount()).toBe(0);
    expect(titleOf(reopened, t.doc)).toBe('c');
  });

  it('[STORE-11][DAG-3] an op that waited for two parents and was applied leaves no pending record: a restart asks for nothing', async () => {
    const t = await team(['sp-a', 'sp-b']);
    const b = t.devs[1]!;
    const head = await lastOp(t.reps[0]!, t.doc);
    const at = (ctr: number) => head.wallTime + ctr;
    const p = patchOp({ by: b, doc: t.doc, ctr: 1, wallTime: at(1), parents: [head.id] }, t.key, 'p');
    const pid = openOp(p).id;
    const q = patchOp(
      { by: b, doc: t.doc, ctr: 2, wallTime: at(2), prev: pid, parents: [head.id] },
      t.key,
      'q',
    );
    const qid = openOp(q).id;
    // c names both: it waits for p and q; p's arrival leaves it waiting for q alone.
    const c = patchOp({ by: b, doc: t.doc, ctr: 3, wallTime: at(3), prev: qid, parents: [pid] }, t.key, 'c');
    const store = createMemoryStore();
    const r = await openReplica(t.devs[0]!, { store });
    await syncOps(t.reps[0]!, r, t.doc);
    expect((await r.receive(c)).status).toBe('pending');
    expect(r.missing(t.doc).sort()).toEqual([pid, qid].sort());
    const res = await r.receiveBatch([p, q]);
    expect(res.map((x) => x.status)).toEqual(['applied', 'applied']);
    expect(titleOf(r, t.doc)).toBe('c');
    expect([r.pendingCount(), r.missing(t.doc)]).toEqual([0, []]);
    const reopened = await openReplica(t.devs[0]!, { store });
    // Right after the open, before the re-check runs on the queue, and after it.
    expect([reopened.pendingCount(), reopened.missing(t.doc)]).toEqual([0, []]);
    await reopened.idle();
    expect([reopened.pendingCount(), reopened.missing(t.doc)]).toEqual([0, []]);
  });

  it('[STORE-11] on open, ops stored locked under a key the replica holds are unlocked', async () => {
    const t = await team(['lk2-a', 'lk2-b']);
    const [ra] = t.reps;
    const w = await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('locked') }]);
    const store = createMemoryStore();
    const r = await openReplica(t.devs[1]!, { store });
    await syncOps(ra!, r, t.doc);
    expect(titleOf(r, t.doc)).toBe('locked');
    // A store written by an older version: the op locked and its effect missing (a crash
    // between two commits), and no record of which keys were held.
    const rec = (await store.getOps(t.doc, [w.id]))[0]!;
    const ent = r.entity(t.doc, EV)!;
    const { keyIds: _, ...docRec } = (await store.loadDoc(t.doc))!.doc;
    await store.commit({
      doc: t.doc,
      docRecord: docRec,
      bodyUpdates: [{ id: rec.id, body: 'locked' }],
      entities: [
        {
          ...ent,
          registers: ent.registers.map((g) => ({ ...g, writes: g.writes.filter((x) => x.op !== w.id) })),
        },
      ],
    });
    const reopened = await openReplica(t.devs[1]!, { store });
    await reopened.idle();
    expect(titleOf(reopened, t.doc)).toBe('locked');
  });

  it('[KEY-9] a key added with addKey survives a reload', async () => {
    const t = await team(['ak-a', 'ak-b']);
    const [ra] = t.reps;
    const n = testDevice('ak-n');
    const store = createMemoryStore();
    const rn = await openReplica(n, { store });
    await syncOps(ra!, rn, t.doc);
    expect(titleOf(rn, t.doc)).toBeUndefined();
    await rn.addKey(t.doc, toHex(t.key.id) as KeyId, t.key.key);
    expect(titleOf(rn, t.doc)).toBe('Start');
    const reopened = await openReplica(n, { store });
    const head = await lastOp(ra!, t.doc);
    const later = patchOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      t.key,
      'later',
    );
    expect((await reopened.receive(later)).status).toBe('applied');
    expect(titleOf(reopened, t.doc)).toBe('later');
    expect(fromHex(openOp(later).id)).toHaveLength(32);
  });
});
