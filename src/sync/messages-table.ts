// The table descriptors of the sync frames: one descriptor per table drives the encoder, the
// decoder and the verifier alike, so the three cannot disagree. Field order = declaration order in
// schemas/sync.fbs (the vtable slot); messages.test.ts checks the layouts against the
// flatc-generated classes. Every decode is bounds-checked (src/engine/flatverify.ts) before a byte
// is read (SYNC-9), and the bytes its fields copy never add up past the frame (SYNC-12).

import { Builder, ByteBuffer } from 'flatbuffers';
import { FlatVerifyError, type TableSpec, verifyRoot } from '../engine/index.ts';
import { malformed, SyncProtocolError } from './messages.ts';

type Scalar = 'u8' | 'u16' | 'u32' | 'u64' | 'i64';
type Field =
  | readonly [name: string, kind: Scalar | 'bytes']
  | readonly [name: string, kind: 'tables', of: Table, max: number];
export type Table = readonly Field[];

const WIDTH: Record<Scalar, 1 | 2 | 4 | 8> = { u8: 1, u16: 2, u32: 4, u64: 8, i64: 8 };

export function specOf(t: Table): TableSpec {
  return t.map((f) =>
    f[1] === 'tables' ? { table: specOf(f[2]) } : f[1] === 'bytes' ? 'bytes' : WIDTH[f[1]],
  );
}

/** A message as the descriptors see it: field name to value. */
export type Obj = Record<string, unknown>;

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

export function encodeTable(t: Table, o: Obj, fileId?: string, sizeHint = 256): Uint8Array {
  const b = new Builder(sizeHint);
  b.finish(build(b, t, o), fileId);
  return b.asUint8Array().slice();
}

export function decodeTable(
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

/** A message's fields ready for its table, and a guess of its encoded size (the builder's start). */
export interface Payload {
  o: Obj;
  hint?: number;
}

/** Typed reads of a decoded table's fields (the table's descriptor fixed each field's kind). */
export function fieldsOf(o: Obj): { bytes: (k: string) => Uint8Array; num: (k: string) => number } {
  return { bytes: (k) => o[k] as Uint8Array, num: (k) => o[k] as number };
}
