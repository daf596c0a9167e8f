// Sealed boxes: a content key encrypted for one device's X25519 key (docs/PROTOCOL.md KEY-2).
// sealed = ephemeral X25519 public key (32) || nonce (24) || XChaCha20-Poly1305 ciphertext,
// key = HKDF-SHA256(X25519(ephemeral, recipient), salt = eph || recipient, info = TAG_SEAL).

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from './bytes.ts';

const TAG_SEAL = utf8('ledgerday/seal/v1\0');

export interface BoxKeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export function boxKeyPairFromSecret(secretKey: Uint8Array): BoxKeyPair {
  return { secretKey, publicKey: x25519.getPublicKey(secretKey) };
}

function sealKey(shared: Uint8Array, eph: Uint8Array, recipient: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concatBytes(eph, recipient), TAG_SEAL, 32);
}

export function seal(
  recipient: Uint8Array,
  plaintext: Uint8Array,
  random: (n: number) => Uint8Array,
): Uint8Array {
  const ephSecret = random(32);
  const eph = x25519.getPublicKey(ephSecret);
  const key = sealKey(x25519.getSharedSecret(ephSecret, recipient), eph, recipient);
  const nonce = random(24);
  return concatBytes(eph, nonce, xchacha20poly1305(key, nonce, recipient).encrypt(plaintext));
}

/** Opens a sealed box for `me`; null when it is not for this key or was altered. */
export function openSealed(me: BoxKeyPair, sealed: Uint8Array): Uint8Array | null {
  if (sealed.length < 32 + 24 + 16) return null;
  try {
    const eph = sealed.subarray(0, 32);
    const nonce = sealed.subarray(32, 56);
    const key = sealKey(x25519.getSharedSecret(me.secretKey, eph), eph, me.publicKey);
    return xchacha20poly1305(key, nonce, me.publicKey).decrypt(sealed.subarray(56));
  } catch {
    return null;
  }
}
