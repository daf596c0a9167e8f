// Relays that scale past one machine (issue 15), `npx tsx bench/run.ts scale`: ingest ops/s with
// 1, 2 and 3 relay processes on one PostgreSQL database (fsync on), the same workload on one
// SQLite relay process in the same run, and fan-out latency with 3 relays (one writer on the
// first, subscribers spread over all three, so two thirds of deliveries cross relays through the
// NOTIFY doorbell). Every relay is its own process (`src/server/main.ts`), as in production;
// devices sign with WebCrypto Ed25519 beforehand, so the figures are the relays' and the
// database's work. On a 2-core machine the processes share the cores: read the shape, not the
// absolute numbers.

import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DocId } from '../src/engine/index.ts';
import { exited, freePort, spawnRelay } from '../src/server/cluster.testkit.ts';
import { startPgServer } from '../src/server/pg.testkit.ts';
import { makeDevice, type RawSession, type TestDevice, waitFor } from '../src/server/relay.testkit.ts';
import type { OutboxOp } from '../src/sync/client-contract.ts';
import { authed, calendar, type Figures, pct, pushAll, writeEvents } from './relay.ts';

const WRITERS = Number(process.env['BENCH_SCALE_WRITERS'] ?? 12);
const OPS_PER_WRITER = Number(process.env['BENCH_SCALE_OPS'] ?? 300);

interface Cluster {
  urls: string[];
  stop(): Promise<void>;
}

async function cluster(n: number, database: string | undefined): Promise<Cluster> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ledgerday-scale-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      children.push(
        await spawnRelay({ port, dataDir, ...(database === undefined ? {} : { database }), pollMs: 500 }),
      );
      ports.push(port);
    }
  } catch (e) {
    for (const c of children) c.kill('SIGKILL');
    throw e;
  }
  return {
    urls: ports.map((p) => `ws://127.0.0.1:${p}/sync`),
    async stop() {
      for (const c of children) c.kill('SIGTERM');
      await Promise.all(children.map(exited));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Every writer pushes its own calendar through relay (i mod N); ops/s until the last ack. */
async function ingest(c: Cluster, work: { dev: TestDevice; ops: OutboxOp[] }[]): Promise<number> {
  const sessions = await Promise.all(
    work.map((w, i) => authed(w.dev, { url: c.urls[i % c.urls.length]! }, false)),
  );
  const t0 = performance.now();
  await Promise.all(sessions.map((s, i) => pushAll(s, work[i]!.ops)));
  const dt = performance.now() - t0;
  for (const s of sessions) s.close();
  return work.reduce((n, w) => n + w.ops.length, 0) / (dt / 1000);
}

/** Subscribes at `cursor`, retrying while the relay has not yet pulled the calendar. */
async function subscribe(
  s: RawSession,
  doc: DocId,
  cursor: number,
  onOps: (seqs: number[]) => void,
): Promise<void> {
  let caught = false;
  let refused = false;
  s.onMessage = (m) => {
    if (m.type === 'caughtUp') caught = true;
    else if (m.type === 'error') refused = true;
    else if (m.type === 'ops') onOps(m.ops.map((o) => o.seq));
  };
  s.send({ type: 'subscribe', doc, cursor });
  await waitFor(
    () => {
      if (refused && !caught) {
        refused = false;
        s.send({ type: 'subscribe', doc, cursor });
      }
      return caught;
    },
    20_000,
    'caught up',
  );
}

async function fanOut(
  c: Cluster,
  subscribers: number,
  messages: number,
  gapMs: number,
): Promise<{ p50: number; p99: number }> {
  const writer = await makeDevice('writer', 0, { webcrypto: true });
  const subs = await Promise.all(
    Array.from({ length: subscribers }, (_, i) => makeDevice(`s${i}`, 0, { webcrypto: true })),
  );
  const { doc, setup } = await calendar(writer, subs);
  const ws = await authed(writer, { url: c.urls[0]! }, false);
  await pushAll(ws, setup);
  const ops = await writeEvents(writer, doc, messages);
  const sent = new Map<number, number>();
  const lat: number[] = [];
  const sessions = await Promise.all(
    subs.map((d, i) => authed(d, { url: c.urls[i % c.urls.length]! }, false)),
  );
  await Promise.all(
    sessions.map((s) =>
      subscribe(s, doc, setup.length, (seqs) => {
        const now = performance.now();
        for (const seq of seqs) {
          const t = sent.get(seq);
          if (t !== undefined) lat.push(now - t);
        }
      }),
    ),
  );
  let acked = 0;
  ws.onMessage = (m) => {
    if (m.type === 'ack') acked += m.acks.length;
  };
  for (const [i, op] of ops.entries()) {
    sent.set(setup.length + 1 + i, performance.now());
    ws.send({ type: 'push', ops: [op.bytes] });
    await new Promise((res) => setTimeout(res, gapMs));
  }
  await waitFor(() => acked >= ops.length && lat.length >= ops.length * subscribers, 60_000, 'all delivered');
  for (const s of [...sessions, ws]) s.close();
  lat.sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99) };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export async function benchScale(): Promise<Figures> {
  const pgs = startPgServer({ fsync: true });
  try {
    // The same signed ops for every run (a fresh relay or database each time).
    const work: { dev: TestDevice; ops: OutboxOp[] }[] = [];
    for (let i = 0; i < WRITERS; i++) {
      const dev = await makeDevice(`w${i}`, 0, { webcrypto: true });
      const { doc, setup } = await calendar(dev);
      work.push({ dev, ops: [...setup, ...(await writeEvents(dev, doc, OPS_PER_WRITER))] });
    }
    const out: Figures = {};
    const sqlite = await cluster(1, undefined);
    try {
      out['sqlite_ingest_ops_per_s_1_relay'] = Math.round(await ingest(sqlite, work));
    } finally {
      await sqlite.stop();
    }
    for (const n of [1, 2, 3]) {
      const c = await cluster(n, await pgs.freshDatabase());
      try {
        out[`pg_ingest_ops_per_s_${n}_relay${n === 1 ? '' : 's'}`] = Math.round(await ingest(c, work));
      } finally {
        await c.stop();
      }
    }
    // Fan-out at 200 ops/s into one calendar (the relay benchmark's rate), on SQLite and on 3
    // PostgreSQL relays, then at 50 ops/s (what the doorbell adds when the writer's relay is
    // not saturated).
    for (const [key, n, gap] of [
      ['sqlite_fanout_%_ms_1_relay', 1, 5],
      ['pg_fanout_%_ms_3_relays', 3, 5],
      ['pg_fanout_%_ms_3_relays_50_ops_per_s', 3, 20],
    ] as const) {
      const c = await cluster(n, n === 1 ? undefined : await pgs.freshDatabase());
      try {
        const fan = await fanOut(c, 30, 200, gap);
        out[key.replace('%', 'p50')] = round(fan.p50, 2);
        out[key.replace('%', 'p99')] = round(fan.p99, 2);
      } finally {
        await c.stop();
      }
    }
    out['workload'] =
      `${WRITERS} writers x ${OPS_PER_WRITER} ops, one calendar each, pushed in frames of 256; fan-out: 1 writer, 30 subscribers spread over the relays, 200 ops 5 ms apart (or 20 ms)`;
    return out;
  } finally {
    pgs.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchScale());
}
