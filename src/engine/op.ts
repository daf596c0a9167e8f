// Operations: build + sign + encrypt (createOp), and parse + check + verify + decrypt (openOp,
// verifyOp, decryptBody). An op's identity is the digest of its exact signed header bytes.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bytesEqual, compareBytes, toHex, utf8 } from './bytes.ts';
import {
  checkHeader,
  decodeEnvelope,
  decodeHeader,
  type Envelope,
  encodeEnvelope,
  encodeHeader,
  type Header,
  LIMITS,
  WIRE_FORMAT,
} from './codec.ts';
import type { CryptoProvider, Signer } from './crypto.ts';
import { EngineError } from './errors.ts';
import { bodyDigest, opDigest, taggedHash } from './hash.ts';
import type { DeviceId, DocId, KeyId, OpId } from './ids.ts';
import { OpKind } from './store.ts';

/** A parsed op that passed every check that needs no other op (OP-2..OP-5), not yet its signature. */
export interface OpenedOp {
  id: OpId;
  /** Canonical SignedOp bytes (re-encoded envelope around the exact header bytes). */
  bytes: Uint8Array;
  env: Envelope;
  header: Header;
  /** The calendar: for a genesis op, derived from its own id (OP-4). */
  doc: DocId;
  author: DeviceId;
  parents: OpId[];
  prev: OpId | null;
  keyId: KeyId | null;
  /** The digest the signature covers (= id as bytes). */
  digest: Uint8Array;
}

const TAG_AAD = utf8('ledgerday/aad/v1\0');

/** The calendar id a genesis op creates: the first 16 bytes of its op id. */
export const docIdFromGenesis = (id: OpId): DocId => id.slice(0, 32) as DocId;
/**
 * Deprecated: key ids are bound to key bytes now (keyring.ts `keyIdOf`, KEY-7). Kept exported so
 * the public API stays stable; nothing in the engine uses it.
 */
export const keyIdFromOp = (id: OpId): KeyId => id.slice(0, 16) as KeyId;

/**
 * Associated data binding a body to its op (ENC-2): calendar, author, counter, type, schema,
 * wall time and key id. Not the whole header: the header commits to the ciphertext's hash, so
 * using it as associated data would be circular.
 */
export function bodyAad(
  h: Pick<Header, 'doc' | 'author' | 'ctr' | 'kind' | 'schema' | 'wallTime' | 'keyId'>,
): Uint8Array {
  const fixed = new Uint8Array(8 + 1 + 2 + 8);
  const dv = new DataView(fixed.buffer);
  setU64(dv, 0, h.ctr);
  dv.setUint8(8, h.kind);
  dv.setUint16(9, h.schema, true);
  setU64(dv, 11, h.wallTime);
  return taggedHash(TAG_AAD, h.doc, h.author, fixed, h.keyId);
}

/** A non-negative safe integer as u64 little-endian (what setBigUint64 writes, without a BigInt). */
function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v % 2 ** 32, true);
  dv.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
}

/** Parses and checks everything that needs no other op: format, lengths, body hash, shape rules. */
export function openOp(bytes: Uint8Array): OpenedOp {
  // The canonical bytes are a fresh copy, and every field decoded is a view into them: one copy
  // of the op instead of one per field, and nothing aliases the caller's buffer.
  const canonical = encodeEnvelope(decodeEnvelope(bytes, true));
  const env = decodeEnvelope(canonical, true);
  const header = decodeHeader(env.header, true);
  const digest = opDigest(env.header);
  const id = toHex(digest) as OpId;
  if (!bytesEqual(bodyDigest(env.body), header.bodyHash))
    throw new EngineError('BadBodyHash', 'body does not match body_hash', id);
  return opened(env, header, digest, id, canonical);
}

function shapeError(id: OpId, code: 'Malformed' | 'ChainRule' | 'Unsupported', msg: string): never {
  throw new EngineError(code, msg, id);
}

/** OP-3, OP-4: the rules on a header's shape that need no other op. Throws EngineError. */
function checkShape(header: Header, id: OpId): void {
  // OP-3: parents strictly ascending (sorted, no duplicates): one canonical form per parent set.
  for (let i = 1; i < header.parents.length; i++) {
    if (compareBytes(header.parents[i - 1]!, header.parents[i]!) >= 0)
      shapeError(id, 'Malformed', 'parents not strictly ascending');
  }
  if (header.ctr < 1) shapeError(id, 'ChainRule', 'ctr must be >= 1');
  if ((header.ctr === 1) !== (header.prev.length === 0))
    shapeError(id, 'ChainRule', 'prev must be empty iff ctr == 1');
  if (header.prev.length > 0 && header.parents.some((p) => bytesEqual(p, header.prev))) {
    shapeError(id, 'Malformed', 'prev repeated among parents');
  }
  if (header.doc.length === 0) {
    // OP-4: a genesis op is the author's first op, has no predecessors and is a Membership op.
    if (header.kind !== OpKind.Membership || header.ctr !== 1 || header.parents.length > 0) {
      shapeError(
        id,
        'Malformed',
        'an op without a calendar id must be a genesis membership op with no parents',
      );
    }
  } else if (header.parents.length === 0 && header.prev.length === 0) {
    shapeError(id, 'Malformed', 'a non-genesis op must have a parent or prev');
  }
  if (header.kind === OpKind.Snapshot)
    shapeError(id, 'Unsupported', 'snapshot ops are not supported by this version');
}

/** An op whose header passed checkHeader and whose body matches its body hash, once its shape checks. */
function opened(env: Envelope, header: Header, digest: Uint8Array, id: OpId, bytes: Uint8Array): OpenedOp {
  checkShape(header, id);
  const isGenesis = header.doc.length === 0;
  const doc = isGenesis ? (id.slice(0, 32) as DocId) : (toHex(header.doc) as DocId);
  return {
    id,
    bytes,
    env,
    header,
    doc,
    author: toHex(header.author) as DeviceId,
    parents: header.parents.map((p) => toHex(p) as OpId),
    prev: header.prev.length === 0 ? null : (toHex(header.prev) as OpId),
    keyId: header.keyId.length === 0 ? null : (toHex(header.keyId) as KeyId),
    digest,
  };
}

/** SIG-1: Ed25519 over the op digest by the author's key. */
export async function verifyOp(crypto: CryptoProvider, op: OpenedOp): Promise<boolean> {
  return crypto.verify(op.header.author, op.env.sig, op.digest);
}

export interface NewOp {
  doc: Uint8Array;
  ctr: number;
  kind: OpKind;
  schema: number;
  wallTime: number;
  prev: Uint8Array;
  parents: Uint8Array[];
  /** For Patch/Snapshot: plaintext to encrypt with `key`. For Membership: the plaintext body. */
  body: Uint8Array;
  key?: { id: Uint8Array; key: Uint8Array };
}

/** An op built and encrypted but not signed yet: its id (digest) is already fixed. */
export interface PreparedOp {
  /** The op id's bytes: what the author signs. */
  digest: Uint8Array;
  /**
   * The op before its signature (empty `bytes` and `env.sig`), shape-checked: for staging it
   * while it is being signed. Never stored or sent: `finish` gives the op.
   */
  unsigned(): OpenedOp;
  finish(sig: Uint8Array): OpenedOp;
}

/**
 * Builds and encrypts an op; signing is left to the caller. Parents are sorted here (OP-3).
 * `nonce` gives a fresh 24-byte random nonce for an encrypted body.
 */
export function prepareOp(author: Uint8Array, nonce: () => Uint8Array, op: NewOp): PreparedOp {
  const parents = [...op.parents].sort(compareBytes);
  let body = op.body;
  let bodyNonce: Uint8Array = new Uint8Array(0);
  let keyId: Uint8Array = new Uint8Array(0);
  if (op.kind !== OpKind.Membership) {
    if (op.key === undefined) throw new EngineError('NoKey', 'an encrypted op needs a content key');
    keyId = op.key.id;
    bodyNonce = nonce();
    const aad = bodyAad({
      doc: op.doc,
      author,
      ctr: op.ctr,
      kind: op.kind,
      schema: op.schema,
      wallTime: op.wallTime,
      keyId,
    });
    body = xchacha20poly1305(op.key.key, bodyNonce, aad).encrypt(op.body);
  }
  const header: Header = {
    format: WIRE_FORMAT,
    doc: op.doc,
    author,
    ctr: op.ctr,
    kind: op.kind,
    schema: op.schema,
    wallTime: op.wallTime,
    keyId,
    prev: op.prev,
    parents,
    nonce: bodyNonce,
    bodyHash: bodyDigest(body),
  };
  checkHeader(header);
  const headerBytes = encodeHeader(header);
  const digest = opDigest(headerBytes);
  const id = toHex(digest) as OpId;
  const empty = new Uint8Array(0);
  // The same checks as openOp, without decoding and hashing again what was just encoded here.
  let base: OpenedOp | undefined;
  const unsigned = () =>
    (base ??= opened({ header: headerBytes, sig: empty, body }, header, digest, id, empty));
  return {
    digest,
    unsigned,
    finish: (sig) => {
      const env = { header: headerBytes, sig, body };
      const bytes = encodeEnvelope(env);
      if (sig.length !== 64) throw new EngineError('Malformed', 'signature must be 64 bytes');
      if (bytes.length > LIMITS.maxOpBytes) throw new EngineError('TooLarge', `op is ${bytes.length} bytes`);
      return { ...unsigned(), env, bytes };
    },
  };
}

/** Builds, encrypts and signs an op. */
export async function createOp(
  signer: Signer,
  random: (n: number) => Uint8Array,
  op: NewOp,
): Promise<OpenedOp> {
  const p = prepareOp(signer.publicKey, () => random(24), op);
  return p.finish(await signer.sign(p.digest));
}

/** ENC-1: decrypts a Patch/Snapshot body; null when the key or the ciphertext is wrong. */
export function decryptBody(op: Pick<OpenedOp, 'header' | 'env'>, key: Uint8Array): Uint8Array | null {
  try {
    return xchacha20poly1305(key, op.header.nonce, bodyAad(op.header)).decrypt(op.env.body);
  } catch {
    return null;
  }
}
