// What a device signs on the sync wire: its answer to the relay's challenge (SYNC-2) and the
// invite proof that lets it read a calendar before joining it (INV-6).

import { type DeviceId, type DocId, type OpId, taggedHash, utf8 } from '../engine/index.ts';
import { hexToBytes } from './messages-ids.ts';

// Authentication (SYNC-2): the device signs a domain-separated digest of the relay's fresh
// challenge and of the host it believes it is talking to, so a signature can neither pass for an
// op signature nor be replayed to another relay by a relay in the middle.

export const AUTH_DOMAIN = 'ledgerday/sync-auth/v1';

/** The exact bytes a device signs to answer a challenge. */
export function authMessage(challenge: Uint8Array, host: string): Uint8Array {
  const d = utf8(AUTH_DOMAIN);
  const h = utf8(host.toLowerCase());
  if (h.length > 255) throw new TypeError('host name too long');
  const out = new Uint8Array(d.length + 1 + 1 + h.length + challenge.length);
  out.set(d, 0);
  out[d.length] = 0; // separator: the domain is a prefix-free, fixed string
  out[d.length + 1] = h.length;
  out.set(h, d.length + 2);
  out.set(challenge, d.length + 2 + h.length);
  return out;
}

// Invite proof for reading a calendar before joining it (INV-6): the invite key (Ed25519 key of
// the invite secret, INV-1) signs a digest binding the calendar, the Invite op, the device that
// authenticated on this connection and this connection's challenge. The tag differs from the
// Add proof's (INV-2) and from every other signed message, so neither can stand in for the
// other; the challenge makes a captured proof useless on any other connection.

const TAG_INVITE_FETCH = utf8('ledgerday/invite-fetch/v1\0');

/** The 32-byte digest the invite key signs to subscribe with an invite. */
export function inviteFetchMessage(
  doc: DocId,
  inviteOp: OpId,
  device: DeviceId,
  challenge: Uint8Array,
): Uint8Array {
  return taggedHash(
    TAG_INVITE_FETCH,
    hexToBytes(doc, 16, 'doc'),
    hexToBytes(inviteOp, 32, 'invite'),
    hexToBytes(device, 32, 'device'),
    challenge,
  );
}
