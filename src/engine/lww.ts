// Nullable last-writer-wins registers (docs/PROTOCOL.md LWW-*). A register keeps the writes
// that no other write causally follows (its concurrent frontier): the greatest by
// (wall_time, author, op id) is the value; the others are the conflicts the UI can show.

import type { RegisterRecord, WriteRecord } from './store.ts';

/** Frontier writes kept per register beyond the winner (LWW-5). */
export const MAX_CONCURRENT_WRITES = 32;

/** LWW-1: total order by (wall_time, author, op id). Positive when a is newer than b. */
export function compareWrites(a: WriteRecord, b: WriteRecord): number {
  if (a.wallTime !== b.wallTime) return a.wallTime - b.wallTime;
  if (a.author !== b.author) return a.author < b.author ? -1 : 1;
  if (a.op !== b.op) return a.op < b.op ? -1 : 1;
  return 0;
}

/** Is `a` in the causal past of the op that carries version vector `vv`? */
const happenedBefore = (a: WriteRecord, vv: Record<string, number>): boolean => (vv[a.author] ?? 0) >= a.ctr;

/**
 * Merges a write into a register; returns the new register (the input is not modified) or null
 * when nothing changed. Order of merges never matters for the winner (LWW-1); the frontier
 * drops writes that another write causally follows (LWW-4).
 */
export function mergeWrite(
  reg: RegisterRecord | undefined,
  w: WriteRecord,
  field: number,
): RegisterRecord | null {
  if (reg === undefined) return { field, writes: [w] };
  const writes = reg.writes;
  for (const m of writes) {
    if (m.op === w.op) return null;
    // A write some kept write already follows (possible when an op is decrypted late).
    if (m.vv !== undefined && happenedBefore(w, m.vv)) return null;
  }
  const kept = writes.filter((m) => !(w.vv !== undefined && happenedBefore(m, w.vv)));
  kept.push(w);
  kept.sort((a, b) => compareWrites(b, a));
  if (kept.length > MAX_CONCURRENT_WRITES + 1) kept.length = MAX_CONCURRENT_WRITES + 1;
  return { field, writes: kept };
}
