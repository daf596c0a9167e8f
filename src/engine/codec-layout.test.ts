// codec.ts reads and writes SignedOp, OpHeader, Patch and FieldWrite by field slot, without the
// generated classes (they are on every op's path). These tests hold that to the generated code
// from schemas/*.fbs: the same bytes out, the same fields in, the same defaults when absent.

import fc from 'fast-check';
import { Builder, ByteBuffer } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import {
  decodeEnvelope,
  decodeHeader,
  decodePatch,
  encodeEnvelope,
  encodeHeader,
  encodePatch,
  type Header,
  type PatchBody,
  WIRE_FORMAT,
} from './codec.ts';
import { FieldWrite } from './generated/ledgerday/wire/field-write.ts';
import { OpHeader } from './generated/ledgerday/wire/op-header.ts';
import { Patch } from './generated/ledgerday/wire/patch.ts';
import { SignedOp } from './generated/ledgerday/wire/signed-op.ts';
import { OpKind } from './store.ts';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });

const header: fc.Arbitrary<Header> = fc
  .record({
    doc: fc.oneof(bytes(0), bytes(16)),
    author: bytes(32),
    ctr: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    membership: fc.boolean(),
    schema: fc.integer({ min: 0, max: 0xffff }),
    wallTime: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    keyId: bytes(8),
    prev: fc.oneof(bytes(0), bytes(32)),
    parents: fc.array(bytes(32), { maxLength: 5 }),
    nonce: bytes(24),
    bodyHash: bytes(32),
  })
  .map((h) => ({
    format: WIRE_FORMAT,
    doc: h.doc,
    author: h.author,
    ctr: h.ctr,
    kind: h.membership ? OpKind.Membership : OpKind.Patch,
    schema: h.schema,
    wallTime: h.wallTime,
    keyId: h.membership ? new Uint8Array(0) : h.keyId,
    prev: h.prev,
    parents: h.parents,
    nonce: h.membership ? new Uint8Array(0) : h.nonce,
    bodyHash: h.bodyHash,
  }));

/** The header as the generated builder writes it (what codec.ts did before it wrote slots itself). */
function generatedHeader(h: Header, forceDefaults = true): Uint8Array {
  const b = new Builder(64);
  const flat = new Uint8Array(h.parents.length * 32);
  for (const [i, p] of h.parents.entries()) flat.set(p, i * 32);
  const doc = OpHeader.createDocVector(b, h.doc);
  const author = OpHeader.createAuthorVector(b, h.author);
  const keyId = OpHeader.createKeyIdVector(b, h.keyId);
  const prev = OpHeader.createPrevVector(b, h.prev);
  const parents = OpHeader.createParentsVector(b, flat);
  const nonce = OpHeader.createNonceVector(b, h.nonce);
  const bodyHash = OpHeader.createBodyHashVector(b, h.bodyHash);
  OpHeader.startOpHeader(b);
  b.forceDefaults(forceDefaults);
  OpHeader.addFormat(b, h.format);
  OpHeader.addDoc(b, doc);
  OpHeader.addAuthor(b, author);
  OpHeader.addCtr(b, BigInt(h.ctr));
  OpHeader.addType(b, h.kind);
  OpHeader.addSchema(b, h.schema);
  OpHeader.addWallTime(b, BigInt(h.wallTime));
  OpHeader.addKeyId(b, keyId);
  OpHeader.addPrev(b, prev);
  OpHeader.addParents(b, parents);
  OpHeader.addNonce(b, nonce);
  OpHeader.addBodyHash(b, bodyHash);
  b.finish(OpHeader.endOpHeader(b));
  return b.asUint8Array().slice();
}

/** A Patch header with fixed bytes, fields overridden by `over`. */
function fixedHeader(over: Partial<Header>): Header {
  return {
    format: WIRE_FORMAT,
    doc: new Uint8Array(16).fill(1),
    author: new Uint8Array(32).fill(2),
    ctr: 1,
    kind: OpKind.Patch,
    schema: 0,
    wallTime: 5,
    keyId: new Uint8Array(8).fill(3),
    prev: new Uint8Array(0),
    parents: [new Uint8Array(32).fill(4)],
    nonce: new Uint8Array(24).fill(5),
    bodyHash: new Uint8Array(32).fill(6),
    ...over,
  };
}

describe('op header and envelope layout', () => {
  it('[OP-2] headers are written byte for byte as the generated builder writes them, and read alike', () => {
    fc.assert(
      fc.property(header, (h) => {
        const ours = encodeHeader(h);
        expect(ours).toEqual(generatedHeader(h));
        const g = OpHeader.getRootAsOpHeader(new ByteBuffer(ours));
        expect(Number(g.ctr())).toBe(h.ctr);
        expect(Number(g.wallTime())).toBe(h.wallTime);
        expect(g.type()).toBe(h.kind);
        expect(g.schema()).toBe(h.schema);
        expect(g.parentsArray() ?? new Uint8Array(0)).toEqual(
          new Uint8Array(h.parents.flatMap((p) => [...p])),
        );
        expect(decodeHeader(ours)).toEqual({ ...h, parents: h.parents.map((p) => new Uint8Array(p)) });
      }),
      { numRuns: 200 },
    );
  });

  it('[OP-2] absent scalar fields read as the schema defaults, as the generated reader reads them', () => {
    // Without forceDefaults the builder omits format 1, type Patch and schema 0.
    const h = fixedHeader({ ctr: 1, schema: 0, wallTime: 5, prev: new Uint8Array(0) });
    const sparse = generatedHeader(h, false);
    expect(sparse.length).toBeLessThan(encodeHeader(h).length);
    const g = OpHeader.getRootAsOpHeader(new ByteBuffer(sparse));
    const d = decodeHeader(sparse);
    expect([d.format, d.kind, d.schema]).toEqual([g.format(), g.type(), g.schema()]);
    expect(d).toEqual(h);
  });

  it('[OP-2] an encoder that reuses its builder writes, after a larger op, the bytes a fresh builder writes', () => {
    const big = fixedHeader({
      ctr: 7,
      schema: 2,
      wallTime: 1_700_000_000_000_000,
      prev: new Uint8Array(32).fill(4),
      parents: Array.from({ length: 40 }, (_, i) => new Uint8Array(32).fill(i + 5)),
    });
    const small: Header = { ...big, parents: [new Uint8Array(32).fill(9)], prev: new Uint8Array(0), ctr: 1 };
    const first = encodeHeader(small);
    encodeHeader(big);
    expect(encodeHeader(small)).toEqual(first);
    expect(first).toEqual(generatedHeader(small));
    const env = {
      header: encodeHeader(big),
      sig: new Uint8Array(64).fill(8),
      body: new Uint8Array(3000).fill(1),
    };
    encodeEnvelope(env);
    const tiny = { header: first, sig: new Uint8Array(64).fill(6), body: new Uint8Array(5).fill(2) };
    expect(decodeEnvelope(encodeEnvelope(tiny))).toEqual(tiny);
  });

  it('[OP-2] a shared decode reads the same fields as a copying one, as views of the buffer', () => {
    fc.assert(
      fc.property(header, (h) => {
        const bytes = encodeHeader(h);
        const shared = decodeHeader(bytes, true);
        expect(shared).toEqual(decodeHeader(bytes));
        expect(shared.author.buffer).toBe(bytes.buffer);
      }),
      { numRuns: 100 },
    );
  });

  it('[OP-2] envelopes are written as the generated builder writes them, and read alike', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        bytes(64),
        fc.uint8Array(),
        (hb, sig, body) => {
          const ours = encodeEnvelope({ header: hb, sig, body });
          const b = new Builder(64);
          const h = SignedOp.createHeaderVector(b, hb);
          const s = SignedOp.createSigVector(b, sig);
          const bo = SignedOp.createBodyVector(b, body);
          b.finish(SignedOp.createSignedOp(b, h, s, bo), 'LDO1');
          expect(ours).toEqual(b.asUint8Array());
          const g = SignedOp.getRootAsSignedOp(new ByteBuffer(ours));
          expect(g.sigArray()).toEqual(sig);
          expect(decodeEnvelope(ours)).toEqual({ header: hb, sig, body });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('[OP-2] patch bodies are written as the generated builder writes them, and read alike (null and empty values apart)', () => {
    const patch: fc.Arbitrary<PatchBody> = fc.record({
      entity: bytes(16),
      writes: fc
        .uniqueArray(fc.integer({ min: 0, max: 0xffff }), { maxLength: 6 })
        .chain((fields) =>
          fc.tuple(
            ...[...fields]
              .sort((a, b) => a - b)
              .map((field) =>
                fc.record({ field: fc.constant(field), value: fc.option(fc.uint8Array({ maxLength: 40 })) }),
              ),
          ),
        ),
    });
    fc.assert(
      fc.property(patch, (p) => {
        const b = new Builder(64);
        const ws = p.writes.map((w) => {
          const v = w.value === null ? 0 : FieldWrite.createValueVector(b, w.value);
          FieldWrite.startFieldWrite(b);
          b.forceDefaults(true);
          FieldWrite.addField(b, w.field);
          if (w.value !== null) FieldWrite.addValue(b, v);
          return FieldWrite.endFieldWrite(b);
        });
        const entity = Patch.createEntityVector(b, p.entity);
        const vec = Patch.createWritesVector(b, ws);
        b.finish(Patch.createPatch(b, entity, vec));
        const ours = encodePatch(p);
        expect(ours).toEqual(b.asUint8Array());
        const g = Patch.getRootAsPatch(new ByteBuffer(ours));
        expect(g.writesLength()).toBe(p.writes.length);
        for (const [i, w] of p.writes.entries()) {
          expect(g.writes(i)!.field()).toBe(w.field);
          expect(g.writes(i)!.valueArray()).toEqual(w.value);
        }
        expect(decodePatch(ours)).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });
});
