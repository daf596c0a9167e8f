// The store the replica opens over ([RT-11]): every calendar loaded once up front, the ones that
// fail left out and reported instead of stopping the others.

import { type DocId, EngineError, type EngineStore } from '../engine/index.ts';

/**
 * Loads every calendar once up front so one corrupt calendar does not stop the others from
 * opening ([RT-11]): broken ones are left out of listDocs and reported; the loaded state is
 * handed to the replica without a second read.
 */
export function quarantine(store: EngineStore, broken: Map<DocId, EngineError>): EngineStore {
  const preloaded = new Map<DocId, Awaited<ReturnType<EngineStore['loadDoc']>>>();
  return {
    ...bindAll(store),
    async listDocs() {
      const docs = await store.listDocs();
      const ok: DocId[] = [];
      for (const doc of docs) {
        try {
          preloaded.set(doc, await store.loadDoc(doc));
          ok.push(doc);
        } catch (e) {
          broken.set(doc, e instanceof EngineError ? e : new EngineError('Storage', String(e)));
        }
      }
      return ok;
    },
    async loadDoc(doc) {
      if (preloaded.has(doc)) {
        const v = preloaded.get(doc);
        preloaded.delete(doc);
        return v;
      }
      return store.loadDoc(doc);
    },
  };
}

function bindAll(store: EngineStore): EngineStore {
  return {
    loadDevice: () => store.loadDevice(),
    saveDevice: (d) => store.saveDevice(d),
    loadClock: () => store.loadClock(),
    listDocs: () => store.listDocs(),
    loadDoc: (d) => store.loadDoc(d),
    getOps: (d, ids) => store.getOps(d, ids),
    getOpsByChain: (d, a, c) => store.getOpsByChain(d, a, c),
    listOps: (d, s, l) => store.listOps(d, s, l),
    commit: (b) => store.commit(b),
  };
}
