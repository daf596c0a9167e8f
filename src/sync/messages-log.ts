// The log's messages (SYNC-3..8): Subscribe, Push and Ack, Ops and CaughtUp, Heads, Want and Held
// carry ops between a device and the relay. Their layouts, encoding and decoding.

import type { DocId, OpId } from '../engine/index.ts';
import { type MessageOf, malformed, SYNC_LIMITS, type SyncMessage, SyncProtocolError } from './messages.ts';
import { fixed, hexToBytes, idList, idsToBytes, optionalFixed } from './messages-ids.ts';
import { fieldsOf, type Obj, type Payload, type Table } from './messages-table.ts';

export type LogType = 'subscribe' | 'push' | 'ack' | 'ops' | 'caughtUp' | 'heads' | 'want' | 'held';

/** One op's bytes (OpBytes in schemas/sync.fbs; the snapshot messages list their blobs in it too). */
export const OP_BYTES: Table = [['bytes', 'bytes']];
const ACK_ENTRY: Table = [
  ['doc', 'bytes'],
  ['op', 'bytes'],
  ['seq', 'u64'],
];
const SEQ_OP: Table = [
  ['seq', 'u64'],
  ['bytes', 'bytes'],
];

/** Layouts, in schemas/sync.fbs declaration order. */
export const LOG_TABLES: Record<LogType, Table> = {
  subscribe: [
    ['doc', 'bytes'],
    ['cursor', 'u64'],
    ['invite', 'bytes'],
    ['inviteSig', 'bytes'],
    ['fromSnapshot', 'u8'],
  ],
  push: [['ops', 'tables', OP_BYTES, SYNC_LIMITS.maxOpsPerFrame]],
  ack: [['acks', 'tables', ACK_ENTRY, SYNC_LIMITS.maxAcksPerFrame]],
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
};

export function encodeLog(m: MessageOf<LogType>): Payload {
  switch (m.type) {
    case 'subscribe': {
      const o = {
        doc: hexToBytes(m.doc, 16, 'doc'),
        cursor: m.cursor,
        invite: m.invite === undefined ? new Uint8Array(0) : hexToBytes(m.invite.op, 32, 'invite'),
        inviteSig: m.invite === undefined ? new Uint8Array(0) : m.invite.sig,
        fromSnapshot: m.fromSnapshot === true ? 1 : 0,
      };
      if (m.invite !== undefined && m.invite.sig.length !== 64)
        throw new TypeError('invite signature must be 64 bytes');
      return { o };
    }
    case 'push':
      return {
        o: { ops: m.ops.map((bytes) => ({ bytes })) },
        hint: m.ops.reduce((n, b) => n + b.length + 16, 64),
      };
    case 'ack':
      return {
        o: {
          acks: m.acks.map((a) => ({
            doc: hexToBytes(a.doc, 16, 'doc'),
            op: hexToBytes(a.op, 32, 'op'),
            seq: a.seq,
          })),
        },
        hint: 64 + m.acks.length * 80,
      };
    case 'ops':
      return {
        o: { doc: hexToBytes(m.doc, 16, 'doc'), ops: m.ops },
        hint: m.ops.reduce((n, op) => n + op.bytes.length + 24, 64),
      };
    default:
      return encodeAboutOps(m);
  }
}

/** CaughtUp, Heads, Want, Held: what one side says about ops rather than the ops. */
function encodeAboutOps(m: MessageOf<'caughtUp' | 'heads' | 'want' | 'held'>): Payload {
  switch (m.type) {
    case 'caughtUp':
      return {
        o: {
          doc: hexToBytes(m.doc, 16, 'doc'),
          seq: m.seq,
          root: hexToBytes(m.root, 32, 'root'),
          heads: idsToBytes(m.heads, 'heads'),
        },
      };
    case 'heads':
      return {
        o: {
          doc: hexToBytes(m.doc, 16, 'doc'),
          root: hexToBytes(m.root, 32, 'root'),
          heads: idsToBytes(m.heads, 'heads'),
        },
      };
    case 'want':
      return { o: { doc: hexToBytes(m.doc, 16, 'doc'), ids: idsToBytes(m.ids, 'ids') } };
    case 'held':
      return { o: { ...m, doc: hexToBytes(m.doc, 16, 'doc'), op: hexToBytes(m.op, 32, 'op') } };
  }
}

export function decodeLog(type: LogType, o: Obj): SyncMessage {
  const { bytes } = fieldsOf(o);
  switch (type) {
    case 'subscribe':
      return decodeSubscribe(o);
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
    default:
      return decodeAboutOps(type, o);
  }
}

function decodeSubscribe(o: Obj): SyncMessage {
  const { bytes, num } = fieldsOf(o);
  const type = 'subscribe';
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

function decodeAboutOps(type: 'caughtUp' | 'heads' | 'want' | 'held', o: Obj): SyncMessage {
  const { bytes, num } = fieldsOf(o);
  switch (type) {
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
  }
}
