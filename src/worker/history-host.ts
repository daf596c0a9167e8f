// Compliance mode and field history in the engine host (docs/PROTOCOL.md CMP-*): the calendar's
// Compliance flag, each field's history of the event a dialog edits (its series and its own
// override for an occurrence) with device names and fingerprints, and Restore from history.

import {
  CALENDAR_ENTITY,
  CalendarField,
  type DeviceId,
  type DocId,
  decodeValue,
  deviceFingerprint,
  EngineError,
  type EntityId,
  EventField,
  encodeValue,
  fieldType,
  fromHex,
  type HistoryEntry,
  isEntityId,
  isOpId,
  MAX_HISTORY_LIMIT,
  overrideId,
  type Replica,
  type Value,
} from '../engine/index.ts';
import type { DataApi, EntityHistoryView, EventFieldName, FieldHistoryView, HistoryWrite } from './api.ts';
import { FIELD_NAMES, FIELD_NUMBERS } from './views.ts';

export interface HistoryHostDeps {
  replica: Replica;
  mustDoc: (calendarId: string) => DocId;
  /** The series and original start of an occurrence id (or an override's id), if it is one. */
  occurrenceOf: (doc: DocId, id: string) => { seriesId: EntityId; recurrenceId: string } | undefined;
  /** This device's own name (the replica knows other members' names, DEV-1). */
  ownName: () => Promise<string>;
}

/** The history calls of the data API (`api.ts`, where each is documented), served by this host module. */
export type HistoryApi = Pick<
  DataApi,
  'setCompliance' | 'complianceHistory' | 'eventHistory' | 'olderHistory' | 'restoreFromHistory'
>;

const DEFAULT_LIMIT = 50;

/** The fields history shows and Restore writes: the editable ones and Deleted. */
function fieldNumber(field: string): number {
  const n = field === 'deleted' ? EventField.Deleted : FIELD_NUMBERS.get(field as EventFieldName);
  if (n === undefined)
    throw new EngineError('InvalidArgument', `no history for field ${String(field).slice(0, 40)}`);
  return n;
}
function checkLimit(limit: unknown): void {
  if (!Number.isInteger(limit) || (limit as number) < 1 || (limit as number) > MAX_HISTORY_LIMIT)
    throw new EngineError('InvalidArgument', `history limit must be 1..${MAX_HISTORY_LIMIT}`);
}
function mustEntity(id: unknown): EntityId {
  if (!isEntityId(id) || id === CALENDAR_ENTITY) throw new EngineError('InvalidArgument', 'not an event id');
  return id;
}
const SHOWN = [...FIELD_NUMBERS.values(), EventField.Deleted];
const nameOf = (num: number): EventFieldName | 'deleted' =>
  num === EventField.Deleted ? 'deleted' : FIELD_NAMES.get(num)!;

function decoded(
  entity: EntityId,
  field: number,
  v: Uint8Array | null | undefined,
): Value | null | undefined {
  if (v === null || v === undefined) return v;
  const t = fieldType(entity, field);
  // A write that is not a valid value (an inert patch's, VAL-1) shows as cleared.
  return t === undefined ? null : (decodeValue(t, v) ?? null);
}

export function createHistoryApi(deps: HistoryHostDeps): HistoryApi {
  const { replica, mustDoc } = deps;

  async function describeWrites(
    doc: DocId,
    entity: EntityId,
    num: number,
    entries: HistoryEntry[],
  ): Promise<HistoryWrite[]> {
    const own = replica.deviceId;
    const ownName = entries.some((e) => e.author === own) ? await deps.ownName() : '';
    return entries.map((e) => {
      const old = decoded(entity, num, e.old);
      return {
        opId: e.op,
        device: e.author,
        deviceName: e.author === own ? ownName : (replica.memberName(doc, e.author as DeviceId) ?? ''),
        fingerprint: deviceFingerprint(fromHex(e.author)),
        wallTime: e.wallTime,
        value: decoded(entity, num, e.value) ?? null,
        ...(old === undefined || e.replaced === null ? {} : { old }),
        first: e.replaced === null,
        status: e.status,
      };
    });
  }

  async function partOf(
    doc: DocId,
    entity: EntityId,
    role: EntityHistoryView['role'],
    limit: number,
  ): Promise<{ part: EntityHistoryView; unreadable: number }> {
    const h = await replica.fieldHistory(doc, entity, { fields: SHOWN, limit });
    const fields: FieldHistoryView[] = [];
    for (const f of h.fields) {
      if (f.entries.length === 0) continue;
      fields.push({
        field: nameOf(f.field),
        writes: await describeWrites(doc, entity, f.field, f.entries),
        more: f.more,
      });
    }
    return { part: { entityId: entity, role, fields }, unreadable: h.unreadable };
  }

  return {
    async setCompliance(calendarId, on) {
      if (typeof on !== 'boolean') throw new EngineError('InvalidArgument', 'compliance mode is on or off');
      await replica.write(mustDoc(calendarId), CALENDAR_ENTITY, [
        { field: CalendarField.Compliance, value: encodeValue('bool', on) },
      ]);
    },

    async complianceHistory(calendarId) {
      const doc = mustDoc(calendarId);
      const num = CalendarField.Compliance;
      const h = await replica.fieldHistory(doc, CALENDAR_ENTITY, { fields: [num], limit: 20 });
      const f = h.fields[0];
      if (f === undefined) return { writes: [], more: 0 };
      return { writes: await describeWrites(doc, CALENDAR_ENTITY, num, f.entries), more: f.more };
    },

    async eventHistory(calendarId, eventId, limit = DEFAULT_LIMIT) {
      const doc = mustDoc(calendarId);
      checkLimit(limit);
      if (typeof eventId !== 'string' || eventId === CALENDAR_ENTITY)
        throw new EngineError('InvalidArgument', 'not an event id');
      const occ = deps.occurrenceOf(doc, eventId);
      const wanted: [EntityId, EntityHistoryView['role']][] = [];
      if (occ === undefined) {
        if (!isEntityId(eventId)) throw new EngineError('InvalidArgument', 'not an event id');
        wanted.push([eventId, 'event']);
      } else {
        const own = overrideId(occ.seriesId, occ.recurrenceId);
        if (replica.entity(doc, own) !== undefined) wanted.push([own, 'occurrence']);
        wanted.push([occ.seriesId, 'series']);
      }
      const parts: EntityHistoryView[] = [];
      let unreadable = 0;
      for (const [entity, role] of wanted) {
        const r = await partOf(doc, entity, role, limit);
        parts.push(r.part);
        unreadable = r.unreadable;
      }
      return { parts, unreadable };
    },

    async olderHistory(calendarId, entityId, field, beforeOpId, limit = DEFAULT_LIMIT) {
      const doc = mustDoc(calendarId);
      const entity = mustEntity(entityId);
      checkLimit(limit);
      if (!isOpId(beforeOpId)) throw new EngineError('InvalidArgument', 'not an op id');
      const num = fieldNumber(field);
      const h = await replica.fieldHistory(doc, entity, { fields: [num], limit, before: beforeOpId });
      const f = h.fields[0];
      if (f === undefined) return { field: nameOf(num), writes: [], more: 0 };
      return { field: nameOf(num), writes: await describeWrites(doc, entity, num, f.entries), more: f.more };
    },

    async restoreFromHistory(calendarId, entityId, field, opId) {
      const doc = mustDoc(calendarId);
      const entity = mustEntity(entityId);
      if (!isOpId(opId)) throw new EngineError('InvalidArgument', 'not an op id');
      const num = fieldNumber(field);
      const past = await replica.pastWrite(doc, entity, num, opId);
      if (past === undefined)
        throw new EngineError(
          'InvalidArgument',
          `op ${opId.slice(0, 12)}… wrote no counted ${field} of this event`,
        );
      const before = replica.entity(doc, entity)?.registers.find((r) => r.field === num)?.writes[0];
      // A new ordinary write (LWW-1: the newest, so it wins on every device); history keeps both.
      await replica.write(doc, entity, [
        { field: num, value: past.value === null ? null : past.value.slice() },
      ]);
      return { undoOpId: before?.op ?? null };
    },
  };
}
