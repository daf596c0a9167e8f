// Box proofs (docs/PROTOCOL.md MEM-11): a device's own signature over the X25519 key it wants
// content keys sealed for, in one calendar. A member that adds another device states that
// device's box key only with this proof, so nobody can register a box key for a device that the
// device itself did not sign: not a junk key, not the adder's own key, not a key for another
// calendar. The device produces it where it runs (`Replica.deviceCard`) and shows it to the adder.

import { utf8 } from './bytes.ts';
import type { Signer } from './crypto.ts';
import { taggedHash } from './hash.ts';

const TAG_BOX = utf8('ledgerday/box/v1\0');
const TAG_SPONSOR = utf8('ledgerday/sponsor/v1\0');

/** An Ed25519 signature. */
export const BOX_PROOF_BYTES = 64;

/** What a device signs to state its box key in calendar `doc`: SHA-256(TAG_BOX || doc || device || box). */
export const boxProofMessage = (doc: Uint8Array, device: Uint8Array, box: Uint8Array): Uint8Array =>
  taggedHash(TAG_BOX, doc, device, box);

/**
 * ROLE-11: what a device signs to let exactly one member, `sponsor`, add it to calendar `doc`
 * by a sponsored Add: SHA-256(TAG_SPONSOR || doc || device || box || sponsor). Naming the sponsor
 * means nobody else can use this consent, so nobody can link this device to theirs (ROLE-12).
 */
export const sponsorMessage = (
  doc: Uint8Array,
  device: Uint8Array,
  box: Uint8Array,
  sponsor: Uint8Array,
): Uint8Array => taggedHash(TAG_SPONSOR, doc, device, box, sponsor);

/** What a device shows a member so the member can add it (MEM-11): its keys and the proof. */
export interface DeviceCard {
  /** 32-byte Ed25519 public key (the device id). */
  device: Uint8Array;
  /** 32-byte X25519 public key. */
  box: Uint8Array;
  /**
   * 64-byte signature by `device` over `boxProofMessage(doc, device, box)`, or, when `sponsor`
   * is set, over `sponsorMessage(doc, device, box, sponsor)` (ROLE-11).
   */
  proof: Uint8Array;
  /** ROLE-11: the 32-byte key of the one member this card lets add the device (a sponsor card). */
  sponsor?: Uint8Array;
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

/** ROLE-11: the sponsor card of a device with these keys: lets `sponsor` alone add it to `doc`. */
export async function signSponsorCard(
  keys: { signer: Signer; box: { publicKey: Uint8Array } },
  doc: Uint8Array,
  sponsor: Uint8Array,
): Promise<DeviceCard> {
  const device = keys.signer.publicKey;
  const box = keys.box.publicKey;
  const proof = await keys.signer.sign(sponsorMessage(doc, device, box, sponsor));
  return { device, box, proof, sponsor: sponsor.slice() };
}

/** The message a card's proof signs (MEM-11 or ROLE-11), for checking it. */
export const cardMessage = (doc: Uint8Array, card: DeviceCard): Uint8Array =>
  card.sponsor === undefined
    ? boxProofMessage(doc, card.device, card.box)
    : sponsorMessage(doc, card.device, card.box, card.sponsor);
