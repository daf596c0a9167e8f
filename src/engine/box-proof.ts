// Box proofs (docs/PROTOCOL.md MEM-11): a device's own signature over the X25519 key it wants
// content keys sealed for, in one calendar. A member that adds another device states that
// device's box key only with this proof, so nobody can register a box key for a device that the
// device itself did not sign: not a junk key, not the adder's own key, not a key for another
// calendar. The device produces it where it runs (`Replica.deviceCard`) and shows it to the adder.

import { utf8 } from './bytes.ts';
import type { Signer } from './crypto.ts';
import { taggedHash } from './hash.ts';

const TAG_BOX = utf8('ledgerday/box/v1\0');

/** An Ed25519 signature. */
export const BOX_PROOF_BYTES = 64;

/** What a device signs to state its box key in calendar `doc`: SHA-256(TAG_BOX || doc || device || box). */
export const boxProofMessage = (doc: Uint8Array, device: Uint8Array, box: Uint8Array): Uint8Array =>
  taggedHash(TAG_BOX, doc, device, box);

/** What a device shows a member so the member can add it (MEM-11): its keys and the proof. */
export interface DeviceCard {
  /** 32-byte Ed25519 public key (the device id). */
  device: Uint8Array;
  /** 32-byte X25519 public key. */
  box: Uint8Array;
  /** 64-byte signature by `device` over `boxProofMessage(doc, device, box)`. */
  proof: Uint8Array;
}

/** The card of a device with these keys, for calendar `doc` (16 bytes). */
export async function signDeviceCard(
  keys: { signer: Signer; box: { publicKey: Uint8Array } },
  doc: Uint8Array,
): Promise<DeviceCard> {
  const device = keys.signer.publicKey;
  const box = keys.box.publicKey;
  return { device, box, proof: await keys.signer.sign(boxProofMessage(doc, device, box)) };
}
