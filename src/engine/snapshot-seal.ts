// Sealing a snapshot plaintext into ciphertext chunks and opening them again (docs/PROTOCOL.md
// SNAP-9). Each chunk is its own XChaCha20-Poly1305 message under the content key the manifest
// names (ENC-1), with a nonce derived from the manifest's random nonce and the chunk's index, and
// associated data binding it to the calendar, the maker, the time, the key, the snapshot's hash,
// its index and the chunk count (ENC-2's role): a chunk moved to another place, another snapshot
// or another calendar does not decrypt. Chunks are at most MAX_CHUNK_BYTES, so a calendar of any
// size travels in pieces a relay and a WebSocket frame can carry.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bytesEqual, fromHex, utf8 } from './bytes.ts';
import { EngineError } from './errors.ts';
import { taggedHash } from './hash.ts';
import { CHUNK_PLAIN_BYTES, checkChunks, chunkHash, type Manifest } from './snapshot-envelope.ts';
import { snapshotHash } from './snapshot-verify.ts';

const TAG_CHUNK_NONCE = utf8('ledgerday/snapshot-chunk-nonce/v1\0');
const TAG_CHUNK_AAD = utf8('ledgerday/snapshot-chunk-aad/v1\0');

/** What binds a chunk to its place: every manifest field known before the chunks are. */
type ChunkContext = Pick<Manifest, 'doc' | 'signer' | 'wallTime' | 'keyId' | 'nonce' | 'snapshot' | 'size'>;

function u64(v: number): Uint8Array {
  const out = new Uint8Array(8);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, v % 2 ** 32, true);
  dv.setUint32(4, Math.floor(v / 2 ** 32), true);
  return out;
}

function u32(v: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, v, true);
  return out;
}

/** Chunk i's nonce: the first 24 bytes of SHA-256(TAG_CHUNK_NONCE || nonce || i). */
const chunkNonce = (m: ChunkContext, i: number): Uint8Array =>
  taggedHash(TAG_CHUNK_NONCE, m.nonce, u32(i)).subarray(0, 24);

/** Chunk i's associated data (see the header). */
function chunkAad(m: ChunkContext, i: number, n: number): Uint8Array {
  return taggedHash(
    TAG_CHUNK_AAD,
    fromHex(m.doc),
    fromHex(m.signer),
    u64(m.wallTime),
    fromHex(m.keyId),
    m.nonce,
    m.snapshot,
    u64(m.size),
    u32(i),
    u32(n),
  );
}

/**
 * SNAP-9: encrypts `plain` (whose SNAP-1 hash and size `m` states) into chunks under `key`, and
 * returns them with their hashes, in order.
 */
export function sealChunks(
  m: ChunkContext,
  plain: Uint8Array,
  key: Uint8Array,
): { chunks: Uint8Array[]; hashes: Uint8Array[] } {
  if (plain.length !== m.size || !bytesEqual(snapshotHash(plain), m.snapshot))
    throw new EngineError('InvalidArgument', 'the plaintext is not the one the manifest states');
  const n = Math.ceil(plain.length / CHUNK_PLAIN_BYTES);
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const piece = plain.subarray(i * CHUNK_PLAIN_BYTES, (i + 1) * CHUNK_PLAIN_BYTES);
    chunks.push(xchacha20poly1305(key, chunkNonce(m, i), chunkAad(m, i, n)).encrypt(piece));
  }
  return { chunks, hashes: chunks.map(chunkHash) };
}

/**
 * SNAP-9: checks `chunks` against the manifest (count, lengths, hashes), decrypts them with `key`
 * (the content key the manifest names) and checks the plaintext's SNAP-1 hash. `Malformed` when
 * anything differs; never returns bytes the manifest's signer did not state.
 */
export function openChunks(m: Manifest, chunks: readonly Uint8Array[], key: Uint8Array): Uint8Array {
  checkChunks(m, chunks);
  return decryptChunks(m, chunks, key);
}

/**
 * Decrypts chunks already checked against `m` (checkChunks). A failure here is the maker's
 * doing: it signed the hashes of chunks that do not open to the plaintext it states.
 */
export function decryptChunks(m: Manifest, chunks: readonly Uint8Array[], key: Uint8Array): Uint8Array {
  const plain = new Uint8Array(m.size);
  let at = 0;
  for (let i = 0; i < chunks.length; i++) {
    let piece: Uint8Array;
    try {
      piece = xchacha20poly1305(key, chunkNonce(m, i), chunkAad(m, i, chunks.length)).decrypt(chunks[i]!);
    } catch {
      throw new EngineError(
        'Malformed',
        `snapshot envelope: chunk ${i} does not decrypt under key ${m.keyId}`,
      );
    }
    plain.set(piece, at);
    at += piece.length;
  }
  if (!bytesEqual(snapshotHash(plain), m.snapshot))
    throw new EngineError('Malformed', 'snapshot envelope: the plaintext does not match the manifest');
  return plain;
}
