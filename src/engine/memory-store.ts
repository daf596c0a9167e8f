// In-memory EngineStore: for tests, benchmarks and hosts without persistence. Commits are
// atomic because they are synchronous: a batch is applied whole before the promise settles.
// Records are copied in and out so callers can never alias stored state.

import type { DeviceId, DocId, OpId } from './ids.ts';
import type {
  CommitBatch,
  DeviceRecord,
  DocRecord,
  EngineStore,
  EntityRecord,
  EquivocationRecord,
  LoadedDoc,
  OpRecord,
  PendingRecord,
} from './store.ts';
import { OpKind } from './store.ts';

interface DocData {
  doc?: DocRecord;
  ops: Map<OpId, OpRecord>;
  bySeq: OpRecord[];
  byChain: Map<string, OpId[]>;
  entities: Map<string, EntityRecord>;
  pending: Map<OpId, PendingRecord>;
  evidence: Map<string, EquivocationRecord>;
}

const clone = <T>(v: T): T => structuredClone(v);

export interface MemoryStoreOptions {
  /** Called before each commit is applied; throwing aborts it (failure injection in tests). */
  beforeCommit?: (batch: CommitBatch) => void;
}

export function createMemoryStore(opts: MemoryStoreOptions = {}): EngineStore {
  let device: DeviceRecord | undefined;
  let clock = 0;
  const docs = new Map<DocId, DocData>();
  const data = (doc: DocId): DocData => {
    let d = docs.get(doc);
    if (d === undefined) {
      d = {
        ops: new Map(),
        bySeq: [],
        byChain: new Map(),
        entities: new Map(),
        pending: new Map(),
        evidence: new Map(),
      };
      docs.set(doc, d);
    }
    return d;
  };

  return {
    async loadDevice() {
      return device === undefined ? undefined : clone(device);
    },
    async saveDevice(d) {
      device = clone(d);
    },
    async loadClock() {
      return clock;
    },
    async listDocs() {
      return [...docs].filter(([, d]) => d.doc !== undefined).map(([id]) => id);
    },
    async loadDoc(doc): Promise<LoadedDoc | undefined> {
      const d = docs.get(doc);
      if (d?.doc === undefined) return undefined;
      return clone({
        doc: d.doc,
        entities: [...d.entities.values()],
        pending: [...d.pending.values()],
        membership: d.bySeq.filter((o) => o.kind === OpKind.Membership),
        evidence: [...d.evidence.values()],
      });
    },
    async getOps(doc, ids) {
      const d = docs.get(doc);
      return ids.map((id) => {
        const r = d?.ops.get(id);
        return r === undefined ? undefined : clone(r);
      });
    },
    async getOpsByChain(doc: DocId, author: DeviceId, ctr: number) {
      const d = docs.get(doc);
      return (d?.byChain.get(`${author}:${ctr}`) ?? []).map((id) => clone(d!.ops.get(id)!));
    },
    async listOps(doc, afterSeq, limit) {
      const d = docs.get(doc);
      if (d === undefined) return [];
      // bySeq[i].seq === i + 1: seqs are dense from 1.
      return d.bySeq.slice(afterSeq, afterSeq + limit).map(clone);
    },
    async commit(batch: CommitBatch) {
      opts.beforeCommit?.(batch);
      const b = clone(batch);
      const d = data(b.doc);
      // Check before changing anything, so a refused batch leaves no trace.
      let next = d.bySeq.length + 1;
      for (const op of b.ops ?? []) {
        if (d.ops.has(op.id)) continue;
        if (op.seq !== next++) throw new Error(`seq ${op.seq} out of order (have ${d.bySeq.length})`);
      }
      for (const op of b.ops ?? []) {
        if (d.ops.has(op.id)) continue;
        d.ops.set(op.id, op);
        d.bySeq.push(op);
        const k = `${op.author}:${op.ctr}`;
        d.byChain.set(k, [...(d.byChain.get(k) ?? []), op.id]);
      }
      for (const u of b.bodyUpdates ?? []) {
        const op = d.ops.get(u.id);
        if (op !== undefined) op.body = u.body;
      }
      if (b.docRecord !== undefined) d.doc = b.docRecord;
      for (const e of b.entities ?? []) d.entities.set(e.entity, e);
      for (const p of b.pendingAdd ?? []) d.pending.set(p.id, p);
      for (const id of b.pendingRemove ?? []) d.pending.delete(id);
      for (const e of b.evidence ?? []) d.evidence.set(`${e.author}:${e.ctr}`, e);
      if (b.clock !== undefined && b.clock > clock) clock = b.clock;
    },
  };
}
