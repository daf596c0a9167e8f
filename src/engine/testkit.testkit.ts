// Test helpers: deterministic devices and replicas over in-memory stores.

import { type DeviceCard, signDeviceCard, signSponsorCard } from './box-proof.ts';
import { fromHex } from './bytes.ts';
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

/** MEM-11: the card a device shows so a member can add it to calendar `doc` (hex id). */
export function cardOf(d: TestDevice, doc: string): Promise<DeviceCard> {
  return signDeviceCard(deviceKeys(d), fromHex(doc));
}

/** ROLE-11: the sponsor card of device d letting `sponsor` alone add it to calendar `doc`. */
export function sponsorCardOf(d: TestDevice, doc: string, sponsor: Uint8Array): Promise<DeviceCard> {
  return signSponsorCard(deviceKeys(d), fromHex(doc), sponsor);
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
  opts: { store?: EngineStore; clock?: Clock; pendingLimit?: number; metaCacheLimit?: number } = {},
): Promise<Replica> {
  const clock = opts.clock ?? manualClock();
  return Replica.open({
    store: opts.store ?? createMemoryStore(),
    crypto: sharedCrypto,
    nowUs: clock.nowUs,
    random: d?.random ?? seededRandom('relay'),
    ...(d === undefined ? {} : { device: deviceKeys(d) }),
    ...(opts.pendingLimit === undefined ? {} : { pendingLimit: opts.pendingLimit }),
    ...(opts.metaCacheLimit === undefined ? {} : { metaCacheLimit: opts.metaCacheLimit }),
  });
}

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import * as ed from '@noble/ed25519';
import { encodeEnvelope, encodeHeader, type Header, WIRE_FORMAT } from './codec.ts';
import { bodyDigest, opDigest } from './hash.ts';
import { bodyAad } from './op.ts';

export interface CraftInput {
  secret: Uint8Array;
  doc: Uint8Array;
  ctr: number;
  kind: number;
  wallTime: number;
  prev?: Uint8Array;
  parents?: Uint8Array[];
  body: Uint8Array;
  /** Encrypt `body` with this key (Patch); the key id is 8 bytes. */
  key?: { id: Uint8Array; key: Uint8Array };
  format?: number;
  /** Sign with this secret instead of the author's (forgery). */
  signWith?: Uint8Array;
  /** Sign the raw header bytes without the domain tag. */
  noDomain?: boolean;
  /** Sort parents (default true). */
  sortParents?: boolean;
  /** Body schema version in the header (default 1). */
  schema?: number;
  /** Use this ciphertext and nonce as they are (with `key.id`), instead of encrypting `body`. */
  cipher?: { body: Uint8Array; nonce: Uint8Array };
}

/** Builds and signs an op with any header values, bypassing createOp's own checks. */
export function craftOp(c: CraftInput): Uint8Array {
  const author = ed.getPublicKey(c.secret);
  const parents = [...(c.parents ?? [])];
  if (c.sortParents !== false) parents.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const nonce = c.cipher?.nonce ?? (c.key === undefined ? new Uint8Array(0) : new Uint8Array(24).fill(3));
  const keyId = c.key === undefined ? new Uint8Array(0) : c.key.id;
  const base = {
    doc: c.doc,
    author,
    ctr: c.ctr,
    kind: c.kind as Header['kind'],
    schema: c.schema ?? 1,
    wallTime: c.wallTime,
    keyId,
  };
  const body =
    c.cipher !== undefined
      ? c.cipher.body
      : c.key === undefined
        ? c.body
        : xchacha20poly1305(c.key.key, nonce, bodyAad(base)).encrypt(c.body);
  const header = encodeHeader({
    ...base,
    format: c.format ?? WIRE_FORMAT,
    prev: c.prev ?? new Uint8Array(0),
    parents,
    nonce,
    bodyHash: bodyDigest(body),
  });
  const msg = c.noDomain ? header : opDigest(header);
  return encodeEnvelope({ header, sig: ed.sign(msg, c.signWith ?? c.secret), body });
}
