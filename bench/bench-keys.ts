// What the engine benches share: Web Crypto in Node, the clock, randomness, a device's keys, a
// replica over a memory store and the median of timed passes.

import {
  boxKeyPairFromSecret,
  createBestCrypto,
  createMemoryStore,
  createWebCryptoSigner,
  type DeviceKeys,
  Replica,
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

/** A replica of `device` over a fresh memory store. */
export const openMemory = async (device: DeviceKeys) =>
  Replica.open({ store: createMemoryStore(), crypto: await createBestCrypto(subtle), nowUs, random, device });

/** The median wall-clock ms of `passes` runs of `f`. */
export async function median(passes: number, f: () => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < passes; i++) {
    const t = performance.now();
    await f();
    ms.push(performance.now() - t);
  }
  return Math.round(ms.sort((x, y) => x - y)[Math.floor(passes / 2)]!);
}
