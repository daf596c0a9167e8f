// Codec for the sync protocol's frames (schemas/sync.fbs; docs/PROTOCOL.md SYNC-*): a message in a
// Frame and back. Every decode is size-limited and bounds-checked before a byte is read, and fails
// with SyncProtocolError: a malformed frame never throws anything else and never yields a half-read
// message (SYNC-9). The messages themselves are defined in messages.ts, their layouts per family.

import type { TableSpec } from '../engine/index.ts';
import {
  FRAME_FILE_ID,
  MsgType,
  SYNC_LIMITS,
  type SyncMessage,
  type SyncMessageType,
  SyncProtocolError,
} from './messages.ts';
import { decodeLog, encodeLog, LOG_TABLES } from './messages-log.ts';
import { decodeSession, encodeSession, SESSION_TABLES } from './messages-session.ts';
import { decodeSnapshot, encodeSnapshot, SNAPSHOT_TABLES } from './messages-snapshot.ts';
import { decodeTable, encodeTable, type Payload, specOf, type Table } from './messages-table.ts';

// Layouts, in schemas/sync.fbs declaration order.
const FRAME: Table = [
  ['type', 'u8'],
  ['payload', 'bytes'],
];
const TABLES: Record<SyncMessageType, Table> = { ...SESSION_TABLES, ...LOG_TABLES, ...SNAPSHOT_TABLES };

const FRAME_SPEC = specOf(FRAME);
const SPECS = Object.fromEntries(Object.entries(TABLES).map(([k, t]) => [k, specOf(t)])) as Record<
  SyncMessageType,
  TableSpec
>;
const TYPE_NAMES = new Map<number, SyncMessageType>(
  Object.entries(MsgType).map(([k, v]) => [v, k as SyncMessageType]),
);

/** Exposed for the layout test against the flatc-generated classes. */
export const LAYOUTS = { FRAME, TABLES } as const;

/** Encodes one message as a Frame. Throws TypeError on an invalid message (a local bug). */
export function encodeMessage(m: SyncMessage): Uint8Array {
  const { o, hint = 256 } = payloadOf(m);
  const payload = encodeTable(TABLES[m.type], o, undefined, hint);
  return encodeTable(FRAME, { type: MsgType[m.type], payload }, FRAME_FILE_ID, payload.length + 64);
}

function payloadOf(m: SyncMessage): Payload {
  switch (m.type) {
    case 'challenge':
    case 'auth':
    case 'welcome':
    case 'error':
    case 'clock':
      return encodeSession(m);
    case 'snapshotPut':
    case 'snapshotChunk':
    case 'endorse':
    case 'snapshotStored':
    case 'snapshotOffer':
      return encodeSnapshot(m);
    default:
      return encodeLog(m);
  }
}

/**
 * Decodes one frame. Throws SyncProtocolError: TooLarge above `maxFrameBytes`, Unsupported for
 * an unknown message type, Malformed for anything not exactly as schemas/sync.fbs and
 * docs/PROTOCOL.md SYNC-9 say.
 */
export function decodeMessage(
  frame: Uint8Array,
  maxFrameBytes: number = SYNC_LIMITS.maxFrameBytes,
  only?: readonly SyncMessageType[],
): SyncMessage {
  if (frame.length > maxFrameBytes) {
    throw new SyncProtocolError('TooLarge', `frame is ${frame.length} bytes (max ${maxFrameBytes})`);
  }
  const f = decodeTable(frame, FRAME, FRAME_SPEC, 'Frame', FRAME_FILE_ID, true);
  const type = TYPE_NAMES.get(f['type'] as number);
  if (type === undefined) throw new SyncProtocolError('Unsupported', `message type ${String(f['type'])}`);
  // SYNC-12: a type the receiver does not expect yet (before Welcome: anything but Auth on the
  // relay, anything but Challenge/Welcome/Error on the device) is refused unread.
  if (only !== undefined && !only.includes(type)) {
    throw new SyncProtocolError('Unsupported', `${type} is not expected here`);
  }
  const o = decodeTable(f['payload'] as Uint8Array, TABLES[type], SPECS[type], type);
  switch (type) {
    case 'challenge':
    case 'auth':
    case 'welcome':
    case 'error':
    case 'clock':
      return decodeSession(type, o);
    case 'snapshotPut':
    case 'snapshotChunk':
    case 'endorse':
    case 'snapshotStored':
    case 'snapshotOffer':
      return decodeSnapshot(type, o);
    default:
      return decodeLog(type, o);
  }
}
