// The attack soak (issue 10): a relay in its own process (`src/server/main.ts`, default budgets)
// under hostile sockets — unauthenticated ones sending decode bombs and garbage, authenticated
// strangers probing and flooding, one hostile member pushing everything a member can abuse —
// while two honest members keep editing. Measures the relay's RSS, database growth, /health
// latency and honest edit latency, then restarts the relay and counts hostile state it kept.
// `npm run soak` / `npm run bench` run it for 60 s with 200 sockets; src/server/soak.test.ts for
// a few seconds. Loopback only.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import {
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  fromHex,
  type OpId,
  openOp,
} from '../engine/index.ts';
import { createOp } from '../engine/op.ts';
import { OpKind } from '../engine/store.ts';
import { aliasedPush } from '../sync/bombs.testkit.ts';
import { hostOf } from '../sync/client-session.ts';
import type { SyncMessage } from '../sync/messages.ts';
import { authMessage } from '../sync/messages-auth.ts';
import { decodeMessage, encodeMessage } from '../sync/messages-codec.ts';
import {
  makeClient,
  makeDevice,
  random,
  randomEntity,
  sharedCalendar,
  type TestDevice,
  waitFor,
} from './relay.testkit.ts';

export interface SoakOptions {
  durationMs: number;
  /** Hostile sockets in all: half unauthenticated, the rest authenticated strangers and one member. */
  hostile: number;
  progress?: (line: string) => void;
}

export type SoakFigures = Record<string, number>;

const root = new URL('../..', import.meta.url).pathname;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** The relay's own counters, from the line it logs when it stops (event-loop delay included). */
const stopped = new WeakMap<ChildProcess, Record<string, unknown>>();

async function startRelayProcess(port: number, dataDir: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      ...(process.env['SOAK_PROF'] ? ['--cpu-prof', '--cpu-prof-dir=/tmp/prof'] : []),
      '--import',
      'tsx',
      'src/server/main.ts',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--data',
      dataDir,
    ],
    {
      cwd: root,
      env: { ...process.env, STATIC_DIR: join(dataDir, 'no-static'), LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr?.resume();
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      if (line.includes('"relay stopped"')) stopped.set(child, JSON.parse(line) as Record<string, unknown>);
    }
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error('relay exited at start');
      try {
        return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
      } catch {
        return false;
      }
    },
    30_000,
    'relay up',
  );
  return child;
}

async function stopRelayProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  // 'close', not 'exit': the last stdout lines (the relay's counters) may arrive after 'exit'.
  const done = new Promise<void>((r) => child.once('close', () => r()));
  child.kill('SIGTERM');
  await done;
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) / 1024;
}

function dbBytes(dir: string): number {
  let n = 0;
  for (const f of ['relay.db', 'relay.db-wal']) {
    try {
      n += statSync(join(dir, f)).size;
    } catch {
      // absent
    }
  }
  return n;
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An authenticated socket that reads nothing after Welcome (it only counts what it gets). */
async function authedSocket(dev: TestDevice, url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  await new Promise<void>((resolve, reject) => {
    let welcomed = false;
    ws.on('message', (d: ArrayBuffer) => {
      if (welcomed) return;
      let m: SyncMessage;
      try {
        m = decodeMessage(new Uint8Array(d));
      } catch {
        return;
      }
      if (m.type === 'challenge') {
        const msg = authMessage(m.challenge, hostOf(url));
        void dev.signer
          .sign(msg)
          .then((sig) =>
            ws.send(
              encodeMessage({ type: 'auth', version: 1, device: dev.id, sig, deviceTime: Date.now() * 1000 }),
            ),
          );
      } else if (m.type === 'welcome') {
        welcomed = true;
        resolve();
      }
    });
    ws.once('error', reject);
    ws.once('close', () => reject(new Error('closed before welcome')));
  });
  return ws;
}

interface Pools {
  bomb: Uint8Array;
  garbage: Uint8Array;
  nearMax: Uint8Array;
  strangerFrames: Uint8Array[];
  memberFrames: Uint8Array[];
}

async function write(dev: TestDevice, doc: DocId, fields: [number, string][]): Promise<Uint8Array> {
  const op = await dev.replica.write(
    doc,
    randomEntity() as EntityId,
    fields.map(([field, text]) => ({ field, value: encodeValue('text', text) })),
  );
  return op.bytes;
}

/** Every hostile frame, encoded once before the clock starts. */
async function buildPools(
  doc: DocId,
  stranger: TestDevice,
  member: TestDevice,
  honestHeads: OpId[],
): Promise<Pools> {
  const own = await stranger.replica.createCalendar({ name: 'spam' });
  const setup = (await stranger.replica.listOps(own.doc, 0, 100)).map((r) => r.bytes);
  const foreign: Uint8Array[] = [];
  for (let i = 0; i < 200; i++)
    foreign.push(await write(stranger, own.doc, [[EventField.Title, `spam ${i} ${'x'.repeat(400)}`]]));
  const invented: Uint8Array[] = [];
  for (let i = 0; i < 100; i++) {
    const op = await createOp(stranger.signer, random, {
      doc: fromHex(doc),
      ctr: 1,
      kind: OpKind.Patch,
      schema: 1,
      wallTime: Date.now() * 1000,
      prev: new Uint8Array(0),
      parents: [random(32)],
      body: random(400),
      key: { id: random(8), key: random(32) },
    });
    invented.push(op.bytes);
  }
  const ids = (n: number) => Array.from({ length: n }, () => Buffer.from(random(32)).toString('hex') as OpId);
  const strangerFrames = [
    encodeMessage({ type: 'push', ops: foreign.slice(0, 200) }),
    encodeMessage({ type: 'push', ops: invented }),
    encodeMessage({ type: 'push', ops: setup }),
    encodeMessage({ type: 'subscribe', doc, cursor: 0 }),
    encodeMessage({ type: 'heads', doc, root: '00'.repeat(32), heads: ids(4096) }),
    encodeMessage({ type: 'want', doc, ids: new Array(4096).fill(honestHeads[0]!) }),
    aliasedPush(60_000, 60 * 1024),
    random(2048),
  ];
  // The hostile member: large ops, then a withheld op and its descendants (pending), then ops
  // dated 10 minutes ahead (held) and a year ahead (refused); Wants naming its largest op 4,096 times.
  const big: Uint8Array[] = [];
  const chunk = 'y'.repeat(8 * 1024 - 16);
  for (let i = 0; i < 8; i++)
    big.push(
      await write(member, doc, [
        [EventField.Title, chunk],
        [EventField.Location, chunk],
        [EventField.Notes, chunk],
      ]),
    );
  await write(member, doc, [[EventField.Title, 'withheld']]);
  const orphans: Uint8Array[] = [];
  for (let i = 0; i < 600; i++)
    orphans.push(await write(member, doc, [[EventField.Title, `orphan ${i} ${'z'.repeat(300)}`]]));
  member.clockSkewUs = 10 * 60_000_000;
  const near: Uint8Array[] = [];
  for (let i = 0; i < 300; i++)
    near.push(await write(member, doc, [[EventField.Title, `ahead ${i} ${'w'.repeat(300)}`]]));
  member.clockSkewUs = 365 * 24 * 3600 * 1_000_000;
  const far: Uint8Array[] = [];
  for (let i = 0; i < 20; i++) far.push(await write(member, doc, [[EventField.Title, `far ${i}`]]));
  member.clockSkewUs = 0;
  const bigId = openOp(big[0]!).id;
  const memberFrames = [
    ...big.map((b) => encodeMessage({ type: 'push', ops: [b] })),
    ...[0, 200, 400].map((k) => encodeMessage({ type: 'push', ops: orphans.slice(k, k + 200) })),
    encodeMessage({ type: 'push', ops: near.slice(0, 150) }),
    encodeMessage({ type: 'push', ops: near.slice(150) }),
    encodeMessage({ type: 'push', ops: far }),
    encodeMessage({ type: 'want', doc, ids: new Array(4096).fill(bigId) }),
    encodeMessage({ type: 'heads', doc, root: '00'.repeat(32), heads: ids(4096) }),
  ];
  const nearMax = new Uint8Array(1024 * 1024 + 512).fill(1);
  return {
    bomb: aliasedPush(60_000, 60 * 1024),
    garbage: random(900),
    nearMax,
    strangerFrames,
    memberFrames,
  };
}

/** Sends frames from `pick` on authenticated sockets until `until`, reconnecting when cut off. */
async function hostileAuthed(
  dev: TestDevice,
  url: string,
  until: number,
  frames: Uint8Array[],
  count: { frames: number },
): Promise<void> {
  while (Date.now() < until) {
    let ws: WebSocket;
    try {
      ws = await authedSocket(dev, url);
    } catch {
      await sleep(50);
      continue;
    }
    let i = Math.floor(Math.random() * frames.length);
    while (Date.now() < until && ws.readyState === WebSocket.OPEN) {
      if (ws.bufferedAmount < 2 * 1024 * 1024) {
        ws.send(frames[i++ % frames.length]!);
        count.frames++;
      }
      await sleep(40);
    }
    ws.terminate();
  }
}

/** Unauthenticated sockets: each connects, sends one hostile frame (or idles), and is cut off. */
async function hostileUnauthed(
  url: string,
  until: number,
  p: Pools,
  k: number,
  count: { frames: number },
): Promise<void> {
  const kinds = [p.bomb, p.garbage, p.nearMax, 'text', undefined] as const;
  let n = k;
  while (Date.now() < until) {
    const ws = new WebSocket(url);
    const closed = new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.once('error', () => r());
    });
    ws.once('open', () => {
      const f = kinds[n++ % kinds.length];
      if (f === undefined) return; // idles until the auth timeout
      ws.send(f);
      count.frames++;
    });
    await Promise.race([closed, sleep(Math.max(0, until - Date.now()))]);
    ws.terminate();
    await sleep(20);
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakFigures> {
  const say = o.progress ?? (() => {});
  const dataDir = mkdtempSync(join(tmpdir(), 'ledgerday-soak-'));
  const port = await freePort();
  const url = `ws://127.0.0.1:${port}/sync`;
  let child = await startRelayProcess(port, dataDir);
  const clients: { stop(): void }[] = [];
  try {
    const [a, b, m, s] = await Promise.all(
      ['honest-a', 'honest-b', 'hostile-member', 'stranger'].map((n) =>
        makeDevice(n, 0, { webcrypto: true }),
      ),
    );
    const doc = await sharedCalendar(a!, [b!, m!]);
    const ca = makeClient(a!, url);
    const cb = makeClient(b!, url);
    clients.push(ca, cb);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 30_000, 'a synced');
    cb.follow(doc);
    cb.start();
    await waitFor(() => cb.status.state === 'synced' && b!.replica.hasDoc(doc), 30_000, 'b synced');
    for (const r of await a!.replica.listOps(doc, 0, 1000)) await m!.replica.receive(r.bytes);
    const pools = await buildPools(doc, s!, m!, a!.replica.heads(doc));
    const nUnauth = Math.floor(o.hostile / 2);
    const nStrangers = o.hostile - nUnauth - 1;
    const strangers = await Promise.all(
      Array.from({ length: nStrangers }, (_, i) => makeDevice(`stranger-${i}`, 0, { webcrypto: true })),
    );
    say(`soak: ${nUnauth} unauthenticated, ${nStrangers} strangers, 1 member, ${o.durationMs / 1000} s`);

    const dbStart = dbBytes(dataDir);
    const rss: number[] = [rssMb(child.pid!)];
    const health: number[] = [];
    const edits: number[] = [];
    const count = { frames: 0 };
    const until = Date.now() + o.durationMs;

    // Honest edits both ways; latency = write on one device to apply on the other.
    const sent = new Map<string, number>();
    for (const other of [a!, b!]) {
      other.replica.onChange((e) => {
        for (const en of e.entities) {
          const t = sent.get(en);
          if (t !== undefined) {
            edits.push(performance.now() - t);
            sent.delete(en);
          }
        }
      });
    }
    const honest = (async () => {
      let i = 0;
      while (Date.now() < until) {
        const [dev, c] = i % 2 === 0 ? [a!, ca] : [b!, cb];
        const entity = randomEntity();
        sent.set(entity, performance.now());
        const op = await dev.replica.write(doc, entity as EntityId, [
          { field: EventField.Title, value: encodeValue('text', `honest ${i++}`) },
        ]);
        dev.track(op);
        c.kick();
        await sleep(100);
      }
    })();
    const lag: number[] = [];
    const lagProbe = (async () => {
      while (Date.now() < until) {
        const t = performance.now();
        await sleep(50);
        lag.push(performance.now() - t - 50);
      }
    })();
    const probes = (async () => {
      while (Date.now() < until) {
        const t = performance.now();
        try {
          await fetch(`http://127.0.0.1:${port}/health`);
          health.push(performance.now() - t);
        } catch {
          health.push(performance.now() - t);
        }
        try {
          rss.push(rssMb(child.pid!));
        } catch {
          // process gone: reported below
        }
        await sleep(100);
      }
    })();
    const attacks = [
      ...Array.from({ length: nUnauth }, (_, k) => hostileUnauthed(url, until, pools, k, count)),
      ...strangers.map((d) => hostileAuthed(d, url, until, pools.strangerFrames, count)),
      hostileAuthed(m!, url, until, pools.memberFrames, count),
    ];
    await Promise.all([honest, probes, lagProbe, ...attacks]);
    await sleep(1000); // the last honest edits land
    const relayAlive = child.exitCode === null;
    const dbEnd = dbBytes(dataDir);
    const lost = sent.size;
    ca.stop();
    cb.stop();

    // Restart: what did the relay keep from the attack?
    await stopRelayProcess(child);
    const relayStats = stopped.get(child) ?? {};
    child = await startRelayProcess(port, dataDir);
    const hostileState = countHostileState(
      dataDir,
      doc,
      [s!, ...strangers].map((d) => d.id),
    );
    const cr = makeClient(a!, url);
    clients.push(cr);
    cr.start();
    await waitFor(() => cr.status.state === 'synced', 30_000, 'honest device syncs after restart');
    return {
      duration_s: o.durationMs / 1000,
      hostile_sockets: o.hostile,
      hostile_frames_sent: count.frames,
      relay_alive: relayAlive ? 1 : 0,
      relay_rss_start_mb: Math.round(rss[0]!),
      relay_rss_max_mb: Math.round(Math.max(...rss)),
      db_growth_mb: Math.round(((dbEnd - dbStart) / 1024 / 1024) * 10) / 10,
      health_p50_ms: Math.round(pct(health, 50) * 10) / 10,
      health_p99_ms: Math.round(pct(health, 99) * 10) / 10,
      soak_driver_lag_p99_ms: Math.round(pct(lag, 99)),
      relay_event_loop_p99_ms: Number(relayStats['eventLoopP99Ms'] ?? Number.NaN),
      relay_event_loop_max_ms: Number(relayStats['eventLoopMaxMs'] ?? Number.NaN),
      relay_frames_dropped: Number(relayStats['framesDropped'] ?? Number.NaN),
      relay_ops_rejected: Number(relayStats['opsRejected'] ?? Number.NaN),
      relay_ops_accepted: Number(relayStats['opsAccepted'] ?? Number.NaN),
      honest_edits: edits.length,
      honest_edits_lost: lost,
      honest_edit_p50_ms: Math.round(pct(edits, 50)),
      honest_edit_p99_ms: Math.round(pct(edits, 99)),
      ...hostileState,
    };
  } finally {
    for (const c of clients) c.stop();
    await stopRelayProcess(child);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * After the restart: pending ops of calendars the relay does not hold, and anything stored,
 * pending or held from a stranger's key in the members' calendar. Reported apart: calendars
 * strangers created for themselves (a genesis needs no invitation; rate-limited) and their ops, the hostile member's pending and held
 * ops (valid member ops, bounded by its budgets) and calendars strangers created (rate-limited).
 */
function countHostileState(dataDir: string, doc: DocId, strangerIds: string[]): SoakFigures {
  const db = new Database(join(dataDir, 'relay.db'), { readonly: true });
  try {
    const strangers = new Set(strangerIds);
    const orphanPending = (
      db.prepare('SELECT count(*) AS n FROM pending WHERE doc NOT IN (SELECT doc FROM docs)').get() as {
        n: number;
      }
    ).n;
    let strangerPending = 0;
    let memberPending = 0;
    for (const r of db.prepare('SELECT bytes FROM pending').iterate() as Iterable<{ bytes: Buffer }>) {
      if (strangers.has(openOp(new Uint8Array(r.bytes)).author)) strangerPending++;
      else memberPending++;
    }
    const held = db.prepare('SELECT author FROM held').all() as { author: string }[];
    const strangerHeld = held.filter((h) => strangers.has(h.author)).length;
    const strangerOps = (
      db.prepare('SELECT author FROM ops WHERE doc = ?').all(doc) as { author: string }[]
    ).filter((r) => strangers.has(r.author)).length;
    const calendars = (db.prepare('SELECT count(*) AS n FROM docs').get() as { n: number }).n;
    return {
      hostile_state_after_restart: orphanPending + strangerPending + strangerHeld + strangerOps,
      member_pending_after_restart: memberPending,
      member_held_after_restart: held.length - strangerHeld,
      stranger_calendars: calendars - 1,
    };
  } finally {
    db.close();
  }
}
