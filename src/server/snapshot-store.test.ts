// The relay's snapshot tables (RELAY-25): one contract suite run against the SQLite file of a
// single relay and the PostgreSQL database several relays share.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeviceId, DocId, DocRecord, EngineStore, EntityId, OpId, OpRecord } from '../engine/index.ts';
import { OpKind } from '../engine/store.ts';
import { type PgServer, startPgServer } from './pg.testkit.ts';
import { PgSnapshots } from './pg-snapshots.ts';
import { PgStore } from './pg-store.ts';
import { type SnapshotStore, SqliteSnapshots, type StoredSnapshot } from './snapshot-store.ts';
import { SqliteStore } from './sqlite-store.ts';

const DOC = 'cd'.repeat(16) as DocId;
const SIGNER = 'a1'.repeat(32) as DeviceId;
const snap = (n: number, frontierSeq: number): Omit<StoredSnapshot, 'complete'> => ({
  doc: DOC,
  id: n.toString(16).padStart(64, '0'),
  signer: SIGNER,
  wallTime: 1000 + n,
  frontier: ['0e'.repeat(32) as OpId, '0f'.repeat(32) as OpId],
  chunkCount: 2,
  baseSeq: frontierSeq - 3,
  frontierSeq,
  manifest: new Uint8Array([n, 1, 2, 3]),
});

/** The op log beside the snapshot tables, and the same after the store is reopened. */
interface Opened {
  s: SnapshotStore;
  log: EngineStore;
  reopen?: () => Promise<SnapshotStore>;
  reopenLog: () => Promise<EngineStore>;
}

const AUTHOR = 'a1'.repeat(32) as DeviceId;
const opId = (n: number) => n.toString(16).padStart(64, '0') as OpId;
const opRec = (n: number): OpRecord => ({
  id: opId(n),
  doc: DOC,
  seq: n,
  author: AUTHOR,
  ctr: n,
  wallTime: 1000 + n,
  kind: OpKind.Patch,
  parents: n === 1 ? [] : [opId(n - 1)],
  prev: n === 1 ? null : opId(n - 1),
  bytes: new Uint8Array([n]),
  vv: { [AUTHOR]: n },
  mfront: [opId(1)],
  body: 'applied',
});
const docRec = (seq: number, extra: Partial<DocRecord> = {}): DocRecord => ({
  doc: DOC,
  genesis: opId(1),
  heads: [opId(seq)],
  seq,
  ownLast: null,
  ownCtr: 0,
  ...extra,
});

function runSnapshotContract(name: string, open: () => Promise<Opened>) {
  describe(`snapshot store: ${name}`, () => {
    it('[RELAY-25] a snapshot is listed only once complete; chunks, order and endorsements round-trip', async () => {
      const { s } = await open();
      expect(await s.putManifest(snap(1, 10))).toBe(true);
      expect(await s.putManifest(snap(1, 10))).toBe(false);
      expect(await s.listSnapshots(DOC)).toEqual([]);
      await s.putChunk(DOC, snap(1, 10).id, 1, new Uint8Array([9, 9]));
      await s.putChunk(DOC, snap(1, 10).id, 0, new Uint8Array([8]));
      expect(await s.chunksHeld(DOC, snap(1, 10).id)).toEqual([0, 1]);
      await s.markComplete(DOC, snap(1, 10).id);
      await s.putManifest(snap(2, 40));
      await s.markComplete(DOC, snap(2, 40).id);
      await s.putManifest(snap(3, 90)); // incomplete: never listed
      const list = await s.listSnapshots(DOC);
      expect(list.map((x) => x.id)).toEqual([snap(2, 40).id, snap(1, 10).id]);
      expect(list[1]).toEqual({ ...snap(1, 10), complete: true });
      expect(await s.getChunk(DOC, snap(1, 10).id, 1)).toEqual(new Uint8Array([9, 9]));
      expect(await s.getChunk(DOC, snap(1, 10).id, 5)).toBeUndefined();
      const e = {
        doc: DOC,
        snapshot: snap(1, 10).id,
        endorser: 'b2'.repeat(32) as DeviceId,
        bytes: new Uint8Array([7]),
      };
      expect(await s.putEndorsement(e)).toBe(true);
      expect(await s.putEndorsement(e)).toBe(false);
      expect(await s.endorsementsOf(DOC, snap(1, 10).id)).toEqual([e]);
      expect(await s.allEndorsements(DOC)).toEqual([e]);
      expect(await s.bytesStored()).toBeGreaterThan(0);
    });

    it('[RELAY-25] an incomplete upload is dropped with its chunks; a complete one is never dropped', async () => {
      const { s } = await open();
      await s.putManifest(snap(4, 20));
      await s.putChunk(DOC, snap(4, 20).id, 0, new Uint8Array([1]));
      await s.dropIncomplete(DOC, snap(4, 20).id);
      expect(await s.getSnapshot(DOC, snap(4, 20).id)).toBeUndefined();
      expect(await s.chunksHeld(DOC, snap(4, 20).id)).toEqual([]);
      await s.putManifest(snap(5, 30));
      await s.putChunk(DOC, snap(5, 30).id, 0, new Uint8Array([1]));
      await s.markComplete(DOC, snap(5, 30).id);
      await s.dropIncomplete(DOC, snap(5, 30).id);
      expect((await s.getSnapshot(DOC, snap(5, 30).id))?.complete).toBe(true);
      expect(await s.chunksHeld(DOC, snap(5, 30).id)).toEqual([0]);
    });

    it('[RELAY-30] a pruning commit deletes its ops, stores the mark and drops the snapshots armed, in one transaction; all of it is there after a reopen', async () => {
      const { s, log, reopenLog } = await open();
      await log.commit({ doc: DOC, ops: [1, 2, 3, 4, 5].map(opRec), docRecord: docRec(5) });
      for (const [n, seq] of [
        [7, 2],
        [8, 4],
      ] as const) {
        await s.putManifest(snap(n, seq));
        await s.putChunk(DOC, snap(n, seq).id, 0, new Uint8Array([n]));
        await s.markComplete(DOC, snap(n, seq).id);
        await s.putEndorsement({
          doc: DOC,
          snapshot: snap(n, seq).id,
          endorser: AUTHOR,
          bytes: new Uint8Array([n]),
        });
      }
      const mark = { frontier: [opId(4)], anchors: 2, vv: { [AUTHOR]: 4 }, base: 0 };
      // A pruning commit that fails (a stale head, a bad op) changes nothing, snapshots included.
      s.armDrop(DOC, [snap(7, 2).id]);
      await expect(
        log.commit({
          doc: DOC,
          prune: [opId(2), opId(3)],
          docRecord: docRec(9, { snapshot: mark }),
          ops: [opRec(9)],
        }),
      ).rejects.toThrow();
      expect((await log.listOps(DOC, 0, 100)).map((o) => o.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((await s.listSnapshots(DOC)).length).toBe(2);
      s.armDrop(DOC, [snap(7, 2).id]);
      await log.commit({ doc: DOC, prune: [opId(2), opId(3)], docRecord: docRec(5, { snapshot: mark }) });
      await s.durable();
      expect((await log.listOps(DOC, 0, 100)).map((o) => o.seq)).toEqual([1, 4, 5]);
      expect((await s.listSnapshots(DOC)).map((x) => x.id)).toEqual([snap(8, 4).id]);
      expect(await s.getChunk(DOC, snap(7, 2).id, 0)).toBeUndefined();
      expect(await s.allEndorsements(DOC)).toHaveLength(1);
      // The next op continues the seq (gaps are kept, seqs never reused).
      await log.commit({ doc: DOC, ops: [opRec(6)], docRecord: docRec(6, { snapshot: mark }) });
      const again = await reopenLog();
      expect((await again.loadDoc(DOC))?.doc.snapshot).toEqual(mark);
      expect((await again.listOps(DOC, 0, 100)).map((o) => o.seq)).toEqual([1, 4, 5, 6]);
      // The relay stores no registers: a base or a reset is refused.
      await expect(
        again.commit({ doc: DOC, base: [{ doc: DOC, entity: '00'.repeat(16) as EntityId, registers: [] }] }),
      ).rejects.toMatchObject({ code: 'Unsupported' });
    });

    it('[RELAY-25] what was made durable is there after the store is reopened', async () => {
      const { s, reopen } = await open();
      await s.putManifest(snap(6, 50));
      await s.putChunk(DOC, snap(6, 50).id, 0, new Uint8Array([6]));
      await s.markComplete(DOC, snap(6, 50).id);
      await s.durable();
      const again = reopen === undefined ? s : await reopen();
      expect((await again.listSnapshots(DOC)).map((x) => x.id)).toContain(snap(6, 50).id);
      expect(await again.getChunk(DOC, snap(6, 50).id, 0)).toEqual(new Uint8Array([6]));
    });
  });
}

const dirs: string[] = [];
const stores: SqliteStore[] = [];
afterAll(() => {
  for (const s of stores) s.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

runSnapshotContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerday-snap-'));
  dirs.push(dir);
  const path = join(dir, 'relay.db');
  const store = new SqliteStore({ path });
  stores.push(store);
  return {
    s: new SqliteSnapshots(store),
    log: store,
    reopenLog: async () => {
      store.close();
      const again = new SqliteStore({ path });
      stores.push(again);
      return again;
    },
    reopen: async () => {
      store.close();
      const again = new SqliteStore({ path });
      stores.push(again);
      return new SqliteSnapshots(again);
    },
  };
});

let pgs: PgServer;
const pgStores: PgStore[] = [];
beforeAll(() => {
  pgs = startPgServer();
});
afterAll(async () => {
  for (const s of pgStores) await s.close();
  pgs?.close();
});

runSnapshotContract('PostgreSQL', async () => {
  const url = await pgs.freshDatabase();
  const pg = await PgStore.open({ url, poolSize: 2, asyncCommit: true });
  pgStores.push(pg);
  return {
    s: await PgSnapshots.open(pg),
    log: pg,
    reopenLog: async () => {
      await pg.close();
      const again = await PgStore.open({ url, poolSize: 2 });
      pgStores.push(again);
      return again;
    },
    reopen: async () => {
      await pg.close();
      const again = await PgStore.open({ url, poolSize: 2 });
      pgStores.push(again);
      return PgSnapshots.open(again);
    },
  };
});
