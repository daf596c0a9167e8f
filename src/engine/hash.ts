// SHA-256 with domain separation (docs/PROTOCOL.md SIG-1, OP-1, DAG-5). Each tag ends in a NUL
// so no tag is a prefix of another input; a digest made for one purpose never passes for another.

import { sha256 } from '@noble/hashes/sha2.js';
import { utf8 } from './bytes.ts';

export const TAG_OP = utf8('ledgerday/op/v1\0');
export const TAG_BODY = utf8('ledgerday/body/v1\0');
export const TAG_ROOT = utf8('ledgerday/root/v1\0');
/** SNAP-1: the hash of a snapshot plaintext (what the next snapshot names as previous). */
export const TAG_SNAPSHOT = utf8('ledgerday/snapshot/v1\0');

export function taggedHash(tag: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = sha256.create();
  h.update(tag);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Op id = SHA-256(TAG_OP || header bytes). This digest is also what the author signs. */
export const opDigest = (header: Uint8Array): Uint8Array => taggedHash(TAG_OP, header);

export const bodyDigest = (body: Uint8Array): Uint8Array => taggedHash(TAG_BODY, body);

export { sha256 };
