// The device's push loop across a connection that closes while it reads its outbox (SYNC-4):
// ops it read then are pushed on the next connection, never marked in flight on a dead one.

import { describe, expect, it } from 'vitest';
import { makeDevice, randomEntity, sharedCalendar, waitFor } from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';

const harness = useRelayHarness();

describe('push across a reconnect', () => {
  it('[SYNC-4] an outbox read that outlives its connection sends nothing; the next connection pushes every op', async () => {
    const r = await harness.relay();
    const a = await makeDevice('reconnect-a');
    const doc = await sharedCalendar(a, []);
    const c = harness.client(a, r);
    c.start();
    await waitFor(() => c.status.state === 'synced', 10_000, 'first sync');
    // Hold the next outbox read until the connection is gone.
    let release!: () => void;
    const held = new Promise<void>((res) => {
      release = res;
    });
    let reading!: () => void;
    const started = new Promise<void>((res) => {
      reading = res;
    });
    const list = a.persistence.listOutbox.bind(a.persistence);
    let hold = true;
    a.persistence.listOutbox = async (limit) => {
      const out = await list(limit);
      if (hold) {
        hold = false;
        reading();
        await held;
      }
      return out;
    };
    await writeTitle(a, doc, randomEntity(), 'x');
    c.kick();
    await started;
    c.setOnline(false);
    release();
    await new Promise((res) => setTimeout(res, 50));
    await writeTitle(a, doc, randomEntity(), 'y'); // a descendant, queued while offline
    c.setOnline(true);
    await waitFor(async () => (await a.persistence.countOutbox()) === 0, 10_000, 'both ops acknowledged');
    expect(r.replica.pendingCount(doc)).toBe(0);
    expect(r.replica.root(doc)).toBe(a.replica.root(doc));
  });
});
