// One CommitBatch on PostgreSQL (pg-store.ts): the one-statement fast path for a run of new ops,
// and the general transaction. RELAY-21: a calendar's head row is locked and must be continued.

import type pg from 'pg';
import type { CommitBatch, DocId, OpRecord } from '../engine/index.ts';
import { EngineError } from '../engine/index.ts';
import { NOTIFY_CHANNEL, OP_COLS, StaleCommitError } from './pg-schema.ts';
import { bufferOf, joinIds, registersToJson } from './store-rows.ts';

const empty = (a: readonly unknown[] | undefined) => a === undefined || a.length === 0;

/** A batch of only new ops in seq order and the doc record at the last one. */
export function fastEligible(b: CommitBatch): boolean {
  const ops = b.ops ?? [];
  if (ops.length === 0 || b.docRecord === undefined || b.clock !== undefined) return false;
  if (!empty(b.bodyUpdates) || !empty(b.entities) || !empty(b.pendingAdd) || !empty(b.pendingRemove))
    return false;
  if (!empty(b.evidence)) return false;
  for (let i = 0; i < ops.length; i++) {
    if (ops[i]!.doc !== b.doc || (i > 0 && ops[i]!.seq !== ops[i - 1]!.seq + 1)) return false;
  }
  return b.docRecord.seq === ops[ops.length - 1]!.seq && b.docRecord.doc === b.doc;
}

/**
 * RELAY-21 in one statement (atomic on its own): the head row moves from the first op's seq - 1
 * to the last op's seq only if it is there now (the upsert locks it, and after waiting for
 * another writer sees that writer's head); the ops, the doc record and the doorbell follow only
 * if it moved. Returns false when it did not (the caller's general path then tells why).
 */
export async function appendFast(pool: pg.Pool, b: CommitBatch): Promise<boolean> {
  const ops = b.ops!;
  const from = ops[0]!.seq - 1;
  const to = ops[ops.length - 1]!.seq;
  const d = b.docRecord!;
  const { doc, genesis, heads, seq, ownLast, ownCtr, ...extra } = d;
  void seq;
  const r = await pool.query<{ head: number; n: number }>(
    `WITH h AS (
       INSERT INTO ld_heads (doc, seq) VALUES ($14, CASE WHEN $15::bigint = 0 THEN $16::bigint ELSE 0 END)
       ON CONFLICT (doc) DO UPDATE SET seq = CASE WHEN ld_heads.seq = $15::bigint THEN $16::bigint ELSE ld_heads.seq END
       RETURNING seq
     ), ins AS (
       INSERT INTO ld_ops (${OP_COLS}) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],
         $5::bigint[], $6::bigint[], $7::smallint[], $8::text[], $9::text[], $10::bytea[], $11::text[], $12::text[], $13::text[])
       WHERE (SELECT seq FROM h) = $16::bigint
       RETURNING 1
     ), d AS (
       INSERT INTO ld_docs (doc, genesis, heads, seq, own_last, own_ctr, extra)
       SELECT $14, $17, $18, $16::bigint, $19, $20, $21 WHERE (SELECT seq FROM h) = $16::bigint
       ON CONFLICT (doc) DO UPDATE SET genesis = excluded.genesis, heads = excluded.heads, seq = excluded.seq,
         own_last = excluded.own_last, own_ctr = excluded.own_ctr, extra = excluded.extra
       RETURNING 1
     )
     SELECT (SELECT seq FROM h) AS head, (SELECT count(*) FROM ins) AS n,
       CASE WHEN (SELECT seq FROM h) = $16::bigint AND (SELECT count(*) FROM d) = 1 THEN pg_notify($22, $23) END AS rang`,
    [
      ops.map((o) => o.doc),
      ops.map((o) => o.seq),
      ops.map((o) => o.id),
      ops.map((o) => o.author),
      ops.map((o) => o.ctr),
      ops.map((o) => o.wallTime),
      ops.map((o) => o.kind),
      ops.map((o) => joinIds(o.parents)),
      ops.map((o) => o.prev),
      ops.map((o) => bufferOf(o.bytes)),
      ops.map((o) => JSON.stringify(o.vv)),
      ops.map((o) => joinIds(o.mfront)),
      ops.map((o) => o.body),
      doc,
      from,
      to,
      genesis,
      joinIds(heads),
      ownLast,
      ownCtr,
      Object.keys(extra).length === 0 ? null : registersToJson(extra as never),
      NOTIFY_CHANNEL,
      `${doc}:${to}`,
    ],
  );
  const row = r.rows[0]!;
  return row.head === to && Number(row.n) === ops.length;
}

/**
 * One CommitBatch inside an open transaction (see the invariants at the top of the file).
 * `pruned`: what a pruning batch also does in the transaction (SNAP-17: the snapshots dropped).
 */
export async function commitIn(
  c: pg.PoolClient,
  b: CommitBatch,
  pruned?: (c: pg.PoolClient) => Promise<void>,
): Promise<void> {
  if (b.reset === true || (b.base ?? []).length > 0)
    throw new EngineError('Unsupported', 'the relay stores no snapshot registers (SNAP-13, SNAP-11)');
  const ops = b.ops ?? [];
  let head: number | undefined;
  if (ops.length > 0 || b.docRecord !== undefined) {
    // Locks the calendar's head row (created at 0 by the first commit) until COMMIT.
    const r = await c.query<{ seq: number }>(
      'INSERT INTO ld_heads (doc, seq) VALUES ($1, 0) ON CONFLICT (doc) DO UPDATE SET seq = ld_heads.seq RETURNING seq',
      [b.doc],
    );
    head = r.rows[0]!.seq;
  }
  if (ops.length > 0) head = await appendOps(c, b.doc, ops, head!);
  if (b.docRecord !== undefined) {
    const d = b.docRecord;
    if (d.seq !== head)
      throw new StaleCommitError(b.doc, `doc record at seq ${d.seq} but the calendar's head is ${head}`);
    const { doc, genesis, heads, seq, ownLast, ownCtr, ...extra } = d;
    await c.query(
      `INSERT INTO ld_docs (doc, genesis, heads, seq, own_last, own_ctr, extra) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (doc) DO UPDATE SET genesis = $2, heads = $3, seq = $4, own_last = $5, own_ctr = $6, extra = $7`,
      [
        doc,
        genesis,
        joinIds(heads),
        seq,
        ownLast,
        ownCtr,
        Object.keys(extra).length === 0 ? null : registersToJson(extra as never),
      ],
    );
  }
  // SNAP-17: the head row is locked above and the doc record (the mark) checked against it, so a
  // prune that another relay's appends overtook is a StaleCommitError and changes nothing.
  if ((b.prune ?? []).length > 0) {
    await c.query('DELETE FROM ld_ops WHERE doc = $1 AND id = ANY($2)', [b.doc, b.prune]);
    await pruned?.(c);
  }
  for (const u of b.bodyUpdates ?? []) {
    const r = await c.query('UPDATE ld_ops SET body = $1 WHERE doc = $2 AND id = $3', [u.body, b.doc, u.id]);
    if (r.rowCount !== 1) throw new EngineError('Storage', `body update for unknown op ${u.id}`);
  }
  const ents = b.entities ?? [];
  if (ents.length > 0) {
    await c.query(
      `INSERT INTO ld_entities (doc, entity, registers) SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (doc, entity) DO UPDATE SET registers = excluded.registers`,
      [ents.map((e) => e.doc), ents.map((e) => e.entity), ents.map((e) => registersToJson(e.registers))],
    );
  }
  const padd = b.pendingAdd ?? [];
  if (padd.length > 0) {
    await c.query(
      `INSERT INTO ld_pending (doc, id, bytes, missing) SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[])
       ON CONFLICT (doc, id) DO UPDATE SET bytes = excluded.bytes, missing = excluded.missing`,
      [
        padd.map((p) => p.doc),
        padd.map((p) => p.id),
        padd.map((p) => bufferOf(p.bytes)),
        padd.map((p) => joinIds(p.missing)),
      ],
    );
  }
  if ((b.pendingRemove ?? []).length > 0)
    await c.query('DELETE FROM ld_pending WHERE doc = $1 AND id = ANY($2)', [b.doc, b.pendingRemove]);
  for (const e of b.evidence ?? [])
    await c.query(
      `INSERT INTO ld_evidence (doc, author, ctr, ops) VALUES ($1, $2, $3, $4)
       ON CONFLICT (doc, author, ctr) DO UPDATE SET ops = $4`,
      [e.doc, e.author, e.ctr, joinIds(e.ops)],
    );
  // The clock only moves forward (CLK-1), whatever order commits arrive in.
  if (b.clock !== undefined)
    await c.query(
      `INSERT INTO ld_meta (key, value) VALUES ('clock', $1)
       ON CONFLICT (key) DO UPDATE SET value = greatest(ld_meta.value, excluded.value)`,
      [b.clock],
    );
}

/** Appends the ops not stored yet at head+1, head+2, ...; returns the new head. */
async function appendOps(
  c: pg.PoolClient,
  doc: DocId,
  ops: readonly OpRecord[],
  head: number,
): Promise<number> {
  for (const op of ops)
    if (op.doc !== doc) throw new EngineError('Storage', `op ${op.id} belongs to another doc than its batch`);
  const stored = await c.query<{ id: string }>('SELECT id FROM ld_ops WHERE doc = $1 AND id = ANY($2)', [
    doc,
    ops.map((o) => o.id),
  ]);
  const have = new Set(stored.rows.map((r) => r.id));
  // Appending an op already stored is a no-op (idempotent retries after a crash).
  const fresh = ops.filter((o) => !have.has(o.id));
  let last = head;
  for (const op of fresh) {
    if (op.seq !== last + 1)
      throw new StaleCommitError(doc, `op ${op.id} has seq ${op.seq}, expected ${last + 1}`);
    last = op.seq;
  }
  if (fresh.length === 0) return head;
  // One round trip: the ops, the head row (locked above) and the doorbell. The doorbell is
  // delivered after COMMIT, in commit order; a reader still reads seq > its cursor.
  await c.query(
    `WITH ins AS (
       INSERT INTO ld_ops (${OP_COLS}) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[],
         $5::bigint[], $6::bigint[], $7::smallint[], $8::text[], $9::text[], $10::bytea[], $11::text[], $12::text[], $13::text[])
       RETURNING 1
     ), head AS (UPDATE ld_heads SET seq = $15 WHERE doc = $14 RETURNING 1)
     SELECT (SELECT count(*) FROM ins) AS n, (SELECT count(*) FROM head) AS h, pg_notify($16, $17)`,
    [
      fresh.map((o) => o.doc),
      fresh.map((o) => o.seq),
      fresh.map((o) => o.id),
      fresh.map((o) => o.author),
      fresh.map((o) => o.ctr),
      fresh.map((o) => o.wallTime),
      fresh.map((o) => o.kind),
      fresh.map((o) => joinIds(o.parents)),
      fresh.map((o) => o.prev),
      fresh.map((o) => bufferOf(o.bytes)),
      fresh.map((o) => JSON.stringify(o.vv)),
      fresh.map((o) => joinIds(o.mfront)),
      fresh.map((o) => o.body),
      doc,
      last,
      NOTIFY_CHANNEL,
      `${doc}:${last}`,
    ],
  );
  return last;
}
