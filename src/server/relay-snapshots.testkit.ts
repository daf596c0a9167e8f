// Snapshot helpers shared by the relay's snapshot and pruning tests (relay-snapshots.test.ts,
// relay-prune.test.ts): sync clients with snapshots on, seeding, uploading, comparing.

import { expect } from 'vitest';
import {
  createNobleCrypto,
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  eventFromRecord,
  openManifest,
  type Replica,
} from '../engine/index.ts';
import type { SyncClient } from '../sync/client.ts';
import {
  makeClient,
  type RawSession,
  randomEntity,
  sharedCalendar,
  type TestDevice,
  type TestRelay,
  waitFor,
} from './relay.testkit.ts';
import type { useRelayHarness } from './relay-harness.testkit.ts';

export const crypto = createNobleCrypto();

/** `n` events written in batches (as an import does), every op tracked for upload. */
export async function seed(dev: TestDevice, doc: DocId, n: number, prefix = 'event'): Promise<void> {
  for (let i = 0; i < n; i += 200) {
    const batch = Array.from({ length: Math.min(200, n - i) }, (_, k) => ({
      entity: randomEntity() as EntityId,
      writes: [{ field: EventField.Title, value: encodeValue('text', `${prefix} ${i + k}`) }],
    }));
    for (const op of await dev.replica.writeBatch(doc, batch)) dev.track(op);
  }
}

export function titles(replica: Replica, doc: DocId): string[] {
  return replica
    .entities(doc)
    .filter((e) => e.entity !== '0'.repeat(32))
    .map((e) => eventFromRecord(e).title)
    .sort();
}

export async function synced(c: SyncClient, what: string): Promise<void> {
  await waitFor(() => c.status.state === 'synced' && c.status.pending === 0, 20_000, what);
}

/** Every client synced and every replica at one root. */
export async function converged(
  clients: SyncClient[],
  reps: Replica[],
  doc: DocId,
  what: string,
): Promise<void> {
  await waitFor(
    () =>
      clients.every((c) => c.status.state === 'synced' && c.status.pending === 0) &&
      reps.every((r) => r.hasDoc(doc) && r.root(doc) === reps[0]!.root(doc)),
    40_000,
    what,
  );
}

/** Gives `to` every op of `doc` that `from` holds (a device that synced earlier). */
export async function copyLog(from: Replica, to: Replica, doc: DocId): Promise<void> {
  await to.receiveBatch((await from.listOps(doc, 0, 100_000)).map((r) => r.bytes));
}

/** Clients and sessions stopped by the harness after each test. */
export function snapshotKit(harness: ReturnType<typeof useRelayHarness>) {
  /** A sync client with snapshots on (the worker's configuration). */
  function snapClient(dev: TestDevice, r: TestRelay): SyncClient {
    const c = makeClient(dev, r.url, { snapshots: true });
    harness.defer(() => c.stop());
    return c;
  }

  /** A sync client with snapshots on, started, once it is synced with nothing pending. */
  async function syncedClient(dev: TestDevice, r: TestRelay, what: string): Promise<SyncClient> {
    const c = snapClient(dev, r);
    c.start();
    await synced(c, what);
    return c;
  }

  async function session(dev: TestDevice, r: TestRelay): Promise<RawSession> {
    const s = await harness.session(dev, r);
    await s.waitFor((m) => m.type === 'welcome', 'welcome');
    return s;
  }

  /** A calendar of `owner` (and `others`), seeded and synced with the relay, then sealed and uploaded. */
  async function uploaded(r: TestRelay, owner: TestDevice, others: TestDevice[], events: number) {
    const doc = await sharedCalendar(owner, others);
    await seed(owner, doc, events);
    const c = await syncedClient(owner, r, 'owner synced');
    const sealed = await owner.replica.sealSnapshot(doc);
    expect(await c.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
    const id = (await openManifest(crypto, sealed.manifest)).hash;
    return { doc, c, sealed, id };
  }

  return { snapClient, syncedClient, session, uploaded };
}
