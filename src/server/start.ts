// Builds a running relay from a configuration: its store (the SQLite file, or with `database` a
// PostgreSQL database shared with other relays: cluster-store.ts), verify-only replica, relay
// logic and HTTP/WebSocket server. main.ts calls it for the process; tests and benchmarks call
// it in process.

import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createBestCrypto, type DocId, Replica, type SubtleLike } from '../engine/index.ts';
import { ClusterStore } from './cluster-store.ts';
import type { RelayConfig } from './config.ts';
import { Doorbell } from './doorbell.ts';
import { createHttpServer } from './http.ts';
import { type Logger, throttledLogger } from './log.ts';
import { PgSnapshots } from './pg-snapshots.ts';
import { type DatabaseStatus, Relay } from './relay.ts';
import { type RelayReplica, Replicas } from './replicas.ts';
import { type SnapshotStore, SqliteSnapshots } from './snapshot-store.ts';
import { SqliteStore } from './sqlite-store.ts';

export interface RunningRelay {
  port: number;
  relay: Relay;
  store: SqliteStore;
  replica: RelayReplica;
  /** With a shared database: the fan-out's doorbell (tests wait on it). */
  doorbell?: Doorbell;
  /** Graceful: stop accepting, finish in-flight writes, close sockets, checkpoint and close the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  log: Logger;
  /** µs since the Unix epoch; defaults to the system clock. */
  nowUs?: () => number;
}

export const systemNowUs = (): number => Date.now() * 1000;

/**
 * RELAY-17: the host[:port] values devices may sign in Auth. Configured origins, else the
 * loopback names at the listening port (what `npm start` and the tests use) and the bound
 * address itself when it is a specific one.
 */
export function relayHosts(cfg: Pick<RelayConfig, 'publicOrigins' | 'host'>, port: number): string[] {
  if (cfg.publicOrigins.length > 0) return cfg.publicOrigins;
  const at = (h: string) => (port === 80 ? [h, `${h}:80`] : [`${h}:${port}`]);
  const names = ['localhost', '127.0.0.1', '[::1]'];
  if (cfg.host !== '0.0.0.0' && cfg.host !== '::' && cfg.host !== '') {
    names.push(cfg.host.includes(':') && !cfg.host.startsWith('[') ? `[${cfg.host}]` : cfg.host);
  }
  return [...new Set(names.flatMap(at))];
}

/** The database URL without its password, for logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable)';
  }
}

interface Engine {
  store: SqliteStore;
  snapshots: SnapshotStore;
  replica: RelayReplica;
  doorbell?: Doorbell;
  database?: DatabaseStatus;
  refresh?: (doc: DocId) => Promise<void>;
  /** Closes what `openEngine` opened (after the relay stopped). */
  close(): Promise<void>;
}

async function openEngine(
  cfg: RelayConfig,
  log: Logger,
  crypto: Awaited<ReturnType<typeof createBestCrypto>>,
  nowUs: () => number,
  random: (n: number) => Uint8Array,
): Promise<Engine> {
  if (cfg.database === '') {
    const store = new SqliteStore({ path: join(cfg.dataDir, 'relay.db'), durability: cfg.durability });
    try {
      const replica = await Replica.open({ store, crypto, nowUs, random });
      return { store, snapshots: new SqliteSnapshots(store), replica, close: async () => store.close() };
    } catch (e) {
      store.close();
      throw e;
    }
  }
  // The local copy is per process: two relays may share a data directory without sharing it.
  removeDeadCopies(cfg.dataDir);
  const store = await ClusterStore.open({
    url: cfg.database,
    cachePath: join(cfg.dataDir, `cache-${process.pid}-${randomBytes(4).toString('hex')}.db`),
    poolSize: cfg.pgPoolSize,
    log,
  });
  let replicas: Replicas | undefined;
  try {
    replicas = await Replicas.open({ store, crypto, nowUs, random });
    const doorbell = new Doorbell({ store, url: cfg.database, log, pollMs: cfg.pgPollMs });
    await doorbell.start();
    const r = replicas;
    return {
      store,
      snapshots: await PgSnapshots.open(store.pg),
      replica: r,
      doorbell,
      refresh: (doc) => r.refresh(doc),
      database: {
        up: () => store.databaseUp,
        stats: () => ({ ...doorbell.stats, ...r.stats, pulledOps: store.pulledOps }),
      },
      close: async () => {
        await doorbell.close();
        r.close();
        await store.shutdown();
        for (const f of ['', '-wal', '-shm']) rmSync(`${store.path}${f}`, { force: true });
      },
    };
  } catch (e) {
    replicas?.close();
    await store.shutdown();
    throw e;
  }
}

/** Local copies left by relays of this host that were killed (their process is gone). */
function removeDeadCopies(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^cache-(\d+)-[0-9a-f]+\.db(-wal|-shm)?$/.exec(n);
    if (m === null || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(dir, n), { force: true });
    }
  }
}

export async function startRelay(cfg: RelayConfig, opts: StartOptions): Promise<RunningRelay> {
  const { log } = opts;
  const nowUs = opts.nowUs ?? systemNowUs;
  const crypto = await createBestCrypto(globalThis.crypto?.subtle as unknown as SubtleLike | undefined);
  const random = (n: number) => new Uint8Array(randomBytes(n));
  const engine = await openEngine(cfg, log, crypto, nowUs, random);
  const { store, replica } = engine;
  let relay: Relay;
  try {
    // Network-triggered info lines are throttled (RELAY-19).
    relay = new Relay({
      replica,
      store,
      snapshots: engine.snapshots,
      crypto,
      limits: cfg,
      log: throttledLogger(log),
      nowUs,
      random,
      pruneDebounceMs: cfg.pruneDebounceMs,
      ...(engine.database === undefined ? {} : { database: engine.database }),
      ...(engine.refresh === undefined ? {} : { refresh: engine.refresh }),
    });
    await relay.snap.load(replica.listDocs());
    // RELAY-31: a calendar whose pruning a stop or a crash interrupted is looked at again.
    relay.schedulePruning();
  } catch (e) {
    await engine.close();
    throw e;
  }
  const http = createHttpServer({
    staticDir: cfg.staticDir,
    relay,
    log,
    // ws itself closes a connection (1009) only far above the relay's own limit, so frames just
    // over the limit get a typed TooLarge error and the connection carries on (SYNC-9).
    wsMaxPayload: cfg.maxFrameBytes * 2,
  });
  const port = await http.listen(cfg.port, cfg.host);
  relay.setHosts(relayHosts(cfg, port));
  log.info('relay listening', {
    port,
    host: cfg.host,
    data: cfg.database === '' ? store.path : redactUrl(cfg.database),
    static: cfg.staticDir,
    crypto: crypto.name,
    calendars: replica.listDocs().length,
  });
  let closed: Promise<void> | undefined;
  return {
    port,
    relay,
    store,
    replica,
    ...(engine.doorbell === undefined ? {} : { doorbell: engine.doorbell }),
    close: () => {
      closed ??= (async () => {
        const stats = relay.health();
        await relay.close();
        await http.close();
        await engine.close();
        log.info('relay stopped', stats);
      })();
      return closed;
    },
  };
}
