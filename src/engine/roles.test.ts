// Roles (docs/PROTOCOL.md ROLE-*): viewer, editor, manager, decided by every replica from an op's
// causal past; concurrent role changes resolve by ROLE-3 and ROLE-6; hostile members play here
// with crafted ops (an honest replica refuses to write what its role forbids).

import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.ts';
import { CalendarField, calendarFromRecord, EventField } from './calendar.ts';
import { decodeMembership, encodeMembership, type MembershipBody, MembershipKind } from './codec.ts';
import {
  codeOf,
  craftAt,
  EV,
  type Key,
  keyBytes,
  membershipOp,
  patchOp,
  pubOf,
  refused,
  syncAll,
  syncOps,
  titleOf,
} from './hostile.testkit.ts';
import { CALENDAR_ENTITY, type DeviceId, type DocId, type EntityId } from './ids.ts';
import type { Replica } from './replica.ts';
import { Role } from './roles.ts';
import type { OpRecord } from './store.ts';
import { cardOf, manualClock, openReplica, testDevice } from './testkit.testkit.ts';

const E2 = '42'.repeat(16) as EntityId;

/** A calendar by devs[0] (manager) with the others added by it with the given roles, all in sync. */
async function world(roles: Role[]) {
  const names = ['r-mgr', ...roles.map((_, i) => `r-${i + 1}`)];
  const devs = names.map((n) => testDevice(n));
  const clock = manualClock();
  const reps = await Promise.all(devs.map((d) => openReplica(d, { clock })));
  const ra = reps[0]!;
  const g = await ra.createCalendar({ name: 'Family' });
  for (let i = 1; i < devs.length; i++)
    await ra.addMember(g.doc, await cardOf(devs[i]!, g.doc), roles[i - 1] as never);
  const w = await ra.write(g.doc, EV, [{ field: EventField.Title, value: utf8('Start') }]);
  for (const r of reps.slice(1)) await syncOps(ra, r, g.doc);
  const keyId = (await ra.getOps(g.doc, [w.id]))[0]!;
  const { openOp } = await import('./op.ts');
  const kid = openOp(keyId.bytes).keyId!;
  const key: Key = {
    id: Uint8Array.from(Buffer.from(kid, 'hex')),
    key: await keyBytes(ra, devs[0]!, g.doc, kid),
  };
  const id = (i: number) => reps[i]!.deviceId as DeviceId;
  return { devs, reps, doc: g.doc, key, clock, id };
}

/**
 * Delivers `ops` to `r`: the genesis first (a calendar starts there), then the rest in the order
 * `perm` (indices into ops[1..]), parents or not (the gate parks an op until its parents come).
 */
async function deliver(r: Replica, ops: readonly OpRecord[], perm: readonly number[]) {
  await r.receive(ops[0]!.bytes);
  for (const i of perm) await r.receive(ops[i + 1]!.bytes);
}

/** A few delivery orders of the n - 1 ops after the genesis: as stored, reversed, interleavings. */
function orders(n: number): number[][] {
  const id = [...Array(n - 1).keys()];
  const out = [id, [...id].reverse()];
  for (let s = 1; s < 4; s++) out.push([...id].sort((a, b) => ((a * 7919 * s) % 13) - ((b * 7919 * s) % 13)));
  return out;
}

/** Every replica's members with roles, as plain data. */
const rolesAt = (r: Replica, doc: DocId) =>
  Object.fromEntries([...r.members(doc).values()].map((m) => [m.device, m.role]).sort());

describe('roles', () => {
  it('[ROLE-1] the creator manages; an Add states the role; a member listing carries each role', async () => {
    const w = await world([Role.Viewer, Role.Editor, Role.Manager]);
    const m = w.reps[1]!.members(w.doc);
    expect(m.get(w.id(0))?.role).toBe(Role.Manager);
    expect(m.get(w.id(1))?.role).toBe(Role.Viewer);
    expect(m.get(w.id(2))?.role).toBe(Role.Editor);
    expect(m.get(w.id(3))?.role).toBe(Role.Manager);
    for (const r of w.reps) expect(rolesAt(r, w.doc)).toEqual(rolesAt(w.reps[0]!, w.doc));
  });

  it('[ROLE-1] an Add that states no role (written before roles) makes a manager', async () => {
    const w = await world([]);
    const x = testDevice('r-old');
    const { proofOf, boxOf } = await import('./hostile.testkit.ts');
    const add = membershipOp(await craftAt(w.reps[0]!, w.devs[0]!, w.doc), {
      kind: MembershipKind.Add,
      subject: pubOf(x),
      subjectBox: boxOf(x),
      boxProof: await proofOf(x, w.doc),
    });
    expect(decodeMembership((await import('./op.ts')).openOp(add).env.body).role).toBe(Role.Unstated);
    expect(codeOf(await w.reps[0]!.receive(add))).toBe('applied');
    expect(w.reps[0]!.members(w.doc).get(toHex(pubOf(x)) as DeviceId)?.role).toBe(Role.Manager);
  });

  it('[ROLE-2] a role only where it belongs, of a known value; a SetRole names a member and carries nothing else', async () => {
    const w = await world([Role.Editor]);
    const r = w.reps[0]!;
    const mgr = w.devs[0]!;
    const { boxOf } = await import('./hostile.testkit.ts');
    const cases: [string, Parameters<typeof membershipOp>[1], string][] = [
      [
        'role on a Rotate',
        { kind: MembershipKind.Rotate, subjectBox: boxOf(mgr), role: Role.Viewer },
        'Malformed',
      ],
      [
        'role on a Remove',
        { kind: MembershipKind.Remove, subject: pubOf(w.devs[1]!), role: Role.Editor },
        'Malformed',
      ],
      [
        'unknown role',
        { kind: MembershipKind.SetRole, subject: pubOf(w.devs[1]!), role: 7 as Role },
        'Malformed',
      ],
      ['SetRole without a role', { kind: MembershipKind.SetRole, subject: pubOf(w.devs[1]!) }, 'Malformed'],
      [
        'SetRole with a box key',
        {
          kind: MembershipKind.SetRole,
          subject: pubOf(w.devs[1]!),
          subjectBox: boxOf(mgr),
          role: Role.Viewer,
        },
        'Malformed',
      ],
      [
        'SetRole of a stranger',
        { kind: MembershipKind.SetRole, subject: pubOf(testDevice('r-nobody')), role: Role.Viewer },
        'NotMember',
      ],
    ];
    const root = r.root(w.doc);
    for (const [what, body, code] of cases) {
      const res = await r.receive(membershipOp(await craftAt(r, mgr, w.doc), body));
      expect(codeOf(res), what).toBe(code);
      expect(r.root(w.doc), what).toBe(root);
    }
    // A kind this build does not know is Unsupported (what an older build says of SetRole).
    const bytes = encodeMembership({
      ...decodeMembership(encodeMembership(bodyOf(pubOf(mgr)))),
      kind: 6 as never,
    });
    expect(() => decodeMembership(bytes)).toThrow(/Unsupported/);
  });

  it('[ROLE-4] a viewer writes no event, locally or crafted, and every replica refuses it alike', async () => {
    const w = await world([Role.Viewer, Role.Editor]);
    const [rm, rv, re] = w.reps as [Replica, Replica, Replica];
    expect(await refused(rv.write(w.doc, EV, [{ field: EventField.Title, value: utf8('Mine') }]))).toBe(
      'NotPermitted',
    );
    const forged = patchOp(await craftAt(rv, w.devs[1]!, w.doc), w.key, 'Viewer was here');
    for (const r of [rm, re]) {
      const root = r.root(w.doc);
      expect(codeOf(await r.receive(forged))).toBe('NotPermitted');
      expect(r.root(w.doc)).toBe(root);
      expect(titleOf(r, w.doc)).toBe('Start');
    }
    // The editor writes; the viewer reads it (viewers hold the keys, KEY-3/KEY-4 unchanged).
    await re.write(w.doc, E2, [{ field: EventField.Title, value: utf8('Edited') }]);
    await syncAll(w.reps, w.doc);
    expect(titleOf(rv, w.doc, E2)).toBe('Edited');
  });

  it('[ROLE-4] only a manager adds, removes or sets roles (or invites above its own role); any member rotates and leaves', async () => {
    const w = await world([Role.Viewer, Role.Editor]);
    const [rm, rv, re] = w.reps as [Replica, Replica, Replica];
    const x = testDevice('r-x');
    for (const r of [rv, re]) {
      expect(await refused(r.addMember(w.doc, await cardOf(x, w.doc), Role.Viewer))).toBe('NotPermitted');
      expect(await refused(r.removeMember(w.doc, pubOf(w.devs[0]!)))).toBe('NotPermitted');
      // ROLE-14: a member invites at its own role or below, never above.
      expect(await refused(r.createInvite(w.doc, 9e15, r === re ? Role.Manager : Role.Editor))).toBe(
        'NotPermitted',
      );
      expect(await refused(r.setRole(w.doc, pubOf(w.devs[0]!), Role.Viewer))).toBe('NotPermitted');
    }
    // The editor's crafted demotion of the manager is refused by the manager too.
    const demote = membershipOp(await craftAt(re, w.devs[2]!, w.doc), {
      kind: MembershipKind.SetRole,
      subject: pubOf(w.devs[0]!),
      role: Role.Viewer,
    });
    expect(codeOf(await rm.receive(demote))).toBe('NotPermitted');
    // KEY-10's heal and leaving stay open to every member.
    await rv.rotateKey(w.doc);
    await syncAll(w.reps, w.doc);
    expect(w.reps.every((r) => r.root(w.doc) === rm.root(w.doc))).toBe(true);
    await re.removeMember(w.doc, pubOf(w.devs[2]!));
    await syncAll(w.reps, w.doc);
    expect(rm.members(w.doc).has(w.id(2))).toBe(false);
    // A manager changes roles; the change reaches everyone.
    await rm.setRole(w.doc, pubOf(w.devs[1]!), Role.Editor);
    await syncAll(w.reps, w.doc);
    expect(rv.members(w.doc).get(w.id(1))?.role).toBe(Role.Editor);
    await rv.write(w.doc, EV, [{ field: EventField.Title, value: utf8('Now I edit') }]);
    await syncAll(w.reps, w.doc);
    expect(titleOf(rm, w.doc)).toBe('Now I edit');
  });

  it("[ROLE-5] a joiner gets exactly the invite role; an invite lets in only while its author's role is at least the invite's", async () => {
    const w = await world([Role.Manager]);
    const [rm, r2] = w.reps as [Replica, Replica];
    const j = testDevice('r-joiner');
    const rj = await openReplica(j, { clock: w.clock });
    const inv = await rm.createInvite(w.doc, 9e15, Role.Viewer);
    await syncOps(rm, rj, w.doc);
    await rj.joinWithInvite(w.doc, inv.op.id, inv.secret);
    await syncOps(rj, rm, w.doc);
    expect(rm.members(w.doc).get(rj.deviceId as DeviceId)?.role).toBe(Role.Viewer);
    // A joiner that raises its role in its Add is refused.
    const inv2 = await rm.createInvite(w.doc, 9e15, Role.Viewer);
    const k = testDevice('r-raiser');
    const rk = await openReplica(k, { clock: w.clock });
    await syncOps(rm, rk, w.doc);
    const add = await rk.joinWithInvite(w.doc, inv2.op.id, inv2.secret);
    const body = decodeMembership((await import('./op.ts')).openOp(add.bytes).env.body);
    expect(body.role).toBe(Role.Viewer);
    const raised = membershipOp(
      {
        by: k,
        doc: w.doc,
        ctr: 1,
        wallTime: (await rk.getOps(w.doc, [add.id]))[0]!.wallTime,
        parents: rm.heads(w.doc),
      },
      { ...body, role: Role.Manager },
    );
    expect(codeOf(await rm.receive(raised))).toBe('NotPermitted');
    // An older build's Add states no role: refused for a viewer's invite, a manager for a manager's.
    const unstated = membershipOp(
      {
        by: k,
        doc: w.doc,
        ctr: 1,
        wallTime: (await rk.getOps(w.doc, [add.id]))[0]!.wallTime,
        parents: rm.heads(w.doc),
      },
      { ...body, role: Role.Unstated },
    );
    expect(codeOf(await rm.receive(unstated))).toBe('NotPermitted');
    const old = testDevice('r-old-build');
    const ro = await openReplica(old, { clock: w.clock });
    const inv4 = await rm.createInvite(w.doc, 9e15, Role.Manager);
    await syncOps(rm, ro, w.doc);
    const oldAdd = await ro.joinWithInvite(w.doc, inv4.op.id, inv4.secret);
    const oldBody = decodeMembership((await import('./op.ts')).openOp(oldAdd.bytes).env.body);
    const asOld = membershipOp(
      {
        by: old,
        doc: w.doc,
        ctr: 1,
        wallTime: (await ro.getOps(w.doc, [oldAdd.id]))[0]!.wallTime,
        parents: rm.heads(w.doc),
      },
      { ...oldBody, role: Role.Unstated },
    );
    expect(codeOf(await rm.receive(asOld))).toBe('applied');
    expect(rm.members(w.doc).get(ro.deviceId as DeviceId)?.role).toBe(Role.Manager);
    // An invite whose author was demoted below its role before the Add lets nobody in.
    const inv3 = await r2.createInvite(w.doc, 9e15, Role.Editor);
    await syncOps(r2, rm, w.doc);
    await rm.setRole(w.doc, pubOf(w.devs[1]!), Role.Viewer);
    const l = testDevice('r-late');
    const rl = await openReplica(l, { clock: w.clock });
    await syncOps(rm, rl, w.doc);
    expect(await refused(rl.joinWithInvite(w.doc, inv3.op.id, inv3.secret))).toBe('NotPermitted');
  });

  it('[ROLE-3] a demotion beats a concurrent promotion, in every delivery order', async () => {
    const w = await world([Role.Manager, Role.Editor]);
    const [m1, m2] = w.reps as [Replica, Replica];
    const target = pubOf(w.devs[2]!);
    await m1.setRole(w.doc, target, Role.Viewer);
    await m2.setRole(w.doc, target, Role.Manager);
    await syncAll([m1, m2], w.doc);
    const ops = await m1.listOps(w.doc, 0, 1000);
    for (const perm of orders(ops.length)) {
      const fresh = await openReplica(undefined);
      await deliver(fresh, ops, perm);
      expect(fresh.root(w.doc)).toBe(m1.root(w.doc));
      expect(fresh.members(w.doc).get(w.id(2))?.role).toBe(Role.Viewer);
    }
    // A change made after seeing both is the one that counts.
    await m2.setRole(w.doc, target, Role.Editor);
    expect(m2.members(w.doc).get(w.id(2))?.role).toBe(Role.Editor);
  });

  it('[ROLE-6] a manager demoted concurrently adds, invites and promotes nobody, in every delivery order', async () => {
    const w = await world([Role.Manager, Role.Viewer]);
    const [m, e] = w.reps as [Replica, Replica];
    // m makes e an editor; concurrently e (a manager in its own past) adds x, invites, and
    // promotes the viewer to manager.
    await m.setRole(w.doc, pubOf(w.devs[1]!), Role.Editor);
    const x = testDevice('r-intruder');
    await e.addMember(w.doc, await cardOf(x, w.doc), Role.Manager);
    const inv = await e.createInvite(w.doc, 9e15, Role.Manager);
    await e.setRole(w.doc, pubOf(w.devs[2]!), Role.Manager);
    // A device joining by e's invite, having seen everything e wrote, is let in by nobody.
    const j = testDevice('r-via-invite');
    const rj = await openReplica(j, { clock: w.clock });
    await syncOps(e, rj, w.doc);
    await rj.joinWithInvite(w.doc, inv.op.id, inv.secret);
    await syncOps(rj, e, w.doc);
    await syncAll([m, e], w.doc);
    const ops = await m.listOps(w.doc, 0, 1000);
    for (const perm of orders(ops.length)) {
      const fresh = await openReplica(undefined);
      await deliver(fresh, ops, perm);
      const got = fresh.members(w.doc);
      expect(fresh.root(w.doc)).toBe(m.root(w.doc));
      expect(got.has(toHex(pubOf(x)) as DeviceId)).toBe(false);
      expect(got.has(rj.deviceId as DeviceId)).toBe(false);
      expect(got.get(w.id(0))?.role).toBe(Role.Manager);
      expect(got.get(w.id(1))?.role).toBe(Role.Editor);
      expect(got.get(w.id(2))?.role).toBe(Role.Viewer);
      expect(rolesAt(fresh, w.doc)).toEqual(rolesAt(m, w.doc));
    }
    expect(rolesAt(e, w.doc)).toEqual(rolesAt(m, w.doc));
    // Having seen its demotion, e is refused; m still manages.
    expect(await refused(e.setRole(w.doc, pubOf(w.devs[0]!), Role.Viewer))).toBe('NotPermitted');
    await m.setRole(w.doc, pubOf(w.devs[2]!), Role.Editor);
  });

  it('[ROLE-6] what lowers always counts: two managers demoting each other at once both land, in every order', async () => {
    for (const role of [Role.Editor, Role.Viewer]) {
      const w = await world([Role.Manager, Role.Manager]);
      const [a, b] = w.reps as [Replica, Replica];
      await a.setRole(w.doc, pubOf(w.devs[1]!), role);
      await b.setRole(w.doc, pubOf(w.devs[0]!), role);
      await syncAll([a, b], w.doc);
      const ops = await a.listOps(w.doc, 0, 1000);
      for (const perm of orders(ops.length)) {
        const fresh = await openReplica(undefined);
        await deliver(fresh, ops, perm);
        expect(fresh.members(w.doc).get(w.id(0))?.role).toBe(role);
        expect(fresh.members(w.doc).get(w.id(1))?.role).toBe(role);
      }
      // A third manager sets things right.
      await syncOps(a, w.reps[2]!, w.doc);
      await w.reps[2]!.setRole(w.doc, pubOf(w.devs[0]!), Role.Manager);
      await syncAll(w.reps, w.doc);
      expect(b.members(w.doc).get(w.id(0))?.role).toBe(Role.Manager);
    }
  });

  it('[ROLE-6] a removal by a manager demoted at the same moment still counts (no counter-move stalls it)', async () => {
    const w = await world([Role.Manager, Role.Editor]);
    const [a, b] = w.reps as [Replica, Replica];
    await a.setRole(w.doc, pubOf(w.devs[1]!), Role.Editor);
    await b.removeMember(w.doc, pubOf(w.devs[2]!));
    await syncAll([a, b], w.doc);
    const ops = await a.listOps(w.doc, 0, 1000);
    for (const perm of orders(ops.length)) {
      const fresh = await openReplica(undefined);
      await deliver(fresh, ops, perm);
      expect(fresh.members(w.doc).has(w.id(2))).toBe(false);
      expect(fresh.members(w.doc).get(w.id(1))?.role).toBe(Role.Editor);
    }
  });

  it('[ROLE-7] an edit made concurrently with its author becoming a viewer is revoked, whichever arrives first', async () => {
    for (const first of ['demotion', 'edit'] as const) {
      const w = await world([Role.Editor]);
      const [m, e] = w.reps as [Replica, Replica];
      await m.setRole(w.doc, pubOf(w.devs[1]!), Role.Viewer);
      await e.write(w.doc, EV, [{ field: EventField.Title, value: utf8('Sneaky') }]);
      const obs = await openReplica(w.devs[0]!, { clock: w.clock });
      if (first === 'demotion') {
        await syncOps(m, obs, w.doc);
        await syncOps(e, obs, w.doc);
      } else {
        await syncOps(e, obs, w.doc);
        expect(titleOf(obs, w.doc)).toBe('Sneaky');
        await syncOps(m, obs, w.doc);
      }
      await syncAll([m, e], w.doc);
      for (const r of [m, e, obs]) expect(titleOf(r, w.doc), `${first}`).toBe('Start');
      expect(obs.root(w.doc)).toBe(m.root(w.doc));
    }
  });

  it("[ROLE-8] the calendar's name and colour are its managers' to change: an editor's write there is inert", async () => {
    const w = await world([Role.Editor]);
    const [m, e] = w.reps as [Replica, Replica];
    const seq = e.seq(w.doc);
    expect(
      await refused(e.write(w.doc, CALENDAR_ENTITY, [{ field: CalendarField.Name, value: utf8('X') }])),
    ).toBe('NotPermitted');
    expect(e.seq(w.doc)).toBe(seq);
    // Crafted, it is a valid op (the relay cannot see the entity) that changes nothing anywhere.
    const { encodePatch } = await import('./codec.ts');
    const { craftOp } = await import('./testkit.testkit.ts');
    const c = await craftAt(e, w.devs[1]!, w.doc);
    const hijack = craftOp({
      secret: w.devs[1]!.secret,
      doc: Uint8Array.from(Buffer.from(w.doc, 'hex')),
      ctr: c.ctr,
      kind: 0,
      wallTime: c.wallTime,
      parents: c.parents.map((p) => Uint8Array.from(Buffer.from(p, 'hex'))),
      body: encodePatch({
        entity: new Uint8Array(16),
        writes: [{ field: CalendarField.Name, value: utf8('Hijacked') }],
      }),
      key: w.key,
    });
    expect(codeOf(await e.receive(hijack))).toBe('applied');
    await syncAll(w.reps, w.doc);
    for (const r of w.reps) expect(calendarFromRecord(r.entity(w.doc, CALENDAR_ENTITY)).name).toBe('Family');
    await m.write(w.doc, CALENDAR_ENTITY, [{ field: CalendarField.Name, value: utf8('Home') }]);
    await syncAll(w.reps, w.doc);
    for (const r of w.reps) expect(calendarFromRecord(r.entity(w.doc, CALENDAR_ENTITY)).name).toBe('Home');
  });

  it('[ROLE-9] a viewer receives the keys: it reads what is written after a rotation and after its removal from nothing', async () => {
    const w = await world([Role.Viewer, Role.Editor]);
    const [m, v, e] = w.reps as [Replica, Replica, Replica];
    await e.removeMember(w.doc, pubOf(w.devs[2]!)); // the editor leaves: a new key, sealed for the viewer too
    await syncAll(w.reps, w.doc);
    await m.write(w.doc, E2, [{ field: EventField.Title, value: utf8('After rotation') }]);
    await syncAll(w.reps, w.doc);
    expect(titleOf(v, w.doc, E2)).toBe('After rotation');
    expect(titleOf(e, w.doc, E2)).toBeUndefined();
  });
});

function bodyOf(subject: Uint8Array): MembershipBody {
  return {
    kind: MembershipKind.SetRole,
    subject,
    subjectBox: new Uint8Array(0),
    keys: [],
    invite: new Uint8Array(0),
    sealed: new Uint8Array(0),
    expires: 0,
    boxProof: new Uint8Array(0),
    role: Role.Viewer,
  };
}
