// Property test for roles (docs/PROTOCOL.md ROLE-*): four honest replicas (two managers, an editor,
// a viewer) and a hostile member H, a manager until an honest manager makes it a viewer. H acts
// on what its replica has seen (adds a device, invites, promotes, demotes managers, writes) and
// also crafts what honest code refuses (writes as a viewer, adds as a non-manager), from current
// or stale parents. Deliveries are partial, shuffled and duplicated. At the end every honest
// replica agrees with every other on heads, root, members, roles and registers; H's device
// never got in, H wins no register, and every op H crafted that its role forbade is stored
// nowhere. Default runs are few and short; ROLES_RUNS=n runs more.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { MembershipKind } from './codec.ts';
import { createWebCrypto, type SubtleLike } from './crypto.ts';
import { EngineError } from './errors.ts';
import { type Key, keyBytes, membershipOp, patchOp, proofOf, pubOf, userView } from './hostile.testkit.ts';
import type { DeviceId, EntityId, OpId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import { openOp } from './op.ts';
import { Replica } from './replica.ts';
import { type MemberRole, Role } from './roles.ts';
import { cardOf, deviceKeys, manualClock, testDevice } from './testkit.testkit.ts';

const crypto = createWebCrypto(globalThis.crypto.subtle as unknown as SubtleLike);
const RUNS = Number(process.env['ROLES_RUNS'] ?? 8);
const ENTITIES = ['a1', 'b2'].map((p) => p.repeat(16) as EntityId);
// Replicas: 0 manager, 1 manager, 2 editor, 3 viewer (honest), 4 H (hostile).
const H = 4;
const HONEST = [0, 1, 2, 3];

type Step =
  | { t: 'write'; who: number; entity: number; v: number }
  | { t: 'setRole'; who: 0 | 1; target: 2 | 3; role: MemberRole }
  | { t: 'remove'; who: 0 | 1; target: 2 | 3 }
  | {
      t: 'h';
      act: 'write' | 'add' | 'invite' | 'promote' | 'demote';
      stale: boolean;
      target: 0 | 1;
      entity: number;
    }
  | { t: 'deliver'; from: number; to: number; pick: number; dup: boolean };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    t: fc.constant('write' as const),
    who: fc.constantFrom(0, 1, 2, 3),
    entity: fc.nat(1),
    v: fc.nat(9),
  }),
  fc.record({
    t: fc.constant('setRole' as const),
    who: fc.constantFrom(0 as const, 1 as const),
    target: fc.constantFrom(2 as const, 3 as const),
    role: fc.constantFrom<MemberRole>(Role.Viewer, Role.Editor, Role.Manager),
  }),
  fc.record({
    t: fc.constant('remove' as const),
    who: fc.constantFrom(0 as const, 1 as const),
    target: fc.constantFrom(2 as const, 3 as const),
  }),
  fc.record({
    t: fc.constant('h' as const),
    act: fc.constantFrom(
      'write' as const,
      'add' as const,
      'invite' as const,
      'promote' as const,
      'demote' as const,
    ),
    stale: fc.boolean(),
    target: fc.constantFrom(0 as const, 1 as const),
    entity: fc.nat(1),
  }),
  fc.record({
    t: fc.constant('deliver' as const),
    from: fc.nat(4),
    to: fc.nat(4),
    pick: fc.nat(),
    dup: fc.boolean(),
  }),
);

async function setup(seed: string) {
  const devs = ['m0', 'm1', 'ed', 'vw', 'hostile'].map((n) => testDevice(`${seed}-${n}`));
  const clock = manualClock();
  const reps = await Promise.all(
    devs.map((d) =>
      Replica.open({
        store: createMemoryStore(),
        crypto,
        nowUs: clock.nowUs,
        random: d.random,
        device: deviceKeys(d),
      }),
    ),
  );
  const g = await reps[0]!.createCalendar({ name: 'Roles' });
  const roles = [Role.Manager, Role.Editor, Role.Viewer, Role.Manager];
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
  // H's view before its demotion: the parents its stale crafts name.
  const staleHeads = reps[H]!.heads(g.doc);
  // The first step of every run: manager 0 makes H a viewer (H has not seen it yet).
  await reps[0]!.setRole(g.doc, pubOf(devs[H]!), Role.Viewer);
  return { devs, reps, doc: g.doc, clock, key, staleHeads };
}

type World = Awaited<ReturnType<typeof setup>>;

/** H's next op position in its own chain (its replica's log), with the given parents. */
async function hAt(w: World, parents: OpId[]) {
  const ops = await w.reps[H]!.listOps(w.doc, 0, 1e5);
  const me = toHex(pubOf(w.devs[H]!));
  const mine = ops.filter((o) => o.author === me);
  const last = mine[mine.length - 1];
  return {
    by: w.devs[H]!,
    doc: w.doc,
    ctr: (last?.ctr ?? 0) + 1,
    wallTime: w.clock.nowUs() + 1,
    prev: (last?.id ?? null) as OpId | null,
    parents: parents.filter((p) => p !== last?.id),
  };
}

async function deliver(w: World, from: number, to: number, pick: number, dup: boolean) {
  const ops = await w.reps[from]!.listOps(w.doc, 0, 1e5);
  // A rotation of the log by `pick`, some ops twice: any order, parents or not.
  const k = ops.length === 0 ? 0 : pick % ops.length;
  const order = [...ops.slice(k), ...ops.slice(0, k)];
  for (const o of order) {
    await w.reps[to]!.receive(o.bytes);
    if (dup) await w.reps[to]!.receive(o.bytes);
  }
}

/** H's step: what its replica lets it do, else a crafted op its role forbids. */
async function hostileStep(w: World, s: Extract<Step, { t: 'h' }>, forbidden: Set<OpId>) {
  const rh = w.reps[H]!;
  const x = testDevice('intruder');
  const tryHonest = async (f: () => Promise<unknown>) => {
    try {
      await f();
      return true;
    } catch (e) {
      if (!(e instanceof EngineError)) throw e;
      return false;
    }
  };
  const parents = s.stale ? w.staleHeads : rh.heads(w.doc);
  let bytes: Uint8Array;
  if (s.act === 'write') {
    bytes = patchOp(await hAt(w, parents), w.key, 'H was here', ENTITIES[s.entity]!);
  } else if (s.act === 'add') {
    if (!s.stale && (await tryHonest(async () => rh.addMember(w.doc, await cardOf(x, w.doc), Role.Manager))))
      return;
    bytes = membershipOp(await hAt(w, parents), {
      kind: MembershipKind.Add,
      subject: pubOf(x),
      subjectBox: deviceKeys(x).box.publicKey,
      boxProof: await proofOf(x, w.doc),
      role: Role.Manager,
    });
  } else if (s.act === 'invite') {
    if (await tryHonest(() => rh.createInvite(w.doc, 9e15, Role.Manager))) return;
    return;
  } else {
    const target = s.act === 'promote' ? w.devs[3]! : w.devs[s.target]!;
    const role = s.act === 'promote' ? Role.Manager : Role.Viewer;
    if (!s.stale && (await tryHonest(() => rh.setRole(w.doc, pubOf(target), role)))) return;
    bytes = membershipOp(await hAt(w, parents), {
      kind: MembershipKind.SetRole,
      subject: pubOf(target),
      role,
    });
  }
  const res = await rh.receive(bytes);
  if (res.status === 'rejected') {
    // Refused by its own replica (its role in the op's past forbids it): every honest one refuses it too.
    const id = openOp(bytes).id;
    for (const i of HONEST) {
      const r = await w.reps[i]!.receive(bytes);
      if (r.status !== 'pending')
        expect(r.error?.code, 'a forbidden op is refused alike').toBe(res.error?.code);
    }
    if (res.error?.code === 'NotPermitted') forbidden.add(id);
  }
}

async function run(steps: Step[], seed: string) {
  const w = await setup(seed);
  const forbidden = new Set<OpId>();
  for (const s of steps) {
    w.clock.advance(1000);
    if (s.t === 'write') {
      try {
        await w.reps[s.who]!.write(w.doc, ENTITIES[s.entity]!, [
          { field: EventField.Title, value: utf8(`v${s.v}`) },
        ]);
      } catch (e) {
        if (!(e instanceof EngineError) || !['NotPermitted', 'NotMember'].includes(e.code)) throw e;
      }
    } else if (s.t === 'setRole' || s.t === 'remove') {
      const r = w.reps[s.who]!;
      const target = pubOf(w.devs[s.target]!);
      try {
        if (s.t === 'setRole') await r.setRole(w.doc, target, s.role);
        else await r.removeMember(w.doc, target);
      } catch (e) {
        // Its role or the target's membership, as this replica sees them, forbid it.
        if (!(e instanceof EngineError) || !['NotPermitted', 'NotMember', 'InvalidArgument'].includes(e.code))
          throw e;
      }
    } else if (s.t === 'h') await hostileStep(w, s, forbidden);
    else if (s.from !== s.to) await deliver(w, s.from, s.to, s.pick, s.dup);
  }
  // Everyone hears everything (twice over, in rotated orders).
  for (let round = 0; round < 2; round++)
    for (const a of [...HONEST, H])
      for (const b of HONEST) if (a !== b) await deliver(w, a, b, round * 7 + a, round === 1);
  check(w);
  for (const i of HONEST)
    expect(
      (await w.reps[i]!.getOps(w.doc, [...forbidden])).every((o) => o === undefined),
      'forbidden stored',
    ).toBe(true);
}

function check(w: World) {
  // Every honest replica agrees on everything; one removed meanwhile reads nothing written under
  // keys introduced after its removal (KEY-3), so registers are compared among those still in.
  const inAtEnd = HONEST.filter((i) => w.reps[0]!.members(w.doc).has(w.reps[i]!.deviceId as DeviceId));
  const views = HONEST.map((i) => userView(w.reps[i]!, w.doc));
  const base = (v: ReturnType<typeof userView>) => ({ ...v, registers: [] });
  for (const i of HONEST) expect(base(views[i]!), `replica ${i} vs 0`).toEqual(base(views[0]!));
  for (const i of inAtEnd)
    expect(views[i]!.registers, `registers of ${i} vs ${inAtEnd[0]}`).toEqual(views[inAtEnd[0]!]!.registers);
  const r0 = w.reps[0]!;
  const members = r0.members(w.doc);
  // H's grants never counted: the intruder is not in, H is a viewer, and H wins no register.
  expect(members.has(toHex(pubOf(testDevice('intruder'))) as DeviceId)).toBe(false);
  expect(members.get(toHex(pubOf(w.devs[H]!)) as DeviceId)?.role).toBe(Role.Viewer);
  const hid = toHex(pubOf(w.devs[H]!));
  for (const e of r0.entities(w.doc))
    for (const g of e.registers) expect(g.writes.every((x) => x.author !== hid)).toBe(true);
  // Nobody H promoted manages: managers are honest devices (promoted, if at all, by honest managers).
  const honest = HONEST.map((i) => toHex(pubOf(w.devs[i]!)));
  for (const m of members.values()) if (m.role === Role.Manager) expect(honest).toContain(m.device);
}

describe('roles property', () => {
  it(
    '[ROLE-3][ROLE-4][ROLE-6][ROLE-7][CONV-1] a hostile member demoted to viewer: honest replicas agree, its forbidden ops take no effect',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 4, maxLength: 14 }), fc.nat(), async (steps, n) => {
          await run(steps, `roles-${n}`);
        }),
        { numRuns: RUNS },
      );
    },
    Math.max(120_000, RUNS * 1000),
  );
});
