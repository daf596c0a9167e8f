// The relay as an attacker finds it: decode bombs before auth, held ops that try to skip
// admission, pending floods from strangers, Want amplification, a spoofed Host header, probes for
// which calendars exist, duplicate pushes and log floods (docs/PROTOCOL.md §14, issue 10).
// Each test fails on a relay without the rule it names.

import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type DocId, fromHex, type OpId, toHex } from '../engine/index.ts';
import { createOp } from '../engine/op.ts';
import { OpKind } from '../engine/store.ts';
import { aliasedPush } from '../sync/bombs.testkit.ts';
import type { SyncMessage } from '../sync/messages.ts';
import { authMessage } from '../sync/messages-auth.ts';
import { decodeMessage, encodeMessage } from '../sync/messages-codec.ts';
import { createLogger } from './log.ts';
import {
  makeDevice,
  type RawSession,
  random,
  randomEntity,
  sharedCalendar,
  type TestDevice,
  type TestRelay,
  waitFor,
} from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';

const harness = useRelayHarness();
const MIN_US = 60_000_000;

async function session(dev: TestDevice, r: TestRelay): Promise<RawSession> {
  const s = await harness.session(dev, r);
  await s.waitFor((m) => m.type === 'welcome', 'welcome');
  return s;
}

const errorsOf = (s: RawSession, from = 0) =>
  s.got.slice(from).filter((m): m is Extract<SyncMessage, { type: 'error' }> => m.type === 'error');

/** A socket that never authenticates: records what the relay sends and when it closes. */
async function stranger(r: TestRelay, headers: Record<string, string> = {}) {
  const ws = new WebSocket(r.url, { headers });
  ws.binaryType = 'arraybuffer';
  const got: SyncMessage[] = [];
  let closed: number | undefined;
  ws.on('message', (d: ArrayBuffer) => got.push(decodeMessage(new Uint8Array(d))));
  ws.on('close', (code) => {
    closed = code;
  });
  await new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
  });
  await waitFor(() => got.length > 0, 5000, 'challenge');
  return { ws, got, closed: () => closed };
}

/** A calendar of `a` with members, synced to the relay by a's client. */
async function syncedCalendar(r: TestRelay, a: TestDevice, others: TestDevice[] = []): Promise<DocId> {
  const doc = await sharedCalendar(a, others);
  await writeTitle(a, doc, randomEntity(), 'dentist');
  const ca = harness.client(a, r);
  ca.start();
  await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 15_000, 'a synced');
  ca.stop();
  return doc;
}

describe('relay under attack', () => {
  it('[SYNC-12] before Welcome the relay decodes nothing but Auth: an aliased bomb closes the socket unread', async () => {
    const r = await harness.relay();
    const s = await stranger(r);
    const bomb = aliasedPush(60_000, 60 * 1024);
    expect(bomb.length).toBeLessThan(400 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    s.ws.send(bomb);
    await waitFor(() => s.closed() !== undefined, 5000, 'closed');
    expect(performance.now() - t0).toBeLessThan(1000);
    // Above the pre-auth frame budget ws itself cuts it off as it arrives (1009).
    expect(s.closed()).toBe(1009);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    // Small enough to read, but not an Auth: refused unread, socket closed (4004).
    const t = await stranger(r);
    t.ws.send(aliasedPush(200, 16));
    await waitFor(() => t.closed() !== undefined, 5000, 'closed');
    expect(t.closed()).toBe(4004);
    expect(t.got.find((m) => m.type === 'error')).toMatchObject({ code: 'AuthRequired' });
  });

  it('[RELAY-11] a held op is admitted again at release: a member removed meanwhile cannot lock the owner out', async () => {
    const r = await harness.relay();
    const [a, m] = await Promise.all([makeDevice('owner'), makeDevice('mallory')]);
    const doc = await syncedCalendar(r, a, [m]);
    const cm = harness.client(m, r);
    cm.follow(doc);
    cm.start();
    await waitFor(() => cm.status.state === 'synced' && m.replica.hasDoc(doc), 15_000, 'm synced');
    cm.stop();
    // Mallory, 10 minutes ahead, removes the owner; the relay holds the op.
    m.clockSkewUs = 10 * MIN_US;
    const evil = await m.replica.removeMember(doc, a.signer.publicKey);
    const sm = await session(m, r);
    sm.send({ type: 'push', ops: [evil.bytes] });
    await sm.waitFor((x) => x.type === 'held', 'held');
    sm.close();
    // The owner removes Mallory first.
    a.track(await a.replica.removeMember(doc, m.signer.publicKey));
    const ca = harness.client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 15_000, 'removal stored');
    expect(r.replica.members(doc).has(m.id)).toBe(false);
    r.clockOffsetUs = 11 * MIN_US;
    await r.relay.releaseDue();
    expect((await r.replica.getOps(doc, [evil.id]))[0]).toBeUndefined();
    expect(r.replica.members(doc).has(a.id)).toBe(true);
    expect(r.store.heldCount()).toBe(0);
  });

  it('[RELAY-12] an op dated beyond the hold horizon is refused, not held', async () => {
    const r = await harness.relay();
    const a = await makeDevice('a');
    const doc = await syncedCalendar(r, a);
    a.clockSkewUs = 365 * 24 * 60 * MIN_US;
    const far = await a.replica.write(doc, randomEntity() as never, []);
    const s = await session(a, r);
    s.send({ type: 'push', ops: [far.bytes] });
    const e = await s.waitFor((x) => (x.type === 'error' || x.type === 'held') && 'op' in x, 'answer');
    expect(e).toMatchObject({ type: 'error', code: 'ClockRule', op: far.id });
    expect(r.store.heldCount()).toBe(0);
  });

  it('[RELAY-13] a stranger’s ops for calendars the relay does not hold, or with invented parents, are refused unstored', async () => {
    const r = await harness.relay();
    const a = await makeDevice('a');
    const doc = await syncedCalendar(r, a);
    const s = await makeDevice('stranger');
    const own = await s.replica.createCalendar({ name: 'x' });
    for (let i = 0; i < 40; i++) await writeTitle(s, own.doc, randomEntity(), `t${i}`);
    const recs = (await s.replica.listOps(own.doc, 1, 1000)).map((x) => x.bytes);
    const invented = await createOp(s.signer, random, {
      doc: fromHex(doc),
      ctr: 1,
      kind: OpKind.Patch,
      schema: 1,
      wallTime: Date.now() * 1000,
      prev: new Uint8Array(0),
      parents: [random(32)],
      body: random(40),
      key: { id: random(8), key: random(32) },
    });
    const ss = await session(s, r);
    ss.send({ type: 'push', ops: [...recs, invented.bytes] });
    await waitFor(() => errorsOf(ss).length >= recs.length + 1, 10_000, 'all refused');
    expect(new Set(errorsOf(ss).map((e) => e.code))).toEqual(new Set(['UnknownDoc']));
    expect(ss.got.some((x) => x.type === 'want')).toBe(false); // no missing ids for strangers
    expect(r.store.pendingCountAll()).toBe(0);
  });

  it('[RELAY-13] a member’s out-of-order ops wait within the author’s pending budget', async () => {
    const r = await harness.relay({ maxPendingPerAuthor: 5 });
    const a = await makeDevice('a');
    const doc = await syncedCalendar(r, a);
    const hidden = await writeTitle(a, doc, randomEntity(), 'never pushed');
    void hidden;
    const later: { id: OpId; bytes: Uint8Array }[] = [];
    for (let i = 0; i < 8; i++) later.push(await a.replica.write(doc, randomEntity() as never, []));
    const s = await session(a, r);
    s.send({ type: 'push', ops: later.map((x) => x.bytes) });
    await waitFor(() => errorsOf(s).length >= 3, 10_000, 'over budget');
    expect(errorsOf(s).map((e) => e.code)).toEqual(['PendingFull', 'PendingFull', 'PendingFull']);
    await waitFor(() => r.store.pendingCountAll() === 5, 10_000, 'five pending');
    await new Promise((res) => setTimeout(res, 200));
    expect(r.store.pendingCountAll()).toBe(5);
  });

  it('[RELAY-13] on start the relay drops stored pending ops of calendars it does not hold', async () => {
    const r = await harness.relay();
    const dataDir = r.dataDir;
    const orphan = toHex(random(16)) as DocId;
    await r.store.commit({
      doc: orphan,
      pendingAdd: [{ id: toHex(random(32)) as OpId, doc: orphan, bytes: random(300), missing: [] }],
    });
    expect(r.store.pendingCountAll()).toBe(1);
    await r.close();
    const r2 = await harness.relay({ dataDir });
    expect(r2.store.pendingCountAll()).toBe(0);
  });

  it('[RELAY-14] Want ids are deduplicated: an op named 4,096 times is sent once', async () => {
    const r = await harness.relay();
    const a = await makeDevice('a');
    const doc = await syncedCalendar(r, a);
    const id = a.replica.heads(doc)[0]!;
    const s = await session(a, r);
    s.send({ type: 'want', doc, ids: new Array(4096).fill(id) });
    s.send({ type: 'want', doc, ids: new Array(4096).fill(id) });
    await s.waitFor((x) => x.type === 'ops', 'answer');
    await new Promise((res) => setTimeout(res, 300));
    const sent = s.got.flatMap((x) => (x.type === 'ops' ? x.ops : []));
    expect(sent.length).toBeLessThanOrEqual(2);
  });

  it('[RELAY-17] Auth is checked against the relay’s own origins, not the Host header a client sends', async () => {
    const r = await harness.relay();
    const a = await makeDevice('a');
    const s = await stranger(r, { host: 'evil.example' });
    const ch = s.got[0]!;
    if (ch.type !== 'challenge') throw new Error('no challenge');
    const sig = await a.signer.sign(authMessage(ch.challenge, 'evil.example'));
    s.ws.send(encodeMessage({ type: 'auth', version: 1, device: a.id, sig, deviceTime: Date.now() * 1000 }));
    await waitFor(() => s.closed() !== undefined, 5000, 'closed');
    expect(s.got.some((m) => m.type === 'welcome')).toBe(false);
    expect(s.closed()).toBe(4001);
  });

  it('[RELAY-18] a stranger cannot tell whether a calendar exists; /health tells it nothing', async () => {
    const r = await harness.relay();
    const a = await makeDevice('a');
    const doc = await syncedCalendar(r, a);
    const m = await makeDevice('stranger');
    const s = await session(m, r);
    const other = toHex(random(16)) as DocId;
    for (const d of [doc, other]) {
      s.send({ type: 'subscribe', doc: d, cursor: 0 });
      s.send({ type: 'heads', doc: d, root: '00'.repeat(32), heads: [] });
      s.send({ type: 'want', doc: d, ids: [toHex(random(32)) as OpId] });
    }
    await waitFor(() => errorsOf(s).length >= 6, 10_000, 'answers');
    const shape = (e: { code: string; message: string }) => `${e.code}: ${e.message}`;
    const errs = errorsOf(s);
    expect(errs.slice(0, 3).map(shape)).toEqual(errs.slice(3, 6).map(shape));
    const health = (await (await fetch(`http://127.0.0.1:${r.port}/health`)).json()) as object;
    expect(Object.keys(health)).toEqual(['status']);
  });

  it('[SYNC-4] an op pushed twice on one connection gets exactly one answer', async () => {
    const r = await harness.relay();
    const a = await makeDevice('a');
    const doc = await syncedCalendar(r, a);
    const op = await a.replica.write(doc, randomEntity() as never, []);
    const s = await session(a, r);
    const answersFor = (id: OpId) =>
      s.got.reduce(
        (n, x) =>
          n +
          (x.type === 'ack' ? x.acks.filter((k) => k.op === id).length : 0) +
          (x.type === 'error' && x.op === id ? 1 : 0),
        0,
      );
    // Fresh: twice in a frame and again in the next frame.
    s.send({ type: 'push', ops: [op.bytes, op.bytes] });
    s.send({ type: 'push', ops: [op.bytes] });
    await s.waitFor((x) => x.type === 'ack', 'ack');
    await new Promise((res) => setTimeout(res, 300));
    expect(answersFor(op.id)).toBe(1);
    // Stored: a push of it twice in one frame is one more answer (a duplicate ack), not two.
    s.send({ type: 'push', ops: [op.bytes, op.bytes] });
    await waitFor(() => answersFor(op.id) >= 2, 5000, 'duplicate ack');
    await new Promise((res) => setTimeout(res, 300));
    expect(answersFor(op.id)).toBe(2);
  });

  it('[RELAY-19] garbage frames do not amplify the log', async () => {
    let bytes = 0;
    const log = createLogger('info', (_l, line) => {
      bytes += line.length + 1;
    });
    const r = await harness.relay({}, { log });
    const a = await makeDevice('a');
    const s = await session(a, r);
    for (let i = 0; i < 2000; i++) s.sendRaw(random(64));
    await waitFor(() => errorsOf(s).length >= 1, 5000, 'errors');
    await new Promise((res) => setTimeout(res, 500));
    expect(bytes).toBeLessThan(16 * 1024);
  });

  it('[RELAY-20] unauthenticated sockets are capped; a device’s extra connections close the oldest', async () => {
    const r = await harness.relay({ maxUnauthSockets: 3, maxConnsPerDevice: 2 });
    const idle = [await stranger(r), await stranger(r), await stranger(r)];
    const fourth = new WebSocket(r.url);
    const code = await new Promise<number>((res) => fourth.on('close', (c) => res(c)));
    expect(code).toBe(4005);
    for (const s of idle) s.ws.close();
    await waitFor(() => r.relay.health()['unauthenticated'] === 0, 5000, 'unauthenticated gone');
    const a = await makeDevice('a');
    const s1 = await session(a, r);
    const s2 = await session(a, r);
    const s3 = await session(a, r);
    await waitFor(() => s1.closed() !== undefined, 5000, 'oldest closed');
    expect(s1.closed()).toBe(4005);
    expect(s2.closed()).toBeUndefined();
    expect(s3.closed()).toBeUndefined();
  });

  it('[RELAY-20] op bytes per device are rate limited with a retry hint', async () => {
    const r = await harness.relay({ rateBytesPerSec: 1000, rateBytesBurst: 65536 });
    const a = await makeDevice('a');
    const doc = await sharedCalendar(a, []);
    const big = 'x'.repeat(4000);
    for (let i = 0; i < 30; i++) await writeTitle(a, doc, randomEntity(), `${big}${i}`);
    const ops = (await a.replica.listOps(doc, 0, 1000)).map((x) => x.bytes);
    const s = await session(a, r);
    s.send({ type: 'push', ops });
    await waitFor(() => errorsOf(s).length > 0, 10_000, 'rate limited');
    const e = errorsOf(s)[0]!;
    expect(e.code).toBe('RateLimited');
    expect(e.retryAfterMs).toBeGreaterThan(0);
  });
});
