// A Patch received alone is staged while its signature is still being checked (replica.ts
// `speculate`). These tests hold that to SIG-1: a forged op, whatever it would have done, leaves
// nothing behind: no op stored or waiting, no register, no change event, nothing asked for, no
// waiting op woken. Each case has a control with a genuine signature, so the test can fail.
// Likewise an own Patch is staged while it is being signed (local.ts `signAndApply`): what is
// stored and handed out is the signed op, and a failed signing leaves nothing (ERR-1).

import * as ed from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField, eventFromRecord } from './calendar.ts';
import { decodeMembership, encodeEnvelope, encodePatch } from './codec.ts';
import { createNobleCrypto } from './crypto.ts';
import type { DocId, EntityId } from './ids.ts';
import { keyIdOf } from './keyring.ts';
import { createMemoryStore } from './memory-store.ts';
import { openOp } from './op.ts';
import type { Replica } from './replica.ts';
import { Replica as ReplicaClass } from './replica.ts';
import { boxKeyPairFromSecret, openSealed } from './seal.ts';
import { OpKind } from './store.ts';
import {
  craftOp,
  deviceKeys,
  manualClock,
  openReplica,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

const E1 = '21'.repeat(16) as EntityId;

async function world(pendingLimit?: number) {
  const a = testDevice('spec-a');
  const b = testDevice('spec-b');
  const opts = pendingLimit === undefined ? {} : { pendingLimit };
  const ra = await openReplica(a, opts);
  const rb = await openReplica(b);
  const g = await ra.createCalendar({ name: 'Cal' });
  await ra.addMember(g.doc, await rb.deviceCard(g.doc));
  await ra.write(g.doc, E1, [{ field: EventField.Title, value: utf8('Lunch') }]);
  const ops = (await ra.listOps(g.doc, 0, 100)).map((o) => o.bytes);
  for (const o of ops) expect((await rb.receive(o)).status).toBe('applied');
  const gen = decodeMembership(openOp(ops[0]!).env.body);
  const contentKey = openSealed(boxKeyPairFromSecret(a.boxSecret), gen.keys[0]!.sealed)!;
  return { a, b, ra, rb, doc: g.doc, contentKey };
}

type World = Awaited<ReturnType<typeof world>>;

/** A title write by member b after ra's last op; `forged`: signed by a's key instead of b's. */
async function patchByB(w: World, forged: boolean, parents?: Uint8Array[]): Promise<Uint8Array> {
  const ops = await w.ra.listOps(w.doc, 0, 1000);
  const last = ops[ops.length - 1]!;
  return craftOp({
    secret: w.b.secret,
    doc: fromHex(w.doc),
    ctr: 1,
    kind: OpKind.Patch,
    wallTime: last.wallTime + 1,
    parents: parents ?? [fromHex(last.id)],
    body: encodePatch({ entity: fromHex(E1), writes: [{ field: EventField.Title, value: utf8('forged') }] }),
    key: { id: keyIdOf(w.contentKey), key: w.contentKey },
    ...(forged ? { signWith: (w.a as TestDevice).secret } : {}),
  });
}

function state(r: Replica, doc: DocId) {
  return JSON.stringify(
    { root: r.root(doc), seq: r.seq(doc), e: r.entities(doc), p: r.pendingCount(), m: r.missing(doc) },
    (_, v) => (v instanceof Uint8Array ? toHex(v) : v),
  );
}

describe('speculative staging of a received patch', () => {
  it('[SIG-1] a forged patch that would apply leaves no op, register or change event', async () => {
    const w = await world();
    const before = state(w.ra, w.doc);
    const events: unknown[] = [];
    w.ra.onChange((e) => events.push(e));
    const forged = await patchByB(w, true);
    const res = await w.ra.receive(forged);
    expect(res.status).toBe('rejected');
    expect(res.error?.code).toBe('BadSignature');
    expect(state(w.ra, w.doc)).toBe(before);
    expect(events).toEqual([]);
    expect((await w.ra.getOps(w.doc, [openOp(forged).id]))[0]).toBeUndefined();
    // Control: the same write, signed by its author, applies.
    const genuine = await patchByB(w, false);
    expect((await w.ra.receive(genuine)).status).toBe('applied');
    expect(eventFromRecord(w.ra.entity(w.doc, E1)!).title).toBe('forged');
    expect(events).toHaveLength(1);
  });

  it('[SIG-1][DAG-3] a forged patch with a missing parent does not wait and is not asked for', async () => {
    const w = await world();
    const ghost = new Uint8Array(32).fill(0xee);
    const before = state(w.ra, w.doc);
    const last = (await w.ra.listOps(w.doc, 0, 1000)).at(-1)!;
    const res = await w.ra.receive(await patchByB(w, true, [fromHex(last.id), ghost]));
    expect(res.error?.code).toBe('BadSignature');
    expect(state(w.ra, w.doc)).toBe(before);
    // Control: signed by its author, it waits for the ghost parent, which sync is asked for.
    const ok = await w.ra.receive(await patchByB(w, false, [fromHex(last.id), ghost]));
    expect(ok.status).toBe('pending');
    expect(w.ra.missing(w.doc)).toEqual([toHex(ghost)]);
  });

  it('[SIG-1][DAG-9] a forged patch refused for a full pending set adds nothing to what sync asks for', async () => {
    // A pending limit of 16 is also the per-author minimum: b fills it with 16 waiting ops.
    const w = await world(16);
    const last = (await w.ra.listOps(w.doc, 0, 1000)).at(-1)!;
    for (let i = 0; i < 16; i++) {
      const ghost = new Uint8Array(32).fill(i + 1);
      expect((await w.ra.receive(await patchByB(w, false, [fromHex(last.id), ghost]))).status).toBe(
        'pending',
      );
    }
    const before = state(w.ra, w.doc);
    const extra = new Uint8Array(32).fill(0xfe);
    const forged = await w.ra.receive(await patchByB(w, true, [fromHex(last.id), extra]));
    expect(forged.error?.code).toBe('BadSignature');
    expect(state(w.ra, w.doc)).toBe(before);
    // Control: signed by its author, it is refused for room and its missing parent is wanted.
    const genuine = await w.ra.receive(await patchByB(w, false, [fromHex(last.id), extra]));
    expect(genuine.error?.code).toBe('PendingFull');
    expect(w.ra.missing(w.doc)).toContain(toHex(extra));
  });

  it('[SIG-1][DAG-3] a forged copy of the op a waiting op needs wakes nothing; the genuine one does', async () => {
    const w = await world();
    const p = await w.rb.write(w.doc, E1, [{ field: EventField.Title, value: utf8('parent') }]);
    const c = await w.rb.write(w.doc, E1, [{ field: EventField.Title, value: utf8('child') }]);
    expect((await w.ra.receive(c.bytes)).status).toBe('pending');
    const before = state(w.ra, w.doc);
    // The parent's exact header and body, with a signature by another key over its id.
    const op = openOp(p.bytes);
    const sig = ed.sign(op.digest, w.a.secret);
    const forged = encodeEnvelope({ header: op.env.header, sig, body: op.env.body });
    expect(openOp(forged).id).toBe(p.id);
    const res = await w.ra.receive(forged);
    expect(res.error?.code).toBe('BadSignature');
    expect(state(w.ra, w.doc)).toBe(before);
    expect((await w.ra.receive(p.bytes)).status).toBe('applied');
    expect(w.ra.pendingCount()).toBe(0);
    expect(eventFromRecord(w.ra.entity(w.doc, E1)!).title).toBe('child');
  });

  it('[ERR-1][SIG-1] an own write stores and hands out its signed bytes; a failed signing leaves nothing', async () => {
    const w = await world();
    const keys = deviceKeys(w.a);
    let fail = false;
    const signer = {
      publicKey: keys.signer.publicKey,
      sign: async (m: Uint8Array) => {
        await Promise.resolve();
        if (fail) throw new Error('signer unavailable');
        return keys.signer.sign(m);
      },
    };
    const store = createMemoryStore();
    const r = await ReplicaClass.open({
      store,
      crypto: createNobleCrypto(),
      nowUs: manualClock(1_800_000_000_000_000).nowUs,
      random: w.a.random,
      device: { signer, box: keys.box },
    });
    for (const o of await w.ra.listOps(w.doc, 0, 100))
      expect((await r.receive(o.bytes)).status).toBe('applied');
    const events: unknown[] = [];
    r.onChange((e) => events.push(e));
    const ok = await r.write(w.doc, E1, [{ field: EventField.Title, value: utf8('signed') }]);
    const stored = (await r.getOps(w.doc, [ok.id]))[0]!;
    expect(stored.bytes).toEqual(ok.bytes);
    expect(openOp(ok.bytes).env.sig.some((x) => x !== 0)).toBe(true);
    // Another replica verifies and applies exactly what was handed out.
    expect((await w.rb.receive(ok.bytes)).status).toBe('applied');
    const before = state(r, w.doc);
    const seq = r.seq(w.doc);
    fail = true;
    await expect(r.write(w.doc, E1, [{ field: EventField.Title, value: utf8('lost') }])).rejects.toThrow(
      'signer unavailable',
    );
    expect(state(r, w.doc)).toBe(before);
    expect((await store.listOps(w.doc, seq, 10)).length).toBe(0);
    expect(events).toHaveLength(1);
    fail = false;
    const next = await r.write(w.doc, E1, [{ field: EventField.Title, value: utf8('again') }]);
    expect((await w.rb.receive(next.bytes)).status).toBe('applied');
    expect(eventFromRecord(w.rb.entity(w.doc, E1)!).title).toBe('again');
  });
});
