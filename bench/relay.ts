// Relay benchmarks on loopback (issue 4 targets): ingest ops/s (verify + store + ack) with one
// and with 50 concurrent clients, fan-out latency p50/p99 to 50 subscribers, and a new device's
// catch-up time for a calendar of 10,000 events. Devices sign with WebCrypto Ed25519.

import type { DocId, EntityId } from '../src/engine/index.ts';
import { EventField, encodeValue, fromHex, signDeviceCard } from '../src/engine/index.ts';
import {
  makeClient,
  makeDevice,
  type RawSession,
  randomEntity,
  rawSession,
  startTestRelay,
  type TestDevice,
  type TestRelay,
  waitFor,
} from '../src/server/relay.testkit.ts';
import type { OutboxOp } from '../src/sync/client-contract.ts';

export type Figures = Record<string, number | string>;

const PUSH_BATCH = 256;

export async function writeEvents(dev: TestDevice, doc: DocId, n: number): Promise<OutboxOp[]> {
  const out: OutboxOp[] = [];
  for (let i = 0; i < n; i++) {
    const op = await dev.replica.write(doc, randomEntity() as EntityId, [
      { field: EventField.Title, value: encodeValue('text', `Event ${i}`) },
      { field: EventField.Start, value: encodeValue('datetime', '2026-03-01T09:00') },
      { field: EventField.End, value: encodeValue('datetime', '2026-03-01T10:00') },
    ]);
    out.push(op);
  }
  return out;
}

export async function calendar(
  dev: TestDevice,
  members: TestDevice[] = [],
): Promise<{ doc: DocId; setup: OutboxOp[] }> {
  const g = await dev.replica.createCalendar({ name: 'Bench' });
  for (const m of members) await dev.replica.addMember(g.doc, await signDeviceCard(m, fromHex(g.doc)));
  const setup = (await dev.replica.listOps(g.doc, 0, 100_000)).map((r) => ({
    id: r.id,
    doc: r.doc,
    bytes: r.bytes,
  }));
  return { doc: g.doc, setup };
}

export async function authed(dev: TestDevice, r: Pick<TestRelay, 'url'>, keep = true): Promise<RawSession> {
  const s = await rawSession(dev, r.url, { keep });
  let welcomed = false;
  s.onMessage = (m) => {
    if (m.type === 'welcome') welcomed = true;
  };
  await waitFor(() => welcomed, 10_000, 'welcome');
  s.onMessage = undefined;
  return s;
}

/** Pushes all ops over one session, pipelined in frames, and resolves when every op is acked. */
export function pushAll(s: RawSession, ops: OutboxOp[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let acked = 0;
    s.onMessage = (m) => {
      if (m.type === 'ack') {
        acked += m.acks.length;
        if (acked >= ops.length) resolve();
      } else if (m.type === 'error') reject(new Error(`${m.code}: ${m.message}`));
    };
    for (let i = 0; i < ops.length; i += PUSH_BATCH) {
      s.send({ type: 'push', ops: ops.slice(i, i + PUSH_BATCH).map((o) => o.bytes) });
    }
  });
}

export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function ingestOne(n: number): Promise<number> {
  const r = await startTestRelay();
  try {
    const dev = await makeDevice('writer', 0, { webcrypto: true });
    const { setup } = await calendar(dev);
    const ops = [...setup, ...(await writeEvents(dev, setup[0]!.doc, n))];
    const s = await authed(dev, r, false);
    const t0 = performance.now();
    await pushAll(s, ops);
    const dt = performance.now() - t0;
    s.close();
    return ops.length / (dt / 1000);
  } finally {
    await r.stop();
  }
}

async function ingestMany(clients: number, perClient: number): Promise<number> {
  const r = await startTestRelay();
  try {
    const devs = await Promise.all(
      Array.from({ length: clients }, (_, i) => makeDevice(`w${i}`, 0, { webcrypto: true })),
    );
    const work: OutboxOp[][] = [];
    for (const d of devs) {
      const { doc, setup } = await calendar(d);
      work.push([...setup, ...(await writeEvents(d, doc, perClient))]);
    }
    const sessions = await Promise.all(devs.map((d) => authed(d, r, false)));
    const t0 = performance.now();
    await Promise.all(sessions.map((s, i) => pushAll(s, work[i]!)));
    const dt = performance.now() - t0;
    for (const s of sessions) s.close();
    const total = work.reduce((n, w) => n + w.length, 0);
    return total / (dt / 1000);
  } finally {
    await r.stop();
  }
}

async function fanOut(subscribers: number, messages: number): Promise<{ p50: number; p99: number }> {
  const r = await startTestRelay();
  try {
    const writer = await makeDevice('writer', 0, { webcrypto: true });
    const subs = await Promise.all(
      Array.from({ length: subscribers }, (_, i) => makeDevice(`s${i}`, 0, { webcrypto: true })),
    );
    const { doc, setup } = await calendar(writer, subs);
    const ws = await authed(writer, r, false);
    await pushAll(ws, setup);
    const ops = await writeEvents(writer, doc, messages);
    // One writer, ops sent one after another: op i gets seq setup.length + 1 + i.
    const sent = new Map<number, number>();
    const lat: number[] = [];
    const sessions = await Promise.all(subs.map((d) => authed(d, r, false)));
    // Subscribe at the current seq: only new ops are measured.
    await Promise.all(
      sessions.map(async (s) => {
        let caught = false;
        s.onMessage = (m) => {
          if (m.type === 'caughtUp') caught = true;
          if (m.type !== 'ops') return;
          const now = performance.now();
          for (const o of m.ops) {
            const t = sent.get(o.seq);
            if (t !== undefined) lat.push(now - t);
          }
        };
        s.send({ type: 'subscribe', doc, cursor: setup.length });
        await waitFor(() => caught, 10_000, 'caught up');
      }),
    );
    let acked = 0;
    ws.onMessage = (m) => {
      if (m.type === 'ack') acked += m.acks.length;
    };
    for (const [i, op] of ops.entries()) {
      sent.set(setup.length + 1 + i, performance.now());
      ws.send({ type: 'push', ops: [op.bytes] });
      // One op every 5 ms: an interactive load, not a bulk import.
      await new Promise((res) => setTimeout(res, 5));
    }
    await waitFor(
      () => acked >= ops.length && lat.length >= ops.length * subscribers,
      30_000,
      'all delivered',
    );
    for (const s of [...sessions, ws]) s.close();
    lat.sort((a, b) => a - b);
    return { p50: pct(lat, 50), p99: pct(lat, 99) };
  } finally {
    await r.stop();
  }
}

async function catchUp(events: number): Promise<number> {
  const r = await startTestRelay();
  try {
    const owner = await makeDevice('owner', 0, { webcrypto: true });
    const fresh = await makeDevice('new', 0, { webcrypto: true });
    const { doc, setup } = await calendar(owner, [fresh]);
    const ops = [...setup, ...(await writeEvents(owner, doc, events))];
    const s = await authed(owner, r, false);
    await pushAll(s, ops);
    s.close();
    // The new device: a real SyncClient applying (verify + decrypt + merge) into its own replica.
    const c = makeClient(fresh, r.url);
    c.follow(doc);
    const t0 = performance.now();
    c.start();
    await waitFor(
      () => c.status.state === 'synced' && fresh.replica.seq(doc) === ops.length,
      60_000,
      'caught up',
    );
    const dt = performance.now() - t0;
    c.stop();
    if (fresh.replica.entities(doc).length < events) throw new Error('catch-up incomplete');
    return dt;
  } finally {
    await r.stop();
  }
}

export async function benchRelay(): Promise<Figures> {
  const one = await ingestOne(Number(process.env['BENCH_RELAY_OPS'] ?? 5000));
  const many = await ingestMany(50, 100);
  const fan = await fanOut(50, 200);
  const catchMs = await catchUp(10_000);
  return {
    ingest_1_client_ops_per_s: Math.round(one),
    ingest_50_clients_ops_per_s: Math.round(many),
    fanout_50_subscribers_p50_ms: round(fan.p50, 2),
    fanout_50_subscribers_p99_ms: round(fan.p99, 2),
    catchup_10000_events_ms: Math.round(catchMs),
    targets: 'ingest >= 5000 ops/s; fan-out p99 < 100 ms; catch-up of 10,000 events < 3000 ms',
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchRelay());
}
