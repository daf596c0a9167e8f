// Pruning on the relay (RELAY-29..32, SNAP-17) through the in-process relay with real replicas
// and WebSockets: the relay prunes only once every member endorsed the snapshot, a new device
// joins from the snapshot and the tail and shows what a full member shows, a member with an old
// cursor converges, a hostile member's fork below its certification and a stranger are refused,
// a member that did not consent holds pruning back until it is offered the snapshot, and a
// calendar in compliance mode is never pruned because no honest device endorses there.

import { describe, expect, it } from 'vitest';
import {
  CALENDAR_ENTITY,
  type DocId,
  encodeValue,
  fromHex,
  openManifest,
  type Replica,
  signDeviceCard,
} from '../engine/index.ts';
import { createOp } from '../engine/op.ts';
import { visibleState } from '../engine/snapshot.testkit.ts';
import { OpKind } from '../engine/store.ts';
import type { SyncClient } from '../sync/client.ts';
import {
  makeDevice,
  random,
  randomEntity,
  sharedCalendar,
  type TestDevice,
  type TestRelay,
  waitFor,
} from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';
import { copyLog, crypto, seed, snapshotKit, synced } from './relay-snapshots.testkit.ts';

const harness = useRelayHarness();
const { snapClient, syncedClient, session } = snapshotKit(harness);

const relayOps = (r: TestRelay, doc: DocId) => r.relay.store.opsAfter(doc, 0, 1_000_000);

/** A device that held the calendar before (its log copied, its cursor at the relay's head), online. */
async function online(dev: TestDevice, from: Replica, r: TestRelay, doc: DocId): Promise<SyncClient> {
  await copyLog(from, dev.replica, doc);
  await dev.persistence.setCursor(doc, r.relay.store.durableSeqOf(doc));
  return syncedClient(dev, r, `${dev.name} synced`);
}

/** a's snapshot, uploaded and endorsed by a itself (as the worker does after sealing, SNAP-16). */
async function sealAndUpload(a: TestDevice, ca: SyncClient, doc: DocId) {
  const sealed = await a.replica.sealSnapshot(doc);
  expect(await ca.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
  ca.sendEndorsement(doc, await a.replica.endorseSnapshot(sealed.manifest, sealed.chunks));
  return { sealed, id: (await openManifest(crypto, sealed.manifest)).hash };
}

async function endorsedBy(r: TestRelay, doc: DocId, id: string, devs: TestDevice[]): Promise<void> {
  await waitFor(
    async () => {
      const by = new Set((await r.relay.snapshots.endorsementsOf(doc, id)).map((e) => e.endorser));
      return devs.every((d) => by.has(d.id));
    },
    15_000,
    `endorsed by ${devs.map((d) => d.name).join(', ')}`,
  );
}

describe('pruning on the relay', () => {
  it('[RELAY-29][RELAY-30][SNAP-17] once every member endorsed, the relay prunes; a new device joins from the snapshot and the tail and shows what a full member shows; a member with an old cursor converges; all of it after a restart too', async () => {
    const r = await harness.relay();
    const [a, b, fresh] = await Promise.all([makeDevice('a'), makeDevice('b'), makeDevice('fresh')]);
    const doc = await sharedCalendar(a, [b]);
    await seed(a, doc, 300);
    const ca = await syncedClient(a, r, 'a synced');
    const cb = await online(b, a.replica, r, doc);
    const { id } = await sealAndUpload(a, ca, doc);
    await endorsedBy(r, doc, id, [a, b]); // b endorses by itself when offered (SNAP-15)
    const before = relayOps(r, doc).length;
    const pruned = await r.relay.pruner.prune(doc);
    expect(pruned).toBeGreaterThan(250);
    expect(relayOps(r, doc).length).toBe(before - pruned);
    // The pages the pruned ops held go back to the file system (a new file reclaims them).
    await r.relay.pruner.reclaiming;
    expect(r.relay.store.readDb((db) => db.pragma('freelist_count', { simple: true }))).toBe(0);
    expect(r.relay.replica.startsFrom(doc)?.frontier).toEqual(
      [...(await r.relay.snapshots.getSnapshot(doc, id))!.frontier].sort(),
    );

    // The tail: writes of both members after the frontier.
    for (let i = 0; i < 5; i++) await writeTitle(a, doc, randomEntity(), `a tail ${i}`);
    await writeTitle(b, doc, randomEntity(), 'b tail');
    ca.kick();
    cb.kick();
    await synced(ca, 'a tail');
    await synced(cb, 'b tail');

    // A restart of the relay on the pruned log.
    ca.stop();
    cb.stop();
    const dataDir = r.dataDir;
    await r.close();
    const r2 = await harness.relay({ dataDir });
    expect(relayOps(r2, doc).length).toBe(before - pruned + 6);
    expect(r2.relay.replica.startsFrom(doc)).toBeDefined();

    // A new device joins from the snapshot and the tail.
    a.track(await a.replica.addMember(doc, await signDeviceCard(fresh, fromHex(doc))));
    const ca2 = await syncedClient(a, r2, 'the Add uploaded');
    const cf = snapClient(fresh, r2);
    cf.follow(doc);
    cf.start();
    await synced(cf, 'fresh synced');
    expect(cf.status.snapshotStarts).toBe(1);
    await writeTitle(fresh, doc, randomEntity(), 'fresh writes');
    cf.kick();
    await synced(cf, 'fresh wrote');
    // b lost its cursor (a crash before it was saved): it streams from before the pruned range.
    await b.persistence.setCursor(doc, 3);
    await syncedClient(b, r2, 'b synced from an old cursor');
    await synced(ca2, 'a synced');
    await waitFor(
      () =>
        a.replica.root(doc) === fresh.replica.root(doc) && b.replica.root(doc) === fresh.replica.root(doc),
      15_000,
      'everyone converged',
    );
    expect(visibleState(fresh.replica, doc)).toEqual(visibleState(a.replica, doc));
    expect(visibleState(b.replica, doc)).toEqual(visibleState(a.replica, doc));
    expect(a.replica.root(doc)).toBe(r2.relay.replica.root(doc));
  });

  it('[RELAY-29][RELAY-31][SYNC-15] a member that has not endorsed holds pruning back; offered the newest snapshot when it comes back behind and has caught up (though another member endorsed it), it endorses and the relay prunes by itself', async () => {
    const r = await harness.relay();
    const [a, b, c] = await Promise.all([makeDevice('a'), makeDevice('b'), makeDevice('c')]);
    const doc = await sharedCalendar(a, [b, c]);
    await seed(a, doc, 200);
    const ca = await syncedClient(a, r, 'a synced');
    await online(b, a.replica, r, doc);
    const { id } = await sealAndUpload(a, ca, doc);
    await endorsedBy(r, doc, id, [a, b]);
    const before = relayOps(r, doc).length;
    expect(await r.relay.pruner.prune(doc)).toBe(0);
    expect(r.relay.pruner.reports.get(doc)?.status.waitingFor).toEqual([c.id]);
    expect(relayOps(r, doc).length).toBe(before);
    // c was offline at upload and is behind: back online it catches up, then is offered the
    // snapshot (SYNC-15; though b endorsed it), recomputes it and endorses.
    const early = r.relay.store.listOpBytes(doc, 0, 40);
    await c.replica.receiveBatch(early.map((o) => o.bytes));
    await c.persistence.setCursor(doc, early[early.length - 1]!.seq);
    const cc = snapClient(c, r);
    cc.start();
    await endorsedBy(r, doc, id, [c]);
    expect(cc.snapshotStats?.endorsed).toBe(1);
    await waitFor(() => relayOps(r, doc).length < before, 15_000, 'the relay pruned by itself');
    expect(r.relay.pruner.stats.prunes).toBe(1);
  });

  it('[RELAY-29][RELAY-30][RELAY-28][RELAY-18] after pruning: a hostile member’s fork below its certification is dropped, an op of a removed device and a stranger’s op are refused, a pruned op sent again is acknowledged, an older snapshot is not stored; nothing changes', async () => {
    const r = await harness.relay();
    const [a, b, gone, stranger] = await Promise.all([
      makeDevice('a'),
      makeDevice('hostile'),
      makeDevice('removed'),
      makeDevice('stranger'),
    ]);
    const doc = await sharedCalendar(a, [b, gone]);
    await seed(a, doc, 100);
    const ca = await syncedClient(a, r, 'a synced');
    const stale = await a.replica.sealSnapshot(doc); // below the frontier pruned to, later
    const cb = await online(b, a.replica, r, doc);
    await writeTitle(b, doc, randomEntity(), 'b, before the snapshot');
    cb.kick();
    await synced(cb, 'b wrote');
    await copyLog(b.replica, a.replica, doc);
    await online(gone, a.replica, r, doc);
    const early = (await a.replica.listOps(doc, 10, 1))[0]!; // covered by the frontier
    const { id } = await sealAndUpload(a, ca, doc);
    await endorsedBy(r, doc, id, [a, b, gone]);
    a.track(await a.replica.removeMember(doc, fromHex(gone.id)));
    ca.kick();
    await synced(ca, 'removal uploaded');
    expect(await r.relay.pruner.prune(doc)).toBeGreaterThan(50);
    expect(r.relay.store.seqOf(doc, early.id)).toBeUndefined();
    const root = r.relay.replica.root(doc);
    const count = relayOps(r, doc).length;
    const forge = (dev: TestDevice, ctr: number) =>
      createOp(dev.signer, random, {
        doc: fromHex(doc),
        ctr,
        kind: OpKind.Patch,
        schema: 1,
        wallTime: Date.now() * 1000,
        prev: new Uint8Array(0),
        parents: [fromHex(early.id)],
        body: random(40),
        key: { id: random(8), key: random(32) },
      });
    // b's fork sits at a chain position the pruned frontier covers: answered as a duplicate of
    // what was pruned (RELAY-30) and dropped; the others are refused.
    for (const [dev, answer] of [
      [b, 'ack'],
      [gone, 'NotMember'],
      [stranger, 'UnknownDoc'],
    ] as const) {
      const op = await forge(dev, 1);
      const s = await session(dev, r);
      s.send({ type: 'push', ops: [op.bytes] });
      const m = await s.waitFor((x) => x.type === 'error' || x.type === 'ack', `${dev.name} answered`);
      expect(m.type === 'ack' ? 'ack' : (m as { code: string }).code).toBe(answer);
      expect(r.relay.store.seqOf(doc, op.id)).toBeUndefined();
    }
    // A snapshot whose frontier does not hold the pruned one is never stored (RELAY-30).
    expect(await ca.uploadSnapshot(doc, stale.manifest, stale.chunks)).toBe(false);
    expect((await r.relay.snapshots.listSnapshots(doc)).map((x) => x.id)).toEqual([id]);
    // An honest op pruned here, sent again (its ack was lost): acknowledged, not applied again.
    const sa = await session(a, r);
    sa.send({ type: 'push', ops: [early.bytes] });
    const ack = await sa.waitFor((m) => m.type === 'ack' || m.type === 'error', 'the pruned op answered');
    expect(ack).toMatchObject({ type: 'ack', acks: [{ op: early.id }] });
    expect(r.relay.store.seqOf(doc, early.id)).toBeUndefined();
    // The same pruned op relayed by a device that is not a member: no ack without a signature
    // checked; it is judged as every relayed op is (the engine refuses it: covered, SNAP-7).
    const ss = await session(stranger, r);
    ss.send({ type: 'push', ops: [early.bytes] });
    const theirs = await ss.waitFor((m) => m.type === 'ack' || m.type === 'error', 'the stranger answered');
    expect(theirs.type === 'ack' ? 'ack' : (theirs as { code: string }).code).toBe('Unsupported');
    expect(r.relay.replica.root(doc)).toBe(root);
    expect(relayOps(r, doc).length).toBe(count);
    expect(r.relay.replica.pendingCount(doc)).toBe(0);
  });

  it('[RELAY-29][CMP-2] a calendar in compliance mode is never pruned: no honest device endorses its snapshot', async () => {
    const r = await harness.relay();
    const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    await seed(a, doc, 100);
    const ca = await syncedClient(a, r, 'a synced');
    // A snapshot made while compliance mode was off, uploaded; then compliance mode is switched on.
    const sealed = await a.replica.sealSnapshot(doc);
    expect(await ca.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
    a.track(await a.replica.write(doc, CALENDAR_ENTITY, [{ field: 4, value: encodeValue('bool', true) }]));
    ca.kick();
    await synced(ca, 'compliance on');
    await expect(a.replica.endorseSnapshot(sealed.manifest, sealed.chunks)).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    // b comes online, is offered the snapshot, and does not endorse it.
    const cb = await online(b, a.replica, r, doc);
    await waitFor(() => (cb.snapshotStats?.endorsed ?? 0) === 0 && cb.status.state === 'synced', 5000, 'b');
    await new Promise((res) => setTimeout(res, 500));
    expect(await r.relay.snapshots.allEndorsements(doc)).toEqual([]);
    const before = relayOps(r, doc).length;
    expect(await r.relay.pruner.prune(doc)).toBe(0);
    expect(relayOps(r, doc).length).toBe(before);
    // SYNC-15: offered once per device while the relay runs, not its chunks at every connection.
    cb.stop();
    for (let i = 0; i < 2; i++) {
      const s = await session(b, r);
      s.send({ type: 'subscribe', doc, cursor: relayOps(r, doc).length });
      await s.waitFor((m) => m.type === 'caughtUp', 'b caught up again');
      await new Promise((res) => setTimeout(res, 300));
      expect(s.got.some((m) => m.type === 'snapshotOffer')).toBe(false);
    }
  });
});
