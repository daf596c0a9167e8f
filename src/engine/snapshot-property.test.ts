// Property tests for snapshots (docs/PROTOCOL.md SNAP-3, SNAP-5, SNAP-6, SNAP-7) over the
// Byzantine world (byzantine-world.testkit.ts): 5 devices, one hostile; honest writes with skewed
// clocks, removals and role changes by the owner, hostile equivocation and writes from old
// parents, shuffled partial delivery; a snapshot taken by an honest member at a random point.
// Node 3 never acts: it keeps every op, and a fresh install of it starts from the snapshot.
// Default: a CI-sized run; SNAP_RUNS=1000 for a long one.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.ts';
import { createWorld, settle } from './byzantine-world.testkit.ts';
import type { DocId, OpId } from './ids.ts';
import type { Replica } from './replica.ts';
import { visibleState } from './snapshot.testkit.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';
import { HOSTILE, OBSERVER, run, type Step, stepArb } from './snapshot-world.testkit.ts';
import { openReplica } from './testkit.testkit.ts';

const RUNS = Number(process.env['SNAP_RUNS'] ?? 20);
/** How many cases reached each check (printed with SNAP_DEBUG): a property that never gets there proves nothing. */
const stats = { started: 0, whole: 0, conflicts: 0 };
/**
 * SNAP-7's promise, computed on the hash DAG of `r`'s log: the ops outside the frontier's past
 * whose causal past holds the whole frontier and whose every predecessor outside the frontier's
 * past is such an op too (by induction: their whole past after the frontier holds it).
 */
async function promised(
  r: Replica,
  doc: DocId,
  frontier: readonly OpId[],
  covered: Set<OpId>,
): Promise<Set<OpId>> {
  const holds = new Map<OpId, Set<OpId>>();
  const out = new Set<OpId>();
  for (let seq = 0; ; ) {
    const page = await r.listOps(doc, seq, 500);
    if (page.length === 0) break;
    for (const o of page) {
      const preds = o.prev === null ? o.parents : [...o.parents, o.prev];
      const got = new Set<OpId>(frontier.includes(o.id) ? [o.id] : []);
      for (const p of preds) for (const f of holds.get(p) ?? []) got.add(f);
      holds.set(o.id, got);
      if (covered.has(o.id) || !frontier.every((f) => got.has(f))) continue;
      if (preds.every((p) => covered.has(p) || out.has(p))) out.add(o.id);
    }
    seq = page[page.length - 1]!.seq;
  }
  return out;
}

async function property(seed: number, before: Step[], rest: Step[], taker: number): Promise<void> {
  const w = await createWorld({ n: 5, hostile: 1, joiner: false, seed, faults: false });
  const doc = w.doc;
  for (const s of before) await run(w, s);
  const maker = w.nodes[taker]!.replica;
  let plain: Uint8Array;
  try {
    plain = await maker.snapshot(doc);
  } catch (e) {
    // SNAP-3: a maker that cannot read every covered op (removed, or a key not yet here) makes none.
    expect((e as { code?: string }).code).toBe('NoKey');
    return;
  }
  const frontier = decodeSnapshot(plain).frontier;
  for (const s of rest) await run(w, s);
  await settle(w, [seed % 7, 3, 1]);
  // A viewer's write is refused by ROLE-4 (the world's allowed list predates roles).
  expect(w.unexpected.filter((u) => !u.includes('NotPermitted'))).toEqual([]);
  const observer = w.nodes[OBSERVER]!.replica;

  // SNAP-3: every honest replica that reads the whole past computes the same bytes.
  for (const n of w.nodes.filter((x) => x.honest)) {
    let mine: Uint8Array;
    try {
      mine = await n.replica.snapshot(doc, { frontier });
    } catch (e) {
      expect((e as { code?: string }).code).toBe('NoKey');
      continue;
    }
    expect(toHex(mine)).toBe(toHex(plain));
  }

  // SNAP-5: the hostile device's forgery (a register changed) is caught by the observer.
  const s = decodeSnapshot(plain);
  const reg = s.entities.flatMap((e) => e.registers)[0];
  if (reg !== undefined) {
    reg.writes[0]!.value = utf8('forged by the hostile member');
    const v = await observer.verifySnapshot(doc, encodeSnapshot(s), w.nodes[HOSTILE]!.replica.deviceId!);
    expect(v.status).toBe('forged');
  }

  // SNAP-6, SNAP-7: a fresh install of the observer starts from the snapshot, then gets every op.
  const fresh = await openReplica(w.nodes[OBSERVER]!.device);
  await fresh.startFromSnapshot(plain);
  const pool = w.pool.filter((p) => !p.withheld);
  for (let round = 0; round < 6; round++) {
    const order = round % 2 === 0 ? pool : [...pool].reverse();
    for (const p of order) {
      const r = await fresh.receive(p.bytes);
      if (r.status === 'rejected' && r.error?.code === 'Unsupported')
        expect(r.error.message).toContain('SNAP-7');
    }
  }
  const applied = new Set<OpId>();
  for (const o of await fresh.listOps(doc, 0, 100_000)) applied.add(o.id);
  // Every op SNAP-7 promises is applied on the fresh replica...
  const covered = new Set((await pastOps(observer, doc, frontier)).map((o) => o.id));
  for (const id of await promised(observer, doc, frontier, covered)) expect(applied.has(id)).toBe(true);
  // ...and it shows what a replica given exactly the covered ops and those ops shows.
  const twin = await openReplica(w.nodes[OBSERVER]!.device);
  for (const o of await observer.listOps(doc, 0, 100_000))
    if (covered.has(o.id) || applied.has(o.id)) await twin.receive(o.bytes);
  expect(visibleState(fresh, doc)).toEqual(visibleState(twin, doc));
  stats.started++;
  const all = await observer.listOps(doc, 0, 100_000);
  if (all.every((o) => covered.has(o.id) || applied.has(o.id))) {
    expect(visibleState(fresh, doc)).toEqual(visibleState(observer, doc));
    stats.whole++;
  }
  if (fresh.entities(doc).some((e) => e.registers.some((r) => r.writes.length > 1))) stats.conflicts++;
}

async function pastOps(r: Replica, doc: DocId, frontier: readonly OpId[]) {
  const all = new Map((await r.listOps(doc, 0, 100_000)).map((o) => [o.id, o]));
  const seen = new Set<OpId>();
  const stack = [...frontier];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const o = all.get(id)!;
    stack.push(...o.parents, ...(o.prev === null ? [] : [o.prev]));
  }
  return [...seen].map((id) => all.get(id)!);
}

describe('snapshot properties', () => {
  it('[SNAP-3][SNAP-5][SNAP-6][SNAP-7] snapshots are the same everywhere, forgeries are caught, a replica started from one ends like a replica with every op', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(stepArb, { minLength: 3, maxLength: 25 }),
        fc.array(stepArb, { minLength: 0, maxLength: 25 }),
        fc.constantFrom(0, 1, 2),
        property,
      ),
      {
        numRuns: RUNS,
        ...(process.env['SNAP_SEED']
          ? {
              seed: Number(process.env['SNAP_SEED']),
              path: process.env['SNAP_PATH'] ?? '',
              endOnFailure: true,
            }
          : {}),
      },
    );
    if (process.env['SNAP_DEBUG']) console.log(stats);
    expect(stats.started).toBeGreaterThan(RUNS / 4);
  }, 600_000);
});
