// Pure helpers of the devices and sharing UI: page routes (#/devices, #/join/<payload>), invite
// error texts, member ordering, and how dates, expiries and suggested device names are shown.
import type { DeviceInfo } from '../worker/api.ts';
import { formatDateTime as formatAppDateTime } from './time/zoned.ts';

/** Pages that are not a calendar view. The calendar views keep their own `#/<view>/<date>` routes. */
export type Page = { kind: 'devices' } | { kind: 'join'; payload: string };

export const DEVICES_HASH = '#/devices';

/**
 * The join payload is base64url (docs/PROTOCOL.md INV-5; decoded and verified by the worker), so
 * anything else is refused before it reaches the worker: a link mangled by a chat app (spaces,
 * quotes, percent-escapes, a cut-off line) gets "invalid link" at once instead of a round trip.
 */
const PAYLOAD_CHARS = /^[A-Za-z0-9_-]+$/;
/** The worker refuses links over 4,096 characters; the payload is shorter still. */
export const MAX_PAYLOAD_CHARS = 4096;

/** "#/devices" and "#/join/<payload>"; null for anything else (calendar routes, garbage). Never throws. */
export function parsePage(hash: string): Page | null {
  if (hash === DEVICES_HASH || hash === `${DEVICES_HASH}/`) return { kind: 'devices' };
  if (hash.startsWith('#/join/')) return { kind: 'join', payload: hash.slice('#/join/'.length) };
  if (hash === '#/join') return { kind: 'join', payload: '' };
  return null;
}

export function isPlausiblePayload(payload: string): boolean {
  return payload.length > 0 && payload.length <= MAX_PAYLOAD_CHARS && PAYLOAD_CHARS.test(payload);
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether a join payload is an "Add device" link (docs/PROTOCOL.md PER-2: format version 2, the
 * first byte, i.e. the first 8 bits of the base64url text). The worker parses and checks the rest.
 */
export function isDeviceLinkPayload(payload: string): boolean {
  if (payload.length < 2) return false;
  const hi = B64URL.indexOf(payload[0]!);
  const lo = B64URL.indexOf(payload[1]!);
  return hi >= 0 && lo >= 0 && ((hi << 2) | (lo >> 4)) === 2;
}

export interface JoinFailure {
  title: string;
  detail: string;
  /** Whether trying the same link again can help (network trouble), or a new link is needed. */
  retry: boolean;
}

/** What a failed join means for the person holding the link, by the typed error code. */
export function joinFailure(code: string | undefined, message: string): JoinFailure {
  switch (code) {
    case 'InviteExpired':
      return {
        title: 'This invite has expired',
        detail: 'Invite links work for a limited time. Ask for a new link.',
        retry: false,
      };
    case 'InviteUsed':
      return {
        title: 'This invite was already used',
        detail: 'Each invite link works once. Ask for a new link.',
        retry: false,
      };
    case 'InviteInvalid':
    case 'InvalidLink':
    case 'Malformed':
    case 'InvalidArgument':
    case 'WrongDoc':
    case 'UnknownDoc':
      return {
        title: 'This link is not a valid invite',
        detail:
          'It may be incomplete or altered. Check that you opened the whole link, or ask for a new one.',
        retry: false,
      };
    case 'NotPermitted':
      return {
        title: 'This invite no longer works',
        detail:
          'Whoever made the link can no longer share this calendar. Ask one of its managers for a new link.',
        retry: false,
      };
    case 'NotMember':
      return {
        title: 'This device cannot join',
        detail: 'The calendar no longer accepts this device (it may have been removed). Ask for a new link.',
        retry: false,
      };
    case 'AlreadyLinked':
      return {
        title: 'This device is already linked to other devices',
        detail:
          'A device belongs to one person. Remove it from your other devices first (Devices page, “Remove from all calendars”), or open the link on a new device.',
        retry: false,
      };
    case 'Offline':
      return {
        title: 'This device is offline',
        detail:
          'Joining needs the server once, to fetch the calendar. Connect to the internet and try again.',
        retry: true,
      };
    case 'Timeout':
      return {
        title: 'The server did not answer in time',
        detail: 'Check the connection and try again; the link still works if nobody else used it.',
        retry: true,
      };
    case 'Storage':
      return { title: 'Could not save the calendar on this device', detail: message, retry: true };
    default:
      return {
        title: 'Joining did not finish',
        detail: `${message || 'Unknown error.'} Check the connection and try again.`,
        retry: true,
      };
  }
}

/** This device first, then by when they were added (unknown last), then by name. */
export function sortMembers(members: readonly DeviceInfo[]): DeviceInfo[] {
  return [...members].sort((a, b) => {
    if (a.isThisDevice !== b.isThisDevice) return a.isThisDevice ? -1 : 1;
    const ta = a.addedAt ?? Number.POSITIVE_INFINITY;
    const tb = b.addedAt ?? Number.POSITIVE_INFINITY;
    if (ta !== tb) return ta < tb ? -1 : 1;
    return a.name.localeCompare(b.name) || a.id.localeCompare(b.id);
  });
}

export interface PersonGroup {
  /** The person's key (DeviceInfo.person). */
  key: string;
  mine: boolean;
  devices: DeviceInfo[];
}

/**
 * Devices grouped by person (PER-6): mine first ("You"), then other people by their first
 * device's place in `sortMembers`; devices within a group in `sortMembers` order.
 */
export function groupByPerson(members: readonly DeviceInfo[]): PersonGroup[] {
  const groups = new Map<string, PersonGroup>();
  for (const d of sortMembers(members)) {
    const key = d.mine ? 'mine' : d.person;
    let g = groups.get(key);
    if (g === undefined) {
      g = { key: d.mine ? d.person : key, mine: d.mine, devices: [] };
      groups.set(key, g);
    }
    g.devices.push(d);
  }
  return [...groups.values()].sort((a, b) => Number(b.mine) - Number(a.mine));
}

/** A group's heading: "You", or "Another person" with the names of its devices. */
export function personLabel(g: PersonGroup): string {
  if (g.mine) return 'You';
  return `Another person (${g.devices.map(deviceLabel).join(', ')})`;
}

/** A device's name for people: its own name, or a placeholder built from its fingerprint. */
export function deviceLabel(d: Pick<DeviceInfo, 'name' | 'fingerprint'>): string {
  const n = d.name.trim();
  return n !== '' ? n : `Unnamed device ${d.fingerprint.slice(0, 4)}`;
}

export interface FormatOptions {
  locale?: string;
  timeZone?: string;
}

/** "just now", "5 min ago", "3 h ago", else a date and time; "Never" for null. */
export function formatWhen(ms: number | null, now: number, opts: FormatOptions = {}): string {
  if (ms === null || !Number.isFinite(ms)) return 'Never';
  const d = now - ms;
  if (d >= -60_000 && d < 60_000) return 'just now';
  if (d > 0 && d < 3_600_000) return `${Math.floor(d / 60_000)} min ago`;
  if (d > 0 && d < 24 * 3_600_000) return `${Math.floor(d / 3_600_000)} h ago`;
  return formatDateTime(ms, opts);
}

export function formatDateTime(ms: number, opts: FormatOptions = {}): string {
  // Without an explicit locale (tests pass one), the app's one display format ([UI-15]).
  if (opts.locale === undefined) return formatAppDateTime(ms, opts.timeZone);
  return new Date(ms).toLocaleString(opts.locale, {
    dateStyle: 'medium',
    timeStyle: 'short',
    ...(opts.timeZone ? { timeZone: opts.timeZone } : {}),
  });
}

/** "Expires in 24 hours (Nov 25, 2026, 2:00 PM)" or "Expired (…)". */
export function formatExpiry(expiresAt: number, now: number, opts: FormatOptions = {}): string {
  const at = formatDateTime(expiresAt, opts);
  const left = expiresAt - now;
  if (left <= 0) return `Expired (${at})`;
  const minutes = Math.ceil(left / 60_000);
  let span: string;
  if (minutes < 60) span = `${minutes} ${minutes === 1 ? 'minute' : 'minutes'}`;
  else {
    const hours = Math.round(left / 3_600_000);
    span =
      hours < 48 ? `${hours} ${hours === 1 ? 'hour' : 'hours'}` : `${Math.round(left / 86_400_000)} days`;
  }
  return `Expires in ${span} (${at})`;
}

/**
 * A name for a device that has none yet ("Chrome on Android"), from the user agent. Only a
 * suggestion shown in the name field: the person can change it before it is sealed into the op.
 */
export function suggestDeviceName(ua: string): string {
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /OPR\//.test(ua)
      ? 'Opera'
      : /Firefox\//.test(ua)
        ? 'Firefox'
        : /(Chrome|Chromium|CriOS)\//.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua)
            ? 'Safari'
            : 'Browser';
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone/.test(ua)
      ? 'iPhone'
      : /iPad/.test(ua)
        ? 'iPad'
        : /Mac OS X|Macintosh/.test(ua)
          ? 'Mac'
          : /Windows/.test(ua)
            ? 'Windows'
            : /CrOS/.test(ua)
              ? 'ChromeOS'
              : /Linux/.test(ua)
                ? 'Linux'
                : '';
  return os ? `${browser} on ${os}` : browser;
}

/** Device names are sealed into ops: keep them short and printable. */
export const MAX_DEVICE_NAME = 64;

export function cleanDeviceName(raw: string): string {
  // Control characters (incl. newlines) would break every list that shows the name.
  return raw
    .replace(/\p{Cc}/gu, ' ')
    .trim()
    .replace(/\s+/g, ' ')
    .slice(0, MAX_DEVICE_NAME);
}
