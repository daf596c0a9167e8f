// Both signature providers give one verdict on the Ed25519 edge cases (docs/PROTOCOL.md SIG-3):
// the twelve vectors of "Taming the many EdDSAs" and RFC 8032's own tests, plus every small-order
// point and non-canonical encoding derived here independently of the list in crypto.ts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ed from '@noble/ed25519';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from './bytes.ts';
import {
  type CryptoProvider,
  createNobleCrypto,
  createNobleSigner,
  createWebCrypto,
  createWebCryptoSigner,
  type SubtleLike,
} from './crypto.ts';

interface Vector {
  public_key: string;
  signature: string;
  message: string;
}
interface TamingVector extends Vector {
  index: number;
  case: string;
  verdict: boolean;
}
interface RfcVector extends Vector {
  name: string;
  secret: string;
}
interface CctvVector {
  number: number;
  key: string;
  sig: string;
  msg: string;
  flags: string[];
  verdict: boolean;
}

const FILE = join(import.meta.dirname, '..', '..', 'schemas', 'vectors', 'ed25519-edge.json');
const vectors = JSON.parse(readFileSync(FILE, 'utf8')) as {
  taming: TamingVector[];
  rfc8032: RfcVector[];
  cctv: CctvVector[];
};
const subtle = globalThis.crypto.subtle as unknown as SubtleLike;
const providers: CryptoProvider[] = [createWebCrypto(subtle), createNobleCrypto()];

async function verdicts(pk: Uint8Array, sig: Uint8Array, msg: Uint8Array): Promise<boolean[]> {
  return Promise.all(providers.map((p) => p.verify(pk, sig, msg)));
}

/** The eight torsion points, as multiples of one point of order 8 (not the list in crypto.ts). */
function torsionPoints(): ed.Point[] {
  const t8 = ed.Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a');
  const out = [ed.Point.ZERO];
  for (let i = 1; i < 8; i++) out.push(out[i - 1]!.add(t8));
  return out;
}

/** A point with a torsion component: a prime-order point plus a small-order one. */
const mixed = (p: ed.Point, t: ed.Point) => p.add(t);

describe('signature providers judge alike', () => {
  it('[SIG-3] the twelve "Taming the many EdDSAs" vectors get the same verdict from WebCrypto and @noble, the rule\'s', async () => {
    expect(vectors.taming).toHaveLength(12);
    const got = [];
    for (const v of vectors.taming) {
      const r = await verdicts(fromHex(v.public_key), fromHex(v.signature), fromHex(v.message));
      got.push({ index: v.index, case: v.case, web: r[0], noble: r[1] });
    }
    const want = vectors.taming.map((v) => ({
      index: v.index,
      case: v.case,
      web: v.verdict,
      noble: v.verdict,
    }));
    expect(got).toEqual(want);
  });

  it("[SIG-3] C2SP CCTV edge cases (every flag combination): both providers give the rule's verdict", async () => {
    expect(vectors.cctv.length).toBeGreaterThan(150);
    const wrong = [];
    for (const v of vectors.cctv) {
      const r = await verdicts(fromHex(v.key), fromHex(v.sig), new TextEncoder().encode(v.msg));
      if (r[0] !== v.verdict || r[1] !== v.verdict)
        wrong.push({ number: v.number, flags: v.flags, web: r[0], noble: r[1] });
    }
    expect(wrong).toEqual([]);
    expect(vectors.cctv.filter((v) => v.verdict).length).toBeGreaterThan(5);
  });

  it('[SIG-3] RFC 8032 7.1: both signers produce the published signatures and both providers accept exactly them', async () => {
    for (const v of vectors.rfc8032) {
      const secret = fromHex(v.secret);
      const pk = fromHex(v.public_key);
      const msg = fromHex(v.message);
      const noble = createNobleSigner(secret);
      expect(toHex(noble.publicKey)).toBe(v.public_key);
      const key = await globalThis.crypto.subtle.importKey(
        'jwk',
        {
          kty: 'OKP',
          crv: 'Ed25519',
          d: Buffer.from(secret).toString('base64url'),
          x: Buffer.from(pk).toString('base64url'),
        },
        { name: 'Ed25519' },
        false,
        ['sign'],
      );
      const web = createWebCryptoSigner(subtle, key, pk);
      for (const signer of [noble, web]) expect(toHex(await signer.sign(msg))).toBe(v.signature);
      const sig = fromHex(v.signature);
      expect(await verdicts(pk, sig, msg)).toEqual([true, true]);
      // Malleability: S + L is the same signature to a lax verifier; the rule refuses it.
      const sPlusL = sig.slice();
      let carry = 0;
      const l = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
      for (let i = 0; i < 32; i++) {
        const x = sPlusL[32 + i]! + l[i]! + carry;
        sPlusL[32 + i] = x & 0xff;
        carry = x >> 8;
      }
      expect(await verdicts(pk, sPlusL, msg)).toEqual([false, false]);
      for (const at of [0, 31, 32, 63]) {
        const bad = sig.slice();
        bad[at]! ^= 0x01;
        expect(await verdicts(pk, bad, msg)).toEqual([false, false]);
      }
      expect(await verdicts(pk, sig, new Uint8Array([...msg, 0]))).toEqual([false, false]);
    }
  });

  it('[SIG-3] every small-order point is refused as a key and as R, in either sign encoding, by both providers', async () => {
    const msg = new Uint8Array([1, 2, 3]);
    const torsion = torsionPoints();
    expect(new Set(torsion.map((t) => t.toHex())).size).toBe(8);
    for (const t of torsion) {
      const enc = t.toBytes();
      // A small key with S = 0 and R = A verifies cofactored for any message (vector 0's shape).
      expect(await verdicts(enc, new Uint8Array([...enc, ...new Uint8Array(32)]), msg)).toEqual([
        false,
        false,
      ]);
      // A small R in an otherwise honest-looking signature.
      const honest = createNobleSigner(new Uint8Array(32).fill(9));
      const sig = await honest.sign(msg);
      sig.set(enc, 0);
      expect(await verdicts(honest.publicKey, sig, msg)).toEqual([false, false]);
    }
  });

  it('[SIG-3] non-canonical encodings (y >= p, x = 0 with the sign bit) are refused by both providers', async () => {
    const msg = new Uint8Array([4, 5, 6]);
    const signer = createNobleSigner(new Uint8Array(32).fill(3));
    const sig = await signer.sign(msg);
    const p = 2n ** 255n - 19n;
    const encodings: Uint8Array[] = [];
    const le = (n: bigint, sign: boolean) => {
      const b = new Uint8Array(32);
      for (let i = 0; i < 32; i++) b[i] = Number((n >> BigInt(8 * i)) & 0xffn);
      if (sign) b[31]! |= 0x80;
      return b;
    };
    for (let y = p; y < 2n ** 255n; y++) for (const s of [false, true]) encodings.push(le(y, s));
    encodings.push(le(1n, true), le(p - 1n, true));
    expect(encodings).toHaveLength(40);
    for (const e of encodings) {
      expect(await verdicts(e, sig, msg)).toEqual([false, false]);
      const withR = sig.slice();
      withR.set(e, 0);
      expect(await verdicts(signer.publicKey, withR, msg)).toEqual([false, false]);
    }
  });

  it('[SIG-3] a key with a torsion component: a signature valid only under the cofactored equation is refused by both', async () => {
    // Build vector 4's shape ourselves: A = a*B + T8 (mixed order), R = r*B (prime order), and
    // S = r + k*a mod L. Then [S]B - [k]A - R = -[k]T8: zero after multiplying by 8, not before,
    // unless 8 divides k. A cofactored verifier accepts when 8 does not; the rule refuses.
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const t8 = torsionPoints()[1]!;
    const a = 123456789n;
    const A = mixed(ed.Point.BASE.multiply(a), t8).toBytes();
    const leNum = (b: Uint8Array) => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
    let checked = 0;
    for (let i = 0; checked < 4; i++) {
      const msg = new Uint8Array([i]);
      const r = 1000n + BigInt(i);
      const R = ed.Point.BASE.multiply(r).toBytes();
      const k = leNum(ed.hash(new Uint8Array([...R, ...A, ...msg]))) % L;
      const S = (r + k * a) % L;
      const sig = new Uint8Array(64);
      sig.set(R, 0);
      for (let j = 0; j < 32; j++) sig[32 + j] = Number((S >> BigInt(8 * j)) & 0xffn);
      const valid = k % 8n === 0n;
      // @noble's own verify is cofactored: it says yes to all of them (the disagreement fixed here).
      expect(ed.verify(sig, msg, A, { zip215: false })).toBe(true);
      expect(await verdicts(A, sig, msg)).toEqual([valid, valid]);
      if (!valid) checked++;
    }
  });
});
