// Wire constants both ends share beyond the frame codec: WebSocket close codes, which error codes
// a device retries (transient) and which it keeps for good (permanent), and the mapping of engine
// error codes onto the wire. One definition, used by the relay (src/server) and the device
// (src/sync/client.ts) alike.

import type { SyncErrorName, SyncMessageType } from './messages.ts';
import { SyncErrorCode } from './messages.ts';

/** WebSocket close codes (4000-4999 are for applications; docs/PROTOCOL.md §14). */
export const CloseCode = {
  /** The relay is shutting down (RFC 6455 "going away"). */
  ShuttingDown: 1001,
  /** The device closes a connection whose relay sent a malformed frame or that failed locally. */
  ClientError: 4000,
  AuthFailed: 4001,
  AuthTimeout: 4002,
  VersionMismatch: 4003,
  /** Before Welcome a socket may send one Auth frame, small; anything else closes it (SYNC-12). */
  PreAuthViolation: 4004,
  /** Too many unauthenticated sockets, or this device has too many connections (RELAY-20). */
  Busy: 4005,
  /** The connection queued more unhandled input or unread output than its budget (RELAY-20). */
  OverBudget: 4006,
} as const;

/** Op errors a retry on a later connection may cure; everything else is permanent for this relay. */
export const TRANSIENT_ERRORS: ReadonlySet<SyncErrorName> = new Set<SyncErrorName>([
  'RateLimited',
  'Storage',
  'ShuttingDown',
  'PendingFull',
  'Internal',
]);

export function isTransient(code: SyncErrorName): boolean {
  return TRANSIENT_ERRORS.has(code);
}

/** An engine error code as the wire names it (the engine's validity errors keep their names). */
export function wireCode(code: string): SyncErrorName {
  return code in SyncErrorCode && (SyncErrorCode[code as SyncErrorName] as number) < 20
    ? (code as SyncErrorName)
    : 'Internal';
}

/** What each side decodes before Welcome (SYNC-12): the relay only Auth, the device only these. */
export const RELAY_PRE_AUTH: readonly SyncMessageType[] = ['auth'];
export const DEVICE_PRE_WELCOME: readonly SyncMessageType[] = ['challenge', 'welcome', 'error'];
