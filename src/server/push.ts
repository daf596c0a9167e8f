// Push (SYNC-4, RELAY-2, RELAY-7): each pushed op is parsed, budgeted, admitted
// (src/server/admission.ts), held or applied through the engine in one batch, and answered once.

import {
  type ApplyResult,
  type DocId,
  EngineError,
  type OpenedOp,
  type OpId,
  openOp,
} from '../engine/index.ts';
import { wireCode } from '../sync/codes.ts';
import { SYNC_LIMITS } from '../sync/messages.ts';
import { NOT_SERVED, newBatch } from './admission.ts';
import type { Session } from './session.ts';

/** SYNC-4: every op gets exactly one answer on this connection, however often it is pushed. */
export async function handlePush(s: Session, list: Uint8Array[]): Promise<void> {
  const relay = s.relay;
  const device = s.device!;
  const { maxOpBytes } = relay.limits;
  const nowMs = relay.nowUs() / 1000;
  const batch = newBatch(device);
  const toApply: { op: OpenedOp; invite?: OpId | undefined }[] = [];
  const refreshed = new Set<DocId>();
  for (const bytes of list) {
    let op: OpenedOp;
    try {
      if (bytes.length > maxOpBytes)
        throw new EngineError('TooLarge', `op is ${bytes.length} bytes (max ${maxOpBytes})`);
      op = openOp(bytes);
    } catch (e) {
      relay.stats.opsRejected++;
      const err = e instanceof EngineError ? e : new EngineError('Malformed', String(e));
      s.sendError(wireCode(err.code), err.message, (err.opId as OpId | undefined) ?? null);
      continue;
    }
    if (relay.answers.answering(s, op.id)) continue; // already has its answer coming
    const wait = Math.max(
      relay.opBuckets.take(device, nowMs),
      relay.byteBuckets.take(device, nowMs, bytes.length),
    );
    if (wait > 0) {
      s.sendError('RateLimited', 'too many ops or bytes from this device', op.id, op.doc, wait);
      continue;
    }
    let v = relay.admission.check(op, batch, 'push');
    // RELAY-22: with a shared database, "no such calendar for this device" may only mean that
    // another relay committed the calendar or the Add a moment ago: catch up once, judge again.
    if (v.kind === 'refuse' && v.refusal === NOT_SERVED && relay.shared && !refreshed.has(op.doc)) {
      refreshed.add(op.doc);
      if (await relay.refresh(op.doc)) v = relay.admission.check(op, batch, 'push');
    }
    if (v.kind === 'refuse') {
      relay.stats.opsRejected++;
      s.log.info('op refused', { device, op: op.id, code: v.refusal.code });
      s.sendError(v.refusal.code, v.refusal.message, op.id, op.doc, v.refusal.retryAfterMs ?? 0);
    } else if (v.kind === 'duplicate') {
      relay.answers.ack(s, { doc: op.doc, op: op.id, seq: v.seq });
      relay.scheduleFlush();
    } else if (v.kind === 'hold') {
      await hold(s, op);
    } else {
      relay.answers.await(op.id, s);
      toApply.push({ op, invite: v.invite });
    }
  }
  if (toApply.length === 0) return;
  const results = await applyInSlices(
    relay.replica,
    toApply.map((x) => x.op),
  );
  const wants = new Map<DocId, Set<OpId>>();
  results.forEach((r, i) => {
    const { op, invite } = toApply[i]!;
    if (invite !== undefined && r.status === 'rejected') relay.ledger.release(invite, op.id);
    if (r.status === 'duplicate') {
      const seq = relay.store.seqOf(op.doc, op.id);
      if (seq !== undefined && s.awaited.has(op.id)) relay.answers.ack(s, { doc: op.doc, op: op.id, seq });
      relay.scheduleFlush();
    } else if (r.status === 'pending') {
      // Stays awaited: acked when its predecessors arrive (DAG-3). SYNC-7: ask the pusher for
      // what this op waits for (only that: RELAY-18).
      const s = wants.get(op.doc) ?? new Set<OpId>();
      for (const id of relay.store.pendingMissing(op.doc, op.id)) s.add(id);
      wants.set(op.doc, s);
    } else if (r.status === 'rejected') {
      relay.stats.opsRejected++;
      const code = r.error?.code ?? 'Malformed';
      s.log.info('op rejected', { device, op: op.id, code });
      relay.answers.refuse(s, op.id, op.doc, wireCode(code), r.error?.message ?? 'rejected');
    }
    // 'applied': acked from the commit hook after the durability barrier (RELAY-5).
  });
  for (const [doc, ids] of wants) {
    const list = [...ids].slice(0, SYNC_LIMITS.maxIdsPerFrame);
    if (list.length > 0) s.send({ type: 'want', doc, ids: list });
  }
}

/** RELAY-7: a future-dated op is held; the device hears Held and its clock offset. */
async function hold(s: Session, op: OpenedOp): Promise<void> {
  const relay = s.relay;
  const r = await relay.held.hold(op);
  if (r === 'bad-signature') {
    relay.stats.opsRejected++;
    s.sendError('BadSignature', 'signature does not verify', op.id, op.doc);
    return;
  }
  if (r === 'full') {
    s.sendError('HeldFull', 'too many future-dated ops held for this device', op.id, op.doc);
    return;
  }
  relay.answers.await(op.id, s);
  const now = relay.nowUs();
  const offset = op.header.wallTime - now;
  s.send({
    type: 'held',
    doc: op.doc,
    op: op.id,
    releaseAt: op.header.wallTime - relay.skewUs,
    clockOffset: offset,
  });
  s.send({ type: 'clock', clockOffset: offset, maxSkew: relay.skewUs });
}

/**
 * The engine applies a batch without yielding between its store commits (each resolves at once),
 * so one push of 512 ops waiting for predecessors would hold the event loop for as long as 512
 * commits take. Slices of SLICE ops, with a turn of the event loop between them, keep /health
 * and every other connection served (RELAY-20); a slice is still one batch (DAG-7).
 */
const SLICE = 64;

export async function applyInSlices(
  replica: { receiveBatch(ops: readonly OpenedOp[]): Promise<ApplyResult[]> },
  ops: readonly OpenedOp[],
): Promise<ApplyResult[]> {
  const out: ApplyResult[] = [];
  for (let i = 0; i < ops.length; i += SLICE) {
    if (i > 0) await new Promise((r) => setImmediate(r));
    out.push(...(await replica.receiveBatch(ops.slice(i, i + SLICE))));
  }
  return out;
}
