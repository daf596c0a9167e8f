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
});
