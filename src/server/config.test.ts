// Relay configuration: defaults, environment, flags (flags win), and loud failures on bad values.

import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfig } from './config.ts';

describe('relay config', () => {
  it('[RELAY-1] defaults: port 8787, ./data, 5 minutes of skew', () => {
    const c = loadConfig([], {});
    expect(c.port).toBe(8787);
    expect(c.dataDir.endsWith('/data')).toBe(true);
    expect(c.maxSkewMs).toBe(300_000);
    expect(c.durability).toBe(DEFAULTS.durability);
  });

  it('[RELAY-1] environment variables apply and flags override them', () => {
    const c = loadConfig(['--port', '9000', '--max-skew-ms=1000'], {
      PORT: '7000',
      DATA_DIR: '/tmp/x',
      MAX_SKEW_MS: '5',
    });
    expect(c.port).toBe(9000);
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.maxSkewMs).toBe(1000);
  });

  it('[RELAY-21] SQLite unless a PostgreSQL URL is given by --database or DATABASE_URL (flag wins); anything else is refused', () => {
    expect(loadConfig([], {}).database).toBe('');
    expect(loadConfig([], { DATABASE_URL: 'postgres://u@db/x' }).database).toBe('postgres://u@db/x');
    expect(
      loadConfig(['--database', 'postgresql://u@other/y'], { DATABASE_URL: 'postgres://u@db/x' }).database,
    ).toBe('postgresql://u@other/y');
    expect(() => loadConfig(['--database', 'mysql://u@db/x'], {})).toThrow(ConfigError);
    expect(() => loadConfig([], { DATABASE_URL: '/var/lib/relay.db' })).toThrow(ConfigError);
    expect(() => loadConfig(['--pg-poll-ms', '0'], {})).toThrow(ConfigError);
  });

  it('[RELAY-1] rejects unknown flags, bad numbers and inconsistent limits', () => {
    expect(() => loadConfig(['--prot', '1'], {})).toThrow(ConfigError);
    expect(() => loadConfig([], { PORT: '80a' })).toThrow(ConfigError);
    expect(() => loadConfig(['--port', '70000'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--log-level', 'loud'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--max-frame-bytes', '2048', '--max-op-bytes', '4096'], {})).toThrow(
      ConfigError,
    );
    expect(() => loadConfig(['--port'], {})).toThrow(/needs a value/);
  });

  it('[RELAY-15] --durability full and DURABILITY=full are accepted; anything else is refused', () => {
    expect(loadConfig(['--durability', 'full'], {}).durability).toBe('full');
    expect(loadConfig([], { DURABILITY: 'full' }).durability).toBe('full');
    expect(loadConfig(['--durability=barrier'], { DURABILITY: 'full' }).durability).toBe('barrier');
    expect(() => loadConfig(['--durability', 'fast'], {})).toThrow(ConfigError);
  });

  it('[RELAY-17] public origins: URLs or host[:port], default ports dropped, paths refused', () => {
    const c = loadConfig(
      ['--public-origin', 'https://Cal.Example.com, http://localhost:8787,wss://x.org:443'],
      {},
    );
    expect(c.publicOrigins).toEqual(['cal.example.com', 'localhost:8787', 'x.org']);
    expect(loadConfig([], { PUBLIC_ORIGIN: 'relay.lan:9000' }).publicOrigins).toEqual(['relay.lan:9000']);
    expect(loadConfig([], {}).publicOrigins).toEqual([]);
    expect(() => loadConfig(['--public-origin', 'https://a.b/path'], {})).toThrow(ConfigError);
  });

  it('[RELAY-20] every budget has a flag, an environment variable and a default', () => {
    const c = loadConfig(['--max-pending', '7', '--max-unauth-sockets=9'], { RATE_BYTES_PER_SEC: '1000' });
    expect(c.maxPendingPerAuthor).toBe(7);
    expect(c.maxUnauthSockets).toBe(9);
    expect(c.rateBytesPerSec).toBe(1000);
    for (const k of [
      'preAuthMaxBytes',
      'maxUnauthSockets',
      'maxConnsPerDevice',
      'maxQueuedBytes',
      'rateBytesPerSec',
      'rateBytesBurst',
      'rateCalendarsPerMin',
      'rateCalendarsBurst',
      'maxPendingPerAuthor',
      'maxPendingBytesPerAuthor',
      'maxHeldBytesPerAuthor',
      'maxHeldTotal',
      'maxHoldAheadMs',
      'maxWantIds',
    ] as const) {
      expect(typeof DEFAULTS[k]).toBe('number');
    }
  });
});
