// A hostile member against the keys: junk under a real key id, a Rotate that leaves someone out,
// concurrent removals and adds, another device's box key, and a key history too long to re-seal.

import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { decodeMembership, LIMITS } from './codec.ts';
import {
  boxOf,
  EV,
  lastOp,
  MembershipKind,
  membershipOp,
  proofOf,
  pubOf,
  syncOps,
  team,
  titleOf,
  wrap,
} from './hostile.testkit.ts';
import type { DeviceId, EntityId } from './ids.ts';
import { keyIdOf } from './keyring.ts';
import { createMemoryStore } from './memory-store.ts';
import { openOp } from './op.ts';
import { boxKeyPairFromSecret, openSealed } from './seal.ts';
import { cardOf, openReplica, seededRandom, testDevice } from './testkit.testkit.ts';

describe('keys are bound to their bytes', () => {
  it('[KEY-7] junk sealed under a real key id is not taken for the key: the victim still writes readable ops', async () => {
    const t = await team(['kb-a', 'kb-b']);
    const [ra, rb] = t.reps;
    const c = testDevice('kb-c');
    const head = await lastOp(ra!, t.doc);
    // b adds c by c's card (MEM-11), sealing 32 random bytes for c under the real key id.
    const add = membershipOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      {
        kind: MembershipKind.Add,
        subject: pubOf(c),
        subjectBox: boxOf(c),
        keys: [wrap(c, boxOf(c), t.key.id, seededRandom('junk')(32))],
        boxProof: await proofOf(c, t.doc),
      },
    );
    expect((await ra!.receive(add)).status).toBe('applied');
    const rc = await openReplica(c);
    await syncOps(ra!, rc, t.doc);
    expect(rc.members(t.doc).has(rc.deviceId!)).toBe(true);
    await rc.write(t.doc, EV, [{ field: EventField.Title, value: utf8('from c') }]);
    await syncOps(rc, ra!, t.doc);
    await syncOps(rc, rb!, t.doc);
    expect(titleOf(ra!, t.doc)).toBe('from c');
    expect(titleOf(rb!, t.doc)).toBe('from c');
  });

  it('[KEY-10][KEY-4] a device handed junk restates at once, and the next honest write gives it every key', async () => {
    const t = await team(['kh-a', 'kh-b']);
    const [ra] = t.reps;
    const c = testDevice('kh-c');
    const head = await lastOp(ra!, t.doc);
    const add = membershipOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      {
        kind: MembershipKind.Add,
        subject: pubOf(c),
        subjectBox: boxOf(c),
        keys: [wrap(c, boxOf(c), t.key.id, seededRandom('junk-2')(32))],
        boxProof: await proofOf(c, t.doc),
      },
    );
    expect((await ra!.receive(add)).status).toBe('applied');
    const rc = await openReplica(c);
    const before = await ra!.listOps(t.doc, 0, 1000);
    await rc.receiveBatch(before.map((o) => o.bytes));
    // c applied its own Add, found junk under the key everyone writes with, and rotated (KEY-10)
    // without being asked; c itself still cannot read the history.
    const own = (await rc.listOps(t.doc, 0, 1000)).filter((o) => o.author === rc.deviceId);
    expect(own.map((o) => decodeMembership(openOp(o.bytes).env.body).kind)).toEqual([MembershipKind.Rotate]);
    expect(titleOf(rc, t.doc)).toBeUndefined();
    // a has not written since: the key it holds is still the one c was handed junk for. Having
    // seen c's Rotate it uses no key c refused: it rotates, chaining what it holds (KEY-4, KEY-8).
    await syncOps(rc, ra!, t.doc);
    await ra!.write(t.doc, EV, [{ field: EventField.Notes, value: utf8('after c spoke') }]);
    await syncOps(ra!, rc, t.doc);
    expect(titleOf(rc, t.doc)).toBe('Start');
    const log = await rc.listOps(t.doc, 0, 1000);
    expect(log.filter((o) => o.body === 'locked')).toEqual([]);
  });

  it('[KEY-10][ERR-1] a restating Rotate whose commit fails is written before the next task', async () => {
    const t = await team(['kf-a', 'kf-b']);
    const [ra] = t.reps;
    const c = testDevice('kf-c');
    const head = await lastOp(ra!, t.doc);
    const add = membershipOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      {
        kind: MembershipKind.Add,
        subject: pubOf(c),
        subjectBox: boxOf(c),
        keys: [wrap(c, boxOf(c), t.key.id, seededRandom('junk-f')(32))],
        boxProof: await proofOf(c, t.doc),
      },
    );
    await ra!.receive(add);
    // c's store refuses the first commit of an op c wrote itself: the restating Rotate.
    let fail = true;
    const store = createMemoryStore({
      beforeCommit: (b) => {
        if (fail && b.ops?.some((o) => o.author === toHex(pubOf(c)))) {
          fail = false;
          throw new Error('QuotaExceededError');
        }
      },
    });
    const rc = await openReplica(c, { store });
    await syncOps(ra!, rc, t.doc);
    const ownOps = async () => (await rc.listOps(t.doc, 0, 1000)).filter((o) => o.author === rc.deviceId);
    expect(fail).toBe(false);
    expect(await ownOps()).toEqual([]);
    // Any next task (here an ordinary patch arriving) first restates, then runs.
    const w = await ra!.write(t.doc, EV, [{ field: EventField.Location, value: utf8('a') }]);
    expect((await rc.receive(w.bytes)).status).toBe('applied');
    const own = await ownOps();
    expect(own.map((o) => decodeMembership(openOp(o.bytes).env.body).kind)).toEqual([MembershipKind.Rotate]);
  });

  it('[KEY-10] honest devices never restate: adds, removals, invites, joins and reopens write no Rotate', async () => {
    const t = await team(['kq-a', 'kq-b', 'kq-c']);
    const [ra, rb, rc] = t.reps;
    const n = testDevice('kq-n');
    await ra!.addMember(t.doc, await cardOf(n, t.doc));
    await rb!.removeMember(t.doc, pubOf(t.devs[2]!));
    const inv = await ra!.createInvite(t.doc, 1_800_000_000_000_000);
    const j = await openReplica(testDevice('kq-j'));
    const rn = await openReplica(n);
    for (const [from, to] of [
      [ra, rb],
      [rb, ra],
      [ra, rc],
      [ra, rn],
      [ra, j],
    ] as const)
      await syncOps(from!, to!, t.doc);
    await j.joinWithInvite(t.doc, inv.op.id, inv.secret);
    await syncOps(j, ra!, t.doc);
    const store = createMemoryStore();
    const again = await openReplica(n, { store });
    await syncOps(ra!, again, t.doc);
    const reopened = await openReplica(n, { store });
    await reopened.idle();
    for (const r of [ra!, rb!, rc!, rn, j, reopened]) {
      await r.idle();
      const ops = await r.listOps(t.doc, 0, 10_000);
      const rotates = ops.filter(
        (o) => o.kind === 2 && decodeMembership(openOp(o.bytes).env.body).kind === MembershipKind.Rotate,
      );
      expect(rotates).toEqual([]);
    }
  });

  it('[KEY-10] a hostile Rotate that seals junk for one member is healed the same way', async () => {
    const t = await team(['kr-a', 'kr-b', 'kr-c']);
    const [ra, rb, rc] = t.reps;
    const [a, b, c] = t.devs;
    const head = await lastOp(ra!, t.doc);
    const fresh = seededRandom('kr-key')(32);
    const id = keyIdOf(fresh);
    // b introduces a key sealed for a and b, and junk for c under the same id.
    const rot = membershipOp(
      { by: b!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      {
        kind: MembershipKind.Rotate,
        subject: pubOf(b!),
        subjectBox: boxOf(b!),
        keys: [
          wrap(a!, boxOf(a!), id, fresh),
          wrap(b!, boxOf(b!), id, fresh),
          wrap(c!, boxOf(c!), id, seededRandom('kr-junk')(32)),
        ],
      },
    );
    expect((await rc!.receive(rot)).status).toBe('applied');
    await syncOps(rc!, ra!, t.doc);
    await syncOps(rc!, rb!, t.doc);
    await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('by a') }]);
    await syncOps(ra!, rc!, t.doc);
    expect(titleOf(rc!, t.doc)).toBe('by a');
  });

  it('[MEM-7][KEY-4] a Rotate sealed for all members but one is never used by honest writers', async () => {
    const t = await team(['rot-a', 'rot-b', 'rot-c']);
    const [ra, rb, rc] = t.reps;
    const [, b, c] = t.devs;
    const head = await lastOp(ra!, t.doc);
    const fresh = seededRandom('rot-key')(32);
    const id = keyIdOf(fresh);
    const rot = membershipOp(
      { by: b!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      {
        kind: MembershipKind.Rotate,
        subject: pubOf(b!),
        subjectBox: boxOf(b!),
        keys: [wrap(b!, boxOf(b!), id, fresh), wrap(c!, boxOf(c!), id, fresh)],
      },
    );
    expect((await rc!.receive(rot)).status).toBe('applied');
    await syncOps(rc!, ra!, t.doc);
    await syncOps(rc!, rb!, t.doc);
    await rc!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('by c') }]);
    await syncOps(rc!, ra!, t.doc);
    expect(titleOf(ra!, t.doc)).toBe('by c');
  });
});

describe('keys reach exactly the members', () => {
  it('[KEY-3] after two concurrent removals, neither removed device can read later writes', async () => {
    const t = await team(['cr-a', 'cr-b', 'cr-c', 'cr-d']);
    const [ra, rb, , rd] = t.reps;
    const [, , c, d] = t.devs;
    await ra!.removeMember(t.doc, pubOf(c!));
    await rb!.removeMember(t.doc, pubOf(d!));
    await syncOps(rb!, ra!, t.doc);
    await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('secret') }]);
    await syncOps(ra!, rd!, t.doc);
    expect(titleOf(rd!, t.doc)).toBe('Start');
  });

  it('[KEY-4] a device added concurrently with a removal reads the writes made after both', async () => {
    const t = await team(['ca-a', 'ca-b', 'ca-c']);
    const [ra, rb] = t.reps;
    const n = testDevice('ca-n');
    await ra!.addMember(t.doc, await cardOf(n, t.doc));
    await rb!.removeMember(t.doc, pubOf(t.devs[2]!));
    await syncOps(ra!, rb!, t.doc);
    await rb!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('for n') }]);
    const rn = await openReplica(n);
    await syncOps(rb!, rn, t.doc);
    expect(titleOf(rn, t.doc)).toBe('for n');
  });

  it("[MEM-11] an Add states a box key only with its device's own proof for this calendar", async () => {
    const t = await team(['bh-a', 'bh-b']);
    const [ra] = t.reps;
    const b = t.devs[1]!;
    const c = testDevice('bh-c');
    const other = await team(['bh-x']);
    const head = await lastOp(ra!, t.doc);
    const at = { by: b, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] };
    const add = (subjectBox: Uint8Array, boxProof: Uint8Array) =>
      membershipOp(at, { kind: MembershipKind.Add, subject: pubOf(c), subjectBox, boxProof });
    const before = ra!.root(t.doc);
    // b states its own box key for c: without a proof, with c's proof of c's key, with c's proof
    // for another calendar, with b's own signature. None is taken; state is unchanged.
    const tries = [
      [add(boxOf(b), new Uint8Array(0)), 'Malformed'],
      [add(boxOf(c), new Uint8Array(0)), 'Malformed'],
      [add(boxOf(b), await proofOf(c, t.doc)), 'BadSignature'],
      [add(boxOf(c), await proofOf(c, other.doc)), 'BadSignature'],
      [add(boxOf(b), await proofOf(b, t.doc)), 'BadSignature'],
    ] as const;
    for (const [op, code] of tries) {
      const r = await ra!.receive(op);
      expect(r.status).toBe('rejected');
      expect(r.error?.code).toBe(code);
    }
    expect(ra!.root(t.doc)).toBe(before);
    expect((await ra!.receive(add(boxOf(c), await proofOf(c, t.doc)))).status).toBe('applied');
    expect(toHex(ra!.members(t.doc).get(toHex(pubOf(c)) as DeviceId)!.box)).toBe(toHex(boxOf(c)));
    // The API checks a card before signing anything (ERR-2).
    const card = await cardOf(c, t.doc);
    await expect(
      ra!.addMember(t.doc, { ...card, box: boxOf(b), device: pubOf(testDevice('bh-d')) }),
    ).rejects.toMatchObject({ code: 'InvalidArgument' });
  });

  it('[MEM-8][KEY-3] removing the member that added a device leaves its box key: the new key reaches it', async () => {
    const t = await team(['bn-a', 'bn-b']);
    const [ra, rb] = t.reps;
    const b = t.devs[1]!;
    const v = testDevice('bn-v');
    await rb!.addMember(t.doc, await cardOf(v, t.doc));
    await syncOps(rb!, ra!, t.doc);
    await ra!.removeMember(t.doc, pubOf(b));
    await ra!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('after b') }]);
    const bBox = boxKeyPairFromSecret(b.boxSecret);
    const rv = await openReplica(v);
    await syncOps(ra!, rv, t.doc);
    expect(titleOf(rv, t.doc)).toBe('after b');
    // Nothing v did: v's box key is its own (signed), so a's writes reached v without a rotation.
    expect((await rv.listOps(t.doc, 0, 1000)).filter((o) => o.author === rv.deviceId)).toEqual([]);
    for (const o of await ra!.listOps(t.doc, 0, 1000)) {
      if (o.kind !== 2) continue;
      const m = decodeMembership(openOp(o.bytes).env.body);
      if (m.kind === MembershipKind.Remove)
        for (const k of m.keys) expect(openSealed(bBox, k.sealed)).toBeNull();
    }
  });
  it("[KEY-8] a device added concurrently with a removal reads the edits made under the removal's key", async () => {
    const t = await team(['mr-x', 'mr-y', 'mr-z']);
    const [rx, ry] = t.reps;
    const n = testDevice('mr-n');
    const E2 = '42'.repeat(16) as EntityId;
    await ry!.removeMember(t.doc, pubOf(t.devs[2]!));
    await ry!.write(t.doc, E2, [{ field: EventField.Title, value: utf8('under the new key') }]);
    await rx!.addMember(t.doc, await cardOf(n, t.doc));
    const rn = await openReplica(n);
    for (const [from, to] of [
      [ry, rx],
      [rx, ry],
      [rx, rn],
    ] as const)
      await syncOps(from!, to!, t.doc);
    // n writes first (it holds no key that reached everyone: it rotates), then x writes.
    await rn.write(t.doc, EV, [{ field: EventField.Location, value: utf8('n') }]);
    await syncOps(rn, rx!, t.doc);
    await rx!.write(t.doc, EV, [{ field: EventField.Notes, value: utf8('x') }]);
    await syncOps(rx!, rn, t.doc);
    expect(titleOf(rn, t.doc, E2)).toBe('under the new key');
  });
});

describe('long key histories', () => {
  it('[KEY-8] after hundreds of rotations an Add still fits in one op and the new device reads all history', async () => {
    const t = await team(['lk-a', 'lk-b']);
    const [ra] = t.reps;
    const b = t.devs[1]!;
    for (let i = 0; i < 150; i++) {
      await ra!.removeMember(t.doc, pubOf(b));
      await ra!.addMember(t.doc, await cardOf(b, t.doc));
    }
    const n = testDevice('lk-n');
    const add = await ra!.addMember(t.doc, await cardOf(n, t.doc));
    // One key sealed (the newest; it carries the older ones), not one per rotation.
    expect(add.bytes.length).toBeLessThan(4096);
    expect(add.bytes.length).toBeLessThan(LIMITS.maxOpBytes);
    const rn = await openReplica(n);
    await syncOps(ra!, rn, t.doc);
    expect(titleOf(rn, t.doc)).toBe('Start');
  }, 120_000);

  it('[MEM-9] the last two members removing each other leave a frozen calendar, alike everywhere', async () => {
    const t = await team(['fz-a', 'fz-b']);
    const [ra, rb] = t.reps;
    await ra!.removeMember(t.doc, pubOf(t.devs[1]!));
    await rb!.removeMember(t.doc, pubOf(t.devs[0]!));
    await syncOps(ra!, rb!, t.doc);
    await syncOps(rb!, ra!, t.doc);
    expect(ra!.members(t.doc).size).toBe(0);
    expect(rb!.members(t.doc).size).toBe(0);
    await expect(ra!.write(t.doc, EV, [{ field: 1, value: utf8('x') }])).rejects.toMatchObject({
      code: 'NotMember',
    });
    expect(ra!.root(t.doc)).toBe(rb!.root(t.doc));
    expect(titleOf(ra!, t.doc)).toBe(titleOf(rb!, t.doc));
    expect(toHex(new Uint8Array(0))).toBe('' as DeviceId);
  });
});
