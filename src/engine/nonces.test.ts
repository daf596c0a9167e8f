import { describe, expect, it } from 'vitest';
import { noncePool } from './nonces.ts';

describe('nonce pool', () => {
  it('[ENC-1] hands out each 24 bytes of the random source once, refilling a block at a time', () => {
    let calls = 0;
    let counter = 0;
    // A deterministic "random" source: a running 32-bit counter, so any reuse would show.
    const random = (n: number) => {
      calls++;
      const out = new Uint8Array(n);
      const view = new DataView(out.buffer);
      for (let i = 0; i + 4 <= n; i += 4) view.setUint32(i, counter++);
      return out;
    };
    const next = noncePool(random);
    const seen = new Set<string>();
    const drawn: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const n = next();
      expect(n.length).toBe(24);
      seen.add(Array.from(n).join(','));
      drawn.push(n);
    }
    expect(calls).toBe(3); // 128 nonces per block
    expect(seen.size).toBe(300);
    // Nonces are copies: what a caller does to one changes no other, nor what comes next.
    drawn[0]!.fill(9);
    expect(Array.from(drawn[1]!)).not.toEqual(Array.from(drawn[0]!));
  });

  it('[ENC-1] a source that returns fewer bytes than asked is refused, not stretched', () => {
    const next = noncePool((n) => new Uint8Array(n - 1));
    expect(() => next()).toThrow(RangeError);
  });

  it('[ENC-1] nonces of a real random source do not repeat over many blocks', () => {
    const next = noncePool((n) => globalThis.crypto.getRandomValues(new Uint8Array(n)));
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) seen.add(Array.from(next()).join(','));
    expect(seen.size).toBe(5000);
  });
});
