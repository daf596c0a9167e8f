// Relay configuration from command-line flags and environment variables (flags win). Every
// value is validated at start: a typo in a deployment fails loudly instead of running with
// a default nobody chose.

import { resolve } from 'node:path';

export interface RelayConfig {
  /** TCP port for HTTP and the WebSocket endpoint /sync. */
  port: number;
  /** Interface to bind. */
  host: string;
  /** Directory holding relay.db (created if absent). */
  dataDir: string;
  /** Directory of the built app (vite build), served at /. Absent: only /health and /sync. */
  staticDir: string;
  /** How far (ms) an op's wall_time may run ahead of the relay's clock before it is held (RELAY-7). */
  maxSkewMs: number;
  /** Largest WebSocket message accepted, bytes (RELAY-3). */
  maxFrameBytes: number;
  /** Largest single op accepted, bytes (RELAY-3; never above the engine's own limit). */
  maxOpBytes: number;
  /** Sustained ops per second per device (token bucket refill), and the bucket size (RELAY-4). */
  rateOpsPerSec: number;
  rateBurst: number;
  /** Held future-dated ops per device before HeldFull (RELAY-7). */
  maxHeldPerDevice: number;
  /** Seconds a client has to authenticate after connecting. */
  authTimeoutMs: number;
  /** Log level: debug < info < warn < error. */
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** 'barrier': one fsync per batch, before acks and forwards; 'full': fsync per commit (RELAY-5). */
  durability: 'barrier' | 'full';
  /**
   * PostgreSQL URL (postgres://… or postgresql://…): several relays share this database (see
   * README "Running several relays"). Empty: the embedded SQLite file in dataDir.
   */
  database: string;
  /** With a database: how often (ms) a relay polls every calendar's head, the fan-out's fallback. */
  pgPollMs: number;
  /** RELAY-31: quiet time (ms) after an endorsement or new ops before a calendar is looked at for pruning. */
  pruneDebounceMs: number;
  /** With a database: pooled connections per relay. */
  pgPoolSize: number;
  /**
   * Origins (or host[:port]) devices reach this relay at; Auth is verified against these, never
   * against the request's Host header (RELAY-17). Empty: localhost, 127.0.0.1 and [::1] at the
   * listening port (what `npm start` serves).
   */
  publicOrigins: string[];
  // Budgets (RELAY-20): per unauthenticated socket, per connection, per device/author, per relay.
  /** Largest frame an unauthenticated socket may send (its Auth). */
  preAuthMaxBytes: number;
  /** Unauthenticated sockets open at once; more are closed at connect. */
  maxUnauthSockets: number;
  /** Authenticated connections per device; a new one closes the oldest beyond this. */
  maxConnsPerDevice: number;
  /** Bytes a connection may have queued (frames received and not yet handled, plus unread output). */
  maxQueuedBytes: number;
  /** Sustained op bytes per second per device (token bucket refill), and the bucket size. */
  rateBytesPerSec: number;
  rateBytesBurst: number;
  /**
   * Frame budget per device, in tokens: a frame costs 1 + one per 4 KiB, charged before it is
   * decoded; and one budget shared by all devices that are members of no calendar here.
   */
  rateFramesPerSec: number;
  rateFramesBurst: number;
  rateStrangerFramesPerSec: number;
  rateStrangerFramesBurst: number;
  /** New calendars (genesis ops) per minute for the whole relay, and the burst. */
  rateCalendarsPerMin: number;
  rateCalendarsBurst: number;
  /** Ops waiting for predecessors, per author: count and bytes (RELAY-13). */
  maxPendingPerAuthor: number;
  maxPendingBytesPerAuthor: number;
  /** Held future-dated bytes per author, held ops in all, and the furthest future held (RELAY-12). */
  maxHeldBytesPerAuthor: number;
  maxHeldTotal: number;
  maxHoldAheadMs: number;
  /** Op ids a connection may have asked for (Want) and not yet been sent (RELAY-14). */
  maxWantIds: number;
}

export const DEFAULTS: RelayConfig = {
  port: 8787,
  host: '0.0.0.0',
  dataDir: './data',
  staticDir: './dist',
  maxSkewMs: 5 * 60_000,
  maxFrameBytes: 1024 * 1024,
  maxOpBytes: 64 * 1024,
  rateOpsPerSec: 200,
  rateBurst: 2000,
  maxHeldPerDevice: 1000,
  authTimeoutMs: 10_000,
  logLevel: 'info',
  durability: 'barrier',
  database: '',
  pgPollMs: 1000,
  pruneDebounceMs: 2000,
  pgPoolSize: 10,
  publicOrigins: [],
  preAuthMaxBytes: 1024,
  maxUnauthSockets: 256,
  maxConnsPerDevice: 4,
  maxQueuedBytes: 16 * 1024 * 1024,
  rateBytesPerSec: 64 * 1024,
  rateBytesBurst: 1024 * 1024,
  rateFramesPerSec: 200,
  rateFramesBurst: 1000,
  rateStrangerFramesPerSec: 100,
  rateStrangerFramesBurst: 500,
  rateCalendarsPerMin: 20,
  rateCalendarsBurst: 50,
  maxPendingPerAuthor: 500,
  maxPendingBytesPerAuthor: 2 * 1024 * 1024,
  maxHeldBytesPerAuthor: 2 * 1024 * 1024,
  maxHeldTotal: 20_000,
  maxHoldAheadMs: 24 * 3600_000,
  maxWantIds: 4096,
};

interface Option {
  key: keyof RelayConfig;
  flag: string;
  env: string;
  kind: 'int' | 'string' | 'level' | 'durability' | 'list' | 'database';
  min?: number;
  max?: number;
  help: string;
}

export const OPTIONS: readonly Option[] = [
  {
    key: 'port',
    flag: '--port',
    env: 'PORT',
    kind: 'int',
    min: 0,
    max: 65535,
    help: 'TCP port (HTTP + WebSocket /sync)',
  },
  { key: 'host', flag: '--host', env: 'HOST', kind: 'string', help: 'interface to bind' },
  {
    key: 'dataDir',
    flag: '--data',
    env: 'DATA_DIR',
    kind: 'string',
    help: 'data directory (SQLite database relay.db)',
  },
  { key: 'staticDir', flag: '--static', env: 'STATIC_DIR', kind: 'string', help: 'built app to serve at /' },
  {
    key: 'maxSkewMs',
    flag: '--max-skew-ms',
    env: 'MAX_SKEW_MS',
    kind: 'int',
    min: 0,
    help: 'allowed clock skew before ops are held',
  },
  {
    key: 'maxFrameBytes',
    flag: '--max-frame-bytes',
    env: 'MAX_FRAME_BYTES',
    kind: 'int',
    min: 1024,
    max: 16 * 1024 * 1024,
    help: 'largest WebSocket message',
  },
  {
    key: 'maxOpBytes',
    flag: '--max-op-bytes',
    env: 'MAX_OP_BYTES',
    kind: 'int',
    min: 256,
    max: 64 * 1024,
    help: 'largest single op',
  },
  {
    key: 'rateOpsPerSec',
    flag: '--rate-ops-per-sec',
    env: 'RATE_OPS_PER_SEC',
    kind: 'int',
    min: 1,
    help: 'sustained ops/s per device',
  },
  {
    key: 'rateBurst',
    flag: '--rate-burst',
    env: 'RATE_BURST',
    kind: 'int',
    min: 1,
    help: 'burst of ops per device',
  },
  {
    key: 'maxHeldPerDevice',
    flag: '--max-held',
    env: 'MAX_HELD_PER_DEVICE',
    kind: 'int',
    min: 0,
    help: 'future-dated ops held per device',
  },
  {
    key: 'authTimeoutMs',
    flag: '--auth-timeout-ms',
    env: 'AUTH_TIMEOUT_MS',
    kind: 'int',
    min: 100,
    help: 'time to authenticate',
  },
  {
    key: 'logLevel',
    flag: '--log-level',
    env: 'LOG_LEVEL',
    kind: 'level',
    help: 'debug | info | warn | error',
  },
  {
    key: 'durability',
    flag: '--durability',
    env: 'DURABILITY',
    kind: 'durability',
    help: 'barrier (fsync per batch, before acks) | full (fsync per commit)',
  },
  {
    key: 'pruneDebounceMs',
    flag: '--prune-debounce-ms',
    env: 'PRUNE_DEBOUNCE_MS',
    kind: 'int',
    min: 10,
    max: 3_600_000,
    help: 'quiet time before a calendar is looked at for pruning (RELAY-31), ms',
  },
  {
    key: 'database',
    flag: '--database',
    env: 'DATABASE_URL',
    kind: 'database',
    help: 'postgres://… to share one PostgreSQL database between relays (empty: SQLite in --data)',
  },
  {
    key: 'pgPollMs',
    flag: '--pg-poll-ms',
    env: 'PG_POLL_MS',
    kind: 'int',
    min: 50,
    max: 60_000,
    help: 'with --database: poll period of the fan-out fallback, ms',
  },
  {
    key: 'pgPoolSize',
    flag: '--pg-pool-size',
    env: 'PG_POOL_SIZE',
    kind: 'int',
    min: 1,
    max: 200,
    help: 'with --database: pooled connections per relay',
  },
  {
    key: 'publicOrigins',
    flag: '--public-origin',
    env: 'PUBLIC_ORIGIN',
    kind: 'list',
    help: 'comma-separated origins devices use (Auth is bound to these)',
  },
  ...budget('preAuthMaxBytes', '--preauth-max-bytes', 'PREAUTH_MAX_BYTES', 'largest frame before auth', 256),
  ...budget('maxUnauthSockets', '--max-unauth-sockets', 'MAX_UNAUTH_SOCKETS', 'unauthenticated sockets', 1),
  ...budget(
    'maxConnsPerDevice',
    '--max-conns-per-device',
    'MAX_CONNS_PER_DEVICE',
    'connections per device',
    1,
  ),
  ...budget('maxQueuedBytes', '--max-queued-bytes', 'MAX_QUEUED_BYTES', 'queued bytes per connection', 65536),
  ...budget(
    'rateBytesPerSec',
    '--rate-bytes-per-sec',
    'RATE_BYTES_PER_SEC',
    'sustained op bytes/s per device',
    1,
  ),
  ...budget(
    'rateBytesBurst',
    '--rate-bytes-burst',
    'RATE_BYTES_BURST',
    'burst of op bytes per device',
    65536,
  ),
  ...budget(
    'rateCalendarsPerMin',
    '--rate-calendars-per-min',
    'RATE_CALENDARS_PER_MIN',
    'new calendars/min (relay)',
    1,
  ),
  ...budget(
    'rateCalendarsBurst',
    '--rate-calendars-burst',
    'RATE_CALENDARS_BURST',
    'burst of new calendars',
    1,
  ),
  ...budget(
    'maxPendingPerAuthor',
    '--max-pending',
    'MAX_PENDING_PER_AUTHOR',
    'ops waiting for parents per author',
    0,
  ),
  ...budget(
    'maxPendingBytesPerAuthor',
    '--max-pending-bytes',
    'MAX_PENDING_BYTES_PER_AUTHOR',
    'their bytes per author',
    0,
  ),
  ...budget(
    'maxHeldBytesPerAuthor',
    '--max-held-bytes',
    'MAX_HELD_BYTES_PER_AUTHOR',
    'held bytes per author',
    0,
  ),
  ...budget('maxHeldTotal', '--max-held-total', 'MAX_HELD_TOTAL', 'held ops in all', 0),
  ...budget(
    'maxHoldAheadMs',
    '--max-hold-ahead-ms',
    'MAX_HOLD_AHEAD_MS',
    'furthest future an op may be held for',
    0,
  ),
  ...budget(
    'maxWantIds',
    '--max-want-ids',
    'MAX_WANT_IDS',
    'ids asked for and not yet sent, per connection',
    1,
  ),
];

function budget(key: keyof RelayConfig, flag: string, env: string, help: string, min: number): Option[] {
  return [{ key, flag, env, kind: 'int', min, help }];
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function parseValue(o: Option, raw: string, source: string): RelayConfig[keyof RelayConfig] {
  if (o.kind === 'list' && raw === '') return [];
  if (o.kind === 'database' && raw === '') return '';
  if (o.kind === 'string') {
    if (raw === '') throw new ConfigError(`${source}: empty value`);
    return raw;
  }
  if (o.kind === 'list') {
    return raw
      .split(',')
      .map((x) => x.trim())
      .filter((x) => x !== '');
  }
  if (o.kind === 'database') {
    if (raw === '') return '';
    if (!/^postgres(ql)?:\/\//.test(raw))
      throw new ConfigError(`${source}: expected a postgres:// or postgresql:// URL`);
    return raw;
  }
  if (o.kind === 'durability') {
    if (raw !== 'barrier' && raw !== 'full')
      throw new ConfigError(`${source}: expected barrier or full, got "${raw}"`);
    return raw;
  }
  if (o.kind === 'level') {
    if (raw !== 'debug' && raw !== 'info' && raw !== 'warn' && raw !== 'error') {
      throw new ConfigError(`${source}: expected debug, info, warn or error, got "${raw}"`);
    }
    return raw;
  }
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${source}: expected a non-negative integer, got "${raw}"`);
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || (o.min !== undefined && n < o.min) || (o.max !== undefined && n > o.max)) {
    throw new ConfigError(`${source}: ${raw} is out of range [${o.min ?? 0}, ${o.max ?? 'inf'}]`);
  }
  return n;
}

export function usage(): string {
  const lines = OPTIONS.map(
    (o) =>
      `  ${`${o.flag} <v>`.padEnd(26)} ${o.env.padEnd(20)} ${o.help} (default ${String(DEFAULTS[o.key])})`,
  );
  return `usage: tsx src/server/main.ts [options]\n  flag                       env\n${lines.join('\n')}`;
}

/** Flags (`--port 80` or `--port=80`) override environment variables, which override defaults. */
export function loadConfig(argv: readonly string[], env: Record<string, string | undefined>): RelayConfig {
  const cfg: Record<string, unknown> = { ...DEFAULTS };
  for (const o of OPTIONS) {
    const v = env[o.env];
    if (v !== undefined && v !== '') cfg[o.key] = parseValue(o, v, o.env);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(0, eq) : arg;
    const o = OPTIONS.find((x) => x.flag === name);
    if (o === undefined) throw new ConfigError(`unknown option ${name}\n${usage()}`);
    let raw: string | undefined;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else raw = argv[++i];
    if (raw === undefined) throw new ConfigError(`${name} needs a value`);
    cfg[o.key] = parseValue(o, raw, name);
  }
  const out = cfg as unknown as RelayConfig;
  out.dataDir = resolve(out.dataDir);
  out.staticDir = resolve(out.staticDir);
  if (out.maxOpBytes + 64 > out.maxFrameBytes)
    throw new ConfigError('max-frame-bytes must exceed max-op-bytes');
  out.publicOrigins = out.publicOrigins.map((o) => hostOfOrigin(o, '--public-origin'));
  return out;
}

/**
 * The host[:port] a device signs for an origin (SYNC-2): `https://cal.example.com` →
 * `cal.example.com`, `http://localhost:8787` → `localhost:8787`; a bare host[:port] as given.
 */
export function hostOfOrigin(origin: string, source = 'origin'): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(origin) ? origin : `http://${origin}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new ConfigError(`${source}: not an origin or host: "${origin}"`);
  }
  if (u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '')
    throw new ConfigError(`${source}: an origin has no path, query or credentials: "${origin}"`);
  // ws/wss: URL does not know their default ports; http(s) ones are dropped by URL itself.
  let host = u.host.toLowerCase();
  if ((u.protocol === 'ws:' && host.endsWith(':80')) || (u.protocol === 'wss:' && host.endsWith(':443')))
    host = host.slice(0, host.lastIndexOf(':'));
  return host;
}
