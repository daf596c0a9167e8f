// Signature providers, injected by the host. Ed25519 verification bounds remote apply speed:
// native WebCrypto verifies ~5,000/s awaited one at a time and ~12,600/s with requests in
// flight together on this 2-core machine, @noble/ed25519 ~610/s (measured, Node 20,
// bench/engine.ts). So hosts pass WebCrypto where the platform has Ed25519, @noble otherwise.

import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { toHex } from './bytes.ts';

ed.hashes.sha512 = sha512;

export interface CryptoProvider {
  /** Which implementation runs: reported by benchmarks and diagnostics. */
  readonly name: string;
  verify(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): Promise<boolean>;
}

export interface Signer {
  /** 32-byte Ed25519 public key: the device id. */
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** The subset of WebCrypto's SubtleCrypto the engine uses (present in browsers, workers and Node). */
export interface SubtleLike {
  importKey(
    format: 'raw',
    keyData: Uint8Array,
    algorithm: { name: 'Ed25519' },
    extractable: boolean,
    usages: ('verify' | 'sign')[],
  ): Promise<unknown>;
  verify(
    algorithm: { name: 'Ed25519' },
    key: unknown,
    signature: Uint8Array,
    data: Uint8Array,
  ): Promise<boolean>;
  sign(algorithm: { name: 'Ed25519' }, key: unknown, data: Uint8Array): Promise<ArrayBuffer>;
}

export function createNobleCrypto(): CryptoProvider {
  return {
    name: '@noble/ed25519',
    async verify(publicKey, signature, message) {
      try {
        // Strict RFC 8032 encodings (zip215: false): non-canonical points and S >= L are rejected.
        return ed.verify(signature, message, publicKey, { zip215: false });
      } catch {
        return false;
      }
    },
  };
}

/** WebCrypto Ed25519. Imported public keys are cached (import costs about a third of a verify). */
export function createWebCrypto(subtle: SubtleLike, cacheSize = 4096): CryptoProvider {
  const keys = new Map<string, Promise<unknown>>();
  const keyFor = (pk: Uint8Array): Promise<unknown> => {
    const hex = toHex(pk);
    let k = keys.get(hex);
    if (k === undefined) {
      if (keys.size >= cacheSize) keys.delete(keys.keys().next().value as string);
      k = subtle.importKey('raw', pk, { name: 'Ed25519' }, false, ['verify']);
      keys.set(hex, k);
    }
    return k;
  };
  return {
    name: 'WebCrypto Ed25519',
    async verify(publicKey, signature, message) {
      try {
        return await subtle.verify({ name: 'Ed25519' }, await keyFor(publicKey), signature, message);
      } catch {
        return false;
      }
    },
  };
}

/** Probes whether this platform's WebCrypto has Ed25519, and returns the best provider. */
export async function createBestCrypto(subtle: SubtleLike | undefined): Promise<CryptoProvider> {
  if (subtle !== undefined) {
    try {
      // Any fixed key will do for a capability probe (and the engine draws no randomness itself).
      const sk = new Uint8Array(32).fill(7);
      const pk = ed.getPublicKey(sk);
      const msg = new Uint8Array([1, 2, 3]);
      const web = createWebCrypto(subtle);
      if (await web.verify(pk, ed.sign(msg, sk), msg)) return web;
    } catch {
      // fall through to @noble
    }
  }
  return createNobleCrypto();
}

/** A signer over a 32-byte Ed25519 secret key (@noble). */
export function createNobleSigner(secretKey: Uint8Array): Signer {
  const publicKey = ed.getPublicKey(secretKey);
  return { publicKey, sign: async (m) => ed.sign(m, secretKey) };
}

/** A signer over a WebCrypto private key (may be non-extractable). */
export function createWebCryptoSigner(
  subtle: SubtleLike,
  privateKey: unknown,
  publicKey: Uint8Array,
): Signer {
  return {
    publicKey,
    sign: async (m) => new Uint8Array(await subtle.sign({ name: 'Ed25519' }, privateKey, m)),
  };
}
