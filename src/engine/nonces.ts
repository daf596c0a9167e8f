// Nonces for own ops, drawn from the host's random source in blocks: one call per 128 nonces
// instead of one per op (each call into WebCrypto's getRandomValues costs microseconds, and an
// op needs only 24 bytes). Every nonce is a fresh slice of fresh random bytes, used once.

const PER_BLOCK = 128;

/** A source of `size`-byte random nonces over `random`, refilled a block at a time. */
export function noncePool(random: (n: number) => Uint8Array, size = 24): () => Uint8Array {
  let block: Uint8Array = new Uint8Array(0);
  let at = 0;
  return () => {
    if (at + size > block.length) {
      block = random(size * PER_BLOCK);
      if (block.length !== size * PER_BLOCK) throw new RangeError('random source returned a short block');
      at = 0;
    }
    const out = block.slice(at, at + size);
    // Handed out once: the pool forgets what it gave.
    block.fill(0, at, at + size);
    at += size;
    return out;
  };
}
