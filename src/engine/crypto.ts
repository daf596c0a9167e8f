// Signature providers, injected by the host. Ed25519 verification bounds remote apply speed:
// native WebCrypto verifies ~5,000/s awaited one at a time and ~12,600/s with requests in
// flight together on this 2-core machine, @noble/ed25519 ~610/s (measured, Node 20,
// bench/engine.ts). So hosts pass WebCrypto where the platform has Ed25519, @noble otherwise.
//
// Both must give the same verdict on every input, or a hostile member could sign an op that one
// replica applies and another rejects (docs/PROTOCOL.md SIG-3). Ed25519 libraries disagree on
// exactly the edge cases (Chalkias, Garillot, Kondi, Nikolaenko, "Taming the many EdDSAs", 2020):
// small-order A or R, non-canonical encodings, S >= L, cofactored vs cofactorless equations. So
// the encodings are judged here, in our own code, before either provider is asked, and both
// providers then check the same (cofactorless) equation: WebCrypto's implementations (BoringSSL,
// OpenSSL 3, CryptoKit) are cofactorless; @noble's `verify` is cofactored, so it is not used.

import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesEqual, concatBytes, fromHex, toHex } from './bytes.ts';

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

/** Group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const L_LE = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
/**
 * The canonical encodings of the eight points of small order (the torsion subgroup): the
 * identity, (0, -1), (+-sqrt(-1), 0) and the four points of order 8. A key or an R among them
 * lets one signature verify for many messages or keys.
 */
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
].map(fromHex);

/** Whether a 32-byte encoding is one of SMALL_ORDER (compared as bytes: this runs per verify). */
function isSmallOrder(b: Uint8Array): boolean {
  return SMALL_ORDER.some((p) => p[0] === b[0] && bytesEqual(p, b));
}

/** Whether b (little-endian, 32 bytes) is below a (little-endian, 32 bytes). */
function lessThan(b: Uint8Array, a: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) if (b[i] !== a[i]) return b[i]! < a[i]!;
  return false;
}

/**
 * RFC 8032 5.1.3 canonical point encoding, judged on bytes: y < p = 2^255 - 19, and no sign bit
 * on a point whose x is 0 (y = 1 or y = p - 1). Whether y is on the curve at all is left to the
 * provider (both reject a y with no square root).
 */
function isCanonicalPoint(b: Uint8Array): boolean {
  const y30ff = b.subarray(1, 31).every((x) => x === 0xff);
  const top = b[31]! & 0x7f;
  if (top === 0x7f && y30ff && b[0]! >= 0xed) return false; // y >= p
  const sign = (b[31]! & 0x80) !== 0;
  if (!sign) return true;
  const yIsOne = b[0] === 1 && top === 0 && b.subarray(1, 31).every((x) => x === 0);
  const yIsMinusOne = b[0] === 0xec && top === 0x7f && y30ff;
  return !(yIsOne || yIsMinusOne);
}

/**
 * [SIG-3] The encodings a signature must have before any provider is asked: a 32-byte key and a
 * 64-byte signature, A and R canonical and not of small order, S < L (no malleable S + L).
 */
export function isStrictEd25519(publicKey: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const r = signature.subarray(0, 32);
  if (!isCanonicalPoint(publicKey) || !isCanonicalPoint(r)) return false;
  if (isSmallOrder(publicKey) || isSmallOrder(r)) return false;
  return lessThan(signature.subarray(32), L_LE);
}

function littleEndianToBigInt(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

/**
 * RFC 8032 5.1.7 verification without the cofactor: [S]B = R + [k]A exactly, k = SHA-512(R || A
 * || M) mod L, the equation WebCrypto's implementations check. Call after `isStrictEd25519`.
 */
function verifyCofactorless(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
  const rBytes = signature.subarray(0, 32);
  const a = ed.Point.fromBytes(publicKey, false);
  const r = ed.Point.fromBytes(rBytes, false);
  const s = littleEndianToBigInt(signature.subarray(32));
  const k = littleEndianToBigInt(sha512(concatBytes(rBytes, publicKey, message))) % L;
  return ed.Point.BASE.multiply(s, false).equals(r.add(a.multiply(k, false)));
}

export function createNobleCrypto(): CryptoProvider {
  return {
    name: '@noble/ed25519',
    async verify(publicKey, signature, message) {
      try {
        return isStrictEd25519(publicKey, signature) && verifyCofactorless(publicKey, signature, message);
      } catch {
        return false; // y not on the curve
      }
    },
  };
}

const ED25519 = { name: 'Ed25519' } as const;

/**
 * WebCrypto Ed25519. Imported public keys are cached (import costs about a third of a verify),
 * and once imported a key is used without awaiting anything else: per verify, the main thread
 * only checks the encodings and hands the job to WebCrypto.
 */
export function createWebCrypto(subtle: SubtleLike, cacheSize = 4096): CryptoProvider {
  const keys = new Map<string, unknown>();
  const importing = new Map<string, Promise<unknown>>();
  const imported = async (hex: string, pk: Uint8Array): Promise<unknown> => {
    let p = importing.get(hex);
    if (p === undefined) {
      p = subtle.importKey('raw', pk, ED25519, false, ['verify']);
      importing.set(hex, p);
    }
    try {
      const key = await p;
      if (keys.size >= cacheSize) keys.delete(keys.keys().next().value as string);
      keys.set(hex, key);
      return key;
    } finally {
      importing.delete(hex);
    }
  };
  return {
    name: 'WebCrypto Ed25519',
    async verify(publicKey, signature, message) {
      if (!isStrictEd25519(publicKey, signature)) return false;
      try {
        const hex = toHex(publicKey);
        const key = keys.get(hex) ?? (await imported(hex, publicKey));
        return await subtle.verify(ED25519, key, signature, message);
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
    sign: async (m) => new Uint8Array(await subtle.sign(ED25519, privateKey, m)),
  };
}
