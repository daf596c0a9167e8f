// An offline device behind the prune horizon (docs/PROTOCOL.md SNAP-12 "an offline member holds
// pruning back", SNAP-16), over the real relay and sync clients with the worker's snapshot
// handling: a seals and uploads a snapshot, b endorses it by itself (SNAP-15), c is offline and
// never certified it. The host's pruning on a waits for c, whatever c does offline. c comes back
// with edits made from old parents (one far ahead on the clock, one that a later edit beats):
// they merge everywhere; the first snapshot is never pruned to (c's edits are concurrent with it);
// a later one, once c certified it, is. Then a (pruned), b and c (which kept every op) show the
// same, and c's edits won and lost exactly as against the full history.

import { describe, expect, it } from 'vitest';
import {
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  eventFromRecord,
  type Replica,
} from '../engine/index.ts';
import { visibleState } from '../engine/snapshot.testkit.ts';
import {
  makeDevice,
  randomEntity,
  sharedCalendar,
  type TestDevice,
  type TestRelay,
  waitFor,
} from '../server/relay.testkit.ts';
import { useRelayHarness, writeTitle } from '../server/relay-harness.testkit.ts';
import { snapshotKit } from '../server/relay-snapshots.testkit.ts';
import type { SyncClient } from '../sync/client.ts';
import { AutoPrune } from './auto-prune.ts';

const harness = useRelayHarness();
/** Ahead of everyone, within what the relay accepts without holding (RELAY-7, 5 minutes). */
const AHEAD_US = 4 * 60_000_000;

/** A sync client as the worker runs it (snapshots on: offered ones are endorsed, SNAP-15). */
const client = snapshotKit(harness).snapClient;

const caughtUp = (c: SyncClient) => c.status.state === 'synced' && c.status.pending === 0;

/** Seq up to which each device's own ops were put in its outbox. */
const queued = new Map<string, number>();

/**
 * Every own op `dev` committed outside a tracked call (a key restatement, KEY-10, a rotation
 * before sealing) goes to its outbox, as the worker's IndexedDB outbox does by itself.
 */
async function outbox(dev: TestDevice, doc: DocId, c: SyncClient): Promise<void> {
  for (const o of await dev.replica.listOps(doc, queued.get(dev.id) ?? 0, 100_000))
    if (o.author === dev.id) dev.track(o);
  queued.set(dev.id, dev.replica.seq(doc));
  c.kick();
}

async function synced(c: SyncClient, what: string, dev?: TestDevice, doc?: DocId): Promise<void> {
  if (dev !== undefined && doc !== undefined) await outbox(dev, doc, c);
  await waitFor(() => caughtUp(c), 20_000, what);
}

/** The host's pruner over `dev`, caught up when its client is. */
function pruner(dev: TestDevice, c: () => SyncClient) {
  const errors: unknown[] = [];
  const p = new AutoPrune({
    replica: dev.replica,
    caughtUp: () => caughtUp(c()),
    onError: (_d, e) => errors.push(e),
  });
  return { p, errors };
}

async function seed(dev: TestDevice, doc: DocId, n: number): Promise<EntityId[]> {
  const ids = Array.from({ length: n }, () => randomEntity() as EntityId);
  for (let i = 0; i < n; i += 100) {
    const batch = ids.slice(i, i + 100).map((entity, k) => ({
      entity,
      writes: [{ field: EventField.Title, value: encodeValue('text', `event ${i + k}`) }],
    }));
    for (const op of await dev.replica.writeBatch(doc, batch)) dev.track(op);
  }
  return ids;
}

const titleOf = (r: Replica, doc: DocId, e: EntityId) => eventFromRecord(r.entity(doc, e)!).title;

/** a seals at its heads, uploads, endorses its own (as the host does); waits until b endorsed too. */
async function sealAndUpload(r: TestRelay, a: TestDevice, ca: SyncClient, b: TestDevice, doc: DocId) {
  await synced(ca, 'a synced before sealing', a, doc);
  const sealed = await a.replica.sealSnapshot(doc);
  // A rotation sealing asked for is an own op: it goes out first.
  await synced(ca, 'a synced after sealing', a, doc);
  expect(await ca.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
  ca.sendEndorsement(doc, await a.replica.endorseSnapshot(sealed.manifest, sealed.chunks));
  const before = (await r.relay.snapshots.allEndorsements(doc)).filter((e) => e.endorser === b.id).length;
  await waitFor(
    async () =>
      (await r.relay.snapshots.allEndorsements(doc)).filter((e) => e.endorser === b.id).length > before,
    15_000,
    'b endorsed the snapshot by itself',
  );
  return sealed;
}

describe('an offline device behind the prune horizon, over the relay', () => {
  it('[SNAP-12][SNAP-16] holds pruning back; back online its offline edits merge and win or lose as against the full history; a later snapshot prunes', async () => {
    const r = await harness.relay();
    const [a, b, c] = await Promise.all([makeDevice('a'), makeDevice('b'), makeDevice('c')]);
    const doc = await sharedCalendar(a, [b, c]);
    const ids = await seed(a, doc, 300);
    const ca = client(a, r);
    const cb = client(b, r);
    let cc = client(c, r);
    for (const x of [ca, cb, cc]) {
      x.follow(doc);
      x.start();
    }
    await synced(ca, 'a synced', a, doc);
    await synced(cb, 'b synced', b, doc);
    await synced(cc, 'c synced', c, doc);
    await waitFor(
      async () => (await c.replica.listOps(doc, 0, 100_000)).length >= 300,
      20_000,
      'c has the history',
    );

    // c goes offline; a and b go on; a snapshot of a's heads, endorsed by a and b.
    cc.stop();
    for (let i = 0; i < 20; i++) await writeTitle(i % 2 ? a : b, doc, ids[i]!, `online ${i}`);
    await synced(ca, 'a synced', a, doc);
    await synced(cb, 'b synced', b, doc);
    await sealAndUpload(r, a, ca, b, doc);
    const pa = pruner(a, () => ca);
    const waiting = () => [...pa.p.reports.values()][0]?.waitingFor ?? [];
    // Once b's endorsement reached a (the relay forwards it, SYNC-14), a waits for c alone.
    await waitFor(
      async () => {
        await pa.p.run();
        await synced(cb, 'b synced', b, doc);
        return waiting().join() === c.id;
      },
      15_000,
      'a waits for c alone',
    );
    expect(pa.errors).toEqual([]);
    expect(pa.p.pruned).toBe(0);

    // c edits offline, from the parents it had: one edit far ahead on the clock (it will win), one
    // that b's later edit beats; a meanwhile keeps waiting.
    c.clockSkewUs = AHEAD_US;
    await writeTitle(c, doc, ids[0]!, 'c offline, wins');
    c.clockSkewUs = 0;
    await writeTitle(c, doc, ids[1]!, 'c offline, loses');
    await pa.p.run();
    expect(pa.p.pruned).toBe(0);
    expect(waiting()).toEqual([c.id]);

    // c comes back: its offline edits reach everyone through the relay.
    cc = client(c, r);
    cc.follow(doc);
    cc.start();
    await synced(cc, 'c back and synced', c, doc);
    await waitFor(
      () => titleOf(a.replica, doc, ids[0]!) === 'c offline, wins',
      20_000,
      'a has c’s offline edit',
    );
    await waitFor(
      () => titleOf(b.replica, doc, ids[1]!) === 'c offline, loses',
      20_000,
      'b has c’s offline edit',
    );
    await writeTitle(b, doc, ids[1]!, 'b, later, beats c');
    await synced(cb, 'b synced', b, doc);
    // The first snapshot never prunes: c's offline edits were made concurrently with it.
    await synced(ca, 'a synced', a, doc);
    await pa.p.run();
    expect(pa.p.pruned).toBe(0);
    expect([...pa.p.reports.values()][0]?.blocked).toMatch(/without the whole frontier/);

    // A later snapshot, made after everything merged: c certifies it by its next write, a prunes.
    await waitFor(() => titleOf(a.replica, doc, ids[1]!) === 'b, later, beats c', 20_000, 'a has b’s edit');
    await sealAndUpload(r, a, ca, b, doc);
    await waitFor(() => titleOf(c.replica, doc, ids[1]!) === 'b, later, beats c', 20_000, 'c caught up');
    // c holds the whole frontier (a key rotation sealing made included) before it writes again.
    await synced(cc, 'c synced after the second snapshot', c, doc);
    await synced(cb, 'b synced after the second snapshot', b, doc);
    await writeTitle(c, doc, ids[2]!, 'c, after the second snapshot');
    await synced(cc, 'c synced', c, doc);
    await waitFor(
      () => titleOf(a.replica, doc, ids[2]!) === 'c, after the second snapshot',
      20_000,
      'a has it',
    );
    await synced(ca, 'a synced', a, doc);
    const held = (await a.replica.listOps(doc, 0, 100_000)).length;
    await waitFor(
      async () => {
        await synced(cb, 'b synced', b, doc);
        await pa.p.run();
        return pa.p.pruned > 0;
      },
      15_000,
      `a prunes (${JSON.stringify([...pa.p.reports.values()])})`,
    );
    expect(pa.errors).toEqual([]);
    expect(pa.p.pruned).toBeGreaterThan(300);
    expect((await a.replica.listOps(doc, 0, 100_000)).length).toBe(held - pa.p.pruned);

    // Later edits from everyone still merge on the pruned replica; all three show the same.
    await writeTitle(a, doc, ids[3]!, 'a, after pruning');
    await writeTitle(c, doc, ids[3]!, 'c, after pruning');
    for (const [x, dev] of [
      [ca, a],
      [cb, b],
      [cc, c],
    ] as const)
      await synced(x, `${dev.name} synced at the end`, dev, doc);
    await waitFor(
      () =>
        JSON.stringify(visibleState(a.replica, doc)) === JSON.stringify(visibleState(b.replica, doc)) &&
        JSON.stringify(visibleState(c.replica, doc)) === JSON.stringify(visibleState(b.replica, doc)),
      20_000,
      'a, b and c show the same',
    );
    expect(visibleState(a.replica, doc)).toEqual(visibleState(b.replica, doc));
    expect(titleOf(a.replica, doc, ids[0]!)).toBe('c offline, wins');
    expect(titleOf(a.replica, doc, ids[1]!)).toBe('b, later, beats c');
  }, 60_000);
});
