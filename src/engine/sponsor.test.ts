// Sponsored Adds and sponsor groups (docs/PROTOCOL.md ROLE-11, ROLE-12): any member brings in a
// device that consented to exactly that member, at a role no higher than its own; a member removes
// devices of its own sponsor group. Hostile members play with crafted ops.

import { describe, expect, it } from 'vitest';
import { sponsorMessage } from './box-proof.ts';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { MembershipKind } from './codec.ts';
import {
  boxOf,
  codeOf,
  craftAt,
  EV,
  membershipOp,
  proofOf,
  pubOf,
  refused,
  syncAll,
  syncOps,
  titleOf,
} from './hostile.testkit.ts';
import type { DeviceId, DocId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import type { Replica } from './replica.ts';
import { Role } from './roles.ts';
import {
  cardOf,
  deviceKeys,
  manualClock,
  openReplica,
  sponsorCardOf,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

/** A calendar by a manager (replica 0) with the others added by it at the given roles, in sync. */
async function world(roles: Role[], extra: string[] = []) {
  const devs = ['s-mgr', ...roles.map((_, i) => `s-${i + 1}`), ...extra].map((n) => testDevice(n));
  const clock = manualClock();
  const reps = await Promise.all(devs.map((d) => openReplica(d, { clock })));
  const g = await reps[0]!.createCalendar({ name: 'Shared' });
  for (let i = 1; i <= roles.length; i++)
    await reps[0]!.addMember(g.doc, await cardOf(devs[i]!, g.doc), roles[i - 1] as never);
  await reps[0]!.write(g.doc, EV, [{ field: EventField.Title, value: utf8('Start') }]);
  for (const r of reps.slice(1, roles.length + 1)) await syncOps(reps[0]!, r, g.doc);
  const id = (i: number) => reps[i]!.deviceId as DeviceId;
  return { devs, reps, doc: g.doc, clock, id };
}

const roleAt = (r: Replica, doc: DocId, d: TestDevice) =>
  r.members(doc).get(toHex(pubOf(d)) as DeviceId)?.role;

describe('sponsored Adds (ROLE-11)', () => {
  it('[ROLE-11] an editor sponsors a device at its own role: every replica lets it in; it reads and writes', async () => {
    const w = await world([Role.Editor, Role.Viewer], ['s-phone']);
    const [, ed, vw, phone] = w.reps;
    const card = await sponsorCardOf(w.devs[3]!, w.doc, pubOf(w.devs[1]!));
    await ed!.addMember(w.doc, card, Role.Editor, 'Phone');
    await syncAll(w.reps, w.doc);
    for (const r of w.reps) expect(roleAt(r, w.doc, w.devs[3]!)).toBe(Role.Editor);
    expect(titleOf(phone!, w.doc)).toBe('Start');
    await phone!.write(w.doc, EV, [{ field: EventField.Title, value: utf8('From the phone') }]);
    await syncAll(w.reps, w.doc);
    expect(titleOf(vw!, w.doc)).toBe('From the phone');
    // A viewer sponsors at viewer too.
    const tab = testDevice('s-tablet');
    await vw!.addMember(w.doc, await sponsorCardOf(tab, w.doc, pubOf(w.devs[2]!)), Role.Viewer);
    await syncAll(w.reps, w.doc);
    for (const r of w.reps) expect(roleAt(r, w.doc, tab)).toBe(Role.Viewer);
  });

  it('[ROLE-11] a role above the sponsor is NotPermitted; an editor still adds nobody without a sponsor proof', async () => {
    const w = await world([Role.Editor, Role.Viewer]);
    const x = testDevice('s-x');
    const [mgr, ed, vw] = w.reps;
    expect(
      await refused(ed!.addMember(w.doc, await sponsorCardOf(x, w.doc, pubOf(w.devs[1]!)), Role.Manager)),
    ).toBe('NotPermitted');
    expect(
      await refused(vw!.addMember(w.doc, await sponsorCardOf(x, w.doc, pubOf(w.devs[2]!)), Role.Editor)),
    ).toBe('NotPermitted');
    // Crafted by the editor: a sponsored Add at manager, and a plain (MEM-11) Add.
    const up = membershipOp(await craftAt(ed!, w.devs[1]!, w.doc), {
      kind: MembershipKind.Add,
      subject: pubOf(x),
      subjectBox: boxOf(x),
      boxProof: (await sponsorCardOf(x, w.doc, pubOf(w.devs[1]!))).proof,
      role: Role.Manager,
      sponsored: true,
    });
    const plain = membershipOp(await craftAt(ed!, w.devs[1]!, w.doc), {
      kind: MembershipKind.Add,
      subject: pubOf(x),
      subjectBox: boxOf(x),
      boxProof: await proofOf(x, w.doc),
      role: Role.Editor,
    });
    for (const r of [mgr!, ed!, vw!]) {
      expect((await r.receive(up)).error?.code).toBe('NotPermitted');
      expect((await r.receive(plain)).error?.code).toBe('NotPermitted');
      expect(r.members(w.doc).has(toHex(pubOf(x)) as DeviceId)).toBe(false);
    }
  });

  it('[ROLE-11] a proof naming another member, a box proof, a forged or replayed-elsewhere proof: BadSignature', async () => {
    const w = await world([Role.Editor, Role.Editor]);
    const x = testDevice('s-x');
    const [mgr, ed] = w.reps;
    const other = await sponsorCardOf(x, w.doc, pubOf(w.devs[2]!));
    // The honest API refuses a card naming another sponsor before signing anything.
    expect(await refused(ed!.addMember(w.doc, other, Role.Editor))).toBe('InvalidArgument');
    const otherCal = await mgr!.createCalendar({ name: 'Elsewhere' });
    const proofs = [
      other.proof,
      await proofOf(x, w.doc),
      (await sponsorCardOf(x, otherCal.doc, pubOf(w.devs[1]!))).proof,
      await deviceKeys(w.devs[1]!).signer.sign(
        sponsorMessage(fromHex(w.doc), pubOf(x), boxOf(x), pubOf(w.devs[1]!)),
      ),
    ];
    for (const boxProof of proofs) {
      const op = membershipOp(await craftAt(ed!, w.devs[1]!, w.doc), {
        kind: MembershipKind.Add,
        subject: pubOf(x),
        subjectBox: boxOf(x),
        boxProof,
        role: Role.Editor,
        sponsored: true,
      });
      for (const r of w.reps) expect((await r.receive(op)).error?.code).toBe('BadSignature');
    }
    // The sponsor proof as a manager's plain Add: it is not a box proof.
    const asPlain = membershipOp(await craftAt(mgr!, w.devs[0]!, w.doc), {
      kind: MembershipKind.Add,
      subject: pubOf(x),
      subjectBox: boxOf(x),
      boxProof: (await sponsorCardOf(x, w.doc, pubOf(w.devs[0]!))).proof,
      role: Role.Editor,
    });
    expect((await mgr!.receive(asPlain)).error?.code).toBe('BadSignature');
    for (const r of w.reps) expect(r.members(w.doc).has(toHex(pubOf(x)) as DeviceId)).toBe(false);
  });

  it('[ROLE-11] shape: sponsored only in an Add of another device, not by invite, with a stated role', async () => {
    const w = await world([Role.Editor]);
    const x = testDevice('s-x');
    const ed = w.reps[1]!;
    const proof = (await sponsorCardOf(x, w.doc, pubOf(w.devs[1]!))).proof;
    const cases: Parameters<typeof membershipOp>[1][] = [
      { kind: MembershipKind.Add, subject: pubOf(x), subjectBox: boxOf(x), boxProof: proof, sponsored: true },
      { kind: MembershipKind.Remove, subject: pubOf(w.devs[0]!), sponsored: true },
      { kind: MembershipKind.Rotate, subjectBox: boxOf(w.devs[1]!), sponsored: true },
      {
        kind: MembershipKind.Add,
        subject: pubOf(w.devs[1]!),
        subjectBox: boxOf(w.devs[1]!),
        role: Role.Editor,
        sponsored: true,
      },
    ];
    for (const c of cases) {
      const op = membershipOp(await craftAt(ed, w.devs[1]!, w.doc), c);
      expect((await ed.receive(op)).error?.code).toBe('Malformed');
    }
  });

  it("[ROLE-11][MEM-10][ROLE-6] a sponsored Add concurrent with its author's removal or demotion lets nobody in, in every order", async () => {
    for (const lower of ['remove', 'demote'] as const) {
      const w = await world([Role.Editor], ['s-late']);
      const [mgr, ed] = w.reps;
      const x = testDevice(`s-x-${lower}`);
      await ed!.addMember(w.doc, await sponsorCardOf(x, w.doc, pubOf(w.devs[1]!)), Role.Editor);
      if (lower === 'remove') await mgr!.removeMember(w.doc, pubOf(w.devs[1]!));
      else await mgr!.setRole(w.doc, pubOf(w.devs[1]!), Role.Viewer);
      const late = w.reps[2]!;
      // Two orders: the manager's ops first, or the editor's.
      for (const [first, second] of [
        [mgr!, ed!],
        [ed!, mgr!],
      ] as const) {
        const r = await openReplica(testDevice(`s-obs-${lower}`));
        await syncOps(first, r, w.doc);
        await syncOps(second, r, w.doc);
        expect(r.members(w.doc).has(toHex(pubOf(x)) as DeviceId)).toBe(false);
      }
      await syncAll([mgr!, ed!, late], w.doc);
      for (const r of [mgr!, ed!]) expect(r.members(w.doc).has(toHex(pubOf(x)) as DeviceId)).toBe(false);
    }
  });
});

describe('sponsor groups (ROLE-12)', () => {
  it('[ROLE-12] an editor removes a device of its group (a chain of sponsors, also after a link left), never one outside it', async () => {
    const w = await world([Role.Editor, Role.Editor], ['s-phone', 's-tab']);
    const [mgr, ed, other, phone, tab] = w.reps;
    const [, dEd, dOther, dPhone, dTab] = w.devs;
    await ed!.addMember(w.doc, await sponsorCardOf(dPhone!, w.doc, pubOf(dEd!)), Role.Editor);
    await syncOps(ed!, phone!, w.doc);
    await phone!.addMember(w.doc, await sponsorCardOf(dTab!, w.doc, pubOf(dPhone!)), Role.Viewer);
    await syncAll(w.reps, w.doc);
    // Outside its group: the other editor and the manager.
    expect(await refused(ed!.removeMember(w.doc, pubOf(dOther!)))).toBe('NotPermitted');
    expect(await refused(tab!.removeMember(w.doc, pubOf(w.devs[0]!)))).toBe('NotPermitted');
    expect(await refused(other!.removeMember(w.doc, pubOf(dPhone!)))).toBe('NotPermitted');
    // The phone leaves; the editor still removes the tablet (edges stay: consent is permanent).
    await phone!.removeMember(w.doc, pubOf(dPhone!));
    await syncOps(phone!, ed!, w.doc);
    await ed!.removeMember(w.doc, pubOf(dTab!));
    await syncAll([mgr!, ed!, other!], w.doc);
    for (const r of [mgr!, ed!, other!]) {
      const m = r.members(w.doc);
      expect([...m.keys()].sort()).toEqual([w.id(0), w.id(1), w.id(2)].sort());
    }
    // The tablet removes the editor, who brought its sponsor in: in its group too.
    const w2 = await world([Role.Editor], ['s2-phone']);
    await w2.reps[1]!.addMember(
      w2.doc,
      await sponsorCardOf(w2.devs[2]!, w2.doc, pubOf(w2.devs[1]!)),
      Role.Editor,
    );
    await syncAll(w2.reps, w2.doc);
    await w2.reps[2]!.removeMember(w2.doc, pubOf(w2.devs[1]!));
    await syncAll(w2.reps, w2.doc);
    for (const r of [w2.reps[0]!, w2.reps[2]!]) expect(r.members(w2.doc).has(w2.id(1))).toBe(false);
  });

  it('[ROLE-12] a void sponsored Add makes no link: an editor cannot remove, through it, a device the manager let in', async () => {
    const w = await world([Role.Editor, Role.Editor]);
    const [mgr, ed] = w.reps;
    const [, dEd, dX] = w.devs;
    // The manager removes the editor; concurrently the editor sponsors Y (Y consents).
    await mgr!.removeMember(w.doc, pubOf(dEd!));
    const bad = membershipOp(await craftAt(ed!, dEd!, w.doc), {
      kind: MembershipKind.Add,
      subject: pubOf(testDevice('s-y')),
      subjectBox: boxOf(testDevice('s-y')),
      boxProof: (await sponsorCardOf(testDevice('s-y'), w.doc, pubOf(dEd!))).proof,
      role: Role.Editor,
      sponsored: true,
    });
    expect(codeOf(await ed!.receive(bad))).toBe('applied');
    await syncOps(mgr!, ed!, w.doc);
    // Everyone now sees the editor removed and its sponsored Add void: the editor writes nothing more.
    expect(ed!.members(w.doc).has(toHex(pubOf(testDevice('s-y'))) as DeviceId)).toBe(false);
    expect(await refused(ed!.removeMember(w.doc, pubOf(dX!)))).toBe('NotMember');
    // Concurrent demotion: the link is void, so the (now viewer) editor cannot remove through it.
    const w2 = await world([Role.Editor, Role.Editor]);
    const y = testDevice('s2-y');
    const [m2, e2, x2] = w2.reps;
    await m2!.setRole(w2.doc, pubOf(w2.devs[1]!), Role.Viewer);
    await e2!.addMember(w2.doc, await sponsorCardOf(y, w2.doc, pubOf(w2.devs[1]!)), Role.Editor);
    await m2!.addMember(w2.doc, await cardOf(y, w2.doc), Role.Editor);
    await syncAll(w2.reps, w2.doc);
    expect(x2!.members(w2.doc).get(toHex(pubOf(y)) as DeviceId)?.role).toBe(Role.Editor);
    expect(await refused(e2!.removeMember(w2.doc, pubOf(y)))).toBe('NotPermitted');
  });

  it('[ROLE-12][MEM-9] my lost phone and my laptop removing each other concurrently: both removals count', async () => {
    const w = await world([Role.Editor], ['s-phone']);
    const [mgr, laptop, phone] = w.reps;
    await laptop!.addMember(w.doc, await sponsorCardOf(w.devs[2]!, w.doc, pubOf(w.devs[1]!)), Role.Editor);
    await syncAll(w.reps, w.doc);
    await laptop!.removeMember(w.doc, pubOf(w.devs[2]!));
    await phone!.removeMember(w.doc, pubOf(w.devs[1]!));
    await syncAll(w.reps, w.doc);
    for (const r of w.reps) expect([...r.members(w.doc).keys()]).toEqual([w.id(0)]);
    expect(mgr!.members(w.doc).get(w.id(0))?.role).toBe(Role.Manager);
  });
});

describe('removing a person (ROLE-13)', () => {
  it("[ROLE-13] a manager removing another person's device removes its whole sponsor group; removing one of its own group removes just that one", async () => {
    const w = await world([Role.Editor], ['s-h1', 's-h2']);
    const [mgr, h, h1] = w.reps;
    await h!.addMember(w.doc, await sponsorCardOf(w.devs[2]!, w.doc, pubOf(w.devs[1]!)), Role.Editor);
    await syncOps(h!, h1!, w.doc);
    await h1!.addMember(w.doc, await sponsorCardOf(w.devs[3]!, w.doc, pubOf(w.devs[2]!)), Role.Viewer);
    await syncAll(w.reps, w.doc);
    const removes = await mgr!.removePerson(w.doc, w.id(2));
    expect(removes).toHaveLength(3);
    await syncAll(w.reps, w.doc);
    for (const r of w.reps) expect([...r.members(w.doc).keys()]).toEqual([w.id(0)]);
    // Within one's own group: the manager sponsors its tablet, then removes only the tablet.
    const tab = testDevice('s-mgr-tab');
    await mgr!.addMember(w.doc, await sponsorCardOf(tab, w.doc, pubOf(w.devs[0]!)), Role.Manager);
    expect(await mgr!.removePerson(w.doc, toHex(pubOf(tab)) as DeviceId)).toHaveLength(1);
    expect([...mgr!.members(w.doc).keys()]).toEqual([w.id(0)]);
  });

  it('[ROLE-13][ERR-1] the Removes of a person are one commit: a storage failure writes none of them; retried, all land and the rest read on', async () => {
    // Full once a second op is committed: the first Remove alone would fit, the second would not.
    let fail = false;
    let committed = 0;
    const store = createMemoryStore({
      beforeCommit: (b) => {
        if (!fail) return;
        if (committed + (b.ops?.length ?? 0) >= 2) throw new Error('QuotaExceededError');
        committed += b.ops?.length ?? 0;
      },
    });
    const devs = ['sa-mgr', 'sa-h', 'sa-x', 'sa-v'].map((n) => testDevice(n));
    const mgr = await openReplica(devs[0]!, { store });
    const [h, x, v] = await Promise.all(devs.slice(1).map((d) => openReplica(d)));
    const g = await mgr.createCalendar({ name: 'Atomic' });
    await mgr.addMember(g.doc, await cardOf(devs[1]!, g.doc), Role.Editor);
    await mgr.addMember(g.doc, await cardOf(devs[3]!, g.doc), Role.Viewer);
    await syncAll([mgr, h!, x!, v!], g.doc);
    await h!.addMember(g.doc, await sponsorCardOf(devs[2]!, g.doc, pubOf(devs[1]!)), Role.Editor);
    await syncAll([mgr, h!, x!, v!], g.doc);
    const before = { heads: mgr.heads(g.doc), members: [...mgr.members(g.doc).keys()].sort() };
    fail = true;
    expect(await refused(mgr.removePerson(g.doc, toHex(pubOf(devs[1]!)) as DeviceId))).toBe('Storage');
    expect({ heads: mgr.heads(g.doc), members: [...mgr.members(g.doc).keys()].sort() }).toEqual(before);
    expect((await mgr.listOps(g.doc, 0, 1e5)).length).toBe((await v!.listOps(g.doc, 0, 1e5)).length);
    fail = false;
    expect(await mgr.removePerson(g.doc, toHex(pubOf(devs[1]!)) as DeviceId)).toHaveLength(2);
    await mgr.write(g.doc, EV, [{ field: EventField.Title, value: utf8('After') }]);
    await syncAll([mgr, v!], g.doc);
    expect([...v!.members(g.doc).keys()].sort()).toEqual(
      [toHex(pubOf(devs[0]!)), toHex(pubOf(devs[3]!))].sort(),
    );
    expect(titleOf(v!, g.doc)).toBe('After');
    const reopened = await openReplica(devs[0]!, { store });
    expect(reopened.members(g.doc).size).toBe(2);
  });

  it('[ROLE-13][MEM-10] a device let in by a void Add lets nobody in: a chain of sponsors made concurrently with the removal counts for nothing', async () => {
    const w = await world([Role.Editor], ['s-x', 's-y']);
    const [mgr, h, x] = w.reps;
    await mgr!.removePerson(w.doc, w.id(1));
    // Not having seen its removal, h sponsors x, and x sponsors y.
    await h!.addMember(w.doc, await sponsorCardOf(w.devs[2]!, w.doc, pubOf(w.devs[1]!)), Role.Editor);
    await syncOps(h!, x!, w.doc);
    await x!.addMember(w.doc, await sponsorCardOf(w.devs[3]!, w.doc, pubOf(w.devs[2]!)), Role.Editor);
    expect(x!.members(w.doc).has(w.id(3))).toBe(true);
    for (const order of [
      [mgr!, x!],
      [x!, mgr!],
    ]) {
      const r = await openReplica(testDevice(`s-obs-${order[0] === mgr ? 'm' : 'x'}`));
      for (const from of order) await syncOps(from, r, w.doc);
      expect([...r.members(w.doc).keys()]).toEqual([w.id(0)]);
    }
  });

  it('[MEM-12] what a device let in by a void Add wrote before anyone heard of the removal is revoked, along the chain, in every order', async () => {
    // h the editor being removed, two observers (members), x and y h's late sponsorships.
    const w = await world([Role.Editor, Role.Editor, Role.Editor], ['s-x', 's-y']);
    const [mgr, h, o1, o2, x, y] = w.reps;
    await mgr!.removePerson(w.doc, w.id(1));
    // Not having seen its removal, h sponsors x, x sponsors y; x and y write the title.
    await h!.addMember(w.doc, await sponsorCardOf(w.devs[4]!, w.doc, pubOf(w.devs[1]!)), Role.Editor);
    await syncOps(h!, x!, w.doc);
    w.clock.advance(60_000_000);
    await x!.write(w.doc, EV, [{ field: EventField.Title, value: utf8('by x') }]);
    await x!.addMember(w.doc, await sponsorCardOf(w.devs[5]!, w.doc, pubOf(w.devs[4]!)), Role.Editor);
    await syncOps(x!, y!, w.doc);
    w.clock.advance(60_000_000);
    await y!.write(w.doc, EV, [{ field: EventField.Title, value: utf8('by y') }]);
    expect(titleOf(y!, w.doc)).toBe('by y');
    for (const [r, order] of [
      [o1!, [mgr!, y!]],
      [o2!, [y!, mgr!]],
    ] as const) {
      await syncOps(order[0], r, w.doc);
      await syncOps(order[1], r, w.doc);
      expect(titleOf(r, w.doc)).toBe('Start');
      const bodies = (await r.listOps(w.doc, 0, 1000))
        .filter((o) => o.author === w.id(4) || o.author === w.id(5))
        .filter((o) => o.kind === 0)
        .map((o) => o.body);
      expect(bodies).toEqual(['inert', 'inert']);
    }
    // y heard of it too: the writes stop counting there as well.
    await syncOps(mgr!, y!, w.doc);
    expect(titleOf(y!, w.doc)).toBe('Start');
  });

  it('[MEM-12] a device that also has an Add that counts keeps the writes it made on it', async () => {
    // h the editor being removed, m2 a second manager, two observers, x let in by h and by m2.
    const w = await world([Role.Editor, Role.Manager, Role.Editor, Role.Editor], ['s-x']);
    const [mgr, h, m2, o1, o2, x] = w.reps;
    await mgr!.removePerson(w.doc, w.id(1));
    // Neither having seen the removal, h sponsors x and m2 adds x by its card.
    await h!.addMember(w.doc, await sponsorCardOf(w.devs[5]!, w.doc, pubOf(w.devs[1]!)), Role.Editor);
    await m2!.addMember(w.doc, await cardOf(w.devs[5]!, w.doc), Role.Editor);
    await syncOps(h!, x!, w.doc);
    await syncOps(m2!, x!, w.doc);
    w.clock.advance(60_000_000);
    await x!.write(w.doc, EV, [{ field: EventField.Title, value: utf8('by x') }]);
    for (const [r, order] of [
      [o1!, [mgr!, x!]],
      [o2!, [x!, mgr!]],
    ] as const) {
      await syncOps(order[0], r, w.doc);
      await syncOps(order[1], r, w.doc);
      expect(titleOf(r, w.doc)).toBe('by x');
      expect(r.members(w.doc).has(w.id(5))).toBe(true);
    }
  });
});
