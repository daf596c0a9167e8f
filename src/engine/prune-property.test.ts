// Property test for pruning (docs/PROTOCOL.md SNAP-11, SNAP-12) over the Byzantine world
// (byzantine-world.testkit.ts): 5 devices, one hostile. A first phase of random history (honest
// writes with skewed clocks, removals and role changes by the owner, hostile equivocation and
// writes from old parents, shuffled partial delivery) that every device then receives; then the
// pruning phase: snapshots by honest devices at random points, pruning on some replicas and not
// others whenever pruneStatus allows it, device 2 going offline behind the horizon (pruning waits
// for it) and coming back, restarts, role changes, hostile equivocation at its tip. Node 3 never
// prunes; a twin of device 0 (its keys, its own store) receives every op at the end and never
// prunes either. At the end every honest replica, pruned or not, shows on everything a user can
// see what the twin shows, and again after a restart.
// Default: a CI-sized run; PRUNE_RUNS=200 for a long one.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import {
  createWorld,
  deliver,
  ENTITIES,
  FIELDS,
  local,
  type Node,
  publish,
  reopen,
  settle,
  valueFor,
  type World,
} from './byzantine-world.testkit.ts';
import { visibleState } from './snapshot.testkit.ts';
import { openReplica } from './testkit.testkit.ts';

const RUNS = Number(process.env['PRUNE_RUNS'] ?? 8);
/** How many cases reached each check (printed with PRUNE_DEBUG). */
const stats = { cases: 0, prunes: 0, heldBack: 0, offlineWaits: 0, pruned: 0 };
const reasons: string[] = [];
const HOSTILE = 4;
const OFFLINE = 2;

type Step =
  | { t: 'write'; who: number; entity: number; field: number; value: number | null; jump: number }
  | { t: 'remove'; subject: number }
  | { t: 'role'; subject: number; role: number }
  | { t: 'equivocate'; entity: number }
  | { t: 'stale'; entity: number }
  | { t: 'hwrite'; entity: number }
  | { t: 'deliver'; to: number; pick: number; batch: boolean }
  | { t: 'snap'; who: number }
  | { t: 'prune'; who: number; pick: number }
  | { t: 'offline'; on: boolean }
  | { t: 'restart'; who: number }
  | { t: 'certify' };

const who = fc.constantFrom(0, 1, 2, 3);
const write = fc.record({
  t: fc.constant('write' as const),
  who,
  entity: fc.nat(1),
  field: fc.nat(2),
  value: fc.option(fc.nat(5), { freq: 4 }),
  jump: fc.integer({ min: -3_000_000, max: 3_000_000 }),
});
const deliverArb = fc.record({
  t: fc.constant('deliver' as const),
  to: fc.constantFrom(0, 1, 2, 3, HOSTILE),
  pick: fc.nat(),
  batch: fc.boolean(),
});
const role = fc.record({
  t: fc.constant('role' as const),
  subject: fc.constantFrom(1, 2, HOSTILE),
  role: fc.constantFrom(1, 2, 3),
});

/** The first phase: anything the Byzantine world does. */
const historyArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: write },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), subject: fc.constant(HOSTILE) }) },
  { weight: 1, arbitrary: role },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('equivocate' as const), entity: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stale' as const), entity: fc.nat(1) }) },
  { weight: 3, arbitrary: deliverArb },
);

/** The pruning phase. */
const pruningArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: write },
  { weight: 1, arbitrary: role },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('equivocate' as const), entity: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('hwrite' as const), entity: fc.nat(1) }) },
  { weight: 4, arbitrary: deliverArb },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('snap' as const), who }) },
  {
    weight: 3,
    arbitrary: fc.record({ t: fc.constant('prune' as const), who: fc.constantFrom(0, 1, 2), pick: fc.nat() }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('offline' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('restart' as const), who }) },
  { weight: 2, arbitrary: fc.constant({ t: 'certify' as const }) },
);

interface Run {
  w: World;
  snaps: Uint8Array[];
  offline: boolean;
  /** Pool entries of the offline device, held back until it returns. */
  held: number[];
}

const hexBytes = (h: string) => Uint8Array.from(h.match(/../g)!.map((x) => Number.parseInt(x, 16)));

/** Runs `fn`; while device 2 is offline, what it puts in the pool stays with it. */
async function asNode(r: Run, index: number, fn: () => Promise<unknown>): Promise<void> {
  const before = r.w.pool.length;
  await fn();
  if (!(r.offline && index === OFFLINE)) return;
  for (let i = before; i < r.w.pool.length; i++)
    if (!r.w.pool[i]!.withheld) {
      r.w.pool[i]!.withheld = true;
      r.held.push(i);
    }
}

async function step(r: Run, s: Step): Promise<void> {
  const { w } = r;
  const doc = w.doc;
  const node = (i: number): Node => w.nodes[i]!;
  const pub = (i: number) => node(i).replica.deviceId!;
  if (s.t === 'write') {
    const n = node(s.who);
    n.clock.advance(s.jump);
    const entity = ENTITIES[s.entity]!;
    const writes = [{ field: FIELDS[s.field]!, value: valueFor(FIELDS[s.field]!, s.value) }];
    await asNode(r, s.who, () =>
      local(w, n, 'write', (x) => x.write(doc, entity, writes), { entity, writes }),
    );
  } else if (s.t === 'remove') {
    await local(w, node(0), 'remove', (x) => x.removeMember(doc, hexBytes(pub(s.subject))));
  } else if (s.t === 'role') {
    await local(w, node(0), 'role', (x) => x.setRole(doc, hexBytes(pub(s.subject)), s.role as 1 | 2 | 3));
  } else if (s.t === 'equivocate' || s.t === 'stale' || s.t === 'hwrite') {
    const evil = node(HOSTILE).evil!;
    const entity = ENTITIES[s.entity]!;
    const a = [{ field: FIELDS[0]!, value: utf8('evil a') }];
    const made =
      s.t === 'equivocate'
        ? evil.equivocate(entity, a, [{ field: FIELDS[0]!, value: utf8('evil b') }])
        : [evil.patch(entity, a, s.t === 'stale' ? evil.early : evil.tip())].filter((c) => c !== undefined);
    await publish(w, node(HOSTILE), made, false);
  } else if (s.t === 'deliver') {
    if (r.offline && s.to === OFFLINE) return;
    const open = w.pool.filter((p) => !p.withheld);
    const n = 1 + (s.pick % Math.max(1, open.length));
    const from = Math.floor(s.pick / 7) % Math.max(1, open.length);
    const ops = [...open.slice(from), ...open.slice(0, from)].slice(0, n);
    await asNode(r, s.to, () => deliver(w, node(s.to), ops, s.batch));
  } else if (s.t === 'snap') {
    if (r.offline && s.who === OFFLINE) return;
    try {
      r.snaps.push(await node(s.who).replica.snapshot(doc));
    } catch (e) {
      expect((e as { code?: string }).code).toMatch(/NoKey|UnknownDoc/);
    }
  } else if (s.t === 'prune') {
    await tryPrune(r, s.who, s.pick);
  } else if (s.t === 'offline') {
    if (!s.on && r.offline) for (const i of r.held.splice(0)) w.pool[i]!.withheld = false;
    r.offline = s.on;
  } else if (s.t === 'certify') {
    await certify(r);
  } else {
    await reopen(node(s.who));
  }
}

/** Every device that is online catches up, then writes (or the hostile one writes at its tip). */
async function certify(r: Run): Promise<void> {
  const { w } = r;
  const online = [0, 1, 2, 3].filter((i) => !(r.offline && i === OFFLINE));
  for (let round = 0; round < 3; round++)
    for (const i of online) await asNode(r, i, () => deliver(w, w.nodes[i]!, w.pool, round % 2 === 0));
  for (const i of online) await step(r, { t: 'write', who: i, entity: i % 2, field: 1, value: i, jump: 1 });
  await deliver(w, w.nodes[HOSTILE]!, w.pool, true);
  await step(r, { t: 'hwrite', entity: 0 });
  for (const i of online) await asNode(r, i, () => deliver(w, w.nodes[i]!, w.pool, true));
}

/** Prunes node `who` to a snapshot when pruneStatus says so: nothing a user sees changes. */
async function tryPrune(r: Run, who: number, pick: number): Promise<void> {
  if (r.snaps.length === 0) return;
  const doc = r.w.doc;
  const n = r.w.nodes[who]!.replica;
  const plain = r.snaps[pick % r.snaps.length]!;
  const st = await n.pruneStatus(doc, plain);
  if (st.waitingFor.includes(r.w.nodes[OFFLINE]!.replica.deviceId!) && r.offline) stats.offlineWaits++;
  if (!st.ready) {
    stats.heldBack++;
    if (process.env['PRUNE_DEBUG']) reasons.push(st.blocked ?? `waiting for ${st.waitingFor.length}`);
    await expect(n.prune(doc, plain)).rejects.toMatchObject({ code: 'InvalidArgument' });
    return;
  }
  const before = visibleState(n, doc);
  const deleted = await n.prune(doc, plain);
  expect(deleted).toBe(st.prunable);
  expect(visibleState(n, doc)).toEqual(before);
  stats.prunes++;
  stats.pruned += deleted;
}

async function property(seed: number, history: Step[], pruning: Step[]): Promise<void> {
  const w = await createWorld({ n: 5, hostile: 1, joiner: false, seed, faults: false });
  const r: Run = { w, snaps: [], offline: false, held: [] };
  for (const s of history) await step(r, s);
  // Every op of the first phase reaches everyone (a hostile fork a pruner has not seen is SNAP-12's stated limit).
  await settle(w, [seed % 5, 2, 1]);
  for (const s of pruning) await step(r, s);
  await step(r, { t: 'offline', on: false });
  await settle(w, [seed % 7, 3, 1]);
  // A snapshot once everyone is caught up; every member certifies it (the hostile one too, after
  // it is given everything); then some replicas prune to it, others keep every op.
  await step(r, { t: 'snap', who: seed % 3 });
  for (const i of [0, 1, 2, 3]) await step(r, { t: 'write', who: i, entity: 0, field: 1, value: i, jump: 1 });
  await deliver(w, w.nodes[HOSTILE]!, w.pool, true);
  await step(r, { t: 'hwrite', entity: 1 });
  await settle(w, [seed % 3, 1]);
  for (const i of [0, 1, 2])
    if (((seed >> i) & 1) === 1 || i === seed % 3) await tryPrune(r, i, r.snaps.length - 1);
  await step(r, { t: 'write', who: 1, entity: 1, field: 0, value: 3, jump: 1 });
  await settle(w, [1, 2]);
  expect(w.unexpected.filter((u) => !u.includes('NotPermitted'))).toEqual([]);
  const twin = await openReplica(w.nodes[0]!.device);
  const pool = w.pool.filter((p) => !p.withheld);
  for (let round = 0; round < 4; round++)
    for (const p of round % 2 === 0 ? pool : [...pool].reverse()) await twin.receive(p.bytes);
  const full = visibleState(twin, w.doc);
  for (const i of [0, 1, 2, 3]) {
    expect(visibleState(w.nodes[i]!.replica, w.doc)).toEqual(full);
    await reopen(w.nodes[i]!);
    expect(visibleState(w.nodes[i]!.replica, w.doc)).toEqual(full);
  }
  stats.cases++;
}

describe('pruning properties', () => {
  it('[SNAP-11][SNAP-12] pruning on some replicas and not others, offline devices behind the horizon, restarts: every honest replica ends like one that kept every op', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.array(historyArb, { minLength: 3, maxLength: 20 }),
        fc.array(pruningArb, { minLength: 5, maxLength: 40 }),
        property,
      ),
      {
        numRuns: RUNS,
        ...(process.env['PRUNE_SEED']
          ? {
              seed: Number(process.env['PRUNE_SEED']),
              path: process.env['PRUNE_PATH'] ?? '',
              endOnFailure: true,
            }
          : {}),
      },
    );
    if (process.env['PRUNE_DEBUG']) console.log(stats, reasons.slice(0, 30));
    expect(stats.cases).toBe(RUNS);
    expect(stats.prunes).toBeGreaterThan(0);
  }, 600_000);
});
