// Invites by any member (docs/PROTOCOL.md ROLE-14): a member invites at its own role or below; an
// Add by invite needs its inviter to hold at least the invite's role at the Add's past; an Add by
// a non-manager's invite links the joiner to the inviter (ROLE-12), a manager's links nothing.

import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { MembershipKind } from './codec.ts';
import {
  boxOf,
  codeOf,
  craftAt,
  EV,
  membershipOp,
  pubOf,
  refused,
  syncAll,
  syncOps,
  titleOf,
} from './hostile.testkit.ts';
import type { DeviceId } from './ids.ts';
import type { Replica } from './replica.ts';
import { Role } from './roles.ts';
import { cardOf, manualClock, openReplica, testDevice } from './testkit.testkit.ts';

/** A calendar by a manager (replica 0) with the others added by it at the given roles, in sync. */
async function world(roles: Role[]) {
  const devs = ['mi-mgr', ...roles.map((_, i) => `mi-${i + 1}`)].map((n) => testDevice(n));
  const clock = manualClock();
  const reps = await Promise.all(devs.map((d) => openReplica(d, { clock })));
  const g = await reps[0]!.createCalendar({ name: 'Shared' });
  for (let i = 1; i < devs.length; i++)
    await reps[0]!.addMember(g.doc, await cardOf(devs[i]!, g.doc), roles[i - 1] as never);
  await reps[0]!.write(g.doc, EV, [{ field: EventField.Title, value: utf8('Start') }]);
  for (const r of reps.slice(1)) await syncOps(reps[0]!, r, g.doc);
  const id = (i: number) => reps[i]!.deviceId as DeviceId;
  return { devs, reps, doc: g.doc, clock, id };
}

/** A fresh device that joins by `inviter`'s invite at `role`, having seen what `inviter` holds. */
async function joinBy(w: Awaited<ReturnType<typeof world>>, inviter: Replica, role: Role, name: string) {
  const inv = await inviter.createInvite(w.doc, 9e15, role as never);
  const j = await openReplica(testDevice(name), { clock: w.clock });
  await syncOps(inviter, j, w.doc);
  await j.joinWithInvite(w.doc, inv.op.id, inv.secret);
  return { j, id: j.deviceId as DeviceId, inv };
}

describe('invites by any member (ROLE-14)', () => {
  it("[ROLE-14] an editor invites at editor: the joiner is an editor in the editor's group; each may remove the other; removePerson removes both", async () => {
    const w = await world([Role.Editor, Role.Editor]);
    const [mgr, ed, other] = w.reps as [Replica, Replica, Replica];
    const { j, id } = await joinBy(w, ed, Role.Editor, 'mi-joiner');
    await syncAll([...w.reps, j], w.doc);
    for (const r of [mgr, ed, other, j]) {
      expect(r.members(w.doc).get(id)?.role).toBe(Role.Editor);
      expect(r.sponsorGroup(w.doc, id)).toEqual([w.id(1), id].sort());
    }
    await j.write(w.doc, EV, [{ field: EventField.Title, value: utf8('By the joiner') }]);
    await syncAll([...w.reps, j], w.doc);
    expect(titleOf(mgr, w.doc)).toBe('By the joiner');
    // Outside the group: the other editor cannot remove the joiner, nor the joiner the manager.
    expect(await refused(other.removeMember(w.doc, pubOf(testDevice('mi-joiner'))))).toBe('NotPermitted');
    expect(await refused(j.removeMember(w.doc, pubOf(w.devs[0]!)))).toBe('NotPermitted');
    // The manager removing the editor as a person removes the joiner with it, in one step.
    expect(await mgr.removePerson(w.doc, w.id(1))).toHaveLength(2);
    await syncAll([mgr, other], w.doc);
    for (const r of [mgr, other])
      expect([...r.members(w.doc).keys()].sort()).toEqual([w.id(0), w.id(2)].sort());
    // Within the pair: the joiner removes its inviter, and an inviter removes its joiner.
    const w2 = await world([Role.Editor]);
    const a = await joinBy(w2, w2.reps[1]!, Role.Editor, 'mi-joiner-a');
    await syncAll([...w2.reps, a.j], w2.doc);
    await a.j.removeMember(w2.doc, pubOf(w2.devs[1]!));
    const b = await joinBy(w2, w2.reps[0]!, Role.Editor, 'mi-joiner-b');
    await syncAll([...w2.reps, a.j, b.j], w2.doc);
    expect(w2.reps[0]!.members(w2.doc).has(w2.id(1))).toBe(false);
    // A manager's invite links nothing: its joiner is alone in its group and cannot remove it.
    expect(w2.reps[0]!.sponsorGroup(w2.doc, b.id)).toEqual([b.id]);
    expect(await refused(b.j.removeMember(w2.doc, pubOf(w2.devs[0]!)))).toBe('NotPermitted');
    const c = await joinBy(w2, a.j, Role.Viewer, 'mi-joiner-c');
    await syncOps(c.j, a.j, w2.doc);
    await a.j.removeMember(w2.doc, pubOf(testDevice('mi-joiner-c')));
    expect(a.j.members(w2.doc).has(c.id)).toBe(false);
  });

  it('[ROLE-14] an invite above its author: NotPermitted locally before signing, and from the wire', async () => {
    const w = await world([Role.Editor, Role.Viewer]);
    const [mgr, ed, vw] = w.reps as [Replica, Replica, Replica];
    const before = (await ed.listOps(w.doc, 0, 1000)).length;
    expect(await refused(ed.createInvite(w.doc, 9e15, Role.Manager))).toBe('NotPermitted');
    expect(await refused(vw.createInvite(w.doc, 9e15, Role.Editor))).toBe('NotPermitted');
    expect((await ed.listOps(w.doc, 0, 1000)).length).toBe(before);
    const x = testDevice('mi-invite-key');
    for (const [d, role] of [
      [w.devs[1]!, Role.Manager],
      [w.devs[1]!, Role.Unstated],
      [w.devs[2]!, Role.Editor],
    ] as const) {
      const c = await craftAt(mgr, d, w.doc);
      const crafted = membershipOp(c, {
        kind: MembershipKind.Invite,
        subject: pubOf(x),
        subjectBox: boxOf(x),
        expires: c.wallTime + 1_000_000,
        role,
      });
      expect(codeOf(await mgr.receive(crafted))).toBe('NotPermitted');
    }
  });

  it('[ROLE-14] a viewer invites at viewer: the joiner reads and is a viewer everywhere', async () => {
    const w = await world([Role.Viewer]);
    const [mgr, vw] = w.reps as [Replica, Replica];
    const { j, id } = await joinBy(w, vw, Role.Viewer, 'mi-viewer-joiner');
    await syncAll([...w.reps, j], w.doc);
    for (const r of [mgr, vw, j]) expect(r.members(w.doc).get(id)?.role).toBe(Role.Viewer);
    expect(titleOf(j, w.doc)).toBe('Start');
    expect(await refused(j.write(w.doc, EV, [{ field: EventField.Title, value: utf8('no') }]))).toBe(
      'NotPermitted',
    );
  });

  it("[ROLE-14] an Add by an editor's invite after the editor was demoted to viewer is NotPermitted", async () => {
    const w = await world([Role.Editor]);
    const [mgr, ed] = w.reps as [Replica, Replica];
    const inv = await ed.createInvite(w.doc, 9e15, Role.Editor);
    await syncOps(ed, mgr, w.doc);
    await mgr.setRole(w.doc, pubOf(w.devs[1]!), Role.Viewer);
    const j = await openReplica(testDevice('mi-late'), { clock: w.clock });
    await syncOps(mgr, j, w.doc);
    expect(await refused(j.joinWithInvite(w.doc, inv.op.id, inv.secret))).toBe('NotPermitted');
    // Its invite at viewer, made before the demotion, still lets in at viewer.
    const w2 = await world([Role.Editor]);
    const inv2 = await w2.reps[1]!.createInvite(w2.doc, 9e15, Role.Viewer);
    await syncOps(w2.reps[1]!, w2.reps[0]!, w2.doc);
    await w2.reps[0]!.setRole(w2.doc, pubOf(w2.devs[1]!), Role.Viewer);
    const j2 = await openReplica(testDevice('mi-late-2'), { clock: w2.clock });
    await syncOps(w2.reps[0]!, j2, w2.doc);
    await j2.joinWithInvite(w2.doc, inv2.op.id, inv2.secret);
    await syncOps(j2, w2.reps[0]!, w2.doc);
    expect(w2.reps[0]!.members(w2.doc).get(j2.deviceId as DeviceId)?.role).toBe(Role.Viewer);
  });

  it("[ROLE-14][MEM-10][MEM-12] an editor's invite concurrent with its removal lets nobody in and what the joiner wrote is revoked, in every order", async () => {
    const w = await world([Role.Editor, Role.Editor, Role.Editor]);
    const [mgr, ed, o1, o2] = w.reps as [Replica, Replica, Replica, Replica];
    await mgr.removePerson(w.doc, w.id(1));
    // Not having seen its removal, the editor invites; the joiner joins and writes.
    const { j, id } = await joinBy(w, ed, Role.Editor, 'mi-concurrent');
    await syncOps(j, ed, w.doc);
    w.clock.advance(60_000_000);
    await j.write(w.doc, EV, [{ field: EventField.Title, value: utf8('by the joiner') }]);
    expect(titleOf(j, w.doc)).toBe('by the joiner');
    for (const [r, order] of [
      [o1, [mgr, j]],
      [o2, [j, mgr]],
    ] as const) {
      await syncOps(order[0], r, w.doc);
      await syncOps(order[1], r, w.doc);
      expect(r.members(w.doc).has(id)).toBe(false);
      expect(r.members(w.doc).has(w.id(1))).toBe(false);
      expect(titleOf(r, w.doc)).toBe('Start');
      expect(r.sponsorGroup(w.doc, id)).toEqual([id]);
    }
    await syncOps(mgr, j, w.doc);
    expect(titleOf(j, w.doc)).toBe('Start');
    expect(o1.root(w.doc)).toBe(o2.root(w.doc));
  });
  it('[ROLE-14][INV-9][MEM-10] an invite its remover had seen lets in nobody who had not seen the removal: a colluder joining from old heads is void, its writes revoked', async () => {
    const w = await world([Role.Editor, Role.Editor, Role.Editor]);
    const [mgr, ed, o1, o2] = w.reps as [Replica, Replica, Replica, Replica];
    const inv = await ed.createInvite(w.doc, 9e15, Role.Editor);
    await syncAll(w.reps, w.doc);
    // The manager removes the editor, having seen its invite; a colluder joins from the old heads.
    await mgr.removePerson(w.doc, w.id(1));
    const j = await openReplica(testDevice('mi-colluder'), { clock: w.clock });
    await syncOps(ed, j, w.doc);
    await j.joinWithInvite(w.doc, inv.op.id, inv.secret);
    w.clock.advance(60_000_000);
    await j.write(w.doc, EV, [{ field: EventField.Title, value: utf8('still here') }]);
    const id = j.deviceId as DeviceId;
    for (const [r, order] of [
      [o1, [mgr, j]],
      [o2, [j, mgr]],
    ] as const) {
      await syncOps(order[0], r, w.doc);
      await syncOps(order[1], r, w.doc);
      expect(r.members(w.doc).has(id)).toBe(false);
      expect(titleOf(r, w.doc)).toBe('Start');
    }
    expect(o1.root(w.doc)).toBe(o2.root(w.doc));
    // A joiner that saw the removal is refused outright (INV-9).
    const late = await openReplica(testDevice('mi-after'), { clock: w.clock });
    await syncOps(mgr, late, w.doc);
    expect(await refused(late.joinWithInvite(w.doc, inv.op.id, inv.secret))).toBe('InviteInvalid');
  });
});
