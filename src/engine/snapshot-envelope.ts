// The signed envelope a snapshot travels in (docs/PROTOCOL.md SNAP-9): a *manifest* signed by its
// maker (what the snapshot is, the key and nonce its ciphertext chunks are sealed with, each
// chunk's hash) and *endorsements* signed by members that recomputed it (SNAP-5, SNAP-10). Both
// are `SignedStatement`s (schemas/payload.fbs) over one canonical body, each kind with its own
// domain tag (SIG-2). Decoding is bounded and bounds-checked (SNAP-4, OP-2): anything else than
// a well-formed statement is `Malformed` or `TooLarge`, never another throw. `openManifest` and
// `openEndorsement` need no content key: the relay runs them.

import { Builder } from 'flatbuffers';
import { bytesEqual, fromHex, toHex, utf8 } from './bytes.ts';
import type { CryptoProvider, Signer } from './crypto.ts';
import { EngineError } from './errors.ts';
import { FlatVerifyError, TableReader, type TableSpec, verifyRoot } from './flatverify.ts';
import { taggedHash } from './hash.ts';
import type { DeviceId, DocId, KeyId, OpId } from './ids.ts';
import { MAX_SNAPSHOT_BYTES } from './snapshot-codec.ts';

export const ENVELOPE_FORMAT = 1;
/** SIG-2: what a manifest's maker signs, SHA-256(TAG_MANIFEST || body); also the manifest's hash. */
export const TAG_MANIFEST = utf8('ledgerday/snapshot-manifest/v1\0');
/** SIG-2: what an endorser signs, SHA-256(TAG_ENDORSEMENT || body). */
export const TAG_ENDORSEMENT = utf8('ledgerday/snapshot-endorsement/v1\0');
/** SNAP-9: a chunk's hash, SHA-256(TAG_CHUNK || ciphertext). */
export const TAG_CHUNK = utf8('ledgerday/snapshot-chunk/v1\0');
/** SNAP-9: the largest ciphertext chunk. */
export const MAX_CHUNK_BYTES = 256 * 1024;
/** The AEAD tag each chunk adds (XChaCha20-Poly1305). */
export const CHUNK_TAG_BYTES = 16;
/** Plaintext bytes per chunk (every chunk but the last holds exactly this many). */
export const CHUNK_PLAIN_BYTES = MAX_CHUNK_BYTES - CHUNK_TAG_BYTES;
/** SNAP-4, SNAP-9: most chunks a manifest names (a plaintext of MAX_SNAPSHOT_BYTES). */
export const MAX_CHUNKS = Math.ceil(MAX_SNAPSHOT_BYTES / CHUNK_PLAIN_BYTES);
/** Most frontier ops a manifest or endorsement names. */
export const MAX_FRONTIER = 256;
/** Largest signed statement decoded (a manifest of MAX_CHUNKS chunks and MAX_FRONTIER ids fits). */
export const MAX_STATEMENT_BYTES = 32 * 1024;
const SIG_BYTES = 64;

/** A snapshot manifest (SNAP-9): fields as in schemas/payload.fbs `SnapshotManifest`. */
export interface Manifest {
  doc: DocId;
  signer: DeviceId;
  wallTime: number;
  frontier: OpId[];
  /** SNAP-1 hash of the plaintext. */
  snapshot: Uint8Array;
  previous: Uint8Array;
  keyId: KeyId;
  nonce: Uint8Array;
  size: number;
  /** TAG_CHUNK hashes of the ciphertext chunks, in order. */
  chunks: Uint8Array[];
}

/** An endorsement (SNAP-9, SNAP-10): fields as in schemas/payload.fbs `SnapshotEndorsement`. */
export interface Endorsement {
  doc: DocId;
  /** Hex TAG_MANIFEST hash of the manifest endorsed. */
  manifest: string;
  endorser: DeviceId;
  /** The endorser's chain position when it endorsed: ctr 0 and no op before its first op. */
  ctr: number;
  last: OpId | null;
  frontier: OpId[];
}

/** A manifest whose signature verified: its canonical signed bytes and its hash (hex). */
export interface OpenedManifest extends Manifest {
  hash: string;
  bytes: Uint8Array;
}

/** An endorsement whose signature verified: its canonical signed bytes and its hash (hex). */
export interface OpenedEndorsement extends Endorsement {
  hash: string;
  bytes: Uint8Array;
}

const MAN = {
  format: 0,
  doc: 1,
  signer: 2,
  wallTime: 3,
  frontier: 4,
  snapshot: 5,
  previous: 6,
  keyId: 7,
  nonce: 8,
  size: 9,
  chunks: 10,
} as const;
const MAN_SPEC: TableSpec = [1, 'bytes', 'bytes', 8, 'bytes', 'bytes', 'bytes', 'bytes', 'bytes', 8, 'bytes'];
const END = { format: 0, doc: 1, manifest: 2, endorser: 3, ctr: 4, last: 5, frontier: 6 } as const;
const END_SPEC: TableSpec = [1, 'bytes', 'bytes', 'bytes', 8, 'bytes', 'bytes'];
const STMT_SPEC: TableSpec = ['bytes', 'bytes'];

function malformed(what: string): never {
  throw new EngineError('Malformed', `snapshot envelope: ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Encoding (one encoding per value: decoding refuses any other, so a hash names one statement)

const ids = (list: readonly string[]): Uint8Array => fromHex(list.join(''));

function concat(list: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(list.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of list) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** The canonical body of a manifest. */
export function encodeManifest(m: Manifest): Uint8Array {
  const b = new Builder(256 + 32 * (m.chunks.length + m.frontier.length));
  b.forceDefaults(true);
  const doc = b.createByteVector(fromHex(m.doc));
  const signer = b.createByteVector(fromHex(m.signer));
  const frontier = b.createByteVector(ids(m.frontier));
  const snapshot = b.createByteVector(m.snapshot);
  const previous = b.createByteVector(m.previous);
  const keyId = b.createByteVector(fromHex(m.keyId));
  const nonce = b.createByteVector(m.nonce);
  const chunks = b.createByteVector(concat(m.chunks));
  b.startObject(11);
  b.addFieldInt8(MAN.format, ENVELOPE_FORMAT, 0);
  b.addFieldOffset(MAN.doc, doc, 0);
  b.addFieldOffset(MAN.signer, signer, 0);
  b.addFieldInt64(MAN.wallTime, BigInt(m.wallTime), 0n);
  b.addFieldOffset(MAN.frontier, frontier, 0);
  b.addFieldOffset(MAN.snapshot, snapshot, 0);
  b.addFieldOffset(MAN.previous, previous, 0);
  b.addFieldOffset(MAN.keyId, keyId, 0);
  b.addFieldOffset(MAN.nonce, nonce, 0);
  b.addFieldInt64(MAN.size, BigInt(m.size), 0n);
  b.addFieldOffset(MAN.chunks, chunks, 0);
  b.finish(b.endObject());
  return b.asUint8Array().slice();
}

/** The canonical body of an endorsement. */
export function encodeEndorsement(e: Endorsement): Uint8Array {
  const b = new Builder(256 + 32 * e.frontier.length);
  b.forceDefaults(true);
  const doc = b.createByteVector(fromHex(e.doc));
  const manifest = b.createByteVector(fromHex(e.manifest));
  const endorser = b.createByteVector(fromHex(e.endorser));
  const last = b.createByteVector(e.last === null ? new Uint8Array(0) : fromHex(e.last));
  const frontier = b.createByteVector(ids(e.frontier));
  b.startObject(7);
  b.addFieldInt8(END.format, ENVELOPE_FORMAT, 0);
  b.addFieldOffset(END.doc, doc, 0);
  b.addFieldOffset(END.manifest, manifest, 0);
  b.addFieldOffset(END.endorser, endorser, 0);
  b.addFieldInt64(END.ctr, BigInt(e.ctr), 0n);
  b.addFieldOffset(END.last, last, 0);
  b.addFieldOffset(END.frontier, frontier, 0);
  b.finish(b.endObject());
  return b.asUint8Array().slice();
}

/** The canonical bytes of a SignedStatement. */
export function statementBytes(body: Uint8Array, sig: Uint8Array): Uint8Array {
  const b = new Builder(body.length + 128);
  b.forceDefaults(true);
  const bo = b.createByteVector(body);
  const so = b.createByteVector(sig);
  b.startObject(2);
  b.addFieldOffset(0, bo, 0);
  b.addFieldOffset(1, so, 0);
  b.finish(b.endObject());
  return b.asUint8Array().slice();
}

// ---------------------------------------------------------------------------------------------
// Decoding

function root(bytes: Uint8Array, spec: TableSpec): TableReader {
  try {
    return new TableReader(bytes, verifyRoot(bytes, spec));
  } catch (e) {
    if (e instanceof FlatVerifyError) malformed(e.message);
    throw e;
  }
}

function fixed(b: Uint8Array, len: number, what: string): Uint8Array {
  if (b.length !== len) malformed(`${what} must be ${len} bytes`);
  return b;
}

function idList(b: Uint8Array, what: string, max: number): string[] {
  if (b.length % 32 !== 0) malformed(`${what} is not a list of 32-byte ids`);
  if (b.length / 32 > max) throw new EngineError('TooLarge', `snapshot envelope: ${what}: more than ${max}`);
  const out: string[] = [];
  for (let i = 0; i < b.length; i += 32) out.push(toHex(b.subarray(i, i + 32)));
  return out;
}

function safeInt(n: number, what: string): number {
  if (!Number.isSafeInteger(n)) malformed(`${what} out of range`);
  return n;
}

function frontierOf(b: Uint8Array): OpId[] {
  const f = idList(b, 'frontier', MAX_FRONTIER) as OpId[];
  if (f.length === 0) malformed('empty frontier');
  for (let i = 1; i < f.length; i++) if (f[i - 1]! >= f[i]!) malformed('frontier not strictly ascending');
  return f;
}

function formatOf(t: TableReader): void {
  if (t.u8(0, 0) !== ENVELOPE_FORMAT) throw new EngineError('Unsupported', 'snapshot envelope format');
}

/** SNAP-9: a manifest body, its shape checked (lengths, counts, the size cap). */
export function decodeManifest(body: Uint8Array): Manifest {
  const t = root(body, MAN_SPEC);
  formatOf(t);
  const size = safeInt(t.u64(MAN.size), 'size');
  if (size > MAX_SNAPSHOT_BYTES) throw new EngineError('TooLarge', `snapshot of ${size} bytes`);
  if (size === 0) malformed('empty snapshot');
  const chunks = idList(t.shared(MAN.chunks), 'chunks', MAX_CHUNKS).map(fromHex);
  if (chunks.length !== Math.ceil(size / CHUNK_PLAIN_BYTES)) malformed('chunk count does not match size');
  const previous = t.bytes(MAN.previous);
  if (previous.length !== 0 && previous.length !== 32) malformed('previous is 32 bytes or empty');
  return {
    doc: toHex(fixed(t.shared(MAN.doc), 16, 'doc')) as DocId,
    signer: toHex(fixed(t.shared(MAN.signer), 32, 'signer')) as DeviceId,
    wallTime: safeInt(t.u64(MAN.wallTime), 'wall_time'),
    frontier: frontierOf(t.shared(MAN.frontier)),
    snapshot: fixed(t.bytes(MAN.snapshot), 32, 'snapshot hash'),
    previous,
    keyId: toHex(fixed(t.shared(MAN.keyId), 8, 'key_id')) as KeyId,
    nonce: fixed(t.bytes(MAN.nonce), 24, 'nonce'),
    size,
    chunks,
  };
}

/** SNAP-9: an endorsement body, its shape checked. */
export function decodeEndorsement(body: Uint8Array): Endorsement {
  const t = root(body, END_SPEC);
  formatOf(t);
  const ctr = safeInt(t.u64(END.ctr), 'ctr');
  const last = t.shared(END.last);
  if (ctr === 0 ? last.length !== 0 : last.length !== 32) malformed('last is 32 bytes exactly when ctr > 0');
  return {
    doc: toHex(fixed(t.shared(END.doc), 16, 'doc')) as DocId,
    manifest: toHex(fixed(t.shared(END.manifest), 32, 'manifest hash')),
    endorser: toHex(fixed(t.shared(END.endorser), 32, 'endorser')) as DeviceId,
    ctr,
    last: ctr === 0 ? null : (toHex(last) as OpId),
    frontier: frontierOf(t.shared(END.frontier)),
  };
}

/** A SignedStatement's body and signature; refuses oversized input before reading it. */
export function decodeStatement(bytes: Uint8Array): { body: Uint8Array; sig: Uint8Array } {
  if (!(bytes instanceof Uint8Array)) malformed('not bytes');
  if (bytes.length > MAX_STATEMENT_BYTES)
    throw new EngineError('TooLarge', `snapshot envelope of ${bytes.length} bytes`);
  const t = root(bytes, STMT_SPEC);
  return { body: t.bytes(0), sig: fixed(t.bytes(1), SIG_BYTES, 'signature') };
}

/** The body of a SignedStatement, its shape checked and its signature not (for stored records). */
export const decodeStatementBody = (bytes: Uint8Array): Uint8Array => decodeStatement(bytes).body;

/** Decodes `bytes` with `decode` and refuses a body that is not its value's one encoding. */
function canonical<T>(body: Uint8Array, decode: (b: Uint8Array) => T, encode: (v: T) => Uint8Array): T {
  const v = decode(body);
  if (!bytesEqual(encode(v), body)) malformed('not the canonical encoding');
  return v;
}

async function checkSig(crypto: CryptoProvider, key: string, sig: Uint8Array, digest: Uint8Array) {
  if (!(await crypto.verify(fromHex(key), sig, digest)))
    throw new EngineError('BadSignature', 'snapshot envelope: the signature does not verify');
}

/**
 * SNAP-9: decodes a signed manifest and checks its signature by its signer. Needs no key and
 * reads no chunk (the relay runs it). `Malformed`, `TooLarge`, `Unsupported` or `BadSignature`.
 */
export async function openManifest(crypto: CryptoProvider, bytes: Uint8Array): Promise<OpenedManifest> {
  const { body, sig } = decodeStatement(bytes);
  const m = canonical(body, decodeManifest, encodeManifest);
  const digest = taggedHash(TAG_MANIFEST, body);
  await checkSig(crypto, m.signer, sig, digest);
  return { ...m, hash: toHex(digest), bytes: statementBytes(body, sig) };
}

/** SNAP-9: decodes a signed endorsement and checks its signature by its endorser. */
export async function openEndorsement(crypto: CryptoProvider, bytes: Uint8Array): Promise<OpenedEndorsement> {
  const { body, sig } = decodeStatement(bytes);
  const e = canonical(body, decodeEndorsement, encodeEndorsement);
  const digest = taggedHash(TAG_ENDORSEMENT, body);
  await checkSig(crypto, e.endorser, sig, digest);
  return { ...e, hash: toHex(digest), bytes: statementBytes(body, sig) };
}

/** Signs a manifest with its signer's key (which must be `m.signer`). */
export async function signManifest(signer: Signer, m: Manifest): Promise<Uint8Array> {
  if (toHex(signer.publicKey) !== m.signer)
    throw new EngineError('InvalidArgument', 'signer is not the manifest signer');
  const body = encodeManifest(m);
  return statementBytes(body, await signer.sign(taggedHash(TAG_MANIFEST, body)));
}

/** Signs an endorsement with the endorser's key (which must be `e.endorser`). */
export async function signEndorsement(signer: Signer, e: Endorsement): Promise<Uint8Array> {
  if (toHex(signer.publicKey) !== e.endorser)
    throw new EngineError('InvalidArgument', 'signer is not the endorser');
  const body = encodeEndorsement(e);
  return statementBytes(body, await signer.sign(taggedHash(TAG_ENDORSEMENT, body)));
}

/**
 * SNAP-9: checks that `chunks` are the ciphertext chunks `m` names: their number, each one's
 * length (every chunk but the last is MAX_CHUNK_BYTES; the last holds the rest of `size` plus the
 * AEAD tag) and hash. Needs no key (the relay runs it). `Malformed` on any difference.
 */
export function checkChunks(m: Manifest, chunks: readonly Uint8Array[]): void {
  if (chunks.length !== m.chunks.length)
    malformed(`${chunks.length} chunks, the manifest names ${m.chunks.length}`);
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    if (!(c instanceof Uint8Array) || c.length !== chunkBytes(m.size, i))
      malformed(`chunk ${i} has the wrong length`);
    if (!bytesEqual(chunkHash(c), m.chunks[i]!)) malformed(`chunk ${i} does not match its hash`);
  }
}

/** The ciphertext length of chunk `i` of a plaintext of `size` bytes. */
export function chunkBytes(size: number, i: number): number {
  const n = Math.ceil(size / CHUNK_PLAIN_BYTES);
  const plain = i < n - 1 ? CHUNK_PLAIN_BYTES : size - (n - 1) * CHUNK_PLAIN_BYTES;
  return plain + CHUNK_TAG_BYTES;
}

export const chunkHash = (ciphertext: Uint8Array): Uint8Array => taggedHash(TAG_CHUNK, ciphertext);
