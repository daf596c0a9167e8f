// Snapshots with several relays on one PostgreSQL database (RELAY-25): a snapshot uploaded and
// endorsed through one relay is stored in the shared database and served by another.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createNobleCrypto,
  type EntityId,
  EventField,
  encodeValue,
  fromHex,
  openManifest,
  signDeviceCard,
} from '../engine/index.ts';
import { sharedLog, startClusterRelay } from './cluster.testkit.ts';
import { type PgServer, startPgServer } from './pg.testkit.ts';
import { joinedAt, makeClient, makeDevice, randomEntity, sharedCalendar, waitFor } from './relay.testkit.ts';
import { useRelayHarness } from './relay-harness.testkit.ts';

let pgs: PgServer;
beforeAll(() => {
  pgs = startPgServer();
});
afterAll(() => pgs?.close());

const h = useRelayHarness();

describe('snapshots across relays', () => {
  it('[RELAY-25][SYNC-15] a snapshot uploaded through relay A is served by relay B to a new device', async () => {
    const url = await pgs.freshDatabase();
    const a = await startClusterRelay(url);
    h.defer(() => a.stop());
    const b = await startClusterRelay(url);
    h.defer(() => b.stop());
    const owner = await makeDevice('owner');
    const doc = await sharedCalendar(owner, []);
    for (let i = 0; i < 400; i += 200) {
      const batch = Array.from({ length: 200 }, (_, k) => ({
        entity: randomEntity() as EntityId,
        writes: [{ field: EventField.Title, value: encodeValue('text', `event ${i + k}`) }],
      }));
      for (const op of await owner.replica.writeBatch(doc, batch)) owner.track(op);
    }
    const co = makeClient(owner, a.url, { snapshots: true });
    h.defer(() => co.stop());
    co.start();
    await waitFor(() => co.status.state === 'synced' && co.status.pending === 0, 30_000, 'owner synced at A');
    const sealed = await owner.replica.sealSnapshot(doc);
    expect(await co.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
    // Stored in the shared database: relay B lists it.
    const id = (await openManifest(createNobleCrypto(), sealed.manifest)).hash;
    expect((await b.relay.snapshots.listSnapshots(doc)).map((s) => s.id)).toEqual([id]);
    const fresh = await makeDevice('fresh');
    owner.track(await owner.replica.addMember(doc, await signDeviceCard(fresh, fromHex(doc))));
    co.kick();
    await waitFor(() => co.status.state === 'synced' && co.status.pending === 0, 30_000, 'Add uploaded');
    const cf = await joinedAt(fresh, b.url, owner, doc, 'fresh caught up at B');
    h.defer(() => cf.stop());
    expect(cf.status.snapshotStarts).toBe(1);
    expect(cf.status.opsReceived).toBeLessThan(50);
  });

  it('[RELAY-30][SNAP-17] relay A prunes the shared log; relay B drops the pruned ops from its copy with the next op, and serves a new device the snapshot and the tail', async () => {
    const url = await pgs.freshDatabase();
    const a = await startClusterRelay(url, { pruneDebounceMs: 600_000 });
    h.defer(() => a.stop());
    const b = await startClusterRelay(url, { pruneDebounceMs: 600_000 });
    h.defer(() => b.stop());
    const owner = await makeDevice('owner');
    const doc = await sharedCalendar(owner, []);
    const batch = Array.from({ length: 300 }, (_, k) => ({
      entity: randomEntity() as EntityId,
      writes: [{ field: EventField.Title, value: encodeValue('text', `event ${k}`) }],
    }));
    for (const op of await owner.replica.writeBatch(doc, batch)) owner.track(op);
    const co = makeClient(owner, a.url, { snapshots: true });
    h.defer(() => co.stop());
    co.start();
    const synced = (what: string) =>
      waitFor(() => co.status.state === 'synced' && co.status.pending === 0, 30_000, what);
    await synced('owner synced at A');
    const sealed = await owner.replica.sealSnapshot(doc);
    expect(await co.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
    co.sendEndorsement(doc, await owner.replica.endorseSnapshot(sealed.manifest, sealed.chunks));
    const id = (await openManifest(createNobleCrypto(), sealed.manifest)).hash;
    await waitFor(
      async () => (await a.relay.snapshots.endorsementsOf(doc, id)).length === 1,
      10_000,
      'endorsed',
    );
    const before = (await sharedLog(url, doc)).length;
    const pruned = await a.relay.pruner.prune(doc);
    expect(pruned).toBeGreaterThan(250);
    expect((await sharedLog(url, doc)).length).toBe(before - pruned);
    // The next op reaches relay B with the pruned record: its copy and replica follow.
    const fresh = await makeDevice('fresh');
    owner.track(await owner.replica.addMember(doc, await signDeviceCard(fresh, fromHex(doc))));
    co.kick();
    await synced('Add uploaded');
    await waitFor(
      () => b.relay.store.opsAfter(doc, 0, 100_000).length === before - pruned + 1,
      10_000,
      'B dropped the pruned ops',
    );
    const cf = await joinedAt(fresh, b.url, owner, doc, 'fresh caught up at B');
    h.defer(() => cf.stop());
    expect(cf.status.snapshotStarts).toBe(1);
    // A write of the new device through B reaches the owner through A.
    const w = fresh.track(
      await fresh.replica.write(doc, randomEntity() as EntityId, [
        { field: EventField.Title, value: encodeValue('text', 'from B') },
      ]),
    );
    cf.kick();
    await waitFor(
      async () => (await owner.replica.getOps(doc, [w.id]))[0] !== undefined,
      15_000,
      'owner got it',
    );
    await waitFor(() => b.relay.replica.root(doc) === owner.replica.root(doc), 10_000, 'B agrees');
    // B's replica, reopened from its copy after the op it applied, starts from the snapshot too.
    expect(b.relay.replica.startsFrom(doc)?.frontier).toEqual(a.relay.replica.startsFrom(doc)?.frontier);
  });
});
