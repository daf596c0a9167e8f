// Fan-out across relays (RELAY-22): PostgreSQL NOTIFY is a doorbell only. A notification names a
// calendar and a seq; the relay then reads `seq > what it holds` from the table (ClusterStore
// .pull), so a lost, merged or reordered notification costs latency, never an op.
// - Batching: notifications arriving within one short window are merged per calendar (one pull
//   per calendar per window, whatever the number of commits).
// - Poll fallback: every `pollMs` the relay compares every calendar's head seq with its copy, so
//   ops whose notification was lost (the LISTEN connection dropped, the database restarted) are
//   still delivered, at most one poll late. The poll also tells /ready whether the database answers.
// - The LISTEN connection reconnects by itself with backoff; after a reconnect it polls at once.

import pg from 'pg';
import type { DocId } from '../engine/index.ts';
import type { ClusterStore } from './cluster-store.ts';
import type { Logger } from './log.ts';
import { NOTIFY_CHANNEL } from './pg-store.ts';

export interface DoorbellOptions {
  store: ClusterStore;
  url: string;
  log: Logger;
  /** Poll fallback period, ms. */
  pollMs: number;
  /** Window within which notifications are merged, ms. */
  batchMs?: number;
}

export class Doorbell {
  private client: pg.Client | undefined;
  private closed = false;
  private readonly due = new Set<DocId>();
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private backoffMs = 100;
  private pulling: Promise<void> = Promise.resolve();
  private polling = false;
  /** Notifications received and pulls run (health counters). */
  readonly stats = { notifications: 0, pulls: 0, polls: 0, reconnects: 0 };

  constructor(private readonly o: DoorbellOptions) {}

  async start(): Promise<void> {
    await this.listen();
    this.pollTimer = setInterval(() => void this.poll(), this.o.pollMs);
    this.pollTimer.unref();
  }

  private async listen(): Promise<void> {
    const c = new pg.Client({ connectionString: this.o.url, connectionTimeoutMillis: 5000 });
    c.on('notification', (n) => this.rang(n.payload));
    c.on('error', () => this.lost(c));
    c.on('end', () => this.lost(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch (e) {
      this.o.store.noteError(e);
      this.lost(c);
      return;
    }
    this.client = c;
    this.backoffMs = 100;
    // Whatever was committed while nobody listened is found by the poll.
    void this.poll();
  }

  private lost(c: pg.Client): void {
    if (this.client === c) this.client = undefined;
    void c.end().catch(() => undefined);
    if (this.closed || this.reconnectTimer !== undefined) return;
    this.stats.reconnects++;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closed) void this.listen();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 2000);
  }

  private rang(payload: string | undefined): void {
    this.stats.notifications++;
    const at = payload?.lastIndexOf(':') ?? -1;
    if (payload === undefined || at < 0) return;
    const doc = payload.slice(0, at) as DocId;
    const seq = Number(payload.slice(at + 1));
    if (Number.isSafeInteger(seq) && seq <= this.o.store.committedSeqOf(doc)) return; // our own, or already pulled
    this.ring(doc);
  }

  /** Marks a calendar for a pull in the next batch window. */
  ring(doc: DocId): void {
    this.due.add(doc);
    if (this.flushTimer !== undefined || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.pulling = this.pulling.then(() => this.flush());
    }, this.o.batchMs ?? 2);
  }

  private async flush(): Promise<void> {
    const docs = [...this.due];
    this.due.clear();
    for (const doc of docs) {
      if (this.closed) return;
      try {
        this.stats.pulls++;
        await this.o.store.pull(doc);
      } catch {
        // The database is away: the poll finds this calendar again once it answers.
      }
    }
  }

  /** Compares every calendar's head with the local copy and pulls those behind. */
  async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    try {
      const heads = await this.o.store.pg.headSeqs();
      this.o.store.noteUp();
      this.stats.polls++;
      for (const [doc, seq] of heads) if (seq > this.o.store.committedSeqOf(doc)) this.ring(doc);
    } catch (e) {
      this.o.store.noteError(e);
    } finally {
      this.polling = false;
    }
  }

  /** Resolves once every calendar rung so far is pulled (tests). */
  async settled(): Promise<void> {
    while (this.flushTimer !== undefined || this.due.size > 0) await new Promise((r) => setTimeout(r, 2));
    await this.pulling;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.pollTimer !== undefined) clearInterval(this.pollTimer);
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    await this.pulling;
    const c = this.client;
    this.client = undefined;
    if (c !== undefined) await c.end().catch(() => undefined);
  }
}
