// Typed views of materialized entities over the field tables (schema.ts): what each register's
// winning write means, which registers are set, and which fields this schema does not know.

import { CALENDAR_ENTITY, type EntityId } from './ids.ts';
import { frontier } from './lww.ts';
import {
  absentValues,
  CALENDAR_FIELDS,
  type CalendarValues,
  EVENT_FIELDS,
  type EventValues,
  fieldName,
  fieldSpec,
} from './schema.ts';
import type { EntityRecord, WriteRecord } from './store.ts';
import { decodeValue, type Value, type ValueType } from './values.ts';

export {
  type BaseFieldName,
  CalendarField,
  EDITABLE_FIELDS,
  type EditableFieldName,
  type EditableValues,
  EVENT_FIELDS,
  EventField,
  type EventFieldName,
  type EventValues,
  eventFieldByName,
  fieldName,
  isEditableField,
  SCHEMA_VERSION,
} from './schema.ts';
export { decodeValue, encodeValue, isValueOf, MAX_TEXT_BYTES, type Value, type ValueType } from './values.ts';

/** The declared type of a field of an entity, or undefined for a field this schema does not know. */
export function fieldType(entity: EntityId, field: number): ValueType | undefined {
  return fieldSpec(entity === CALENDAR_ENTITY, field)?.type;
}

/** VAL-1: every write to a known field carries null or a valid value of the field's type. */
export function isValidWrite(entity: EntityId, field: number, value: Uint8Array | null): boolean {
  if (value === null) return true;
  const t = fieldType(entity, field);
  return t === undefined || decodeValue(t, value) !== undefined;
}

export interface WriteInfo {
  value: Value | null;
  author: string;
  wallTime: number;
  op: string;
}

export interface CalendarEvent extends EventValues {
  id: EntityId;
  /** Field numbers whose register holds a non-null valid value (an override's own fields). */
  set: Set<number>;
  /** Fields by number whose concurrent writes were resolved by LWW: winner first. */
  conflicts: Map<number, WriteInfo[]>;
  /** Fields this schema does not know, kept as opaque bytes (winner only, LWW-6). */
  unknown: Map<number, Uint8Array | null>;
}

function writeInfo(entity: EntityId, field: number, w: WriteRecord): WriteInfo {
  const t = fieldType(entity, field);
  const value = w.value === null || t === undefined ? null : (decodeValue(t, w.value) ?? null);
  return { value, author: w.author, wallTime: w.wallTime, op: w.op };
}

/**
 * A typed view of an event entity. A register that is absent, null or not a valid value reads as
 * its field's `absent` value (SCH-3), so a version-1 event reads as a version-2 event that does
 * not repeat and uses the calendar's default reminders.
 */
export function eventFromRecord(rec: EntityRecord): CalendarEvent {
  const ev: CalendarEvent = {
    ...absentValues(EVENT_FIELDS),
    id: rec.entity,
    set: new Set(),
    conflicts: new Map(),
    unknown: new Map(),
  };
  const view = ev as unknown as Record<string, unknown>;
  for (const reg of rec.registers) {
    const top = reg.writes[0];
    if (top === undefined) continue;
    const spec = fieldSpec(false, reg.field);
    if (spec === undefined) {
      ev.unknown.set(reg.field, top.value);
      continue;
    }
    const concurrent = frontier(reg);
    if (concurrent.length > 1)
      ev.conflicts.set(
        reg.field,
        concurrent.map((w) => writeInfo(rec.entity, reg.field, w)),
      );
    const v = top.value === null ? undefined : decodeValue(spec.type, top.value);
    if (v === undefined) continue;
    view[fieldName(spec)] = v;
    ev.set.add(reg.field);
  }
  return ev;
}

export type CalendarProps = CalendarValues;

export function calendarFromRecord(rec: EntityRecord | undefined): CalendarProps {
  const props = absentValues(CALENDAR_FIELDS);
  const view = props as unknown as Record<string, unknown>;
  for (const reg of rec?.registers ?? []) {
    const top = reg.writes[0];
    const spec = fieldSpec(true, reg.field);
    if (top?.value == null || spec === undefined) continue;
    const v = decodeValue(spec.type, top.value);
    if (v !== undefined) view[fieldName(spec)] = v;
  }
  return props;
}
