// Invite links (INV-5): round trips, and strict refusal of every damaged or foreign link.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../engine/bytes.ts';
import type { DocId, OpId } from '../engine/ids.ts';
import {
  base64url,
  fromBase64url,
  InvalidLinkError,
  inviteUrl,
  type LinkInvite,
  MAX_LINK_CALENDARS,
  parseInviteLink,
  parseLink,
} from './invite-link.ts';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const inv = (seed: number): LinkInvite => ({
  doc: toHex(bytes(16, seed)) as DocId,
  invite: toHex(bytes(32, seed + 1)) as OpId,
  secret: bytes(32, seed + 2),
});

describe('invite links', () => {
  it('[INV-5] a link carries calendar, invite op and secret in its fragment and parses back exactly', () => {
    const list = [inv(1), inv(7), inv(9)];
    const url = inviteUrl('https://cal.example.org/', list);
    expect(url.startsWith('https://cal.example.org/#/join/')).toBe(true);
    expect(url.split('#')[0]).toBe('https://cal.example.org/'); // nothing secret before the fragment
    expect(parseInviteLink(url)).toEqual(list);
    expect(parseInviteLink(url.slice(url.indexOf('#')))).toEqual(list); // the fragment alone
    expect(parseInviteLink(url.slice(url.indexOf('#') + 1))).toEqual(list); // the route
    // 2 + 3 * 80 = 242 bytes -> 323 base64url characters.
    expect(url.length - url.indexOf('/join/') - 6).toBe(Math.ceil((242 * 4) / 3));
  });

  it('[PER-2] an Add device link is version 2 of the same layout; a share link stays version 1', () => {
    const list = [inv(3), inv(4)];
    const device = inviteUrl('https://cal.example.org', list, true);
    const share = inviteUrl('https://cal.example.org', list);
    expect(parseLink(device)).toEqual({ device: true, invites: list });
    expect(parseLink(share)).toEqual({ device: false, invites: list });
    expect(parseInviteLink(device)).toEqual(list);
    expect(fromBase64url(device.split('/join/')[1]!)[0]).toBe(2);
    expect(fromBase64url(share.split('/join/')[1]!)[0]).toBe(1);
  });

  it('[INV-5] base64url is RFC 4648 section 5 without padding and decodes canonically only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const s = base64url(b);
        expect(s).toMatch(/^[A-Za-z0-9_-]*$/);
        expect(s).toBe(Buffer.from(b).toString('base64url'));
        expect(fromBase64url(s)).toEqual(b);
      }),
    );
    expect(() => fromBase64url('AB')).toThrow(InvalidLinkError); // trailing bits set
    expect(fromBase64url('AA')).toEqual(new Uint8Array([0]));
  });

  it('[INV-5] damaged, truncated, foreign or oversized links are InvalidLink errors', () => {
    const good = inviteUrl('http://localhost:8787', [inv(3)]);
    const payload = good.slice(good.indexOf('/join/') + 6);
    const raw = fromBase64url(payload);
    const withBytes = (f: (b: Uint8Array) => Uint8Array) => `#/join/${base64url(f(raw.slice()))}`;
    const bad = [
      '',
      'https://example.org/',
      'https://example.org/#/week/2025-03-10',
      good.slice(0, -3),
      `${good}A`,
      `${good.slice(0, -1)}*`,
      `${good}=`,
      withBytes((b) => {
        b[0] = 3;
        return b;
      }),
      withBytes((b) => {
        b[1] = 0;
        return b;
      }),
      withBytes((b) => {
        b[1] = 2;
        return b;
      }),
      withBytes((b) => b.subarray(0, 50)),
      `#/join/${base64url(new Uint8Array([1, 2, ...raw.subarray(2), ...raw.subarray(2)]))}`, // same calendar twice
      'x'.repeat(5000),
    ];
    for (const link of bad) {
      expect(() => parseInviteLink(link), link.slice(0, 60)).toThrow(InvalidLinkError);
      try {
        parseInviteLink(link);
      } catch (e) {
        expect((e as InvalidLinkError).code).toBe('InvalidLink');
      }
    }
    expect(() => inviteUrl('https://x.org', [])).toThrow(RangeError);
    const many = Array.from({ length: MAX_LINK_CALENDARS + 1 }, (_, i) => inv(i * 5));
    expect(() => inviteUrl('https://x.org', many)).toThrow(RangeError);
    expect(() => inviteUrl('javascript:alert(1)', [inv(1)])).toThrow(RangeError);
    expect(() => inviteUrl('https://x.org/?a=1', [inv(1)])).toThrow(RangeError);
  });
});
