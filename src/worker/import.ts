// .ics import and export in the engine host (docs/PROTOCOL.md IMP-*). An import is one atomic
// write (Replica.writeBatch, DAG-11): every event of the file or none, with progress events and a
// cancel that leaves nothing. Event ids are derived from (calendar, UID), so importing the same
// file again updates its events instead of adding copies, on every device alike.

import { Temporal } from 'temporal-polyfill';
import {
  type CalendarEvent,
  canonicalWall,
  type DocId,
  EDITABLE_FIELDS,
  EngineError,
  type EntityId,
  EventField,
  encodeValue,
  eventFromRecord,
  fieldName,
  formatRRule,
  isEntityId,
  type NewWrite,
  overrideId,
  parseRRule,
  type Replica,
  taggedHash,
  toHex,
  utf8,
} from '../engine/index.ts';
import type { EventFields, ExportItem, ImportItem, ImportResult } from './api.ts';
import type { HostEvent } from './host-api.ts';
import { SeriesSet, timeline } from './occurrences.ts';
import { utcToWall, wallToUtcMs } from './time.ts';

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
}

type FieldName = keyof EventFields;
const EDITABLE = EDITABLE_FIELDS.map((f) => fieldName(f) as FieldName);
/** What an override may differ in (SER-3); the rule and its dates belong to the series. */
const OVERRIDABLE = EDITABLE.filter((f) => f !== 'rrule' && f !== 'rdates' && f !== 'exdates');

function text(field: number, value: string): NewWrite {
  return { field, value: value === '' ? null : encodeValue('text', value) };
}

/** `wall` plus the series' duration (wall-clock), or undefined when the times do not parse. */
function plusDuration(series: EventFields, wall: string): string | undefined {
  try {
    if (series.allDay) {
      const d = Temporal.PlainDate.from(series.start).until(Temporal.PlainDate.from(series.end));
      return Temporal.PlainDate.from(wall).add(d).toString();
    }
    const d = Temporal.PlainDateTime.from(series.start).until(Temporal.PlainDateTime.from(series.end));
    return canonicalWall(Temporal.PlainDateTime.from(wall).add(d).toString({ smallestUnit: 'second' }));
  } catch {
    return undefined;
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * Lets queued messages run, without setTimeout's clamp: nested setTimeout(0) waits at least 4 ms
 * in browsers, and an import of 5,000 events yields ~125 times (half a second, measured).
 */
const channel = typeof MessageChannel === 'function' ? new MessageChannel() : undefined;
const waiting: (() => void)[] = [];
if (channel !== undefined) {
  channel.port1.onmessage = () => waiting.shift()?.();
  // Node keeps a process alive while a port listens: this one must not.
  (channel.port1 as { unref?: () => void }).unref?.();
}
function yieldToEvents(): Promise<void> {
  if (channel === undefined) return new Promise((r) => setTimeout(r, 0));
  return new Promise((r) => {
    waiting.push(r);
    channel.port2.postMessage(0);
  });
}

/** An override's own fields: those that differ from its series (SER-3), times only if moved. */
function overrideFields(series: EventFields, item: ImportItem, rid: string): Partial<EventFields> {
  const own: Record<string, unknown> = {};
  const f = item.fields as unknown as Record<string, unknown>;
  const s = series as unknown as Record<string, unknown>;
  for (const name of OVERRIDABLE) {
    if (name === 'start' || name === 'end') continue;
    own[name] = same(f[name], s[name]) ? null : f[name];
  }
  const moved = item.fields.start !== rid || item.fields.end !== plusDuration(series, rid);
  own['start'] = moved ? item.fields.start : null;
  own['end'] = moved ? item.fields.end : null;
  return own as Partial<EventFields>;
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

  /** Every write an item means, before comparing with what is stored. */
  function itemWrites(doc: DocId, item: ImportItem, series: Map<string, ImportItem>) {
    if (typeof item?.uid !== 'string' || item.uid === '' || item.uid.length > 255)
      throw new EngineError('InvalidArgument', 'every imported event needs a UID of 1 to 255 characters');
    const seriesId = importedEventId(doc, item.uid);
    if (item.recurrenceId === null) {
      const entity = seriesId;
      const writes = deps.encodeFields(entity, item.fields);
      writes.push(text(EventField.Uid, item.uid), text(EventField.IcsExtra, item.extra));
      // An event deleted here and imported again comes back (the file says it exists).
      writes.push({ field: EventField.Deleted, value: encodeValue('bool', item.cancelled) });
      return { entity, writes };
    }
    const master = series.get(item.uid);
    const rid = canonicalWall(String(item.recurrenceId));
    if (master === undefined || rid === undefined)
      throw new EngineError(
        'InvalidArgument',
        `an override of ${item.uid.slice(0, 60)} has no series in the file`,
      );
    const entity = overrideId(seriesId, rid);
    const writes = deps.encodeFields(entity, overrideFields(master.fields, item, rid));
    writes.push(
      { field: EventField.OverrideOf, value: encodeValue('entity', seriesId) },
      { field: EventField.RecurrenceId, value: encodeValue('datetime', rid) },
      { field: EventField.Deleted, value: encodeValue('bool', item.cancelled) },
      text(EventField.IcsExtra, item.extra),
    );
    return { entity, writes };
  }

  /** The writes of one item that differ from what the entity holds now (IMP-2: re-import is a no-op). */
  function writesFor(doc: DocId, item: ImportItem, series: Map<string, ImportItem>) {
    const { entity, writes } = itemWrites(doc, item, series);
    const cur = deps.replica.entity(doc, entity);
    const now = new Map(cur?.registers.map((r) => [r.field, r.writes[0]?.value]) ?? []);
    const changed = writes.filter((w) => {
      const v = now.get(w.field);
      // An absent register already reads as its absent value (no Deleted = not deleted).
      if (v === undefined && (w.value === null || (w.field === EventField.Deleted && w.value[0] === 0)))
        return false;
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
        const series = new Map(items.filter((i) => i?.recurrenceId === null).map((i) => [i.uid, i]));
        for (const [i, item] of items.entries()) {
          if (i % 200 === 199) {
            // Encoding 50,000 items takes seconds: a cancel may arrive meanwhile.
            await yieldToEvents();
            if (state.cancelled)
              throw new EngineError('InvalidArgument', 'import cancelled: nothing was written');
          }
          const w = writesFor(doc, item, series);
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
          await yieldToEvents();
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
      // The same placement as the calendar draws (occurrences.ts): split parts end where the
      // timeline says (SER-5), overrides go to the part covering them (SER-6), several
      // overrides of one occurrence are one RECURRENCE-ID event, layered (SER-2, SER-8).
      const set = new SeriesSet();
      const singles: CalendarEvent[] = [];
      for (const rec of deps.replica.entities(doc)) {
        if (!isEntityId(rec.entity) || /^0+$/.test(rec.entity)) continue;
        const ev = eventFromRecord(rec);
        if (!set.put(ev) && !ev.deleted) singles.push(ev);
      }
      const { bounds, groups } = timeline(set);
      const out: ExportItem[] = [];
      for (const ev of [...singles, ...(set.series.values() as Iterable<CalendarEvent>)]) {
        if (ev.deleted) continue;
        out.push({
          id: ev.id,
          uid: uidOf(ev),
          recurrenceId: null,
          cancelled: false,
          extra: ev.icsExtra,
          fields: endBefore(editable(ev), bounds.get(ev.id) ?? Infinity),
        });
      }
      for (const g of groups) {
        const master = g.series as CalendarEvent;
        // SER-7: a deleted series hides its overrides.
        if (master.deleted) continue;
        const top = g.layers[g.layers.length - 1] as CalendarEvent;
        const fields = { ...editable(master) } as unknown as Record<string, unknown>;
        let deleted = false;
        let ownStart = false;
        for (const ov of g.layers) {
          for (const name of OVERRIDABLE) {
            const f = EDITABLE_FIELDS.find((x) => fieldName(x) === name)!;
            if (ov.set.has(f.num)) fields[name] = (ov as unknown as Record<string, unknown>)[name];
          }
          if (ov.set.has(EventField.Deleted)) deleted = ov.deleted;
          if (ov.set.has(EventField.Start)) ownStart = true;
        }
        if (!ownStart) {
          // SER-3: an override without Start starts at its RecurrenceId, as long as the series.
          fields['start'] = g.recurrenceId;
          fields['end'] = plusDuration(editable(master), g.recurrenceId) ?? master.end;
        }
        fields['rrule'] = '';
        fields['rdates'] = [];
        fields['exdates'] = [];
        out.push({
          id: top.id,
          uid: uidOf(master),
          recurrenceId: g.recurrenceId,
          cancelled: deleted,
          extra: top.icsExtra,
          fields: fields as unknown as EventFields,
        });
      }
      return out;
    },
  };
}

const uidOf = (ev: CalendarEvent): string => ev.uid || `${ev.id}@ledgerday`;

/**
 * SER-5 in a file: a series whose part ends at `boundMs` ("This and following events") gets
 * UNTIL one second before it (COUNT dropped: the split part carries the rest), and its RDATEs
 * from then on are left out.
 */
function endBefore(f: EventFields, boundMs: number): EventFields {
  if (!Number.isFinite(boundMs) || !f.rrule) return f;
  const rule = parseRRule(f.rrule);
  if (rule === undefined) return f;
  const splitAt = utcToWall(boundMs, f.timeZone);
  let until: string;
  if (f.allDay) {
    until = Temporal.PlainDate.from(splitAt.slice(0, 10))
      .subtract({ days: 1 })
      .toString()
      .replaceAll('-', '');
  } else {
    until = `${new Date(boundMs - 1000).toISOString().slice(0, 19).replace(/[-:]/g, '')}Z`;
  }
  if (rule.until === undefined || rule.until > until) rule.until = until;
  delete rule.count;
  return {
    ...f,
    rrule: formatRRule(rule),
    rdates: (f.rdates ?? []).filter((d) => (wallToUtcMs(d, f.timeZone) ?? 0) < boundMs),
  };
}

function editable(ev: CalendarEvent): EventFields {
  const v = ev as unknown as Record<string, unknown>;
  return Object.fromEntries(EDITABLE.map((k) => [k, v[k]])) as unknown as EventFields;
}
