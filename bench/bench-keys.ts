// What the engine benches share: Web Crypto in Node, the clock, randomness, a device's keys, a
// replica over a memory store, a calendar of three members with its events, and the median of
// timed passes.

import {
  boxKeyPairFromSecret,
  createBestCrypto,
  createMemoryStore,
  createWebCryptoSigner,
  type DeviceKeys,
  type EntityId,
  EventField,
  fromHex,
  Replica,
  type SubtleLike,
  signDeviceCard,
  utf8,
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

/**
 * Members a (owner, replica `a`), b (replica `b`) and c (keys `kc` only) of a new calendar in
 * which a wrote `events` events, a title each, in batches of 1,000 (b holds none of them yet).
 */
export async function threeMembers(events: number) {
  const [ka, kb, kc] = [await deviceKeys(), await deviceKeys(), await deviceKeys()];
  const a = await openMemory(ka);
  const b = await openMemory(kb);
  const g = await a.createCalendar({ name: 'Bench' });
  await a.addMember(g.doc, await signDeviceCard(kb, fromHex(g.doc)));
  await a.addMember(g.doc, await signDeviceCard(kc, fromHex(g.doc)));
  const ids = Array.from({ length: events }, () => Buffer.from(random(16)).toString('hex') as EntityId);
  for (let i = 0; i < ids.length; i += 1000)
    await a.writeBatch(
      g.doc,
      ids.slice(i, i + 1000).map((entity) => ({
        entity,
        writes: [{ field: EventField.Title, value: utf8(`event ${entity.slice(0, 6)}`) }],
      })),
    );
  return { a, b, kc, doc: g.doc, ids };
}

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
