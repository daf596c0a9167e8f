// Row shapes and conversions shared by the relay's two stores (SQLite, sqlite-log.ts and
// sqlite-doc.ts, and PostgreSQL, pg-store.ts): the same columns in both, ids joined into one text
// column, registers as JSON that carries bytes.

import type {
  BodyState,
  DeviceId,
  DocId,
  DocRecord,
  OpId,
  OpKind,
  OpRecord,
  RegisterRecord,
} from '../engine/index.ts';

/** A future-dated op the relay keeps until its wall_time is within the allowed skew (RELAY-7). */
export interface HeldOp {
  id: OpId;
  doc: DocId;
  author: DeviceId;
  /** µs since the Unix epoch, from the op header. */
  wallTime: number;
  bytes: Uint8Array;
  /** Relay time (ms) when it arrived. */
  receivedAt: number;
}

/** An op's row: the same columns in SQLite and PostgreSQL (pg-store.ts). */
export interface OpRow {
  doc: string;
  seq: number;
  id: string;
  author: string;
  ctr: number;
  wall_time: number;
  kind: number;
  parents: string;
  prev: string | null;
  bytes: Buffer;
  vv: string;
  mfront: string;
  body: string;
}

export interface DocRow {
  doc: string;
  genesis: string;
  heads: string;
  seq: number;
  own_last: string | null;
  own_ctr: number;
  /** The doc record's other fields (JSON), e.g. the SNAP-17 mark; null when none. */
  extra?: string | null;
}

/** Hex ids are joined without separators: every id has a fixed length, so splitting is exact. */
export function joinIds(ids: readonly string[]): string {
  return ids.join(',');
}

export function splitIds<T extends string>(s: string): T[] {
  return s === '' ? [] : (s.split(',') as T[]);
}

/** A Buffer view shares memory with SQLite's result; callers get their own Uint8Array. */
export function ownBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function rowToOp(r: OpRow): OpRecord {
  return {
    id: r.id as OpId,
    doc: r.doc as DocId,
    seq: r.seq,
    author: r.author as DeviceId,
    ctr: r.ctr,
    wallTime: r.wall_time,
    kind: r.kind as OpKind,
    parents: splitIds<OpId>(r.parents),
    prev: r.prev as OpId | null,
    bytes: ownBytes(r.bytes),
    vv: JSON.parse(r.vv) as Record<string, number>,
    mfront: splitIds<OpId>(r.mfront),
    body: r.body as BodyState,
  };
}

// Registers hold arbitrary bytes: JSON carries each Uint8Array as {"$b": hex} (nulls stay null:
// tombstones). Generic on purpose, so a field the engine adds to its records is kept, not dropped.
export function registersToJson(regs: readonly RegisterRecord[]): string {
  return JSON.stringify(regs, (_k, v: unknown) =>
    v instanceof Uint8Array ? { $b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') } : v,
  );
}

export function registersFromJson(s: string): RegisterRecord[] {
  return JSON.parse(s, (_k, v: unknown) => {
    if (v !== null && typeof v === 'object' && typeof (v as { $b?: unknown }).$b === 'string') {
      return ownBytes(Buffer.from((v as { $b: string }).$b, 'hex'));
    }
    return v;
  }) as RegisterRecord[];
}

export function bufferOf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export interface HeldRow {
  id: string;
  doc: string;
  author: string;
  wall_time: number;
  bytes: Buffer;
  received_at: number;
}

export function rowToHeld(r: HeldRow): HeldOp {
  return {
    id: r.id as OpId,
    doc: r.doc as DocId,
    author: r.author as DeviceId,
    wallTime: r.wall_time,
    bytes: ownBytes(r.bytes),
    receivedAt: r.received_at,
  };
}

/** A calendar's doc record from its row (the SQLite and the PostgreSQL store alike). */
export function docRecordOf(doc: DocId, d: Omit<DocRow, 'doc'>): DocRecord {
  return {
    ...(d.extra == null ? {} : (registersFromJson(d.extra) as unknown as Partial<DocRecord>)),
    doc,
    genesis: d.genesis as OpId,
    heads: splitIds<OpId>(d.heads),
    seq: d.seq,
    ownLast: d.own_last as OpId | null,
    ownCtr: d.own_ctr,
  };
}
