// Resource budgets of the relay (RELAY-4, RELAY-13, RELAY-20): token buckets for rates, and the
// per-author index of ops waiting for their predecessors, kept from the store's commits so that
// admission never scans the pending set.

import type { CommitBatch, DeviceId, OpId } from '../engine/index.ts';
import { openOp } from '../engine/index.ts';

/** Token bucket: refills at `rate` per second up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly rate: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.last = nowMs;
  }
  private refill(nowMs: number): void {
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, nowMs - this.last) / 1000) * this.rate);
    this.last = nowMs;
  }
  /** Takes `n` tokens; returns 0 on success, else ms until they are available (nothing taken). */
  take(nowMs: number, n = 1): number {
    this.refill(nowMs);
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    // More than a burst can never pass: the wait is until a full bucket.
    const need = Math.min(n, this.burst) - this.tokens;
    return Math.max(1, Math.ceil((need / this.rate) * 1000));
  }
}

/** Buckets keyed by device, dropped when idle-full so the map does not grow with every key seen. */
export class BucketMap<K> {
  private readonly m = new Map<K, TokenBucket>();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}
  take(key: K, nowMs: number, n = 1): number {
    let b = this.m.get(key);
    if (b === undefined) {
      if (this.m.size > 100_000) this.m.clear(); // a bound: worst case, buckets start full again
      b = new TokenBucket(this.rate, this.burst, nowMs);
      this.m.set(key, b);
    }
    return b.take(nowMs, n);
  }
}

interface Usage {
  n: number;
  bytes: number;
}

/**
 * Pending ops per author (count and bytes), maintained from commits (pendingAdd / pendingRemove)
 * and built once at start from the stored pending set.
 */
export class PendingBudget {
  private readonly byId = new Map<OpId, { author: DeviceId; bytes: number }>();
  private readonly byAuthor = new Map<DeviceId, Usage>();

  add(id: OpId, bytes: Uint8Array): void {
    if (this.byId.has(id)) return;
    let author: DeviceId;
    try {
      author = openOp(bytes).author;
    } catch {
      return;
    }
    this.byId.set(id, { author, bytes: bytes.length });
    const u = this.byAuthor.get(author) ?? { n: 0, bytes: 0 };
    u.n++;
    u.bytes += bytes.length;
    this.byAuthor.set(author, u);
  }

  remove(id: OpId): void {
    const e = this.byId.get(id);
    if (e === undefined) return;
    this.byId.delete(id);
    const u = this.byAuthor.get(e.author);
    if (u === undefined) return;
    u.n--;
    u.bytes -= e.bytes;
    if (u.n <= 0) this.byAuthor.delete(e.author);
  }

  committed(b: CommitBatch): void {
    for (const p of b.pendingAdd ?? []) this.add(p.id, p.bytes);
    for (const id of b.pendingRemove ?? []) this.remove(id);
    for (const op of b.ops ?? []) this.remove(op.id);
  }

  usage(author: DeviceId): Usage {
    return this.byAuthor.get(author) ?? { n: 0, bytes: 0 };
  }

  get size(): number {
    return this.byId.size;
  }
}
