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

const vvSum = (w: WriteRecord): number => {
  let s = 0;
  if (w.vv !== undefined) for (const d in w.vv) s += w.vv[d]!;
  return s;
};

/**
 * LWW-1: total order by (wall_time, causal depth, author, op id). Positive when a is newer.
 * The depth (sum of the version vector) only matters between equal wall times, which CLK-5
 * allows at the 2^53 ceiling: there a causally later write still orders after (CLK-4).
 */
export function compareWrites(a: WriteRecord, b: WriteRecord): number {
  if (a.wallTime !== b.wallTime) return a.wallTime - b.wallTime;
  const da = vvSum(a);
  const db = vvSum(b);
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
 * on merge order.
 */
export function mergeWrite(
  reg: RegisterRecord | undefined,
  w: WriteRecord,
  field: number,
): RegisterRecord | null {
  if (reg === undefined) return { field, writes: [w] };
  const all = reg.covered === undefined ? reg.writes : [...reg.writes, ...reg.covered];
  const cap = MAX_CONCURRENT_WRITES + 1;
  for (const m of all) if (m.op === w.op) return null;
  const kept = [...all, w].sort((a, b) => compareWrites(b, a));
  if (kept.length > cap) {
    if (kept[cap] === w) return null;
    kept.length = cap;
  }
  const writes: WriteRecord[] = [];
  const covered: WriteRecord[] = [];
  for (const x of kept) (kept.some((o) => covers(o, x)) ? covered : writes).push(x);
  return covered.length === 0 ? { field, writes } : { field, writes, covered };
}
