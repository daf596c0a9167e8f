// The Snapshot plaintext (schemas/payload.fbs `Snapshot`, docs/PROTOCOL.md SNAP-2): one canonical
// encoding of a calendar's materialized state at a frontier. Decoding is bounds-checked
// (flatverify.ts) and accepts only the canonical form: the decoded state is encoded again and
// must give the same bytes (SNAP-4), so byte equality is state equality.

import { Builder } from 'flatbuffers';
import { compareBytes, fromHex, toHex } from './bytes.ts';
import { EngineError } from './errors.ts';
import { FlatVerifyError, TableReader, type TableSpec, verifyRoot } from './flatverify.ts';
import type { DeviceId, DocId, EntityId, OpId } from './ids.ts';
import { depthOf } from './lww.ts';
import { openOp } from './op.ts';
import type { BodyState, EntityRecord, EquivocationRecord, RegisterRecord, WriteRecord } from './store.ts';

export const SNAPSHOT_FORMAT = 1;
/** SNAP-4: the largest plaintext a replica decodes (a bound on memory, LIM-1's spirit). */
export const MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024;

/** An op a snapshot carries whole: signed bytes plus what its maker derived from it (SNAP-2). */
export interface SnapshotAnchor {
  id: OpId;
  bytes: Uint8Array;
  vv: Record<string, number>;
  mfront: OpId[];
  body: Exclude<BodyState, 'locked'>;
}

export interface SnapshotState {
  doc: DocId;
  /** The heads the snapshot covers, ascending. */
  frontier: OpId[];
  /** SHA-256 (TAG_SNAPSHOT) of the previous snapshot's plaintext, or empty. */
  previous: Uint8Array;
  /** Membership ops, their predecessors, the frontier and each author's last ops; (depth, id) order. */
  anchors: SnapshotAnchor[];
  /**
   * Every entity that holds a register, ascending by id; registers ascending by field. (An entity
   * left with none by MEM-5 exists on some replicas and not others, depending on arrival order;
   * it shows nothing, so a snapshot leaves it out: SNAP-2.)
   */
  entities: EntityRecord[];
  /** DAG-6 evidence, ascending by (author, ctr). */
  evidence: EquivocationRecord[];
}

const SNAP = { registers: 0, format: 1, doc: 2, frontier: 3, previous: 4, ops: 5, evidence: 6 };
const REG = {
  entity: 0,
  field: 1,
  value: 2,
  wallTime: 3,
  author: 4,
  op: 5,
  ctr: 6,
  depth: 7,
  vv: 8,
  covered: 9,
} as const;
const ANCHOR = { op: 0, vv: 1, mfront: 2, body: 3 } as const;
const EVID = { author: 0, ctr: 1, ops: 2 } as const;
const VV_SPEC: TableSpec = ['bytes', 8];
const SNAPSHOT_SPEC: TableSpec = [
  { table: ['bytes', 2, 'bytes', 8, 'bytes', 'bytes', 8, 8, { table: VV_SPEC }, 1] },
  1,
  'bytes',
  'bytes',
  'bytes',
  { table: ['bytes', { table: VV_SPEC }, 'bytes', 1] },
  { table: ['bytes', 8, 'bytes'] },
];
const BODY_CODE = { applied: 0, inert: 1 } as const;

function malformed(what: string): never {
  throw new EngineError('Malformed', `snapshot: ${what}`);
}

// ---------------------------------------------------------------------------------------------
// Encoding

function vector(b: Builder, offsets: number[]): number {
  b.startVector(4, offsets.length, 4);
  for (let i = offsets.length - 1; i >= 0; i--) b.addOffset(offsets[i]!);
  return b.endVector();
}

const ids = (list: readonly string[]): Uint8Array => fromHex(list.join(''));

function encodeVv(b: Builder, vv: Readonly<Record<string, number>>): number {
  const entries = Object.keys(vv)
    .sort()
    .map((d) => {
      const dev = b.createByteVector(fromHex(d));
      b.startObject(2);
      b.addFieldOffset(0, dev, 0);
      b.addFieldInt64(1, BigInt(vv[d]!), 0n);
      return b.endObject();
    });
  return vector(b, entries);
}

function encodeWrite(b: Builder, entity: EntityId, field: number, w: WriteRecord, covered: boolean): number {
  const ent = b.createByteVector(fromHex(entity));
  const value = w.value === null ? 0 : b.createByteVector(w.value);
  const author = b.createByteVector(fromHex(w.author));
  const op = b.createByteVector(fromHex(w.op));
  const vv = w.vv === undefined ? 0 : encodeVv(b, w.vv);
  b.startObject(10);
  b.addFieldOffset(REG.entity, ent, 0);
  b.addFieldInt16(REG.field, field, 0);
  if (value !== 0) b.addFieldOffset(REG.value, value, 0);
  b.addFieldInt64(REG.wallTime, BigInt(w.wallTime), 0n);
  b.addFieldOffset(REG.author, author, 0);
  b.addFieldOffset(REG.op, op, 0);
  b.addFieldInt64(REG.ctr, BigInt(w.ctr), 0n);
  b.addFieldInt64(REG.depth, BigInt(depthOf(w)), 0n);
  if (vv !== 0) b.addFieldOffset(REG.vv, vv, 0);
  b.addFieldInt8(REG.covered, covered ? 1 : 0, 0);
  return b.endObject();
}

function encodeRegisters(b: Builder, entities: readonly EntityRecord[]): number {
  const rows: number[] = [];
  for (const e of entities)
    for (const r of e.registers) {
      for (const w of r.writes) rows.push(encodeWrite(b, e.entity, r.field, w, false));
      for (const w of r.covered ?? []) rows.push(encodeWrite(b, e.entity, r.field, w, true));
    }
  return vector(b, rows);
}

function encodeAnchor(b: Builder, a: SnapshotAnchor): number {
  const op = b.createByteVector(a.bytes);
  const vv = encodeVv(b, a.vv);
  const mfront = b.createByteVector(ids(a.mfront));
  b.startObject(4);
  b.addFieldOffset(ANCHOR.op, op, 0);
  b.addFieldOffset(ANCHOR.vv, vv, 0);
  b.addFieldOffset(ANCHOR.mfront, mfront, 0);
  b.addFieldInt8(ANCHOR.body, BODY_CODE[a.body], 0);
  return b.endObject();
}

function encodeEvidence(b: Builder, e: EquivocationRecord): number {
  const author = b.createByteVector(fromHex(e.author));
  const ops = b.createByteVector(ids(e.ops));
  b.startObject(3);
  b.addFieldOffset(EVID.author, author, 0);
  b.addFieldInt64(EVID.ctr, BigInt(e.ctr), 0n);
  b.addFieldOffset(EVID.ops, ops, 0);
  return b.endObject();
}

/** The canonical bytes of a snapshot state (SNAP-2, SNAP-4). */
export function encodeSnapshot(s: SnapshotState): Uint8Array {
  const b = new Builder(1024);
  b.forceDefaults(true);
  const registers = encodeRegisters(b, s.entities);
  const doc = b.createByteVector(fromHex(s.doc));
  const frontier = b.createByteVector(ids(s.frontier));
  const previous = b.createByteVector(s.previous);
  const ops = vector(
    b,
    s.anchors.map((a) => encodeAnchor(b, a)),
  );
  const evidence = vector(
    b,
    s.evidence.map((e) => encodeEvidence(b, e)),
  );
  b.startObject(7);
  b.addFieldOffset(SNAP.registers, registers, 0);
  b.addFieldInt8(SNAP.format, SNAPSHOT_FORMAT, 0);
  b.addFieldOffset(SNAP.doc, doc, 0);
  b.addFieldOffset(SNAP.frontier, frontier, 0);
  b.addFieldOffset(SNAP.previous, previous, 0);
  b.addFieldOffset(SNAP.ops, ops, 0);
  b.addFieldOffset(SNAP.evidence, evidence, 0);
  b.finish(b.endObject());
  return b.asUint8Array().slice();
}

// ---------------------------------------------------------------------------------------------
// Decoding

function hexOf<T extends string>(b: Uint8Array, len: number, what: string): T {
  if (b.length !== len) malformed(`${what} must be ${len} bytes`);
  return toHex(b) as T;
}

function idList(b: Uint8Array, size: number, what: string): string[] {
  if (b.length % size !== 0) malformed(`${what} is not a list of ${size}-byte ids`);
  const out: string[] = [];
  for (let i = 0; i < b.length; i += size) out.push(toHex(b.subarray(i, i + size)));
  return out;
}

function decodeVv(list: TableReader[]): Record<string, number> {
  const vv: Record<string, number> = {};
  for (const e of list) vv[hexOf(e.bytes(0), 32, 'vv device')] = e.u64(1);
  return vv;
}

function decodeWrite(r: TableReader): { entity: EntityId; field: number; covered: boolean; w: WriteRecord } {
  const w: WriteRecord = {
    value: r.has(REG.value) ? r.bytes(REG.value) : null,
    wallTime: r.u64(REG.wallTime),
    author: hexOf<DeviceId>(r.bytes(REG.author), 32, 'author'),
    ctr: r.u64(REG.ctr),
    op: hexOf<OpId>(r.bytes(REG.op), 32, 'op'),
    depth: r.u64(REG.depth),
  };
  if (r.has(REG.vv)) w.vv = decodeVv(r.tables(REG.vv));
  const entity = hexOf<EntityId>(r.bytes(REG.entity), 16, 'entity');
  return { entity, field: r.u16(REG.field), covered: r.u8(REG.covered, 0) === 1, w };
}

function decodeEntities(rows: TableReader[], doc: DocId): EntityRecord[] {
  const byEntity = new Map<EntityId, EntityRecord>();
  let reg: RegisterRecord | undefined;
  let regEntity: EntityId | undefined;
  for (const row of rows) {
    const { entity, field, covered, w } = decodeWrite(row);
    if (reg === undefined || regEntity !== entity || reg.field !== field) {
      let e = byEntity.get(entity);
      if (e === undefined) {
        e = { doc, entity, registers: [] };
        byEntity.set(entity, e);
      }
      reg = { field, writes: [] };
      regEntity = entity;
      e.registers.push(reg);
    }
    if (!covered) reg.writes.push(w);
    else if (reg.covered === undefined) reg.covered = [w];
    else reg.covered.push(w);
  }
  return [...byEntity.values()].sort((a, b) => (a.entity < b.entity ? -1 : 1));
}

/**
 * Decodes a snapshot plaintext; `Malformed` unless it is bounds-checked, well-typed and
 * canonical (encoding the result gives the same bytes). Anchor ops are not opened here.
 */
export function decodeSnapshot(bytes: Uint8Array): SnapshotState {
  if (bytes.length > MAX_SNAPSHOT_BYTES)
    throw new EngineError('TooLarge', `snapshot of ${bytes.length} bytes`);
  let t: TableReader;
  try {
    t = new TableReader(bytes, verifyRoot(bytes, SNAPSHOT_SPEC));
  } catch (e) {
    if (e instanceof FlatVerifyError) malformed(e.message);
    throw e;
  }
  if (t.u8(SNAP.format, 0) !== SNAPSHOT_FORMAT) throw new EngineError('Unsupported', 'snapshot format');
  const doc = hexOf<DocId>(t.bytes(SNAP.doc), 16, 'doc');
  const previous = t.bytes(SNAP.previous);
  if (previous.length !== 0 && previous.length !== 32) malformed('previous is 32 bytes or empty');
  const anchors = t.tables(SNAP.ops).map((a): SnapshotAnchor => {
    const body = a.u8(ANCHOR.body, 0);
    if (body !== 0 && body !== 1) malformed('anchor body state');
    const op = a.bytes(ANCHOR.op);
    return {
      id: openOp(op).id,
      bytes: op,
      vv: decodeVv(a.tables(ANCHOR.vv)),
      mfront: idList(a.bytes(ANCHOR.mfront), 32, 'mfront') as OpId[],
      body: body === 0 ? 'applied' : 'inert',
    };
  });
  const state: SnapshotState = {
    doc,
    frontier: idList(t.bytes(SNAP.frontier), 32, 'frontier') as OpId[],
    previous,
    anchors,
    entities: decodeEntities(t.tables(SNAP.registers), doc),
    evidence: t.tables(SNAP.evidence).map((e) => ({
      doc,
      author: hexOf<DeviceId>(e.bytes(EVID.author), 32, 'evidence author'),
      ctr: e.u64(EVID.ctr),
      ops: idList(e.bytes(EVID.ops), 32, 'evidence ops') as OpId[],
    })),
  };
  checkOrder(state);
  if (compareBytes(encodeSnapshot(state), bytes) !== 0) malformed('not in canonical form');
  return state;
}

/** SNAP-4: one order for every list, so one state has one encoding. */
function checkOrder(s: SnapshotState): void {
  const ascending = (xs: readonly string[], what: string) => {
    for (let i = 1; i < xs.length; i++) if (xs[i - 1]! >= xs[i]!) malformed(`${what} not strictly ascending`);
  };
  ascending(s.frontier, 'frontier');
  ascending(
    s.entities.map((e) => e.entity),
    'entities',
  );
  for (const e of s.entities)
    ascending(
      e.registers.map((r) => String(r.field).padStart(5, '0')),
      'fields',
    );
  ascending(
    s.evidence.map((e) => `${e.author}:${String(e.ctr).padStart(16, '0')}`),
    'evidence',
  );
  for (const e of s.evidence) ascending(e.ops, 'evidence ops');
  ascending(s.anchors.map(anchorKey), 'anchors');
}

/** SNAP-2: anchors in (causal depth, id) order, a topological order of the DAG. */
export function anchorKey(a: Pick<SnapshotAnchor, 'id' | 'vv'>): string {
  let depth = 0;
  for (const d in a.vv) depth += a.vv[d]!;
  return `${String(depth).padStart(16, '0')}:${a.id}`;
}
