// Nullable last-writer-wins registers (docs/PROTOCOL.md LWW-*). A register keeps the greatest
// writes by the LWW order, at most MAX_CONCURRENT_WRITES + 1 of them, covered or not: that set is
// a function of the set of writes merged, whatever their order. The value is the greatest write;
// the concurrent frontier (the conflicts the UI shows) is the kept writes no other kept write
// causally follows. A write can only be followed by a greater write (CLK-2), so whether a kept
// write is covered is decided by kept writes alone: merge order never matters (LWW-1, LWW-4,
// LWW-5), even under equivocation, where version vectors cannot tell siblings apart.

import type { RegisterRecord, WriteRecord } from './store.ts';

/** Frontier writes kept per register beyond the winner (LWW-5). */
export const MAX_CONCURRENT_WRITES = 32;

/** Causal depth of a write: the sum of its op's version vector (stored as `depth` when known). */
export function depthOf(w: Pick<WriteRecord, 'vv' | 'depth'>): number {
  if (w.depth !== undefined) return w.depth;
  let s = 0;
  if (w.vv !== undefined) for (const d in w.vv) s += w.vv[d]!;
  return s;
}

/** `a` saw everything `b` saw (version vectors, pointwise). */
function vvCovers(a: Record<string, number>, b: Record<string, number>): boolean {
  for (const d in b) if ((a[d] ?? 0) < b[d]!) return false;
  return true;
}

/**
 * LWW-1: total order by (wall_time, causal depth, author, op id). Positive when a is newer.
 * The depth (sum of the version vector) only matters between equal wall times, which CLK-5
 * allows at the 2^53 ceiling: there a causally later write still orders after (CLK-4).
 */
export function compareWrites(a: WriteRecord, b: WriteRecord): number {
  if (a.wallTime !== b.wallTime) return a.wallTime - b.wallTime;
  const da = depthOf(a);
  const db = depthOf(b);
  if (da !== db) return da - db;
  if (a.author !== b.author) return a.author < b.author ? -1 : 1;
  if (a.op !== b.op) return a.op < b.op ? -1 : 1;
  return 0;
}

/**
 * LWW-4: `a` covers `b` when a is greater and b's (author, ctr) is in a's version vector. Two
 * writes with the same (author, ctr) never cover each other: they are equivocating siblings.
 */
export function covers(a: WriteRecord, b: WriteRecord): boolean {
  if (a.op === b.op || a.vv === undefined) return false;
  if (a.author === b.author && a.ctr === b.ctr) return false;
  return (a.vv[b.author] ?? 0) >= b.ctr && compareWrites(a, b) > 0;
}

/** The register's concurrent frontier: the winner, then the kept writes nothing covers (LWW-4). */
export function frontier(reg: RegisterRecord): WriteRecord[] {
  return reg.writes;
}

/**
 * Merges a write into a register; returns the new register (the input is not modified) or null
 * when nothing changed. The register keeps the greatest MAX_CONCURRENT_WRITES + 1 writes of all
 * writes ever merged (so it depends only on that set): `writes` are those nothing covers (the
 * winner first), `covered` the others, kept because dropping them would make the kept set depend
 * on merge order. A covered write whose every predecessor some kept, uncovered greater write has
 * also seen (a dominated write) can never matter again except for its place in the order, so it
 * is kept without value or version vector (its depth stays): that too depends only on the set.
 */
export function mergeWrite(
  reg: RegisterRecord | undefined,
  w: WriteRecord,
  field: number,
): RegisterRecord | null {
  if (reg === undefined) return { field, writes: [w] };
  const cov = reg.covered ?? [];
  const cap = MAX_CONCURRENT_WRITES + 1;
  const all = cov.length === 0 ? reg.writes : [...reg.writes, ...cov].sort((a, b) => compareWrites(b, a));
  let at = all.length;
  for (let i = 0; i < all.length; i++) {
    const c = compareWrites(w, all[i]!);
    if (c === 0) return null;
    if (c > 0) {
      at = i;
      break;
    }
  }
  if (at >= cap) return null;
  const kept = [...all.slice(0, at), w, ...all.slice(at, cap - 1)];
  const writes: WriteRecord[] = [];
  const covered: WriteRecord[] = [];
  /** Kept writes with their version vector, greatest first. */
  const full: WriteRecord[] = [];
  for (const x of kept) {
    if (x.vv === undefined) {
      covered.push(x);
      continue;
    }
    // Dominated by a greater full write: by transitivity, then also by an undominated one.
    if (full.some((u) => dominates(u, x))) {
      covered.push(compact(x));
      continue;
    }
    full.push(x);
    if (kept.some((o) => covers(o, x))) covered.push(x);
    else writes.push(x);
  }
  return covered.length === 0 ? { field, writes } : { field, writes, covered };
}

/**
 * `u` dominates `x`: u is greater, saw everything x saw, and x had not reached u's ctr for u's
 * author. The last condition excludes an equivocating sibling of x (same author and ctr, which
 * never covers x, LWW-4) and guarantees that every write x covers, u covers too, now or when it
 * arrives later (a write x covers by u's author has a ctr below u's, so it is no sibling of u):
 * dropping x's version vector then changes no frontier, whatever arrives next.
 */
function dominates(u: WriteRecord, x: WriteRecord): boolean {
  return compareWrites(u, x) > 0 && (x.vv![u.author] ?? 0) < u.ctr && vvCovers(u.vv!, x.vv!);
}

function compact(x: WriteRecord): WriteRecord {
  return { value: null, wallTime: x.wallTime, author: x.author, ctr: x.ctr, op: x.op, depth: depthOf(x) };
}
