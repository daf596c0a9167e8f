// The calendar schema as data: one versioned field table per entity kind (docs/PROTOCOL.md SCH-*).
// Field numbers, names, value types, the version that introduced each field and what an absent
// register reads as are written here once; EventField, the typed views (calendar.ts), the
// worker's field names, its span index and the event dialog all derive from these tables.
// schemas/calendar.fbs documents the same numbers for other implementations (a test compares).

import type { ValueOf, ValueType } from './values.ts';

interface FieldDef {
  /** Wire number: never reused, never renumbered. */
  readonly num: number;
  /** Name in PascalCase (EventField.Title); the view's property is its camelCase. */
  readonly key: string;
  readonly type: ValueType;
  /** The schema version whose writers first wrote this field. */
  readonly since: number;
  /** What the view shows when the register is absent or null (SCH-3: upgrade on read). */
  readonly absent: unknown;
}

/** Event entities (random 16-byte ids, or ids derived for overrides and splits: SER-*). */
export const EVENT_FIELDS = [
  { num: 1, key: 'Title', type: 'text', since: 1, absent: '' },
  { num: 2, key: 'Start', type: 'datetime', since: 1, absent: '' },
  { num: 3, key: 'End', type: 'datetime', since: 1, absent: '' },
  { num: 4, key: 'AllDay', type: 'bool', since: 1, absent: false },
  { num: 5, key: 'TimeZone', type: 'zone', since: 1, absent: 'UTC' },
  { num: 6, key: 'Location', type: 'text', since: 1, absent: '' },
  { num: 7, key: 'Notes', type: 'text', since: 1, absent: '' },
  /** On a series: the whole series is deleted. On an override: that occurrence is cancelled. */
  { num: 8, key: 'Deleted', type: 'bool', since: 1, absent: false },
  /** RRULE value; '' (or absent) = the event does not repeat. */
  { num: 9, key: 'Rrule', type: 'rrule', since: 2, absent: '' },
  /** Extra occurrence starts (RDATE), wall-clock in the event's zone. */
  { num: 10, key: 'Rdates', type: 'datetimes', since: 2, absent: [] },
  /** Excluded occurrence starts (EXDATE), wall-clock in the event's zone. */
  { num: 11, key: 'Exdates', type: 'datetimes', since: 2, absent: [] },
  /** Minutes before the start; null (absent) = the calendar's default reminders. */
  { num: 12, key: 'Alarms', type: 'alarms', since: 2, absent: null },
  /** Override linkage: the series this entity overrides one occurrence of. */
  { num: 13, key: 'OverrideOf', type: 'entity', since: 2, absent: '' },
  /** Override: the occurrence's original start; split: the first occurrence taken over. */
  { num: 14, key: 'RecurrenceId', type: 'datetime', since: 2, absent: '' },
  /** Split linkage: the series this series continues ("This and following events"). */
  { num: 15, key: 'SplitOf', type: 'entity', since: 2, absent: '' },
  /** iCalendar UID of an imported event (IMP-1); export writes it back. '' = none (own events). */
  { num: 16, key: 'Uid', type: 'text', since: 2, absent: '' },
  /** iCalendar properties the app does not model, as content lines, kept for export (ICS-4). */
  { num: 17, key: 'IcsExtra', type: 'text', since: 2, absent: '' },
  /** Reminders up to this UTC instant were dismissed on some device (REM-3). */
  { num: 18, key: 'DismissedUntil', type: 'datetime', since: 2, absent: '' },
] as const satisfies readonly FieldDef[];

/** Fields of entity 0 (16 zero bytes): the calendar itself. */
export const CALENDAR_FIELDS = [
  { num: 1, key: 'Name', type: 'text', since: 1, absent: '' },
  { num: 2, key: 'Color', type: 'color', since: 1, absent: '#4f7cff' },
  /** Reminders for events whose Alarms register is absent: minutes before the start. */
  { num: 3, key: 'DefaultAlarms', type: 'alarms', since: 2, absent: [] },
  /** Compliance mode (CMP-1): nothing is ever pruned, and each field's full history is shown. */
  { num: 4, key: 'Compliance', type: 'bool', since: 3, absent: false },
] as const satisfies readonly FieldDef[];

/** Schema version written in op headers by this engine (OP-7, SCH-1): the newest `since`. */
export const SCHEMA_VERSION = 3;

type Table = readonly FieldDef[];
type NumbersOf<T extends Table> = { readonly [F in T[number] as F['key']]: F['num'] };
type ViewOf<T extends Table> = {
  -readonly [F in T[number] as Uncapitalize<F['key']>]: F['absent'] extends null
    ? ValueOf[F['type']] | null
    : ValueOf[F['type']];
};

const numbers = <T extends Table>(t: T): NumbersOf<T> =>
  Object.freeze(Object.fromEntries(t.map((f) => [f.key, f.num]))) as NumbersOf<T>;

export const EventField = numbers(EVENT_FIELDS);
export const CalendarField = numbers(CALENDAR_FIELDS);

/** Every event field as the view names it, e.g. { title: string, alarms: number[] | null, ... }. */
export type EventValues = ViewOf<typeof EVENT_FIELDS>;
export type EventFieldName = keyof EventValues;
export type CalendarValues = ViewOf<typeof CALENDAR_FIELDS>;

export type FieldSpec = (typeof EVENT_FIELDS)[number] | (typeof CALENDAR_FIELDS)[number];

export const fieldName = (f: { readonly key: string }): string => f.key[0]!.toLowerCase() + f.key.slice(1);

const byNum = (t: Table) => new Map(t.map((f) => [f.num, f]));
const EVENT_BY_NUM = byNum(EVENT_FIELDS);
const CALENDAR_BY_NUM = byNum(CALENDAR_FIELDS);
const EVENT_BY_NAME = new Map(EVENT_FIELDS.map((f) => [fieldName(f), f]));

/** The spec of a field of an event (calendar = false) or of the calendar entity. */
export function fieldSpec(calendar: boolean, num: number): FieldDef | undefined {
  return (calendar ? CALENDAR_BY_NUM : EVENT_BY_NUM).get(num);
}

export function eventFieldByName(name: string): (typeof EVENT_FIELDS)[number] | undefined {
  return EVENT_BY_NAME.get(name);
}

/** The view of an entity none of whose registers is set: every field at its `absent` value. */
export function absentValues<T extends Table>(t: T): ViewOf<T> {
  const out: Record<string, unknown> = {};
  for (const f of t) out[fieldName(f)] = Array.isArray(f.absent) ? [] : f.absent;
  return out as ViewOf<T>;
}

/**
 * Fields a person does not edit in the event form: written by delete and by series edits (SER-*),
 * by .ics import (IMP-*) and by dismissing reminders (REM-3).
 */
export const LINK_FIELDS = [
  'deleted',
  'overrideOf',
  'recurrenceId',
  'splitOf',
  'uid',
  'icsExtra',
  'dismissedUntil',
] as const;
type LinkName = (typeof LINK_FIELDS)[number];
type NamesSince<V extends number> = {
  [F in (typeof EVENT_FIELDS)[number] as F['since'] extends V ? Uncapitalize<F['key']> : never]: true;
};
/** Names of the editable fields every version has (a new event must give them all). */
export type BaseFieldName = Exclude<keyof NamesSince<1>, LinkName>;
export type EditableFieldName = Exclude<EventFieldName, LinkName>;
/** What a writer gives for a new or edited event: every version-1 field, later ones optional. */
export type EditableValues = Pick<EventValues, BaseFieldName> &
  Partial<Pick<EventValues, Exclude<EditableFieldName, BaseFieldName>>>;

export const EDITABLE_FIELDS = EVENT_FIELDS.filter(
  (f) => !(LINK_FIELDS as readonly string[]).includes(fieldName(f)),
);
export const isEditableField = (name: string): name is EditableFieldName =>
  EDITABLE_FIELDS.some((f) => fieldName(f) === name);
