// .ics import and export in the engine host (docs/PROTOCOL.md IMP-*). An import is one atomic
// write (Replica.writeBatch, DAG-8): every event of the file or none, with progress events and a
// cancel that leaves nothing. Event ids are derived from (calendar, UID), so importing the same
// file again updates its events instead of adding copies, on every device alike.

import {
  type DocId,
  EngineError,
  type EntityId,
  type EntityRecord,
  EventField,
  eventFromRecord,
  isEntityId,
  type NewWrite,
  type Replica,
  taggedHash,
  toHex,
  utf8,
} from '../engine/index.ts';
import type { EventFields, ExportItem, ImportItem, ImportResult } from './api.ts';
import type { HostEvent } from './host-api.ts';

const UID_TAG = utf8('ledgerday/ics-uid/v1\0');
/** UIDs this app writes on export: the event's own id, so exporting and importing back updates it. */
const OWN_UID = /^([0-9a-f]{32})@ledgerday$/;
/** Most events in one import (the parser's own cap is the same). */
export const MAX_IMPORT = 50_000;
/** Progress is reported every this many events. */
const PROGRESS_EVERY = 50;

/** IMP-1: the event id of UID `uid` in calendar `doc`: the same on every device and every import. */
export function importedEventId(doc: DocId, uid: string): EntityId {
  const own = OWN_UID.exec(uid);
  if (own && !/^0+$/.test(own[1]!)) return own[1] as EntityId;
  return toHex(taggedHash(UID_TAG, utf8(doc), new Uint8Array(1), utf8(uid)).subarray(0, 16)) as EntityId;
}

export interface ImportDeps {
  replica: Replica;
  emit: (e: HostEvent) => void;
  mustDoc: (calendarId: string) => DocId;
  /** The host's encoder: field names to register writes (throws InvalidArgument on bad values). */
  encodeFields: (entity: EntityId, fields: Partial<EventFields>) => NewWrite[];
  /** The host's view of an entity's fields (for export). */
  fieldsOf: (doc: DocId, rec: EntityRecord) => EventFields;
}

function sameBytes(a: Uint8Array | null | undefined, b: Uint8Array | null): boolean {
  if (a === undefined) return b === null;
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export function createImportApi(deps: ImportDeps) {
  const running = new Map<string, { cancelled: boolean }>();
  /** Cancels that arrived before their import started (a slow first message); bounded. */
  const early = new Set<string>();

  /** The writes of one item that differ from what the entity holds now (IMP-2: re-import is a no-op). */
  function writesFor(doc: DocId, item: ImportItem): { entity: EntityId; writes: NewWrite[] } {
    if (typeof item?.uid !== 'string' || item.uid === '' || item.uid.length > 255)
      throw new EngineError('InvalidArgument', 'every imported event needs a UID of 1 to 255 characters');
    const entity = importedEventId(doc, item.uid);
    const writes = deps.encodeFields(entity, item.fields);
    // An event deleted here and imported again comes back (the file says it exists).
    writes.push({ field: EventField.Deleted, value: new Uint8Array([0]) });
    const cur = deps.replica.entity(doc, entity);
    const now = new Map(cur?.registers.map((r) => [r.field, r.writes[0]?.value]) ?? []);
    const changed = writes.filter((w) => {
      const v = now.get(w.field);
      // An absent Deleted register already reads as "not deleted".
      if (w.field === EventField.Deleted && v === undefined) return false;
      return !sameBytes(v, w.value);
    });
    return { entity, writes: changed };
  }

  return {
    importEvents: async (
      calendarId: string,
      importId: string,
      items: ImportItem[],
    ): Promise<ImportResult> => {
      const doc = deps.mustDoc(calendarId);
      if (typeof importId !== 'string' || importId.length === 0 || importId.length > 64)
        throw new EngineError('InvalidArgument', 'an import needs an id of 1 to 64 characters');
      if (!Array.isArray(items) || items.length > MAX_IMPORT)
        throw new EngineError('InvalidArgument', `an import holds at most ${MAX_IMPORT} events`);
      const state = { cancelled: early.delete(importId) };
      running.set(importId, state);
      try {
        // Everything is encoded and checked before the first op is signed: a bad item writes nothing.
        const byEntity = new Map<EntityId, NewWrite[]>();
        let unchanged = 0;
        for (const item of items) {
          const w = writesFor(doc, item);
          if (w.writes.length === 0) unchanged++;
          // The same UID twice in one file: the later one wins, as the parser already decided.
          else byEntity.set(w.entity, w.writes);
        }
        const batch = [...byEntity].map(([entity, writes]) => ({ entity, writes }));
        const total = batch.length;
        let reported = -1;
        await deps.replica.writeBatch(doc, batch, async (done) => {
          if (state.cancelled)
            throw new EngineError('InvalidArgument', 'import cancelled: nothing was written');
          if (done % PROGRESS_EVERY !== 0 || done === reported) return;
          reported = done;
          deps.emit({ type: 'import', importId, done, total });
          // Let the worker take other messages (a cancel, other tabs' calls) between chunks.
          await new Promise((r) => setTimeout(r, 0));
        });
        deps.emit({ type: 'import', importId, done: total, total });
        return { written: total, unchanged };
      } finally {
        running.delete(importId);
      }
    },

    cancelImport: async (importId: string): Promise<void> => {
      const s = running.get(importId);
      if (s !== undefined) s.cancelled = true;
      else if (typeof importId === 'string' && importId.length <= 64) {
        if (early.size >= 100) early.clear();
        early.add(importId);
      }
    },

    exportEvents: async (calendarId: string): Promise<ExportItem[]> => {
      const doc = deps.mustDoc(calendarId);
      const out: ExportItem[] = [];
      for (const rec of deps.replica.entities(doc)) {
        if (!isEntityId(rec.entity) || /^0+$/.test(rec.entity)) continue;
        const ev = eventFromRecord(rec);
        if (ev.deleted) continue;
        out.push({ id: rec.entity, uid: `${rec.entity}@ledgerday`, fields: deps.fieldsOf(doc, rec) });
      }
      return out;
    },
  };
}
