// Test helpers for snapshots: everything a user (or sync) can see of a calendar on a replica,
// in one comparable value, read through the public API and typed views only.

import { toHex } from './bytes.ts';
import { calendarFromRecord, eventFromRecord } from './calendar.ts';
import { CALENDAR_ENTITY, type DocId } from './ids.ts';
import type { Replica } from './replica.ts';
import { OpKind } from './store.ts';

/** Every membership op of a calendar on `r` (what a relay serves a new device as key sources, SNAP-9). */
export const membershipOps = async (r: Replica, doc: DocId): Promise<Uint8Array[]> =>
  (await r.listOps(doc, 0, 100_000)).filter((o) => o.kind === OpKind.Membership).map((o) => o.bytes);

const plain = (v: unknown): unknown =>
  v instanceof Uint8Array
    ? toHex(v)
    : v instanceof Map
      ? [...v.entries()].map(([k, x]) => [k, plain(x)])
      : v instanceof Set
        ? [...v].sort()
        : Array.isArray(v)
          ? v.map(plain)
          : v !== null && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
            : v;

/** Heads, root, every event's fields, conflicts and unknown fields, the calendar's own fields, members and roles, evidence. */
export function visibleState(r: Replica, doc: DocId) {
  const entities = r
    .entities(doc)
    // An entity with no register shows nothing (and exists or not by arrival order, MEM-5).
    .filter((e) => e.entity !== CALENDAR_ENTITY && e.registers.length > 0)
    .sort((a, b) => (a.entity < b.entity ? -1 : 1))
    .map((e) => ({
      event: plain(eventFromRecord(e)),
      // The raw frontier of each register too: winner and concurrent writes, values and ops.
      regs: e.registers.map((g) => [
        g.field,
        g.writes.map((w) => [w.op, w.value === null ? null : toHex(w.value)]),
      ]),
    }));
  const members = [...r.members(doc).values()]
    .map((m) => ({ device: m.device, role: m.role, box: toHex(m.box), addedBy: m.addedBy }))
    .sort((a, b) => (a.device < b.device ? -1 : 1));
  return {
    heads: r.heads(doc),
    root: r.root(doc),
    calendar: plain(calendarFromRecord(r.entity(doc, CALENDAR_ENTITY))),
    entities,
    members,
    evidence: r
      .evidence(doc)
      .map((e) => ({ author: e.author, ctr: e.ctr, ops: [...e.ops].sort() }))
      .sort((a, b) => (a.author !== b.author ? (a.author < b.author ? -1 : 1) : a.ctr - b.ctr)),
  };
}
