// Several relays on one PostgreSQL database (a real server started by the test): per-calendar
// order across relays (RELAY-21), fan-out through the NOTIFY doorbell with a poll fallback
// (RELAY-22), and the database going away under load (RELAY-23).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocId } from '../engine/index.ts';
import type { SyncClient } from '../sync/client.ts';
import { isTransient } from '../sync/codes.ts';
import { sharedLog, startClusterRelay } from './cluster.testkit.ts';
import type { RelayConfig } from './config.ts';
import type { PgServer } from './pg.testkit.ts';
import { startPgServer } from './pg.testkit.ts';
import { makeDevice, randomEntity, sharedCalendar, type TestDevice, waitFor } from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';
import type { Replicas } from './replicas.ts';

let pgs: PgServer;
beforeAll(() => {
  pgs = startPgServer();
});
afterAll(() => pgs?.close());

const h = useRelayHarness();

async function cluster(n: number, over: Partial<RelayConfig> = {}) {
  const url = await pgs.freshDatabase();
  const relays = [];
  for (let i = 0; i < n; i++) {
    const r = await startClusterRelay(url, over);
    h.defer(() => r.stop());
    relays.push(r);
  }
  return { url, relays };
}

/** `n` writes, pushed in small runs as they are made (when a client is given). */
async function writes(dev: TestDevice, doc: DocId, n: number, prefix: string, c?: SyncClient): Promise<void> {
  for (let i = 0; i < n; i++) {
    await writeTitle(dev, doc, randomEntity(), `${prefix}-${i}`);
    if (i % 5 === 4) {
      c?.kick();
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  c?.kick();
}

describe('relays on one PostgreSQL database', () => {
  it('[RELAY-21][RELAY-22] three relays, devices spread over them, concurrent pushes to one calendar: gap-free seq, every op once, all converge', async () => {
    const { url, relays } = await cluster(3);
    const devs = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((n) => makeDevice(n)));
    const owner = devs[0]!;
    const doc = await sharedCalendar(owner, devs.slice(1));
    const clients = devs.map((d, i) => h.client(d, relays[i % 3]!));
    clients[0]!.start();
    await waitFor(() => clients[0]!.status.state === 'synced', 20_000, 'owner synced');
    for (const c of clients.slice(1)) {
      c.follow(doc);
      c.start();
    }
    await waitFor(
      () => devs.every((d, i) => d.replica.hasDoc(doc) && clients[i]!.status.state === 'synced'),
      30_000,
      'all joined',
    );
    // Everyone writes at once, each through its own relay.
    await Promise.all(devs.map((d, i) => writes(d, doc, 25, d.name, clients[i])));
    const root = () => devs[0]!.replica.root(doc);
    await waitFor(
      () =>
        devs.every((d) => d.replica.root(doc) === root()) &&
        clients.every((c) => c.status.state === 'synced'),
      60_000,
      'all devices converge',
    );
    const log = await sharedLog(url, doc);
    expect(log.map((r) => r.seq)).toEqual(log.map((_, i) => i + 1));
    expect(new Set(log.map((r) => r.id)).size).toBe(log.length);
    const all = await devs[0]!.replica.listOps(doc, 0, 100_000);
    expect(new Set(log.map((r) => r.id))).toEqual(new Set(all.map((o) => o.id)));
    // Every relay's copy of the log is the shared one, in the same order.
    for (const r of relays) {
      await r.doorbell!.settled();
      await waitFor(() => r.store.durableSeqOf(doc) === log.length, 10_000, 'relay copy complete');
      expect(r.store.listOpBytes(doc, 0, 100_000).map((o) => o.id)).toEqual(log.map((o) => o.id));
    }
  });

  it('[RELAY-22] a lost notification (the LISTEN connection killed) delays, never drops: the poll delivers', async () => {
    const { url, relays } = await cluster(2);
    const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    const ca = h.client(a, relays[0]!);
    const cb = h.client(b, relays[1]!);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 20_000, 'a synced');
    cb.follow(doc);
    cb.start();
    await waitFor(() => cb.status.state === 'synced' && b.replica.hasDoc(doc), 20_000, 'b synced');
    // Kill every LISTEN connection: notifications sent now reach nobody.
    const pgc = new (await import('pg')).default.Client({ connectionString: url });
    await pgc.connect();
    await pgc.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'");
    await pgc.end();
    await writes(a, doc, 10, 'while deaf', ca);
    await waitFor(() => b.replica.root(doc) === a.replica.root(doc), 20_000, 'b gets the ops anyway');
    expect(relays[1]!.doorbell!.stats.polls).toBeGreaterThan(0);
  });

  it('[RELAY-22] a calendar created and a member added at relay A a moment ago are served at relay B at once, doorbell or not', async () => {
    const { relays } = await cluster(2);
    // B hears no doorbell and polls never: only the catch-up before a refusal can help it.
    await relays[1]!.doorbell!.close();
    const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    const ca = h.client(a, relays[0]!);
    ca.start();
    await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 20_000, 'a synced');
    const cb = h.client(b, relays[1]!);
    cb.follow(doc);
    cb.start();
    await waitFor(() => cb.status.state === 'synced' && b.replica.hasDoc(doc), 20_000, 'b served at B');
    await writes(b, doc, 3, 'b at B', cb);
    await waitFor(() => a.replica.root(doc) === b.replica.root(doc), 20_000, 'a sees b through A');
    expect(cb.status.lastError).toBeNull();
  });

  it('[RELAY-22] a relay started after a backlog of 2,100 ops (more than one page) copies it in pages and serves it whole and in order', async () => {
    const { url, relays } = await cluster(1);
    const [a, b] = await Promise.all([makeDevice('a', 0, { webcrypto: true }), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    for (let i = 0; i < 2100; i++) await writeTitle(a, doc, randomEntity(), `backlog-${i}`);
    const ca = h.client(a, relays[0]!);
    ca.start();
    await waitFor(
      async () => ca.status.state === 'synced' && (await a.persistence.countOutbox()) === 0,
      60_000,
      'backlog pushed',
    );
    const total = a.replica.seq(doc);
    expect(total).toBeGreaterThan(2000); // PULL_PAGE: more than one page
    const late = await startClusterRelay(url);
    h.defer(() => late.stop());
    expect(late.store.durableSeqOf(doc)).toBe(total);
    expect(late.store.listOpBytes(doc, 0, 100_000).map((o) => o.seq)).toEqual(
      Array.from({ length: total }, (_, i) => i + 1),
    );
    const cb = h.client(b, late);
    cb.follow(doc);
    cb.start();
    await waitFor(
      () =>
        cb.status.state === 'synced' && b.replica.hasDoc(doc) && b.replica.root(doc) === a.replica.root(doc),
      60_000,
      'b caught up at the late relay',
    );
    expect(b.replica.seq(doc)).toBe(total);
  }, 120_000);

  it('[RELAY-7] on PostgreSQL a future-dated op is held in the shared table, applied when due, and forwarded to a device at another relay', async () => {
    const { url, relays } = await cluster(2, { maxSkewMs: 60_000 });
    const hourUs = 3600 * 1_000_000;
    const [a, fast] = await Promise.all([makeDevice('a'), makeDevice('fast')]);
    const doc = await sharedCalendar(a, [fast]);
    const ca = h.client(a, relays[1]!);
    ca.start();
    await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 20_000, 'a synced');
    const cf = h.client(fast, relays[0]!);
    cf.follow(doc);
    cf.start();
    await waitFor(() => cf.status.state === 'synced' && fast.replica.hasDoc(doc), 20_000, 'fast synced');
    fast.clockSkewUs = hourUs;
    const id = await writeTitle(fast, doc, randomEntity(), 'from the future');
    cf.kick();
    await waitFor(() => cf.status.clockWarning, 10_000, 'clock warning');
    const heldRows = async () => {
      const c = new (await import('pg')).default.Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query('SELECT id FROM ld_held')).rows.map((r: { id: string }) => r.id);
      } finally {
        await c.end();
      }
    };
    await waitFor(async () => (await heldRows()).includes(id), 10_000, 'held in PostgreSQL');
    expect(await fast.persistence.countOutbox()).toBe(1);
    relays[0]!.clockOffsetUs = hourUs;
    await relays[0]!.relay.releaseDue();
    await waitFor(async () => (await a.replica.getOps(doc, [id]))[0] !== undefined, 20_000, 'a gets it at B');
    await waitFor(async () => (await fast.persistence.countOutbox()) === 0, 10_000, 'acked');
    await waitFor(async () => (await heldRows()).length === 0, 10_000, 'unheld in PostgreSQL');
  });

  it('[RELAY-18] a stranger naming random calendars at a relay on PostgreSQL hears UnknownDoc and leaves nothing behind', async () => {
    const { relays } = await cluster(1);
    const [a, stranger] = await Promise.all([makeDevice('a'), makeDevice('stranger')]);
    const doc = await sharedCalendar(a, []);
    const ca = h.client(a, relays[0]!);
    ca.start();
    await waitFor(() => ca.status.state === 'synced' && ca.status.pending === 0, 20_000, 'a synced');
    const replicas = relays[0]!.replica as Replicas;
    expect(replicas.size).toBe(1);
    const s = await h.session(stranger, relays[0]!);
    await s.waitFor((m) => m.type === 'welcome', 'welcome');
    const ids = [doc, ...Array.from({ length: 30 }, () => randomEntity() as DocId)];
    for (const d of ids) s.send({ type: 'subscribe', doc: d, cursor: 0 });
    for (const d of ids) s.send({ type: 'heads', doc: d, root: '00'.repeat(32), heads: [] });
    await waitFor(() => s.got.filter((m) => m.type === 'error').length >= 2 * ids.length, 10_000, 'answers');
    const errors = s.got.filter((m) => m.type === 'error');
    expect(new Set(errors.map((m) => (m.type === 'error' ? m.code : '')))).toEqual(new Set(['UnknownDoc']));
    expect(replicas.size).toBe(1);
    expect(s.got.some((m) => m.type === 'ops')).toBe(false);
  });

  it('[RELAY-23] PostgreSQL restarted under load: writes are refused with a transient error while it is down, /ready says so, and relays resume by themselves', async () => {
    const { relays } = await cluster(2);
    const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    const ca = h.client(a, relays[0]!);
    const cb = h.client(b, relays[1]!);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 20_000, 'a synced');
    cb.follow(doc);
    cb.start();
    await waitFor(() => cb.status.state === 'synced' && b.replica.hasDoc(doc), 20_000, 'b synced');
    const ready = async (i: number) => (await fetch(`http://127.0.0.1:${relays[i]!.port}/ready`)).status;
    expect(await ready(0)).toBe(200);

    pgs.server.stop('fast');
    try {
      // A raw push while the database is away: answered with a transient (retryable) error.
      const s = await h.session(a, relays[0]!);
      await s.waitFor((m) => m.type === 'welcome', 'welcome');
      const op = await a.replica.write(doc, randomEntity() as never, []);
      a.track(op);
      s.send({ type: 'push', ops: [op.bytes] });
      const err = await s.waitFor((m) => m.type === 'error' && m.op === op.id, 'error for the op', 20_000);
      expect(err.type === 'error' && isTransient(err.code)).toBe(true);
      await waitFor(async () => (await ready(0)) === 503, 10_000, '/ready 503');
      const health = (await (await fetch(`http://127.0.0.1:${relays[0]!.port}/health`)).json()) as {
        database: string;
      };
      expect(health.database).toBe('down');
      s.close();
      await writes(a, doc, 5, 'down', ca);
      await writes(b, doc, 5, 'down', cb);
    } finally {
      pgs.server.start();
    }
    await waitFor(
      async () => (await ready(0)) === 200 && (await ready(1)) === 200,
      20_000,
      '/ready 200 again',
    );
    await waitFor(
      () =>
        a.replica.root(doc) === b.replica.root(doc) &&
        ca.status.state === 'synced' &&
        cb.status.state === 'synced',
      60_000,
      'converge after the restart',
    );
    expect(await a.persistence.countOutbox()).toBe(0);
    expect(await b.persistence.countOutbox()).toBe(0);
  });
});
