// Property tests: replicas that make concurrent edits and deletes and receive each other's ops
// in any order, duplicated and delayed, end in the same state with the same Merkle root.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { createWebCrypto, type SubtleLike } from './crypto.ts';
import type { EntityId, OpId } from './ids.ts';
import { compareWrites, frontier as frontierOf } from './lww.ts';
import { createMemoryStore } from './memory-store.ts';
import { type ApplyResult, Replica } from './replica.ts';
import type { WriteRecord } from './store.ts';
import { deviceKeys, manualClock, testDevice } from './testkit.testkit.ts';

// Native Ed25519 keeps thousands of runs inside CI time (the engine is crypto-agnostic).
const crypto = createWebCrypto(globalThis.crypto.subtle as unknown as SubtleLike);
const ENTITIES = ['a1', 'b2', 'c3'].map((p) => p.repeat(16) as EntityId);
const FIELDS = [EventField.Title, EventField.Location, EventField.Deleted];

type Step =
  | { t: 'write'; who: number; entity: number; field: number; value: number | null; clockJump: number }
  | { t: 'deliver'; to: number; pick: number; dup: boolean };

const stepArb = (n: number): fc.Arbitrary<Step> =>
  fc.oneof(
    fc.record({
      t: fc.constant('write' as const),
      who: fc.nat(n - 1),
      entity: fc.nat(ENTITIES.length - 1),
      field: fc.nat(FIELDS.length - 1),
      value: fc.option(fc.nat(5), { freq: 4 }),
      // Clocks jump forward and back (skewed devices): the engine must still converge.
      clockJump: fc.integer({ min: -5_000_000, max: 5_000_000 }),
    }),
    fc.record({ t: fc.constant('deliver' as const), to: fc.nat(n - 1), pick: fc.nat(), dup: fc.boolean() }),
  );

function valueBytes(field: number, v: number | null): Uint8Array | null {
  if (v === null) return null;
  if (field === EventField.Deleted) return new Uint8Array([v % 2]);
  return utf8(`v${v}`);
}

async function setup(n: number, seed: string) {
  const devices = Array.from({ length: n }, (_, i) => testDevice(`${seed}-dev${i}`));
  const clocks = devices.map((_, i) => manualClock(1_700_000_000_000_000 + i * 1000));
  const replicas = await Promise.all(
    devices.map((d, i) =>
      Replica.open({
        store: createMemoryStore(),
        crypto,
        nowUs: clocks[i]!.nowUs,
        random: d.random,
        device: deviceKeys(d),
      }),
    ),
  );
  const owner = replicas[0]!;
  const g = await owner.createCalendar({ name: 'Shared' });
  for (let i = 1; i < n; i++) {
    await owner.addMember(g.doc, await replicas[i]!.deviceCard(g.doc));
  }
  const setupOps = (await owner.listOps(g.doc, 0, 1000)).map((o) => o.bytes);
  for (const r of replicas.slice(1))
    for (const b of setupOps) expect((await r.receive(b)).status).toBe('applied');
  return { replicas, clocks, doc: g.doc, pool: [...setupOps] };
}

function stateOf(r: Replica, doc: Parameters<Replica['root']>[0]) {
  const ents = r
    .entities(doc)
    .map((e) => ({
      entity: e.entity,
      regs: e.registers.map((g) => ({ f: g.field, w: g.writes.map((w) => [w.op, w.value]) })),
    }))
    .sort((a, b) => (a.entity < b.entity ? -1 : 1));
  return { root: r.root(doc), heads: r.heads(doc), ents, evidence: r.evidence(doc) };
}

async function runScenario(n: number, steps: Step[], order: number[], seed: string) {
  const { replicas, clocks, doc, pool } = await setup(n, seed);
  const written: { id: string; entity: EntityId; field: number }[] = [];
  for (const s of steps) {
    if (s.t === 'write') {
      clocks[s.who]!.advance(s.clockJump);
      const field = FIELDS[s.field]!;
      const op = await replicas[s.who]!.write(doc, ENTITIES[s.entity]!, [
        { field, value: valueBytes(field, s.value) },
      ]);
      pool.push(op.bytes);
      written.push({ id: op.id, entity: ENTITIES[s.entity]!, field });
    } else if (pool.length > 0) {
      const b = pool[s.pick % pool.length]!;
      const r = await replicas[s.to]!.receive(b);
      expect(r.status).not.toBe('rejected');
      if (s.dup) expect(['duplicate', 'pending']).toContain((await replicas[s.to]!.receive(b)).status);
    }
  }
  // Final delivery: every op to every replica, in a shuffled order (causal gating sorts it out).
  // Odd replicas take the ops in batches (one commit per run, DAG-7), even ones one by one.
  for (const [ri, r] of replicas.entries()) {
    const bytes = pool
      .map((b, i) => ({ b, k: order[i % order.length]! * 7919 + i }))
      .sort((x, y) => x.k - y.k)
      .map((x) => x.b);
    const results: ApplyResult[] = [];
    if (ri % 2 === 1) {
      results.push(...(await r.receiveBatch(bytes.slice(0, 7))), ...(await r.receiveBatch(bytes.slice(7))));
    } else {
      for (const b of bytes) results.push(await r.receive(b));
    }
    for (const res of results) expect(res.status, res.error?.message).not.toBe('rejected');
  }
  const states = replicas.map((r) => stateOf(r, doc));
  for (const r of replicas) expect(r.pendingCount()).toBe(0);
  for (const s of states.slice(1)) expect(s).toEqual(states[0]);
  await checkAgainstModel(replicas[0]!, doc, written);
  return { replicas, doc, pool };
}

/**
 * LWW-1 and LWW-4 against a reference model: each register's value is the write greatest by
 * (wall_time, author, op id), and it keeps exactly the writes no other write causally follows.
 */
async function checkAgainstModel(
  r: Replica,
  doc: Parameters<Replica['root']>[0],
  written: { id: string; entity: EntityId; field: number }[],
) {
  const recs = await r.getOps(
    doc,
    written.map((w) => w.id as OpId),
  );
  const byReg = new Map<string, WriteRecord[]>();
  written.forEach((w, i) => {
    const o = recs[i]!;
    const k = `${w.entity}/${w.field}`;
    byReg.set(k, [
      ...(byReg.get(k) ?? []),
      { value: null, wallTime: o.wallTime, author: o.author, ctr: o.ctr, op: o.id, vv: o.vv },
    ]);
  });
  for (const [k, ws] of byReg) {
    const [entity, field] = k.split('/') as [EntityId, string];
    const reg = r.entity(doc, entity)?.registers.find((g) => g.field === Number(field));
    const winner = [...ws].sort((a, b) => compareWrites(b, a))[0]!;
    expect(reg?.writes[0]?.op).toBe(winner.op);
    const frontier = ws
      .filter((w) => !ws.some((o) => o.op !== w.op && (o.vv![w.author] ?? 0) >= w.ctr))
      .map((w) => w.op);
    expect([...(reg === undefined ? [] : frontierOf(reg)).map((w) => w.op)].sort()).toEqual(frontier.sort());
  }
}

describe('convergence', () => {
  it('[CONV-1][LWW-1][LWW-4][DAG-7] 3 to 5 replicas converge to the same events and root under any delivery order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .integer({ min: 3, max: 5 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.array(stepArb(n), { minLength: 1, maxLength: 14 }),
              fc.array(fc.nat(1000), { minLength: 1, maxLength: 40 }),
            ),
          ),
        async ([n, steps, order]) => {
          await runScenario(n, steps, order, 'conv');
        },
      ),
      { numRuns: Number(process.env['CONV_RUNS'] ?? 1000) },
    );
  }, 600_000);

  it('[DAG-1] replaying every op again, in reverse, changes nothing (idempotent replay)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArb(3), { minLength: 4, maxLength: 16 }),
        fc.array(fc.nat(1000), { minLength: 1 }),
        async (steps, order) => {
          const { replicas, doc, pool } = await runScenario(3, steps, order, 'replay');
          const before = replicas.map((r) => stateOf(r, doc));
          for (const r of replicas)
            for (const b of [...pool].reverse()) expect((await r.receive(b)).status).toBe('duplicate');
          expect(replicas.map((r) => stateOf(r, doc))).toEqual(before);
        },
      ),
      { numRuns: 300 },
    );
  }, 600_000);
});
