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
  pubOf,
  syncOps,
  team,
  titleOf,
  wrap,
} from './hostile.testkit.ts';
import type { DeviceId, EntityId } from './ids.ts';
import { keyIdOf } from './keyring.ts';
import { openOp } from './op.ts';
import { boxKeyPairFromSecret, openSealed } from './seal.ts';
import { openReplica, seededRandom, testDevice } from './testkit.testkit.ts';

describe('keys are bound to their bytes', () => {
  it('[KEY-7] junk sealed under a real key id is not taken for the key: the victim still writes readable ops', async () => {
    const t = await team(['kb-a', 'kb-b']);
    const [ra, rb] = t.reps;
    const c = testDevice('kb-c');
    const head = await lastOp(ra!, t.doc);
    // b adds c, sealing 32 random bytes for c under the real key id.
    const add = membershipOp(
      { by: t.devs[1]!, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      {
        kind: MembershipKind.Add,
        subject: pubOf(c),
        subjectBox: boxOf(c),
        keys: [wrap(c, boxOf(c), t.key.id, seededRandom('junk')(32))],
      },
    );
    expect((await ra!.receive(add)).status).toBe('applied');
    const rc = await openReplica(c);
    await syncOps(ra!, rc, t.doc);
    await rc.write(t.doc, EV, [{ field: EventField.Title, value: utf8('from c') }]);
    await syncOps(rc, ra!, t.doc);
    await syncOps(rc, rb!, t.doc);
    expect(titleOf(ra!, t.doc)).toBe('from c');
    expect(titleOf(rb!, t.doc)).toBe('from c');
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
    await ra!.addMember(t.doc, pubOf(n), boxOf(n));
    await rb!.removeMember(t.doc, pubOf(t.devs[2]!));
    await syncOps(ra!, rb!, t.doc);
    await rb!.write(t.doc, EV, [{ field: EventField.Title, value: utf8('for n') }]);
    const rn = await openReplica(n);
    await syncOps(rb!, rn, t.doc);
    expect(titleOf(rn, t.doc)).toBe('for n');
  });

  it("[MEM-8] a member cannot register its own box key for another device and so receive that device's keys", async () => {
    const t = await team(['bh-a', 'bh-b']);
    const [ra] = t.reps;
    const b = t.devs[1]!;
    const bAdd = await lastOp(ra!, t.doc);
    const opsBefore = await ra!.listOps(t.doc, 0, 1000);
    const addB = opsBefore.find((o) => o.kind === 2 && o.seq > 1)!;
    const c = testDevice('bh-c');
    await ra!.addMember(t.doc, pubOf(c), boxOf(c));
    // b adds c again with b's box key, parented right after b's own Add, stamped early.
    const hijack = membershipOp(
      { by: b, doc: t.doc, ctr: 1, wallTime: addB.wallTime + 1, parents: [addB.id] },
      { kind: MembershipKind.Add, subject: pubOf(c), subjectBox: boxOf(b) },
    );
    await ra!.receive(hijack);
    expect(bAdd).toBeDefined();
    await ra!.removeMember(t.doc, pubOf(b));
    const removal = decodeMembership(openOp((await lastOp(ra!, t.doc)).bytes).env.body);
    const bBox = boxKeyPairFromSecret(b.boxSecret);
    for (const k of removal.keys) expect(openSealed(bBox, k.sealed)).toBeNull();
  });
  it('[MEM-8] a box key a member states for a new device stops counting once that member is removed', async () => {
    const t = await team(['bn-a', 'bn-b']);
    const [ra] = t.reps;
    const b = t.devs[1]!;
    const v = testDevice('bn-v');
    const head = await lastOp(ra!, t.doc);
    // b adds a new device v, stating b's own box key for it.
    const add = membershipOp(
      { by: b, doc: t.doc, ctr: 1, wallTime: head.wallTime + 1, parents: [head.id] },
      { kind: MembershipKind.Add, subject: pubOf(v), subjectBox: boxOf(b) },
    );
    expect((await ra!.receive(add)).status).toBe('applied');
    await ra!.removeMember(t.doc, pubOf(b));
    const removal = decodeMembership(openOp((await lastOp(ra!, t.doc)).bytes).env.body);
    const bBox = boxKeyPairFromSecret(b.boxSecret);
    for (const k of removal.keys) expect(openSealed(bBox, k.sealed)).toBeNull();
  });
  it("[KEY-8] a device added concurrently with a removal reads the edits made under the removal's key", async () => {
    const t = await team(['mr-x', 'mr-y', 'mr-z']);
    const [rx, ry] = t.reps;
    const n = testDevice('mr-n');
    const E2 = '42'.repeat(16) as EntityId;
    await ry!.removeMember(t.doc, pubOf(t.devs[2]!));
    await ry!.write(t.doc, E2, [{ field: EventField.Title, value: utf8('under the new key') }]);
    await rx!.addMember(t.doc, pubOf(n), boxOf(n));
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
      await ra!.addMember(t.doc, pubOf(b), boxOf(b));
    }
    const n = testDevice('lk-n');
    const add = await ra!.addMember(t.doc, pubOf(n), boxOf(n));
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
