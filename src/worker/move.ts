// Moving an event to another calendar as one durable step ([RT-13]). Calendars are separate
// documents (separate DAGs, keys and members), so a move is two writes in two documents: a copy
// in the target and the Deleted register in the source. Two things make it safe:
//  - the intent is journaled (IndexedDB, strict durability) before the first write and cleared
//    after the last, and every intent left in the journal is completed when the host starts;
//  - the copy's id is derived from (source calendar, event id), so completing a move again
//    writes the same entity instead of a second copy, and two devices moving the same event to
//    the same calendar at once converge on one copy.

import {
  type DocId,
  EngineError,
  type EntityId,
  EventField,
  encodeValue,
  eventFieldByName,
  eventFromRecord,
  isDocId,
  isEditableField,
  isEntityId,
  isValueOf,
  type NewWrite,
  type Replica,
  taggedHash,
  toHex,
  utf8,
} from '../engine/index.ts';
import type { EventFields } from './api.ts';
import type { IdbStore } from './idb-store.ts';

export interface MoveIntent {
  from: DocId;
  event: EntityId;
  to: DocId;
  /** The values the copy gets (the source's, or the dialog's edits made with the move). */
  fields: EventFields;
  /** A repeating event: `event` is its series' root and the whole family moves ([RT-14]). */
  series?: true;
}

const MOVE_TAG = utf8('ledgerday/move-v1');
/** At most this many moves wait in the journal (a bound on what start-up recovery reads). */
export const MAX_JOURNAL = 200;

/** The id of an event's copy after a move out of `from`: the same on every device and every retry. */
export function movedEventId(from: DocId, event: EntityId): EntityId {
  return toHex(taggedHash(MOVE_TAG, utf8(from), utf8(event)).slice(0, 16)) as EntityId;
}

export interface MoveDeps {
  store: IdbStore;
  replica: Replica;
  /** The host's encoder: field names to register writes (throws InvalidArgument on bad values). */
  encodeFields: (entity: EntityId, fields: Partial<EventFields>) => NewWrite[];
  /** Completes a series move (series-move.ts); copy ids by source id. */
  completeSeries: (from: DocId, to: DocId, root: EntityId) => Promise<Map<string, EntityId>>;
}

function isIntent(v: unknown): v is MoveIntent {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (!isDocId(o['from']) || !isDocId(o['to']) || !isEntityId(o['event']) || o['from'] === o['to'])
    return false;
  if (o['series'] !== undefined && o['series'] !== true) return false;
  const f = o['fields'];
  if (typeof f !== 'object' || f === null) return false;
  // Each value valid for its field in the engine's field table (lists and a null Alarms included).
  return Object.entries(f).every(([k, x]) => {
    const spec = isEditableField(k) ? eventFieldByName(k) : undefined;
    return spec !== undefined && ((x === null && spec.absent === null) || isValueOf(spec.type, x));
  });
}

/**
 * The move journal: one list in the host-local store. Writes are serialized here (one host per
 * device, [RT-8]), so concurrent moves never lose each other's entry.
 */
export class MoveJournal {
  private chain: Promise<unknown> = Promise.resolve();
  private constructor(
    private readonly store: IdbStore,
    private entries: MoveIntent[],
  ) {}

  /** Reads and validates the journal; malformed entries are dropped and counted. */
  static async open(store: IdbStore): Promise<{ journal: MoveJournal; dropped: number }> {
    const raw = await store.getLocal('moves');
    const list = Array.isArray(raw) ? raw.slice(0, MAX_JOURNAL) : [];
    const ok = list.filter(isIntent);
    const dropped = (Array.isArray(raw) ? raw.length : raw === undefined ? 0 : 1) - ok.length;
    return { journal: new MoveJournal(store, ok), dropped };
  }

  list(): readonly MoveIntent[] {
    return this.entries;
  }

  add(m: MoveIntent): Promise<void> {
    return this.update(() => {
      if (this.entries.length >= MAX_JOURNAL)
        throw new EngineError('Storage', 'too many calendar moves are unfinished; reload the page');
      return [...this.entries.filter((e) => !same(e, m)), m];
    });
  }

  remove(m: MoveIntent): Promise<void> {
    return this.update(() => this.entries.filter((e) => !same(e, m)));
  }

  private update(next: () => MoveIntent[]): Promise<void> {
    const run = this.chain.then(async () => {
      const list = next();
      await this.store.putLocal('moves', list.length === 0 ? undefined : list);
      this.entries = list;
    });
    this.chain = run.catch(() => {});
    return run;
  }
}

const same = (a: MoveIntent, b: MoveIntent) => a.from === b.from && a.event === b.event;

function isLive(replica: Replica, doc: DocId, entity: EntityId): boolean {
  const rec = replica.entity(doc, entity);
  return rec !== undefined && !eventFromRecord(rec).deleted;
}

const deletedWrite = (v: boolean): NewWrite => ({ field: EventField.Deleted, value: encodeValue('bool', v) });

/**
 * Completes a journaled move; safe to run any number of times. A copy that is already live is
 * left as it is (it may have been edited since, on this or another device); a missing or deleted
 * copy gets the intent's values; then the source is deleted and the entry cleared.
 */
export async function completeMove(deps: MoveDeps, journal: MoveJournal, m: MoveIntent): Promise<EntityId> {
  const { replica } = deps;
  if (m.series) {
    const copies = await deps.completeSeries(m.from, m.to, m.event);
    await journal.remove(m);
    return copies.get(m.event) ?? movedEventId(m.from, m.event);
  }
  const copy = movedEventId(m.from, m.event);
  if (replica.hasDoc(m.to) && !isLive(replica, m.to, copy)) {
    await replica.write(m.to, copy, [...deps.encodeFields(copy, m.fields), deletedWrite(false)]);
  }
  if (replica.hasDoc(m.from) && isLive(replica, m.from, m.event)) {
    // Never delete the only copy: if the target is gone (calendar left or unreadable) the event stays.
    if (replica.hasDoc(m.to)) await replica.write(m.from, m.event, [deletedWrite(true)]);
  }
  await journal.remove(m);
  return copy;
}

/** Journals the move, then completes it. */
export async function moveEvent(deps: MoveDeps, journal: MoveJournal, m: MoveIntent): Promise<EntityId> {
  // Validate before journaling: an intent that cannot be written would be retried at every start.
  if (!m.series) deps.encodeFields(movedEventId(m.from, m.event), m.fields);
  await journal.add(m);
  return completeMove(deps, journal, m);
}

/** Start-up: completes every move a closed or crashed page left half done. Returns the failures. */
export async function recoverMoves(deps: MoveDeps, journal: MoveJournal): Promise<string[]> {
  const errors: string[] = [];
  for (const m of [...journal.list()]) {
    try {
      await completeMove(deps, journal, m);
    } catch (e) {
      errors.push(
        `moving event ${m.event} to calendar ${m.to}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  return errors;
}
