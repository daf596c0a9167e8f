// A short attack soak in CI (the 60 s, 200-socket run is `npm run soak`, reported by `npm run
// bench`): the relay stays bounded and responsive, honest edits flow, and a restart keeps
// nothing a stranger sent (RELAY-20, RELAY-13, RELAY-18).

import { describe, expect, it } from 'vitest';
import { runSoak } from './soak.testkit.ts';

describe('attack soak (short)', () => {
  it('[RELAY-20][RELAY-13] under hostile sockets the relay stays bounded, honest edits flow, and a restart keeps no hostile state', async () => {
    const f = await runSoak({ durationMs: 4000, hostile: 24 });
    expect(f['relay_alive']).toBe(1);
    expect(f['relay_rss_max_mb']).toBeLessThan(400);
    expect(f['db_growth_mb']).toBeLessThan(50);
    expect(f['honest_edits']).toBeGreaterThan(10);
    expect(f['honest_edits_lost']).toBe(0);
    expect(f['hostile_state_after_restart']).toBe(0);
    expect(f['member_pending_after_restart']).toBeLessThanOrEqual(500);
  }, 120_000);
});
