import { describe, expect, it } from 'vitest';
import type { DeviceInfo } from '../worker/api.ts';
import {
  cleanDeviceName,
  deviceLabel,
  formatExpiry,
  formatWhen,
  groupByPerson,
  isDeviceLinkPayload,
  isPlausiblePayload,
  joinFailure,
  MAX_DEVICE_NAME,
  MAX_PAYLOAD_CHARS,
  parsePage,
  personLabel,
  sortMembers,
  suggestDeviceName,
} from './devices.ts';

const opts = { locale: 'en-US', timeZone: 'UTC' };
const NOW = Date.UTC(2026, 10, 24, 12, 0, 0);

function dev(p: Partial<DeviceInfo> & { id: string }): DeviceInfo {
  return {
    name: '',
    fingerprint: 'ABCD-EFGH-JKMN-PQRS',
    addedAt: null,
    lastSeen: null,
    isThisDevice: false,
    role: null,
    mine: false,
    person: p.id,
    ...p,
  };
}

describe('page routes', () => {
  it('recognises the devices page and join links; leaves calendar routes alone', () => {
    expect(parsePage('#/devices')).toEqual({ kind: 'devices' });
    expect(parsePage('#/join/abc_DEF-123')).toEqual({ kind: 'join', payload: 'abc_DEF-123' });
    expect(parsePage('#/join/')).toEqual({ kind: 'join', payload: '' });
    expect(parsePage('#/join')).toEqual({ kind: 'join', payload: '' });
    expect(parsePage('#/week/2026-11-24')).toBeNull();
    expect(parsePage('')).toBeNull();
    expect(parsePage('#/devicesX')).toBeNull();
  });

  it('refuses payloads no invite link can have before they reach the worker', () => {
    expect(isPlausiblePayload('AQF0q9R_x-2')).toBe(true);
    expect(isPlausiblePayload('abc%20def')).toBe(false);
    expect(isPlausiblePayload('abc+/=')).toBe(false);
    expect(isPlausiblePayload('')).toBe(false);
    expect(isPlausiblePayload('abc def')).toBe(false);
    expect(isPlausiblePayload('abc\ndef')).toBe(false);
    expect(isPlausiblePayload('"abc"')).toBe(false);
    expect(isPlausiblePayload('a'.repeat(MAX_PAYLOAD_CHARS))).toBe(true);
    expect(isPlausiblePayload('a'.repeat(MAX_PAYLOAD_CHARS + 1))).toBe(false);
  });
});

describe('join errors', () => {
  it('says what each typed error means and whether retrying can help', () => {
    expect(joinFailure('InviteExpired', 'x')).toMatchObject({
      title: 'This invite has expired',
      retry: false,
    });
    expect(joinFailure('NotPermitted', 'x')).toMatchObject({
      retry: false,
      title: 'This invite no longer works',
    });
    expect(joinFailure('InviteUsed', 'x')).toMatchObject({
      title: 'This invite was already used',
      retry: false,
    });
    expect(joinFailure('InviteInvalid', 'x')).toMatchObject({
      title: 'This link is not a valid invite',
      retry: false,
    });
    expect(joinFailure('Malformed', 'x').retry).toBe(false);
    expect(joinFailure('InvalidLink', 'x').title).toBe('This link is not a valid invite');
    expect(joinFailure('Offline', 'x')).toMatchObject({ title: 'This device is offline', retry: true });
    expect(joinFailure('Timeout', 'x').retry).toBe(true);
    const net = joinFailure(undefined, 'relay unreachable');
    expect(net.retry).toBe(true);
    expect(net.detail).toContain('relay unreachable');
  });
});

describe('members and device names', () => {
  it('lists this device first, then by when devices were added, unknown last', () => {
    const list = [
      dev({ id: 'c', addedAt: null, name: 'Old phone' }),
      dev({ id: 'b', addedAt: 2000 }),
      dev({ id: 'a', addedAt: 3000, isThisDevice: true }),
      dev({ id: 'd', addedAt: 1000 }),
    ];
    expect(sortMembers(list).map((d) => d.id)).toEqual(['a', 'd', 'b', 'c']);
    expect(list.map((d) => d.id)).toEqual(['c', 'b', 'a', 'd']); // input untouched
  });

  it('names an unnamed device by its fingerprint', () => {
    expect(deviceLabel({ name: '  ', fingerprint: '7K2M-Q9TX-4HDA-R1CE' })).toBe('Unnamed device 7K2M');
    expect(deviceLabel({ name: 'Laptop', fingerprint: '7K2M-Q9TX-4HDA-R1CE' })).toBe('Laptop');
  });

  it('cleans names: no control characters, collapsed spaces, bounded length', () => {
    expect(cleanDeviceName('  Work\nlaptop\u0007  ')).toBe('Work laptop');
    expect(cleanDeviceName('x'.repeat(200))).toHaveLength(MAX_DEVICE_NAME);
    expect(cleanDeviceName('\u0000\t')).toBe('');
  });

  it('suggests a name from the user agent', () => {
    const android =
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36';
    const iphone =
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';
    const firefoxWin = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0';
    const edgeMac =
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0';
    expect(suggestDeviceName(android)).toBe('Chrome on Android');
    expect(suggestDeviceName(iphone)).toBe('Safari on iPhone');
    expect(suggestDeviceName(firefoxWin)).toBe('Firefox on Windows');
    expect(suggestDeviceName(edgeMac)).toBe('Edge on Mac');
    expect(suggestDeviceName('')).toBe('Browser');
  });
});

describe('persons', () => {
  it('[PER-6] groups devices by person: mine first as "You", then each other person with its devices', () => {
    const list = [
      dev({ id: 'b1', name: 'Sam phone', person: 'b1', addedAt: 3 }),
      dev({ id: 'a2', name: 'Phone', mine: true, person: 'a1', addedAt: 2 }),
      dev({ id: 'b2', name: 'Sam tablet', person: 'b1', addedAt: 4 }),
      dev({ id: 'c1', name: 'Stranger', person: 'c1', addedAt: 1 }),
      dev({ id: 'a1', name: 'Laptop', mine: true, isThisDevice: true, person: 'a1', addedAt: 5 }),
    ];
    const groups = groupByPerson(list);
    expect(groups.map((g) => g.devices.map((d) => d.id))).toEqual([['a1', 'a2'], ['c1'], ['b1', 'b2']]);
    expect(groups.map(personLabel)).toEqual([
      'You',
      'Another person (Stranger)',
      'Another person (Sam phone, Sam tablet)',
    ]);
  });

  it('[PER-2] tells an Add device link (version 2) from a share link (version 1) by its first byte', () => {
    const payload = (v: number) => Buffer.from([v, 1, ...new Array(80).fill(7)]).toString('base64url');
    expect(isDeviceLinkPayload(payload(2))).toBe(true);
    expect(isDeviceLinkPayload(payload(1))).toBe(false);
    expect(isDeviceLinkPayload('')).toBe(false);
    expect(isDeviceLinkPayload('A*')).toBe(false);
  });
});

describe('dates', () => {
  it('last seen: relative when recent, a date otherwise, Never when unknown', () => {
    expect(formatWhen(null, NOW, opts)).toBe('Never');
    expect(formatWhen(NOW - 10_000, NOW, opts)).toBe('just now');
    expect(formatWhen(NOW + 30_000, NOW, opts)).toBe('just now'); // a peer's clock slightly ahead
    expect(formatWhen(NOW - 5 * 60_000, NOW, opts)).toBe('5 min ago');
    expect(formatWhen(NOW - 3 * 3_600_000, NOW, opts)).toBe('3 h ago');
    expect(formatWhen(Date.UTC(2026, 10, 20, 9, 30), NOW, opts)).toMatch(/^Nov 20, 2026.*9:30/);
    expect(formatWhen(NOW + 2 * 3_600_000, NOW, opts)).toMatch(/^Nov 24, 2026/); // far future: a date
  });

  it('expiry: time left and the moment, or Expired', () => {
    expect(formatExpiry(NOW + 24 * 3_600_000, NOW, opts)).toMatch(/^Expires in 24 hours \(Nov 25, 2026/);
    expect(formatExpiry(NOW + 90_000, NOW, opts)).toMatch(/^Expires in 2 minutes/);
    expect(formatExpiry(NOW + 60_000, NOW, opts)).toMatch(/^Expires in 1 minute \(/);
    expect(formatExpiry(NOW + 7 * 86_400_000, NOW, opts)).toMatch(/^Expires in 7 days/);
    expect(formatExpiry(NOW - 1, NOW, opts)).toMatch(/^Expired \(Nov 24, 2026/);
  });
});
