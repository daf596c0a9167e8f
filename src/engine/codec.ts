// Flatbuffers encoding and verified decoding of the wire tables (schemas/op.fbs, payload.fbs).
// Decoders verify bounds first (flatverify.ts), then check every length this protocol fixes,
// and return plain objects that own their bytes. They throw EngineError('Malformed' | ...).

import { Builder, ByteBuffer } from 'flatbuffers';
import { copyBytes } from './bytes.ts';
import { EngineError } from './errors.ts';
import { FlatVerifyError, type TableSpec, verifyRoot } from './flatverify.ts';
import { FieldWrite } from './generated/ledgerday/wire/field-write.ts';
import { Membership } from './generated/ledgerday/wire/membership.ts';
import { OpHeader } from './generated/ledgerday/wire/op-header.ts';
import { Patch } from './generated/ledgerday/wire/patch.ts';
import { SignedOp } from './generated/ledgerday/wire/signed-op.ts';
import { WrappedKey } from './generated/ledgerday/wire/wrapped-key.ts';
import { OpKind } from './store.ts';

export const WIRE_FORMAT = 1;
export const SIGNED_OP_FILE_ID = 'LDO1';

/** Hard limits every replica and the relay enforce alike (docs/PROTOCOL.md LIM-*). */
export const LIMITS = {
  /** Whole SignedOp bytes. */
  maxOpBytes: 64 * 1024,
  /** Parent hashes in one op. */
  maxParents: 64,
  /** Register writes in one patch. */
  maxWrites: 64,
  /** Bytes in one register value. */
  maxValueBytes: 16 * 1024,
  /** Wrapped keys in one membership op. */
  maxWrappedKeys: 1024,
  /** Counter and wall_time must stay exact in a JS number. */
  maxU53: Number.MAX_SAFE_INTEGER,
} as const;

export interface Header {
  format: number;
  /** 16 bytes, or empty in a genesis op. */
  doc: Uint8Array;
  /** 32-byte Ed25519 public key. */
  author: Uint8Array;
  ctr: number;
  kind: OpKind;
  schema: number;
  wallTime: number;
  /** 8 bytes, empty for Membership. */
  keyId: Uint8Array;
  /** 32 bytes, or empty when ctr == 1. */
  prev: Uint8Array;
  /** 32-byte ids, strictly ascending. */
  parents: Uint8Array[];
  /** 24 bytes, empty for Membership. */
  nonce: Uint8Array;
  bodyHash: Uint8Array;
}

export interface Envelope {
  /** Exact header bytes as signed. */
  header: Uint8Array;
  sig: Uint8Array;
  body: Uint8Array;
}

export interface FieldWriteValue {
  field: number;
  value: Uint8Array | null;
}

export interface PatchBody {
  /** 16 bytes. */
  entity: Uint8Array;
  writes: FieldWriteValue[];
}

export const MembershipKind = { Genesis: 0, Add: 1, Remove: 2, Rotate: 3, Invite: 4 } as const;
export type MembershipKind = (typeof MembershipKind)[keyof typeof MembershipKind];

export interface WrappedKeyValue {
  recipient: Uint8Array;
  keyId: Uint8Array;
  sealed: Uint8Array;
}

export interface MembershipBody {
  kind: MembershipKind;
  subject: Uint8Array;
  subjectBox: Uint8Array;
  keys: WrappedKeyValue[];
  invite: Uint8Array;
  sealed: Uint8Array;
  /** Invite: µs wall time after which no Add may use it; 0 otherwise. */
  expires: number;
  /** MEM-11: an Add by a member: the subject's signature over its box key (64 bytes); else empty. */
  boxProof: Uint8Array;
}

// Field layouts for the verifier, in .fbs declaration order.
const HEADER_SPEC: TableSpec = [1, 'bytes', 'bytes', 8, 1, 2, 8, 'bytes', 'bytes', 'bytes', 'bytes', 'bytes'];
const SIGNED_SPEC: TableSpec = ['bytes', 'bytes', 'bytes'];
const PATCH_SPEC: TableSpec = ['bytes', { table: [2, 'bytes'] }];
const MEMBERSHIP_SPEC: TableSpec = [
  1,
  'bytes',
  'bytes',
  { table: ['bytes', 'bytes', 'bytes'] },
  'bytes',
  'bytes',
  8,
  'bytes',
];

function malformed(what: string, cause?: unknown): never {
  throw new EngineError('Malformed', what, undefined, cause === undefined ? undefined : { cause });
}

function verified(buf: Uint8Array, spec: TableSpec, what: string, fileId?: string): ByteBuffer {
  try {
    verifyRoot(buf, spec, fileId);
  } catch (e) {
    if (e instanceof FlatVerifyError) malformed(`${what}: ${e.message}`);
    throw e;
  }
  return new ByteBuffer(buf);
}

function bytesOf(arr: Uint8Array | null): Uint8Array {
  return arr === null ? new Uint8Array(0) : copyBytes(arr);
}

function u53(v: bigint, what: string): number {
  if (v > BigInt(LIMITS.maxU53)) malformed(`${what} exceeds 2^53-1`);
  return Number(v);
}

function expectLen(b: Uint8Array, lens: readonly number[], what: string): void {
  if (!lens.includes(b.length)) malformed(`${what} must be ${lens.join(' or ')} bytes, got ${b.length}`);
}

// ---------------------------------------------------------------------------------------------
// Envelope

export function encodeEnvelope(env: Envelope): Uint8Array {
  const b = new Builder(env.header.length + env.body.length + 128);
  const h = SignedOp.createHeaderVector(b, env.header);
  const s = SignedOp.createSigVector(b, env.sig);
  const body = SignedOp.createBodyVector(b, env.body);
  SignedOp.startSignedOp(b);
  SignedOp.addHeader(b, h);
  SignedOp.addSig(b, s);
  SignedOp.addBody(b, body);
  b.finish(SignedOp.endSignedOp(b), SIGNED_OP_FILE_ID);
  return b.asUint8Array().slice();
}

export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length > LIMITS.maxOpBytes) throw new EngineError('TooLarge', `op is ${bytes.length} bytes`);
  const bb = verified(bytes, SIGNED_SPEC, 'SignedOp', SIGNED_OP_FILE_ID);
  const op = SignedOp.getRootAsSignedOp(bb);
  const header = bytesOf(op.headerArray());
  const sig = bytesOf(op.sigArray());
  const body = bytesOf(op.bodyArray());
  expectLen(sig, [64], 'signature');
  if (header.length === 0) malformed('empty header');
  return { header, sig, body };
}

// ---------------------------------------------------------------------------------------------
// Header

export function encodeHeader(h: Header): Uint8Array {
  const b = new Builder(256 + h.parents.length * 32);
  const doc = OpHeader.createDocVector(b, h.doc);
  const author = OpHeader.createAuthorVector(b, h.author);
  const keyId = OpHeader.createKeyIdVector(b, h.keyId);
  const prev = OpHeader.createPrevVector(b, h.prev);
  const parentsFlat = new Uint8Array(h.parents.length * 32);
  for (let i = 0; i < h.parents.length; i++) parentsFlat.set(h.parents[i]!, i * 32);
  const parents = OpHeader.createParentsVector(b, parentsFlat);
  const nonce = OpHeader.createNonceVector(b, h.nonce);
  const bodyHash = OpHeader.createBodyHashVector(b, h.bodyHash);
  OpHeader.startOpHeader(b);
  // Written even when equal to the schema default, so a reader never has to guess (forceDefaults).
  b.forceDefaults(true);
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

export function decodeHeader(bytes: Uint8Array): Header {
  const bb = verified(bytes, HEADER_SPEC, 'OpHeader');
  const h = OpHeader.getRootAsOpHeader(bb);
  const format = h.format();
  if (format !== WIRE_FORMAT) throw new EngineError('Unsupported', `wire format ${format}`);
  const kind = h.type();
  if (kind !== OpKind.Patch && kind !== OpKind.Membership && kind !== OpKind.Snapshot) {
    throw new EngineError('Unsupported', `op type ${kind}`);
  }
  const doc = bytesOf(h.docArray());
  const author = bytesOf(h.authorArray());
  const keyId = bytesOf(h.keyIdArray());
  const prev = bytesOf(h.prevArray());
  const parentsFlat = bytesOf(h.parentsArray());
  const nonce = bytesOf(h.nonceArray());
  const bodyHash = bytesOf(h.bodyHashArray());
  expectLen(doc, [0, 16], 'doc');
  expectLen(author, [32], 'author');
  expectLen(prev, [0, 32], 'prev');
  expectLen(bodyHash, [32], 'body_hash');
  if (parentsFlat.length % 32 !== 0) malformed('parents length is not a multiple of 32');
  const n = parentsFlat.length / 32;
  if (n > LIMITS.maxParents) throw new EngineError('TooLarge', `${n} parents (max ${LIMITS.maxParents})`);
  const parents: Uint8Array[] = [];
  for (let i = 0; i < n; i++) parents.push(parentsFlat.subarray(i * 32, i * 32 + 32));
  if (kind === OpKind.Membership) {
    expectLen(keyId, [0], 'key_id of a membership op');
    expectLen(nonce, [0], 'nonce of a membership op');
  } else {
    expectLen(keyId, [8], 'key_id');
    expectLen(nonce, [24], 'nonce');
  }
  return {
    format,
    doc,
    author,
    ctr: u53(h.ctr(), 'ctr'),
    kind,
    schema: h.schema(),
    wallTime: u53(h.wallTime(), 'wall_time'),
    keyId,
    prev,
    parents,
    nonce,
    bodyHash,
  };
}

// ---------------------------------------------------------------------------------------------
// Patch body

export function encodePatch(p: PatchBody): Uint8Array {
  const b = new Builder(64 + p.writes.length * 32);
  const writes = p.writes.map((w) => {
    const v = w.value === null ? 0 : FieldWrite.createValueVector(b, w.value);
    FieldWrite.startFieldWrite(b);
    b.forceDefaults(true);
    FieldWrite.addField(b, w.field);
    if (w.value !== null) FieldWrite.addValue(b, v);
    return FieldWrite.endFieldWrite(b);
  });
  const entity = Patch.createEntityVector(b, p.entity);
  const vec = Patch.createWritesVector(b, writes);
  Patch.startPatch(b);
  Patch.addEntity(b, entity);
  Patch.addWrites(b, vec);
  b.finish(Patch.endPatch(b));
  return b.asUint8Array().slice();
}

export function decodePatch(bytes: Uint8Array): PatchBody {
  const bb = verified(bytes, PATCH_SPEC, 'Patch');
  const p = Patch.getRootAsPatch(bb);
  const entity = bytesOf(p.entityArray());
  expectLen(entity, [16], 'entity');
  const n = p.writesLength();
  if (n > LIMITS.maxWrites) throw new EngineError('TooLarge', `${n} writes (max ${LIMITS.maxWrites})`);
  const writes: FieldWriteValue[] = [];
  let last = -1;
  for (let i = 0; i < n; i++) {
    const w = p.writes(i);
    if (w === null) malformed('null write');
    const field = w.field();
    if (field <= last) malformed('writes not strictly ascending by field');
    last = field;
    const v = w.valueArray();
    if (v !== null && v.length > LIMITS.maxValueBytes)
      throw new EngineError('TooLarge', `value of field ${field}`);
    writes.push({ field, value: v === null ? null : copyBytes(v) });
  }
  return { entity, writes };
}

// ---------------------------------------------------------------------------------------------
// Membership body

export function encodeMembership(m: MembershipBody): Uint8Array {
  const b = new Builder(256 + m.keys.length * 128);
  const keys = m.keys.map((k) => {
    const r = WrappedKey.createRecipientVector(b, k.recipient);
    const id = WrappedKey.createKeyIdVector(b, k.keyId);
    const s = WrappedKey.createSealedVector(b, k.sealed);
    return WrappedKey.createWrappedKey(b, r, id, s);
  });
  const subject = Membership.createSubjectVector(b, m.subject);
  const subjectBox = Membership.createSubjectBoxVector(b, m.subjectBox);
  const keysVec = Membership.createKeysVector(b, keys);
  const invite = Membership.createInviteVector(b, m.invite);
  const sealed = Membership.createSealedVector(b, m.sealed);
  // Written only when present, so ops that carry none keep the layout of earlier builds.
  const boxProof = m.boxProof.length > 0 ? Membership.createBoxProofVector(b, m.boxProof) : 0;
  Membership.startMembership(b);
  b.forceDefaults(true);
  Membership.addKind(b, m.kind);
  Membership.addSubject(b, subject);
  Membership.addSubjectBox(b, subjectBox);
  Membership.addKeys(b, keysVec);
  Membership.addInvite(b, invite);
  Membership.addSealed(b, sealed);
  Membership.addExpires(b, BigInt(m.expires));
  if (boxProof !== 0) Membership.addBoxProof(b, boxProof);
  b.finish(Membership.endMembership(b));
  return b.asUint8Array().slice();
}

export function decodeMembership(bytes: Uint8Array): MembershipBody {
  const bb = verified(bytes, MEMBERSHIP_SPEC, 'Membership');
  const m = Membership.getRootAsMembership(bb);
  const kind = m.kind();
  if (kind > MembershipKind.Invite) throw new EngineError('Unsupported', `membership kind ${kind}`);
  const subject = bytesOf(m.subjectArray());
  const subjectBox = bytesOf(m.subjectBoxArray());
  expectLen(subject, [32], 'membership subject');
  expectLen(subjectBox, [0, 32], 'membership subject_box');
  const n = m.keysLength();
  if (n > LIMITS.maxWrappedKeys) throw new EngineError('TooLarge', `${n} wrapped keys`);
  const keys: WrappedKeyValue[] = [];
  for (let i = 0; i < n; i++) {
    const k = m.keys(i);
    if (k === null) malformed('null wrapped key');
    const recipient = bytesOf(k.recipientArray());
    const keyId = bytesOf(k.keyIdArray());
    expectLen(recipient, [32], 'wrapped key recipient');
    expectLen(keyId, [0, 8], 'wrapped key id');
    keys.push({ recipient, keyId, sealed: bytesOf(k.sealedArray()) });
  }
  return {
    kind: kind as MembershipKind,
    subject,
    subjectBox,
    keys,
    invite: bytesOf(m.inviteArray()),
    sealed: bytesOf(m.sealedArray()),
    expires: u53(m.expires(), 'expires'),
    boxProof: bytesOf(m.boxProofArray()),
  };
}
