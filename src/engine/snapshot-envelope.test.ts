// The snapshot envelope's bytes (docs/PROTOCOL.md SNAP-9): signed manifests and endorsements,
// ciphertext chunks, and bounded decoding of anything else. Replica flows are in
// snapshot-sealed.test.ts, certification (SNAP-10) in certify.test.ts.

import { Builder } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { createNobleCrypto, createNobleSigner } from './crypto.ts';
import { EngineError } from './errors.ts';
import { taggedHash } from './hash.ts';
import type { DeviceId, DocId, KeyId, OpId } from './ids.ts';
import { MAX_SNAPSHOT_BYTES } from './snapshot-codec.ts';
import {
  CHUNK_PLAIN_BYTES,
  checkChunks,
  type Endorsement,
  encodeManifest,
  MAX_CHUNK_BYTES,
  MAX_CHUNKS,
  MAX_FRONTIER,
  MAX_STATEMENT_BYTES,
  type Manifest,
  openEndorsement,
  openManifest,
  signEndorsement,
  signManifest,
  TAG_ENDORSEMENT,
  TAG_MANIFEST,
} from './snapshot-envelope.ts';
import { openChunks, sealChunks } from './snapshot-seal.ts';
import { snapshotHash } from './snapshot-verify.ts';
import { seededRandom } from './testkit.testkit.ts';

const crypto = createNobleCrypto();
const random = seededRandom('envelope-codec');
const signer = createNobleSigner(random(32));
const other = createNobleSigner(random(32));
const me = toHex(signer.publicKey) as DeviceId;
const DOC = 'd0'.repeat(16) as DocId;
const KEY = random(32);
const id = (n: number) => n.toString(16).padStart(64, '0') as OpId;

function plaintext(size: number): Uint8Array {
  const p = new Uint8Array(size);
  for (let i = 0; i < size; i++) p[i] = (i * 31 + 7) & 0xff;
  return p;
}

/** A manifest and chunks for a plaintext of `size` bytes, sealed under KEY. */
async function sealed(size = 1000, over: Partial<Manifest> = {}) {
  const plain = plaintext(size);
  const ctx = {
    doc: DOC,
    signer: me,
    wallTime: 1_700_000_000_000_000,
    keyId: 'ab'.repeat(8) as KeyId,
    nonce: random(24),
    snapshot: snapshotHash(plain),
    size,
  };
  const { chunks, hashes } = sealChunks(ctx, plain, KEY);
  const m: Manifest = {
    ...ctx,
    frontier: [id(1), id(2)],
    previous: new Uint8Array(0),
    chunks: hashes,
    ...over,
  };
  return { plain, m, chunks, bytes: await signManifest(signer, m) };
}

const endorsement = (over: Partial<Endorsement> = {}): Endorsement => ({
  doc: DOC,
  manifest: 'ee'.repeat(32),
  endorser: me,
  ctr: 3,
  last: id(9),
  frontier: [id(1), id(2)],
  ...over,
});

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
    return 'ok';
  } catch (e) {
    if (!(e instanceof EngineError)) throw e;
    return e.code;
  }
}

/** A SignedStatement around any body, signed over `tag`. */
async function statement(body: Uint8Array, tag: Uint8Array, by = signer): Promise<Uint8Array> {
  const sig = await by.sign(taggedHash(tag, body));
  const b = new Builder(body.length + 128);
  const bo = b.createByteVector(body);
  const so = b.createByteVector(sig);
  b.startObject(2);
  b.addFieldOffset(0, bo, 0);
  b.addFieldOffset(1, so, 0);
  b.finish(b.endObject());
  return b.asUint8Array().slice();
}

describe('snapshot envelope bytes', () => {
  it('[SNAP-9] a manifest opens with its signature checked, needing no key; chunks check against it', async () => {
    const { m, chunks, bytes, plain } = await sealed(2 * CHUNK_PLAIN_BYTES + 5);
    const o = await openManifest(crypto, bytes);
    expect(o).toMatchObject({ doc: DOC, signer: me, frontier: m.frontier, size: m.size, keyId: m.keyId });
    expect(o.hash).toBe(toHex(taggedHash(TAG_MANIFEST, encodeManifest(m))));
    expect(chunks.map((c) => c.length)).toEqual([MAX_CHUNK_BYTES, MAX_CHUNK_BYTES, 5 + 16]);
    expect(() => checkChunks(o, chunks)).not.toThrow();
    expect(openChunks(o, chunks, KEY)).toEqual(plain);
    // Re-opening the canonical bytes gives the same manifest.
    expect((await openManifest(crypto, o.bytes)).hash).toBe(o.hash);
  });

  it('[SNAP-9] a tampered manifest is BadSignature; a manifest signed by another key is too', async () => {
    const { bytes, m } = await sealed();
    for (const at of [bytes.length - 70, 40, bytes.length - 1]) {
      const t = bytes.slice();
      t[at]! ^= 1;
      expect(['BadSignature', 'Malformed']).toContain(await codeOf(openManifest(crypto, t)));
    }
    // The body says `me`, the signature is by another device.
    const forged = await statement(encodeManifest(m), TAG_MANIFEST, other);
    expect(await codeOf(openManifest(crypto, forged))).toBe('BadSignature');
  });

  it('[SNAP-9] one domain tag per kind: a signature over a manifest body does not pass as an endorsement, nor as an op', async () => {
    const { m } = await sealed();
    const body = encodeManifest(m);
    // Signed over the endorsement tag, a manifest body fails (wrong tag) ...
    expect(await codeOf(openManifest(crypto, await statement(body, TAG_ENDORSEMENT)))).toBe('BadSignature');
    // ... and an endorsement signed over the manifest tag fails too.
    const { encodeEndorsement } = await import('./snapshot-envelope.ts');
    const e = await statement(encodeEndorsement(endorsement()), TAG_MANIFEST);
    expect(await codeOf(openEndorsement(crypto, e))).toBe('BadSignature');
    // A manifest's bytes are no endorsement, whatever they are signed with.
    expect(await codeOf(openEndorsement(crypto, await statement(body, TAG_ENDORSEMENT)))).toBe('Malformed');
    expect(toHex(TAG_MANIFEST)).not.toBe(toHex(TAG_ENDORSEMENT));
  });

  it('[SNAP-9] a tampered, missing, extra, reordered or short chunk is Malformed before any decryption', async () => {
    const { m, chunks } = await sealed(CHUNK_PLAIN_BYTES + 100);
    const flip = chunks.map((c) => c.slice());
    flip[1]![3]! ^= 1;
    for (const bad of [
      flip,
      [chunks[0]!],
      [...chunks, chunks[1]!],
      [chunks[1]!, chunks[0]!],
      [chunks[0]!, chunks[1]!.subarray(1)],
    ])
      expect(await codeOf(() => checkChunks(m, bad))).toBe('Malformed');
    // The right chunks under another key do not open.
    expect(await codeOf(() => openChunks(m, chunks, random(32)))).toBe('Malformed');
  });

  it('[SNAP-9] a chunk moved to another snapshot or another calendar does not decrypt (its AAD binds it)', async () => {
    const a = await sealed(500);
    const b = await sealed(500, {});
    // Same plaintext and key, another nonce: b's chunk under a's manifest (hashes patched in).
    const moved = { ...a.m, chunks: b.m.chunks };
    expect(await codeOf(() => openChunks(moved, b.chunks, KEY))).toBe('Malformed');
    const otherDoc = { ...a.m, doc: 'd1'.repeat(16) as DocId };
    expect(await codeOf(() => openChunks(otherDoc, a.chunks, KEY))).toBe('Malformed');
  });

  it('[SNAP-9] an endorsement opens with its signature checked; tampering is refused', async () => {
    const bytes = await signEndorsement(signer, endorsement());
    const o = await openEndorsement(crypto, bytes);
    expect(o).toMatchObject({ doc: DOC, endorser: me, ctr: 3, last: id(9), frontier: [id(1), id(2)] });
    const first = await openEndorsement(
      crypto,
      await signEndorsement(signer, endorsement({ ctr: 0, last: null })),
    );
    expect(first.last).toBeNull();
    for (let at = 0; at < bytes.length; at += 7) {
      const t = bytes.slice();
      t[at]! ^= 0x40;
      expect(['BadSignature', 'Malformed', 'TooLarge', 'Unsupported']).toContain(
        await codeOf(openEndorsement(crypto, t)),
      );
    }
  });

  it('[SNAP-4] [SNAP-9] decode bombs: sizes, counts and lengths out of bounds are TooLarge or Malformed', async () => {
    const { m } = await sealed(1000);
    const over = async (x: Partial<Manifest>) =>
      codeOf(openManifest(crypto, await statement(encodeManifest({ ...m, ...x }), TAG_MANIFEST)));
    expect(await over({ size: MAX_SNAPSHOT_BYTES + 1 })).toBe('TooLarge');
    expect(await over({ size: 2 ** 60 })).toBe('Malformed');
    expect(await over({ size: 0, chunks: [] })).toBe('Malformed');
    const many = Array.from({ length: MAX_CHUNKS + 1 }, () => new Uint8Array(32));
    expect(await over({ size: MAX_SNAPSHOT_BYTES, chunks: many })).toBe('TooLarge');
    expect(await over({ size: 10 * CHUNK_PLAIN_BYTES })).toBe('Malformed'); // one chunk named, ten needed
    expect(await over({ frontier: [] })).toBe('Malformed');
    expect(await over({ frontier: [id(2), id(1)] })).toBe('Malformed');
    expect(await over({ frontier: Array.from({ length: MAX_FRONTIER + 1 }, (_, i) => id(i + 1)) })).toBe(
      'TooLarge',
    );
    expect(await over({ nonce: new Uint8Array(12) })).toBe('Malformed');
    expect(await over({ snapshot: new Uint8Array(31) })).toBe('Malformed');
    expect(await over({ previous: new Uint8Array(5) })).toBe('Malformed');
    expect(await over({ chunks: [new Uint8Array(31)] })).toBe('Malformed');
    // A statement over the cap is refused before it is read.
    expect(await codeOf(openManifest(crypto, new Uint8Array(MAX_STATEMENT_BYTES + 1)))).toBe('TooLarge');
    const endo = async (x: Partial<Endorsement>, patch?: (b: Uint8Array) => Uint8Array) => {
      const { encodeEndorsement } = await import('./snapshot-envelope.ts');
      const body = encodeEndorsement(endorsement(x));
      return codeOf(openEndorsement(crypto, await statement(patch ? patch(body) : body, TAG_ENDORSEMENT)));
    };
    expect(await endo({ ctr: 0 })).toBe('Malformed'); // ctr 0 names no op
    expect(await endo({ ctr: 2, last: null })).toBe('Malformed');
    expect(await endo({ frontier: [] })).toBe('Malformed');
  });

  it('[SNAP-4] [SNAP-9] random and truncated bytes never throw anything but an EngineError', async () => {
    const { bytes } = await sealed(300);
    const e = await signEndorsement(signer, endorsement());
    const rnd = seededRandom('bombs');
    const inputs: Uint8Array[] = [new Uint8Array(0), utf8('not a flatbuffer')];
    for (const b of [bytes, e]) for (let n = 0; n < b.length; n += 13) inputs.push(b.subarray(0, n));
    for (let i = 0; i < 300; i++) {
      const b = (i % 2 === 0 ? bytes : e).slice();
      for (let k = 0; k < 1 + (i % 5); k++) b[rnd(2)[0]! % b.length]! = rnd(1)[0]!;
      inputs.push(b);
      inputs.push(rnd(8 + (i % 200)));
    }
    // codeOf rethrows anything that is not an EngineError; only the untouched bytes open.
    const codes = new Set<string>();
    for (const x of inputs) {
      codes.add(await codeOf(openManifest(crypto, x)));
      codes.add(await codeOf(openEndorsement(crypto, x)));
    }
    for (const c of codes)
      expect(['ok', 'Malformed', 'TooLarge', 'Unsupported', 'BadSignature']).toContain(c);
    expect(codes.has('Malformed')).toBe(true);
  });

  it('[SNAP-9] a non-canonical body (same fields, other bytes) is refused, so a hash names one statement', async () => {
    const { m } = await sealed();
    const body = encodeManifest(m);
    const padded = new Uint8Array(body.length + 8);
    padded.set(body);
    expect(await codeOf(openManifest(crypto, await statement(padded, TAG_MANIFEST)))).toBe('Malformed');
    expect(fromHex(toHex(body))).toEqual(body);
  });
});
