// The session's messages (SYNC-2, SYNC-9, CLK-*): Challenge, Auth and Welcome open a connection,
// Clock and Error speak about it. Their layouts, encoding and decoding.

import { type DeviceId, type DocId, fromUtf8, type OpId, utf8 } from '../engine/index.ts';
import {
  type MessageOf,
  malformed,
  SYNC_LIMITS,
  SyncErrorCode,
  type SyncErrorName,
  type SyncMessage,
  SyncProtocolError,
} from './messages.ts';
import { fixed, hexToBytes, optionalFixed } from './messages-ids.ts';
import { fieldsOf, type Obj, type Payload, type Table } from './messages-table.ts';

export type SessionType = 'challenge' | 'auth' | 'welcome' | 'error' | 'clock';

/** Layouts, in schemas/sync.fbs declaration order. */
export const SESSION_TABLES: Record<SessionType, Table> = {
  challenge: [
    ['version', 'u16'],
    ['challenge', 'bytes'],
    ['relayTime', 'u64'],
  ],
  auth: [
    ['version', 'u16'],
    ['device', 'bytes'],
    ['sig', 'bytes'],
    ['deviceTime', 'u64'],
  ],
  welcome: [
    ['device', 'bytes'],
    ['relayTime', 'u64'],
    ['clockOffset', 'i64'],
    ['maxSkew', 'u64'],
  ],
  error: [
    ['code', 'u16'],
    ['message', 'bytes'],
    ['op', 'bytes'],
    ['doc', 'bytes'],
    ['retryAfterMs', 'u32'],
  ],
  clock: [
    ['clockOffset', 'i64'],
    ['maxSkew', 'u64'],
  ],
};

const CODE_NAMES = new Map<number, SyncErrorName>(
  Object.entries(SyncErrorCode).map(([k, v]) => [v, k as SyncErrorName]),
);

export function encodeSession(m: MessageOf<SessionType>): Payload {
  switch (m.type) {
    case 'challenge':
      return { o: { ...m } };
    case 'auth':
      return { o: { ...m, device: hexToBytes(m.device, 32, 'device') } };
    case 'welcome':
      return { o: { ...m, device: hexToBytes(m.device, 32, 'device') } };
    case 'error':
      return {
        o: {
          code: SyncErrorCode[m.code],
          message: utf8(m.message.slice(0, SYNC_LIMITS.maxMessageBytes / 4)),
          op: m.op === null ? new Uint8Array(0) : hexToBytes(m.op, 32, 'op'),
          doc: m.doc === null ? new Uint8Array(0) : hexToBytes(m.doc, 16, 'doc'),
          retryAfterMs: m.retryAfterMs,
        },
      };
    case 'clock':
      return { o: { ...m } };
  }
}

export function decodeSession(type: SessionType, o: Obj): SyncMessage {
  const { bytes, num } = fieldsOf(o);
  switch (type) {
    case 'challenge': {
      const challenge = bytes('challenge');
      if (challenge.length !== 32) malformed('challenge must be 32 bytes');
      return { type, version: num('version'), challenge, relayTime: num('relayTime') };
    }
    case 'auth': {
      const sig = bytes('sig');
      if (sig.length !== 64) malformed('signature must be 64 bytes');
      return {
        type,
        version: num('version'),
        device: fixed<DeviceId>(bytes('device'), 32, 'device'),
        sig,
        deviceTime: num('deviceTime'),
      };
    }
    case 'welcome':
      return {
        type,
        device: fixed<DeviceId>(bytes('device'), 32, 'device'),
        relayTime: num('relayTime'),
        clockOffset: num('clockOffset'),
        maxSkew: num('maxSkew'),
      };
    case 'error':
      return decodeError(o);
    case 'clock':
      return { type, clockOffset: num('clockOffset'), maxSkew: num('maxSkew') };
  }
}

function decodeError(o: Obj): SyncMessage {
  const { bytes, num } = fieldsOf(o);
  const code = CODE_NAMES.get(num('code'));
  if (code === undefined) malformed(`unknown error code ${num('code')}`);
  const msg = bytes('message');
  if (msg.length > SYNC_LIMITS.maxMessageBytes) throw new SyncProtocolError('TooLarge', 'error message');
  let message: string;
  try {
    message = fromUtf8(msg);
  } catch {
    malformed('error message is not UTF-8');
  }
  return {
    type: 'error',
    code,
    message,
    op: optionalFixed<OpId>(bytes('op'), 32, 'error op'),
    doc: optionalFixed<DocId>(bytes('doc'), 16, 'error doc'),
    retryAfterMs: num('retryAfterMs'),
  };
}
