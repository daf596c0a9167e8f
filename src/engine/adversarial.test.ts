// Bad input never wins: forged, malformed, out-of-rule and hostile ops are refused with a typed
// error, leave the replica's state as it was, and never make the public API throw.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField, eventFromRecord } from './calendar.ts';
import { decodeMembership, encodeMembership, encodePatch, LIMITS, MembershipKind } from './codec.ts';
import { createWebCrypto, type SubtleLike } from './crypto.ts';
import { CALENDAR_ENTITY, type DocId, type EntityId, type OpId } from './ids.ts';
import { keyIdOf } from './keyring.ts';
import { createMemoryStore } from './memory-store.ts';
import { openOp } from './op.ts';
import { type ApplyResult, Replica } from './replica.ts';
import { Role } from './roles.ts';
import { boxKeyPairFromSecret, openSealed } from './seal.ts';
import { OpKind } from './store.ts';
import {
  type CraftInput,
  cardOf,
  craftOp,
  deviceKeys,
  manualClock,
  openReplica,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

const E1 = '11'.repeat(16) as EntityId;
const webCrypto = createWebCrypto(globalThis.crypto.subtle as unknown as SubtleLike);

interface World {
  a: TestDevice;
  b: TestDevice;
  ra: Replica;
  rb: Replica;
  doc: DocId;
  genesis: OpId;
  /** All ops so far, in apply order. */
  ops: Uint8Array[];
  contentKey: Uint8Array;
}

/** A calendar owned by a, with b added, both replicas in sync, and one event. */
async function world(): Promise<World> {
  const a = testDevice('adv-a');
  const b = testDevice('adv-b');
  const ra = await openReplica(a);
  const rb = await openReplica(b);
  const g = await ra.createCalendar({ name: 'Cal' });
  await ra.addMember(g.doc, await cardOf(b, g.doc));
  await ra.write(g.doc, E1, [{ field: EventField.Title, value: utf8('Lunch') }]);
  const ops = (await ra.listOps(g.doc, 0, 100)).map((o) => o.bytes);
  for (const o of ops) expect((await rb.receive(o)).status).toBe('applied');
  const gen = decodeMembership(openOp(ops[0]!).env.body);
  const contentKey = openSealed(boxKeyPairFromSecret(a.boxSecret), gen.keys[0]!.sealed)!;
  return { a, b, ra, rb, doc: g.doc, genesis: g.id, ops, contentKey };
}

function snapshot(r: Replica, doc: DocId) {
  return JSON.stringify(
    { root: r.root(doc), e: r.entities(doc), p: r.pendingCount(), ev: r.evidence(doc) },
    (_, v) => (v instanceof Uint8Array ? toHex(v) : v),
  );
}

function expectRejected(res: ApplyResult, code: string) {
  expect(res.status).toBe('rejected');
  expect(res.error?.code).toBe(code);
}

/** An encrypted Patch by member b, after `last`, with the calendar's key: the base of most forgeries below. */
function memberOp(w: World, last: { id: string; wallTime: number }, over: Partial<CraftInput>): Uint8Array {
  return craftOp({
    secret: w.b.secret,
    doc: fromHex(w.doc),
    ctr: 1,
    kind: OpKind.Patch,
    wallTime: last.wallTime + 1,
    parents: [fromHex(last.id)],
    body: encodePatch({ entity: fromHex(E1), writes: [] }),
    key: { id: keyIdOf(w.contentKey), key: w.contentKey },
    ...over,
  });
}

async function lastOf(r: Replica, doc: DocId) {
  const ops = await r.listOps(doc, 0, 1000);
  return ops[ops.length - 1]!;
}

describe('adversarial input', () => {
  it('[OP-2][SIG-1] every single-bit flip of a valid op is rejected or provably harmless', async () => {
    const w = await world();
    const write = await w.rb.write(w.doc, E1, [{ field: EventField.Location, value: utf8('Cafe') }]);
    const fresh = async () => {
      const r = await Replica.open({
        store: createMemoryStore(),
        crypto: webCrypto,
        nowUs: manualClock().nowUs,
        random: w.a.random,
        device: deviceKeys(w.a),
      });
      for (const o of w.ops) await r.receive(o);
      return r;
    };
    let r = await fresh();
    const before = snapshot(r, w.doc);
    let rejected = 0;
    let harmless = 0;
    for (let bit = 0; bit < write.bytes.length * 8; bit++) {
      const flipped = write.bytes.slice();
      flipped[bit >> 3]! ^= 1 << (bit & 7);
      const res = await r.receive(flipped);
      if (res.status === 'rejected') {
        rejected++;
        expect(res.error).toBeDefined();
        continue;
      }
      // Harmless: the flip hit bytes outside the signed header/body (envelope padding); the op
      // is the original, stored in canonical form.
      expect(res.status).toBe('applied');
      expect(res.id).toBe(write.id);
      expect((await r.getOps(w.doc, [write.id]))[0]?.bytes).toEqual(write.bytes);
      harmless++;
      r = await fresh();
    }
    expect(snapshot(r, w.doc)).toBe(before);
    expect(rejected).toBeGreaterThan(write.bytes.length * 8 * 0.9);
    expect(rejected + harmless).toBe(write.bytes.length * 8);
  });

  it('[SIG-1] an op signed by another key than its author field is rejected', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const bytes = memberOp(w, last, {
      signWith: w.a.secret,
    });
    expectRejected(await w.ra.receive(bytes), 'BadSignature');
  });

  it('[SIG-2] a signature over the header without the domain tag does not verify', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const bytes = memberOp(w, last, {
      noDomain: true,
    });
    expectRejected(await w.ra.receive(bytes), 'BadSignature');
  });

  it('[MEM-2] an op by a device that is not a member in its causal past is rejected', async () => {
    const w = await world();
    const mallory = testDevice('mallory');
    const last = await lastOf(w.ra, w.doc);
    const before = snapshot(w.ra, w.doc);
    const bytes = craftOp({
      secret: mallory.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      kind: OpKind.Patch,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: encodePatch({ entity: fromHex(E1), writes: [{ field: 1, value: utf8('pwned') }] }),
      key: { id: keyIdOf(w.contentKey), key: w.contentKey },
    });
    expectRejected(await w.ra.receive(bytes), 'NotMember');
    // A non-member cannot add itself either.
    const selfAdd = craftOp({
      secret: mallory.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      kind: OpKind.Membership,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: encodeMembership({
        kind: MembershipKind.Add,
        subject: deviceKeys(mallory).signer.publicKey,
        subjectBox: new Uint8Array(32).fill(1),
        keys: [],
        invite: new Uint8Array(0),
        sealed: new Uint8Array(0),
        expires: 0,
        boxProof: new Uint8Array(0),
        role: Role.Unstated,
      }),
    });
    expectRejected(await w.ra.receive(selfAdd), 'NotMember');
    expect(snapshot(w.ra, w.doc)).toBe(before);
  });

  it('[DAG-3] an op whose parents never arrive waits in the pending set and never applies', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const ghost = new Uint8Array(32).fill(0xee);
    const bytes = memberOp(w, last, {
      parents: [fromHex(last.id), ghost],
      body: encodePatch({ entity: fromHex(E1), writes: [{ field: 1, value: utf8('later') }] }),
    });
    const res = await w.ra.receive(bytes);
    expect(res.status).toBe('pending');
    expect(w.ra.missing(w.doc)).toEqual([toHex(ghost)]);
    // Other ops keep applying; the pending op does not.
    await w.ra.write(w.doc, E1, [{ field: EventField.Notes, value: utf8('n') }]);
    expect(eventFromRecord(w.ra.entity(w.doc, E1)!).title).toBe('Lunch');
    expect(w.ra.pendingCount(w.doc)).toBe(1);
  });

  it('[DAG-2] parent cycles cannot be formed: ids are hashes of the header that names the parents', async () => {
    // An op would have to contain its own hash (or a hash of an op containing its hash). We check
    // the observable consequence: an op naming itself-like ids stays pending and blocks nothing.
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const make = (parent: Uint8Array) => memberOp(w, last, { parents: [parent] });
    const x = make(new Uint8Array(32).fill(1));
    const y = make(fromHex(openOp(x).id));
    const x2 = make(fromHex(openOp(y).id)); // names y, which names x: but x2 is not x
    expect(openOp(x2).id).not.toBe(openOp(x).id);
    expect((await w.ra.receive(y)).status).toBe('pending');
    expect((await w.ra.receive(x2)).status).toBe('pending');
    expect((await w.ra.receive(x)).status).toBe('pending');
    expect(w.ra.heads(w.doc)).toEqual([last.id]);
  });

  it('[DAG-4] the pending set is bounded: past the bound an op is refused with PendingFull', async () => {
    const a = testDevice('pend-a');
    const ra = await openReplica(a, { pendingLimit: 3 });
    const other = testDevice('pend-b');
    const g = await (await openReplica(other)).createCalendar();
    expect((await ra.receive(g.bytes)).status).toBe('applied');
    const results: ApplyResult[] = [];
    for (let i = 0; i < 4; i++) {
      const bytes = craftOp({
        secret: other.secret,
        doc: fromHex(g.doc),
        ctr: 2,
        kind: OpKind.Membership,
        wallTime: 10 + i,
        prev: new Uint8Array(32).fill(i + 1),
        body: new Uint8Array(0),
      });
      results.push(await ra.receive(bytes));
    }
    expect(results.slice(0, 3).map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);
    expectRejected(results[3]!, 'PendingFull');
  });

  it('[CLK-2] an op not later than one of its parents is rejected', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const bytes = memberOp(w, last, {
      wallTime: last.wallTime,
    });
    expectRejected(await w.ra.receive(bytes), 'ClockRule');
  });

  it("[CLK-3] counters must grow by one along the author's chain, and prev must be the author's", async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc); // a's latest op
    const base = {
      doc: fromHex(w.doc),
      kind: OpKind.Patch,
      wallTime: last.wallTime + 10,
      body: encodePatch({ entity: fromHex(E1), writes: [] }),
      key: { id: keyIdOf(w.contentKey), key: w.contentKey },
    };
    expectRejected(
      await w.ra.receive(craftOp({ ...base, secret: w.a.secret, ctr: last.ctr + 2, prev: fromHex(last.id) })),
      'ChainRule',
    );
    expectRejected(
      await w.ra.receive(craftOp({ ...base, secret: w.b.secret, ctr: last.ctr + 1, prev: fromHex(last.id) })),
      'ChainRule',
    );
    expectRejected(
      await w.ra.receive(craftOp({ ...base, secret: w.b.secret, ctr: 1, prev: fromHex(last.id) })),
      'ChainRule',
    );
    expectRejected(
      await w.ra.receive(craftOp({ ...base, secret: w.b.secret, ctr: 0, parents: [fromHex(last.id)] })),
      'ChainRule',
    );
  });

  it('[LIM-1] oversize and truncated input is rejected with a typed error and never throws', async () => {
    const w = await world();
    const before = snapshot(w.ra, w.doc);
    expectRejected(await w.ra.receive(new Uint8Array(LIMITS.maxOpBytes + 1)), 'TooLarge');
    const op = w.ops[2]!;
    for (let n = 0; n < op.length; n++) {
      const res = await w.ra.receive(op.subarray(0, n));
      expect(res.status).toBe('rejected');
    }
    const tooManyParents = craftOp({
      secret: w.b.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      kind: OpKind.Patch,
      wallTime: 99,
      parents: Array.from({ length: LIMITS.maxParents + 1 }, (_, i) => new Uint8Array(32).fill(i)),
      body: new Uint8Array(0),
      key: { id: new Uint8Array(8), key: new Uint8Array(32) },
    });
    expectRejected(await w.ra.receive(tooManyParents), 'TooLarge');
    expect(snapshot(w.ra, w.doc)).toBe(before);
  });

  it('[LIM-1] random bytes never throw out of receive()', async () => {
    const w = await world();
    const before = snapshot(w.ra, w.doc);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), async (bytes) => {
        const res = await w.ra.receive(bytes);
        expect(res.status).toBe('rejected');
      }),
      { numRuns: 2000 },
    );
    // Structured garbage: a valid op with a random byte range overwritten.
    const op = w.ops[2]!;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(op.length - 1),
        fc.uint8Array({ minLength: 1, maxLength: 16 }),
        async (at, junk) => {
          const b = op.slice();
          b.set(junk.subarray(0, b.length - at), at);
          const res = await w.ra.receive(b);
          expect(['rejected', 'duplicate']).toContain(res.status);
        },
      ),
      { numRuns: 1000 },
    );
    expect(snapshot(w.ra, w.doc)).toBe(before);
  });

  it('[OP-5] unsupported format versions and snapshot ops are refused as Unsupported', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const base = {
      secret: w.b.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: new Uint8Array(0),
      key: { id: keyIdOf(w.contentKey), key: w.contentKey },
    };
    expectRejected(await w.ra.receive(craftOp({ ...base, kind: OpKind.Patch, format: 2 })), 'Unsupported');
    expectRejected(await w.ra.receive(craftOp({ ...base, kind: OpKind.Snapshot })), 'Unsupported');
  });

  it('[OP-4][OP-3] a genesis op must have no predecessors, and only a genesis op may be of kind Genesis', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const gbody = encodeMembership({
      kind: MembershipKind.Genesis,
      subject: deviceKeys(w.b).signer.publicKey,
      subjectBox: new Uint8Array(32).fill(2),
      keys: [],
      invite: new Uint8Array(0),
      sealed: new Uint8Array(0),
      expires: 0,
      boxProof: new Uint8Array(0),
      role: Role.Unstated,
    });
    const withParent = craftOp({
      secret: w.b.secret,
      doc: new Uint8Array(0),
      ctr: 1,
      kind: OpKind.Membership,
      wallTime: 5,
      parents: [fromHex(last.id)],
      body: gbody,
    });
    expectRejected(await w.ra.receive(withParent), 'Malformed');
    const genesisInside = craftOp({
      secret: w.b.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      kind: OpKind.Membership,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: gbody,
    });
    expectRejected(await w.ra.receive(genesisInside), 'Malformed');
    const unsorted = craftOp({
      secret: w.b.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      kind: OpKind.Patch,
      wallTime: last.wallTime + 1,
      parents: [new Uint8Array(32).fill(9), new Uint8Array(32).fill(1)],
      sortParents: false,
      body: new Uint8Array(0),
      key: { id: new Uint8Array(8), key: new Uint8Array(32) },
    });
    expectRejected(await w.ra.receive(unsorted), 'Malformed');
  });

  it('[DAG-6] an equivocating device: both ops kept, evidence recorded, replicas converge', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const fork = (title: string) =>
      memberOp(w, last, {
        wallTime: last.wallTime + 5,
        body: encodePatch({ entity: fromHex(E1), writes: [{ field: 1, value: utf8(title) }] }),
      });
    const x = fork('X');
    const y = fork('Y');
    const rc = await openReplica(testDevice('adv-c'));
    for (const o of w.ops) await rc.receive(o);
    expect((await w.ra.receive(x)).status).toBe('applied');
    expect((await w.ra.receive(y)).status).toBe('applied');
    expect((await rc.receive(y)).status).toBe('applied');
    expect((await rc.receive(x)).status).toBe('applied');
    const ev = w.ra.evidence(w.doc);
    expect(ev).toHaveLength(1);
    expect(ev[0]!.ops.sort()).toEqual([openOp(x).id, openOp(y).id].sort());
    expect(rc.evidence(w.doc)).toEqual(ev);
    expect(rc.root(w.doc)).toBe(w.ra.root(w.doc));
    expect(rc.heads(w.doc)).toHaveLength(2);
  });

  it('[OP-6] a body that does not decrypt is kept but inert; its descendants stay valid', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const wrongKey = craftOp({
      secret: w.b.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      kind: OpKind.Patch,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: encodePatch({ entity: fromHex(E1), writes: [{ field: 1, value: utf8('garbled') }] }),
      key: { id: keyIdOf(w.contentKey), key: new Uint8Array(32).fill(42) },
    });
    const res = await w.ra.receive(wrongKey);
    expect(res.status).toBe('applied');
    expect((await w.ra.getOps(w.doc, [res.id!]))[0]?.body).toBe('inert');
    expect(eventFromRecord(w.ra.entity(w.doc, E1)!).title).toBe('Lunch');
    // A later op builds on it and applies normally.
    await w.ra.write(w.doc, E1, [{ field: EventField.Title, value: utf8('Dinner') }]);
    expect(eventFromRecord(w.ra.entity(w.doc, E1)!).title).toBe('Dinner');
  });

  it("[ENC-2] a ciphertext moved into another author's op does not decrypt there", async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const original = openOp(last.bytes);
    expect(original.header.kind).toBe(OpKind.Patch);
    const moved = craftOp({
      secret: w.b.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      kind: OpKind.Patch,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: new Uint8Array(0),
      key: { id: original.header.keyId, key: w.contentKey },
      cipher: { body: original.env.body, nonce: original.header.nonce },
    });
    const res = await w.ra.receive(moved);
    expect(res.status).toBe('applied');
    expect((await w.ra.getOps(w.doc, [res.id!]))[0]?.body).toBe('inert');
  });

  it('[VAL-1][LWW-6] a write of the wrong type to a known field makes the op inert; unknown fields are kept', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const key = { id: keyIdOf(w.contentKey), key: w.contentKey };
    const bad = craftOp({
      secret: w.b.secret,
      doc: fromHex(w.doc),
      ctr: 1,
      kind: OpKind.Patch,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: encodePatch({
        entity: fromHex(E1),
        writes: [{ field: EventField.AllDay, value: new Uint8Array([7]) }],
      }),
      key,
    });
    const r1 = await w.ra.receive(bad);
    expect((await w.ra.getOps(w.doc, [r1.id!]))[0]?.body).toBe('inert');
    const future = craftOp({
      secret: w.b.secret,
      doc: fromHex(w.doc),
      ctr: 2,
      prev: fromHex(r1.id!),
      kind: OpKind.Patch,
      wallTime: last.wallTime + 2,
      body: encodePatch({ entity: fromHex(E1), writes: [{ field: 99, value: new Uint8Array([1, 2, 3]) }] }),
      key,
    });
    expect((await w.ra.receive(future)).status).toBe('applied');
    const ev = eventFromRecord(w.ra.entity(w.doc, E1)!);
    expect(ev.unknown.get(99)).toEqual(new Uint8Array([1, 2, 3]));
    expect(ev.allDay).toBe(false);
  });

  it('[ERR-1] a storage failure rejects the op with Storage and leaves memory as it was', async () => {
    const a = testDevice('store-a');
    let fail = false;
    const store = createMemoryStore({
      beforeCommit: () => {
        if (fail) throw new Error('QuotaExceededError');
      },
    });
    const ra = await openReplica(a, { store });
    const g = await ra.createCalendar({ name: 'x' });
    const before = snapshot(ra, g.doc);
    fail = true;
    await expect(ra.write(g.doc, E1, [{ field: 1, value: utf8('t') }])).rejects.toMatchObject({
      code: 'Storage',
    });
    expect(snapshot(ra, g.doc)).toBe(before);
    fail = false;
    await ra.write(g.doc, E1, [{ field: 1, value: utf8('t') }]);
    const reopened = await openReplica(a, { store });
    expect(snapshot(reopened, g.doc)).toBe(snapshot(ra, g.doc));
  });
});

describe('batched apply', () => {
  it('[DAG-7][ERR-1] a failed batch commit rejects the whole run with Storage and rolls memory back', async () => {
    const w = await world();
    const writes: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) {
      writes.push((await w.ra.write(w.doc, E1, [{ field: EventField.Notes, value: utf8(`n${i}`) }])).bytes);
    }
    let fail = true;
    const store = createMemoryStore({
      beforeCommit: (b) => {
        if (fail && (b.ops?.length ?? 0) > 1) throw new Error('QuotaExceededError');
      },
    });
    const rc = await openReplica(testDevice('adv-b'), { store });
    for (const o of w.ops) await rc.receive(o);
    const before = snapshot(rc, w.doc);
    const res = await rc.receiveBatch([...writes, new Uint8Array([1, 2, 3])]);
    expect(res.slice(0, 5).map((r) => r.error?.code)).toEqual(Array(5).fill('Storage'));
    expect(res[5]!.error?.code).toBe('Malformed');
    expect(snapshot(rc, w.doc)).toBe(before);
    fail = false;
    const again = await rc.receiveBatch(writes);
    expect(again.map((r) => r.status)).toEqual(Array(5).fill('applied'));
    expect(rc.root(w.doc)).toBe(w.ra.root(w.doc));
    expect(eventFromRecord(rc.entity(w.doc, E1)!).notes).toBe('n4');
  });

  it('[DAG-7][DAG-6] equivocation inside one batch is recorded as when applied one by one', async () => {
    const w = await world();
    const last = await lastOf(w.ra, w.doc);
    const fork = (title: string) =>
      memberOp(w, last, {
        wallTime: last.wallTime + 5,
        body: encodePatch({ entity: fromHex(E1), writes: [{ field: 1, value: utf8(title) }] }),
      });
    const res = await w.ra.receiveBatch([fork('X'), fork('Y')]);
    expect(res.map((r) => r.status)).toEqual(['applied', 'applied']);
    expect(w.ra.evidence(w.doc)[0]?.ops).toHaveLength(2);
  });
});

describe('local API misuse', () => {
  it('[ERR-2] invalid arguments and unknown calendars are typed errors', async () => {
    const w = await world();
    await expect(w.ra.write('ff'.repeat(16) as DocId, E1, [])).rejects.toMatchObject({ code: 'UnknownDoc' });
    await expect(w.ra.write(w.doc, 'nope' as EntityId, [])).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    await expect(
      w.ra.write(w.doc, E1, [{ field: EventField.AllDay, value: utf8('yes') }]),
    ).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(
      w.ra.write(w.doc, E1, [
        { field: 1, value: null },
        { field: 1, value: null },
      ]),
    ).rejects.toMatchObject({ code: 'InvalidArgument' });
    const relay = await openReplica(undefined);
    await expect(relay.createCalendar()).rejects.toMatchObject({ code: 'InvalidArgument' });
    expect(CALENDAR_ENTITY).toHaveLength(32);
  });
});
