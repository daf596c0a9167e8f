// The relay as a real child process (tsx src/server/main.ts): SIGKILL in the middle of a burst
// of pushes, restart on the same data directory, finish: nothing lost, nothing duplicated.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createNobleCrypto,
  type EntityId,
  EventField,
  encodeValue,
  eventFromRecord,
  fromHex,
  openManifest,
  signDeviceCard,
} from '../engine/index.ts';
import {
  joinedAt,
  makeClient,
  makeDevice,
  randomEntity,
  rawSession,
  sharedCalendar,
  type TestDevice,
  waitFor,
} from './relay.testkit.ts';

const root = new URL('../..', import.meta.url).pathname;
const dataDir = mkdtempSync(join(tmpdir(), 'ledgerday-relay-proc-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dataDir, { recursive: true, force: true });
});

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

async function startChild(
  port: number,
  durability: 'barrier' | 'full',
  dir: string,
  env: Record<string, string> = {},
): Promise<ChildProcess> {
  // `node --import tsx`, not the tsx CLI: the CLI runs the program in a grandchild process, and
  // SIGKILL must hit the process that holds the database.
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/server/main.ts',
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--data',
      dir,
      '--static',
      join(dir, 'no-static'),
      '--log-level',
      'warn',
      // RELAY-15: the mode is chosen through the real command line.
      '--durability',
      durability,
    ],
    {
      cwd: root,
      env: {
        ...process.env,
        RATE_OPS_PER_SEC: '100000',
        RATE_BURST: '100000',
        RATE_BYTES_PER_SEC: '100000000',
        RATE_BYTES_BURST: '100000000',
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`relay exited: ${stderr}`);
      try {
        const r = await fetch(`http://127.0.0.1:${port}/health`);
        return r.ok && ((await r.json()) as { status: string }).status === 'ok';
      } catch {
        return false;
      }
    },
    30_000,
    'relay /health',
  );
  return child;
}

function exited(c: ChildProcess): Promise<void> {
  return c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => c.once('exit', () => r()));
}

async function burst(dev: TestDevice, doc: string, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    dev.track(
      await dev.replica.write(doc as never, randomEntity() as EntityId, [
        { field: EventField.Title, value: encodeValue('text', `${prefix}-${i}`) },
      ]),
    );
  }
}

const titles = (d: TestDevice, doc: string) =>
  d.replica
    .entities(doc as never)
    .filter((e) => e.entity !== '0'.repeat(32))
    .map((e) => eventFromRecord(e).title)
    .sort();

describe.each(['barrier', 'full'] as const)('relay as a child process, --durability %s', (mode) => {
  it(`[RELAY-5][RELAY-15][SYNC-4] SIGKILL during a burst of pushes (--durability ${mode}): after restart nothing is lost or duplicated; clients converge and a third catches up`, async () => {
    const dir = join(dataDir, mode);
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/sync`;
    let child = await startChild(port, mode, dir);
    const [a, b, c] = await Promise.all([makeDevice('a'), makeDevice('b'), makeDevice('c')]);
    const doc = await sharedCalendar(a, [b, c]);
    const ca = makeClient(a, url);
    const cb = makeClient(b, url);
    try {
      ca.start();
      await waitFor(() => ca.status.state === 'synced', 30_000, 'a synced');
      cb.follow(doc);
      cb.start();
      await waitFor(() => cb.status.state === 'synced' && b.replica.hasDoc(doc), 30_000, 'b synced');
      ca.stop();
      cb.stop();
      // Both edit offline.
      await burst(a, doc, 600, 'a');
      await burst(b, doc, 200, 'b');
      ca.start();
      // Kill the relay while a's pushes are being acknowledged.
      const total = await a.persistence.countOutbox();
      await waitFor(async () => (await a.persistence.countOutbox()) < total - 50, 30_000, 'some acks');
      child.kill('SIGKILL');
      await exited(child);
      const left = await a.persistence.countOutbox();
      expect(left).toBeGreaterThan(0); // the kill really happened mid-burst
      await waitFor(
        () => ca.status.state === 'connecting' || ca.status.state === 'offline',
        5000,
        'a notices',
      );

      child = await startChild(port, mode, dir);
      cb.start();
      await waitFor(
        () =>
          ca.status.state === 'synced' &&
          cb.status.state === 'synced' &&
          b.replica.hasDoc(doc) &&
          a.replica.root(doc) === b.replica.root(doc),
        60_000,
        'a and b converge after restart',
      );
      expect(titles(a, doc)).toEqual(titles(b, doc));
      expect(titles(a, doc)).toHaveLength(800);

      const cc = makeClient(c, url);
      cc.follow(doc);
      cc.start();
      await waitFor(
        () => cc.status.state === 'synced' && c.replica.root(doc) === a.replica.root(doc),
        60_000,
        'c catches up',
      );
      cc.stop();
      expect(titles(c, doc)).toEqual(titles(a, doc));
    } finally {
      ca.stop();
      cb.stop();
    }
    // Graceful stop, then read the relay's log directly: every op exactly once, seq without gaps.
    child.kill('SIGTERM');
    await exited(child);
    expect(child.exitCode).toBe(0);
    const db = new Database(join(dir, 'relay.db'), { readonly: true });
    const rows = db.prepare('SELECT seq, id FROM ops WHERE doc = ? ORDER BY seq').all(doc) as {
      seq: number;
      id: string;
    }[];
    db.close();
    expect(rows.length).toBe(a.replica.seq(doc));
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    const mine = new Set<string>((await a.replica.listOps(doc, 0, 10_000)).map((r) => r.id));
    expect(rows.every((r) => mine.has(r.id))).toBe(true);
  });
});

describe('snapshots in a relay child process', () => {
  it('[RELAY-25] SIGKILL mid-upload and right after a snapshot is stored: the upload resumes where the relay acknowledged; a stored one is served after restart', async () => {
    const dir = join(dataDir, 'snapshots');
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/sync`;
    let child = await startChild(port, 'barrier', dir);
    const owner = await makeDevice('owner');
    const doc = await sharedCalendar(owner, []);
    // Long titles: a snapshot of several chunks.
    for (let i = 0; i < 1500; i += 250) {
      const batch = Array.from({ length: 250 }, (_, k) => ({
        entity: randomEntity() as EntityId,
        writes: [
          { field: EventField.Title, value: encodeValue('text', `entry ${i + k} ${'x'.repeat(400)}`) },
        ],
      }));
      for (const op of await owner.replica.writeBatch(doc as never, batch)) owner.track(op);
    }
    const c = makeClient(owner, url, { snapshots: true });
    c.start();
    await waitFor(() => c.status.state === 'synced' && c.status.pending === 0, 60_000, 'owner synced');
    c.stop();
    const sealed = await owner.replica.sealSnapshot(doc as never);
    expect(sealed.chunks.length).toBeGreaterThan(2);
    const id = (await openManifest(createNobleCrypto(), sealed.manifest)).hash;

    // The manifest and the first chunk, acknowledged; then the relay is killed.
    const s = await rawSession(owner, url);
    await s.waitFor((m) => m.type === 'welcome', 'welcome');
    s.send({ type: 'snapshotPut', doc: doc as never, manifest: sealed.manifest });
    await s.waitFor((m) => m.type === 'snapshotStored', 'manifest stored');
    s.send({ type: 'snapshotChunk', doc: doc as never, snapshot: id, index: 0, bytes: sealed.chunks[0]! });
    await s.waitFor((m) => m.type === 'snapshotStored' && m.chunks === 1, 'chunk 0 stored');
    child.kill('SIGKILL');
    await exited(child);
    s.close();

    child = await startChild(port, 'barrier', dir);
    // A member added after the snapshot (so the owner is its only member: trusted alone, SNAP-5).
    const fresh = await makeDevice('fresh');
    owner.track(await owner.replica.addMember(doc as never, await signDeviceCard(fresh, fromHex(doc))));
    const again = await rawSession(owner, url);
    await again.waitFor((m) => m.type === 'welcome', 'welcome again');
    // Resumes where the relay acknowledged: it holds chunk 0 across the kill.
    again.send({ type: 'snapshotPut', doc: doc as never, manifest: sealed.manifest });
    const resumed = await again.waitFor((m) => m.type === 'snapshotStored', 'resume point');
    expect(resumed).toMatchObject({ chunks: 1, complete: false });
    for (let i = 1; i < sealed.chunks.length; i++)
      again.send({
        type: 'snapshotChunk',
        doc: doc as never,
        snapshot: id,
        index: i,
        bytes: sealed.chunks[i]!,
      });
    await again.waitFor((m) => m.type === 'snapshotStored' && m.complete, 'complete');
    // Killed the moment it said "complete": still there, and served.
    child.kill('SIGKILL');
    await exited(child);
    again.close();
    child = await startChild(port, 'barrier', dir);
    const co = makeClient(owner, url, { snapshots: true });
    co.start();
    await waitFor(() => co.status.state === 'synced' && co.status.pending === 0, 60_000, 'the Add uploaded');
    co.stop();
    const cf = await joinedAt(fresh, url, owner, doc as never, 'fresh caught up');
    cf.stop();
    expect(cf.status.snapshotStarts).toBe(1);
    expect(titles(fresh, doc)).toEqual(titles(owner, doc));
    child.kill('SIGTERM');
    await exited(child);
  }, 120_000);
});

/**
 * RELAY-32: what a relay's file holds of a calendar is consistent: every op `all` names is held,
 * or the calendar's mark says it was pruned to a frontier that covers it (its ctr within the
 * mark's version vector), the mark's anchors are the first ops of the log and include the
 * frontier, every membership op is held, and every stored snapshot's frontier is held and holds
 * the mark's frontier (none is served whose covered ops are gone). Returns the ops pruned.
 */
function checkRelayFile(
  dir: string,
  doc: string,
  all: { id: string; author: string; ctr: number; kind: number }[],
) {
  const db = new Database(join(dir, 'relay.db'), { readonly: true });
  try {
    const rows = db.prepare('SELECT seq, id, vv FROM ops WHERE doc = ? ORDER BY seq').all(doc) as {
      seq: number;
      id: string;
      vv: string;
    }[];
    const extra = (db.prepare('SELECT extra FROM docs WHERE doc = ?').get(doc) as { extra: string | null })
      .extra;
    const mark =
      extra === null
        ? undefined
        : (
            JSON.parse(extra) as {
              snapshot?: { frontier: string[]; anchors: number; vv: Record<string, number> };
            }
          ).snapshot;
    const held = new Map(rows.map((r) => [r.id, r]));
    const missing = all.filter((o) => !held.has(o.id));
    if (mark === undefined) expect(missing).toEqual([]);
    else {
      for (const o of missing) expect(o.ctr).toBeLessThanOrEqual(mark.vv[o.author] ?? 0);
      const anchors = new Set(rows.slice(0, mark.anchors).map((r) => r.id));
      for (const f of mark.frontier) expect(anchors.has(f)).toBe(true);
    }
    for (const o of all) if (o.kind === 2) expect(held.has(o.id)).toBe(true);
    const snaps = db.prepare('SELECT frontier FROM snapshots WHERE doc = ? AND complete = 1').all(doc) as {
      frontier: string;
    }[];
    for (const sn of snaps) {
      const ids = sn.frontier.match(/.{64}/g) ?? [];
      const vv: Record<string, number> = {};
      for (const id of ids) {
        const r = held.get(id);
        expect(r).toBeDefined();
        for (const [d, c] of Object.entries(JSON.parse(r!.vv) as Record<string, number>))
          vv[d] = Math.max(vv[d] ?? 0, c);
      }
      for (const [d, c] of Object.entries(mark?.vv ?? {})) expect(vv[d] ?? 0).toBeGreaterThanOrEqual(c);
    }
    return missing.length;
  } finally {
    db.close();
  }
}

/** Every op a device holds, as the relay file check reads them. */
async function chainOf(dev: TestDevice, doc: string) {
  return (await dev.replica.listOps(doc as never, 0, 100_000)).map((o) => ({
    id: o.id,
    author: o.author,
    ctr: o.ctr,
    kind: o.kind,
  }));
}

describe('pruning in a relay child process', () => {
  it('[RELAY-32][SNAP-17] SIGKILL at random points of pruning loses nothing: the log is whole or pruned with its anchors, every device syncs and converges, a new device joins', async () => {
    const dir = join(dataDir, 'prune');
    const port = await freePort();
    const url = `ws://127.0.0.1:${port}/sync`;
    const env = { PRUNE_DEBOUNCE_MS: '50' };
    let child = await startChild(port, 'barrier', dir, env);
    const crypto = createNobleCrypto();
    const [a, b, fresh] = await Promise.all([makeDevice('a'), makeDevice('b'), makeDevice('fresh')]);
    const doc = await sharedCalendar(a, [b]);
    const ca = makeClient(a, url, { snapshots: true });
    const cb = makeClient(b, url, { snapshots: true });
    const both = () =>
      ca.status.state === 'synced' &&
      ca.status.pending === 0 &&
      cb.status.state === 'synced' &&
      cb.status.pending === 0 &&
      b.replica.hasDoc(doc) &&
      a.replica.root(doc) === b.replica.root(doc);
    let pruned = 0;
    try {
      ca.start();
      cb.follow(doc);
      cb.start();
      const rounds = Number(process.env.PRUNE_KILL_ROUNDS ?? 4);
      for (let round = 0; round < rounds; round++) {
        await burst(a, doc, 400, `r${round}`);
        ca.kick();
        await waitFor(both, 60_000, `round ${round}: synced`);
        const sealed = await a.replica.sealSnapshot(doc as never);
        expect(await ca.uploadSnapshot(doc as never, sealed.manifest, sealed.chunks)).toBe(true);
        const id = (await openManifest(crypto, sealed.manifest)).hash;
        ca.sendEndorsement(doc as never, await a.replica.endorseSnapshot(sealed.manifest, sealed.chunks));
        // b endorses by itself when offered; then the relay prunes after its debounce: killed at a
        // random moment around it (before, during or after the pruning transaction).
        await waitFor(
          () => {
            const db = new Database(join(dir, 'relay.db'), { readonly: true });
            try {
              const n = db.prepare('SELECT count(*) AS n FROM endorsements WHERE snapshot = ?').get(id) as {
                n: number;
              };
              return n.n >= 2;
            } finally {
              db.close();
            }
          },
          30_000,
          `round ${round}: endorsed`,
        );
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 250)));
        child.kill('SIGKILL');
        await exited(child);
        child = await startChild(port, 'barrier', dir, env);
        pruned = checkRelayFile(dir, doc, await chainOf(a, doc));
        // A write after the restart: applied and served as before.
        await burst(b, doc, 5, `b${round}`);
        cb.kick();
        await waitFor(both, 60_000, `round ${round}: converged after the restart`);
      }
      // Pruning ran (at the latest after a restart: every calendar is looked at on start).
      await waitFor(
        async () => {
          pruned = checkRelayFile(dir, doc, await chainOf(a, doc));
          return pruned > 1000;
        },
        30_000,
        'the relay pruned',
      );
      a.track(await a.replica.addMember(doc as never, await signDeviceCard(fresh, fromHex(doc))));
      ca.kick();
      await waitFor(both, 60_000, 'the Add uploaded');
      const cf = await joinedAt(fresh, url, a, doc as never, 'a new device joins');
      cf.stop();
      expect(cf.status.snapshotStarts).toBe(1);
      expect(titles(fresh, doc)).toEqual(titles(a, doc));
      expect(titles(b, doc)).toEqual(titles(a, doc));
    } finally {
      ca.stop();
      cb.stop();
    }
    child.kill('SIGTERM');
    await exited(child);
  }, 240_000);
});
