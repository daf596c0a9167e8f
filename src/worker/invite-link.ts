// Invite links (docs/PROTOCOL.md INV-5): `<base>/#/join/<payload>`, where the payload is the
// base64url (RFC 4648 section 5, no padding) of a versioned binary list of (calendar, Invite op,
// secret). The secret sits in the URL fragment, which browsers never send to a server. Parsing
// is strict: anything that is not exactly this format is an InvalidLink error and changes nothing.

import type { DocId, OpId } from '../engine/index.ts';
import { fromHex, toHex } from '../engine/index.ts';

export const INVITE_LINK_VERSION = 1;
/** PER-2: an "Add device" link: the same layout, and its first entry is the inviter's personal document. */
export const DEVICE_LINK_VERSION = 2;
/** Calendars one link may carry (a link must stay short enough for a QR code). */
export const MAX_LINK_CALENDARS = 16;
const ENTRY_BYTES = 16 + 32 + 32;
export const JOIN_ROUTE = '#/join/';

export interface LinkInvite {
  doc: DocId;
  invite: OpId;
  secret: Uint8Array;
}

/** A link that is not a well-formed invite link. `code` crosses the worker boundary as is. */
export class InvalidLinkError extends Error {
  readonly code = 'InvalidLink';
  constructor(why: string) {
    super(`InvalidLink: this invite link is damaged or incomplete (${why})`);
    this.name = 'InvalidLinkError';
  }
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Map([...B64URL].map((c, i) => [c, i]));

export function base64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((bytes.length - i) * 8) / 6));
    for (let k = 0; k < chars; k++) out += B64URL[(n >> (18 - 6 * k)) & 63];
  }
  return out;
}

/** Strict decoder: alphabet, no padding, no impossible length, no non-zero trailing bits. */
export function fromBase64url(s: string): Uint8Array {
  if (s.length % 4 === 1) throw new InvalidLinkError('bad length');
  const out = new Uint8Array(Math.floor((s.length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (const c of s) {
    const v = B64_INDEX.get(c);
    if (v === undefined) throw new InvalidLinkError('unexpected character');
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
    }
  }
  // One encoding per byte string: leftover bits must be zero (otherwise two links would differ
  // in text yet carry the same invite, and a tampered character could go unnoticed).
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw new InvalidLinkError('non-canonical encoding');
  return out;
}

/** The payload for a set of invites (INV-5); `device`: an "Add device" link (PER-2). */
export function encodeInvitePayload(invites: readonly LinkInvite[], device = false): string {
  if (invites.length === 0 || invites.length > MAX_LINK_CALENDARS) {
    throw new RangeError(`an invite link carries 1 to ${MAX_LINK_CALENDARS} calendars`);
  }
  const out = new Uint8Array(2 + invites.length * ENTRY_BYTES);
  out[0] = device ? DEVICE_LINK_VERSION : INVITE_LINK_VERSION;
  out[1] = invites.length;
  invites.forEach((inv, i) => {
    const at = 2 + i * ENTRY_BYTES;
    if (inv.secret.length !== 32) throw new RangeError('an invite secret is 32 bytes');
    out.set(fromHex(inv.doc), at);
    out.set(fromHex(inv.invite), at + 16);
    out.set(inv.secret, at + 48);
  });
  return base64url(out);
}

export function inviteUrl(base: string, invites: readonly LinkInvite[], device = false): string {
  return `${normalizeBase(base)}/${JOIN_ROUTE}${encodeInvitePayload(invites, device)}`;
}

/** The app's base URL as given by the page: http(s), no query or fragment, no trailing slash. */
export function normalizeBase(base: string): string {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new RangeError(`not a URL: ${String(base).slice(0, 80)}`);
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.search !== '' || u.hash !== '') {
    throw new RangeError(`the link base must be an http(s) origin: ${String(base).slice(0, 80)}`);
  }
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

/**
 * Parses a whole link, its fragment (`#/join/...`), the route (`/join/...`) or the bare payload.
 * Throws InvalidLinkError for anything else.
 */
export function parseInviteLink(link: string): LinkInvite[] {
  return parseLink(link).invites;
}

/** The invites and whether the link is an "Add device" link (version 2, PER-2). */
export function parseLink(link: string): { device: boolean; invites: LinkInvite[] } {
  if (typeof link !== 'string' || link.length > 4096) throw new InvalidLinkError('not a link');
  const text = link.trim();
  const at = text.indexOf(JOIN_ROUTE);
  let payload: string;
  if (at >= 0) payload = text.slice(at + JOIN_ROUTE.length);
  else if (text.startsWith('/join/')) payload = text.slice('/join/'.length);
  else if (/^[A-Za-z0-9_-]+$/.test(text)) payload = text;
  else throw new InvalidLinkError('no #/join/ part');
  const bytes = fromBase64url(payload);
  if (bytes.length < 2) throw new InvalidLinkError('too short');
  if (bytes[0] !== INVITE_LINK_VERSION && bytes[0] !== DEVICE_LINK_VERSION) {
    throw new InvalidLinkError(`format version ${bytes[0]} is not supported; update the app`);
  }
  const n = bytes[1]!;
  if (n === 0 || n > MAX_LINK_CALENDARS) throw new InvalidLinkError(`${n} calendars`);
  if (bytes.length !== 2 + n * ENTRY_BYTES) throw new InvalidLinkError('wrong length');
  const out: LinkInvite[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const at = 2 + i * ENTRY_BYTES;
    const doc = toHex(bytes.subarray(at, at + 16)) as DocId;
    if (seen.has(doc)) throw new InvalidLinkError('a calendar appears twice');
    seen.add(doc);
    out.push({
      doc,
      invite: toHex(bytes.subarray(at + 16, at + 48)) as OpId,
      secret: bytes.slice(at + 48, at + 80),
    });
  }
  return { device: bytes[0] === DEVICE_LINK_VERSION, invites: out };
}
