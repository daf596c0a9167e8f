// Property test for sponsored Adds and sponsor groups (docs/PROTOCOL.md ROLE-11, ROLE-12, ROLE-13):
// three honest replicas (a manager, an editor, a viewer) and a hostile editor H. H sponsors fresh
// keys of its own at random points (from current or stale parents), lets them sponsor more, tries a
// role above its own, removes devices outside its group, forges sponsor proofs (naming another
// member, a box proof as a sponsor proof), and writes; at a random step the manager removes H as a
// person (`removePerson`), racing all of that. H also invites at its role (ROLE-14) and a fresh key
// of its joins by that invite and writes. Deliveries are partial, rotated and duplicated. At
// the end every honest replica agrees on heads, root, members, roles and registers; no hostile
// device is a member; every op H crafted that its role forbade is stored nowhere; and no hostile
// key, handed every op, reads what honest devices wrote after the removal. SPONSOR_RUNS=n for more.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { MembershipKind } from './codec.ts';
import { EngineError } from './errors.ts';
import {
  boxOf,
  type Key,
  keyBytes,
  membershipOp,
  patchOp,
  proofOf,
  pubOf,
  titleOf,
  userView,
} from './hostile.testkit.ts';
import type { DeviceId, DocId, EntityId, OpId } from './ids.ts';
import { openOp } from './op.ts';
import type { Replica } from './replica.ts';
import { Role } from './roles.ts';
import {
  cardOf,
  manualClock,
  openReplica,
  sponsorCardOf,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

const RUNS = Number(process.env['SPONSOR_RUNS'] ?? 6);
const ENTITIES = ['a1', 'b2'].map((p) => p.repeat(16) as EntityId);
const AFTER = 'c3'.repeat(16) as EntityId;
// Replicas: 0 manager, 1 editor, 2 viewer (honest), 3 H (hostile editor).
const H = 3;
const HONEST = [0, 1, 2];

type Act = 'sponsor' | 'chain' | 'above' | 'removeOutside' | 'forge' | 'write' | 'invite';
type Step =
  | { t: 'write'; who: 0 | 1; entity: number; v: number }
  | { t: 'h'; act: Act; stale: boolean; target: 0 | 1 | 2; entity: number }
  | { t: 'deliver'; from: number; to: number; pick: number; dup: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    t: fc.constant('write' as const),
    who: fc.constantFrom(0 as const, 1 as const),
    entity: fc.nat(1),
    v: fc.nat(9),
  }),
  fc.record({
    t: fc.constant('h' as const),
    act: fc.constantFrom<Act>(
      'sponsor',
      'sponsor',
      'chain',
      'above',
      'removeOutside',
      'forge',
      'write',
      'invite',
    ),
    stale: fc.boolean(),
    target: fc.constantFrom(0 as const, 1 as const, 2 as const),
    entity: fc.nat(1),
  }),
  fc.record({
    t: fc.constant('deliver' as const),
    from: fc.nat(3),
    to: fc.nat(3),
    pick: fc.nat(),
    dup: fc.boolean(),
  }),
);

/**
 * Always run first: H sponsors a key the manager then sees, that key sponsors another (seen too),
 * H sponsors once more unseen; the manager removes H as a person; concurrently the key H brought
 * in sponsors again. So every run covers a group the remover sees and a chain it does not.
 */
const h = (act: Act, stale = false): Step => ({ t: 'h', act, stale, target: 1, entity: 0 });
const COVERAGE: Step[] = [
  h('sponsor'),
  h('chain'),
  { t: 'deliver', from: H, to: 0, pick: 0, dup: false },
  h('sponsor'),
  h('sponsor', true),
  h('write'),
  h('chain'),
  h('removeOutside'),
  h('invite'),
  { t: 'deliver', from: 0, to: 1, pick: 3, dup: true },
  h('invite'),
];

async function setup(seed: string) {
  const devs = ['m', 'ed', 'vw', 'hostile'].map((n) => testDevice(`${seed}-${n}`));
  const clock = manualClock();
  const reps = await Promise.all(devs.map((d) => openReplica(d, { clock })));
  const g = await reps[0]!.createCalendar({ name: 'Sponsors' });
  const roles = [Role.Editor, Role.Viewer, Role.Editor];
  for (let i = 1; i < devs.length; i++)
    await reps[0]!.addMember(g.doc, await cardOf(devs[i]!, g.doc), roles[i - 1]!);
  const w = await reps[0]!.write(g.doc, ENTITIES[0]!, [{ field: EventField.Title, value: utf8('start') }]);
  for (const r of reps.slice(1))
    for (const o of await reps[0]!.listOps(g.doc, 0, 1e5)) await r.receive(o.bytes);
  const kid = openOp(w.bytes).keyId!;
  const key: Key = {
    id: Uint8Array.from(Buffer.from(kid, 'hex')),
    key: await keyBytes(reps[0]!, devs[0]!, g.doc, kid),
  };
  return {
    seed,
    devs,
    reps,
    doc: g.doc,
    clock,
    key,
    staleHeads: reps[H]!.heads(g.doc),
    /** Every key H controls: H and each fresh key it made. */
    hostile: [devs[H]!] as TestDevice[],
    removed: false,
  };
}

type World = Awaited<ReturnType<typeof setup>>;

/** Device d's next op in its chain as H's replica holds it, with the given parents. */
async function atH(w: World, d: TestDevice, parents: OpId[]) {
  const ops = await w.reps[H]!.listOps(w.doc, 0, 1e5);
  const mine = ops.filter((o) => o.author === toHex(pubOf(d)));
  const last = mine[mine.length - 1];
  return {
    by: d,
    doc: w.doc,
    ctr: (last?.ctr ?? 0) + 1,
    wallTime: w.clock.nowUs() + 1,
    prev: (last?.id ?? null) as OpId | null,
    parents: parents.filter((p) => p !== last?.id),
  };
}

async function deliver(w: World, from: number, to: number, pick: number, dup: boolean) {
  const ops = await w.reps[from]!.listOps(w.doc, 0, 1e5);
  const k = ops.length === 0 ? 0 : pick % ops.length;
  for (const o of [...ops.slice(k), ...ops.slice(0, k)]) {
    await w.reps[to]!.receive(o.bytes);
    if (dup) await w.reps[to]!.receive(o.bytes);
  }
}

const isMember = (r: Replica, doc: DocId, d: TestDevice) => r.members(doc).has(toHex(pubOf(d)) as DeviceId);

/** A fresh key of H's, named for this world. */
function fresh(w: World): TestDevice {
  const d = testDevice(`${w.seed}-x${w.hostile.length}`);
  w.hostile.push(d);
  return d;
}

/** The sponsored Add body of `x` by `by`, with a proof `proof` (default: x's consent naming `by`). */
async function sponsoredAdd(w: World, by: TestDevice, x: TestDevice, role: Role, proof?: Uint8Array) {
  return {
    kind: MembershipKind.Add,
    subject: pubOf(x),
    subjectBox: boxOf(x),
    boxProof: proof ?? (await sponsorCardOf(x, w.doc, pubOf(by))).proof,
    role,
    sponsored: true,
  } as const;
}

/** H's step: what its replica lets it do, else a crafted op. Returns the crafted bytes, if any. */
async function craftStep(w: World, s: Extract<Step, { t: 'h' }>): Promise<Uint8Array | undefined> {
  const rh = w.reps[H]!;
  const hd = w.devs[H]!;
  const parents = s.stale ? w.staleHeads : rh.heads(w.doc);
  if (s.act === 'sponsor') {
    const x = fresh(w);
    if (!s.stale) {
      try {
        await rh.addMember(w.doc, await sponsorCardOf(x, w.doc, pubOf(hd)), Role.Editor);
        return undefined;
      } catch (e) {
        if (!(e instanceof EngineError)) throw e;
      }
    }
    return membershipOp(await atH(w, hd, parents), await sponsoredAdd(w, hd, x, Role.Editor));
  }
  if (s.act === 'chain') {
    // A key H brought in (a member on H's replica) sponsors another fresh key, at H's heads.
    const by = w.hostile.slice(1).find((d) => isMember(rh, w.doc, d));
    if (by === undefined) return undefined;
    return membershipOp(await atH(w, by, rh.heads(w.doc)), await sponsoredAdd(w, by, fresh(w), Role.Editor));
  }
  if (s.act === 'above')
    return membershipOp(await atH(w, hd, parents), await sponsoredAdd(w, hd, fresh(w), Role.Manager));
  if (s.act === 'removeOutside')
    return membershipOp(await atH(w, hd, parents), {
      kind: MembershipKind.Remove,
      subject: pubOf(w.devs[s.target]!),
    });
  if (s.act === 'forge') {
    const x = fresh(w);
    const proof =
      s.target === 0 ? (await sponsorCardOf(x, w.doc, pubOf(w.devs[0]!))).proof : await proofOf(x, w.doc);
    return membershipOp(await atH(w, hd, parents), await sponsoredAdd(w, hd, x, Role.Editor, proof));
  }
  return patchOp(await atH(w, hd, parents), w.key, 'H was here', ENTITIES[s.entity]!);
}

/**
 * ROLE-14: H invites at its role (on its own replica, while it is a member there); a fresh key of
 * its own joins from H's ops, writes, and hands its ops to H's replica.
 */
async function inviteStep(w: World, entity: number): Promise<void> {
  const rh = w.reps[H]!;
  const tolerate = (e: unknown) => {
    if (!(e instanceof EngineError)) throw e;
  };
  const inv = await rh.createInvite(w.doc, w.clock.nowUs() + 3_600_000_000, Role.Editor).catch(tolerate);
  if (inv === undefined) return;
  const x = fresh(w);
  const rx = await openReplica(x, { clock: w.clock });
  for (const o of await rh.listOps(w.doc, 0, 1e5)) await rx.receive(o.bytes);
  if ((await rx.joinWithInvite(w.doc, inv.op.id, inv.secret).then(() => true, tolerate)) !== true) return;
  await rx
    .write(w.doc, ENTITIES[entity]!, [{ field: EventField.Title, value: utf8('joiner was here') }])
    .catch(tolerate);
  for (const o of await rx.listOps(w.doc, 0, 1e5)) await rh.receive(o.bytes);
}

async function hostileStep(w: World, s: Extract<Step, { t: 'h' }>, forbidden: Set<OpId>) {
  if (s.act === 'invite') return inviteStep(w, s.entity);
  const bytes = await craftStep(w, s);
  if (bytes === undefined) return;
  const res = await w.reps[H]!.receive(bytes);
  if (res.status !== 'rejected') return;
  // Refused by H's own replica from the op's past: every honest replica refuses it alike.
  for (const i of HONEST) {
    const r = await w.reps[i]!.receive(bytes);
    if (r.status !== 'pending')
      expect(r.error?.code, 'a forbidden op is refused alike').toBe(res.error?.code);
  }
  if (res.error?.code === 'NotPermitted' || res.error?.code === 'BadSignature')
    forbidden.add(openOp(bytes).id);
}

async function removeH(w: World) {
  if (w.removed) return;
  w.removed = true;
  await w.reps[0]!.removePerson(w.doc, toHex(pubOf(w.devs[H]!)) as DeviceId);
}

async function run(steps: Step[], removeAt: number, seed: string) {
  const w = await setup(seed);
  const forbidden = new Set<OpId>();
  for (let i = 0; i < steps.length; i++) {
    const s = steps[i]!;
    w.clock.advance(1000);
    if (i === removeAt) await removeH(w);
    if (s.t === 'write') {
      try {
        await w.reps[s.who]!.write(w.doc, ENTITIES[s.entity]!, [
          { field: EventField.Title, value: utf8(`v${s.v}`) },
        ]);
      } catch (e) {
        if (!(e instanceof EngineError) || e.code !== 'NotMember') throw e;
      }
    } else if (s.t === 'h') await hostileStep(w, s, forbidden);
    else if (s.from !== s.to) await deliver(w, s.from, s.to, s.pick, s.dup);
  }
  await removeH(w);
  for (let round = 0; round < 2; round++)
    for (const a of [...HONEST, H])
      for (const b of HONEST) if (a !== b) await deliver(w, a, b, round * 7 + a, round === 1);
  // Honest devices that have seen the removal write.
  for (const i of [0, 1]) {
    w.clock.advance(1000);
    await w.reps[i]!.write(w.doc, AFTER, [{ field: EventField.Title, value: utf8(`after ${i}`) }]);
  }
  for (const a of HONEST) for (const b of HONEST) if (a !== b) await deliver(w, a, b, 0, false);
  check(w);
  for (const i of HONEST)
    expect(
      (await w.reps[i]!.getOps(w.doc, [...forbidden])).every((o) => o === undefined),
      'forbidden stored',
    ).toBe(true);
  // No hostile key, handed every op (a hostile relay), reads what was written after.
  const all = [...(await w.reps[0]!.listOps(w.doc, 0, 1e5)), ...(await w.reps[H]!.listOps(w.doc, 0, 1e5))];
  for (const d of w.hostile) {
    const r = await openReplica(d);
    for (const o of all) await r.receive(o.bytes);
    expect(titleOf(r, w.doc, AFTER), `${d.name} reads after its removal`).toBeUndefined();
  }
  expect(titleOf(w.reps[2]!, w.doc, AFTER)).toBe('after 1');
}

function check(w: World) {
  const views = HONEST.map((i) => userView(w.reps[i]!, w.doc));
  for (const i of HONEST) expect(views[i], `replica ${i} vs 0`).toEqual(views[0]);
  const members = w.reps[0]!.members(w.doc);
  for (const d of w.hostile)
    expect(isMember(w.reps[0]!, w.doc, d), `${d.name} is still a member`).toBe(false);
  expect([...members.keys()].sort()).toEqual(HONEST.map((i) => toHex(pubOf(w.devs[i]!))).sort());
  expect(members.get(toHex(pubOf(w.devs[1]!)) as DeviceId)?.role).toBe(Role.Editor);
  expect(members.get(toHex(pubOf(w.devs[2]!)) as DeviceId)?.role).toBe(Role.Viewer);
}

describe('sponsor groups property', () => {
  it(
    '[ROLE-11][ROLE-12][ROLE-13][ROLE-14][INV-9][MEM-10][MEM-12][CONV-1] a hostile editor sponsoring and inviting its own keys is removed with all of them; honest replicas agree',
    async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(stepArb, { minLength: 4, maxLength: 16 }),
          fc.nat(20),
          fc.nat(),
          async (steps, removeAt, n) => {
            await run(steps, removeAt, `sponsor-${n}`);
          },
        ),
        { numRuns: RUNS, examples: [[COVERAGE, 6, 1]] },
      );
    },
    Math.max(120_000, RUNS * 2000),
  );
});
