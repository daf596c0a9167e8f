// Invites, removal and key rotation through the in-process relay with real replicas and
// WebSockets: each bad join or post-removal write gets its typed error from the relay and from a
// replica that receives the op another way (docs/PROTOCOL.md INV-*, RELAY-9, RELAY-10, KEY-3).

import { describe, expect, it } from 'vitest';
import { encodeMembership, MembershipKind } from '../engine/codec.ts';
import {
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  eventFromRecord,
  fromHex,
  type OpId,
  openOp,
  type Replica,
} from '../engine/index.ts';
import { inviteMessage, inviteProof, signInvite } from '../engine/invite.ts';
import { createOp, type OpenedOp } from '../engine/op.ts';
import { Role } from '../engine/roles.ts';
import { OpKind } from '../engine/store.ts';
import type { SyncClient } from '../sync/client.ts';
import type { SyncEvent } from '../sync/client-contract.ts';
import type { SyncMessage } from '../sync/messages.ts';
import { inviteFetchMessage } from '../sync/messages-auth.ts';
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

const HOUR_US = 3600 * 1_000_000;

const relay = harness.relay;

const client = harness.client;

async function session(dev: TestDevice, r: TestRelay): Promise<RawSession> {
  const s = await harness.session(dev, r);
  await s.waitFor((m) => m.type === 'welcome', 'welcome');
  return s;
}

function titles(replica: Replica, doc: DocId): string[] {
  return replica
    .entities(doc)
    .filter((e) => e.entity !== '0'.repeat(32))
    .map((e) => eventFromRecord(e).title)
    .sort();
}

/** Gives `to` every op of `doc` that `from` holds: a replica that gets ops "another way". */
async function copyLog(from: Replica, to: Replica, doc: DocId): Promise<void> {
  for (const r of await from.listOps(doc, 0, 100_000)) await to.receive(r.bytes);
}

/** Errors a raw session got after `from` messages. */
const errorsOf = (s: RawSession, from = 0) =>
  s.got.slice(from).filter((m): m is Extract<SyncMessage, { type: 'error' }> => m.type === 'error');

async function pushAndWaitError(s: RawSession, op: OpenedOp | { id: OpId; bytes: Uint8Array }) {
  s.send({ type: 'push', ops: [op.bytes] });
  const m = await s.waitFor((x) => x.type === 'error' && x.op === op.id, `error for ${op.id}`);
  return m.type === 'error' ? m.code : '';
}

/** An Add of `dev` by invite, built by hand so tests can tamper with it or date it. */
async function craftAdd(
  dev: TestDevice,
  doc: DocId,
  inviteOp: OpId,
  secret: Uint8Array,
  o: { parents: OpId[]; wallTime: number; tamper?: boolean },
): Promise<OpenedOp> {
  const msg = inviteMessage(fromHex(doc), fromHex(inviteOp), dev.signer.publicKey, dev.box.publicKey);
  const sig = signInvite(secret, msg);
  if (o.tamper === true) sig[10] = sig[10]! ^ 1;
  return createOp(dev.signer, random, {
    doc: fromHex(doc),
    ctr: 1,
    kind: OpKind.Membership,
    schema: 1,
    wallTime: o.wallTime,
    prev: new Uint8Array(0),
    parents: o.parents.map(fromHex),
    body: encodeMembership({
      kind: MembershipKind.Add,
      subject: dev.signer.publicKey,
      subjectBox: dev.box.publicKey,
      keys: [],
      invite: inviteProof(fromHex(inviteOp), sig),
      sealed: new Uint8Array(0),
      expires: 0,
      boxProof: new Uint8Array(0),
      role: Role.Manager,
    }),
  });
}

/** A calendar owned by a (synced to the relay) with one event and an invite. */
/**
 * a shares `calendars` calendars with b; b syncs them and goes away (its client stopped); a
 * removes b from the first and the relay has the Remove.
 */
async function removedWhileAway(calendars = 1) {
  const r = await relay();
  const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
  const docs: DocId[] = [];
  for (let i = 0; i < calendars; i++) docs.push(await sharedCalendar(a, [b]));
  const ca = client(a, r);
  ca.start();
  await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
  const cb = client(b, r);
  for (const doc of docs) cb.follow(doc);
  cb.start();
  await waitFor(() => cb.status.state === 'synced', 15_000, 'b synced');
  cb.stop();
  a.track(await a.replica.removeMember(docs[0]!, b.signer.publicKey));
  ca.kick();
  await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 10_000, 'a pushed');
  return { r, a, b, ca, cb, docs };
}

/**
 * b's outbox reads empty until its client has seen a calendar refused, as if its ops reached the
 * outbox only after the connection's first push (edits made while it opens); the client's events.
 */
function outboxReadAfterRefusal(b: TestDevice, cb: SyncClient): SyncEvent[] {
  const events: SyncEvent[] = [];
  cb.onEvent((e) => events.push(e));
  const list = b.persistence.listOutbox.bind(b.persistence);
  b.persistence.listOutbox = async (limit) =>
    events.some((e) => e.type === 'docRefused') ? list(limit) : [];
  return events;
}

async function invitedCalendar(r: TestRelay, ttlUs = HOUR_US) {
  const a = await makeDevice('a');
  const doc = await sharedCalendar(a, []);
  await writeTitle(a, doc, randomEntity(), 'dentist');
  const { op, secret } = await a.replica.createInvite(doc, Date.now() * 1000 + ttlUs);
  a.track(op);
  const ca = client(a, r);
  ca.start();
  await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
  return { a, ca, doc, invite: op, secret };
}

describe('invites through the relay', () => {
  it('[INV-6][INV-1] a device joins with a valid invite: it reads the calendar before it is a member, adds itself, reads and writes', async () => {
    const r = await relay();
    const { a, ca, doc, invite, secret } = await invitedCalendar(r);
    const b = await makeDevice('b');
    const cb = client(b, r);
    const events: SyncEvent[] = [];
    cb.onEvent((e) => events.push(e));
    cb.follow(doc, { op: invite.id, secret });
    cb.start();
    await waitFor(
      async () => b.replica.hasDoc(doc) && (await b.replica.getOps(doc, [invite.id]))[0] !== undefined,
      15_000,
      'b fetched the calendar up to the invite',
    );
    expect(b.replica.members(doc).has(b.id)).toBe(false);
    expect(titles(b.replica, doc)).toEqual([]); // no key yet
    const add = b.track(await b.replica.joinWithInvite(doc, invite.id, secret));
    cb.kick();
    await waitFor(
      () => events.some((e) => e.type === 'acked' && e.acks.some((x) => x.op === add.id)),
      15_000,
      'add acked',
    );
    expect(titles(b.replica, doc)).toEqual(['dentist']);
    await writeTitle(b, doc, randomEntity(), 'from b');
    cb.kick();
    await waitFor(() => titles(a.replica, doc).includes('from b'), 15_000, 'a sees b');
    expect(a.replica.members(doc).has(b.id)).toBe(true);
    expect(ca.status.lastError).toBeNull();
    expect(events.filter((e) => e.type === 'docRefused' || e.type === 'opRefused')).toEqual([]);
  });

  it('[INV-6] reading by invite: no proof, a forged proof, a proof bound to another challenge or device, and another calendar’s invite get typed errors', async () => {
    const r = await relay();
    const { a, doc, invite, secret } = await invitedCalendar(r);
    const other = await invitedCalendar(r);
    const m = await makeDevice('mallory');
    const s = await session(m, r);
    const ch = s.got.find((x) => x.type === 'challenge');
    const challenge = ch?.type === 'challenge' ? ch.challenge : new Uint8Array(0);
    const sign = (d: DocId, op: OpId, sec: Uint8Array, dev = m.id, c = challenge) =>
      signInvite(sec, inviteFetchMessage(d, op, dev, c));
    const tries: [string, SyncMessage][] = [
      ['no invite', { type: 'subscribe', doc, cursor: 0 }],
      ['forged', { type: 'subscribe', doc, cursor: 0, invite: { op: invite.id, sig: random(64) } }],
      [
        'other challenge',
        {
          type: 'subscribe',
          doc,
          cursor: 0,
          invite: { op: invite.id, sig: sign(doc, invite.id, secret, m.id, random(32)) },
        },
      ],
      [
        'other device',
        {
          type: 'subscribe',
          doc,
          cursor: 0,
          invite: { op: invite.id, sig: sign(doc, invite.id, secret, a.id) },
        },
      ],
      [
        'other calendar',
        {
          type: 'subscribe',
          doc,
          cursor: 0,
          invite: { op: other.invite.id, sig: sign(doc, other.invite.id, other.secret) },
        },
      ],
    ];
    const codes: string[] = [];
    for (const [, msg] of tries) {
      const before = s.got.length;
      s.send(msg);
      await waitFor(() => errorsOf(s, before).length > 0, 10_000, 'error');
      codes.push(errorsOf(s, before)[0]!.code);
    }
    // Without a proof a stranger hears what any unknown calendar gets (RELAY-18).
    expect(codes).toEqual(['UnknownDoc', 'InviteInvalid', 'InviteInvalid', 'InviteInvalid', 'InviteInvalid']);
    expect(s.got.some((x) => x.type === 'ops')).toBe(false);
    // The genuine proof on this connection is served.
    s.send({
      type: 'subscribe',
      doc,
      cursor: 0,
      invite: { op: invite.id, sig: sign(doc, invite.id, secret) },
    });
    await s.waitFor((x) => x.type === 'caughtUp' && x.doc === doc, 'caught up');
    expect(s.got.filter((x) => x.type === 'ops').length).toBeGreaterThan(0);
  });

  it('[INV-7][INV-3] expiry: the relay refuses a use after expiry by its own clock; replicas judge by wall_time', async () => {
    const r = await relay();
    const { a, doc, invite, secret } = await invitedCalendar(r, 60_000_000);
    const heads = a.replica.heads(doc);
    const witness = await makeDevice('witness');
    await copyLog(a.replica, witness.replica, doc);

    // An honest Add dated before the expiry, arriving after it by the relay's clock.
    const b = await makeDevice('b');
    const late = await craftAdd(b, doc, invite.id, secret, { parents: heads, wallTime: Date.now() * 1000 });
    r.clockOffsetUs = 2 * 60_000_000;
    const sb = await session(b, r);
    expect(await pushAndWaitError(sb, late)).toBe('InviteExpired');
    const ch = sb.got.find((x) => x.type === 'challenge');
    sb.send({
      type: 'subscribe',
      doc,
      cursor: 0,
      invite: {
        op: invite.id,
        sig: signInvite(
          secret,
          inviteFetchMessage(doc, invite.id, b.id, ch?.type === 'challenge' ? ch.challenge : random(32)),
        ),
      },
    });
    await waitFor(
      () => errorsOf(sb).some((e) => e.doc === doc && e.op === null),
      10_000,
      'subscribe refused',
    );
    expect(errorsOf(sb).find((e) => e.op === null)?.code).toBe('InviteExpired');
    // A replica cannot see the relay's clock: by wall_time the same Add is in time (INV-3).
    expect((await witness.replica.receive(late.bytes)).status).toBe('applied');

    // An Add dated after the expiry is refused everywhere.
    r.clockOffsetUs = 0;
    const c = await makeDevice('c');
    const dated = await craftAdd(c, doc, invite.id, secret, {
      parents: heads,
      wallTime: Date.now() * 1000 + 2 * 60_000_000,
    });
    const sc = await session(c, r);
    expect(await pushAndWaitError(sc, dated)).toBe('InviteExpired');
    const fresh = await makeDevice('fresh-witness');
    await copyLog(a.replica, fresh.replica, doc);
    const res = await fresh.replica.receive(dated.bytes);
    expect(res.error?.code).toBe('InviteExpired');
    expect(r.replica.members(doc).has(b.id) || r.replica.members(doc).has(c.id)).toBe(false);
  });

  it('[INV-8][INV-4] an invite is used once: the relay refuses a second use, concurrent or not; a replica that saw the first use refuses too', async () => {
    const r = await relay();
    const { a, ca, doc, invite, secret } = await invitedCalendar(r);
    const before = a.replica.heads(doc);
    const b = await makeDevice('b');
    const addB = await craftAdd(b, doc, invite.id, secret, { parents: before, wallTime: Date.now() * 1000 });
    const sb = await session(b, r);
    sb.send({ type: 'push', ops: [addB.bytes] });
    await sb.waitFor((x) => x.type === 'ack' && x.acks.some((k) => k.op === addB.id), 'b joined');
    await waitFor(async () => (await a.replica.getOps(doc, [addB.id]))[0] !== undefined, 10_000, 'a has b');
    expect(ca.status.lastError).toBeNull();

    // c used the same invite without seeing b's use (concurrent): only the relay can tell.
    const c = await makeDevice('c');
    const addC = await craftAdd(c, doc, invite.id, secret, { parents: before, wallTime: Date.now() * 1000 });
    const sc = await session(c, r);
    expect(await pushAndWaitError(sc, addC)).toBe('InviteUsed');
    const witness = await makeDevice('witness');
    await copyLog(a.replica, witness.replica, doc);
    expect((await witness.replica.receive(addC.bytes)).status).toBe('applied'); // INV-4: concurrent uses

    // d used it after seeing b's use: refused by the relay and by every replica.
    const d = await makeDevice('d');
    const addD = await craftAdd(d, doc, invite.id, secret, {
      parents: a.replica.heads(doc),
      wallTime: Date.now() * 1000,
    });
    const sd = await session(d, r);
    expect(await pushAndWaitError(sd, addD)).toBe('InviteUsed');
    const w2 = await makeDevice('witness2');
    await copyLog(a.replica, w2.replica, doc);
    expect((await w2.replica.receive(addD.bytes)).error?.code).toBe('InviteUsed');
    // And reading by that invite is over for anyone but b.
    const ch = sd.got.find((x) => x.type === 'challenge');
    const n = sd.got.length;
    sd.send({
      type: 'subscribe',
      doc,
      cursor: 0,
      invite: {
        op: invite.id,
        sig: signInvite(
          secret,
          inviteFetchMessage(doc, invite.id, d.id, ch?.type === 'challenge' ? ch.challenge : random(32)),
        ),
      },
    });
    await waitFor(() => errorsOf(sd, n).length > 0, 10_000, 'refused');
    expect(errorsOf(sd, n)[0]!.code).toBe('InviteUsed');
  });

  it('[RELAY-11][INV-8] a held Add keeps its invite reserved across a restart, and frees it when refused at release', async () => {
    const r = await relay();
    // The invite expires in 10.5 minutes; j1's Add is dated 10 minutes ahead, so it is held, and
    // at its release (relay clock +11 minutes) the relay refuses it: InviteExpired by its clock.
    const { a, doc, invite, secret } = await invitedCalendar(r, 630_000_000);
    const heads = a.replica.heads(doc);
    const j1 = await makeDevice('j1');
    const early = await craftAdd(j1, doc, invite.id, secret, {
      parents: heads,
      wallTime: Date.now() * 1000 + 10 * 60_000_000,
    });
    const s1 = await session(j1, r);
    s1.send({ type: 'push', ops: [early.bytes] });
    await s1.waitFor((x) => x.type === 'held', 'held');
    s1.close();
    const dataDir = r.dataDir;
    await r.close();
    const r2 = await relay({ dataDir });
    const j2 = await makeDevice('j2');
    const add2 = await craftAdd(j2, doc, invite.id, secret, { parents: heads, wallTime: Date.now() * 1000 });
    const s2 = await session(j2, r2);
    expect(await pushAndWaitError(s2, add2)).toBe('InviteUsed'); // reserved by the held Add, across the restart
    r2.clockOffsetUs = 11 * 60_000_000;
    await r2.relay.releaseDue();
    expect(r2.store.heldCount()).toBe(0);
    expect(r2.replica.members(doc).has(j1.id)).toBe(false);
    // The refused Add no longer holds the invite (the relay's clock is set back to test just that).
    r2.clockOffsetUs = 0;
    s2.send({ type: 'push', ops: [add2.bytes] });
    await s2.waitFor((x) => x.type === 'ack' && x.acks.some((k) => k.op === add2.id), 'j2 joined');
    expect(r2.replica.members(doc).has(j2.id)).toBe(true);
  });

  it('[INV-2] a tampered invite proof and an invite of another calendar are InviteInvalid at the relay and on replicas', async () => {
    const r = await relay();
    const { a, doc, invite, secret } = await invitedCalendar(r);
    const other = await invitedCalendar(r);
    const m = await makeDevice('mallory');
    const sm = await session(m, r);
    const witness = await makeDevice('witness');
    await copyLog(a.replica, witness.replica, doc);

    const tampered = await craftAdd(m, doc, invite.id, secret, {
      parents: a.replica.heads(doc),
      wallTime: Date.now() * 1000,
      tamper: true,
    });
    expect(await pushAndWaitError(sm, tampered)).toBe('InviteInvalid');
    expect((await witness.replica.receive(tampered.bytes)).error?.code).toBe('InviteInvalid');

    const wrongCal = await craftAdd(m, doc, other.invite.id, other.secret, {
      parents: a.replica.heads(doc),
      wallTime: Date.now() * 1000,
    });
    expect(await pushAndWaitError(sm, wrongCal)).toBe('InviteInvalid');
    expect((await witness.replica.receive(wrongCal.bytes)).error?.code).toBe('InviteInvalid');

    // The failed attempts did not use up the invite: the genuine holder still joins.
    const b = await makeDevice('b');
    const addB = await craftAdd(b, doc, invite.id, secret, {
      parents: a.replica.heads(doc),
      wallTime: Date.now() * 1000,
    });
    const sb = await session(b, r);
    sb.send({ type: 'push', ops: [addB.bytes] });
    await sb.waitFor((x) => x.type === 'ack', 'b joined');
    expect(r.replica.members(doc).has(b.id)).toBe(true);
    expect(r.replica.members(doc).has(m.id)).toBe(false);
  });

  it('[MEM-2][RELAY-18] a non-member’s signed op is refused by the relay (as if the calendar were unknown) and NotMember on replicas', async () => {
    const r = await relay();
    const { a, doc } = await invitedCalendar(r);
    const m = await makeDevice('mallory');
    const forged = await createOp(m.signer, random, {
      doc: fromHex(doc),
      ctr: 1,
      kind: OpKind.Patch,
      schema: 1,
      wallTime: Date.now() * 1000,
      prev: new Uint8Array(0),
      parents: a.replica.heads(doc).map(fromHex),
      body: random(40),
      key: { id: random(8), key: random(32) },
    });
    const sm = await session(m, r);
    expect(await pushAndWaitError(sm, forged)).toBe('UnknownDoc');
    const witness = await makeDevice('witness');
    await copyLog(a.replica, witness.replica, doc);
    expect((await witness.replica.receive(forged.bytes)).error?.code).toBe('NotMember');
  });
});

describe('removal', () => {
  it('[RELAY-9] a removed device gets its Remove, then the relay stops serving it the calendar', async () => {
    const r = await relay();
    const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    const ca = client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
    const cb = client(b, r);
    const events: SyncEvent[] = [];
    cb.onEvent((e) => events.push(e));
    cb.follow(doc);
    cb.start();
    await waitFor(() => cb.status.state === 'synced', 15_000, 'b synced');

    const rm = a.track(await a.replica.removeMember(doc, b.signer.publicKey));
    ca.kick();
    await waitFor(() => events.some((e) => e.type === 'docRefused' && e.doc === doc), 15_000, 'b refused');
    expect(events.find((e) => e.type === 'docRefused')).toMatchObject({ code: 'NotMember' });
    // b got the Remove itself (it knows it was removed), and nothing after it.
    expect((await b.replica.getOps(doc, [rm.id]))[0]).toBeDefined();
    expect(b.replica.members(doc).has(b.id)).toBe(false);
    await writeTitle(a, doc, randomEntity(), 'after removal');
    ca.kick();
    await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 10_000, 'a synced again');
    await new Promise((res) => setTimeout(res, 300));
    expect(b.replica.seq(doc)).toBeLessThan(a.replica.seq(doc));
    // A new subscription gets at most the ops up to its Remove, then NotMember; a Want is refused.
    const rmSeq = r.replica.seq(doc) - 1; // the Remove, then a's write after it
    expect((await r.replica.getOps(doc, [rm.id]))[0]?.seq).toBe(rmSeq);
    const sb = await session(b, r);
    sb.send({ type: 'subscribe', doc, cursor: 0 });
    await waitFor(() => errorsOf(sb).length >= 1, 10_000, 'subscription ends');
    sb.send({ type: 'want', doc, ids: a.replica.heads(doc) });
    await waitFor(() => errorsOf(sb).length >= 2, 10_000, 'want refused');
    expect(errorsOf(sb).map((e) => e.code)).toEqual(['NotMember', 'NotMember']);
    const seqs = sb.got.flatMap((x) => (x.type === 'ops' ? x.ops.map((o) => o.seq) : []));
    expect(Math.max(...seqs)).toBe(rmSeq);
    expect(sb.got.some((x) => x.type === 'caughtUp')).toBe(false);
  });

  it('[RELAY-9] a device removed while away learns of its removal on reconnect and is served nothing after it', async () => {
    const { a, b, ca, cb, docs } = await removedWhileAway();
    const doc = docs[0]!;
    const secret = await writeTitle(a, doc, randomEntity(), 'after removal');
    ca.kick();
    await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 10_000, 'a pushed');
    // b wrote while away, not knowing.
    const late = await writeTitle(b, doc, randomEntity(), 'b while away');
    const events: SyncEvent[] = [];
    cb.onEvent((e) => events.push(e));
    cb.start();
    await waitFor(() => events.some((e) => e.type === 'docRefused'), 15_000, 'refusal');
    expect(b.replica.members(doc).has(b.id)).toBe(false); // it got its Remove
    expect((await b.replica.getOps(doc, [secret]))[0]).toBeUndefined(); // and nothing after
    await waitFor(() => cb.status.state === 'synced', 10_000, 'b settles');
    // Its op from while away: refused by itself when pushed before the calendar's refusal came
    // back, else withheld (the next test forces that order); kept, never lost, never delivered.
    const refusal = events.find((e) => e.type === 'opRefused');
    if (refusal !== undefined) expect(refusal).toMatchObject({ op: late, code: 'NotMember' });
    expect(cb.status.pending).toBe(1);
    expect((await a.replica.getOps(doc, [late]))[0]).toBeUndefined();
  });

  it('[RELAY-9] an op the removed device had not pushed when its calendar was refused is withheld: kept, not pushed, and the status still settles', async () => {
    const { r, a, b, cb, docs } = await removedWhileAway();
    const doc = docs[0]!;
    const late = await writeTitle(b, doc, randomEntity(), 'b while away');
    const events = outboxReadAfterRefusal(b, cb);
    cb.start();
    await waitFor(() => cb.status.state === 'synced', 15_000, 'b settles');
    // Refused once or twice: the subscription after serving the Remove, and maybe first the
    // connection's heads for it (the relay answers each request; either may come first).
    const refusals = events.filter((e) => e.type === 'docRefused');
    expect(refusals.length).toBeGreaterThan(0);
    expect(refusals).toEqual(refusals.map(() => expect.objectContaining({ doc, code: 'NotMember' })));
    expect(events.some((e) => e.type === 'opRefused')).toBe(false); // never pushed
    expect(cb.status.pending).toBe(1); // kept
    expect((await r.replica.getOps(doc, [late]))[0]).toBeUndefined();
    expect((await a.replica.getOps(doc, [late]))[0]).toBeUndefined();
  });

  it('[RELAY-9] more withheld ops of a refused calendar than one push batch: another calendar’s op is stored and the status settles', async () => {
    const { r, b, cb, docs } = await removedWhileAway(2);
    const [gone, kept] = docs as [DocId, DocId];
    // Away, b writes 300 ops to the calendar it was removed from (more than a push batch, 256),
    // then one to the calendar it still belongs to: last in its outbox.
    for (let i = 0; i < 300; i++) await writeTitle(b, gone, randomEntity(), `away ${i}`);
    const last = await writeTitle(b, kept, randomEntity(), 'still a member');
    outboxReadAfterRefusal(b, cb);
    cb.start();
    await waitFor(
      async () => (await r.replica.getOps(kept, [last]))[0] !== undefined,
      15_000,
      'kept op stored',
    );
    await waitFor(() => cb.status.state === 'synced', 15_000, 'b settles');
    expect(cb.status.pending).toBe(300);
  });

  it('[RELAY-10][MEM-5][MEM-6] a removed device’s later ops: with the Remove in their past (NotMember), backdated (ClockRule on replicas), concurrent (relay only)', async () => {
    const r = await relay();
    const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    const ca = client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
    await copyLog(a.replica, b.replica, doc);
    const first = await writeTitle(b, doc, randomEntity(), 'b before');
    const sb = await session(b, r);
    sb.send({ type: 'push', ops: [(await b.replica.getOps(doc, [first]))[0]!.bytes] });
    await sb.waitFor((x) => x.type === 'ack', 'b op acked');
    await waitFor(async () => (await a.replica.getOps(doc, [first]))[0] !== undefined, 10_000, 'a has b op');

    const rm = a.track(await a.replica.removeMember(doc, b.signer.publicKey));
    ca.kick();
    await waitFor(
      async () => (await r.replica.getOps(doc, [rm.id]))[0] !== undefined,
      10_000,
      'relay stored the remove',
    );

    // Concurrent: b has not seen its removal. Replicas accept it (MEM-6); the relay does not (RELAY-10).
    const concurrent = await writeTitle(b, doc, randomEntity(), 'b concurrent');
    const cOp = (await b.replica.getOps(doc, [concurrent]))[0]!;
    expect(await pushAndWaitError(sb, cOp)).toBe('NotMember');
    const witness = await makeDevice('witness');
    await copyLog(a.replica, witness.replica, doc);
    expect((await witness.replica.receive(cOp.bytes)).status).toBe('applied');

    // b learns of its removal: its own replica refuses to write, and a hand-made op is refused everywhere.
    await b.replica.receive(rm.bytes);
    await expect(
      b.replica.write(doc, randomEntity() as EntityId, [
        { field: EventField.Title, value: encodeValue('text', 'x') },
      ]),
    ).rejects.toMatchObject({ code: 'NotMember' });
    const rmWall = openOp(rm.bytes).header.wallTime;
    const postRemoval = (wallTime: number) =>
      createOp(b.signer, random, {
        doc: fromHex(doc),
        ctr: 3,
        kind: OpKind.Patch,
        schema: 1,
        wallTime,
        prev: fromHex(concurrent),
        parents: b.replica
          .heads(doc)
          .filter((h) => h !== concurrent)
          .map(fromHex),
        body: random(40),
        key: { id: random(8), key: random(32) },
      });
    const seen = await postRemoval(Date.now() * 1000 + 1000);
    expect(await pushAndWaitError(sb, seen)).toBe('NotMember');
    expect((await witness.replica.receive(seen.bytes)).error?.code).toBe('NotMember');
    const backdated = await postRemoval(rmWall - 1_000_000);
    expect(await pushAndWaitError(sb, backdated)).toBe('NotMember');
    expect((await witness.replica.receive(backdated.bytes)).error?.code).toBe('ClockRule');
    expect(
      (await a.replica.getOps(doc, [concurrent, seen.id, backdated.id])).every((x) => x === undefined),
    ).toBe(true);
  });

  it('[KEY-3][KEY-5] after a removal new ops use a new key the removed device cannot open; the others read old and new', async () => {
    const r = await relay();
    const [a, b, c] = await Promise.all([makeDevice('a'), makeDevice('b'), makeDevice('c')]);
    const doc = await sharedCalendar(a, [b, c]);
    const oldOp = await writeTitle(a, doc, randomEntity(), 'old');
    const ca = client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
    a.track(await a.replica.removeMember(doc, b.signer.publicKey));
    const newOp = await writeTitle(a, doc, randomEntity(), 'new');
    ca.kick();
    await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 15_000, 'a pushed');

    const cc = client(c, r);
    cc.follow(doc);
    cc.start();
    await waitFor(
      () => cc.status.state === 'synced' && c.replica.root(doc) === a.replica.root(doc),
      15_000,
      'c synced',
    );
    expect(titles(c.replica, doc)).toEqual(['new', 'old']);

    const [o, n] = await a.replica.getOps(doc, [oldOp, newOp]);
    expect(openOp(n!.bytes).keyId).not.toBe(openOp(o!.bytes).keyId);
    // b gets every op another way: it reads the old event, never the new one.
    await copyLog(a.replica, b.replica, doc);
    expect(titles(b.replica, doc)).toEqual(['old']);
    expect((await b.replica.getOps(doc, [newOp]))[0]?.body).toBe('locked');
  });
});
