// Membership and keys: who may write is decided by the op's causal past, never by wall time;
// removal rotates the content key; concurrent add and remove resolve the same everywhere.

import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField, eventFromRecord } from './calendar.ts';
import { decodeMembership, encodeMembership, encodePatch } from './codec.ts';
import { createNobleCrypto } from './crypto.ts';
import type { DeviceId, DocId, EntityId, OpId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import { openOp } from './op.ts';
import { Replica } from './replica.ts';
import { OpKind } from './store.ts';
import {
  cardOf,
  craftOp,
  deviceKeys,
  manualClock,
  openReplica,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

const E1 = '21'.repeat(16) as EntityId;
const pub = (d: TestDevice) => deviceKeys(d).signer.publicKey;

async function sync(from: Replica, to: Replica, doc: DocId) {
  for (const o of await from.listOps(doc, 0, 10_000)) await to.receive(o.bytes);
}

async function trio() {
  const [a, b, c] = [testDevice('m-a'), testDevice('m-b'), testDevice('m-c')];
  const [ra, rb, rc] = await Promise.all([openReplica(a), openReplica(b), openReplica(c)]);
  const g = await ra.createCalendar({ name: 'Team' });
  await ra.addMember(g.doc, await cardOf(b, g.doc));
  await ra.addMember(g.doc, await cardOf(c, g.doc));
  await sync(ra, rb, g.doc);
  await sync(ra, rc, g.doc);
  return { a, b, c, ra, rb, rc, doc: g.doc };
}

describe('membership', () => {
  it('[MEM-1] the genesis author is the only member of a new calendar', async () => {
    const a = testDevice('m1');
    const ra = await openReplica(a);
    const g = await ra.createCalendar();
    expect([...ra.members(g.doc).keys()]).toEqual([ra.deviceId]);
  });

  it('[MEM-3] a remove beats a concurrent add; only an add made after seeing the remove restores', async () => {
    const { c, ra, rb, rc, doc } = await trio();
    // a removes c and adds it again, while b, concurrently, removes c (b never saw a's ops).
    await ra.removeMember(doc, pub(c));
    await ra.addMember(doc, await cardOf(c, doc));
    await rb.removeMember(doc, pub(c));
    await sync(ra, rb, doc);
    await sync(rb, ra, doc);
    expect(ra.root(doc)).toBe(rb.root(doc));
    expect(ra.members(doc).has(rc.deviceId!)).toBe(false);
    expect(rb.members(doc).has(rc.deviceId!)).toBe(false);
    // b, having seen the remove, adds c again: now c is back.
    await rb.addMember(doc, await cardOf(c, doc));
    await sync(rb, ra, doc);
    expect(ra.members(doc).has(rc.deviceId!)).toBe(true);
  });

  it('[MEM-2][MEM-5] a removed device cannot write after its removal, not even with a backdated wall_time', async () => {
    const { c, ra, rc, doc } = await trio();
    await ra.removeMember(doc, pub(c));
    await sync(ra, rc, doc); // c learns of its removal
    await expect(rc.write(doc, E1, [{ field: 1, value: utf8('x') }])).rejects.toMatchObject({
      code: 'NotMember',
    });
    // A crafted op by c that has the removal in its causal past, backdated as far as the rules allow.
    const head = (await rc.listOps(doc, 0, 1000)).at(-1)!;
    const own = (await rc.listOps(doc, 0, 1000)).filter((o) => o.author === rc.deviceId);
    const forged = craftOp({
      secret: c.secret,
      doc: fromHex(doc),
      ctr: own.length + 1,
      ...(own.length > 0 ? { prev: fromHex(own.at(-1)!.id) } : {}),
      kind: OpKind.Patch,
      wallTime: head.wallTime + 1,
      parents: [fromHex(head.id)],
      body: encodePatch({ entity: fromHex(E1), writes: [] }),
      key: { id: new Uint8Array(8), key: new Uint8Array(32) },
    });
    expect((await ra.receive(forged)).error?.code).toBe('NotMember');
    // Dated before the removal: the clock rule refuses it first (it must follow its parents).
    const backdated = craftOp({
      secret: c.secret,
      doc: fromHex(doc),
      ctr: 1,
      kind: OpKind.Patch,
      wallTime: 1,
      parents: [fromHex(head.id)],
      body: encodePatch({ entity: fromHex(E1), writes: [] }),
      key: { id: new Uint8Array(8), key: new Uint8Array(32) },
    });
    expect((await ra.receive(backdated)).status).toBe('rejected');
  });

  it("[MEM-6] an op concurrent with its author's removal is valid everywhere alike but changes no register", async () => {
    const { c, ra, rb, rc, doc } = await trio();
    const cWrite = await rc.write(doc, E1, [{ field: 1, value: utf8('from c') }]);
    await ra.removeMember(doc, pub(c));
    expect((await ra.receive(cWrite.bytes)).status).toBe('applied');
    await sync(ra, rb, doc);
    expect(rb.root(doc)).toBe(ra.root(doc));
    expect(rb.entity(doc, E1)).toBeUndefined();
    expect((await rb.getOps(doc, [cWrite.id]))[0]?.body).toBe('inert');
    // A write c made before its removal, that the remover had seen, stays.
    const { c: c2, ra: ra2, rc: rc2, doc: doc2 } = await trio();
    await rc2.write(doc2, E1, [{ field: 1, value: utf8('kept') }]);
    await sync(rc2, ra2, doc2);
    await ra2.removeMember(doc2, pub(c2));
    expect(eventFromRecord(ra2.entity(doc2, E1)!).title).toBe('kept');
  });

  it('[KEY-3] removal rotates the key: new ops use it, the removed device cannot read them, members read old and new', async () => {
    const { c, ra, rb, rc, doc } = await trio();
    await ra.write(doc, E1, [{ field: EventField.Title, value: utf8('before') }]);
    await ra.removeMember(doc, pub(c));
    const after = await ra.write(doc, E1, [{ field: EventField.Notes, value: utf8('secret plans') }]);
    await sync(ra, rb, doc);
    await sync(ra, rc, doc);
    const ev = eventFromRecord(rb.entity(doc, E1)!);
    expect(ev.title).toBe('before');
    expect(ev.notes).toBe('secret plans');
    const cs = eventFromRecord(rc.entity(doc, E1)!);
    expect(cs.title).toBe('before');
    expect(cs.notes).toBe('');
    expect((await rc.getOps(doc, [after.id]))[0]?.body).toBe('locked');
    expect(c.name).toBe('m-c');
  });

  it('[KEY-5] a device that joins later reads history: keys arrive with its add and locked ops open', async () => {
    const a = testDevice('k-a');
    const b = testDevice('k-b');
    const ra = await openReplica(a);
    const rb = await openReplica(b);
    const g = await ra.createCalendar({ name: 'Old' });
    await ra.write(g.doc, E1, [{ field: EventField.Title, value: utf8('history') }]);
    await ra.addMember(g.doc, await cardOf(b, g.doc));
    await sync(ra, rb, g.doc);
    expect(eventFromRecord(rb.entity(g.doc, E1)!).title).toBe('history');
    // Reverse: deliver the patch before b is a member of anything? It cannot apply (gated), then does.
    const rb2 = await openReplica(testDevice('k-b'));
    const ops = await ra.listOps(g.doc, 0, 100);
    await rb2.receive(ops[0]!.bytes);
    for (const o of [...ops].reverse()) await rb2.receive(o.bytes);
    expect(eventFromRecord(rb2.entity(g.doc, E1)!).title).toBe('history');
  });

  it('[KEY-6] a key learned after ops were stored locked unlocks them (keys for re-shared epochs)', async () => {
    const { ra, rb, doc } = await trio();
    const w = await ra.write(doc, E1, [{ field: EventField.Title, value: utf8('t') }]);
    // d is added by b with every key b holds; d receives the patch, then its add.
    const d = testDevice('m-d');
    const rd = await openReplica(d);
    await sync(ra, rb, doc);
    await rb.addMember(doc, await cardOf(d, doc));
    const all = await rb.listOps(doc, 0, 1000);
    for (const o of all) await rd.receive(o.bytes);
    expect((await rd.getOps(doc, [w.id as OpId]))[0]?.body).toBe('applied');
    expect(eventFromRecord(rd.entity(doc, E1)!).title).toBe('t');
  });
});

describe('clock', () => {
  it('[CLK-1] wall_time never repeats or goes back, across a clock jump back and a reload', async () => {
    const a = testDevice('clk');
    const store = createMemoryStore();
    const clock = manualClock(5_000_000);
    const ra = await openReplica(a, { store, clock });
    const g = await ra.createCalendar();
    const w1 = await ra.write(g.doc, E1, [{ field: 1, value: utf8('1') }]);
    clock.set(1_000); // the system clock jumps back
    const w2 = await ra.write(g.doc, E1, [{ field: 1, value: utf8('2') }]);
    const reopened = await openReplica(a, { store, clock });
    const w3 = await reopened.write(g.doc, E1, [{ field: 1, value: utf8('3') }]);
    const [o1, o2, o3] = await reopened.getOps(g.doc, [w1.id, w2.id, w3.id]);
    expect(o2!.wallTime).toBeGreaterThan(o1!.wallTime);
    expect(o3!.wallTime).toBeGreaterThan(o2!.wallTime);
    expect(o3!.ctr).toBe(o2!.ctr + 1);
    expect(await store.loadClock()).toBe(o3!.wallTime);
    expect(eventFromRecord(reopened.entity(g.doc, E1)!).title).toBe('3');
  });

  it('[CLK-4] an edit made after seeing another always wins, even from a device whose clock is behind', async () => {
    const a = testDevice('c-a');
    const b = testDevice('c-b');
    const ra = await openReplica(a, { clock: manualClock(9_000_000_000) });
    const rb = await openReplica(b, { clock: manualClock(1_000) });
    const g = await ra.createCalendar();
    await ra.addMember(g.doc, await cardOf(b, g.doc));
    await ra.write(g.doc, E1, [{ field: 1, value: utf8('ahead') }]);
    await sync(ra, rb, g.doc);
    await rb.write(g.doc, E1, [{ field: 1, value: utf8('seen and replaced') }]);
    await sync(rb, ra, g.doc);
    expect(eventFromRecord(ra.entity(g.doc, E1)!).title).toBe('seen and replaced');
    expect(eventFromRecord(ra.entity(g.doc, E1)!).conflicts.size).toBe(0);
  });
});

describe('memory bounds', () => {
  it('[STORE-9] with a tiny op-metadata cache, heads keep their membership and batches still apply', async () => {
    const a = testDevice('cache-a');
    const b = testDevice('cache-b');
    const d = testDevice('cache-d');
    const ra = await openReplica(a, { metaCacheLimit: 4 });
    const rb = await openReplica(b, { metaCacheLimit: 4 });
    const g = await ra.createCalendar({ name: 'C' });
    await ra.addMember(g.doc, await cardOf(b, g.doc));
    await sync(ra, rb, g.doc);
    // b adds d (a head only b has), while a writes 30 ops concurrently.
    await rb.addMember(g.doc, await cardOf(d, g.doc));
    for (let i = 0; i < 30; i++) await ra.write(g.doc, E1, [{ field: 1, value: utf8(`t${i}`) }]);
    const ops = (await ra.listOps(g.doc, 0, 1000)).map((o) => o.bytes);
    const res = await rb.receiveBatch(ops);
    expect(res.every((r) => r.status === 'applied' || r.status === 'duplicate')).toBe(true);
    expect(rb.heads(g.doc)).toHaveLength(2);
    expect(rb.members(g.doc).has(toHex(pub(d)) as DeviceId)).toBe(true);
    await rb.write(g.doc, E1, [{ field: 6, value: utf8('still a member') }]);
    expect(eventFromRecord(rb.entity(g.doc, E1)!).title).toBe('t29');
  });
});

describe('persistence', () => {
  it('[STORE-9] a replica reopened over its store has the same state, pending ops included, without replaying', async () => {
    const a = testDevice('p-a');
    const b = testDevice('p-b');
    const store = createMemoryStore();
    const ra = await openReplica(a);
    const g = await ra.createCalendar({ name: 'P' });
    await ra.addMember(g.doc, await cardOf(b, g.doc));
    const w1 = await ra.write(g.doc, E1, [{ field: 1, value: utf8('one') }]);
    const w2 = await ra.write(g.doc, E1, [{ field: 6, value: utf8('room') }]);
    const rb = await openReplica(b, { store });
    const ops = await ra.listOps(g.doc, 0, 100);
    for (const o of ops) if (o.id !== w1.id) await rb.receive(o.bytes); // w2 waits for w1
    expect(rb.pendingCount(g.doc)).toBe(1);
    const reopened = await openReplica(b, { store });
    expect(reopened.pendingCount(g.doc)).toBe(1);
    expect(reopened.root(g.doc)).toBe(rb.root(g.doc));
    await reopened.receive(w1.bytes);
    expect(reopened.pendingCount(g.doc)).toBe(0);
    expect(reopened.root(g.doc)).toBe(ra.root(g.doc));
    expect(eventFromRecord(reopened.entity(g.doc, E1)!).location).toBe('room');
    expect(w2.id).toBeTruthy();
  });
});

describe('invites', () => {
  async function invited(expiresInUs = 3_600_000_000, owner = 'i-a') {
    const a = testDevice(owner);
    const clockA = manualClock();
    const ra = await Replica.open({
      store: createMemoryStore(),
      crypto: createNobleCrypto(),
      nowUs: clockA.nowUs,
      random: a.random,
      device: deviceKeys(a),
      deviceName: 'Alice laptop',
    });
    const g = await ra.createCalendar({ name: 'Shared' });
    await ra.write(g.doc, E1, [{ field: EventField.Title, value: utf8('before the invite') }]);
    const inv = await ra.createInvite(g.doc, clockA.nowUs() + expiresInUs);
    return { a, ra, clockA, doc: g.doc, invite: inv };
  }

  async function joiner(name: string, clock = manualClock()) {
    const d = testDevice(name);
    return Replica.open({
      store: createMemoryStore(),
      crypto: createNobleCrypto(),
      nowUs: clock.nowUs,
      random: d.random,
      device: deviceKeys(d),
      deviceName: name,
    });
  }

  it('[INV-1][KEY-5][DEV-1] a device joins with an invite: it reads history, members see it and its name', async () => {
    const { ra, doc, invite } = await invited();
    const rb = await joiner('Bob phone');
    await sync(ra, rb, doc);
    expect(rb.members(doc).has(rb.deviceId!)).toBe(false);
    const join = await rb.joinWithInvite(doc, invite.op.id, invite.secret);
    expect(rb.members(doc).has(rb.deviceId!)).toBe(true);
    expect(eventFromRecord(rb.entity(doc, E1)!).title).toBe('before the invite');
    expect((await ra.receive(join.bytes)).status).toBe('applied');
    expect(ra.members(doc).has(rb.deviceId!)).toBe(true);
    expect(ra.memberName(doc, rb.deviceId!)).toBe('Bob phone');
    expect(rb.memberName(doc, ra.deviceId!)).toBe('Alice laptop');
    // Both write; both read each other.
    await rb.write(doc, E1, [{ field: EventField.Notes, value: utf8('from bob') }]);
    await sync(rb, ra, doc);
    expect(eventFromRecord(ra.entity(doc, E1)!).notes).toBe('from bob');
  });

  it('[INV-1] the joined device keeps its keys across a reload (they are sealed for it in its own add)', async () => {
    const { ra, doc, invite } = await invited();
    const d = testDevice('reload-b');
    const store = createMemoryStore();
    const rb = await openReplica(d, { store });
    await sync(ra, rb, doc);
    await rb.joinWithInvite(doc, invite.op.id, invite.secret);
    const again = await openReplica(d, { store });
    await again.write(doc, E1, [{ field: EventField.Location, value: utf8('here') }]);
    expect(eventFromRecord(again.entity(doc, E1)!).title).toBe('before the invite');
  });

  it('[INV-2] a tampered proof, a wrong secret or an invite of another calendar is InviteInvalid', async () => {
    const { ra, doc, invite } = await invited();
    const rb = await joiner('tamper');
    await sync(ra, rb, doc);
    await expect(rb.joinWithInvite(doc, invite.op.id, new Uint8Array(32).fill(9))).rejects.toMatchObject({
      code: 'InviteInvalid',
    });
    const join = await rb.joinWithInvite(doc, invite.op.id, invite.secret);
    // Flip a byte of the proof's signature inside the body: re-sign as the joiner would have to.
    const opened = openOp(join.bytes);
    const body = decodeMembership(opened.env.body);
    body.invite[40]! ^= 1;
    const last = (await ra.listOps(doc, 0, 100)).at(-1)!;
    const forged = craftOp({
      secret: testDevice('tamper').secret,
      doc: fromHex(doc),
      ctr: 1,
      kind: OpKind.Membership,
      wallTime: last.wallTime + 5,
      parents: [fromHex(last.id)],
      body: encodeMembership(body),
    });
    expect((await ra.receive(forged)).error?.code).toBe('InviteInvalid');
    // An invite of another calendar.
    const other = await invited(3_600_000_000, 'i-other');
    const rc = await joiner('wrong-cal');
    await sync(ra, rc, doc);
    await expect(rc.joinWithInvite(doc, other.invite.op.id, other.invite.secret)).rejects.toMatchObject({
      code: 'InviteInvalid',
    });
  });

  it('[INV-3] an add dated after the invite expired is refused by every replica', async () => {
    const { ra, doc, invite, clockA } = await invited(60_000_000);
    const late = manualClock(clockA.nowUs() + 120_000_000);
    const rb = await joiner('late', late);
    await sync(ra, rb, doc);
    await expect(rb.joinWithInvite(doc, invite.op.id, invite.secret)).rejects.toMatchObject({
      code: 'InviteExpired',
    });
  });

  it('[INV-4] an invite is used once: a second device using it after the first is refused', async () => {
    const { ra, doc, invite } = await invited();
    const rb = await joiner('first');
    await sync(ra, rb, doc);
    const j1 = await rb.joinWithInvite(doc, invite.op.id, invite.secret);
    await ra.receive(j1.bytes);
    const rc = await joiner('second');
    await sync(ra, rc, doc);
    await expect(rc.joinWithInvite(doc, invite.op.id, invite.secret)).rejects.toMatchObject({
      code: 'InviteUsed',
    });
    expect(ra.members(doc).has(rc.deviceId!)).toBe(false);
  });
});
