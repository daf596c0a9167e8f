// What the engine benches share: Web Crypto in Node, the clock, randomness and a device's keys.

import {
  boxKeyPairFromSecret,
  createWebCryptoSigner,
  type DeviceKeys,
  type SubtleLike,
} from '../src/engine/index.ts';

export const subtle = globalThis.crypto.subtle as unknown as SubtleLike;
export const random = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));
export const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

/** A fresh device: an Ed25519 signer through Web Crypto and an X25519 box key. */
export async function deviceKeys(): Promise<DeviceKeys> {
  const kp = (await globalThis.crypto.subtle.generateKey({ name: 'Ed25519' }, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const pub = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', kp.publicKey));
  return { signer: createWebCryptoSigner(subtle, kp.privateKey, pub), box: boxKeyPairFromSecret(random(32)) };
}
