// The EngineStore on PostgreSQL (node-postgres, pooled connections), shared by several relays.
// Invariants:
// - Every CommitBatch is one PostgreSQL transaction (all or nothing).
// - Per-calendar order across relays (RELAY-21): a commit that appends ops first locks the
//   calendar's head row (`ld_heads`, upserted with RETURNING so the first commit of a calendar
//   locks it too), then requires its new ops to be head+1, head+2, ... and its doc record to be at
//   the new head. Two relays racing on one calendar are serialized by that row lock; the loser
//   sees the winner's head and gets a StaleCommitError (nothing written), so seq stays gap-free
//   and a higher seq never becomes visible before a lower one. No global sequence is used.
// - The commit sends NOTIFY `ledgerday_ops` with `doc:seq` inside the transaction: PostgreSQL
//   delivers it only after COMMIT, in commit order. It is a doorbell; readers read the table.
// - Schema migrations run once, under a session advisory lock, whoever starts first.

import { deserialize, serialize } from 'node:v8';
import pg from 'pg';
import type {
  BodyState,
  CommitBatch,
  DeviceId,
  DeviceRecord,
  DocId,
  DocRecord,
  EngineStore,
  EntityId,
  EntityRecord,
  EquivocationRecord,
  LoadedDoc,
  OpId,
  OpKind,
  OpRecord,
  PendingRecord,
} from '../engine/index.ts';
import { EngineError, toEngineError } from '../engine/index.ts';
import {
  bufferOf,
  type HeldOp,
  joinIds,
  ownBytes,
  registersFromJson,
  registersToJson,
  splitIds,
} from './sqlite-store.ts';

export const NOTIFY_CHANNEL = 'ledgerday_ops';
/** Bumped when the table layout changes. */
const SCHEMA_VERSION = 1;
/** pg_advisory_lock key for migrations ("LDMIGRAT" as an int8). */
const MIGRATION_LOCK = '5495749368620925268';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ld_meta (key text PRIMARY KEY, value bigint NOT NULL);
CREATE TABLE IF NOT EXISTS ld_device (id int PRIMARY KEY CHECK (id = 1), record bytea NOT NULL);
CREATE TABLE IF NOT EXISTS ld_heads (doc text PRIMARY KEY, seq bigint NOT NULL);
CREATE TABLE IF NOT EXISTS ld_docs (
  doc text PRIMARY KEY, genesis text NOT NULL, heads text NOT NULL, seq bigint NOT NULL,
  own_last text, own_ctr bigint NOT NULL, extra text
);
CREATE TABLE IF NOT EXISTS ld_ops (
  doc text NOT NULL, seq bigint NOT NULL, id text NOT NULL, author text NOT NULL,
  ctr bigint NOT NULL, wall_time bigint NOT NULL, kind smallint NOT NULL, parents text NOT NULL,
  prev text, bytes bytea NOT NULL, vv text NOT NULL, mfront text NOT NULL, body text NOT NULL,
  PRIMARY KEY (doc, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS ld_ops_by_id ON ld_ops (doc, id);
CREATE INDEX IF NOT EXISTS ld_ops_by_chain ON ld_ops (doc, author, ctr);
CREATE INDEX IF NOT EXISTS ld_ops_membership ON ld_ops (doc, seq) WHERE kind = 2;
CREATE TABLE IF NOT EXISTS ld_entities (doc text NOT NULL, entity text NOT NULL, registers text NOT NULL, PRIMARY KEY (doc, entity));
CREATE TABLE IF NOT EXISTS ld_pending (doc text NOT NULL, id text NOT NULL, bytes bytea NOT NULL, missing text NOT NULL, PRIMARY KEY (doc, id));
CREATE TABLE IF NOT EXISTS ld_evidence (doc text NOT NULL, author text NOT NULL, ctr bigint NOT NULL, ops text NOT NULL, PRIMARY KEY (doc, author, ctr));
CREATE TABLE IF NOT EXISTS ld_held (
  id text PRIMARY KEY, doc text NOT NULL, author text NOT NULL, wall_time bigint NOT NULL,
  bytes bytea NOT NULL, received_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS ld_held_by_time ON ld_held (wall_time);
`;

const OP_COLS = 'doc, seq, id, author, ctr, wall_time, kind, parents, prev, bytes, vv, mfront, body';

/** A commit refused because another writer moved the calendar's head first (nothing was written). */
export class StaleCommitError extends EngineError {
  readonly doc: DocId;
  constructor(doc: DocId, message: string) {
    super('Storage', `stale commit: ${message}`);
    this.doc = doc;
  }
}

/** int8 and numeric columns as JS numbers (seq, ctr and µs times all stay below 2^53). */
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

interface OpRow {
  doc: string;
  seq: number;
  id: string;
  author: string;
  ctr: number;
  wall_time: number;
  kind: number;
  parents: string;
  prev: string | null;
  bytes: Buffer;
  vv: string;
  mfront: string;
  body: string;
}

export function pgRowToOp(r: OpRow): OpRecord {
  return {
    id: r.id as OpId,
    doc: r.doc as DocId,
    seq: r.seq,
    author: r.author as DeviceId,
    ctr: r.ctr,
    wallTime: r.wall_time,
    kind: r.kind as OpKind,
    parents: splitIds<OpId>(r.parents),
    prev: r.prev as OpId | null,
    bytes: ownBytes(r.bytes),
    vv: JSON.parse(r.vv) as Record<string, number>,
    mfront: splitIds<OpId>(r.mfront),
    body: r.body as BodyState,
  };
}

export interface PgStoreOptions {
  url: string;
  /** Pooled connections (default 10). */
  poolSize?: number;
  /** How long a query may wait for a free connection or a new one (ms, default 5000). */
  connectTimeoutMs?: number;
  /**
   * Commits return before PostgreSQL flushes its WAL (synchronous_commit=off, per transaction);
   * `barrier()` then makes every commit so far durable at once. The relay acknowledges and
   * forwards only after a barrier (RELAY-5), as it does after the SQLite fsync.
   */
  asyncCommit?: boolean;
}

export class PgStore implements EngineStore {
  readonly pool: pg.Pool;
  readonly url: string;
  private readonly begin: string;
  private closed = false;

  private constructor(opts: PgStoreOptions) {
    this.url = opts.url;
    this.begin = 'BEGIN';
    this.pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      ...(opts.asyncCommit === true ? { options: '-c synchronous_commit=off' } : {}),
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
      idleTimeoutMillis: 30_000,
      types,
    });
    // An idle client's connection dropping (a database restart) must not crash the process.
    this.pool.on('error', () => undefined);
  }

  /** Connects and migrates (once across relays, under an advisory lock). */
  static async open(opts: PgStoreOptions): Promise<PgStore> {
    const s = new PgStore(opts);
    try {
      await s.migrate();
    } catch (e) {
      await s.pool.end().catch(() => undefined);
      throw toEngineError(e, 'Storage', 'opening PostgreSQL');
    }
    return s;
  }

  private async migrate(): Promise<void> {
    const c = await this.pool.connect();
    try {
      await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await c.query('CREATE TABLE IF NOT EXISTS ld_meta (key text PRIMARY KEY, value bigint NOT NULL)');
        const r = await c.query("SELECT value FROM ld_meta WHERE key = 'schema'");
        const version = (r.rows[0]?.value as number | undefined) ?? 0;
        if (version > SCHEMA_VERSION)
          throw new EngineError(
            'Storage',
            `database schema ${version} is newer than this relay (${SCHEMA_VERSION})`,
          );
        if (version < SCHEMA_VERSION) {
          await c.query('BEGIN');
          await c.query(SCHEMA);
          await c.query(
            "INSERT INTO ld_meta (key, value) VALUES ('schema', $1) ON CONFLICT (key) DO UPDATE SET value = $1",
            [SCHEMA_VERSION],
          );
          await c.query('COMMIT');
        }
      } finally {
        await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
      }
    } catch (e) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      c.release();
    }
  }

  private async q<R extends pg.QueryResultRow>(
    what: string,
    sql: string,
    args: unknown[] = [],
  ): Promise<R[]> {
    if (this.closed) throw new EngineError('Storage', `${what}: store is closed`);
    try {
      return (await this.pool.query<R>(sql, args)).rows;
    } catch (e) {
      throw toEngineError(e, 'Storage', what);
    }
  }

  /** Runs `f` in one transaction on one pooled connection. */
  async tx<T>(what: string, f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new EngineError('Storage', `${what}: store is closed`);
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw toEngineError(e, 'Storage', what);
    }
    let broken = false;
    try {
      await c.query(this.begin);
      const out = await f(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      try {
        await c.query('ROLLBACK');
      } catch {
        broken = true;
      }
      throw toEngineError(e, 'Storage', what);
    } finally {
      c.release(broken);
    }
  }

  /**
   * Waits until every transaction committed so far (by any connection) is flushed: a transaction
   * with an xid commits with synchronous_commit=on, which flushes the WAL up to its own commit
   * record, past every earlier commit record (and waits for synchronous standbys, if any).
   */
  async barrier(): Promise<void> {
    await this.q('barrier', 'BEGIN; SET LOCAL synchronous_commit TO on; SELECT txid_current(); COMMIT');
  }

  async ping(): Promise<void> {
    await this.q('ping', 'SELECT 1');
  }

  async loadDevice(): Promise<DeviceRecord | undefined> {
    const rows = await this.q<{ record: Buffer }>('loadDevice', 'SELECT record FROM ld_device WHERE id = 1');
    return rows[0] === undefined ? undefined : (deserialize(rows[0].record) as DeviceRecord);
  }

  async saveDevice(device: DeviceRecord): Promise<void> {
    await this.q(
      'saveDevice',
      'INSERT INTO ld_device (id, record) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET record = $1',
      [serialize(device)],
    );
  }

  async loadClock(): Promise<number> {
    const rows = await this.q<{ value: number }>(
      'loadClock',
      "SELECT value FROM ld_meta WHERE key = 'clock'",
    );
    return rows[0]?.value ?? 0;
  }

  async listDocs(): Promise<DocId[]> {
    return (await this.q<{ doc: string }>('listDocs', 'SELECT doc FROM ld_docs ORDER BY doc')).map(
      (r) => r.doc as DocId,
    );
  }

  /** Head seq of every calendar (the poll fallback of the fan-out compares these). */
  async headSeqs(): Promise<Map<DocId, number>> {
    const rows = await this.q<{ doc: string; seq: number }>('headSeqs', 'SELECT doc, seq FROM ld_heads');
    return new Map(rows.map((r) => [r.doc as DocId, r.seq]));
  }

  /** Head seq of one calendar (0 if it has none). */
  async headSeq(doc: DocId): Promise<number> {
    const rows = await this.q<{ seq: number }>('headSeq', 'SELECT seq FROM ld_heads WHERE doc = $1', [doc]);
    return rows[0]?.seq ?? 0;
  }

  async loadDocRecord(doc: DocId): Promise<DocRecord | undefined> {
    const rows = await this.q<{
      genesis: string;
      heads: string;
      seq: number;
      own_last: string | null;
      own_ctr: number;
      extra: string | null;
    }>('loadDoc', 'SELECT genesis, heads, seq, own_last, own_ctr, extra FROM ld_docs WHERE doc = $1', [doc]);
    const d = rows[0];
    if (d === undefined) return undefined;
    return {
      ...(d.extra === null ? {} : (registersFromJson(d.extra) as unknown as Partial<DocRecord>)),
      doc,
      genesis: d.genesis as OpId,
      heads: splitIds<OpId>(d.heads),
      seq: d.seq,
      ownLast: d.own_last as OpId | null,
      ownCtr: d.own_ctr,
    };
  }

  /** What a relay's local copy needs besides the ops: doc record, entities, pending, evidence. */
  async docState(doc: DocId): Promise<Omit<LoadedDoc, 'membership'> | undefined> {
    const [rec, entities, pending, evidence] = await Promise.all([
      this.loadDocRecord(doc),
      this.entitiesOf(doc),
      this.pendingOf(doc),
      this.evidenceOf(doc),
    ]);
    return rec === undefined ? undefined : { doc: rec, entities, pending, evidence };
  }

  async entitiesOf(doc: DocId): Promise<EntityRecord[]> {
    const rows = await this.q<{ entity: string; registers: string }>(
      'entitiesOf',
      'SELECT entity, registers FROM ld_entities WHERE doc = $1 ORDER BY entity',
      [doc],
    );
    return rows.map((r) => ({
      doc,
      entity: r.entity as EntityId,
      registers: registersFromJson(r.registers),
    }));
  }

  async loadDoc(doc: DocId): Promise<LoadedDoc | undefined> {
    const rec = await this.loadDocRecord(doc);
    if (rec === undefined) return undefined;
    const [entities, pending, membership, evidence] = await Promise.all([
      this.entitiesOf(doc),
      this.pendingOf(doc),
      this.membershipOps(doc),
      this.evidenceOf(doc),
    ]);
    return {
      doc: rec,
      entities,
      pending,
      membership,
      evidence,
    };
  }

  async pendingOf(doc: DocId): Promise<PendingRecord[]> {
    const rows = await this.q<{ id: string; bytes: Buffer; missing: string }>(
      'pendingOf',
      'SELECT id, bytes, missing FROM ld_pending WHERE doc = $1 ORDER BY id',
      [doc],
    );
    return rows.map((r) => ({
      id: r.id as OpId,
      doc,
      bytes: ownBytes(r.bytes),
      missing: splitIds<OpId>(r.missing),
    }));
  }

  async evidenceOf(doc: DocId): Promise<EquivocationRecord[]> {
    const rows = await this.q<{ author: string; ctr: number; ops: string }>(
      'evidenceOf',
      'SELECT author, ctr, ops FROM ld_evidence WHERE doc = $1 ORDER BY author, ctr',
      [doc],
    );
    return rows.map((r) => ({ doc, author: r.author as DeviceId, ctr: r.ctr, ops: splitIds<OpId>(r.ops) }));
  }

  async membershipOps(doc: DocId): Promise<OpRecord[]> {
    const rows = await this.q<OpRow>(
      'membershipOps',
      `SELECT ${OP_COLS} FROM ld_ops WHERE doc = $1 AND kind = 2 ORDER BY seq`,
      [doc],
    );
    return rows.map(pgRowToOp);
  }

  async getOps(doc: DocId, ids: readonly OpId[]): Promise<(OpRecord | undefined)[]> {
    if (ids.length === 0) return [];
    const rows = await this.q<OpRow>(
      'getOps',
      `SELECT ${OP_COLS} FROM ld_ops WHERE doc = $1 AND id = ANY($2)`,
      [doc, [...ids]],
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => {
      const r = byId.get(id);
      return r === undefined ? undefined : pgRowToOp(r);
    });
  }

  async getOpsByChain(doc: DocId, author: DeviceId, ctr: number): Promise<OpRecord[]> {
    const rows = await this.q<OpRow>(
      'getOpsByChain',
      `SELECT ${OP_COLS} FROM ld_ops WHERE doc = $1 AND author = $2 AND ctr = $3 ORDER BY id`,
      [doc, author, ctr],
    );
    return rows.map(pgRowToOp);
  }

  async listOps(doc: DocId, afterSeq: number, limit: number): Promise<OpRecord[]> {
    const rows = await this.q<OpRow>(
      'listOps',
      `SELECT ${OP_COLS} FROM ld_ops WHERE doc = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [doc, afterSeq, limit],
    );
    return rows.map(pgRowToOp);
  }

  async commit(b: CommitBatch): Promise<void> {
    // The common case (a run of new ops and the doc record) in one statement, one round trip;
    // everything else, and the fast path's misses (a lost race, an op already stored), in the
    // general transaction, which also names what went wrong.
    if (fastEligible(b)) {
      if (this.closed) throw new EngineError('Storage', 'commit: store is closed');
      try {
        if (await appendFast(this.pool, b)) return;
      } catch (e) {
        if ((e as { code?: unknown }).code !== '23505') throw toEngineError(e, 'Storage', 'commit');
      }
    }
    await this.tx('commit', (c) => commitIn(c, b));
  }

  // --- relay-only: held future-dated ops (RELAY-7), shared by every relay -------------------

  async hold(op: HeldOp): Promise<void> {
    await this.q(
      'hold',
      'INSERT INTO ld_held (id, doc, author, wall_time, bytes, received_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING',
      [op.id, op.doc, op.author, op.wallTime, bufferOf(op.bytes), op.receivedAt],
    );
  }

  async unhold(id: OpId): Promise<void> {
    await this.q('unhold', 'DELETE FROM ld_held WHERE id = $1', [id]);
  }

  async allHeld(): Promise<HeldOp[]> {
    const rows = await this.q<{
      id: string;
      doc: string;
      author: string;
      wall_time: number;
      bytes: Buffer;
      received_at: number;
    }>('allHeld', 'SELECT * FROM ld_held ORDER BY wall_time, id');
    return rows.map((r) => ({
      id: r.id as OpId,
      doc: r.doc as DocId,
      author: r.author as DeviceId,
      wallTime: r.wall_time,
      bytes: ownBytes(r.bytes),
      receivedAt: r.received_at,
    }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }
}

const empty = (a: readonly unknown[] | undefined) => a === undefined || a.length === 0;

/** A batch of only new ops in seq order and the doc record at the last one. */
function fastEligible(b: CommitBatch): boolean {
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
async function appendFast(pool: pg.Pool, b: CommitBatch): Promise<boolean> {
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

/** One CommitBatch inside an open transaction (see the invariants at the top of the file). */
async function commitIn(c: pg.PoolClient, b: CommitBatch): Promise<void> {
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
