// The calendar's schema over generic registers: field numbers (schemas/calendar.fbs), value
// types, their byte encodings and validation, and typed views of materialized entities.

import { fromUtf8, utf8 } from './bytes.ts';
import { CALENDAR_ENTITY, type EntityId } from './ids.ts';
import { frontier } from './lww.ts';
import type { EntityRecord, WriteRecord } from './store.ts';

export const EventField = {
  Title: 1,
  Start: 2,
  End: 3,
  AllDay: 4,
  TimeZone: 5,
  Location: 6,
  Notes: 7,
  Deleted: 8,
} as const;

export const CalendarField = { Name: 1, Color: 2 } as const;

/** Schema version written in op headers by this engine (OP-7). */
export const SCHEMA_VERSION = 1;

export type ValueType = 'text' | 'bool' | 'datetime' | 'zone' | 'color';
export type Value = string | boolean;

const EVENT_TYPES: Record<number, ValueType> = {
  1: 'text',
  2: 'datetime',
  3: 'datetime',
  4: 'bool',
  5: 'zone',
  6: 'text',
  7: 'text',
  8: 'bool',
};
const CALENDAR_TYPES: Record<number, ValueType> = { 1: 'text', 2: 'color' };

export const MAX_TEXT_BYTES = 8 * 1024;
const DATETIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?$/;
const ZONE = /^(UTC|[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2})$/;
const COLOR = /^#[0-9a-f]{6}$/;

/** The declared type of a field of an entity, or undefined for a field this schema does not know. */
export function fieldType(entity: EntityId, field: number): ValueType | undefined {
  return entity === CALENDAR_ENTITY ? CALENDAR_TYPES[field] : EVENT_TYPES[field];
}

export function encodeValue(type: ValueType, v: Value): Uint8Array {
  if (type === 'bool') {
    if (typeof v !== 'boolean') throw new TypeError('expected a boolean');
    return new Uint8Array([v ? 1 : 0]);
  }
  if (typeof v !== 'string') throw new TypeError('expected a string');
  const b = utf8(v);
  if (!isValid(type, b)) throw new TypeError(`not a valid ${type}: ${JSON.stringify(v.slice(0, 40))}`);
  return b;
}

/** Decodes a value of a declared type; undefined when the bytes are not a valid value of it. */
export function decodeValue(type: ValueType, b: Uint8Array): Value | undefined {
  if (type === 'bool') return b.length === 1 && b[0]! <= 1 ? b[0] === 1 : undefined;
  if (b.length > MAX_TEXT_BYTES) return undefined;
  let s: string;
  try {
    s = fromUtf8(b);
  } catch {
    return undefined;
  }
  if (type === 'datetime' && !DATETIME.test(s)) return undefined;
  if (type === 'zone' && (s.length > 64 || !ZONE.test(s))) return undefined;
  if (type === 'color' && !COLOR.test(s)) return undefined;
  return s;
}

function isValid(type: ValueType, b: Uint8Array): boolean {
  return decodeValue(type, b) !== undefined;
}

/** VAL-1: every write to a known field carries null or a valid value of the field's type. */
export function isValidWrite(entity: EntityId, field: number, value: Uint8Array | null): boolean {
  if (value === null) return true;
  const t = fieldType(entity, field);
  return t === undefined || isValid(t, value);
}

export interface WriteInfo {
  value: Value | null;
  author: string;
  wallTime: number;
  op: string;
}

export interface CalendarEvent {
  id: EntityId;
  title: string;
  start: string;
  end: string;
  allDay: boolean;
  timeZone: string;
  location: string;
  notes: string;
  deleted: boolean;
  /** Fields by number whose concurrent writes were resolved by LWW: winner first. */
  conflicts: Map<number, WriteInfo[]>;
  /** Fields this schema does not know, kept as opaque bytes (winner only). */
  unknown: Map<number, Uint8Array | null>;
}

function writeInfo(entity: EntityId, field: number, w: WriteRecord): WriteInfo {
  const t = fieldType(entity, field);
  const value = w.value === null || t === undefined ? null : (decodeValue(t, w.value) ?? null);
  return { value, author: w.author, wallTime: w.wallTime, op: w.op };
}

/** A typed view of an event entity. Missing or null fields read as '' / false. */
export function eventFromRecord(rec: EntityRecord): CalendarEvent {
  const ev: CalendarEvent = {
    id: rec.entity,
    title: '',
    start: '',
    end: '',
    allDay: false,
    timeZone: 'UTC',
    location: '',
    notes: '',
    deleted: false,
    conflicts: new Map(),
    unknown: new Map(),
  };
  for (const reg of rec.registers) {
    const top = reg.writes[0];
    if (top === undefined) continue;
    const t = fieldType(rec.entity, reg.field);
    if (t === undefined) {
      ev.unknown.set(reg.field, top.value);
      continue;
    }
    const concurrent = frontier(reg);
    if (concurrent.length > 1)
      ev.conflicts.set(
        reg.field,
        concurrent.map((w) => writeInfo(rec.entity, reg.field, w)),
      );
    const v = top.value === null ? null : decodeValue(t, top.value);
    if (v === undefined || v === null) continue;
    switch (reg.field) {
      case EventField.Title:
        ev.title = v as string;
        break;
      case EventField.Start:
        ev.start = v as string;
        break;
      case EventField.End:
        ev.end = v as string;
        break;
      case EventField.AllDay:
        ev.allDay = v as boolean;
        break;
      case EventField.TimeZone:
        ev.timeZone = v as string;
        break;
      case EventField.Location:
        ev.location = v as string;
        break;
      case EventField.Notes:
        ev.notes = v as string;
        break;
      case EventField.Deleted:
        ev.deleted = v as boolean;
        break;
    }
  }
  return ev;
}

export interface CalendarProps {
  name: string;
  color: string;
}

export function calendarFromRecord(rec: EntityRecord | undefined): CalendarProps {
  const props: CalendarProps = { name: '', color: '#4f7cff' };
  for (const reg of rec?.registers ?? []) {
    const top = reg.writes[0];
    if (top?.value == null) continue;
    if (reg.field === CalendarField.Name)
      props.name = (decodeValue('text', top.value) as string | undefined) ?? '';
    if (reg.field === CalendarField.Color)
      props.color = (decodeValue('color', top.value) as string | undefined) ?? props.color;
  }
  return props;
}
