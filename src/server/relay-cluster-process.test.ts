// Three relay processes (tsx src/server/main.ts --database …) on one PostgreSQL database behind a
// round-robin TCP proxy, as behind nginx: SIGKILL one while devices push through all of them.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocId, OpId } from '../engine/index.ts';
import type { SyncClient } from '../sync/client.ts';
import { exited, freePort, sharedLog, spawnRelay, startTcpProxy, type TcpProxy } from './cluster.testkit.ts';
import { type PgServer, startPgServer } from './pg.testkit.ts';
import {
  makeClient,
  makeDevice,
  randomEntity,
  sharedCalendar,
  type TestDevice,
  waitFor,
} from './relay.testkit.ts';
import { writeTitle } from './relay-harness.testkit.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'ledgerday-cluster-proc-'));
const children = new Set<ChildProcess>();
let pgs: PgServer;
let proxy: TcpProxy | undefined;

beforeAll(() => {
  pgs = startPgServer();
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await proxy?.close();
  pgs?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function burst(dev: TestDevice, doc: DocId, n: number, c: SyncClient): Promise<void> {
  for (let i = 0; i < n; i++) {
    await writeTitle(dev, doc, randomEntity(), `${dev.name}-${i}`);
    if (i % 4 === 3) {
      c.kick();
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  c.kick();
}

/** This device's own ops that the relays acknowledged (no longer in its outbox). */
async function acked(dev: TestDevice, doc: DocId): Promise<Set<OpId>> {
  const waiting = new Set((await dev.persistence.listOutbox(100_000)).map((o) => o.id));
  const mine = (await dev.replica.listOps(doc, 0, 100_000)).filter((o) => o.author === dev.id);
  return new Set(mine.map((o) => o.id).filter((id) => !waiting.has(id)));
}

describe('three relay processes on one PostgreSQL database', () => {
  it('[RELAY-21][RELAY-22][RELAY-24] SIGKILL one relay while devices push through all three: no acknowledged op is lost, devices reconnect through the proxy and converge, seq stays gap-free', async () => {
    const database = await pgs.freshDatabase();
    const ports = await Promise.all([freePort(), freePort(), freePort()]);
    proxy = await startTcpProxy(() => ports);
    const origin = `127.0.0.1:${proxy.port}`;
    const relays = await Promise.all(
      ports.map((port) => spawnRelay({ port, dataDir, database, origin, pollMs: 250 })),
    );
    for (const c of relays) children.add(c);
    const url = `ws://${origin}/sync`;
    const devs = await Promise.all(['a', 'b', 'c', 'd'].map((n) => makeDevice(n)));
    const doc = await sharedCalendar(devs[0]!, devs.slice(1));
    const clients = devs.map((d) => makeClient(d, url));
    try {
      clients[0]!.start();
      await waitFor(() => clients[0]!.status.state === 'synced', 30_000, 'owner synced');
      for (const c of clients.slice(1)) {
        c.follow(doc);
        c.start();
      }
      await waitFor(
        () => devs.every((d, i) => d.replica.hasDoc(doc) && clients[i]!.status.state === 'synced'),
        30_000,
        'all joined',
      );
      // The proxy spread the devices over the relays.
      expect([...proxy.opened.values()].filter((n) => n > 0).length).toBeGreaterThan(1);

      let writingDone = false;
      const writing = Promise.all(devs.map((d, i) => burst(d, doc, 100, clients[i]!))).then(() => {
        writingDone = true;
      });
      // Kill one relay once some of everyone's ops are acknowledged.
      await waitFor(
        async () => (await Promise.all(devs.map((d) => acked(d, doc)))).filter((s) => s.size > 5).length >= 2,
        30_000,
        'some acks',
      );
      const victim = relays[1]!;
      expect(proxy.opened.get(ports[1]!) ?? 0).toBeGreaterThan(0); // it serves some device
      victim.kill('SIGKILL');
      await exited(victim);
      const ackedBefore = new Set<OpId>();
      for (const d of devs) for (const id of await acked(d, doc)) ackedBefore.add(id);
      // The kill really happened mid-burst: devices were still writing, or had ops not yet acked.
      const unacked = (await Promise.all(devs.map((d) => d.persistence.countOutbox()))).reduce(
        (x, y) => x + y,
        0,
      );
      expect(!writingDone || unacked > 0, `writing done ${writingDone}, unacked ${unacked}`).toBe(true);
      await writing;

      const rootOf = (d: TestDevice) => d.replica.root(doc);
      await waitFor(
        async () =>
          devs.every((d) => rootOf(d) === rootOf(devs[0]!)) &&
          clients.every((c) => c.status.state === 'synced') &&
          (await Promise.all(devs.map((d) => d.persistence.countOutbox()))).every((n) => n === 0),
        120_000,
        'devices converge through the surviving relays',
      ).catch(async (e: unknown) => {
        const outboxes = await Promise.all(devs.map((d) => d.persistence.countOutbox()));
        throw new Error(
          `${String(e)}: ${JSON.stringify({ states: clients.map((c) => c.status), outboxes, roots: devs.map(rootOf) })}`,
        );
      });
      const log = await sharedLog(database, doc);
      expect(log.map((r) => r.seq)).toEqual(log.map((_, i) => i + 1));
      expect(new Set(log.map((r) => r.id)).size).toBe(log.length);
      const stored = new Set(log.map((r) => r.id));
      for (const id of ackedBefore) expect(stored.has(id)).toBe(true);
      const all = await devs[0]!.replica.listOps(doc, 0, 100_000);
      expect(stored).toEqual(new Set(all.map((o) => o.id)));
      expect(all.length).toBeGreaterThanOrEqual(4 * 100);
    } finally {
      for (const c of clients) c.stop();
    }
  }, 180_000);
});
