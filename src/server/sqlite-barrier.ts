// The durability barrier of the relay's SQLite file (RELAY-5): which seq of each calendar is
// committed and which is durable, and the one fsync of the WAL that makes every commit since the
// last barrier durable against power loss (or, for a PostgreSQL relay's local copy, the external
// flush that stands for it).

import { closeSync, fsync, fsyncSync, openSync } from 'node:fs';
import { type DocId, EngineError, toEngineError } from '../engine/index.ts';
import type { Durability } from './sqlite-open.ts';

/** What the barrier needs of its store. */
export interface BarrierHost {
  path: string;
  durability: Durability;
  /** fsync of a file descriptor (injected by tests); node's fsync when absent. */
  fsync: ((fd: number) => void) | undefined;
  /** The highest seq of a calendar on disk (read once per calendar after a start). */
  storedMax(doc: DocId): number;
  /** The barrier of durability 'none' (see `SqliteStore.flushExternal`). */
  flushExternal(): Promise<void>;
  /** Runs `f` as the store runs its reads: refused when closed, failures as Storage errors. */
  guard<T>(what: string, f: () => T): T;
  isClosed(): boolean;
}

export class WalBarrier {
  /** Highest seq committed / made durable (fsynced) per calendar. */
  private readonly committedSeq = new Map<DocId, number>();
  private readonly durableSeq = new Map<DocId, number>();
  private dirty = false;
  private walFd: number | undefined;
  private readonly fsync: (fd: number) => void;
  private readonly fsyncInjected: boolean;

  constructor(private readonly host: BarrierHost) {
    this.fsync = host.fsync ?? fsyncSync;
    this.fsyncInjected = host.fsync !== undefined;
  }

  /** Something was written outside a commit of ops (relay tables, reclaim): the next barrier syncs. */
  written(): void {
    this.dirty = true;
  }

  /** Learns a calendar's durable point from disk before a commit adds to it (first after a start). */
  prime(doc: DocId): void {
    if (!this.durableSeq.has(doc)) this.durableSeqOf(doc);
  }

  /** A commit of ops up to `top` returned. */
  committed(doc: DocId, top: number): void {
    if (top > (this.committedSeq.get(doc) ?? 0)) this.committedSeq.set(doc, top);
    if (this.host.durability === 'full' || this.host.path === ':memory:')
      this.durableSeq.set(doc, this.committedSeq.get(doc)!);
    else this.dirty = true;
  }

  /** See `SqliteStore.syncDurable`. */
  syncDurable(): void {
    if (!this.dirty) return;
    this.host.guard('syncDurable', () => this.fsync(this.wal()));
    this.dirty = false;
    for (const [doc, seq] of this.committedSeq) this.durableSeq.set(doc, seq);
  }

  /** See `SqliteStore.syncDurableAsync`. */
  async syncDurableAsync(): Promise<void> {
    if (!this.dirty) return;
    if (this.host.isClosed()) throw new EngineError('Storage', 'syncDurable: store is closed');
    const upTo = new Map(this.committedSeq);
    this.dirty = false;
    try {
      if (this.host.durability === 'none') await this.host.flushExternal();
      else await this.fsyncAsync(this.wal());
    } catch (e) {
      this.dirty = true;
      throw toEngineError(e, 'Storage', 'syncDurable');
    }
    for (const [doc, seq] of upTo) if (seq > (this.durableSeq.get(doc) ?? 0)) this.durableSeq.set(doc, seq);
  }

  private wal(): number {
    if (this.walFd === undefined) this.walFd = openSync(`${this.host.path}-wal`, 'r');
    return this.walFd;
  }

  private fsyncAsync(fd: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.fsyncInjected) {
        try {
          this.fsync(fd);
          resolve();
        } catch (e) {
          reject(e);
        }
        return;
      }
      fsync(fd, (e) => (e === null ? resolve() : reject(e)));
    });
  }

  /** Highest seq of a calendar in this store, durable or not yet. */
  committedSeqOf(doc: DocId): number {
    const d = this.durableSeqOf(doc);
    return Math.max(d, this.committedSeq.get(doc) ?? 0);
  }

  /** Highest seq of a calendar that is durable (what the relay may acknowledge and forward). */
  durableSeqOf(doc: DocId): number {
    const d = this.durableSeq.get(doc);
    if (d !== undefined) return d;
    // After a restart everything on disk is durable: start from the stored maximum.
    const max = this.host.storedMax(doc);
    this.durableSeq.set(doc, max);
    if (!this.committedSeq.has(doc)) this.committedSeq.set(doc, max);
    return max;
  }

  /** At close: a last fsync of what is dirty, and the WAL's descriptor closed. Never throws. */
  close(): void {
    try {
      if (this.dirty && this.walFd !== undefined) {
        this.fsync(this.walFd);
        this.dirty = false;
      }
      if (this.walFd !== undefined) closeSync(this.walFd);
    } catch {
      // Closing flushes anyway.
    }
  }
}
