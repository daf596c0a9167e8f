// Snapshots through the in-process relay with real replicas and WebSockets (SYNC-13..15,
// RELAY-25..28, SNAP-15): uploads stored durably and checked, forged, oversized and stranger
// uploads refused with nothing stored, a new device started from the newest trusted snapshot
// plus the tail, an untrusted one never served, endorsements made automatically and forwarded,
// and an endorser's later op that drops the frontier it certified refused at admission.

import { describe, expect, it } from 'vitest';
import { decodeMembership } from '../engine/codec.ts';
import {
  type DocId,
  encodeValue,
  fromHex,
  openEndorsement,
  openManifest,
  signDeviceCard,
} from '../engine/index.ts';
import { createOp, openOp } from '../engine/op.ts';
import { openSealed } from '../engine/seal.ts';
import { decodeSnapshot, encodeSnapshot } from '../engine/snapshot-codec.ts';
import { signManifest } from '../engine/snapshot-envelope.ts';
import { sealChunks } from '../engine/snapshot-seal.ts';
import { snapshotHash } from '../engine/snapshot-verify.ts';
import { OpKind } from '../engine/store.ts';
import { SYNC_LIMITS, type SyncMessage } from '../sync/messages.ts';
import {
  makeDevice,
  type RawSession,
  random,
  randomEntity,
  sharedCalendar,
  startTestRelay,
  type TestDevice,
  waitFor,
} from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';
import { copyLog, crypto, seed, snapshotKit, synced, titles } from './relay-snapshots.testkit.ts';

const harness = useRelayHarness();
const { snapClient, syncedClient, session, uploaded } = snapshotKit(harness);

/**
 * A hostile member's forged snapshot: a real one's manifest fields, over a plaintext whose first
 * register says "forged", sealed under the real content key and signed by the member.
 */
async function forgedSnapshot(
  dev: TestDevice,
  doc: DocId,
): Promise<{ manifest: Uint8Array; chunks: Uint8Array[] }> {
  const real = await openManifest(crypto, (await dev.replica.sealSnapshot(doc)).manifest);
  let key: Uint8Array | undefined;
  for (const o of await dev.replica.listOps(doc, 0, 100_000)) {
    if (o.kind !== OpKind.Membership) continue;
    const op = openOp(o.bytes);
    for (const k of decodeMembership(op.env.body).keys) {
      const id = k.keyId.length === 0 ? op.id.slice(0, 16) : Buffer.from(k.keyId).toString('hex');
      if (id !== real.keyId || Buffer.from(k.recipient).toString('hex') !== dev.id) continue;
      key = openSealed(dev.box, k.sealed) ?? key;
    }
  }
  if (key === undefined) throw new Error('no content key');
  const state = decodeSnapshot(await dev.replica.snapshot(doc));
  state.entities.find((e) => e.registers.length > 0)!.registers[0]!.writes[0]!.value = encodeValue(
    'text',
    'forged',
  );
  const plain = encodeSnapshot(state);
  const ctx = {
    doc,
    signer: dev.id,
    wallTime: real.wallTime + 1,
    keyId: real.keyId,
    nonce: random(24),
    snapshot: snapshotHash(plain),
    size: plain.length,
  };
  const { chunks, hashes } = sealChunks(ctx, plain, key);
  const manifest = await signManifest(dev.signer, {
    ...ctx,
    frontier: real.frontier,
    previous: real.previous,
    chunks: hashes,
  });
  return { manifest, chunks };
}

function errorsOf(s: RawSession): (SyncMessage & { type: 'error' })[] {
  return s.got.filter((m): m is SyncMessage & { type: 'error' } => m.type === 'error');
}

describe('snapshots through the relay', () => {
  it('[SYNC-13][RELAY-25] a member uploads its snapshot: stored durably, listed once complete, there after a restart', async () => {
    const r = await startTestRelay();
    const owner = await makeDevice('owner');
    const { doc, c, sealed, id } = await uploaded(r, owner, [], 300);
    const list = await r.relay.snapshots.listSnapshots(doc);
    expect(list.map((s) => s.id)).toEqual([id]);
    expect(list[0]!.chunkCount).toBe(sealed.chunks.length);
    // Uploading it again costs nothing: the relay says it is complete at once.
    expect(await c.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
    c.stop();
    const dataDir = r.dataDir;
    await r.close();
    const again = await startTestRelay({ dataDir });
    harness.defer(() => again.stop());
    const after = await again.relay.snapshots.listSnapshots(doc);
    expect(after.map((s) => s.id)).toEqual([id]);
    for (let i = 0; i < sealed.chunks.length; i++)
      expect(await again.relay.snapshots.getChunk(doc, id, i)).toEqual(sealed.chunks[i]);
  });

  it('[RELAY-26] a stranger, a non-signer, a forged manifest, a bad chunk and an oversized one are refused; nothing of them is stored', async () => {
    const r = await harness.relay();
    const [owner, member, stranger] = await Promise.all([makeDevice('o'), makeDevice('m'), makeDevice('s')]);
    const doc = await sharedCalendar(owner, [member]);
    await seed(owner, doc, 50);
    await syncedClient(owner, r, 'owner synced');
    const sealed = await owner.replica.sealSnapshot(doc);
    const id = (await openManifest(crypto, sealed.manifest)).hash;

    // A stranger learns nothing (RELAY-18) and makes the relay store nothing.
    const s = await session(stranger, r);
    s.send({ type: 'snapshotPut', doc, manifest: sealed.manifest });
    s.send({ type: 'snapshotChunk', doc, snapshot: id, index: 0, bytes: sealed.chunks[0]! });
    await waitFor(() => errorsOf(s).length >= 2, 5000, 'stranger refused');
    expect(errorsOf(s).map((e) => e.code)).toEqual(['UnknownDoc', 'Malformed']);

    // A member may not upload a snapshot another device signed.
    const m = await session(member, r);
    m.send({ type: 'snapshotPut', doc, manifest: sealed.manifest });
    await m.waitFor((x) => x.type === 'error', 'non-signer refused');
    expect(errorsOf(m)[0]!.code).toBe('NotPermitted');

    // The signer's own upload, with its manifest altered: the signature no longer verifies.
    const o = await session(owner, r);
    const forged = sealed.manifest.slice();
    forged[forged.length - 70]! ^= 1;
    o.send({ type: 'snapshotPut', doc, manifest: forged });
    await o.waitFor((x) => x.type === 'error', 'forged manifest refused');
    expect(['BadSignature', 'Malformed']).toContain(errorsOf(o)[0]!.code);

    // A real manifest, then a chunk that is not the one it names, then one over the frame bound.
    o.send({ type: 'snapshotPut', doc, manifest: sealed.manifest });
    await o.waitFor((x) => x.type === 'snapshotStored', 'manifest accepted');
    const bad = sealed.chunks[0]!.slice();
    bad[0]! ^= 1;
    o.send({ type: 'snapshotChunk', doc, snapshot: id, index: 0, bytes: bad });
    await waitFor(() => errorsOf(o).length >= 2, 5000, 'bad chunk refused');
    expect(errorsOf(o)[1]!.code).toBe('BadBodyHash');
    o.send({
      type: 'snapshotChunk',
      doc,
      snapshot: id,
      index: 0,
      bytes: new Uint8Array(SYNC_LIMITS.maxChunkBytes + 1),
    });
    await waitFor(() => errorsOf(o).length >= 3, 5000, 'oversized chunk refused');
    expect(errorsOf(o)[2]!.code).toBe('TooLarge');
    expect(await r.relay.snapshots.chunksHeld(doc, id)).toEqual([]);
    expect(await r.relay.snapshots.listSnapshots(doc)).toEqual([]);
  });

  it('[SYNC-15][RELAY-27] a new device starts from the snapshot plus the tail, downloading far fewer ops, and shows what the owner shows', async () => {
    const r = await harness.relay();
    const owner = await makeDevice('owner');
    const { doc, c } = await uploaded(r, owner, [], 600);
    // The tail: ops after the snapshot, and a new member added after it.
    const fresh = await makeDevice('fresh');
    owner.track(await owner.replica.addMember(doc, await signDeviceCard(fresh, fromHex(doc))));
    await seed(owner, doc, 20, 'tail');
    c.kick();
    await synced(c, 'tail uploaded');
    const total = owner.replica.seq(doc);

    const cf = snapClient(fresh, r);
    cf.follow(doc);
    cf.start();
    await synced(cf, 'fresh device synced');
    expect(cf.status.snapshotStarts).toBe(1);
    expect(cf.status.opsReceived).toBeLessThan(total / 5);
    expect(titles(fresh.replica, doc)).toEqual(titles(owner.replica, doc));
    expect(fresh.replica.root(doc)).toBe(owner.replica.root(doc));
  });

  it('[RELAY-27][SNAP-15][SYNC-14] a snapshot of a shared calendar is served only once another member endorsed it, which that member does by itself', async () => {
    const r = await harness.relay();
    const [a, b, late1, late2] = await Promise.all([
      makeDevice('a'),
      makeDevice('b'),
      makeDevice('late1'),
      makeDevice('late2'),
    ]);
    const doc = await sharedCalendar(a, [b, late1, late2]);
    await seed(a, doc, 300);
    const ca = await syncedClient(a, r, 'a synced');
    // b is offline: nobody can endorse a's snapshot yet, so a new device gets the whole history.
    const sealed = await a.replica.sealSnapshot(doc);
    expect(await ca.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
    const c1 = snapClient(late1, r);
    c1.follow(doc);
    c1.start();
    await synced(c1, 'late1 synced');
    expect(c1.status.snapshotStarts).toBe(0);
    expect(titles(late1.replica, doc)).toEqual(titles(a.replica, doc));

    // b comes online holding the history: the relay offers it the snapshot nobody endorsed yet;
    // b verifies it by recomputation and endorses it by itself (SNAP-15).
    await copyLog(a.replica, b.replica, doc);
    await b.persistence.setCursor(doc, r.relay.store.durableSeqOf(doc));
    // SYNC-14: what a's engine is handed of b's endorsement (the real call, observed).
    const handed: string[] = [];
    const receive = a.replica.receiveEndorsement.bind(a.replica);
    a.replica.receiveEndorsement = async (bytes) => {
      const st = await receive(bytes);
      handed.push(String(st));
      return st;
    };
    const cb = snapClient(b, r);
    cb.start();
    await waitFor(
      async () => (await r.relay.snapshots.allEndorsements(doc)).some((e) => e.endorser === b.id),
      15_000,
      'b endorsed',
    );
    expect(cb.snapshotStats?.endorsed).toBe(1);
    const id = (await openManifest(crypto, sealed.manifest)).hash;
    expect((await r.relay.snapshots.allEndorsements(doc)).map((e) => e.snapshot)).toEqual([id]);
    // SYNC-14: a's replica was sent b's endorsement and keeps it (SNAP-10).
    await waitFor(() => handed.length === 1, 10_000, 'a was sent the endorsement');

    const c2 = snapClient(late2, r);
    c2.follow(doc);
    c2.start();
    await synced(c2, 'late2 synced');
    expect(c2.status.snapshotStarts).toBe(1);
    expect(titles(late2.replica, doc)).toEqual(titles(a.replica, doc));
  });

  it('[SNAP-16][RELAY-27][SNAP-5] the maker’s own endorsement is stored and forwarded (it certifies its chain) but adds no trust: no new device starts from it', async () => {
    const r = await harness.relay();
    const [a, b, late] = await Promise.all([makeDevice('a'), makeDevice('b'), makeDevice('late')]);
    const doc = await sharedCalendar(a, [b, late]);
    await seed(a, doc, 120);
    const ca = await syncedClient(a, r, 'a synced');
    const sealed = await a.replica.sealSnapshot(doc);
    expect(await ca.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
    expect(ca.sendEndorsement(doc, await a.replica.endorseSnapshot(sealed.manifest, sealed.chunks))).toBe(
      true,
    );
    await waitFor(
      async () => (await r.relay.snapshots.allEndorsements(doc)).some((e) => e.endorser === a.id),
      15_000,
      'the maker’s endorsement stored',
    );
    const c = snapClient(late, r);
    c.follow(doc);
    c.start();
    await synced(c, 'late synced');
    expect(c.status.snapshotStarts).toBe(0); // one device's word is not enough (SNAP-5)
    expect(titles(late.replica, doc)).toEqual(titles(a.replica, doc));
    // b, online, receives the maker's endorsement (forwarded) and keeps it (SNAP-10).
    await copyLog(a.replica, b.replica, doc);
    await b.persistence.setCursor(doc, r.relay.store.durableSeqOf(doc));
    const handed: string[] = [];
    const receive = b.replica.receiveEndorsement.bind(b.replica);
    b.replica.receiveEndorsement = async (bytes) => {
      handed.push((await openEndorsement(crypto, bytes)).endorser);
      return receive(bytes);
    };
    const cb = snapClient(b, r);
    cb.start();
    await waitFor(() => handed.includes(a.id), 15_000, 'b was sent the maker’s endorsement');
    expect(await b.replica.certifiedFrontiers(doc)).toContainEqual(
      [...(await openManifest(crypto, sealed.manifest)).frontier].sort(),
    );
  });

  it('[RELAY-28] once the relay holds b’s endorsement, an op of b whose past drops the certified frontier is refused; b’s honest ops are not', async () => {
    const r = await harness.relay();
    const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    await seed(a, doc, 80);
    const ca = await syncedClient(a, r, 'a synced');
    const early = (await a.replica.listOps(doc, 10, 1))[0]!; // after b was added, before the frontier
    const sealed = await a.replica.sealSnapshot(doc);
    expect(await ca.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
    await copyLog(a.replica, b.replica, doc);
    await b.persistence.setCursor(doc, r.relay.store.durableSeqOf(doc));
    const cb = snapClient(b, r);
    cb.start();
    await waitFor(
      async () => (await r.relay.snapshots.allEndorsements(doc)).some((e) => e.endorser === b.id),
      15_000,
      'b endorsed',
    );
    await waitFor(() => r.relay.snap.certs.binds(doc, b.id, 1), 5000, 'the relay holds what b certified');
    // b's first op, made from an early op only: it does not hold the frontier b certified.
    const stale = await createOp(b.signer, random, {
      doc: fromHex(doc),
      ctr: 1,
      kind: OpKind.Patch,
      schema: 1,
      wallTime: Date.now() * 1000,
      prev: new Uint8Array(0),
      parents: [fromHex(early.id)],
      body: random(40),
      key: { id: random(8), key: random(32) },
    });
    const s = await session(b, r);
    s.send({ type: 'push', ops: [stale.bytes] });
    const err = await s.waitFor((m) => m.type === 'error', 'stale op refused');
    expect(err).toMatchObject({ code: 'NotPermitted', op: stale.id });
    expect(r.relay.store.seqOf(doc, stale.id)).toBeUndefined();
    // An honest op of b (from its heads, which hold the frontier) is stored.
    const honest = await writeTitle(b, doc, randomEntity(), 'b after endorsing');
    cb.kick();
    await waitFor(() => r.relay.store.seqOf(doc, honest) !== undefined, 10_000, 'honest op stored');
  });

  it('[SYNC-15] a new device joining by invite starts from the snapshot (the invite opens its key), then writes its Add', async () => {
    const r = await harness.relay();
    const owner = await makeDevice('owner');
    const { doc, c } = await uploaded(r, owner, [], 400);
    const { op, secret } = await owner.replica.createInvite(doc, (Date.now() + 3600_000) * 1000);
    const inv = owner.track(op);
    c.kick();
    await synced(c, 'invite uploaded');
    const joiner = await makeDevice('joiner');
    const cj = snapClient(joiner, r);
    cj.follow(doc, { op: inv.id, secret });
    cj.start();
    // As the worker does: the calendar's ops up to the invite first (INV-6).
    await waitFor(
      async () => joiner.replica.hasDoc(doc) && (await joiner.replica.getOps(doc, [inv.id]))[0] !== undefined,
      15_000,
      'joiner holds the calendar and the invite',
    );
    expect(cj.status.snapshotStarts).toBe(1);
    const add = joiner.track(await joiner.replica.joinWithInvite(doc, inv.id, secret));
    cj.kick();
    await waitFor(() => r.relay.store.seqOf(doc, add.id) !== undefined, 10_000, 'Add stored');
    await synced(cj, 'joiner synced');
    expect(titles(joiner.replica, doc)).toEqual(titles(owner.replica, doc));
    expect(cj.status.opsReceived).toBeLessThan(100);
  });

  it('[SYNC-15] a start the device refuses (a snapshot it cannot open) falls back to the whole history', async () => {
    const r = await harness.relay();
    const owner = await makeDevice('owner');
    const { doc } = await uploaded(r, owner, [], 300);
    // A member added after the snapshot, but the relay may send only the newest key sources:
    // here none at all reach it, so it cannot open the snapshot and asks for everything.
    const fresh = await makeDevice('fresh');
    owner.track(await owner.replica.addMember(doc, await signDeviceCard(fresh, fromHex(doc))));
    await syncedClient(owner, r, 'owner synced');
    const start = fresh.replica.startFromSealed.bind(fresh.replica);
    let refusals = 0;
    fresh.replica.startFromSealed = async (m, ch, e) => {
      refusals++;
      return start(m, ch, e, [], []);
    };
    const cf = snapClient(fresh, r);
    cf.follow(doc);
    cf.start();
    await synced(cf, 'fresh synced');
    expect(refusals).toBe(1);
    expect(cf.status.snapshotStarts).toBe(0);
    expect(titles(fresh.replica, doc)).toEqual(titles(owner.replica, doc));
    expect(fresh.replica.root(doc)).toBe(owner.replica.root(doc));
  });

  it('[RELAY-20] a device that creates a calendar has a member’s frame budget at once, not the strangers’ (a snapshot upload right after an import was starved)', async () => {
    const r = await harness.relay();
    const a = await makeDevice('a');
    const g = a.track(await a.replica.createCalendar({ name: 'New' }));
    await syncedClient(a, r, 'a synced');
    await waitFor(() => r.relay.isKnownMember(a.id), 5000, 'a known as a member');
    expect(r.relay.replica.members(g.doc).has(a.id)).toBe(true);
  });

  it('[SNAP-15][RELAY-27] a hostile member’s forged snapshot: stored (the relay cannot read it), never endorsed by an honest member (which records evidence), never served', async () => {
    const r = await harness.relay();
    const [a, b, c] = await Promise.all([makeDevice('hostile'), makeDevice('honest'), makeDevice('new')]);
    const doc = await sharedCalendar(a, [b, c]);
    await seed(a, doc, 120);
    const ca = await syncedClient(a, r, 'a synced');
    await copyLog(a.replica, b.replica, doc);
    await b.persistence.setCursor(doc, r.relay.store.durableSeqOf(doc));
    const cb = await syncedClient(b, r, 'b synced');
    const forged = await forgedSnapshot(a, doc);
    expect(await ca.uploadSnapshot(doc, forged.manifest, forged.chunks)).toBe(true);
    await waitFor(() => b.replica.snapshotEvidence(doc).length > 0, 15_000, 'b recorded the forgery');
    expect(b.replica.snapshotEvidence(doc)[0]!.signer).toBe(a.id);
    expect(cb.snapshotStats?.endorsed).toBe(0);
    expect(await r.relay.snapshots.allEndorsements(doc)).toEqual([]);
    const cc = snapClient(c, r);
    cc.follow(doc);
    cc.start();
    await synced(cc, 'c synced');
    expect(cc.status.snapshotStarts).toBe(0);
    expect(titles(c.replica, doc)).not.toContain('forged');
    expect(titles(c.replica, doc)).toEqual(titles(b.replica, doc));
  });

  it('[SYNC-15] chunks altered at rest on the relay (a hostile or damaged relay): the new device refuses the start and catches up from the whole history', async () => {
    const r = await harness.relay();
    const owner = await makeDevice('owner');
    const { doc, id } = await uploaded(r, owner, [], 200);
    const fresh = await makeDevice('fresh');
    owner.track(await owner.replica.addMember(doc, await signDeviceCard(fresh, fromHex(doc))));
    await syncedClient(owner, r, 'the Add uploaded');
    r.store.transact((db) =>
      db
        .prepare(
          'UPDATE snapshot_chunks SET bytes = randomblob(length(bytes)) WHERE doc = ? AND snapshot = ?',
        )
        .run(doc, id),
    );
    const cf = snapClient(fresh, r);
    cf.follow(doc);
    cf.start();
    await waitFor(
      () =>
        cf.status.state === 'synced' &&
        fresh.replica.hasDoc(doc) &&
        fresh.replica.root(doc) === owner.replica.root(doc),
      20_000,
      'fresh caught up',
    );
    expect(cf.status.snapshotStarts).toBe(0);
    expect(titles(fresh.replica, doc)).toEqual(titles(owner.replica, doc));
  });

  it('[RELAY-27][SYNC-15] the newest trusted snapshot is served: a second one starts its tail after the first one’s', async () => {
    const r = await harness.relay();
    const owner = await makeDevice('owner');
    const { doc, c } = await uploaded(r, owner, [], 200);
    await seed(owner, doc, 150, 'second');
    c.kick();
    await synced(c, 'second batch uploaded');
    const second = await owner.replica.sealSnapshot(doc);
    expect(await c.uploadSnapshot(doc, second.manifest, second.chunks)).toBe(true);
    const [newest, oldest] = await r.relay.snapshots.listSnapshots(doc);
    expect(newest!.id).toBe((await openManifest(crypto, second.manifest)).hash);
    expect(newest!.baseSeq).toBeGreaterThan(oldest!.baseSeq);
    expect(newest!.baseSeq).toBe(r.relay.store.durableSeqOf(doc));
    const fresh = await makeDevice('fresh');
    owner.track(await owner.replica.addMember(doc, await signDeviceCard(fresh, fromHex(doc))));
    c.kick();
    await synced(c, 'the Add uploaded');
    const cf = snapClient(fresh, r);
    cf.follow(doc);
    cf.start();
    await synced(cf, 'fresh synced');
    expect(cf.status.snapshotStarts).toBe(1);
    expect(cf.status.opsReceived).toBeLessThan(5);
    expect(titles(fresh.replica, doc)).toEqual(titles(owner.replica, doc));
  });
});
