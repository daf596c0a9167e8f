// SYNC-7: an op whose predecessors the relay lacks waits there, the relay asks for them (Want),
// the device answers from its log, and both are applied and acknowledged.

import { describe, expect, it } from 'vitest';
import { type EntityId, EventField, encodeValue } from '../engine/index.ts';
import { makeDevice, randomEntity, sharedCalendar, waitFor } from './relay.testkit.ts';
import { useRelayHarness } from './relay-harness.testkit.ts';

const harness = useRelayHarness();

describe('missing predecessors', () => {
  it('[SYNC-7] the relay fetches the predecessors of a pushed op it cannot apply yet', async () => {
    const r = await harness.relay();
    const a = await makeDevice('gap-a');
    const doc = await sharedCalendar(a, []);
    const c = harness.client(a, r);
    c.start();
    await waitFor(() => c.status.state === 'synced', 10_000, 'first sync');
    c.stop();
    // X is written but never queued for upload; Y, its descendant, is.
    const entity = randomEntity() as EntityId;
    const x = await a.replica.write(doc, entity, [
      { field: EventField.Title, value: encodeValue('text', 'X') },
    ]);
    const y = a.track(
      await a.replica.write(doc, entity, [{ field: EventField.Location, value: encodeValue('text', 'Y') }]),
    );
    expect(await a.persistence.countOutbox()).toBe(1);
    c.start();
    await waitFor(async () => (await a.persistence.countOutbox()) === 0, 15_000, 'Y acknowledged');
    const [rx, ry] = await r.replica.getOps(doc, [x.id, y.id]);
    expect(rx?.id).toBe(x.id);
    expect(ry?.id).toBe(y.id);
    expect(r.replica.pendingCount(doc)).toBe(0);
    expect(r.replica.root(doc)).toBe(a.replica.root(doc));
  });
});
