// What the host keeps in IndexedDB beside the engine's records (relay outbox, calendar prefs,
// the UTC span index of events), and the validation of every record read back: storage is a
// boundary ([RT-5]), so a bad record is a Storage error naming its store and field, never a crash.

import type {
  DeviceRecord,
  DocRecord,
  EndorsementRecord,
  EntityRecord,
  EquivocationRecord,
  OpRecord,
  PendingRecord,
  RegisterRecord,
  WriteRecord,
} from '../engine/index.ts';
import {
  CALENDAR_ENTITY,
  type DeviceId,
  type DocId,
  EngineError,
  type EntityId,
  EVENT_FIELDS,
  type EventValues,
  eventFromRecord,
  fieldName,
  isDeviceId,
  isDocId,
  isEntityId,
  isOpId,
  isValueOf,
  type OpId,
  OpKind,
  toHex,
  type ValueType,
} from '../engine/index.ts';
import { isOverride, isSeries } from './occurrences.ts';
import { eventSpanMs } from './time.ts';

/** An op this device wrote that the relay has not acknowledged yet. */
export interface OutboxRecord {
  doc: DocId;
  id: OpId;
  /** The op's local seq: uploads go out in this order so parents precede children. */
  seq: number;
}

/** Per-device, never-synced preferences for one calendar. */
export interface CalendarPrefsRecord {
  doc: DocId;
  hidden: boolean;
}

/**
 * Where a live event lies in UTC: a derived index over the entities store, written in the same
 * transaction as the entity ([RT-1]), so a cold start can find the events of the first range it is
 * asked for without loading every entity ([RT-12]). `long` (1) marks events longer than LONG_SPAN_MS,
 * which the start-time index alone cannot find from a range they began before.
 */
export interface SpanRecord {
  doc: DocId;
  entity: EntityId;
  startMs: number;
  endMs: number;
  long?: 1;
  /**
   * The event's current values (eventFromRecord of the entity), so the first range is answered
   * from one index read of plain strings: fetching and deserializing ~1,000 entity records one
   * get() at a time took ~250 ms in Chromium here (measured).
   */
  fields: SpanFields;
  /** The entity has concurrent writes: read the entity itself for the conflict details. */
  conflicted?: 1;
  /**
   * Series and overrides (docs/PROTOCOL.md SER-*): the field numbers whose registers are set (an
   * override's own fields), found through `long` wherever their occurrences fall. Deleted ones
   * are kept (`deleted`), since a deleted split still ends its parent series.
   */
  set?: number[];
  deleted?: 1;
}

/** Every field of a live event but Deleted, as the engine's field table defines them. */
export type SpanFields = Omit<EventValues, 'deleted'>;

/** Events longer than this are found through the `byLong` index; shorter ones by start time. */
export const LONG_SPAN_MS = 2 * 86_400_000;

/** The UTC span of a live event; undefined for deleted events and the calendar's own entity. */
export function spanOf(rec: EntityRecord): SpanRecord | undefined {
  if (rec.entity === CALENDAR_ENTITY) return undefined;
  const ev = eventFromRecord(rec);
  const repeating = isSeries(ev) || isOverride(ev);
  if (ev.deleted && !repeating) return undefined;
  const { startMs, endMs } = eventSpanMs(ev.start, ev.end, ev.timeZone);
  const fields: Record<string, unknown> = {};
  for (const f of SPAN_FIELDS) fields[fieldName(f)] = ev[fieldName(f) as keyof SpanFields];
  const span: SpanRecord = {
    doc: rec.doc,
    entity: rec.entity,
    startMs,
    endMs,
    fields: fields as SpanFields,
  };
  if (endMs - startMs > LONG_SPAN_MS) span.long = 1;
  if (repeating) {
    span.long = 1;
    span.set = [...ev.set];
    if (ev.deleted) span.deleted = 1;
  }
  if ([...ev.conflicts.values()].some((w) => w.length > 1)) span.conflicted = 1;
  return span;
}

export const deviceIdOf = (d: DeviceRecord): DeviceId => toHex(d.publicKey) as DeviceId;

export function corrupt(where: string, what: string): EngineError {
  return new EngineError('Storage', `corrupt record in ${where}: ${what}`);
}

// ---- validation of what comes back from IndexedDB ([RT-5]: storage is a boundary) ----

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export const isCount = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array;
const BODY_STATES: readonly unknown[] = ['applied', 'inert', 'locked'];
const OP_KINDS: readonly unknown[] = Object.values(OpKind);

const isVersionVector = (v: unknown): boolean =>
  isPlainObject(v) && Object.entries(v).every(([k, n]) => isDeviceId(k) && isCount(n));

function need(ok: boolean, where: string, what: string): asserts ok {
  if (!ok) throw corrupt(where, what);
}

function opIdList(v: unknown, where: string, field: string): OpId[] {
  need(Array.isArray(v) && v.every(isOpId), where, `${field} is not a list of op ids`);
  return v as OpId[];
}

export function parseOp(v: unknown, doc: DocId): OpRecord {
  const where = `ops/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const o = v as Record<string, unknown>;
  need(isOpId(o['id']), where, 'id is not an op id');
  const at = `${where}/${o['id']}`;
  need(o['doc'] === doc, at, 'belongs to another calendar');
  need(isCount(o['seq']) && (o['seq'] as number) > 0, at, 'seq');
  need(isDeviceId(o['author']), at, 'author');
  need(isCount(o['ctr']), at, 'ctr');
  need(isCount(o['wallTime']), at, 'wallTime');
  need(OP_KINDS.includes(o['kind']), at, 'kind');
  opIdList(o['parents'], at, 'parents');
  opIdList(o['mfront'], at, 'mfront');
  need(o['prev'] === null || isOpId(o['prev']), at, 'prev');
  need(isBytes(o['bytes']) && (o['bytes'] as Uint8Array).length > 0, at, 'bytes');
  need(isVersionVector(o['vv']), at, 'vv');
  need(BODY_STATES.includes(o['body']), at, 'body');
  return v as unknown as OpRecord;
}

export function parseDocRecord(v: unknown, doc: DocId): DocRecord {
  const at = `docs/${doc}`;
  need(isPlainObject(v), at, 'not an object');
  const d = v as Record<string, unknown>;
  need(d['doc'] === doc, at, 'doc');
  need(isOpId(d['genesis']), at, 'genesis');
  opIdList(d['heads'], at, 'heads');
  need(isCount(d['seq']), at, 'seq');
  need(d['ownLast'] === null || isOpId(d['ownLast']), at, 'ownLast');
  need(isCount(d['ownCtr']), at, 'ownCtr');
  return v as unknown as DocRecord;
}

function parseWrite(v: unknown, at: string): WriteRecord {
  need(isPlainObject(v), at, 'write is not an object');
  const w = v as Record<string, unknown>;
  need(w['value'] === null || isBytes(w['value']), at, 'write value');
  need(isCount(w['wallTime']), at, 'write wallTime');
  need(isDeviceId(w['author']), at, 'write author');
  need(isCount(w['ctr']), at, 'write ctr');
  need(isOpId(w['op']), at, 'write op');
  need(w['vv'] === undefined || isVersionVector(w['vv']), at, 'write vv');
  return v as unknown as WriteRecord;
}

export function parseEntity(v: unknown, doc: DocId): EntityRecord {
  const where = `entities/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const e = v as Record<string, unknown>;
  need(isEntityId(e['entity']), where, 'entity id');
  const at = `${where}/${e['entity']}`;
  need(e['doc'] === doc, at, 'belongs to another calendar');
  need(Array.isArray(e['registers']), at, 'registers');
  for (const r of e['registers'] as unknown[]) {
    need(isPlainObject(r), at, 'register');
    const reg = r as Record<string, unknown>;
    need(isCount(reg['field']), at, 'register field');
    need(Array.isArray(reg['writes']) && reg['writes'].length > 0, at, 'register writes');
    for (const w of reg['writes'] as unknown[]) parseWrite(w, at);
    need(reg['covered'] === undefined || Array.isArray(reg['covered']), at, 'register covered');
    for (const w of (reg['covered'] ?? []) as unknown[]) parseWrite(w, at);
  }
  return v as unknown as EntityRecord & { registers: RegisterRecord[] };
}

export function parsePending(v: unknown, doc: DocId): PendingRecord {
  const where = `pending/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const p = v as Record<string, unknown>;
  need(isOpId(p['id']), where, 'id');
  need(p['doc'] === doc, where, 'belongs to another calendar');
  need(isBytes(p['bytes']), where, 'bytes');
  opIdList(p['missing'], where, 'missing');
  return v as unknown as PendingRecord;
}

export function parseEvidence(v: unknown, doc: DocId): EquivocationRecord {
  const where = `evidence/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const r = v as Record<string, unknown>;
  need(r['doc'] === doc, where, 'belongs to another calendar');
  need(isDeviceId(r['author']), where, 'author');
  need(isCount(r['ctr']), where, 'ctr');
  opIdList(r['ops'], where, 'ops');
  return v as unknown as EquivocationRecord;
}

export function parseEndorsement(v: unknown, doc: DocId): EndorsementRecord {
  const where = `endorsements/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const r = v as Record<string, unknown>;
  need(r['doc'] === doc, where, 'belongs to another calendar');
  need(typeof r['id'] === 'string' && /^[0-9a-f]{64}$/.test(r['id']), where, 'id');
  need(isBytes(r['bytes']), where, 'bytes');
  need(r['base'] === undefined || r['base'] === true, where, 'base');
  need(r['waiting'] === undefined || r['waiting'] === true, where, 'waiting');
  need(r['acted'] === undefined || r['acted'] === true, where, 'acted');
  return v as unknown as EndorsementRecord;
}

const SPAN_FIELDS = EVENT_FIELDS.filter((f) => f.key !== 'Deleted');

/**
 * isValueOf's answers for string values already checked, per type: a first range at cold start
 * reads ~1,500 spans of ~17 fields, mostly the same few zones, rules, dates and empty texts, and
 * isValueOf, which used to encode and decode each value, was ~0.1 s of that first answer
 * (measured in Chromium). It checks strings directly now, but a rule is still parsed to be
 * checked; the check is a pure function of (type, value), so its answer is reused.
 */
const validStrings = new Map<string, Map<string, boolean>>();

function isValidValue(type: ValueType, v: unknown): boolean {
  if (typeof v !== 'string' || v.length > 64) return isValueOf(type, v);
  let known = validStrings.get(type);
  if (known === undefined) {
    known = new Map();
    validStrings.set(type, known);
  }
  let ok = known.get(v);
  if (ok === undefined) {
    ok = isValueOf(type, v);
    if (known.size >= 5000) known.clear();
    known.set(v, ok);
  }
  return ok;
}

export function parseSpan(v: unknown, doc: DocId): SpanRecord {
  const where = `spans/${doc}`;
  need(isPlainObject(v), where, 'not an object');
  const r = v as Record<string, unknown>;
  need(r['doc'] === doc, where, 'belongs to another calendar');
  need(isEntityId(r['entity']) && r['entity'] !== CALENDAR_ENTITY, where, 'entity id');
  const at = `${where}/${r['entity']}`;
  need(Number.isFinite(r['startMs']) && Number.isFinite(r['endMs']), at, 'startMs/endMs');
  need(r['long'] === undefined || r['long'] === 1, at, 'long');
  need(r['conflicted'] === undefined || r['conflicted'] === 1, at, 'conflicted');
  need(r['deleted'] === undefined || (r['deleted'] === 1 && r['set'] !== undefined), at, 'deleted');
  need(
    r['set'] === undefined ||
      (Array.isArray(r['set']) && r['set'].length <= 64 && r['set'].every((n) => Number.isInteger(n))),
    at,
    'set',
  );
  need(isPlainObject(r['fields']), at, 'fields');
  const f = r['fields'] as Record<string, unknown>;
  for (const spec of SPAN_FIELDS) {
    const k = fieldName(spec);
    // A record written before schema version 2 lacks its fields: they read as absent (SCH-3).
    if (f[k] === undefined && spec.since > 1) f[k] = Array.isArray(spec.absent) ? [] : spec.absent;
    else need(f[k] === spec.absent || isValidValue(spec.type, f[k]), at, `fields.${k}`);
  }
  return v as unknown as SpanRecord;
}

export function parseDevice(v: unknown): DeviceRecord {
  const at = 'meta/device';
  need(isPlainObject(v), at, 'not an object');
  const d = v as Record<string, unknown>;
  need(isBytes(d['publicKey']) && (d['publicKey'] as Uint8Array).length === 32, at, 'publicKey');
  need(d['secret'] !== undefined && d['secret'] !== null, at, 'secret key missing');
  need(d['boxPublicKey'] === undefined || isBytes(d['boxPublicKey']), at, 'boxPublicKey');
  return v as unknown as DeviceRecord;
}

export function parseOutbox(v: unknown, doc: DocId): OutboxRecord {
  const at = `outbox/${doc}`;
  need(isPlainObject(v), at, 'not an object');
  const r = v as Record<string, unknown>;
  need(r['doc'] === doc && isOpId(r['id']) && isCount(r['seq']), at, 'bad record');
  return v as unknown as OutboxRecord;
}

export function parsePrefs(v: unknown): CalendarPrefsRecord {
  need(isPlainObject(v), 'prefs', 'not an object');
  const r = v as Record<string, unknown>;
  need(isDocId(r['doc']) && typeof r['hidden'] === 'boolean', 'prefs', 'bad record');
  return { doc: r['doc'] as DocId, hidden: r['hidden'] as boolean };
}
