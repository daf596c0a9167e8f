// The sync protocol's messages (schemas/sync.fbs; docs/PROTOCOL.md SYNC-*): the one definition of
// each message, its wire number, the error codes and the wire limits. Shared by the client sync loop
// and the relay. The codec (messages-codec.ts) turns them into frames and back.

import type { DeviceId, DocId, OpId } from '../engine/index.ts';

export const PROTOCOL_VERSION = 1;
export const FRAME_FILE_ID = 'LDS1';

/** Wire limits both sides enforce (SYNC-9). The relay may lower maxFrameBytes by configuration. */
export const SYNC_LIMITS = {
  /** Whole WebSocket message. A page of ops stays below this. */
  maxFrameBytes: 1024 * 1024,
  /** Ops in one Push or Ops frame. */
  maxOpsPerFrame: 512,
  /** Ids in one Want / Heads / CaughtUp frame. */
  maxIdsPerFrame: 4096,
  /** Acks in one Ack frame. */
  maxAcksPerFrame: 4096,
  /** Bytes of an error message text. */
  maxMessageBytes: 1024,
  /** A snapshot's signed manifest (SYNC-13): 64 frontier ids and 256 chunk hashes fit in 16 KiB. */
  maxManifestBytes: 64 * 1024,
  /** One snapshot chunk (SYNC-13): four fit in a frame; the engine's chunks are at most this. */
  maxChunkBytes: 256 * 1024,
  /** One signed endorsement (SYNC-14). */
  maxEndorsementBytes: 4 * 1024,
  /** Endorsements in one SnapshotOffer (SYNC-15). */
  maxEndorsementsPerOffer: 64,
} as const;

/** Wire numbers of MsgType (schemas/sync.fbs). */
export const MsgType = {
  challenge: 1,
  auth: 2,
  welcome: 3,
  subscribe: 4,
  push: 5,
  ack: 6,
  error: 7,
  ops: 8,
  caughtUp: 9,
  heads: 10,
  want: 11,
  held: 12,
  clock: 13,
  snapshotPut: 14,
  snapshotChunk: 15,
  endorse: 16,
  snapshotStored: 17,
  snapshotOffer: 18,
} as const;

/** Wire numbers of ErrorCode (schemas/sync.fbs). */
export const SyncErrorCode = {
  Malformed: 1,
  TooLarge: 2,
  Unsupported: 3,
  BadSignature: 4,
  BadBodyHash: 5,
  WrongDoc: 6,
  UnknownDoc: 7,
  NotMember: 8,
  ClockRule: 9,
  ChainRule: 10,
  PendingFull: 11,
  Storage: 12,
  InviteInvalid: 13,
  InviteExpired: 14,
  InviteUsed: 15,
  NotPermitted: 16,
  RateLimited: 20,
  AuthRequired: 21,
  AuthFailed: 22,
  VersionMismatch: 23,
  HeldFull: 24,
  Internal: 25,
  ShuttingDown: 26,
} as const;
export type SyncErrorName = keyof typeof SyncErrorCode;

export interface AckEntry {
  doc: DocId;
  op: OpId;
  seq: number;
}

export interface SeqOp {
  /** Relay seq, or 0 when sent outside seq order (an answer to Want). */
  seq: number;
  bytes: Uint8Array;
}

export type SyncMessage =
  | { type: 'challenge'; version: number; challenge: Uint8Array; relayTime: number }
  | { type: 'auth'; version: number; device: DeviceId; sig: Uint8Array; deviceTime: number }
  | { type: 'welcome'; device: DeviceId; relayTime: number; clockOffset: number; maxSkew: number }
  | {
      type: 'subscribe';
      doc: DocId;
      cursor: number;
      /** A device that is not a member yet proves it holds an invite of the calendar (INV-6). */
      invite?: { op: OpId; sig: Uint8Array };
      /** SYNC-15: a device holding nothing of the calendar may start from a snapshot. */
      fromSnapshot?: true;
    }
  | { type: 'push'; ops: Uint8Array[] }
  | { type: 'ack'; acks: AckEntry[] }
  | {
      type: 'error';
      code: SyncErrorName;
      message: string;
      op: OpId | null;
      doc: DocId | null;
      retryAfterMs: number;
    }
  | { type: 'ops'; doc: DocId; ops: SeqOp[] }
  | { type: 'caughtUp'; doc: DocId; seq: number; root: string; heads: OpId[] }
  | { type: 'heads'; doc: DocId; root: string; heads: OpId[] }
  | { type: 'want'; doc: DocId; ids: OpId[] }
  | { type: 'held'; doc: DocId; op: OpId; releaseAt: number; clockOffset: number }
  | { type: 'clock'; clockOffset: number; maxSkew: number }
  | { type: 'snapshotPut'; doc: DocId; manifest: Uint8Array }
  | { type: 'snapshotChunk'; doc: DocId; snapshot: string; index: number; bytes: Uint8Array }
  | { type: 'endorse'; doc: DocId; endorsement: Uint8Array }
  | { type: 'snapshotStored'; doc: DocId; snapshot: string; chunks: number; complete: boolean }
  | {
      type: 'snapshotOffer';
      doc: DocId;
      manifest: Uint8Array;
      endorsements: Uint8Array[];
      /** A start (SYNC-15): the tail streams from this seq; 0: offered to endorse (SNAP-15). */
      seq: number;
      /** A start: membership ops that may give the device the snapshot's content key. */
      keySources: Uint8Array[];
    };

export type SyncMessageType = SyncMessage['type'];
export type MessageOf<T extends SyncMessageType> = Extract<SyncMessage, { type: T }>;

/** A frame that cannot be decoded. `code` is what the relay answers with (SYNC-9). */
export class SyncProtocolError extends Error {
  readonly code: SyncErrorName;
  constructor(code: SyncErrorName, message: string) {
    super(`${code}: ${message}`);
    this.name = 'SyncProtocolError';
    this.code = code;
  }
}

/** Throws the Malformed error every decode step uses. */
export function malformed(what: string): never {
  throw new SyncProtocolError('Malformed', what);
}
