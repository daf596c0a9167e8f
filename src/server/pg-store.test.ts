// The PostgreSQL store against the EngineStore contract (the suite the memory, IndexedDB and
// SQLite stores run), plus what only a shared database needs: two writers racing on one calendar.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocId, EngineStore, OpId } from '../engine/index.ts';
import { OpKind } from '../engine/index.ts';
import { runStoreContract } from '../engine/store.testkit.ts';
import { type PgServer, startPgServer } from './pg.testkit.ts';
import { PgStore, StaleCommitError } from './pg-store.ts';

let pgs: PgServer;
const opened: PgStore[] = [];

beforeAll(() => {
  pgs = startPgServer();
});

afterAll(async () => {
  for (const s of opened) await s.close();
  pgs?.close();
});

async function fresh(): Promise<PgStore> {
  const s = await PgStore.open({ url: await pgs.freshDatabase(), poolSize: 4 });
  opened.push(s);
  return s;
}

runStoreContract('PostgreSQL', (): Promise<EngineStore> => fresh());

describe('PostgreSQL store: shared by several relays', () => {
  const DOC = 'd2'.repeat(16) as DocId;
  const opId = (w: number, n: number) =>
    `${w.toString(16).padStart(2, '0')}${n.toString(16).padStart(62, '0')}` as OpId;
  const op = (w: number, n: number, seq: number) => ({
    id: opId(w, n),
    doc: DOC,
    seq,
    author: 'ab'.repeat(32) as never,
    ctr: n,
    wallTime: 1000 + n,
    kind: OpKind.Patch,
    parents: [],
    prev: null,
    bytes: new Uint8Array([w, n]),
    vv: {},
    mfront: [],
    body: 'locked' as const,
  });

  it('[RELAY-21] writers racing on one calendar: every seq is taken once, gap-free, losers see StaleCommitError', async () => {
    const url = await pgs.freshDatabase();
    const writers = await Promise.all([1, 2, 3].map(() => PgStore.open({ url, poolSize: 2 })));
    opened.push(...writers);
    // Each writer believes it is at the head it last saw and retries from the stored head when stale.
    let stale = 0;
    await Promise.all(
      writers.map(async (s, w) => {
        for (let n = 1; n <= 20; n++) {
          for (;;) {
            const head = (await s.headSeqs()).get(DOC) ?? 0;
            const o = op(w + 1, n, head + 1);
            try {
              await s.commit({
                doc: DOC,
                ops: [o],
                docRecord: {
                  doc: DOC,
                  genesis: opId(1, 1),
                  heads: [o.id],
                  seq: o.seq,
                  ownLast: null,
                  ownCtr: 0,
                },
              });
              break;
            } catch (e) {
              expect(e).toBeInstanceOf(StaleCommitError);
              stale++;
            }
          }
        }
      }),
    );
    const all = await writers[0]!.listOps(DOC, 0, 1000);
    expect(all.map((o) => o.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
    expect(new Set(all.map((o) => o.id)).size).toBe(60);
    expect((await writers[1]!.loadDoc(DOC))?.doc.seq).toBe(60);
    expect(stale).toBeGreaterThan(0);
  });

  it('[RELAY-21] a stale doc record (head moved by another writer) is refused and changes nothing', async () => {
    const s = await fresh();
    await s.commit({
      doc: DOC,
      ops: [op(1, 1, 1), op(1, 2, 2)],
      docRecord: { doc: DOC, genesis: opId(1, 1), heads: [opId(1, 2)], seq: 2, ownLast: null, ownCtr: 0 },
    });
    await expect(
      s.commit({
        doc: DOC,
        pendingAdd: [{ id: opId(9, 9), doc: DOC, bytes: new Uint8Array([1]), missing: [opId(8, 8)] }],
        docRecord: { doc: DOC, genesis: opId(1, 1), heads: [opId(1, 1)], seq: 1, ownLast: null, ownCtr: 0 },
      }),
    ).rejects.toBeInstanceOf(StaleCommitError);
    const l = await s.loadDoc(DOC);
    expect(l?.doc.heads).toEqual([opId(1, 2)]);
    expect(l?.pending).toEqual([]);
  });

  it('[RELAY-22] docState (what a relay copies besides ops) is loadDoc without the membership ops', async () => {
    const s = await fresh();
    await s.commit({
      doc: DOC,
      ops: [op(1, 1, 1)],
      docRecord: { doc: DOC, genesis: opId(1, 1), heads: [opId(1, 1)], seq: 1, ownLast: null, ownCtr: 0 },
      pendingAdd: [
        { id: opId(5, 5), doc: DOC, bytes: new Uint8Array([0, 255, 7]), missing: [opId(4, 4), opId(3, 3)] },
      ],
      evidence: [{ doc: DOC, author: 'ab'.repeat(32) as never, ctr: 3, ops: [opId(1, 1), opId(2, 2)] }],
      entities: [
        {
          doc: DOC,
          entity: 'e1'.repeat(16) as never,
          registers: [
            {
              field: 2,
              writes: [
                {
                  value: new Uint8Array([9, 8]),
                  wallTime: 5,
                  author: 'ab'.repeat(32) as never,
                  ctr: 1,
                  op: opId(1, 1),
                },
              ],
            },
          ],
        },
      ],
    });
    const { membership, ...rest } = (await s.loadDoc(DOC))!;
    expect(membership).toEqual([]);
    expect(await s.docState(DOC)).toEqual(rest);
    expect(rest.pending[0]?.bytes).toEqual(new Uint8Array([0, 255, 7]));
    expect(await s.docState('ee'.repeat(16) as DocId)).toBeUndefined();
  });

  it('[RELAY-24] a writer killed inside its transaction (head row locked, op inserted) leaves nothing and blocks no one', async () => {
    const url = await pgs.freshDatabase();
    const [dying, other] = await Promise.all([
      PgStore.open({ url, poolSize: 2 }),
      PgStore.open({ url, poolSize: 2 }),
    ]);
    opened.push(dying, other);
    const c = await dying.pool.connect();
    c.on('error', () => undefined);
    const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    await c.query('BEGIN');
    await c.query(
      'INSERT INTO ld_heads (doc, seq) VALUES ($1, 0) ON CONFLICT (doc) DO UPDATE SET seq = ld_heads.seq',
      [DOC],
    );
    await c.query(
      `INSERT INTO ld_ops (doc, seq, id, author, ctr, wall_time, kind, parents, prev, bytes, vv, mfront, body)
       VALUES ($1, 1, $2, 'x', 1, 1, 0, '', NULL, '\\x00', '{}', '', 'locked')`,
      [DOC, opId(7, 7)],
    );
    // The other relay waits on the head row; the first one dies (SIGKILL of its backend's client).
    const o = op(2, 1, 1);
    const waiting = other.commit({
      doc: DOC,
      ops: [o],
      docRecord: { doc: DOC, genesis: o.id, heads: [o.id], seq: 1, ownLast: null, ownCtr: 0 },
    });
    await new Promise((r) => setTimeout(r, 200));
    await other.pool.query('SELECT pg_terminate_backend($1)', [pid]);
    c.release(true);
    await waiting;
    expect((await other.listOps(DOC, 0, 10)).map((x) => x.id)).toEqual([o.id]);
    expect((await other.headSeqs()).get(DOC)).toBe(1);
  });

  it('migrations run once when several relays start together', async () => {
    const url = await pgs.freshDatabase();
    const many = await Promise.all([1, 2, 3, 4].map(() => PgStore.open({ url, poolSize: 1 })));
    opened.push(...many);
    const rows = (await many[0]!.pool.query("SELECT value FROM ld_meta WHERE key = 'schema'")).rows;
    expect(rows).toEqual([{ value: 1 }]);
  });
});
