// Re-syncing a diverged calendar through the in-process relay, with real replicas, sync clients
// and WebSockets (docs/PROTOCOL.md SNAP-18, SNAP-19, SYNC-16): a device that joined from a
// snapshot refuses the ops of a member that was offline since before it (SNAP-7); it notices,
// refills the calendar beside its copy and re-bases, and then shows exactly what every full
// replica shows (every event, every field, conflicts, heads and root). Also: a device removed
// concurrently, own edits unacknowledged at the moment of divergence, the relay's newer snapshot
// used for the refill, and a relay serving a snapshot the device must not trust.

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
import { converged, snapshotKit } from '../server/relay-snapshots.testkit.ts';
import type { SyncClient } from './client.ts';
import type { SyncState } from './client-contract.ts';

const harness = useRelayHarness();

/** A sync client with snapshots on (the worker's configuration), stopped after the test. */
const snapClient = snapshotKit(harness).snapClient;

/** `n` events written in batches, every op tracked for upload; their ids. */
async function seed(dev: TestDevice, doc: DocId, n: number, prefix: string): Promise<EntityId[]> {
  const ids: EntityId[] = [];
  for (let i = 0; i < n; i += 200) {
    const batch = Array.from({ length: Math.min(200, n - i) }, (_, k) => ({
      entity: randomEntity() as EntityId,
      writes: [
        { field: EventField.Title, value: encodeValue('text', `${prefix} ${i + k}`) },
        { field: EventField.Location, value: encodeValue('text', `room ${(i + k) % 7}`) },
      ],
    }));
    ids.push(...batch.map((b) => b.entity));
    for (const op of await dev.replica.writeBatch(doc, batch)) dev.track(op);
  }
  return ids;
}

async function synced(c: SyncClient, what: string): Promise<void> {
  await waitFor(() => c.status.state === 'synced' && c.status.pending === 0, 30_000, what);
}

/** Everything a user sees, equal on every replica (conflicts included: every kept write). */
function expectSameEverywhere(reps: Replica[], doc: DocId): void {
  const first = visibleState(reps[0]!, doc);
  for (const r of reps.slice(1)) expect(visibleState(r, doc)).toEqual(first);
}

/** The titles of the events a replica shows. */
function titles(r: Replica, doc: DocId): string[] {
  return r
    .entities(doc)
    .filter((e) => e.entity !== '0'.repeat(32) && e.registers.length > 0)
    .map((e) => eventFromRecord(e))
    .filter((e) => !e.deleted)
    .map((e) => e.title)
    .sort();
}

/** The states a client went through. */
function states(c: SyncClient): SyncState[] {
  const seen: SyncState[] = [];
  c.onStatus((s) => {
    if (seen.at(-1) !== s.state) seen.push(s.state);
  });
  return seen;
}

/**
 * a owns a calendar of `events` events with members b, c, d; b synced once and went offline; a
 * edited on; a's snapshot is uploaded and d (online, holding every op) endorsed it.
 */
async function world(r: TestRelay, events = 300) {
  const [a, b, c, d] = await Promise.all([
    makeDevice('a'),
    makeDevice('b'),
    makeDevice('c'),
    makeDevice('d'),
  ]);
  const doc = await sharedCalendar(a, [b, c, d]);
  const ids = await seed(a, doc, events, 'event');
  const ca = snapClient(a, r);
  ca.start();
  await synced(ca, 'a synced');
  const cb = snapClient(b, r);
  cb.follow(doc);
  cb.start();
  await synced(cb, 'b synced');
  await waitFor(() => b.replica.root(doc) === a.replica.root(doc), 20_000, 'b holds the history');
  cb.stop();
  // After b left: a edits what b will edit offline too (concurrent writes: conflicts).
  for (const e of ids.slice(0, 5)) await writeTitle(a, doc, e, `a renamed ${e.slice(0, 4)}`);
  const cd = snapClient(d, r);
  cd.follow(doc);
  cd.start();
  ca.kick();
  await synced(ca, 'a uploaded its edits');
  await synced(cd, 'd synced');
  const sealed = await a.replica.sealSnapshot(doc);
  expect(await ca.uploadSnapshot(doc, sealed.manifest, sealed.chunks)).toBe(true);
  await waitFor(
    async () => (await r.relay.snapshots.allEndorsements(doc)).some((x) => x.endorser === d.id),
    20_000,
    'd endorsed the snapshot',
  );
  // Every device's replica, for the comparisons at the end of each test.
  const reps = [a, b, c, d].map((x) => x.replica);
  return { a, b, c, d, doc, ids, ca, cd, reps };
}

/** b's offline edits: the events a renamed, one a did not touch, a new one, a deletion. */
async function offlineEdits(b: TestDevice, doc: DocId, ids: EntityId[]): Promise<void> {
  for (const e of ids.slice(0, 3)) await writeTitle(b, doc, e, `b offline ${e.slice(0, 4)}`);
  await writeTitle(b, doc, ids[10]!, 'b offline, untouched by a');
  await writeTitle(b, doc, randomEntity(), 'b offline, a new event');
  b.track(
    await b.replica.write(doc, ids[11]!, [{ field: EventField.Deleted, value: encodeValue('bool', true) }]),
  );
}

/** c joins from the relay's snapshot and is synced; the tail a writes after it reaches c. */
async function joinFromSnapshot(r: TestRelay, w: Awaited<ReturnType<typeof world>>) {
  const cc = snapClient(w.c, r);
  const seen = states(cc);
  cc.follow(w.doc);
  cc.start();
  await synced(cc, 'c synced');
  expect(cc.status.snapshotStarts).toBe(1);
  await writeTitle(w.a, w.doc, w.ids[20]!, 'a after c joined');
  w.ca.kick();
  await converged([w.ca, cc], [w.a.replica, w.c.replica], w.doc, 'c has the tail');
  return { cc, seen };
}

describe('re-syncing a calendar that diverged from a snapshot', () => {
  it('[SNAP-18][SNAP-19][SYNC-16] a member offline since before the snapshot returns: the device that joined from it refuses a refill from the non-covering snapshot, re-bases on the whole history and shows exactly what a, b and d show', async () => {
    const r = await harness.relay();
    const w = await world(r);
    await offlineEdits(w.b, w.doc, w.ids);
    const { cc, seen } = await joinFromSnapshot(r, w);
    const before = visibleState(w.c.replica, w.doc);
    // The refills c makes (observed: the real calls).
    const refills: Replica[] = [];
    const scratch = w.c.replica.scratch.bind(w.c.replica);
    w.c.replica.scratch = () => {
      const x = scratch();
      refills.push(x);
      return x;
    };
    // Until the re-base, c shows what it showed: the refill never touches the real copy.
    const untouched: boolean[] = [];
    cc.onStatus((st) => {
      if (st.state === 'resyncing' && st.rebased === 0)
        untouched.push(JSON.stringify(visibleState(w.c.replica, w.doc)) === JSON.stringify(before));
    });

    const cb = snapClient(w.b, r);
    cb.start();
    await converged([w.ca, cb, cc, w.cd], w.reps, w.doc, 'all converged');
    // The relay's only trusted snapshot is the one c started from: it does not cover b's ops, so
    // the first refill (from it) refused them and was dropped; the whole history was used next.
    expect(refills.length).toBeGreaterThanOrEqual(2);
    expect(refills[0]!.snapshotRefusals(w.doc)).toBeGreaterThan(0);
    expect(untouched.length).toBeGreaterThan(0);
    expect(untouched.every((x) => x)).toBe(true);
    expect(w.c.replica.snapshotRefusals(w.doc)).toBe(0);
    expect(cc.status.rebased).toBeGreaterThanOrEqual(1);
    expect(seen).toContain('resyncing');
    expectSameEverywhere(w.reps, w.doc);
    // b's offline edits are there on c, and the concurrent writes are shown as conflicts.
    const after = visibleState(w.c.replica, w.doc);
    expect(after).not.toEqual(before);
    expect(titles(w.c.replica, w.doc)).toContain('b offline, a new event');
    const conflicted = after.entities.filter((e) =>
      e.regs.some(([, writes]) => (writes as unknown[]).length > 1),
    );
    expect(conflicted.length).toBeGreaterThanOrEqual(3);
    // And it goes on: c's next edit reaches everyone.
    await writeTitle(w.c, w.doc, w.ids[30]!, 'c after the re-base');
    cc.kick();
    await converged([w.ca, cb, cc, w.cd], w.reps, w.doc, 'c’s edit everywhere');
    expectSameEverywhere(w.reps, w.doc);
  });

  it('[SNAP-18][SYNC-16] with the relay’s newer snapshot holding the returned ops, the refill starts from it instead of the whole history', async () => {
    const r = await harness.relay();
    const w = await world(r, 600);
    await offlineEdits(w.b, w.doc, w.ids);
    const { cc } = await joinFromSnapshot(r, w);
    cc.stop();
    // b returns while c is away; a seals a snapshot over b's edits and d endorses it.
    const cb = snapClient(w.b, r);
    cb.start();
    await converged(
      [w.ca, cb, w.cd],
      [w.a, w.b, w.d].map((x) => x.replica),
      w.doc,
      'a, b, d converged',
    );
    const sealed = await w.a.replica.sealSnapshot(w.doc);
    expect(await w.ca.uploadSnapshot(w.doc, sealed.manifest, sealed.chunks)).toBe(true);
    const n = (await r.relay.snapshots.allEndorsements(w.doc)).length;
    await waitFor(
      async () => (await r.relay.snapshots.allEndorsements(w.doc)).length > n,
      20_000,
      'the second snapshot endorsed',
    );
    const received = cc.status.opsReceived;
    const cc2 = snapClient(w.c, r);
    cc2.start();
    await converged([w.ca, cb, cc2, w.cd], w.reps, w.doc, 'c converged');
    expect(cc2.status.rebased).toBe(1);
    // A whole-history refill would download every op (over 600); the snapshot's tail is small.
    expect(cc2.status.opsReceived).toBeLessThan(100);
    expect(received).toBeGreaterThan(0);
    expectSameEverywhere(w.reps, w.doc);
  });

  it('[SNAP-18][SNAP-19] own edits not acknowledged when the divergence shows: none is lost, and they reach everyone', async () => {
    const r = await harness.relay();
    const w = await world(r);
    await offlineEdits(w.b, w.doc, w.ids);
    const { cc } = await joinFromSnapshot(r, w);
    cc.stop();
    // c edits offline; b returns meanwhile.
    for (const e of w.ids.slice(40, 45)) await writeTitle(w.c, w.doc, e, `c offline ${e.slice(0, 4)}`);
    const cb = snapClient(w.b, r);
    cb.start();
    await converged([w.ca, cb], [w.a.replica, w.b.replica], w.doc, 'b back');
    const cc2 = snapClient(w.c, r);
    // And one more edit the moment the divergence shows (while the refill runs).
    let wrote = false;
    cc2.onStatus((s) => {
      if (s.state !== 'resyncing' || wrote) return;
      wrote = true;
      void writeTitle(w.c, w.doc, w.ids[46]!, 'c while resyncing').then(() => cc2.kick());
    });
    cc2.start();
    await waitFor(() => wrote, 30_000, 'c resyncing');
    await converged([w.ca, cb, cc2, w.cd], w.reps, w.doc, 'converged');
    expectSameEverywhere(w.reps, w.doc);
    const shown = titles(w.a.replica, w.doc);
    for (const e of w.ids.slice(40, 45)) expect(shown).toContain(`c offline ${e.slice(0, 4)}`);
    expect(shown).toContain('c while resyncing');
    expect(cc2.status.rebased).toBeGreaterThanOrEqual(1);
  });

  it('[SNAP-19][SYNC-16] an own edit the relay has not acknowledged when the divergence shows (held for the device’s clock): the re-base waits for its acknowledgement, then it is everywhere', async () => {
    const r = await harness.relay({ maxSkewMs: 1000 });
    const w = await world(r);
    await offlineEdits(w.b, w.doc, w.ids);
    const { cc } = await joinFromSnapshot(r, w);
    cc.stop();
    const cb = snapClient(w.b, r);
    cb.start();
    await converged([w.ca, cb], [w.a.replica, w.b.replica], w.doc, 'b back');
    // c's clock runs 4 s ahead for one edit: the relay holds it (RELAY-7) for about 3 s.
    w.c.clockSkewUs = 4_000_000;
    await writeTitle(w.c, w.doc, w.ids[50]!, 'c, ahead of the relay');
    w.c.clockSkewUs = 0;
    const cc2 = snapClient(w.c, r);
    let waited = false;
    let pendingAtRebase = -1;
    cc2.onStatus((st) => {
      if (st.state === 'resyncing' && st.pending > 0 && st.rebased === 0) waited = true;
      if (st.rebased === 1 && pendingAtRebase < 0) pendingAtRebase = st.pending;
    });
    cc2.start();
    await converged([w.ca, cb, cc2, w.cd], w.reps, w.doc, 'converged');
    expect(waited).toBe(true);
    expect(pendingAtRebase).toBe(0);
    expect(cc2.status.rebased).toBe(1);
    expect(titles(w.a.replica, w.doc)).toContain('c, ahead of the relay');
    expectSameEverywhere(w.reps, w.doc);
  });

  it('[SNAP-18] a member removed concurrently: its ops made before it saw the Remove stay in everyone’s DAG; the device that joined from the snapshot ends the same', async () => {
    const r = await harness.relay();
    const w = await world(r);
    await offlineEdits(w.b, w.doc, w.ids);
    const { cc } = await joinFromSnapshot(r, w);
    // a goes offline and removes b without having seen b's offline ops, while b pushes them.
    w.ca.stop();
    const cb = snapClient(w.b, r);
    cb.start();
    await converged(
      [cb, cc, w.cd],
      [w.b, w.c, w.d].map((x) => x.replica),
      w.doc,
      'b back',
    );
    w.a.track(await w.a.replica.removeMember(w.doc, w.b.signer.publicKey));
    const ca2 = snapClient(w.a, r);
    ca2.start();
    await waitFor(() => !w.c.replica.members(w.doc).has(w.b.id), 30_000, 'c sees the removal');
    await converged(
      [ca2, cc, w.cd],
      [w.a, w.c, w.d].map((x) => x.replica),
      w.doc,
      'a, c, d converged',
    );
    expectSameEverywhere(
      [w.a, w.c, w.d].map((x) => x.replica),
      w.doc,
    );
    // b's ops count for nothing where they were concurrent with its removal (MEM-5), alike everywhere.
    expect(titles(w.c.replica, w.doc)).not.toContain('b offline, a new event');
    expect(cc.status.rebased).toBeGreaterThanOrEqual(1);
  });

  it('[SNAP-18][SYNC-16] a relay serving a snapshot the device must not trust (endorsement altered at rest): the refill refuses it, the copy is unchanged until the whole-history refill re-bases it', async () => {
    const r = await harness.relay();
    const w = await world(r);
    await offlineEdits(w.b, w.doc, w.ids);
    const { cc } = await joinFromSnapshot(r, w);
    cc.stop();
    const cb = snapClient(w.b, r);
    cb.start();
    await converged([w.ca, cb], [w.a.replica, w.b.replica], w.doc, 'b back');
    r.store.transact((db) =>
      db.prepare('UPDATE endorsements SET bytes = randomblob(length(bytes)) WHERE doc = ?').run(w.doc),
    );
    const before = visibleState(w.c.replica, w.doc);
    const cc2 = snapClient(w.c, r);
    const errors: string[] = [];
    const shown: boolean[] = [];
    cc2.onStatus((s) => {
      if (s.lastError !== null) errors.push(s.lastError.code);
      // Until the re-base, c shows what it showed (the real copy is untouched by the refill).
      if (s.rebased === 0 && s.state === 'resyncing')
        shown.push(JSON.stringify(visibleState(w.c.replica, w.doc)) === JSON.stringify(before));
    });
    cc2.start();
    await converged([w.ca, cb, cc2, w.cd], w.reps, w.doc, 'converged');
    expect(errors).toContain('Snapshot');
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.every((x) => x)).toBe(true);
    expectSameEverywhere(w.reps, w.doc);
    expect(cc2.status.rebased).toBe(1);
  });
});
