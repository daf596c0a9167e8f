// Codec for the sync protocol's frames (schemas/sync.fbs; docs/PROTOCOL.md SYNC-*). Shared by
// the client sync loop and the relay. Every decode is size-limited and bounds-checked
// (src/engine/flatverify.ts) before a byte is read, and fails with SyncProtocolError: a
// malformed frame never throws anything else and never yields a half-read message (SYNC-9).

import { Builder, ByteBuffer } from 'flatbuffers';
import type { DeviceId, DocId, OpId } from '../engine/index.ts';
import {
  FlatVerifyError,
  fromUtf8,
  type TableSpec,
  taggedHash,
  toHex,
  utf8,
  verifyRoot,
} from '../engine/index.ts';

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

const CODE_NAMES = new Map<number, SyncErrorName>(
  Object.entries(SyncErrorCode).map(([k, v]) => [v, k as SyncErrorName]),
);

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

function malformed(what: string): never {
  throw new SyncProtocolError('Malformed', what);
}

// ---------------------------------------------------------------------------------------------
// A table descriptor drives the encoder, the decoder and the verifier alike, so the three cannot
// disagree. Field order = declaration order in schemas/sync.fbs (the vtable slot); a test checks
// the layout against the flatc-generated classes.

type Scalar = 'u8' | 'u16' | 'u32' | 'u64' | 'i64';
type Field =
  | readonly [name: string, kind: Scalar | 'bytes']
  | readonly [name: string, kind: 'tables', of: Table, max: number];
type Table = readonly Field[];

const WIDTH: Record<Scalar, 1 | 2 | 4 | 8> = { u8: 1, u16: 2, u32: 4, u64: 8, i64: 8 };

function specOf(t: Table): TableSpec {
  return t.map((f) =>
    f[1] === 'tables' ? { table: specOf(f[2]) } : f[1] === 'bytes' ? 'bytes' : WIDTH[f[1]],
  );
}

type Obj = Record<string, unknown>;

function build(b: Builder, t: Table, o: Obj): number {
  // Vectors first: a flatbuffer table cannot be open while its children are written.
  const offs: number[] = t.map((f) => {
    const v = o[f[0]];
    if (f[1] === 'bytes') return b.createByteVector(v as Uint8Array);
    if (f[1] === 'tables') {
      const children = (v as Obj[]).map((c) => build(b, f[2], c));
      b.startVector(4, children.length, 4);
      for (let i = children.length - 1; i >= 0; i--) b.addOffset(children[i]!);
      return b.endVector();
    }
    return 0;
  });
  b.startObject(t.length);
  t.forEach((f, i) => {
    const v = o[f[0]];
    switch (f[1]) {
      case 'u8':
        b.addFieldInt8(i, v as number, 0);
        break;
      case 'u16':
        b.addFieldInt16(i, v as number, 0);
        break;
      case 'u32':
        b.addFieldInt32(i, v as number, 0);
        break;
      case 'u64':
      case 'i64':
        b.addFieldInt64(i, BigInt(v as number), 0n);
        break;
      default:
        b.addFieldOffset(i, offs[i]!, 0);
    }
  });
  return b.endObject();
}

/**
 * Bytes a decode may still copy. Flatbuffer offsets may alias: many vector entries can point at
 * one table, so a small frame could name gigabytes of fields. Every field read is charged here;
 * what a frame's fields add up to never exceeds the frame itself (SYNC-12).
 */
interface Budget {
  left: number;
}

function read(bb: ByteBuffer, pos: number, t: Table, budget: Budget, view = false): Obj {
  const o: Obj = {};
  t.forEach((f, i) => {
    const off = bb.__offset(pos, 4 + i * 2);
    const at = pos + off;
    switch (f[1]) {
      case 'u8':
        o[f[0]] = off ? bb.readUint8(at) : 0;
        break;
      case 'u16':
        o[f[0]] = off ? bb.readUint16(at) : 0;
        break;
      case 'u32':
        o[f[0]] = off ? bb.readUint32(at) : 0;
        break;
      case 'u64': {
        const v = off ? bb.readUint64(at) : 0n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) malformed(`${f[0]} exceeds 2^53-1`);
        o[f[0]] = Number(v);
        break;
      }
      case 'i64': {
        const v = off ? bb.readInt64(at) : 0n;
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          malformed(`${f[0]} outside ±2^53-1`);
        }
        o[f[0]] = Number(v);
        break;
      }
      case 'bytes': {
        if (!off) {
          o[f[0]] = new Uint8Array(0);
          break;
        }
        const vec = bb.__vector(at);
        const len = bb.__vector_len(at);
        budget.left -= len;
        if (budget.left < 0) malformed(`${f[0]}: fields overlap (more bytes than the frame holds)`);
        // slice: the message owns its bytes and does not pin the frame's buffer (the Frame's own
        // payload is only a view: it is decoded at once and dropped).
        o[f[0]] = view ? bb.bytes().subarray(vec, vec + len) : bb.bytes().slice(vec, vec + len);
        break;
      }
      case 'tables': {
        const list: Obj[] = [];
        if (off) {
          const vec = bb.__vector(at);
          const n = bb.__vector_len(at);
          // Counted before a single entry is built (SYNC-12).
          if (n > f[3]) throw new SyncProtocolError('TooLarge', `${n} entries in ${f[0]} (max ${f[3]})`);
          budget.left -= n * 4;
          if (budget.left < 0) malformed(`${f[0]}: fields overlap (more bytes than the frame holds)`);
          for (let k = 0; k < n; k++) list.push(read(bb, bb.__indirect(vec + k * 4), f[2], budget));
        }
        o[f[0]] = list;
        break;
      }
    }
  });
  return o;
}

function encodeTable(t: Table, o: Obj, fileId?: string, sizeHint = 256): Uint8Array {
  const b = new Builder(sizeHint);
  b.finish(build(b, t, o), fileId);
  return b.asUint8Array().slice();
}

function decodeTable(
  buf: Uint8Array,
  t: Table,
  spec: TableSpec,
  what: string,
  fileId?: string,
  view = false,
): Obj {
  try {
    verifyRoot(buf, spec, fileId);
  } catch (e) {
    if (e instanceof FlatVerifyError) malformed(`${what}: ${e.message}`);
    throw e;
  }
  const bb = new ByteBuffer(buf);
  return read(bb, bb.readUint32(0), t, { left: buf.length }, view);
}

// Layouts, in schemas/sync.fbs declaration order.
const FRAME: Table = [
  ['type', 'u8'],
  ['payload', 'bytes'],
];
const OP_BYTES: Table = [['bytes', 'bytes']];
const ACK_ENTRY: Table = [
  ['doc', 'bytes'],
  ['op', 'bytes'],
  ['seq', 'u64'],
];
const SEQ_OP: Table = [
  ['seq', 'u64'],
  ['bytes', 'bytes'],
];
const TABLES: Record<SyncMessageType, Table> = {
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
  subscribe: [
    ['doc', 'bytes'],
    ['cursor', 'u64'],
    ['invite', 'bytes'],
    ['inviteSig', 'bytes'],
    ['fromSnapshot', 'u8'],
  ],
  push: [['ops', 'tables', OP_BYTES, SYNC_LIMITS.maxOpsPerFrame]],
  ack: [['acks', 'tables', ACK_ENTRY, SYNC_LIMITS.maxAcksPerFrame]],
  error: [
    ['code', 'u16'],
    ['message', 'bytes'],
    ['op', 'bytes'],
    ['doc', 'bytes'],
    ['retryAfterMs', 'u32'],
  ],
  ops: [
    ['doc', 'bytes'],
    ['ops', 'tables', SEQ_OP, SYNC_LIMITS.maxOpsPerFrame],
  ],
  caughtUp: [
    ['doc', 'bytes'],
    ['seq', 'u64'],
    ['root', 'bytes'],
    ['heads', 'bytes'],
  ],
  heads: [
    ['doc', 'bytes'],
    ['root', 'bytes'],
    ['heads', 'bytes'],
  ],
  want: [
    ['doc', 'bytes'],
    ['ids', 'bytes'],
  ],
  held: [
    ['doc', 'bytes'],
    ['op', 'bytes'],
    ['releaseAt', 'u64'],
    ['clockOffset', 'i64'],
  ],
  clock: [
    ['clockOffset', 'i64'],
    ['maxSkew', 'u64'],
  ],
  snapshotPut: [
    ['doc', 'bytes'],
    ['manifest', 'bytes'],
  ],
  snapshotChunk: [
    ['doc', 'bytes'],
    ['snapshot', 'bytes'],
    ['index', 'u32'],
    ['bytes', 'bytes'],
  ],
  endorse: [
    ['doc', 'bytes'],
    ['endorsement', 'bytes'],
  ],
  snapshotStored: [
    ['doc', 'bytes'],
    ['snapshot', 'bytes'],
    ['chunks', 'u32'],
    ['complete', 'u8'],
  ],
  snapshotOffer: [
    ['doc', 'bytes'],
    ['manifest', 'bytes'],
    ['endorsements', 'tables', OP_BYTES, SYNC_LIMITS.maxEndorsementsPerOffer],
    ['seq', 'u64'],
    ['keySources', 'tables', OP_BYTES, SYNC_LIMITS.maxOpsPerFrame],
  ],
};

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

// ---------------------------------------------------------------------------------------------
// Id helpers: ids are hex in memory and raw bytes on the wire.

function hexToBytes(hex: string, len: number, what: string): Uint8Array {
  if (hex.length !== len * 2 || !/^[0-9a-f]*$/.test(hex))
    throw new TypeError(`${what}: expected ${len} bytes of hex`);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function idsToBytes(ids: readonly string[], what: string): Uint8Array {
  const out = new Uint8Array(ids.length * 32);
  for (let i = 0; i < ids.length; i++) out.set(hexToBytes(ids[i]!, 32, what), i * 32);
  return out;
}

function fixed<T extends string>(b: Uint8Array, len: number, what: string): T {
  if (b.length !== len) malformed(`${what} must be ${len} bytes, got ${b.length}`);
  return toHex(b) as T;
}

function optionalFixed<T extends string>(b: Uint8Array, len: number, what: string): T | null {
  return b.length === 0 ? null : fixed<T>(b, len, what);
}

function idList(b: Uint8Array, what: string): OpId[] {
  if (b.length % 32 !== 0) malformed(`${what} length is not a multiple of 32`);
  const n = b.length / 32;
  if (n > SYNC_LIMITS.maxIdsPerFrame) throw new SyncProtocolError('TooLarge', `${n} ids in ${what}`);
  const out: OpId[] = [];
  for (let i = 0; i < n; i++) out.push(toHex(b.subarray(i * 32, i * 32 + 32)) as OpId);
  return out;
}

// ---------------------------------------------------------------------------------------------

/** Encodes one message as a Frame. Throws TypeError on an invalid message (a local bug). */
export function encodeMessage(m: SyncMessage): Uint8Array {
  let o: Obj;
  let hint = 256;
  switch (m.type) {
    case 'challenge':
      o = { ...m };
      break;
    case 'auth':
      o = { ...m, device: hexToBytes(m.device, 32, 'device') };
      break;
    case 'welcome':
      o = { ...m, device: hexToBytes(m.device, 32, 'device') };
      break;
    case 'subscribe':
      o = {
        doc: hexToBytes(m.doc, 16, 'doc'),
        cursor: m.cursor,
        invite: m.invite === undefined ? new Uint8Array(0) : hexToBytes(m.invite.op, 32, 'invite'),
        inviteSig: m.invite === undefined ? new Uint8Array(0) : m.invite.sig,
        fromSnapshot: m.fromSnapshot === true ? 1 : 0,
      };
      if (m.invite !== undefined && m.invite.sig.length !== 64)
        throw new TypeError('invite signature must be 64 bytes');
      break;
    case 'push':
      o = { ops: m.ops.map((bytes) => ({ bytes })) };
      hint = m.ops.reduce((n, b) => n + b.length + 16, 64);
      break;
    case 'ack':
      o = {
        acks: m.acks.map((a) => ({
          doc: hexToBytes(a.doc, 16, 'doc'),
          op: hexToBytes(a.op, 32, 'op'),
          seq: a.seq,
        })),
      };
      hint = 64 + m.acks.length * 80;
      break;
    case 'error':
      o = {
        code: SyncErrorCode[m.code],
        message: utf8(m.message.slice(0, SYNC_LIMITS.maxMessageBytes / 4)),
        op: m.op === null ? new Uint8Array(0) : hexToBytes(m.op, 32, 'op'),
        doc: m.doc === null ? new Uint8Array(0) : hexToBytes(m.doc, 16, 'doc'),
        retryAfterMs: m.retryAfterMs,
      };
      break;
    case 'ops':
      o = { doc: hexToBytes(m.doc, 16, 'doc'), ops: m.ops };
      hint = m.ops.reduce((n, op) => n + op.bytes.length + 24, 64);
      break;
    case 'caughtUp':
      o = {
        doc: hexToBytes(m.doc, 16, 'doc'),
        seq: m.seq,
        root: hexToBytes(m.root, 32, 'root'),
        heads: idsToBytes(m.heads, 'heads'),
      };
      break;
    case 'heads':
      o = {
        doc: hexToBytes(m.doc, 16, 'doc'),
        root: hexToBytes(m.root, 32, 'root'),
        heads: idsToBytes(m.heads, 'heads'),
      };
      break;
    case 'want':
      o = { doc: hexToBytes(m.doc, 16, 'doc'), ids: idsToBytes(m.ids, 'ids') };
      break;
    case 'held':
      o = { ...m, doc: hexToBytes(m.doc, 16, 'doc'), op: hexToBytes(m.op, 32, 'op') };
      break;
    case 'clock':
      o = { ...m };
      break;
    case 'snapshotPut':
      o = { doc: hexToBytes(m.doc, 16, 'doc'), manifest: m.manifest };
      hint = m.manifest.length + 64;
      break;
    case 'snapshotChunk':
      o = { ...m, doc: hexToBytes(m.doc, 16, 'doc'), snapshot: hexToBytes(m.snapshot, 32, 'snapshot') };
      hint = m.bytes.length + 96;
      break;
    case 'endorse':
      o = { doc: hexToBytes(m.doc, 16, 'doc'), endorsement: m.endorsement };
      break;
    case 'snapshotStored':
      o = {
        ...m,
        doc: hexToBytes(m.doc, 16, 'doc'),
        snapshot: hexToBytes(m.snapshot, 32, 'snapshot'),
        complete: m.complete ? 1 : 0,
      };
      break;
    case 'snapshotOffer':
      o = {
        doc: hexToBytes(m.doc, 16, 'doc'),
        manifest: m.manifest,
        endorsements: m.endorsements.map((bytes) => ({ bytes })),
        seq: m.seq,
        keySources: m.keySources.map((bytes) => ({ bytes })),
      };
      hint = [...m.endorsements, ...m.keySources].reduce((n, e) => n + e.length + 16, m.manifest.length + 96);
      break;
  }
  const payload = encodeTable(TABLES[m.type], o, undefined, hint);
  return encodeTable(FRAME, { type: MsgType[m.type], payload }, FRAME_FILE_ID, payload.length + 64);
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
  const bytes = (k: string) => o[k] as Uint8Array;
  const num = (k: string) => o[k] as number;
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
    case 'subscribe': {
      const doc = fixed<DocId>(bytes('doc'), 16, 'doc');
      const invite = optionalFixed<OpId>(bytes('invite'), 32, 'invite');
      const sig = bytes('inviteSig');
      const flag = num('fromSnapshot');
      if (flag > 1) malformed('from_snapshot is 0 or 1');
      const from: { fromSnapshot?: true } = flag === 1 ? { fromSnapshot: true } : {};
      if (invite === null) {
        if (sig.length !== 0) malformed('invite signature without an invite');
        return { type, doc, cursor: num('cursor'), ...from };
      }
      if (sig.length !== 64) malformed('invite signature must be 64 bytes');
      return { type, doc, cursor: num('cursor'), invite: { op: invite, sig }, ...from };
    }
    case 'push': {
      const ops = o['ops'] as Obj[];
      if (ops.length > SYNC_LIMITS.maxOpsPerFrame)
        throw new SyncProtocolError('TooLarge', `${ops.length} ops in push`);
      return { type, ops: ops.map((x) => x['bytes'] as Uint8Array) };
    }
    case 'ack': {
      const acks = o['acks'] as Obj[];
      if (acks.length > SYNC_LIMITS.maxAcksPerFrame)
        throw new SyncProtocolError('TooLarge', `${acks.length} acks`);
      return {
        type,
        acks: acks.map((a) => ({
          doc: fixed<DocId>(a['doc'] as Uint8Array, 16, 'ack doc'),
          op: fixed<OpId>(a['op'] as Uint8Array, 32, 'ack op'),
          seq: a['seq'] as number,
        })),
      };
    }
    case 'error': {
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
        type,
        code,
        message,
        op: optionalFixed<OpId>(bytes('op'), 32, 'error op'),
        doc: optionalFixed<DocId>(bytes('doc'), 16, 'error doc'),
        retryAfterMs: num('retryAfterMs'),
      };
    }
    case 'ops': {
      const ops = o['ops'] as Obj[];
      if (ops.length > SYNC_LIMITS.maxOpsPerFrame)
        throw new SyncProtocolError('TooLarge', `${ops.length} ops`);
      return {
        type,
        doc: fixed<DocId>(bytes('doc'), 16, 'doc'),
        ops: ops.map((x) => ({ seq: x['seq'] as number, bytes: x['bytes'] as Uint8Array })),
      };
    }
    case 'caughtUp':
      return {
        type,
        doc: fixed<DocId>(bytes('doc'), 16, 'doc'),
        seq: num('seq'),
        root: fixed<string>(bytes('root'), 32, 'root'),
        heads: idList(bytes('heads'), 'heads'),
      };
    case 'heads':
      return {
        type,
        doc: fixed<DocId>(bytes('doc'), 16, 'doc'),
        root: fixed<string>(bytes('root'), 32, 'root'),
        heads: idList(bytes('heads'), 'heads'),
      };
    case 'want':
      return { type, doc: fixed<DocId>(bytes('doc'), 16, 'doc'), ids: idList(bytes('ids'), 'ids') };
    case 'held':
      return {
        type,
        doc: fixed<DocId>(bytes('doc'), 16, 'doc'),
        op: fixed<OpId>(bytes('op'), 32, 'op'),
        releaseAt: num('releaseAt'),
        clockOffset: num('clockOffset'),
      };
    case 'clock':
      return { type, clockOffset: num('clockOffset'), maxSkew: num('maxSkew') };
    default:
      return decodeSnapshotMessage(type, o);
  }
}

/** Bytes of at most `max` (SYNC-13..15: each snapshot frame is bounded by its own limit). */
function capped(b: Uint8Array, max: number, what: string, min = 1): Uint8Array {
  if (b.length > max) throw new SyncProtocolError('TooLarge', `${what} is ${b.length} bytes (max ${max})`);
  if (b.length < min) malformed(`${what} is empty`);
  return b;
}

/** SYNC-13..15: the snapshot messages, each field within its own bound. */
function decodeSnapshotMessage(
  type: 'snapshotPut' | 'snapshotChunk' | 'endorse' | 'snapshotStored' | 'snapshotOffer',
  o: Obj,
): SyncMessage {
  const bytes = (k: string) => o[k] as Uint8Array;
  const num = (k: string) => o[k] as number;
  const doc = fixed<DocId>(bytes('doc'), 16, 'doc');
  switch (type) {
    case 'snapshotPut':
      return { type, doc, manifest: capped(bytes('manifest'), SYNC_LIMITS.maxManifestBytes, 'manifest') };
    case 'snapshotChunk':
      return {
        type,
        doc,
        snapshot: fixed<string>(bytes('snapshot'), 32, 'snapshot'),
        index: num('index'),
        bytes: capped(bytes('bytes'), SYNC_LIMITS.maxChunkBytes, 'chunk'),
      };
    case 'endorse':
      return {
        type,
        doc,
        endorsement: capped(bytes('endorsement'), SYNC_LIMITS.maxEndorsementBytes, 'endorsement'),
      };
    case 'snapshotStored': {
      const complete = num('complete');
      if (complete > 1) malformed('complete is 0 or 1');
      return {
        type,
        doc,
        snapshot: fixed<string>(bytes('snapshot'), 32, 'snapshot'),
        chunks: num('chunks'),
        complete: complete === 1,
      };
    }
    case 'snapshotOffer':
      return {
        type,
        doc,
        manifest: capped(bytes('manifest'), SYNC_LIMITS.maxManifestBytes, 'manifest'),
        endorsements: (o['endorsements'] as Obj[]).map((e) =>
          capped(e['bytes'] as Uint8Array, SYNC_LIMITS.maxEndorsementBytes, 'endorsement'),
        ),
        seq: num('seq'),
        keySources: (o['keySources'] as Obj[]).map((e) => e['bytes'] as Uint8Array),
      };
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication (SYNC-2): the device signs a domain-separated digest of the relay's fresh
// challenge and of the host it believes it is talking to, so a signature can neither pass for an
// op signature nor be replayed to another relay by a relay in the middle.

export const AUTH_DOMAIN = 'ledgerday/sync-auth/v1';

/** The exact bytes a device signs to answer a challenge. */
export function authMessage(challenge: Uint8Array, host: string): Uint8Array {
  const d = utf8(AUTH_DOMAIN);
  const h = utf8(host.toLowerCase());
  if (h.length > 255) throw new TypeError('host name too long');
  const out = new Uint8Array(d.length + 1 + 1 + h.length + challenge.length);
  out.set(d, 0);
  out[d.length] = 0; // separator: the domain is a prefix-free, fixed string
  out[d.length + 1] = h.length;
  out.set(h, d.length + 2);
  out.set(challenge, d.length + 2 + h.length);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Invite proof for reading a calendar before joining it (INV-6): the invite key (Ed25519 key of
// the invite secret, INV-1) signs a digest binding the calendar, the Invite op, the device that
// authenticated on this connection and this connection's challenge. The tag differs from the
// Add proof's (INV-2) and from every other signed message, so neither can stand in for the
// other; the challenge makes a captured proof useless on any other connection.

const TAG_INVITE_FETCH = utf8('ledgerday/invite-fetch/v1\0');

/** The 32-byte digest the invite key signs to subscribe with an invite. */
export function inviteFetchMessage(
  doc: DocId,
  inviteOp: OpId,
  device: DeviceId,
  challenge: Uint8Array,
): Uint8Array {
  return taggedHash(
    TAG_INVITE_FETCH,
    hexToBytes(doc, 16, 'doc'),
    hexToBytes(inviteOp, 32, 'invite'),
    hexToBytes(device, 32, 'device'),
    challenge,
  );
}
