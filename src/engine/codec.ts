// Flatbuffers encoding and verified decoding of the wire tables (schemas/op.fbs, payload.fbs).
// Decoders verify bounds first (flatverify.ts), then check every length this protocol fixes,
// and return plain objects that own their bytes. They throw EngineError('Malformed' | ...).

import { Builder, ByteBuffer } from 'flatbuffers';
import { copyBytes } from './bytes.ts';
import { EngineError } from './errors.ts';
import { FlatVerifyError, TableReader, type TableSpec, verifyRoot } from './flatverify.ts';
import { Membership } from './generated/ledgerday/wire/membership.ts';
import { WrappedKey } from './generated/ledgerday/wire/wrapped-key.ts';
import { Role } from './roles.ts';
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

export const MembershipKind = { Genesis: 0, Add: 1, Remove: 2, Rotate: 3, Invite: 4, SetRole: 5 } as const;
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
  /** ROLE-2: Add, Invite, SetRole: the subject's role (Role.Unstated in ops of earlier builds). */
  role: Role;
  /** ROLE-11: an Add of another device whose `boxProof` is the subject's sponsor proof (absent = false). */
  sponsored?: boolean;
}

// Field layouts for the verifier, in .fbs declaration order.
const HEADER_SPEC: TableSpec = [1, 'bytes', 'bytes', 8, 1, 2, 8, 'bytes', 'bytes', 'bytes', 'bytes', 'bytes'];
const SIGNED_SPEC: TableSpec = ['bytes', 'bytes', 'bytes'];
/**
 * Field slots (.fbs declaration order) of the tables on every op's path (envelope, header, patch
 * body), read and written here directly rather than through the generated classes (smaller and
 * faster; the layout is the same: codec-layout.test.ts checks it against the generated code).
 */
const SIGNED = { header: 0, sig: 1, body: 2 } as const;
const PATCH = { entity: 0, writes: 1 } as const;
const WRITE = { field: 0, value: 1 } as const;
const HDR = {
  format: 0,
  doc: 1,
  author: 2,
  ctr: 3,
  type: 4,
  schema: 5,
  wallTime: 6,
  keyId: 7,
  prev: 8,
  parents: 9,
  nonce: 10,
  bodyHash: 11,
} as const;
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
  1,
  1,
];

function malformed(what: string, cause?: unknown): never {
  throw new EngineError('Malformed', what, undefined, cause === undefined ? undefined : { cause });
}

function verified(buf: Uint8Array, spec: TableSpec, what: string, fileId?: string): ByteBuffer {
  verifiedRoot(buf, spec, what, fileId);
  return new ByteBuffer(buf);
}

function verifiedRoot(buf: Uint8Array, spec: TableSpec, what: string, fileId?: string): TableReader {
  try {
    return new TableReader(buf, verifyRoot(buf, spec, fileId));
  } catch (e) {
    if (e instanceof FlatVerifyError) malformed(`${what}: ${e.message}`);
    throw e;
  }
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

/**
 * A Builder kept by one hot encoder and cleared for each call: encoding is synchronous and its
 * result is copied out, so the buffer can be reused; the output is the same bytes a fresh
 * Builder gives (flatbuffers writes every byte it emits, padding included; codec-layout.test.ts).
 * It keeps the largest capacity it needed, at most about twice the largest op.
 */
function reusedBuilder(): (size: number) => Builder {
  let b: Builder | undefined;
  return (size) => {
    if (b === undefined) b = new Builder(size);
    else b.clear();
    return b;
  };
}

const envelopeBuilder = reusedBuilder();
const headerBuilder = reusedBuilder();
const patchBuilder = reusedBuilder();

// ---------------------------------------------------------------------------------------------
// Envelope

export function encodeEnvelope(env: Envelope): Uint8Array {
  const b = envelopeBuilder(env.header.length + env.body.length + 128);
  const h = b.createByteVector(env.header);
  const s = b.createByteVector(env.sig);
  const body = b.createByteVector(env.body);
  b.startObject(3);
  b.addFieldOffset(SIGNED.header, h, 0);
  b.addFieldOffset(SIGNED.sig, s, 0);
  b.addFieldOffset(SIGNED.body, body, 0);
  b.finish(b.endObject(), SIGNED_OP_FILE_ID);
  return b.asUint8Array().slice();
}

/**
 * Decodes a SignedOp. `shared`: the fields are views into `bytes`, which must then never change
 * (openOp decodes the canonical copy it made this way); otherwise they are copies.
 */
export function decodeEnvelope(bytes: Uint8Array, shared = false): Envelope {
  if (bytes.length > LIMITS.maxOpBytes) throw new EngineError('TooLarge', `op is ${bytes.length} bytes`);
  const t = verifiedRoot(bytes, SIGNED_SPEC, 'SignedOp', SIGNED_OP_FILE_ID);
  const field = (slot: number) => (shared ? t.shared(slot) : t.bytes(slot));
  const header = field(SIGNED.header);
  const sig = field(SIGNED.sig);
  const body = field(SIGNED.body);
  expectLen(sig, [64], 'signature');
  if (header.length === 0) malformed('empty header');
  return { header, sig, body };
}

// ---------------------------------------------------------------------------------------------
// Header

export function encodeHeader(h: Header): Uint8Array {
  const b = headerBuilder(256 + h.parents.length * 32);
  const doc = b.createByteVector(h.doc);
  const author = b.createByteVector(h.author);
  const keyId = b.createByteVector(h.keyId);
  const prev = b.createByteVector(h.prev);
  const parentsFlat = new Uint8Array(h.parents.length * 32);
  for (let i = 0; i < h.parents.length; i++) parentsFlat.set(h.parents[i]!, i * 32);
  const parents = b.createByteVector(parentsFlat);
  const nonce = b.createByteVector(h.nonce);
  const bodyHash = b.createByteVector(h.bodyHash);
  b.startObject(12);
  // Written even when equal to the schema default, so a reader never has to guess (forceDefaults).
  b.forceDefaults(true);
  b.addFieldInt8(HDR.format, h.format, 1);
  b.addFieldOffset(HDR.doc, doc, 0);
  b.addFieldOffset(HDR.author, author, 0);
  b.addFieldInt64(HDR.ctr, BigInt(h.ctr), BigInt(0));
  b.addFieldInt8(HDR.type, h.kind, 0);
  b.addFieldInt16(HDR.schema, h.schema, 0);
  b.addFieldInt64(HDR.wallTime, BigInt(h.wallTime), BigInt(0));
  b.addFieldOffset(HDR.keyId, keyId, 0);
  b.addFieldOffset(HDR.prev, prev, 0);
  b.addFieldOffset(HDR.parents, parents, 0);
  b.addFieldOffset(HDR.nonce, nonce, 0);
  b.addFieldOffset(HDR.bodyHash, bodyHash, 0);
  b.finish(b.endObject());
  return b.asUint8Array().slice();
}

/** Decodes an op header. `shared`: as for decodeEnvelope, views into `bytes` instead of copies. */
export function decodeHeader(bytes: Uint8Array, shared = false): Header {
  const t = verifiedRoot(bytes, HEADER_SPEC, 'OpHeader');
  const field = (slot: number) => (shared ? t.shared(slot) : t.bytes(slot));
  const parentsFlat = field(HDR.parents);
  if (parentsFlat.length % 32 !== 0) malformed('parents length is not a multiple of 32');
  const parents: Uint8Array[] = [];
  for (let i = 0; i < parentsFlat.length; i += 32) parents.push(parentsFlat.subarray(i, i + 32));
  const header: Header = {
    format: t.u8(HDR.format, 1),
    doc: field(HDR.doc),
    author: field(HDR.author),
    // Above 2^53 - 1 this is a number that is not a safe integer: checkHeader refuses it.
    ctr: t.u64(HDR.ctr),
    kind: t.u8(HDR.type, OpKind.Patch) as OpKind,
    schema: t.u16(HDR.schema),
    wallTime: t.u64(HDR.wallTime),
    keyId: field(HDR.keyId),
    prev: field(HDR.prev),
    parents,
    nonce: field(HDR.nonce),
    bodyHash: field(HDR.bodyHash),
  };
  checkHeader(header);
  return header;
}

/** OP-2: what every header must be, decoded from the wire or built by this device. */
export function checkHeader(h: Header): void {
  if (h.format !== WIRE_FORMAT) throw new EngineError('Unsupported', `wire format ${h.format}`);
  const kind = h.kind;
  if (kind !== OpKind.Patch && kind !== OpKind.Membership && kind !== OpKind.Snapshot) {
    throw new EngineError('Unsupported', `op type ${kind}`);
  }
  expectLen(h.doc, [0, 16], 'doc');
  expectLen(h.author, [32], 'author');
  expectLen(h.prev, [0, 32], 'prev');
  expectLen(h.bodyHash, [32], 'body_hash');
  const n = h.parents.length;
  if (n > LIMITS.maxParents) throw new EngineError('TooLarge', `${n} parents (max ${LIMITS.maxParents})`);
  for (const p of h.parents) expectLen(p, [32], 'parent');
  if (kind === OpKind.Membership) {
    expectLen(h.keyId, [0], 'key_id of a membership op');
    expectLen(h.nonce, [0], 'nonce of a membership op');
  } else {
    expectLen(h.keyId, [8], 'key_id');
    expectLen(h.nonce, [24], 'nonce');
  }
  if (!Number.isSafeInteger(h.ctr) || h.ctr < 0) malformed('ctr exceeds 2^53-1');
  if (!Number.isSafeInteger(h.wallTime) || h.wallTime < 0) malformed('wall_time exceeds 2^53-1');
}

// ---------------------------------------------------------------------------------------------
// Patch body

export function encodePatch(p: PatchBody): Uint8Array {
  const b = patchBuilder(64 + p.writes.length * 32);
  const writes = p.writes.map((w) => {
    const v = w.value === null ? 0 : b.createByteVector(w.value);
    b.startObject(2);
    b.forceDefaults(true);
    b.addFieldInt16(WRITE.field, w.field, 0);
    if (w.value !== null) b.addFieldOffset(WRITE.value, v, 0);
    return b.endObject();
  });
  const entity = b.createByteVector(p.entity);
  b.startVector(4, writes.length, 4);
  for (let i = writes.length - 1; i >= 0; i--) b.addOffset(writes[i]!);
  const vec = b.endVector();
  b.startObject(2);
  b.addFieldOffset(PATCH.entity, entity, 0);
  b.addFieldOffset(PATCH.writes, vec, 0);
  b.finish(b.endObject());
  return b.asUint8Array().slice();
}

export function decodePatch(bytes: Uint8Array): PatchBody {
  const p = verifiedRoot(bytes, PATCH_SPEC, 'Patch');
  const entity = p.bytes(PATCH.entity);
  expectLen(entity, [16], 'entity');
  const ws = p.tables(PATCH.writes);
  const n = ws.length;
  if (n > LIMITS.maxWrites) throw new EngineError('TooLarge', `${n} writes (max ${LIMITS.maxWrites})`);
  const writes: FieldWriteValue[] = [];
  let last = -1;
  for (const w of ws) {
    const field = w.u16(WRITE.field);
    if (field <= last) malformed('writes not strictly ascending by field');
    last = field;
    const v = w.has(WRITE.value) ? w.bytes(WRITE.value) : null;
    if (v !== null && v.length > LIMITS.maxValueBytes)
      throw new EngineError('TooLarge', `value of field ${field}`);
    writes.push({ field, value: v });
  }
  return { entity, writes };
}

// ---------------------------------------------------------------------------------------------
// Membership body

export function encodeMembership(m: MembershipBody): Uint8Array {
  const b = new Builder(256 + m.keys.length * 128);
  const keys = m.keys.map((k) => {
    const r = b.createByteVector(k.recipient);
    const id = b.createByteVector(k.keyId);
    const s = b.createByteVector(k.sealed);
    return WrappedKey.createWrappedKey(b, r, id, s);
  });
  const subject = b.createByteVector(m.subject);
  const subjectBox = b.createByteVector(m.subjectBox);
  const keysVec = Membership.createKeysVector(b, keys);
  const invite = b.createByteVector(m.invite);
  const sealed = b.createByteVector(m.sealed);
  // Written only when present, so ops that carry none keep the layout of earlier builds.
  const boxProof = m.boxProof.length > 0 ? b.createByteVector(m.boxProof) : 0;
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
  // Written only when stated: an op without a role keeps the layout of earlier builds.
  if (m.role !== Role.Unstated) Membership.addRole(b, m.role);
  // ROLE-11: likewise written only when set.
  if (m.sponsored === true) Membership.addSponsored(b, true);
  b.finish(Membership.endMembership(b));
  return b.asUint8Array().slice();
}

export function decodeMembership(bytes: Uint8Array): MembershipBody {
  const bb = verified(bytes, MEMBERSHIP_SPEC, 'Membership');
  const m = Membership.getRootAsMembership(bb);
  const kind = m.kind();
  if (kind > MembershipKind.SetRole) throw new EngineError('Unsupported', `membership kind ${kind}`);
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
    // ROLE-2: a value outside the enum is kept as read; validation refuses it (Malformed).
    role: m.role() as Role,
    sponsored: m.sponsored(),
  };
}
