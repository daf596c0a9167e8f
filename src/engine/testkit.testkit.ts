// Test helpers: deterministic devices and replicas over in-memory stores.

import { createNobleCrypto, createNobleSigner } from './crypto.ts';
import { sha256 } from './hash.ts';
import { createMemoryStore } from './memory-store.ts';
import { Replica } from './replica.ts';
import { boxKeyPairFromSecret } from './seal.ts';
import type { EngineStore } from './store.ts';

/** Deterministic pseudo-randomness (SHA-256 counter mode) so failures reproduce. */
export function seededRandom(seed: string): (n: number) => Uint8Array {
  let ctr = 0;
  const enc = new TextEncoder();
  return (n) => {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const block = sha256(enc.encode(`${seed}/${ctr++}`));
      out.set(block.subarray(0, Math.min(32, n - o)), o);
      o += 32;
    }
    return out;
  };
}

export interface TestDevice {
  name: string;
  random: (n: number) => Uint8Array;
  secret: Uint8Array;
  boxSecret: Uint8Array;
}

export function testDevice(name: string): TestDevice {
  const random = seededRandom(name);
  return { name, random, secret: random(32), boxSecret: random(32) };
}

export function deviceKeys(d: TestDevice) {
  return { signer: createNobleSigner(d.secret), box: boxKeyPairFromSecret(d.boxSecret) };
}

export interface Clock {
  nowUs: () => number;
  set(us: number): void;
  advance(us: number): void;
}

export function manualClock(start = 1_700_000_000_000_000): Clock {
  let t = start;
  return { nowUs: () => t, set: (us) => (t = us), advance: (us) => (t += us) };
}

const sharedCrypto = createNobleCrypto();

export async function openReplica(
  d: TestDevice | undefined,
  opts: { store?: EngineStore; clock?: Clock; pendingLimit?: number } = {},
): Promise<Replica> {
  const clock = opts.clock ?? manualClock();
  return Replica.open({
    store: opts.store ?? createMemoryStore(),
    crypto: sharedCrypto,
    nowUs: clock.nowUs,
    random: d?.random ?? seededRandom('relay'),
    ...(d === undefined ? {} : { device: deviceKeys(d) }),
    ...(opts.pendingLimit === undefined ? {} : { pendingLimit: opts.pendingLimit }),
  });
}
