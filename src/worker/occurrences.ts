// Series, splits and overrides of one calendar assembled into the occurrences a range shows
// (docs/PROTOCOL.md SER-1..7). Pure: entity views in, occurrence views out; expansion is the
// injected Expander (recur.ts). The same code serves the replica's index and the span index.

import { Temporal } from 'temporal-polyfill';
import { canonicalWall, type EntityId, EventField, type EventValues, overrideId } from '../engine/index.ts';
import type { Expander, Occurrence } from './recur.ts';
import { wallToUtcMs } from './time.ts';

/** An entity of the calendar as assembly needs it: its values and which registers are set. */
export interface Entity extends EventValues {
  id: EntityId;
  /** Field numbers set on the entity (an override's own fields, SER-3). */
  set: ReadonlySet<number>;
}

export interface AssembledOccurrence {
  /** The series the occurrence belongs to (after splits, SER-5/6). */
  seriesId: EntityId;
  /** Its original start (SER-2). */
  recurrenceId: string;
  /** The id it is shown with (occurrenceId), or a lone override's own id. */
  id: EntityId;
  /** The override entity applied, if any (the one a conflict report comes from). */
  override?: Entity;
  /** The override no longer matches an occurrence of the rule (SER-6). */
  detached: boolean;
  fields: EventValues;
  /** Where it is shown: fields.start and fields.end (read without building fields). */
  start: string;
  end: string;
  startMs: number;
  endMs: number;
}

export const isSeries = (e: EventValues): boolean =>
  e.rrule !== '' || e.rdates.length > 0 || e.splitOf !== '';
export const isOverride = (e: EventValues): boolean => e.overrideOf !== '' && e.recurrenceId !== '';

/** Fields an override may change for its occurrence (linkage and recurrence stay the series'). */
const OVERRIDABLE: readonly (keyof EventValues)[] = [
  'title',
  'start',
  'end',
  'allDay',
  'timeZone',
  'location',
  'notes',
  'alarms',
  'deleted',
];
const NUM: Record<string, number> = {
  title: EventField.Title,
  start: EventField.Start,
  end: EventField.End,
  allDay: EventField.AllDay,
  timeZone: EventField.TimeZone,
  location: EventField.Location,
  notes: EventField.Notes,
  alarms: EventField.Alarms,
  deleted: EventField.Deleted,
};

/**
 * The series and overrides of one calendar. Deleted series are kept: a deleted split still
 * bounds its parent (SER-5, SER-7).
 */
export class SeriesSet {
  readonly series = new Map<EntityId, Entity>();
  readonly overrides = new Map<EntityId, Entity>();

  /** Files an entity under series or overrides (or neither); true when it is one of them. */
  put(e: Entity): boolean {
    this.remove(e.id);
    if (isOverride(e)) this.overrides.set(e.id, e);
    else if (isSeries(e)) this.series.set(e.id, e);
    else return false;
    return true;
  }

  remove(id: EntityId): void {
    this.series.delete(id);
    this.overrides.delete(id);
  }

  get size(): number {
    return this.series.size + this.overrides.size;
  }
}

/** Split children of each series, by split instant (in the parent's zone), ascending. */
function splitsOf(set: SeriesSet): Map<EntityId, { at: number; child: Entity }[]> {
  const out = new Map<EntityId, { at: number; child: Entity }[]>();
  for (const c of set.series.values()) {
    if (c.splitOf === '' || c.recurrenceId === '') continue;
    const parent = set.series.get(c.splitOf as EntityId);
    const at = wallToUtcMs(c.recurrenceId, parent?.timeZone ?? c.timeZone);
    if (at === undefined) continue;
    const list = out.get(c.splitOf as EntityId) ?? [];
    list.push({ at, child: c });
    out.set(c.splitOf as EntityId, list);
  }
  for (const l of out.values()) l.sort((a, b) => a.at - b.at || (a.child.id < b.child.id ? -1 : 1));
  return out;
}

/**
 * SER-5: a series ends before its first split point, and its part of the timeline ends where
 * its parent's does: before its next sibling's split point, and so on up (so a split of a split
 * made concurrently with a later split of the parent does not run on past it).
 */
function boundOf(s: Entity, splits: Map<EntityId, { at: number; child: Entity }[]>, set: SeriesSet): number {
  let bound = splits.get(s.id)?.[0]?.at ?? Infinity;
  let cur = s;
  for (let depth = 0; depth < 64 && cur.splitOf !== ''; depth++) {
    const siblings = splits.get(cur.splitOf as EntityId) ?? [];
    const next = siblings[siblings.findIndex((x) => x.child.id === cur.id) + 1];
    if (next !== undefined) bound = Math.min(bound, next.at);
    const parent = set.series.get(cur.splitOf as EntityId);
    if (parent === undefined) break;
    cur = parent;
  }
  return bound;
}

/** SER-6: the series whose part of the timeline holds `r` (an original start of `s`). */
function covering(s: Entity, r: string, splits: Map<EntityId, { at: number; child: Entity }[]>): Entity {
  let cur = s;
  for (let depth = 0; depth < 64; depth++) {
    const at = wallToUtcMs(r, cur.timeZone);
    const list = splits.get(cur.id);
    if (at === undefined || list === undefined) return cur;
    let next: Entity | undefined;
    for (const x of list) if (x.at <= at) next = x.child;
    if (next === undefined) return cur;
    cur = next;
  }
  return cur;
}

/**
 * The series `s` was split from, and so on up (the root: the whole timeline its splits
 * partition), and how many splits down from it `s` is.
 */
function ancestry(s: Entity, set: SeriesSet): { root: Entity; depth: number } {
  let cur = s;
  let depth = 0;
  for (; depth < 64 && cur.splitOf !== ''; depth++) {
    const parent = set.series.get(cur.splitOf as EntityId);
    if (parent === undefined) break;
    cur = parent;
  }
  return { root: cur, depth };
}

const rootOf = (s: Entity, set: SeriesSet): Entity => ancestry(s, set).root;

interface Group {
  series: Entity;
  r: string;
  /** Overrides from the outermost series inward; each later one wins field by field. */
  layers: Entity[];
}

/**
 * SER-2: several overrides of one occurrence of one series are layered field by field: the one
 * with the derived id on top, then by increasing id (the smallest wins among the others). So an
 * override carried to another occurrence by SER-8 (it keeps its id) and one written later at the
 * derived id both apply.
 */
function layered(list: Entity[], derived: EntityId): Entity[] {
  return [...list].sort((a, b) => {
    if (a.id === derived || b.id === derived) return a.id === derived ? 1 : -1;
    return a.id < b.id ? 1 : -1;
  });
}

/** Each override's series as assembly places it: the split covering its RecurrenceId (SER-6). */
function placed(set: SeriesSet, splits: Map<EntityId, { at: number; child: Entity }[]>) {
  const out: { o: Entity; owner: Entity | undefined; c: Entity | undefined }[] = [];
  for (const o of set.overrides.values()) {
    const owner = set.series.get(o.overrideOf as EntityId);
    out.push({ o, owner, c: owner && covering(rootOf(owner, set), o.recurrenceId, splits) });
  }
  return out;
}

/** The overrides that apply to occurrences of series `id` itself (SER-6: not a split's part). */
export function overridesOf(set: SeriesSet, id: EntityId): Entity[] {
  return placed(set, splitsOf(set))
    .filter((x) => x.c?.id === id)
    .map((x) => x.o);
}

/**
 * SER-2's order between overrides of different series claiming one occurrence (after splits):
 * an override of the series that now covers it last (it wins), before it the others by how far
 * down the split tree their series is, then by their series' split point, then series id. A
 * total order on what every replica holds, never on what arrived first.
 */
function ownerOrder(a: Entity, b: Entity, c: Entity, set: SeriesSet): number {
  if ((a.id === c.id) !== (b.id === c.id)) return a.id === c.id ? 1 : -1;
  const ga = ancestry(a, set).depth;
  const gb = ancestry(b, set).depth;
  if (ga !== gb) return ga - gb;
  if (a.recurrenceId !== b.recurrenceId) return a.recurrenceId < b.recurrenceId ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function groupOverrides(
  set: SeriesSet,
  splits: Map<EntityId, { at: number; child: Entity }[]>,
): Map<string, Group> {
  const claims = new Map<string, Entity[]>();
  for (const o of set.overrides.values()) {
    const key = `${o.overrideOf}|${o.recurrenceId}`;
    const list = claims.get(key);
    if (list) list.push(o);
    else claims.set(key, [o]);
  }
  const groups = new Map<string, Group & { owners: Entity[] }>();
  for (const list of claims.values()) {
    const first = list[0]!;
    const owner = set.series.get(first.overrideOf as EntityId);
    if (owner === undefined) {
      // The series is not here (not yet decrypted, or never written): shown alone (SER-6).
      const stack = layered(list, overrideId(first.overrideOf as EntityId, first.recurrenceId));
      const top = stack[stack.length - 1]!;
      const lone = { ...top, overrideOf: '', rrule: '', rdates: [], exdates: [], splitOf: '' } as Entity;
      groups.set(`lone|${top.id}`, { series: lone, r: top.recurrenceId, layers: stack, owners: [] });
      continue;
    }
    // Placed from the root of the series' timeline, so a concurrent split of an ancestor at or
    // before the RecurrenceId takes the occurrence over (SER-6), as it would from the series.
    const c = covering(rootOf(owner, set), first.recurrenceId, splits);
    const key = `${c.id}|${first.recurrenceId}`;
    const g = groups.get(key) ?? { series: c, r: first.recurrenceId, layers: [], owners: [] };
    g.owners.push(owner);
    groups.set(key, g);
  }
  // Each group's layers: its claims in ownerOrder, each claim's own overrides layered within it.
  for (const g of groups.values()) {
    if (g.owners.length === 0) continue;
    const owners = [...g.owners].sort((a, b) => ownerOrder(a, b, g.series, set));
    g.layers = owners.flatMap((owner) => {
      const list = claims.get(`${owner.id}|${g.r}`)!;
      return layered(list, overrideId(owner.id, g.r));
    });
  }
  return groups;
}

function merge(base: EventValues, layers: Entity[]): EventValues {
  const out = { ...base, deleted: false } as Record<string, unknown>;
  for (const o of layers)
    for (const k of OVERRIDABLE)
      if (o.set.has(NUM[k]!)) out[k] = (o as unknown as Record<string, unknown>)[k];
  return out as unknown as EventValues;
}

function overlaps(startMs: number, endMs: number, fromMs: number, toMs: number): boolean {
  return startMs < toMs && (endMs > fromMs || (endMs <= startMs && startMs >= fromMs));
}

/** An override group as assembly places it: its series' part, original start, and layers. */
export interface PlacedOverrides {
  series: Entity;
  recurrenceId: string;
  /** Bottom to top: each later one wins field by field (SER-2, SER-6). */
  layers: Entity[];
}

/**
 * The calendar's timeline as assembly sees it, for export: where each series' part ends
 * (SER-5, ms; Infinity when it runs on) and each occurrence's overrides with their layers.
 * Groups whose series is not here are left out.
 */
export function timeline(set: SeriesSet): { bounds: Map<EntityId, number>; groups: PlacedOverrides[] } {
  const splits = splitsOf(set);
  const bounds = new Map<EntityId, number>();
  for (const s of set.series.values()) bounds.set(s.id, boundOf(s, splits, set));
  const groups: PlacedOverrides[] = [];
  for (const g of groupOverrides(set, splits).values())
    if (set.series.has(g.series.id)) groups.push({ series: g.series, recurrenceId: g.r, layers: g.layers });
  return { bounds, groups };
}

/** Every occurrence of the calendar's series that overlaps [fromMs, toMs). */
export function assemble(
  set: SeriesSet,
  expand: Expander,
  fromMs: number,
  toMs: number,
): AssembledOccurrence[] {
  const out: AssembledOccurrence[] = [];
  eachAssembled(
    set,
    expand,
    fromMs,
    toMs,
    (s, o) => out.push(cachedPlain(s, o)),
    (a) => out.push(a),
  );
  return out;
}
const cachedPlain = (s: Entity, o: Occurrence): AssembledOccurrence => plain(plainsOf(s), s, o);

/**
 * assemble's occurrences, each handed to the caller as it comes: `plain(s, o)` for an occurrence
 * `o` of series `s` without an override (most), `overridden(a)` for the others (assembled). A
 * host's draw makes views at once or places them (series-host.ts, month-host.ts), with no
 * assembled object per occurrence and no list in between. With `run`, a series without overrides
 * hands over its whole list at once instead: `run(s, list, n)`, the first `n` being its plain
 * occurrences (the same ones, in the same order; a month draw then adds ~6,000 from one loop).
 */
export function eachAssembled(
  set: SeriesSet,
  expand: Expander,
  fromMs: number,
  toMs: number,
  plain: (s: Entity, o: Occurrence) => void,
  overridden: (a: AssembledOccurrence) => void,
  run?: (s: Entity, list: readonly Occurrence[], n: number) => void,
): void {
  if (set.size === 0) return;
  const splits = splitsOf(set);
  const groups = groupOverrides(set, splits);
  const withOverrides = new Set<EntityId>();
  for (const g of groups.values()) withOverrides.add(g.series.id);
  for (const s of set.series.values()) {
    if (s.deleted) continue;
    const bound = boundOf(s, splits, set);
    const check = withOverrides.has(s.id);
    const list = expand(s).between(fromMs, toMs);
    if (run !== undefined && !check) {
      // Occurrences come in start order: the plain ones are those before the series' bound.
      let n = list.length;
      while (n > 0 && list[n - 1]!.startMs >= bound) n--;
      if (n > 0) run(s, list, n);
      continue;
    }
    // Indexed, not for-of: until this is optimized, for-of runs the iterator protocol per
    // occurrence, and a first draw runs it ~7,000 times from cold.
    for (let i = 0; i < list.length; i++) {
      const o = list[i]!;
      if (o.startMs >= bound || (check && groups.has(`${s.id}|${o.recurrenceId}`))) continue;
      plain(s, o);
    }
  }
  for (const g of groups.values()) {
    const a = overriddenOf(g, expand, splits, set);
    if (a && overlaps(a.startMs, a.endMs, fromMs, toMs)) overridden(a);
  }
}

/**
 * The id an occurrence is shown with: a 128-bit handle of (series, original start) by a fast
 * non-cryptographic hash, the same for the occurrence whether or not it has an override, so it
 * stays put when the occurrence is edited. The host maps it back to (series, original start);
 * the entity an edit writes is the derived override id (SER-2). Hashing SHA-256 for each of the
 * ~7,000 occurrences of a month of 500 series cost more than the whole draw (measured).
 */
export function occurrenceId(series: EntityId, r: string): EntityId {
  // cyrb128 (public domain) of `${series}|${r}`: four 32-bit lanes. The lanes after the series'
  // part are the same for all its occurrences: kept per series, only `r` is hashed here.
  let lanes = seriesLanes.get(series);
  if (lanes === undefined) {
    lanes = [1779033703, 3144134277, 1013904242, 2773480762];
    cyrbSteps(lanes, `${series}|`);
    if (seriesLanes.size >= 10_000) seriesLanes.clear();
    seriesLanes.set(series, lanes);
  }
  // The steps of cyrbSteps over `r`, here on locals (no lanes array written and read back per
  // occurrence: a first month draw runs this ~7,000 times, mostly unoptimised).
  // Math.imul read once into a local: unoptimised, each `Math.imul` is a global and a property
  // lookup before the call, 68 of each per id.
  const imul = Math.imul;
  let h1 = lanes[0]!;
  let h2 = lanes[1]!;
  let h3 = lanes[2]!;
  let h4 = lanes[3]!;
  for (let i = 0; i < r.length; i++) {
    const k = r.charCodeAt(i);
    h1 = h2 ^ imul(h1 ^ k, 597399067);
    h2 = h3 ^ imul(h2 ^ k, 2869860233);
    h3 = h4 ^ imul(h3 ^ k, 951274213);
    h4 = h1 ^ imul(h4 ^ k, 2716044179);
  }
  h1 = imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return hex128(h1, h2, h3, h4) as EntityId;
}

/**
 * The big-endian hex digits of four 32-bit lanes, as one flat string made by one call: not added
 * up (`a + b` makes a rope, a ConsString, that V8 compares and hashes through a runtime call each
 * time, and sorting a month's views by time compares ids thousands of times), and not through an
 * array of codes and `apply` (a loop per lane and a spread of 32 arguments per id, which cold
 * code runs slowly).
 */
function hex128(a: number, b: number, c: number, d: number): string {
  const x = HEX_CODES;
  return String.fromCharCode(
    x[a >>> 28]!,
    x[(a >>> 24) & 15]!,
    x[(a >>> 20) & 15]!,
    x[(a >>> 16) & 15]!,
    x[(a >>> 12) & 15]!,
    x[(a >>> 8) & 15]!,
    x[(a >>> 4) & 15]!,
    x[a & 15]!,
    x[b >>> 28]!,
    x[(b >>> 24) & 15]!,
    x[(b >>> 20) & 15]!,
    x[(b >>> 16) & 15]!,
    x[(b >>> 12) & 15]!,
    x[(b >>> 8) & 15]!,
    x[(b >>> 4) & 15]!,
    x[b & 15]!,
    x[c >>> 28]!,
    x[(c >>> 24) & 15]!,
    x[(c >>> 20) & 15]!,
    x[(c >>> 16) & 15]!,
    x[(c >>> 12) & 15]!,
    x[(c >>> 8) & 15]!,
    x[(c >>> 4) & 15]!,
    x[c & 15]!,
    x[d >>> 28]!,
    x[(d >>> 24) & 15]!,
    x[(d >>> 20) & 15]!,
    x[(d >>> 16) & 15]!,
    x[(d >>> 12) & 15]!,
    x[(d >>> 8) & 15]!,
    x[(d >>> 4) & 15]!,
    x[d & 15]!,
  );
}

/** cyrb128's lanes after the prefix `${series}|`, per series id. */
const seriesLanes = new Map<string, number[]>();

function cyrbSteps(lanes: number[], text: string): void {
  let h1 = lanes[0]!;
  let h2 = lanes[1]!;
  let h3 = lanes[2]!;
  let h4 = lanes[3]!;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  lanes[0] = h1;
  lanes[1] = h2;
  lanes[2] = h3;
  lanes[3] = h4;
}

const HEX_CODES = Array.from({ length: 16 }, (_, i) => i.toString(16).charCodeAt(0));

/**
 * Assembled occurrences per series entity object, by the expansion's occurrence object: redrawing
 * a range whose series did not change builds nothing (the entity object is replaced on any change,
 * and its cache goes with it). One WeakMap entry per series and a plain Map inside, not a WeakMap
 * entry per occurrence: thousands of weak entries per month drawn made the garbage collector a
 * large part of a first month draw (measured in Chromium and Node).
 */
const plainCache = new WeakMap<Entity, Map<Occurrence, AssembledOccurrence>>();
/** Occurrences kept per series before its cache starts over (a month of a daily series is ~45). */
const MAX_PLAIN_PER_SERIES = 4000;

function plainsOf(s: Entity): Map<Occurrence, AssembledOccurrence> {
  let m = plainCache.get(s);
  if (m === undefined) {
    m = new Map();
    plainCache.set(s, m);
  }
  return m;
}

function plain(m: Map<Occurrence, AssembledOccurrence>, s: Entity, o: Occurrence): AssembledOccurrence {
  let a = m.get(o);
  if (a === undefined) {
    if (m.size >= MAX_PLAIN_PER_SERIES) m.clear();
    a = makePlain(s, o);
    m.set(o, a);
  }
  return a;
}

function makePlain(s: Entity, o: Occurrence): AssembledOccurrence {
  return new PlainOccurrence(s, o);
}

/**
 * An occurrence without an override. Its fields (the series' with its own Start and End, ~20
 * values) are copied when first read: a draw reads only what the view shows (start, end), and
 * the copy of every occurrence of a month was a fifth of what a first draw allocated and kept.
 */
export class PlainOccurrence implements AssembledOccurrence {
  readonly seriesId: EntityId;
  readonly recurrenceId: string;
  readonly id: EntityId;
  readonly detached = false;
  readonly start: string;
  readonly end: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly #series: Entity;
  #fields: EventValues | undefined;

  constructor(s: Entity, o: Occurrence) {
    this.seriesId = s.id;
    this.recurrenceId = o.recurrenceId;
    this.id = occurrenceId(s.id, o.recurrenceId);
    this.start = o.start;
    this.end = o.end;
    this.startMs = o.startMs;
    this.endMs = o.endMs;
    this.#series = s;
  }

  get fields(): EventValues {
    this.#fields ??= { ...this.#series, start: this.start, end: this.end, deleted: false };
    return this.#fields;
  }

  /** As JSON, what an object with the same fields shows. */
  toJSON(): Record<string, unknown> {
    const { seriesId, recurrenceId, id, detached, fields, start, end, startMs, endMs } = this;
    return { seriesId, recurrenceId, id, detached, fields, start, end, startMs, endMs };
  }
}

/** One overridden occurrence: its merged fields and where it is shown; undefined when hidden. */
function overriddenOf(
  g: Group,
  expand: Expander,
  splits: Map<EntityId, { at: number; child: Entity }[]>,
  set: SeriesSet,
): AssembledOccurrence | undefined {
  const s = g.series;
  if (s.deleted) return undefined;
  const f = merge(s, g.layers);
  if (f.deleted) return undefined;
  const bound = set.series.has(s.id) ? boundOf(s, splits, set) : Infinity;
  const occ = s.start === '' ? undefined : expand(s).at(g.r);
  const matched = occ !== undefined && occ.startMs < bound;
  const top = g.layers[g.layers.length - 1]!;
  const ownStart = g.layers.some((l) => l.set.has(EventField.Start));
  const ownEnd = g.layers.some((l) => l.set.has(EventField.End));
  // Shown at its own Start/End, else at the occurrence's (or its RecurrenceId) with the
  // occurrence's (or the series') length.
  const startWall = ownStart ? f.start : (occ?.start ?? g.r);
  const startMs = wallToUtcMs(startWall, f.timeZone) ?? occ?.startMs ?? 0;
  let endWall: string;
  let endMs: number;
  if (ownEnd) {
    endWall = f.end;
    endMs = wallToUtcMs(f.end, f.timeZone) ?? startMs;
  } else if (f.allDay) {
    endWall = addDays(startWall, daysOf(s));
    endMs = wallToUtcMs(endWall, f.timeZone) ?? startMs;
  } else {
    endMs = startMs + (occ ? occ.endMs - occ.startMs : durationMs(s));
    endWall = wallAt(endMs, f.timeZone);
  }
  return {
    seriesId: s.id,
    recurrenceId: g.r,
    id: set.series.has(s.id) ? occurrenceId(s.id, g.r) : top.id,
    override: top,
    detached: !matched,
    fields: { ...f, start: startWall, end: endWall },
    start: startWall,
    end: endWall,
    startMs,
    endMs: Math.max(endMs, startMs),
  };
}

function daysOf(s: EventValues): number {
  try {
    return Math.max(0, Temporal.PlainDate.from(s.start.slice(0, 10)).until(s.end.slice(0, 10)).days);
  } catch {
    return 1;
  }
}

function addDays(date: string, days: number): string {
  try {
    return Temporal.PlainDate.from(date.slice(0, 10)).add({ days }).toString();
  } catch {
    return date;
  }
}

function wallAt(ms: number, zone: string): string {
  try {
    const s = Temporal.Instant.fromEpochMilliseconds(ms)
      .toZonedDateTimeISO(zone)
      .toPlainDateTime()
      .toString();
    return canonicalWall(s.slice(0, 19)) ?? s;
  } catch {
    return '';
  }
}

function durationMs(s: EventValues): number {
  const a = wallToUtcMs(s.start, s.timeZone);
  const b = wallToUtcMs(s.end, s.timeZone);
  return a === undefined || b === undefined ? 0 : Math.max(0, b - a);
}
