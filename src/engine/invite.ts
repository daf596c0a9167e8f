// Invites (docs/PROTOCOL.md INV-*): a one-time secret that lets a device that is not yet a member
// add itself. The inviter's Invite op publishes the secret's Ed25519 public key, an expiry, and
// the calendar's content keys sealed for an X25519 key derived from the same secret. The secret
// itself travels only in a link's URL fragment, never to the relay.

import * as ed from '@noble/ed25519';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from './bytes.ts';
import { taggedHash } from './hash.ts';
import { type BoxKeyPair, boxKeyPairFromSecret } from './seal.ts';

const TAG_INVITE = utf8('ledgerday/invite/v1\0');
const TAG_INVITE_BOX = utf8('ledgerday/invite-box/v1\0');

export interface InviteKeys {
  /** Ed25519 public key published in the Invite op. */
  publicKey: Uint8Array;
  /** X25519 key pair the content keys are sealed for. */
  box: BoxKeyPair;
}

export function inviteKeys(secret: Uint8Array): InviteKeys {
  return {
    publicKey: ed.getPublicKey(secret),
    box: boxKeyPairFromSecret(hkdf(sha256, secret, new Uint8Array(0), TAG_INVITE_BOX, 32)),
  };
}

/** What the invite key signs to authorise one device's Add (INV-2). */
export function inviteMessage(
  doc: Uint8Array,
  inviteOp: Uint8Array,
  subject: Uint8Array,
  subjectBox: Uint8Array,
): Uint8Array {
  return taggedHash(TAG_INVITE, doc, inviteOp, subject, subjectBox);
}

export function signInvite(secret: Uint8Array, message: Uint8Array): Uint8Array {
  return ed.sign(message, secret);
}

export const INVITE_PROOF_BYTES = 32 + 64;

export const inviteProof = (inviteOp: Uint8Array, sig: Uint8Array): Uint8Array => concatBytes(inviteOp, sig);

const TAG_FINGERPRINT = utf8('ledgerday/fingerprint/v1\0');
const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/**
 * DEV-2: a short code people compare to check they mean the same device: 80 bits of a tagged
 * SHA-256 of its public key, Crockford base32, in groups of four ("7K2M-Q9TX-4HDA-R1CE").
 */
export function deviceFingerprint(publicKey: Uint8Array): string {
  const h = taggedHash(TAG_FINGERPRINT, publicKey);
  let bits = 0;
  let acc = 0;
  let out = '';
  for (let i = 0; i < 10; i++) {
    acc = (acc << 8) | h[i]!;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join('-');
}
