// SyncPersistence in memory: for hosts without storage (and tests). The worker keeps the same
// state in IndexedDB so that the outbox and cursors survive reloads.

import type { DocId, OpId } from '../engine/index.ts';
import type { OutboxOp, SyncPersistence } from './client-contract.ts';

export interface MemorySyncPersistence extends SyncPersistence {
  /** Queues a local op for upload (the host calls this when the replica hands out a new op). */
  add(op: OutboxOp): void;
  readonly cursors: ReadonlyMap<DocId, number>;
}

export function createMemorySyncPersistence(): MemorySyncPersistence {
  // Insertion order = creation order: parents before children.
  const outbox = new Map<OpId, OutboxOp>();
  const cursors = new Map<DocId, number>();
  return {
    cursors,
    add(op) {
      if (!outbox.has(op.id)) outbox.set(op.id, { id: op.id, doc: op.doc, bytes: op.bytes.slice() });
    },
    async getCursor(doc) {
      return cursors.get(doc) ?? 0;
    },
    async setCursor(doc, seq) {
      cursors.set(doc, seq);
    },
    async listOutbox(limit) {
      const out: OutboxOp[] = [];
      for (const op of outbox.values()) {
        if (out.length >= limit) break;
        out.push(op);
      }
      return out;
    },
    async countOutbox() {
      return outbox.size;
    },
    async removeOutbox(ops) {
      for (const { id } of ops) outbox.delete(id);
    },
  };
}
