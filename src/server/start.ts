// Builds a running relay from a configuration: SQLite store, verify-only replica, relay logic and
// HTTP/WebSocket server. main.ts calls it for the process; tests and benchmarks call it in process.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { createBestCrypto, Replica, type SubtleLike } from '../engine/index.ts';
import type { RelayConfig } from './config.ts';
import { createHttpServer } from './http.ts';
import { type Logger, throttledLogger } from './log.ts';
import { Relay } from './relay.ts';
import { SqliteStore } from './sqlite-store.ts';

export interface RunningRelay {
  port: number;
  relay: Relay;
  store: SqliteStore;
  replica: Replica;
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

export async function startRelay(cfg: RelayConfig, opts: StartOptions): Promise<RunningRelay> {
  const { log } = opts;
  const nowUs = opts.nowUs ?? systemNowUs;
  const store = new SqliteStore({ path: join(cfg.dataDir, 'relay.db'), durability: cfg.durability });
  const crypto = await createBestCrypto(globalThis.crypto?.subtle as unknown as SubtleLike | undefined);
  const random = (n: number) => new Uint8Array(randomBytes(n));
  let replica: Replica;
  try {
    replica = await Replica.open({ store, crypto, nowUs, random });
  } catch (e) {
    store.close();
    throw e;
  }
  let relay: Relay;
  try {
    // Network-triggered info lines are throttled (RELAY-19).
    relay = new Relay({ replica, store, crypto, limits: cfg, log: throttledLogger(log), nowUs, random });
  } catch (e) {
    store.close();
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
    data: store.path,
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
    close: () => {
      closed ??= (async () => {
        const stats = relay.health();
        await relay.close();
        await http.close();
        store.close();
        log.info('relay stopped', stats);
      })();
      return closed;
    },
  };
}
