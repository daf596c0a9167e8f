// "This event" / "This and following events" / "All events" as register writes
// (docs/PROTOCOL.md SER-1..5): which entity each choice writes and which fields. Pure: the host
// applies the writes with the replica and keeps the inverse for undo.

import { Temporal } from 'temporal-polyfill';
import {
  canonicalWall,
  type EditableFieldName,
  type EntityId,
  type EventValues,
  formatRRule,
  overrideId,
  parseRRule,
  splitId,
} from '../engine/index.ts';
import type { Entity } from './occurrences.ts';
import type { Expander } from './recur.ts';
import { wallToUtcMs } from './time.ts';

export type SeriesScope = 'this' | 'following' | 'all';

/** Values to write to one entity's registers, by field name; null clears (an override: inherit). */
export type FieldValues = Partial<{ [K in keyof EventValues]: EventValues[K] | null }>;

export interface EntityWrite {
  entity: EntityId;
  values: FieldValues;
}

export interface SeriesEditInput {
  /** The series the occurrence belongs to (EventView.occurrence.seriesId). */
  series: Entity;
  /** The occurrence's original start. */
  recurrenceId: string;
  /** Its start and end as shown now (with any override applied). */
  shownStart: string;
  shownEnd: string;
  scope: SeriesScope;
  /** The changed fields; absent for a delete. */
  fields?: Partial<Pick<EventValues, EditableFieldName>>;
  delete?: boolean;
  /** The override entity "This event" writes, as it is now (SER-8: its linkage is kept). */
  existing?: Entity;
}

const DAY_FIELDS = [
  'title',
  'allDay',
  'timeZone',
  'location',
  'notes',
  'alarms',
  'rrule',
  'rdates',
  'exdates',
] as const;

/** The one write a series edit makes (every choice writes one entity, so it is one op). */
export function seriesEditWrite(input: SeriesEditInput, expand: Expander): EntityWrite {
  const { series: s, recurrenceId: r, scope } = input;
  const f = input.fields ?? {};
  const first = canonicalWall(s.start) === canonicalWall(r) || (s.allDay && s.start === r);
  if (scope === 'all' || (scope === 'following' && first)) {
    if (input.delete) return { entity: s.id, values: { deleted: true } };
    return { entity: s.id, values: allEventsValues(s, input) };
  }
  if (scope === 'this') {
    const values: FieldValues = { deleted: input.delete === true };
    // OverrideOf and RecurrenceId are written only when the entity does not hold them already,
    // so this edit does not undo a concurrent SER-8 carry of the same entity.
    const e = input.existing;
    if (e === undefined || e.overrideOf !== s.id || e.recurrenceId !== r) {
      values.overrideOf = s.id;
      values.recurrenceId = r;
    }
    if (!input.delete)
      for (const [k, v] of Object.entries(f))
        if (k !== 'rrule' && k !== 'rdates' && k !== 'exdates') (values as Record<string, unknown>)[k] = v;
    return { entity: overrideId(s.id, r), values };
  }
  // "This and following": a new series from r on (SER-5); the old one is not written.
  const id = splitId(s.id, r);
  if (input.delete) return { entity: id, values: { splitOf: s.id, recurrenceId: r, deleted: true } };
  const values: FieldValues = { splitOf: s.id, recurrenceId: r, deleted: false };
  for (const k of DAY_FIELDS) (values as Record<string, unknown>)[k] = f[k] ?? s[k];
  values.start = f.start ?? input.shownStart;
  values.end = f.end ?? input.shownEnd;
  if (f.rrule === undefined) values.rrule = remainingRule(s, r, expand);
  values.rdates = (values.rdates as string[]).filter((d) => d >= r);
  values.exdates = (values.exdates as string[]).filter((d) => d >= r);
  return { entity: id, values };
}

/** COUNT less the occurrences before the split, so the two parts together keep the count. */
function remainingRule(s: Entity, r: string, expand: Expander): string {
  const p = parseRRule(s.rrule);
  if (p === undefined || p.count === undefined) return s.rrule;
  const from = wallToUtcMs(s.start, s.timeZone);
  const to = wallToUtcMs(r, s.timeZone);
  if (from === undefined || to === undefined) return s.rrule;
  let before = 0;
  const x = expand(s);
  for (let t = from; t < to; t += 366 * 86_400_000) {
    before += x
      .between(t, Math.min(to, t + 366 * 86_400_000))
      .filter((o) => o.startMs >= t && !s.rdates.includes(o.recurrenceId)).length;
  }
  return formatRRule({ ...p, count: Math.max(1, p.count - before) });
}

/**
 * "All events" (SER-1): the changed fields go to the series; a change of the occurrence's time
 * moves the series' Start and End by the same wall-clock amount, so its first date is kept.
 */
function allEventsValues(s: Entity, input: SeriesEditInput): FieldValues {
  const f = input.fields ?? {};
  const values: FieldValues = {};
  for (const [k, v] of Object.entries(f))
    if (k !== 'start' && k !== 'end') (values as Record<string, unknown>)[k] = v;
  const allDay = f.allDay ?? s.allDay;
  if (f.start !== undefined && f.start !== input.shownStart)
    values.start = shift(s.start, input.shownStart, f.start, allDay);
  if (f.end !== undefined && f.end !== input.shownEnd)
    values.end = shift(s.end, input.shownEnd, f.end, allDay);
  if (values.start !== undefined && values.end === undefined && f.end === undefined)
    values.end = shift(s.end, input.shownStart, f.start!, allDay);
  return values;
}

/** `base` moved by (to - from), as wall-clock times; dates when all-day. */
export function shift(base: string, from: string, to: string, allDay: boolean): string {
  const pdt = (w: string) =>
    w.length === 10 ? Temporal.PlainDate.from(w).toPlainDateTime() : Temporal.PlainDateTime.from(w);
  if (allDay) {
    const days = Temporal.PlainDate.from(from.slice(0, 10)).until(
      Temporal.PlainDate.from(to.slice(0, 10)),
    ).days;
    return Temporal.PlainDate.from(base.slice(0, 10)).add({ days }).toString();
  }
  if (from.length === 10 || base.length === 10) {
    // All-day to timed: the base's date at the new time of day.
    return canonicalWall(`${base.slice(0, 10)}${to.slice(10)}`) ?? to;
  }
  const d = pdt(from).until(pdt(to), { largestUnit: 'day' });
  return canonicalWall(pdt(base).add(d).toString().slice(0, 19))!;
}

/**
 * SER-8: after an "All events" change of `before` into `after`, the override writes that carry
 * each of `overrides` (those placed on `before`'s own occurrences) to the corresponding
 * occurrence: its original start moved by the same wall-clock amount as the series' Start, when
 * the changed series has an occurrence there. Only the RecurrenceId register is written; an
 * override that matched nothing before, or corresponds to nothing now, is left (SER-6).
 */
export function carryOverrides(
  before: Entity,
  after: Entity,
  overrides: readonly Entity[],
  expand: Expander,
): EntityWrite[] {
  if (before.start === after.start && before.allDay === after.allDay) return [];
  const old = expand(before);
  const next = expand(after);
  const out: EntityWrite[] = [];
  for (const o of overrides) {
    const r = o.recurrenceId;
    if (old.at(r) === undefined) continue;
    let to: string;
    try {
      to = shift(r, before.start, after.start, after.allDay);
    } catch {
      continue;
    }
    if (next.at(to) === undefined) continue;
    if (to !== r) out.push({ entity: o.id, values: { recurrenceId: to } });
  }
  return out;
}
