// Rules of docs/PROTOCOL.md not covered by the scenario suites: encodings, keys, root, registers.

import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from './bytes.ts';
import { EventField, eventFromRecord } from './calendar.ts';
import { decodeMembership, encodePatch } from './codec.ts';
import { createBestCrypto, type SubtleLike } from './crypto.ts';
import { TAG_ROOT, taggedHash } from './hash.ts';
import type { DeviceId, DocId, EntityId, OpId } from './ids.ts';
import { deviceFingerprint } from './invite.ts';
import { introducedKeyId, keyIdOf } from './keyring.ts';
import { compareWrites, MAX_CONCURRENT_WRITES, mergeWrite } from './lww.ts';
import { openOp } from './op.ts';
import type { Replica } from './replica.ts';
import { boxKeyPairFromSecret, openSealed, seal } from './seal.ts';
import { OpKind, type RegisterRecord, type WriteRecord } from './store.ts';
import {
  cardOf,
  craftOp,
  deviceKeys,
  openReplica,
  seededRandom,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

const E1 = '31'.repeat(16) as EntityId;
const pub = (d: TestDevice) => deviceKeys(d).signer.publicKey;

async function sync(from: Replica, to: Replica, doc: DocId) {
  for (const o of await from.listOps(doc, 0, 10_000)) await to.receive(o.bytes);
}

async function pair() {
  const a = testDevice('r-a');
  const b = testDevice('r-b');
  const ra = await openReplica(a);
  const rb = await openReplica(b);
  const g = await ra.createCalendar({ name: 'R' });
  await ra.addMember(g.doc, await cardOf(b, g.doc));
  await sync(ra, rb, g.doc);
  return { a, b, ra, rb, doc: g.doc, genesis: g };
}

describe('encoding and keys', () => {
  it('[OP-3] prev repeated among the parents is refused', async () => {
    const { a, ra, doc } = await pair();
    const last = (await ra.listOps(doc, 0, 100)).at(-1)!;
    const bytes = craftOp({
      secret: a.secret,
      doc: fromHex(doc),
      ctr: last.ctr + 1,
      prev: fromHex(last.id),
      parents: [fromHex(last.id)],
      kind: OpKind.Patch,
      wallTime: last.wallTime + 1,
      body: new Uint8Array(0),
      key: { id: new Uint8Array(8), key: new Uint8Array(32) },
    });
    expect((await ra.receive(bytes)).error?.code).toBe('Malformed');
  });

  it('[OP-7] an op of a newer body schema is applied; the fields this reader knows are read', async () => {
    const { b, ra, rb, doc, genesis } = await pair();
    const last = (await rb.listOps(doc, 0, 100)).at(-1)!;
    const gen = decodeMembership(openOp(genesis.bytes).env.body);
    const key = openSealed(boxKeyPairFromSecret(testDevice('r-a').boxSecret), gen.keys[0]!.sealed)!;
    const bytes = craftOp({
      secret: b.secret,
      doc: fromHex(doc),
      ctr: 1,
      parents: [fromHex(last.id)],
      kind: OpKind.Patch,
      schema: 7,
      wallTime: last.wallTime + 1,
      body: encodePatch({
        entity: fromHex(E1),
        writes: [
          { field: EventField.Title, value: utf8('from the future') },
          { field: 4000, value: utf8('recurrence rule') },
        ],
      }),
      key: { id: keyIdOf(key), key },
    });
    expect((await ra.receive(bytes)).status).toBe('applied');
    const ev = eventFromRecord(ra.entity(doc, E1)!);
    expect(ev.title).toBe('from the future');
    expect(ev.unknown.get(4000)).toEqual(utf8('recurrence rule'));
  });

  it('[ENC-1] bodies are ciphertext under a fresh nonce: the plaintext never appears in the op', async () => {
    const { ra, doc } = await pair();
    const title = 'Dentist appointment with Dr. Jones';
    const w1 = await ra.write(doc, E1, [{ field: EventField.Title, value: utf8(title) }]);
    const w2 = await ra.write(doc, E1, [{ field: EventField.Title, value: utf8(title) }]);
    for (const w of [w1, w2]) expect(Buffer.from(w.bytes).includes(Buffer.from(title))).toBe(false);
    const [o1, o2] = [openOp(w1.bytes), openOp(w2.bytes)];
    expect(toHex(o1.header.nonce)).not.toBe(toHex(o2.header.nonce));
    expect(o1.header.nonce).toHaveLength(24);
    expect(o1.env.body.length).toBeGreaterThanOrEqual(16);
  });

  it('[OP-1] an opened op keeps its own copy: changing the buffer it came from changes nothing', async () => {
    const { ra, doc } = await pair();
    const w = await ra.write(doc, E1, [{ field: EventField.Title, value: utf8('Lunch') }]);
    const wire = w.bytes.slice();
    const op = openOp(wire);
    const before = {
      ...op.header,
      bytes: op.bytes.slice(),
      sig: op.env.sig.slice(),
      body: op.env.body.slice(),
    };
    const nonce = op.header.nonce.slice();
    wire.fill(0);
    expect(op.header.nonce).toEqual(nonce);
    expect(op.bytes).toEqual(before.bytes);
    expect(op.bytes).toEqual(w.bytes);
    expect(op.env.sig).toEqual(before.sig);
    expect(op.env.body).toEqual(before.body);
    expect(op.header.author).toEqual(before.author);
  });

  it('[KEY-1] the genesis introduces the first content key, sealed for its author; patches name it', async () => {
    const a = testDevice('k1');
    const ra = await openReplica(a);
    const g = await ra.createCalendar();
    const body = decodeMembership(openOp(g.bytes).env.body);
    expect(body.keys).toHaveLength(1);
    expect(body.keys[0]!.recipient).toEqual(pub(a));
    const key = openSealed(boxKeyPairFromSecret(a.boxSecret), body.keys[0]!.sealed)!;
    expect(key).toHaveLength(32);
    // KEY-7: the key id is bound to the key bytes.
    expect(body.keys[0]!.keyId).toEqual(keyIdOf(key));
    const w = await ra.write(g.doc, E1, [{ field: 1, value: utf8('x') }]);
    expect(openOp(w.bytes).header.keyId).toEqual(keyIdOf(key));
  });

  it('[KEY-2] a sealed box opens only for its recipient and only unaltered', () => {
    const random = seededRandom('seal');
    const alice = boxKeyPairFromSecret(random(32));
    const eve = boxKeyPairFromSecret(random(32));
    const secret = random(32);
    const s1 = seal(alice.publicKey, secret, random);
    const s2 = seal(alice.publicKey, secret, random);
    expect(openSealed(alice, s1)).toEqual(secret);
    expect(toHex(s1)).not.toBe(toHex(s2)); // fresh ephemeral key and nonce each time
    expect(openSealed(eve, s1)).toBeNull();
    for (const i of [0, 40, 60, s1.length - 1]) {
      const t = s1.slice();
      t[i]! ^= 1;
      expect(openSealed(alice, t)).toBeNull();
    }
    expect(openSealed(alice, s1.subarray(0, 50))).toBeNull();
  });

  it('[KEY-4] after a rotation, writers encrypt with the newest key they hold', async () => {
    const { b, ra, rb, doc } = await pair();
    const c = testDevice('r-c');
    await ra.addMember(doc, await cardOf(c, doc));
    const rm = await ra.removeMember(doc, pub(c));
    await sync(ra, rb, doc);
    const w = await rb.write(doc, E1, [{ field: 1, value: utf8('after') }]);
    expect(toHex(openOp(w.bytes).header.keyId)).toBe(
      introducedKeyId(decodeMembership(openOp(rm.bytes).env.body)),
    );
    expect(b.name).toBe('r-b');
  });

  it('[MEM-4] any member may add and remove devices', async () => {
    const { ra, rb, doc } = await pair();
    const d = testDevice('r-d');
    await rb.addMember(doc, await cardOf(d, doc));
    await sync(rb, ra, doc);
    expect(ra.members(doc).has(toHex(pub(d)) as DeviceId)).toBe(true);
    await rb.removeMember(doc, pub(d));
    await sync(rb, ra, doc);
    expect(ra.members(doc).has(toHex(pub(d)) as DeviceId)).toBe(false);
  });
});

describe('crypto providers', () => {
  it('[SIG-1] WebCrypto is chosen where it has Ed25519, @noble otherwise; both judge signatures alike', async () => {
    const subtle = globalThis.crypto.subtle as unknown as SubtleLike;
    const web = await createBestCrypto(subtle);
    const noble = await createBestCrypto(undefined);
    const broken = await createBestCrypto({
      importKey: () => Promise.reject(new Error('no Ed25519')),
      verify: () => Promise.reject(new Error('no Ed25519')),
      sign: () => Promise.reject(new Error('no Ed25519')),
    });
    expect(web.name).toBe('WebCrypto Ed25519');
    expect(noble.name).toBe('@noble/ed25519');
    expect(broken.name).toBe('@noble/ed25519');
    const d = testDevice('crypto');
    const signer = deviceKeys(d).signer;
    const msg = utf8('message');
    const sig = await signer.sign(msg);
    for (const c of [web, noble]) {
      expect(await c.verify(signer.publicKey, sig, msg)).toBe(true);
      expect(await c.verify(signer.publicKey, sig, utf8('other'))).toBe(false);
      const bad = sig.slice();
      bad[10]! ^= 1;
      expect(await c.verify(signer.publicKey, bad, msg)).toBe(false);
      expect(await c.verify(new Uint8Array(32), sig, msg)).toBe(false);
    }
  });
});

describe('device fingerprints', () => {
  it('[DEV-2] a fingerprint is 16 Crockford base32 characters in groups of four, stable and distinct', () => {
    const f1 = deviceFingerprint(pub(testDevice('fp-1')));
    expect(f1).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(deviceFingerprint(pub(testDevice('fp-1')))).toBe(f1);
    expect(deviceFingerprint(pub(testDevice('fp-2')))).not.toBe(f1);
  });
});

describe('root and registers', () => {
  it('[DAG-5] the root is SHA-256 over the tag and the sorted heads, and tracks the op set', async () => {
    const { ra, rb, doc } = await pair();
    const expected = (r: Replica) =>
      toHex(taggedHash(TAG_ROOT, concatBytes(...r.heads(doc).sort().map(fromHex))));
    expect(ra.root(doc)).toBe(expected(ra));
    expect(rb.root(doc)).toBe(ra.root(doc));
    const before = ra.root(doc);
    await ra.write(doc, E1, [{ field: 1, value: utf8('x') }]);
    await rb.write(doc, E1, [{ field: 6, value: utf8('y') }]);
    expect(ra.root(doc)).not.toBe(before);
    expect(ra.root(doc)).not.toBe(rb.root(doc));
    await sync(ra, rb, doc);
    await sync(rb, ra, doc);
    expect(ra.heads(doc)).toHaveLength(2);
    expect(ra.root(doc)).toBe(rb.root(doc));
    expect(ra.root(doc)).toBe(expected(ra));
  });

  it('[LWW-2] null is a write: clearing a field, deleting an event and undoing the delete', async () => {
    const { ra, doc } = await pair();
    await ra.write(doc, E1, [
      { field: EventField.Title, value: utf8('Gym') },
      { field: EventField.Location, value: utf8('Downtown') },
    ]);
    await ra.write(doc, E1, [{ field: EventField.Location, value: null }]);
    expect(eventFromRecord(ra.entity(doc, E1)!).location).toBe('');
    await ra.write(doc, E1, [{ field: EventField.Deleted, value: new Uint8Array([1]) }]);
    expect(eventFromRecord(ra.entity(doc, E1)!).deleted).toBe(true);
    await ra.write(doc, E1, [{ field: EventField.Deleted, value: new Uint8Array([0]) }]);
    const ev = eventFromRecord(ra.entity(doc, E1)!);
    expect(ev.deleted).toBe(false);
    expect(ev.title).toBe('Gym');
  });

  it('[LWW-3] concurrent edits of different fields of one event both survive', async () => {
    const { ra, rb, doc } = await pair();
    await ra.write(doc, E1, [{ field: EventField.Title, value: utf8('Standup') }]);
    await rb.write(doc, E1, [{ field: EventField.Location, value: utf8('Room 4') }]);
    await sync(ra, rb, doc);
    await sync(rb, ra, doc);
    for (const r of [ra, rb]) {
      const ev = eventFromRecord(r.entity(doc, E1)!);
      expect([ev.title, ev.location]).toEqual(['Standup', 'Room 4']);
      expect(ev.conflicts.size).toBe(0);
    }
  });

  it('[LWW-4] concurrent edits of one field: the newest wins and the loser is kept as a conflict', async () => {
    const { ra, rb, doc } = await pair();
    await ra.write(doc, E1, [{ field: EventField.Title, value: utf8('A title') }]);
    await rb.write(doc, E1, [{ field: EventField.Title, value: utf8('B title') }]);
    await sync(ra, rb, doc);
    await sync(rb, ra, doc);
    const ev = eventFromRecord(ra.entity(doc, E1)!);
    const writes = ev.conflicts.get(EventField.Title)!;
    expect(writes.map((w) => w.value).sort()).toEqual(['A title', 'B title']);
    expect(ev.title).toBe(writes[0]!.value);
    // Restoring the loser: writing it again after seeing both resolves the conflict everywhere.
    await ra.write(doc, E1, [{ field: EventField.Title, value: utf8(writes[1]!.value as string) }]);
    await sync(ra, rb, doc);
    const after = eventFromRecord(rb.entity(doc, E1)!);
    expect(after.title).toBe(writes[1]!.value);
    expect(after.conflicts.size).toBe(0);
  });

  it('[LWW-5] at most 32 losing concurrent writes are kept, the greatest ones; the winner is exact', () => {
    let reg: RegisterRecord | undefined;
    const all: WriteRecord[] = [];
    for (let i = 0; i < 50; i++) {
      const author = toHex(new Uint8Array(32).fill(i)) as DeviceId;
      const w: WriteRecord = {
        value: utf8(`v${i}`),
        wallTime: 1000 + ((i * 37) % 50),
        author,
        ctr: 1,
        op: toHex(new Uint8Array(32).fill(200 - i)) as OpId,
        vv: { [author]: 1 },
      };
      all.push(w);
      reg = mergeWrite(reg, w, 1) ?? reg;
    }
    const sorted = [...all].sort((x, y) => compareWrites(y, x));
    expect(reg!.writes).toHaveLength(MAX_CONCURRENT_WRITES + 1);
    expect(reg!.writes.map((w) => w.op)).toEqual(sorted.slice(0, MAX_CONCURRENT_WRITES + 1).map((w) => w.op));
  });
});
