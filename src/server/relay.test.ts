// The relay in process with real engine replicas and real WebSockets on loopback: convergence,
// catch-up, and every kind of bad input getting its typed error while others keep syncing.

import { describe, expect, it } from 'vitest';
import { encodeEnvelope } from '../engine/codec.ts';
import {
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  eventFromRecord,
  fromHex,
  openOp,
} from '../engine/index.ts';
import { createOp } from '../engine/op.ts';
import { OpKind } from '../engine/store.ts';
import {
  makeDevice,
  random,
  randomEntity,
  sharedCalendar,
  type TestDevice,
  waitFor,
} from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';

const harness = useRelayHarness();

const relay = harness.relay;

const client = harness.client;

function titles(dev: TestDevice, doc: DocId): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of dev.replica.entities(doc)) {
    if (e.entity === '0'.repeat(32)) continue;
    out[e.entity] = eventFromRecord(e).title;
  }
  return out;
}

const session = harness.session;

describe('relay in process', () => {
  it('[SYNC-3][SYNC-5] two clients edit offline, reconnect and converge; a third catches up later', async () => {
    const r = await relay();
    const [a, b, c] = await Promise.all([makeDevice('a'), makeDevice('b'), makeDevice('c')]);
    const doc = await sharedCalendar(a, [b, c]);
    const ca = client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
    const cb = client(b, r);
    cb.follow(doc);
    cb.start();
    await waitFor(() => cb.status.state === 'synced' && b.replica.hasDoc(doc), 15_000, 'b synced');
    ca.stop();
    cb.stop();

    // Offline: concurrent edits to the same event and to different events.
    const shared = randomEntity();
    for (let i = 0; i < 20; i++) await writeTitle(a, doc, randomEntity(), `a-${i}`);
    for (let i = 0; i < 20; i++) await writeTitle(b, doc, randomEntity(), `b-${i}`);
    await writeTitle(a, doc, shared, 'from a');
    await writeTitle(b, doc, shared, 'from b');
    expect(a.replica.root(doc)).not.toBe(b.replica.root(doc));

    ca.start();
    cb.start();
    await waitFor(
      () =>
        ca.status.state === 'synced' &&
        cb.status.state === 'synced' &&
        a.replica.root(doc) === b.replica.root(doc),
      20_000,
      'a and b converge',
    );
    expect(titles(a, doc)).toEqual(titles(b, doc));
    expect(Object.keys(titles(a, doc))).toHaveLength(41);
    expect(a.replica.root(doc)).toBe(r.replica.root(doc));
    expect(ca.status.pending).toBe(0);

    const cc = client(c, r);
    cc.follow(doc);
    cc.start();
    await waitFor(
      () => cc.status.state === 'synced' && c.replica.root(doc) === a.replica.root(doc),
      20_000,
      'c catches up',
    );
    expect(titles(c, doc)).toEqual(titles(a, doc));
    // The cursor is persisted: it equals the relay's seq for the calendar.
    expect(c.persistence.cursors.get(doc)).toBe(r.replica.seq(doc));
  });

  it('[SYNC-6] reconciles heads when the relay lacks ops the outbox no longer holds', async () => {
    const r = await relay();
    const a = await makeDevice('a');
    const doc = await sharedCalendar(a, []);
    const ca = client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 10_000, 'a synced');
    ca.stop();
    // Ops written but lost from the outbox (e.g. a host that crashed between commit and enqueue).
    for (let i = 0; i < 5; i++) {
      await a.replica.write(doc, randomEntity() as EntityId, [
        { field: EventField.Title, value: encodeValue('text', `lost-${i}`) },
      ]);
    }
    expect(await a.persistence.countOutbox()).toBe(0);
    ca.start();
    await waitFor(
      () => r.replica.root(doc) === a.replica.root(doc) && ca.status.state === 'synced',
      15_000,
      'roots match',
    );
    expect(r.replica.seq(doc)).toBe(a.replica.seq(doc));
  });

  it('[SYNC-2][RELAY-2] a forged challenge signature gets AuthFailed; other clients carry on', async () => {
    const r = await relay();
    const a = await makeDevice('a');
    const doc = await sharedCalendar(a, []);
    const s = await session(a, r, { forge: true });
    const err = await s.waitFor((m) => m.type === 'error', 'auth error');
    expect(err).toMatchObject({ type: 'error', code: 'AuthFailed' });
    await waitFor(() => s.closed() !== undefined, 5000, 'closed');
    expect(s.closed()).toBe(4001);
    const ca = client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced' && r.replica.hasDoc(doc), 10_000, 'honest client syncs');
  });

  it('[SYNC-9][RELAY-3] malformed, oversize and text frames get typed errors and the connection carries on', async () => {
    const r = await relay({ maxFrameBytes: 64 * 1024, maxOpBytes: 32 * 1024 });
    const a = await makeDevice('a');
    const doc = await sharedCalendar(a, []);
    const s = await session(a, r);
    await s.waitFor((m) => m.type === 'welcome', 'welcome');
    s.sendRaw(random(200));
    s.sendRaw(new Uint8Array(100 * 1024)); // above the relay's frame limit, below ws's hard cap
    s.ws.send('hello');
    await waitFor(() => s.got.filter((m) => m.type === 'error').length >= 3, 10_000, 'three errors');
    const codes = s.got.filter((m) => m.type === 'error').map((m) => (m.type === 'error' ? m.code : ''));
    expect(codes).toEqual(['Malformed', 'TooLarge', 'Malformed']);
    // A malformed op inside a valid push: typed error, the valid op next to it is acknowledged.
    const ops = await a.replica.listOps(doc, 0, 10);
    s.send({ type: 'push', ops: [random(300), ops[0]!.bytes] });
    const ack = await s.waitFor((m) => m.type === 'ack', 'ack');
    expect(ack.type === 'ack' && ack.acks[0]!.op).toBe(ops[0]!.id);
    expect(s.got.filter((m) => m.type === 'error').length).toBe(4);
    expect(s.closed()).toBeUndefined();
  });

  it('[RELAY-2] a tampered op signature gets BadSignature naming the op', async () => {
    const r = await relay();
    const a = await makeDevice('a');
    const doc = await sharedCalendar(a, []);
    const s = await session(a, r);
    await s.waitFor((m) => m.type === 'welcome', 'welcome');
    const [g] = await a.replica.listOps(doc, 0, 1);
    const op = openOp(g!.bytes);
    const sig = op.env.sig.slice();
    sig[0] = sig[0]! ^ 0xff;
    const forged = encodeEnvelope({ ...op.env, sig });
    s.send({ type: 'push', ops: [forged] });
    const err = await s.waitFor((m) => m.type === 'error', 'error');
    expect(err).toMatchObject({ code: 'BadSignature', op: op.id });
    expect(r.replica.hasDoc(doc)).toBe(false);
  });

  it('[RELAY-2] a non-member cannot write or subscribe; members keep syncing', async () => {
    const r = await relay();
    const [a, mallory] = await Promise.all([makeDevice('a'), makeDevice('mallory')]);
    const doc = await sharedCalendar(a, []);
    const ca = client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 10_000, 'a synced');

    const s = await session(mallory, r);
    await s.waitFor((m) => m.type === 'welcome', 'welcome');
    s.send({ type: 'subscribe', doc, cursor: 0 });
    const subErr = await s.waitFor((m) => m.type === 'error', 'subscribe error');
    // A stranger hears what any unknown calendar gets (RELAY-18).
    expect(subErr).toMatchObject({ code: 'UnknownDoc', doc });
    // A correctly signed patch by a device that was never added.
    const heads = a.replica.heads(doc);
    const forged = await createOp(mallory.signer, random, {
      doc: fromHex(doc),
      ctr: 1,
      kind: OpKind.Patch,
      schema: 1,
      wallTime: Date.now() * 1000,
      prev: new Uint8Array(0),
      parents: heads.map(fromHex),
      body: random(40),
      key: { id: random(8), key: random(32) },
    });
    s.send({ type: 'push', ops: [forged.bytes] });
    await waitFor(() => s.got.filter((m) => m.type === 'error').length >= 2, 10_000, 'push error');
    expect(s.got.filter((m) => m.type === 'error')[1]).toMatchObject({ code: 'UnknownDoc', op: forged.id });
    expect((await r.replica.getOps(doc, [forged.id]))[0]).toBeUndefined();

    await writeTitle(a, doc, randomEntity(), 'still works');
    ca.kick();
    await waitFor(
      () => r.replica.root(doc) === a.replica.root(doc) && ca.status.pending === 0,
      10_000,
      'a still syncs',
    );
  });

  it('[RELAY-4] per-device rate limit answers RateLimited with a retry hint; the client retries', async () => {
    const r = await relay({ rateOpsPerSec: 50, rateBurst: 10 });
    const a = await makeDevice('a');
    const doc = await sharedCalendar(a, []);
    for (let i = 0; i < 30; i++) await writeTitle(a, doc, randomEntity(), `t-${i}`);
    const ca = client(a, r);
    const errors: string[] = [];
    ca.onStatus((st) => {
      if (st.lastError !== null) errors.push(st.lastError.code);
    });
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 20_000, 'all ops through');
    expect(errors).toContain('RateLimited');
    expect(r.replica.seq(doc)).toBe(a.replica.seq(doc));
  });

  it('[RELAY-7][SYNC-8] future-dated ops are held, the device learns its offset, and they apply when due', async () => {
    const r = await relay({ maxSkewMs: 60_000 });
    const hourUs = 3600 * 1_000_000;
    const [a, fast] = await Promise.all([makeDevice('a'), makeDevice('fast')]);
    const doc = await sharedCalendar(a, [fast]);
    const ca = client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 10_000, 'a synced');
    const cf = client(fast, r);
    cf.follow(doc);
    cf.start();
    await waitFor(() => cf.status.state === 'synced', 10_000, 'fast synced');

    fast.clockSkewUs = hourUs; // its clock jumps an hour ahead
    const id = await writeTitle(fast, doc, randomEntity(), 'from the future');
    cf.kick();
    await waitFor(() => cf.status.clockWarning, 10_000, 'clock warning');
    expect(cf.status.clockOffsetUs).toBeGreaterThan(hourUs - 60_000_000);
    expect((await r.replica.getOps(doc, [id]))[0]).toBeUndefined();
    expect(r.store.isHeld(id)).toBe(true);
    expect(await fast.persistence.countOutbox()).toBe(1); // not acknowledged yet: not lost either

    // The relay's time comes: the op is applied, acknowledged and forwarded.
    r.clockOffsetUs = hourUs;
    await r.relay.releaseDue();
    await waitFor(async () => (await a.replica.getOps(doc, [id]))[0] !== undefined, 10_000, 'forwarded to a');
    await waitFor(async () => (await fast.persistence.countOutbox()) === 0, 10_000, 'acked to fast');
    expect(r.store.isHeld(id)).toBe(false);
  });
});
