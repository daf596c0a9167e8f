// Branded identifiers so that a hash is always a hash and a device id is never a doc id.
// All are lowercase hex strings of fixed length: cheap map keys, and hex order = byte order.

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** 64 hex chars: SHA-256 op id (docs/PROTOCOL.md OP-1). */
export type OpId = Brand<string, 'OpId'>;
/** 64 hex chars: the device's 32-byte Ed25519 public key. */
export type DeviceId = Brand<string, 'DeviceId'>;
/** 32 hex chars: the first 16 bytes of the calendar's genesis op id. */
export type DocId = Brand<string, 'DocId'>;
/** 32 hex chars: a random 16-byte entity (event) id; 32 zeros = the calendar itself. */
export type EntityId = Brand<string, 'EntityId'>;
/** 16 hex chars: the first 8 bytes of the id of the membership op that introduced a content key. */
export type KeyId = Brand<string, 'KeyId'>;

const HEX = /^[0-9a-f]*$/;

function isHexOfLength(s: unknown, len: number): s is string {
  return typeof s === 'string' && s.length === len && HEX.test(s);
}

export const isOpId = (s: unknown): s is OpId => isHexOfLength(s, 64);
export const isDeviceId = (s: unknown): s is DeviceId => isHexOfLength(s, 64);
export const isDocId = (s: unknown): s is DocId => isHexOfLength(s, 32);
export const isEntityId = (s: unknown): s is EntityId => isHexOfLength(s, 32);
export const isKeyId = (s: unknown): s is KeyId => isHexOfLength(s, 16);

/** The calendar's own fields (name, colour) live in this entity. */
export const CALENDAR_ENTITY = '0'.repeat(32) as EntityId;
