// The host's side of repeating events: keeps each calendar's series and overrides (SeriesSet),
// answers ranges with their occurrences, and turns the UI's "This event" / "This and following
// events" / "All events" choices into one register write each (series-edit.ts), returning the
// inverse write for undo (UI-7).

import {
  type CalendarEvent,
  canonicalWall,
  type DocId,
  EngineError,
  type EntityId,
  EventField,
  encodeValue,
  eventFieldByName,
  eventFromRecord,
  isEntityId,
  type NewWrite,
  overrideId,
  type Replica,
  type Value,
} from '../engine/index.ts';
import type { EventView, OccurrenceInfo, Range, SeriesEdit, SeriesExceptions, SeriesUndo } from './api.ts';
import {
  type AssembledOccurrence,
  assemble,
  type Entity,
  eachAssembled,
  isOverride,
  isSeries,
  occurrenceId,
  overridesOf,
  SeriesSet,
} from './occurrences.ts';
import {
  cachedExpander,
  type Expander,
  type Expansion,
  expandFast,
  loadExpander,
  type Occurrence,
} from './recur.ts';
import { carryOverrides, type EntityWrite, type FieldValues, seriesEditWrite } from './series-edit.ts';
import { wallToUtcMs } from './time.ts';
import { conflictsOf, viewOf } from './views.ts';

const YEAR = 366 * 86_400_000;
const PREFETCH_DELAY_MS = 1500;

export interface SeriesHost {
  /** Files an entity's new state; true when it is (or was) a series or an override. */
  reindex(doc: DocId, id: EntityId, ev: CalendarEvent | undefined): boolean;
  /** Occurrences of every calendar's series overlapping the range. */
  occurrences(range: Range): Promise<EventView[]>;
  /**
   * The same occurrences without views (a month layout makes views of the few it shows): `plain`
   * for each one without an override, `overridden` with the view of each other one; with `run`,
   * a series without overrides hands its plain ones over at once (the first `n` of `list`).
   */
  visit(
    range: Range,
    plain: (doc: DocId, s: Entity, o: Occurrence) => void,
    overridden: (doc: DocId, v: EventView) => void,
    run?: (doc: DocId, s: Entity, list: readonly Occurrence[], n: number) => void,
  ): Promise<void>;
  /** Records occurrence views handed out by a month layout (occurrenceOf finds their ids). */
  record(doc: DocId, views: EventView[]): void;
  /** Live series as one view each (their first occurrence), for search. */
  seriesViews(): EventView[];
  /** The occurrence an id names, if the last ranges showed it or it is an override. */
  occurrenceOf(doc: DocId, id: string): { seriesId: EntityId; recurrenceId: string } | undefined;
  /** The series an id names: itself, or the series of the occurrence or override it names. */
  seriesIdOf(doc: DocId, id: string): EntityId | undefined;
  /** The view of an occurrence id or a series id, if it names one. */
  get(doc: DocId, id: string): Promise<EventView | undefined>;
  edit(doc: DocId, edit: SeriesEdit): Promise<SeriesUndo>;
  exceptions(doc: DocId, seriesId: EntityId): SeriesExceptions;
  restoreOccurrence(doc: DocId, seriesId: EntityId, recurrenceId: string): Promise<SeriesUndo>;
  restore(doc: DocId, undo: SeriesUndo): Promise<void>;
}

/**
 * Each series' view as the template its occurrences' views are copied from (per series entity
 * object and calendar): one object spread and a few fields per occurrence instead of setting every
 * field by name (viewOf), which was the largest single part of a first month draw (measured in
 * Chromium). The template carries the series' conflicts: its occurrences share that list.
 */
interface SeriesViews {
  template: EventView;
}
const seriesViews = new WeakMap<Entity, SeriesViews>();

/** The last series viewsOf answered for: a draw asks for each occurrence, series by series. */
let last: { doc: DocId; s: Entity; views: SeriesViews } | undefined;

function viewsOf(doc: DocId, s: Entity): SeriesViews {
  if (last !== undefined && last.s === s && last.doc === doc) return last.views;
  let got = seriesViews.get(s);
  if (got === undefined || got.template.calendarId !== doc) {
    // The fields every plain occurrence shares with its series (viewOf's order of keys); Start,
    // End, id and instants are each occurrence's own.
    const conflicts = (s as Partial<CalendarEvent>).conflicts?.size ? conflictsOf(s as CalendarEvent) : [];
    const template = viewOf(doc, s.id, { ...s, deleted: false } as Entity, conflicts, {
      startMs: 0,
      endMs: 0,
    });
    // Every field a view of an occurrence has, `occurrence` too: a copy then only overwrites
    // fields in place and adds none, so every view has the shape its template has.
    (template as { occurrence?: unknown }).occurrence = undefined;
    got = { template };
    seriesViews.set(s, got);
  }
  last = { doc, s, views: got };
  return got;
}

/** The view of an occurrence without an override, from its series' template. */
function plainView(
  cache: SeriesViews,
  seriesId: EntityId,
  o: Pick<Occurrence, 'recurrenceId' | 'start' | 'end' | 'startMs' | 'endMs'>,
  id: EntityId,
): EventView {
  return {
    ...cache.template,
    id,
    startMs: o.startMs,
    endMs: o.endMs,
    start: o.start,
    end: o.end,
    occurrence: { seriesId, recurrenceId: o.recurrenceId, detached: false },
  };
}

/**
 * The view of occurrence `o` of series `s` without an override, kept on the occurrence (the
 * expansion's cache holds it): a redraw of an unchanged series builds nothing, a first draw one
 * object per occurrence (and its id), no assembled occurrence in between.
 */
export function drawnView(doc: DocId, s: Entity, o: Occurrence): EventView {
  const cache = viewsOf(doc, s);
  if (o.shownFrom === cache) return o.shownAs as EventView;
  const v = plainView(cache, s.id, o, occurrenceId(s.id, o.recurrenceId));
  o.shownFrom = cache;
  o.shownAs = v;
  return v;
}

/** The EventView of an assembled occurrence; its conflicts are its override's (or its series'). */
export function occurrenceView(doc: DocId, a: AssembledOccurrence, set: SeriesSet | undefined): EventView {
  const series = set?.series.get(a.seriesId);
  if (a.override === undefined && series !== undefined)
    return plainView(viewsOf(doc, series), a.seriesId, a, a.id);
  const src = (a.override ?? series) as Partial<CalendarEvent> | undefined;
  const v = viewOf(doc, a.id, a.fields, src?.conflicts ? conflictsOf(src as CalendarEvent) : [], a);
  v.occurrence = { seriesId: a.seriesId, recurrenceId: a.recurrenceId, detached: a.detached };
  return v;
}

/** The views of every occurrence of `set` in [fromMs, toMs) (assembly order). */
export function occurrenceViews(
  doc: DocId,
  set: SeriesSet,
  expand: Expander,
  fromMs: number,
  toMs: number,
): EventView[] {
  const out: EventView[] = [];
  eachAssembled(
    set,
    expand,
    fromMs,
    toMs,
    (s, o) => out.push(drawnView(doc, s, o)),
    (a) => out.push(occurrenceView(doc, a, set)),
  );
  return out;
}

/**
 * Expansions without the library, cached (recur-fast.ts): a series whose rule needs rrule-temporal
 * gets an expansion that is not ok. A cold start draws repeating events with it at once when
 * every series of the range can be drawn so (most can).
 */
const NEEDS_LIBRARY: Expansion = { ok: false, between: () => [], at: () => undefined };
export const fastExpander: Expander = cachedExpander((s) => expandFast(s) ?? NEEDS_LIBRARY);

/** Loads the expander once (rrule-temporal is a separate chunk) and caches expansions. */
let shared: Promise<Expander> | undefined;
export const sharedExpander = (): Promise<Expander> =>
  (shared ??= loadExpander().then((e) => cachedExpander(e)));

/**
 * The occurrences a host has handed out views of, per calendar: an edit of an occurrence by the
 * id its view carries finds its series and original start here (occurrenceOf).
 */
export type ShownOccurrences = Map<DocId, Shown>;

/**
 * One calendar's record: the lists of views drawn, indexed by id only when an id is looked up
 * (an edit, a click), not while drawing. Putting each of a month's ~7,000 occurrences into a Map
 * by its id string as it was drawn was the largest single part of a first month draw (measured in
 * Chromium: hashing each new id and growing the Map); a lookup indexes what was drawn since the
 * last one, in drawing order, so a later draw's occurrence wins as before.
 */
export interface Shown {
  byId: Map<string, OccurrenceInfo>;
  /** Lists drawn since the last lookup, oldest first. */
  pending: EventView[][];
  /** Occurrences in byId and pending together. */
  size: number;
}

/** Past this many occurrences a calendar's record of shown ones starts again (they are redrawn). */
const MAX_SHOWN = 200_000;

/** The occurrence of `doc` a view with this id showed (the latest drawn), if any. */
export function shownOccurrence(shown: ShownOccurrences, doc: DocId, id: string): OccurrenceInfo | undefined {
  const mine = shown.get(doc);
  if (mine === undefined) return undefined;
  if (mine.pending.length > 0) {
    for (const list of mine.pending)
      for (const v of list) if (v.occurrence) mine.byId.set(v.id, v.occurrence);
    mine.pending = [];
    mine.size = mine.byId.size;
  }
  return mine.byId.get(id);
}

/**
 * Appends to `out` the views of every occurrence of `set` in [fromMs, toMs), recording them in
 * `shown`: what a host's month answer runs for each calendar (the bench draws through it too).
 */
export function drawOccurrences(
  doc: DocId,
  set: SeriesSet,
  expand: Expander,
  fromMs: number,
  toMs: number,
  shown: ShownOccurrences,
  out: EventView[],
): void {
  const views = occurrenceViews(doc, set, expand, fromMs, toMs);
  recordShown(shown, doc, views);
  for (let i = 0; i < views.length; i++) out.push(views[i]!);
}

/** Records views handed out in `shown` (looked up by id only when an edit asks). */
export function recordShown(shown: ShownOccurrences, doc: DocId, views: EventView[]): void {
  let mine = shown.get(doc);
  if (mine === undefined || mine.size + views.length > MAX_SHOWN) {
    mine = { byId: new Map(), pending: [], size: 0 };
    shown.set(doc, mine);
  }
  mine.pending.push(views);
  mine.size += views.length;
}

export function createSeriesHost(replica: Replica, expander?: Expander): SeriesHost {
  const sets = new Map<DocId, SeriesSet>();
  const shown: ShownOccurrences = new Map();
  const own = expander && cachedExpander(expander);
  const ready = (): Promise<Expander> => (own ? Promise.resolve(own) : sharedExpander());
  /** The fast expander when every series can use it (no wait for the library), else ready(). */
  const pick = (): Promise<Expander> | Expander => {
    if (own) return own;
    for (const set of sets.values())
      for (const s of set.series.values()) if (!s.deleted && !fastExpander(s).ok) return sharedExpander();
    return fastExpander;
  };

  const view = (doc: DocId, a: AssembledOccurrence) => occurrenceView(doc, a, sets.get(doc));

  /**
   * Expands the ranges before and after the one just asked, in the background, a few series per
   * task so other calls are not held up: the next "Next month" finds its expansions cached (a cold
   * month of 500 series is ~0.5 s in Chromium here, a cached one ~30 ms).
   */
  let warming: string | undefined;
  function prefetch(range: Range, x: Expander): void {
    const len = range.toMs - range.fromMs;
    if (!(len > 0 && len < 400 * 86_400_000)) return;
    const key = `${range.fromMs}|${range.toMs}`;
    if (warming === key) return;
    warming = key;
    const series = [...sets.values()].flatMap((set) => [...set.series.values()]);
    const spans = [
      [range.toMs, range.toMs + len],
      [range.fromMs - len, range.fromMs],
    ] as const;
    let i = 0;
    const step = () => {
      if (warming !== key) return;
      const end = Math.min(series.length, i + 25);
      for (; i < end; i++) for (const [a, b] of spans) x(series[i]!).between(a, b);
      if (i < series.length) setTimeout(step, 0);
    };
    // Not at once: right after a range is answered the worker has more urgent work (at cold start
    // the replica's load, then re-reading every range).
    setTimeout(step, PREFETCH_DELAY_MS);
  }

  async function find(doc: DocId, seriesId: EntityId, r: string): Promise<AssembledOccurrence | undefined> {
    const set = sets.get(doc);
    const s = set?.series.get(seriesId);
    if (set === undefined || s === undefined) return undefined;
    const t = wallToUtcMs(r, s.timeZone);
    if (t === undefined) return undefined;
    const all = assemble(set, await pick(), t - YEAR, t + YEAR);
    return all.find((a) => a.seriesId === seriesId && a.recurrenceId === r);
  }

  function encoded(values: FieldValues): NewWrite[] {
    const writes: NewWrite[] = [];
    for (const [name, v] of Object.entries(values)) {
      const spec = eventFieldByName(name);
      if (spec === undefined) throw new EngineError('InvalidArgument', `unknown event field ${name}`);
      try {
        writes.push({ field: spec.num, value: v === null ? null : encodeValue(spec.type, v as never) });
      } catch (e) {
        throw new EngineError('InvalidArgument', e instanceof Error ? e.message : String(e));
      }
    }
    return writes;
  }

  /** Several entities' writes as one atomic step (DAG-11), or one op when there is one. */
  async function writeAll(doc: DocId, list: readonly EntityWrite[]): Promise<void> {
    const items = list
      .map((w) => ({ entity: w.entity, writes: encoded(w.values) }))
      .filter((it) => it.writes.length > 0);
    if (items.length === 1) await replica.write(doc, items[0]!.entity, items[0]!.writes);
    else if (items.length > 1) await replica.writeBatch(doc, items);
  }

  /** What each register a write touches holds now (null where it holds nothing): its undo. */
  function inverse(doc: DocId, w: EntityWrite): { entity: EntityId; values: Record<string, Value | null> } {
    const rec = replica.entity(doc, w.entity);
    const before = rec === undefined ? undefined : eventFromRecord(rec);
    const values: Record<string, Value | null> = {};
    for (const k of Object.keys(w.values)) {
      const spec = eventFieldByName(k)!;
      values[k] = before?.set.has(spec.num) ? (before[k as keyof CalendarEvent] as Value) : null;
    }
    return { entity: w.entity, values };
  }

  return {
    reindex(doc, id, ev) {
      let set = sets.get(doc);
      const was = set?.series.has(id) === true || set?.overrides.has(id) === true;
      const is = ev !== undefined && (isSeries(ev) || isOverride(ev));
      if (!was && !is) return false;
      if (set === undefined) {
        set = new SeriesSet();
        sets.set(doc, set);
      }
      if (is) set.put(ev);
      else set.remove(id);
      // The library is fetched when a rule needs it (or an edit does), not for every series.
      if (is && !own && !ev.deleted && isSeries(ev) && !fastExpander(ev).ok) void ready();
      return true;
    },

    async occurrences(range) {
      if (![...sets.values()].some((s) => s.size > 0)) return [];
      const x = await pick();
      prefetch(range, x);
      const out: EventView[] = [];
      for (const [doc, set] of sets) drawOccurrences(doc, set, x, range.fromMs, range.toMs, shown, out);
      return out;
    },

    async visit(range, plain, overridden, run) {
      if (![...sets.values()].some((s) => s.size > 0)) return;
      const x = await pick();
      prefetch(range, x);
      for (const [doc, set] of sets)
        eachAssembled(
          set,
          x,
          range.fromMs,
          range.toMs,
          (s, o) => plain(doc, s, o),
          (a) => overridden(doc, occurrenceView(doc, a, set)),
          run && ((s, list, n) => run(doc, s, list, n)),
        );
    },

    record(doc, views) {
      if (views.length > 0) recordShown(shown, doc, views);
    },

    seriesViews() {
      const out: EventView[] = [];
      for (const [doc, set] of sets)
        for (const s of set.series.values()) if (!s.deleted) out.push(viewOf(doc, s.id, s, []));
      return out;
    },

    occurrenceOf(doc, id) {
      const seen = shownOccurrence(shown, doc, id);
      if (seen !== undefined) return { seriesId: seen.seriesId as EntityId, recurrenceId: seen.recurrenceId };
      const o = sets.get(doc)?.overrides.get(id as EntityId);
      if (o !== undefined) return { seriesId: o.overrideOf as EntityId, recurrenceId: o.recurrenceId };
      return undefined;
    },

    seriesIdOf(doc, id) {
      if (sets.get(doc)?.series.has(id as EntityId)) return id as EntityId;
      return this.occurrenceOf(doc, id)?.seriesId;
    },

    async get(doc, id) {
      const s = sets.get(doc)?.series.get(id as EntityId);
      if (s !== undefined)
        return s.deleted ? undefined : viewOf(doc, s.id, s, conflictsOf(s as CalendarEvent));
      const occ = this.occurrenceOf(doc, id);
      if (occ === undefined) return undefined;
      const a = await find(doc, occ.seriesId, occ.recurrenceId);
      return a === undefined ? undefined : view(doc, a);
    },

    async edit(doc, edit) {
      const seriesId = edit?.seriesId;
      const r = typeof edit?.recurrenceId === 'string' ? canonicalWall(edit.recurrenceId) : undefined;
      if (!isEntityId(seriesId) || r === undefined || !['this', 'following', 'all'].includes(edit.scope))
        throw new EngineError(
          'InvalidArgument',
          'a series edit needs a series id, an occurrence and a scope',
        );
      const series = sets.get(doc)?.series.get(seriesId);
      if (series === undefined) throw new EngineError('InvalidArgument', `no repeating event ${seriesId}`);
      const occ = await find(doc, seriesId, r);
      const x = await ready();
      const set = sets.get(doc)!;
      const w = seriesEditWrite(
        {
          series,
          recurrenceId: r,
          shownStart: occ?.start ?? r,
          shownEnd: occ?.end ?? r,
          scope: edit.scope,
          ...(edit.fields === undefined ? {} : { fields: edit.fields }),
          ...(edit.delete === true ? { delete: true } : {}),
          ...existingOverride(set, seriesId, r),
        },
        x,
      );
      // SER-8: a change of the series' time or rule carries its overrides, in the same step.
      const writes = [w];
      if (w.values.deleted !== true && (w.entity === series.id || edit.scope === 'following')) {
        const after = { ...series, id: w.entity } as Entity;
        for (const [k, v] of Object.entries(w.values))
          if (v !== null) (after as unknown as Record<string, unknown>)[k] = v;
        if (w.entity === series.id)
          writes.push(...carryOverrides(series, after, overridesOf(set, series.id), x));
        else {
          // "This and following" with a new time: the overrides the new part takes over move
          // with it, shifted as the original start of the occurrence it starts at.
          const at = wallToUtcMs(r, series.timeZone) ?? Number.POSITIVE_INFINITY;
          const later = overridesOf(set, series.id).filter(
            (o) => (wallToUtcMs(o.recurrenceId, series.timeZone) ?? Number.NEGATIVE_INFINITY) >= at,
          );
          const from = { ...series, start: r, end: r } as Entity;
          writes.push(...carryOverrides(from, after, later, x));
        }
      }
      const undo = writes.map((e) => inverse(doc, e));
      await writeAll(doc, writes);
      const [main, ...also] = undo;
      return also.length === 0 ? main! : { ...main!, also };
    },

    exceptions(doc, seriesId) {
      const set = sets.get(doc);
      const s = set?.series.get(seriesId);
      if (set === undefined || s === undefined)
        throw new EngineError('InvalidArgument', `no repeating event ${seriesId}`);
      const skipped: SeriesExceptions['skipped'] = s.exdates.map((r) => ({
        recurrenceId: r,
        by: 'exdate' as const,
      }));
      // Cancelled occurrences (SER-4): a group whose merged Deleted is true.
      const cancelled = new Map<string, boolean>();
      for (const o of overridesOf(set, seriesId).sort((a, b) => (a.id < b.id ? 1 : -1)))
        if (o.set.has(EventField.Deleted)) cancelled.set(o.recurrenceId, o.deleted);
      for (const o of overridesOf(set, seriesId))
        if (o.id === overrideId(o.overrideOf as EntityId, o.recurrenceId) && o.set.has(EventField.Deleted))
          cancelled.set(o.recurrenceId, o.deleted);
      for (const [r, del] of cancelled)
        if (del && !s.exdates.includes(r)) skipped.push({ recurrenceId: r, by: 'cancelled' });
      skipped.sort((a, b) => (a.recurrenceId < b.recurrenceId ? -1 : 1));
      return { extra: [...s.rdates], skipped };
    },

    async restoreOccurrence(doc, seriesId, recurrenceId) {
      const set = sets.get(doc);
      const s = set?.series.get(seriesId);
      if (set === undefined || s === undefined || typeof recurrenceId !== 'string')
        throw new EngineError('InvalidArgument', `no repeating event ${seriesId}`);
      const writes: EntityWrite[] = [];
      if (s.exdates.includes(recurrenceId))
        writes.push({ entity: s.id, values: { exdates: s.exdates.filter((d) => d !== recurrenceId) } });
      for (const o of overridesOf(set, seriesId))
        if (o.recurrenceId === recurrenceId && o.deleted)
          writes.push({ entity: o.id, values: { deleted: false } });
      if (writes.length === 0) throw new EngineError('InvalidArgument', 'that occurrence is not skipped');
      const undo = writes.map((e) => inverse(doc, e));
      await writeAll(doc, writes);
      const [main, ...also] = undo;
      return also.length === 0 ? main! : { ...main!, also };
    },

    async restore(doc, undo) {
      const all = [undo, ...(Array.isArray(undo?.also) ? undo.also : [])];
      for (const u of all)
        if (!isEntityId(u?.entity) || typeof u.values !== 'object' || u.values === null)
          throw new EngineError('InvalidArgument', 'not an undo record');
      await writeAll(
        doc,
        all.map((u) => ({ entity: u.entity as EntityId, values: u.values as FieldValues })),
      );
    },
  };
}

/** The override "This event" at `r` would write, as it is now (SER-8). */
function existingOverride(set: SeriesSet, seriesId: EntityId, r: string): { existing?: Entity } {
  const e = set.overrides.get(overrideId(seriesId, r));
  return e === undefined ? {} : { existing: e };
}
