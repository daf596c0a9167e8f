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
  OpRecord,
  PendingRecord,
} from '../engine/index.ts';
import { EngineError, toEngineError } from '../engine/index.ts';
import { appendFast, commitIn, fastEligible } from './pg-commit.ts';
import { migrate, OP_COLS } from './pg-schema.ts';

export { NOTIFY_CHANNEL, StaleCommitError } from './pg-schema.ts';

import {
  bufferOf,
  docRecordOf,
  type HeldOp,
  type HeldRow,
  type OpRow,
  ownBytes,
  registersFromJson,
  rowToHeld,
  rowToOp,
  splitIds,
} from './store-rows.ts';

/** int8 and numeric columns as JS numbers (seq, ctr and µs times all stay below 2^53). */
const types = {
  getTypeParser(oid: number, format?: string) {
    if (oid === 20) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format as 'text');
  },
};

interface DocRowPg {
  genesis: string;
  heads: string;
  seq: number;
  own_last: string | null;
  own_ctr: number;
  extra: string | null;
}

interface PendingJson {
  id: string;
  bytes: string;
  missing: string;
}
interface EvidenceJson {
  author: string;
  ctr: number;
  ops: string;
}
interface EntityJson {
  entity: string;
  registers: string;
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
  /** SNAP-17: what the next pruning commit of a calendar also does (`armPrune`). */
  private readonly armed = new Map<DocId, (c: pg.PoolClient) => Promise<void>>();

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
      await migrate(s.pool);
    } catch (e) {
      await s.pool.end().catch(() => undefined);
      throw toEngineError(e, 'Storage', 'opening PostgreSQL');
    }
    return s;
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

  async loadDocRecord(doc: DocId): Promise<DocRecord | undefined> {
    const rows = await this.q<DocRowPg>(
      'loadDoc',
      'SELECT genesis, heads, seq, own_last, own_ctr, extra FROM ld_docs WHERE doc = $1',
      [doc],
    );
    return rows[0] === undefined ? undefined : docRecordOf(doc, rows[0]);
  }

  /** What a relay's local copy needs besides the ops: doc record, entities, pending, evidence (one round trip). */
  /** SNAP-17: the ids of a calendar's ops (a relay whose local copy predates a prune drops the rest). */
  async opIds(doc: DocId): Promise<Set<OpId>> {
    const rows = await this.q<{ id: string }>('opIds', 'SELECT id FROM ld_ops WHERE doc = $1', [doc]);
    return new Set(rows.map((r) => r.id as OpId));
  }

  async docState(doc: DocId): Promise<Omit<LoadedDoc, 'membership'> | undefined> {
    const rows = await this.q<
      DocRowPg & { pending: PendingJson[]; evidence: EvidenceJson[]; entities: EntityJson[] }
    >(
      'docState',
      `SELECT d.genesis, d.heads, d.seq, d.own_last, d.own_ctr, d.extra,
         (SELECT coalesce(json_agg(json_build_object('id', p.id, 'bytes', encode(p.bytes, 'hex'), 'missing', p.missing) ORDER BY p.id), '[]')
            FROM ld_pending p WHERE p.doc = $1) AS pending,
         (SELECT coalesce(json_agg(json_build_object('author', e.author, 'ctr', e.ctr, 'ops', e.ops) ORDER BY e.author, e.ctr), '[]')
            FROM ld_evidence e WHERE e.doc = $1) AS evidence,
         (SELECT coalesce(json_agg(json_build_object('entity', t.entity, 'registers', t.registers) ORDER BY t.entity), '[]')
            FROM ld_entities t WHERE t.doc = $1) AS entities
       FROM ld_docs d WHERE d.doc = $1`,
      [doc],
    );
    const r = rows[0];
    if (r === undefined) return undefined;
    return {
      doc: docRecordOf(doc, r),
      pending: r.pending.map((p) => ({
        id: p.id as OpId,
        doc,
        bytes: ownBytes(Buffer.from(p.bytes, 'hex')),
        missing: splitIds<OpId>(p.missing),
      })),
      evidence: r.evidence.map((e) => ({
        doc,
        author: e.author as DeviceId,
        ctr: Number(e.ctr),
        ops: splitIds<OpId>(e.ops),
      })),
      entities: r.entities.map((e) => ({
        doc,
        entity: e.entity as EntityId,
        registers: registersFromJson(e.registers),
      })),
    };
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
    return rows.map(rowToOp);
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
      return r === undefined ? undefined : rowToOp(r);
    });
  }

  async getOpsByChain(doc: DocId, author: DeviceId, ctr: number): Promise<OpRecord[]> {
    const rows = await this.q<OpRow>(
      'getOpsByChain',
      `SELECT ${OP_COLS} FROM ld_ops WHERE doc = $1 AND author = $2 AND ctr = $3 ORDER BY id`,
      [doc, author, ctr],
    );
    return rows.map(rowToOp);
  }

  async listOps(doc: DocId, afterSeq: number, limit: number): Promise<OpRecord[]> {
    const rows = await this.q<OpRow>(
      'listOps',
      `SELECT ${OP_COLS} FROM ld_ops WHERE doc = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [doc, afterSeq, limit],
    );
    return rows.map(rowToOp);
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
    const armed = (b.prune ?? []).length > 0 ? this.armed.get(b.doc) : undefined;
    if (armed !== undefined) this.armed.delete(b.doc);
    await this.tx('commit', (c) => commitIn(c, b, armed));
  }

  /** SNAP-17: `f` runs inside the transaction of the next commit that prunes `doc` (undefined disarms). */
  armPrune(doc: DocId, f: ((c: pg.PoolClient) => Promise<void>) | undefined): void {
    if (f === undefined) this.armed.delete(doc);
    else this.armed.set(doc, f);
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
    const rows = await this.q<HeldRow>('allHeld', 'SELECT * FROM ld_held ORDER BY wall_time, id');
    return rows.map(rowToHeld);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }
}
