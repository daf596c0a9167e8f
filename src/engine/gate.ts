// The causal gate (docs/PROTOCOL.md DAG-3, DAG-4, DAG-9): ops whose predecessors are missing
// wait here, indexed by what they wait for, under bounds a stranger or a flooding member cannot
// exhaust: count and bytes per calendar and overall, per author, a small shared budget for
// authors the calendar does not know, and an age after which an op is dropped. The ids that
// refused ops wait for are remembered (bounded) so sync asks for them.
// The gate changes only when a store commit for that change has succeeded: callers stage
// admissions and removals and call `admitted` / `applied` after the commit.

import { EngineError } from './errors.ts';
import type { DeviceId, DocId, OpId } from './ids.ts';
import type { OpenedOp } from './op.ts';

export const DEFAULT_PENDING_LIMIT = 5000;
/** DAG-4: bytes of waiting ops per calendar, and overall (4x). */
export const PENDING_BYTES_PER_DOC = 16 * 1024 * 1024;
/** DAG-4: a waiting op older than this (µs) is dropped when room is needed. */
export const PENDING_TTL_US = 24 * 3600 * 1_000_000;
/** DAG-4: waiting ops by authors the calendar has no membership op about, per calendar. */
export const UNKNOWN_AUTHOR_BUDGET = 64;
/** DAG-9: ids wanted on behalf of refused ops, per calendar. */
const WANTED_LIMIT = 1024;

export interface PendingOp {
  op: OpenedOp;
  missing: Set<OpId>;
  /** µs when it was admitted (or loaded). */
  since: number;
  /** The author is known to the calendar's membership ops. */
  known: boolean;
}

interface Tally {
  count: number;
  bytes: number;
  unknown: number;
  byAuthor: Map<DeviceId, number>;
}

export class CausalGate {
  readonly limit: number;
  private readonly pending = new Map<OpId, PendingOp>();
  private readonly waiters = new Map<OpId, Set<OpId>>();
  private readonly tallies = new Map<DocId, Tally>();
  private readonly wanted = new Map<DocId, Set<OpId>>();
  private total = { count: 0, bytes: 0 };

  constructor(limit = DEFAULT_PENDING_LIMIT) {
    this.limit = limit;
  }

  get(id: OpId): PendingOp | undefined {
    return this.pending.get(id);
  }

  has(id: OpId): boolean {
    return this.pending.has(id);
  }

  ofDoc(doc: DocId): PendingOp[] {
    return [...this.pending.values()].filter((p) => p.op.doc === doc);
  }

  /** Ops waiting for `id`. */
  waitingFor(id: OpId): OpId[] {
    return [...(this.waiters.get(id) ?? [])];
  }

  count(doc?: DocId): number {
    return doc === undefined ? this.total.count : (this.tallies.get(doc)?.count ?? 0);
  }

  /** DAG-3, DAG-9: what sync should fetch for a calendar. */
  missing(doc: DocId, isKnown: (id: OpId) => boolean): OpId[] {
    const out = new Set<OpId>();
    for (const p of this.pending.values()) if (p.op.doc === doc) for (const m of p.missing) out.add(m);
    for (const m of this.wanted.get(doc) ?? []) if (!isKnown(m)) out.add(m);
    return [...out];
  }

  /**
   * DAG-4: whether an op may wait, and which expired ops to drop to make room. Changes nothing.
   */
  check(
    op: OpenedOp,
    known: boolean,
    now: number,
  ): { ok: true; evict: OpId[] } | { ok: false; error: EngineError } {
    const t = this.tallies.get(op.doc);
    const perAuthor = Math.max(16, Math.floor(this.limit / 4));
    const over = (tt: Tally | undefined, extra: number) =>
      (tt?.count ?? 0) + 1 > this.limit ||
      (tt?.bytes ?? 0) + extra > PENDING_BYTES_PER_DOC ||
      this.total.count + 1 > this.limit * 4 ||
      this.total.bytes + extra > PENDING_BYTES_PER_DOC * 4 ||
      (!known && (tt?.unknown ?? 0) + 1 > UNKNOWN_AUTHOR_BUDGET) ||
      (tt?.byAuthor.get(op.author) ?? 0) + 1 > perAuthor;
    if (!over(t, op.bytes.length)) return { ok: true, evict: [] };
    const evict = [...this.pending.values()]
      .filter((p) => now - p.since > PENDING_TTL_US)
      .map((p) => p.op.id);
    if (evict.length > 0) {
      const after = new CausalGate(this.limit);
      for (const p of this.pending.values()) if (!evict.includes(p.op.id)) after.admitted(p);
      if (!after.check(op, known, now).ok) return { ok: false, error: full(op) };
      return { ok: true, evict };
    }
    return { ok: false, error: full(op) };
  }

  /** After the commit that stored it: the op waits. */
  admitted(p: PendingOp): void {
    const old = this.pending.get(p.op.id);
    if (old !== undefined) this.drop(p.op.id);
    this.pending.set(p.op.id, p);
    for (const m of p.missing) addTo(this.waiters, m, p.op.id);
    const t = this.tally(p.op.doc);
    t.count++;
    t.bytes += p.op.bytes.length;
    if (!p.known) t.unknown++;
    t.byAuthor.set(p.op.author, (t.byAuthor.get(p.op.author) ?? 0) + 1);
    this.total.count++;
    this.total.bytes += p.op.bytes.length;
  }

  /** DAG-9: a refused op's missing predecessors are wanted all the same. */
  want(doc: DocId, ids: readonly OpId[]): void {
    let s = this.wanted.get(doc);
    if (s === undefined) {
      s = new Set();
      this.wanted.set(doc, s);
    }
    for (const id of ids) if (s.size < WANTED_LIMIT) s.add(id);
  }

  /** After the commit that applied (or dropped) it: the op no longer waits, nobody waits for it. */
  applied(id: OpId, doc: DocId): void {
    this.drop(id);
    this.waiters.delete(id);
    this.wanted.get(doc)?.delete(id);
  }

  /** Removes a waiting op (dropped or applied). */
  drop(id: OpId): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    for (const m of p.missing) {
      const s = this.waiters.get(m);
      s?.delete(id);
      if (s?.size === 0) this.waiters.delete(m);
    }
    const t = this.tally(p.op.doc);
    t.count--;
    t.bytes -= p.op.bytes.length;
    if (!p.known) t.unknown--;
    const n = (t.byAuthor.get(p.op.author) ?? 1) - 1;
    if (n === 0) t.byAuthor.delete(p.op.author);
    else t.byAuthor.set(p.op.author, n);
    this.total.count--;
    this.total.bytes -= p.op.bytes.length;
  }

  private tally(doc: DocId): Tally {
    let t = this.tallies.get(doc);
    if (t === undefined) {
      t = { count: 0, bytes: 0, unknown: 0, byAuthor: new Map() };
      this.tallies.set(doc, t);
    }
    return t;
  }
}

const full = (op: OpenedOp) => new EngineError('PendingFull', 'too many ops waiting for parents', op.id);

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s === undefined) m.set(k, new Set([v]));
  else s.add(v);
}
