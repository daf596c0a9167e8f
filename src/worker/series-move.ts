// Moving a repeating event to another calendar ([RT-14]): the series, every part a "This and
// following" split made of it (SER-5) and every override of them (SER-2) move together, through
// the same journal as a single event's move (RT-13). Each copy's id is derived in the target as if
// the family had been written there: the series' copy is movedEventId(source, series), a split's
// is splitId(its parent's copy, split point), an override's is overrideId(its series' copy,
// RecurrenceId). So completing a move again writes the same entities, two devices moving the same
// series to the same calendar converge on one copy, and later edits in the target merge with the
// moved overrides as SER-2 and SER-5 say.

import {
  type CalendarEvent,
  type DocId,
  type EntityId,
  EVENT_FIELDS,
  EventField,
  encodeValue,
  eventFromRecord,
  fieldName,
  type NewWrite,
  overrideId,
  type Replica,
  splitId,
} from '../engine/index.ts';
import { movedEventId } from './move.ts';

/** A series family in one calendar: its root and, in parent-before-child order, the rest. */
export interface Family {
  root: EntityId;
  /** Every member (root, splits, overrides) with the id of its copy in the target. */
  members: { ev: CalendarEvent; copy: EntityId }[];
}

/** The root of the timeline `id` belongs to (the series it was split from, and so on up). */
export function rootSeries(replica: Replica, doc: DocId, id: EntityId): EntityId {
  let cur = id;
  for (let depth = 0; depth < 64; depth++) {
    const rec = replica.entity(doc, cur);
    const ev = rec && eventFromRecord(rec);
    if (ev === undefined || ev.splitOf === '' || !replica.entity(doc, ev.splitOf as EntityId)) return cur;
    cur = ev.splitOf as EntityId;
  }
  return cur;
}

/** The family of series `root` in `from`, with the ids its members get in the target. */
export function familyOf(replica: Replica, from: DocId, root: EntityId): Family {
  const all = replica.entities(from).map(eventFromRecord);
  const copies = new Map<string, EntityId>([[root, movedEventId(from, root)]]);
  const members: Family['members'] = [];
  const rootEv = all.find((e) => e.id === root);
  if (rootEv !== undefined) members.push({ ev: rootEv, copy: copies.get(root)! });
  // Splits, parents first (a split of a split needs its parent's copy id).
  let grew = true;
  for (let depth = 0; grew && depth < 64; depth++) {
    grew = false;
    for (const e of all) {
      if (copies.has(e.id) || e.splitOf === '' || e.recurrenceId === '') continue;
      const parent = copies.get(e.splitOf);
      if (parent === undefined) continue;
      copies.set(e.id, splitId(parent, e.recurrenceId));
      members.push({ ev: e, copy: copies.get(e.id)! });
      grew = true;
    }
  }
  for (const e of all) {
    if (e.overrideOf === '' || e.recurrenceId === '' || copies.has(e.id)) continue;
    const series = copies.get(e.overrideOf);
    if (series !== undefined) members.push({ ev: e, copy: overrideId(series, e.recurrenceId) });
  }
  return { root, members };
}

/** Every register the member has set, with its links pointing at the copies. */
function copyWrites(ev: CalendarEvent, family: Family): NewWrite[] {
  const copyOf = new Map(family.members.map((m) => [m.ev.id as string, m.copy]));
  const writes: NewWrite[] = [];
  for (const f of EVENT_FIELDS) {
    if (!ev.set.has(f.num)) continue;
    let v = (ev as unknown as Record<string, unknown>)[fieldName(f)];
    if ((f.num === EventField.SplitOf || f.num === EventField.OverrideOf) && typeof v === 'string')
      v = copyOf.get(v) ?? v;
    writes.push({ field: f.num, value: v === null ? null : encodeValue(f.type, v as never) });
  }
  return writes;
}

/**
 * Completes a series move; safe to run any number of times. When the root's copy is not live in
 * the target, every member is copied there in one atomic batch (DAG-11); then the series and its
 * splits are deleted in the source, in one batch (their overrides are hidden with them, SER-7).
 * Returns the copy ids by source id.
 */
export async function completeSeriesMove(
  replica: Replica,
  from: DocId,
  to: DocId,
  root: EntityId,
): Promise<Map<string, EntityId>> {
  const family = familyOf(replica, from, root);
  const copies = new Map(family.members.map((m) => [m.ev.id as string, m.copy]));
  if (family.members.length === 0 || !replica.hasDoc(to)) return copies;
  const rootCopy = replica.entity(to, movedEventId(from, root));
  if (rootCopy === undefined || eventFromRecord(rootCopy).deleted) {
    await replica.writeBatch(
      to,
      family.members.map((m) => ({ entity: m.copy, writes: copyWrites(m.ev, family) })),
    );
  }
  const live = family.members.filter((m) => m.ev.overrideOf === '' && !m.ev.deleted);
  if (live.length > 0)
    await replica.writeBatch(
      from,
      live.map((m) => ({
        entity: m.ev.id,
        writes: [{ field: EventField.Deleted, value: encodeValue('bool', true) }],
      })),
    );
  return copies;
}
