// One engine commit as one readwrite IndexedDB transaction ([RT-1]): the stores it touches, the
// reads its checks need and every write, issued as raw requests; all of a batch lands or none.

import type { CommitBatch, OpRecord } from '../engine/index.ts';
import { CALENDAR_ENTITY, type DeviceId, EngineError, type OpId } from '../engine/index.ts';
import { abortQuietly, isAbortError, isError } from './idb-errors.ts';
import { corrupt, isCount, parseOp, spanOf } from './idb-records.ts';
import { ALL_STORES, type Store } from './idb-schema.ts';

export function storesOf(batch: CommitBatch, own: DeviceId | undefined, spans: boolean): Store[] {
  const s = new Set<Store>();
  if (batch.ops?.length) {
    s.add('ops');
    if (own !== undefined && batch.ops.some((o) => o.author === own)) s.add('outbox');
  }
  if (batch.bodyUpdates?.length) s.add('ops');
  if (batch.docRecord) s.add('docs');
  if (batch.entities?.length) {
    s.add('entities');
    if (spans) s.add('spans');
  }
  if (batch.pendingAdd?.length || batch.pendingRemove?.length) s.add('pending');
  if (batch.evidence?.length) s.add('evidence');
  if (batch.endorsements?.length) s.add('endorsements');
  if (batch.clock !== undefined) s.add('meta');
  return ALL_STORES.filter((n) => s.has(n));
}

/**
 * Commits one batch in one readwrite transaction over raw IndexedDB requests. A 5,000-event
 * import is ~20,000 puts: through idb's promise-per-request wrapper (a Proxy call, a promise and
 * two listeners each) staging them took ~2.9 s of the worker in Chromium, ~2.3 s raw (profiled,
 * loaded machine). Writes need no handler of their own: a failing request aborts the transaction
 * with its error (IndexedDB: an unhandled request error aborts), which `done` reports.
 */
export interface RawCommit {
  db: IDBDatabase;
  names: Store[];
  durability: IDBTransactionDurability;
  batch: CommitBatch;
  own: DeviceId | undefined;
  spans: boolean;
}

export async function commitRaw(c: RawCommit): Promise<void> {
  try {
    await commitOnce(c, false);
  } catch (e) {
    // add() found an op already stored (or another constraint failed): nothing landed; again,
    // reading first which ops are present (a real constraint failure fails again, reported).
    if (!c.batch.ops?.length || !isError(e, 'ConstraintError')) throw e;
    await commitOnce(c, true);
  }
}

async function commitOnce(c: RawCommit, probe: boolean): Promise<void> {
  const { db, names, durability, batch, own, spans } = c;
  const tx = db.transaction(names, 'readwrite', { durability });
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error ?? new DOMException('the transaction was aborted', 'AbortError'));
  });
  try {
    await stage(tx, batch, own, spans, probe);
  } catch (e) {
    // A check failed or a request threw synchronously (DataCloneError, a bad key): earlier
    // requests may already be queued, so abort and none of them lands. A read that failed inside
    // IndexedDB reports an AbortError; the transaction's own error names the cause.
    abortQuietly(tx);
    const cause = await done.then(
      () => e,
      (t: unknown) => (isAbortError(e) && !isAbortError(t) ? t : e),
    );
    throw cause;
  }
  // The transaction's fate: a request failing inside IndexedDB (quota, constraint) or the commit
  // itself failing (quota, in Chromium) aborts all of it.
  await done;
}

/** Resolves when `req` succeeded; requests of one transaction complete in the order they were made. */
function settled(req: IDBRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error ?? new DOMException('the request failed', 'AbortError'));
  });
}

/**
 * Issues every write of a batch inside `tx`, after reading what the checks need (last seq, stored
 * clock) in the same transaction. Matches the memory store's semantics: ops already present are
 * skipped, new ops must continue the calendar's seq densely, body updates for absent ops are
 * ignored, and the clock only moves forward. Which ops are present is read first only when the
 * batch does not continue the seq (`probe`, or a retry): ops that do are new unless stored under
 * another seq, so they are written with add(), which then fails and nothing lands (commitRaw
 * retries with `probe`). A 5,000-op import no longer reads 5,000 keys before writing.
 */
async function stage(
  tx: IDBTransaction,
  batch: CommitBatch,
  own: DeviceId | undefined,
  spans: boolean,
  probe: boolean,
) {
  const doc = batch.doc;
  const ops = batch.ops ?? [];
  const updates = batch.bodyUpdates ?? [];
  const opStore = ops.length > 0 || updates.length > 0 ? tx.objectStore('ops') : undefined;
  // The reads, all in flight at once; their results are read once the last one has completed.
  const updated = updates.map((u) => opStore!.get([doc, u.id]));
  const reads: IDBRequest[] = [...updated];
  let last = 0;
  if (ops.length > 0) {
    const range = IDBKeyRange.bound([doc, 0], [doc, Number.POSITIVE_INFINITY]);
    const seqReq = opStore!.index('bySeq').openKeyCursor(range, 'prev');
    seqReq.addEventListener('success', () => {
      last = (seqReq.result?.key as [string, number] | undefined)?.[1] ?? 0;
    });
    reads.push(seqReq);
  }
  const clockReq = batch.clock !== undefined ? tx.objectStore('meta').get('clock') : undefined;
  if (clockReq) reads.push(clockReq);
  if (reads.length > 0) await settled(reads[reads.length - 1]!);
  const fast = !probe && ops.every((op, i) => op.seq === last + 1 + i);
  const present = fast ? [] : ops.map((o) => opStore!.getKey([doc, o.id]));
  if (present.length > 0) await settled(present[present.length - 1]!);
  const fresh = new Map<OpId, OpRecord>();
  let next = last + 1;
  ops.forEach((op, i) => {
    if (present[i]?.result !== undefined || fresh.has(op.id)) return;
    if (op.doc !== doc)
      throw new EngineError('Storage', `op ${op.id} of calendar ${op.doc} in a batch for ${doc}`, op.id);
    if (op.seq !== next)
      throw new EngineError('Storage', `op seq ${op.seq} out of order (expected ${next})`, op.id);
    next += 1;
    fresh.set(op.id, op);
  });
  updates.forEach((u, i) => {
    const inBatch = fresh.get(u.id);
    const stored = updated[i]!.result as unknown;
    if (inBatch) fresh.set(u.id, { ...inBatch, body: u.body });
    else if (stored !== undefined) opStore!.put({ ...parseOp(stored, doc), body: u.body });
  });
  const outbox =
    own !== undefined && tx.objectStoreNames.contains('outbox') ? tx.objectStore('outbox') : undefined;
  for (const op of fresh.values()) {
    if (fast) opStore!.add(op);
    else opStore!.put(op);
    if (outbox !== undefined && op.author === own) outbox.put({ doc, id: op.id, seq: op.seq });
  }
  if (batch.docRecord) tx.objectStore('docs').put(batch.docRecord);
  if (batch.entities?.length) {
    const entities = tx.objectStore('entities');
    const spanStore = spans ? tx.objectStore('spans') : undefined;
    for (const e of batch.entities) {
      entities.put(e);
      if (spanStore === undefined || e.entity === CALENDAR_ENTITY) continue;
      // Same transaction as the entity: the span index never disagrees with a committed entity.
      const span = spanOf(e);
      if (span) spanStore.put(span);
      else spanStore.delete([e.doc, e.entity]);
    }
  }
  for (const p of batch.pendingAdd ?? []) tx.objectStore('pending').put(p);
  for (const id of batch.pendingRemove ?? []) tx.objectStore('pending').delete([doc, id]);
  for (const ev of batch.evidence ?? []) tx.objectStore('evidence').put(ev);
  for (const en of batch.endorsements ?? []) tx.objectStore('endorsements').put(en);
  if (clockReq !== undefined) {
    const storedClock = clockReq.result as unknown;
    if (storedClock !== undefined && !isCount(storedClock))
      throw corrupt('meta/clock', 'not a non-negative integer');
    if (batch.clock! > ((storedClock as number | undefined) ?? 0))
      tx.objectStore('meta').put(batch.clock, 'clock');
  }
}
