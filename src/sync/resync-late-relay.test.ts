// The SNAP-20 mend through the in-process relay, with real replicas, sync clients and WebSockets
// (docs/PROTOCOL.md SNAP-22, SNAP-23, SYNC-16): an endorsement of an older snapshot reaches a
// device only after it joined from a later one that does not list it. Heads and roots agree, so
// nothing but the late endorsement tells; the device flags it, re-syncs from the relay's newer
// snapshot (which lists it) and re-bases, and then shows exactly what every other replica shows.

import { describe, expect, it } from 'vitest';
import type { EntityId } from '../engine/index.ts';
import { visibleState } from '../engine/snapshot.testkit.ts';
import { makeDevice, randomEntity, sharedCalendar, waitFor } from '../server/relay.testkit.ts';
import { useRelayHarness, writeTitle } from '../server/relay-harness.testkit.ts';
import { converged, snapshotKit, synced } from '../server/relay-snapshots.testkit.ts';

const harness = useRelayHarness();
const snapClient = snapshotKit(harness).snapClient;

describe('a late endorsement through the relay', () => {
  it('[SNAP-23][SNAP-22][SYNC-16] an endorsement of an older snapshot reaches a device that joined from a later one: it flags it, re-syncs from the relay’s snapshot that lists it, re-bases and shows what a, b and d show', async () => {
    const r = await harness.relay();
    const [a, b, c, d] = await Promise.all([
      makeDevice('a'),
      makeDevice('b'),
      makeDevice('c'),
      makeDevice('d'),
    ]);
    const doc = await sharedCalendar(a, [b, c, d]);
    const ids: EntityId[] = [];
    for (let i = 0; i < 20; i++) {
      const e = randomEntity() as EntityId;
      ids.push(e);
      await writeTitle(a, doc, e, `event ${i}`);
    }
    const ca = snapClient(a, r);
    ca.start();
    await synced(ca, 'a synced');
    const cd = snapClient(d, r);
    cd.follow(doc);
    cd.start();
    const cb = snapClient(b, r);
    cb.follow(doc);
    cb.start();
    await converged([ca, cb, cd], [a.replica, b.replica, d.replica], doc, 'b and d hold the calendar');
    await writeTitle(b, doc, ids[0]!, 'b1');
    cb.kick();
    await converged([ca, cb, cd], [a.replica, b.replica, d.replica], doc, 'b1 everywhere');
    // b goes offline; a seals S1 and uploads it; b endorses S1 at b1 and keeps the endorsement.
    cb.stop();
    const s1 = await a.replica.sealSnapshot(doc);
    expect(await ca.uploadSnapshot(doc, s1.manifest, s1.chunks)).toBe(true);
    const late = await b.replica.endorseSnapshot(s1.manifest, s1.chunks);
    // b writes on (its chain goes past b1) and comes back; a seals S2 over that, d endorses it.
    await writeTitle(b, doc, ids[1]!, 'b2');
    // (Without snapshots: b endorses nothing on its own, so the relay stores b's late one as b's
    // first endorsement of S1; it keeps one per endorser and snapshot, RELAY-27.)
    const cb2 = harness.client(b, r);
    cb2.start();
    await converged([ca, cb2, cd], [a.replica, b.replica, d.replica], doc, 'b2 everywhere');
    const s2 = await a.replica.sealSnapshot(doc);
    const before2 = (await r.relay.snapshots.allEndorsements(doc)).length;
    expect(await ca.uploadSnapshot(doc, s2.manifest, s2.chunks)).toBe(true);
    await waitFor(
      async () => (await r.relay.snapshots.allEndorsements(doc)).length > before2,
      20_000,
      'S2 endorsed',
    );
    // c joins from S2 (which does not list b's endorsement of S1).
    const cc = snapClient(c, r);
    cc.follow(doc);
    cc.start();
    await synced(cc, 'c synced');
    expect(cc.status.snapshotStarts).toBe(1);
    expect(c.replica.lateEndorsements(doc)).toBe(0);
    // a gets the endorsement first and seals S3, which lists it; d endorses S3.
    await a.replica.receiveEndorsement(late);
    await writeTitle(a, doc, ids[2]!, 'a3');
    ca.kick();
    await converged(
      [ca, cb2, cc, cd],
      [a, b, c, d].map((x) => x.replica),
      doc,
      'a3 everywhere',
    );
    const s3 = await a.replica.sealSnapshot(doc);
    const before3 = (await r.relay.snapshots.allEndorsements(doc)).length;
    expect(await ca.uploadSnapshot(doc, s3.manifest, s3.chunks)).toBe(true);
    await waitFor(
      async () => (await r.relay.snapshots.allEndorsements(doc)).length > before3,
      20_000,
      'S3 endorsed',
    );
    // Now b publishes it: the relay forwards it to c, which cannot judge it and re-syncs.
    let flagged = false;
    const off = c.replica.onChange(() => {
      if (c.replica.lateEndorsements(doc) > 0) flagged = true;
    });
    const seen: string[] = [];
    cc.onStatus((s) => {
      if (seen.at(-1) !== s.state) seen.push(s.state);
      if (c.replica.lateEndorsements(doc) > 0) flagged = true;
    });
    expect(cb2.sendEndorsement(doc, late)).toBe(true);
    await waitFor(() => cc.status.rebased >= 1, 30_000, 'c re-based');
    off();
    await converged(
      [ca, cb2, cc, cd],
      [a, b, c, d].map((x) => x.replica),
      doc,
      'converged',
    );
    expect(flagged).toBe(true);
    expect(seen).toContain('resyncing');
    expect(c.replica.lateEndorsements(doc)).toBe(0);
    const first = visibleState(a.replica, doc);
    for (const x of [b, c, d]) expect(visibleState(x.replica, doc)).toEqual(first);
    // And it goes on: c's next edit reaches everyone.
    await writeTitle(c, doc, ids[3]!, 'c after the re-base');
    cc.kick();
    await converged(
      [ca, cb2, cc, cd],
      [a, b, c, d].map((x) => x.replica),
      doc,
      'c’s edit everywhere',
    );
    expect(visibleState(d.replica, doc)).toEqual(visibleState(c.replica, doc));
    expect(visibleState(a.replica, doc)).toEqual(visibleState(c.replica, doc));
  });
});
