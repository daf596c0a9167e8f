// Helpers for tests of several relays on one PostgreSQL database: relays in process, a TCP
// round-robin proxy (the shape of nginx or HAProxy in front of relays: a new connection goes to
// the next relay that accepts it), and reads of the shared log.

import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import type { DocId } from '../engine/index.ts';
import type { RelayConfig } from './config.ts';
import { startTestRelay, type TestRelay, waitFor } from './relay.testkit.ts';

const root = new URL('../..', import.meta.url).pathname;

export async function freePort(): Promise<number> {
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

export interface SpawnRelayOptions {
  port: number;
  dataDir: string;
  /** postgres:// URL (passed as DATABASE_URL, as a container would); absent: SQLite in dataDir. */
  database?: string;
  /** --public-origin (a proxy's host[:port]). */
  origin?: string;
  pollMs?: number;
}

/** A relay as a child process (`node --import tsx src/server/main.ts`), resolved once /ready answers 200. */
export async function spawnRelay(o: SpawnRelayOptions): Promise<ChildProcess> {
  // `node --import tsx`, not the tsx CLI (which runs a grandchild): SIGKILL must hit the relay.
  const args = ['--import', 'tsx', 'src/server/main.ts', '--port', String(o.port), '--host', '127.0.0.1'];
  args.push('--data', o.dataDir, '--static', join(o.dataDir, 'no-static'), '--log-level', 'warn');
  if (o.origin !== undefined) args.push('--public-origin', o.origin);
  if (o.pollMs !== undefined) args.push('--pg-poll-ms', String(o.pollMs));
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: o.database ?? '',
      RATE_OPS_PER_SEC: '1000000',
      RATE_BURST: '1000000',
      RATE_BYTES_PER_SEC: '1000000000',
      RATE_BYTES_BURST: '1000000000',
      RATE_CALENDARS_PER_MIN: '1000000',
      RATE_CALENDARS_BURST: '1000000',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`relay exited: ${stderr}`);
      try {
        return (await fetch(`http://127.0.0.1:${o.port}/ready`)).status === 200;
      } catch {
        return false;
      }
    },
    30_000,
    'relay /ready',
  );
  return child;
}

export function exited(c: ChildProcess): Promise<void> {
  return c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise((r) => c.once('exit', () => r()));
}

export async function startClusterRelay(
  database: string,
  over: Partial<RelayConfig> = {},
): Promise<TestRelay> {
  return startTestRelay({ database, pgPollMs: 200, pgPoolSize: 4, ...over });
}

/** Every op of a calendar in PostgreSQL, in seq order. */
export async function sharedLog(url: string, doc: DocId): Promise<{ seq: number; id: string }[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query<{ seq: string; id: string }>(
      'SELECT seq, id FROM ld_ops WHERE doc = $1 ORDER BY seq',
      [doc],
    );
    return r.rows.map((x) => ({ seq: Number(x.seq), id: x.id }));
  } finally {
    await c.end();
  }
}

export interface TcpProxy {
  port: number;
  /** Connections opened to each backend port. */
  opened: Map<number, number>;
  close(): Promise<void>;
}

/**
 * Round-robin TCP proxy on 127.0.0.1: each client connection goes to the next backend; a
 * backend that refuses the connection (killed) is skipped for the next one.
 */
export async function startTcpProxy(backends: () => readonly number[]): Promise<TcpProxy> {
  let next = 0;
  const sockets = new Set<Socket>();
  const opened = new Map<number, number>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.pause();
    const list = backends();
    const tryAt = (k: number) => {
      if (k >= list.length) {
        client.destroy();
        return;
      }
      const port = list[(next + k) % list.length]!;
      const up = createConnection({ port, host: '127.0.0.1' });
      up.once('connect', () => {
        next = (next + k + 1) % list.length;
        opened.set(port, (opened.get(port) ?? 0) + 1);
        sockets.add(up);
        up.on('close', () => sockets.delete(up));
        client.pipe(up);
        up.pipe(client);
        client.resume();
        up.on('error', () => client.destroy());
        client.on('error', () => up.destroy());
        up.on('close', () => client.destroy());
        client.on('close', () => up.destroy());
      });
      up.once('error', () => tryAt(k + 1));
    };
    tryAt(0);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  const port = typeof a === 'object' && a !== null ? a.port : 0;
  return {
    port,
    opened,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
