// The Snapshot plaintext (schemas/payload.fbs `Snapshot`, docs/PROTOCOL.md SNAP-2): one canonical
// encoding of a calendar's materialized state at a frontier. The encoder is deterministic (one
// order for every list), so equal state gives equal bytes and verification compares bytes
// (SNAP-5). Decoding is bounds-checked (flatverify.ts) and checks every list's order and every
// index (SNAP-4). Device keys are written once (`devices`) and named by index elsewhere: a
// 10,000-event calendar's registers repeat a few authors tens of thousands of times.

import { Builder } from 'flatbuffers';
import { bytesEqual, compareBytes, fromHex, toHex } from './bytes.ts';
import { EngineError } from './errors.ts';
import { FlatVerifyError, TableReader, type TableSpec, verifyRoot } from './flatverify.ts';
import type { DeviceId, DocId, EntityId, OpId } from './ids.ts';
import { depthOf } from './lww.ts';
import { openOp } from './op.ts';
import type { BodyState, EntityRecord, EquivocationRecord, RegisterRecord, WriteRecord } from './store.ts';

/**
 * SNAP-1, SNAP-21: the format this build writes. 2 lists every endorsement in force at the
 * frontier that its maker judges (SNAP-21); 1 (written before SNAP-21, still read and verified)
 * lists only those that act (some op of the frontier's past breaks them).
 */
export const SNAPSHOT_FORMAT = 2;
/** SNAP-21: the format before it (listing only the acting endorsements). */
export const SNAPSHOT_FORMAT_ACTING = 1;
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
  /**
   * SNAP-10, SNAP-21: the endorsements whose certifications are in force at the frontier and
   * that the maker judged (their effect is in the registers), each a signed statement's body and
   * signature, ascending by body. Absent or empty: none.
   */
  endorsements?: ListedStatement[];
  /**
   * SNAP-21: the endorsements stored by the maker, judged by it, that wait for an op not in the
   * frontier's past (so in force nowhere at the frontier) and whose position is at or below the
   * frontier's version vector for their endorser (1 or more); ascending by body. Absent or empty: none.
   */
  waiting?: ListedStatement[];
  /** SNAP-21: `SNAPSHOT_FORMAT_ACTING` for a snapshot that lists only the acting ones; absent: the current format. */
  format?: typeof SNAPSHOT_FORMAT_ACTING;
}

/** A signed statement carried inside a snapshot (SNAP-10): its body and signature. */
export interface ListedStatement {
  body: Uint8Array;
  sig: Uint8Array;
}

const SNAP = {
  registers: 0,
  format: 1,
  doc: 2,
  frontier: 3,
  previous: 4,
  ops: 5,
  evidence: 6,
  devices: 7,
  endorsements: 8,
  waiting: 9,
};
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
  authorIndex: 10,
} as const;
const ANCHOR = { op: 0, vv: 1, mfront: 2, body: 3 } as const;
const EVID = { author: 0, ctr: 1, ops: 2 } as const;
const SNAPSHOT_SPEC: TableSpec = [
  { table: ['bytes', 2, 'bytes', 8, 'bytes', 'bytes', 8, 8, 'bytes', 1, 4] },
  1,
  'bytes',
  'bytes',
  'bytes',
  { table: ['bytes', 'bytes', 'bytes', 1] },
  { table: ['bytes', 8, 'bytes'] },
  'bytes',
  { table: ['bytes', 'bytes'] },
  { table: ['bytes', 'bytes'] },
];
const BODY_CODE = { applied: 0, inert: 1 } as const;
/** A packed version vector entry: u32 device index, u64 ctr (little-endian). */
const VV_ENTRY = 12;

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

/** Every device a snapshot names (authors, version vectors), ascending, with its index. */
function deviceTable(s: SnapshotState): Map<string, number> {
  const all = new Set<string>();
  const vvs = (vv: Readonly<Record<string, number>> | undefined) => {
    if (vv !== undefined) for (const d in vv) all.add(d);
  };
  for (const a of s.anchors) vvs(a.vv);
  for (const e of s.entities)
    for (const r of e.registers)
      for (const w of [...r.writes, ...(r.covered ?? [])]) {
        all.add(w.author);
        vvs(w.vv);
      }
  return new Map([...all].sort().map((d, i) => [d, i]));
}

function packVv(vv: Readonly<Record<string, number>>, devices: Map<string, number>): Uint8Array {
  const keys = Object.keys(vv).sort();
  const out = new Uint8Array(keys.length * VV_ENTRY);
  const view = new DataView(out.buffer);
  keys.forEach((d, i) => {
    view.setUint32(i * VV_ENTRY, devices.get(d)!, true);
    view.setBigUint64(i * VV_ENTRY + 4, BigInt(vv[d]!), true);
  });
  return out;
}

function encodeWrite(
  b: Builder,
  at: { entity: Uint8Array; field: number; covered: boolean },
  w: WriteRecord,
  devices: Map<string, number>,
): number {
  const ent = b.createByteVector(at.entity);
  const value = w.value === null ? 0 : b.createByteVector(w.value);
  const op = b.createByteVector(fromHex(w.op));
  const vv = w.vv === undefined ? 0 : b.createByteVector(packVv(w.vv, devices));
  b.startObject(11);
  b.addFieldOffset(REG.entity, ent, 0);
  b.addFieldInt16(REG.field, at.field, 0);
  if (value !== 0) b.addFieldOffset(REG.value, value, 0);
  b.addFieldInt64(REG.wallTime, BigInt(w.wallTime), 0n);
  b.addFieldOffset(REG.op, op, 0);
  b.addFieldInt64(REG.ctr, BigInt(w.ctr), 0n);
  b.addFieldInt64(REG.depth, BigInt(depthOf(w)), 0n);
  if (vv !== 0) b.addFieldOffset(REG.vv, vv, 0);
  b.addFieldInt8(REG.covered, at.covered ? 1 : 0, 0);
  b.addFieldInt32(REG.authorIndex, devices.get(w.author)!, 0);
  return b.endObject();
}

function encodeRegisters(
  b: Builder,
  entities: readonly EntityRecord[],
  devices: Map<string, number>,
): number {
  const rows: number[] = [];
  for (const e of entities) {
    const entity = fromHex(e.entity);
    for (const r of e.registers) {
      for (const w of r.writes)
        rows.push(encodeWrite(b, { entity, field: r.field, covered: false }, w, devices));
      for (const w of r.covered ?? [])
        rows.push(encodeWrite(b, { entity, field: r.field, covered: true }, w, devices));
    }
  }
  return vector(b, rows);
}

function encodeAnchor(b: Builder, a: SnapshotAnchor, devices: Map<string, number>): number {
  const op = b.createByteVector(a.bytes);
  const vv = b.createByteVector(packVv(a.vv, devices));
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
  const devices = deviceTable(s);
  const registers = encodeRegisters(b, s.entities, devices);
  const doc = b.createByteVector(fromHex(s.doc));
  const frontier = b.createByteVector(ids(s.frontier));
  const previous = b.createByteVector(s.previous);
  const ops = vector(
    b,
    s.anchors.map((a) => encodeAnchor(b, a, devices)),
  );
  const evidence = vector(
    b,
    s.evidence.map((e) => encodeEvidence(b, e)),
  );
  const devs = b.createByteVector(ids([...devices.keys()]));
  const statements = (listed: readonly ListedStatement[]): number =>
    listed.length === 0
      ? 0
      : vector(
          b,
          listed.map((e) => {
            const body = b.createByteVector(e.body);
            const sig = b.createByteVector(e.sig);
            b.startObject(2);
            b.addFieldOffset(0, body, 0);
            b.addFieldOffset(1, sig, 0);
            return b.endObject();
          }),
        );
  const ends = statements(s.endorsements ?? []);
  const waiting = statements(s.waiting ?? []);
  b.startObject(waiting !== 0 ? 10 : ends !== 0 ? 9 : 8);
  b.addFieldOffset(SNAP.registers, registers, 0);
  b.addFieldInt8(SNAP.format, s.format ?? SNAPSHOT_FORMAT, 0);
  b.addFieldOffset(SNAP.doc, doc, 0);
  b.addFieldOffset(SNAP.frontier, frontier, 0);
  b.addFieldOffset(SNAP.previous, previous, 0);
  b.addFieldOffset(SNAP.ops, ops, 0);
  b.addFieldOffset(SNAP.evidence, evidence, 0);
  b.addFieldOffset(SNAP.devices, devs, 0);
  // Absent when empty: a snapshot without endorsements keeps the bytes it had before SNAP-10.
  if (ends !== 0) b.addFieldOffset(SNAP.endorsements, ends, 0);
  if (waiting !== 0) b.addFieldOffset(SNAP.waiting, waiting, 0);
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

function unpackVv(b: Uint8Array, devices: readonly string[]): Record<string, number> {
  if (b.length % VV_ENTRY !== 0) malformed('version vector length');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const vv: Record<string, number> = {};
  let last = -1;
  for (let o = 0; o < b.length; o += VV_ENTRY) {
    const i = view.getUint32(o, true);
    const ctr = view.getBigUint64(o + 4, true);
    if (i <= last || i >= devices.length) malformed('version vector device index');
    if (ctr === 0n || ctr > BigInt(Number.MAX_SAFE_INTEGER)) malformed('version vector ctr');
    last = i;
    vv[devices[i]!] = Number(ctr);
  }
  return vv;
}

interface Row {
  entity: EntityId;
  field: number;
  covered: boolean;
  w: WriteRecord;
}

/** One row. `prev`: the row before and its entity's bytes, so consecutive rows share the id string. */
function decodeWrite(
  r: TableReader,
  devices: readonly string[],
  prev: { row: Row; entity: Uint8Array } | undefined,
): { row: Row; entity: Uint8Array } {
  const ai = r.u32(REG.authorIndex);
  if (ai >= devices.length || r.has(REG.author)) malformed('write author');
  const w: WriteRecord = {
    value: r.has(REG.value) ? r.bytes(REG.value) : null,
    wallTime: r.u64(REG.wallTime),
    author: devices[ai] as DeviceId,
    ctr: r.u64(REG.ctr),
    op: hexOf<OpId>(r.shared(REG.op), 32, 'op'),
    depth: r.u64(REG.depth),
  };
  if (r.has(REG.vv)) w.vv = unpackVv(r.shared(REG.vv), devices);
  const e = r.shared(REG.entity);
  const entity =
    prev !== undefined && bytesEqual(e, prev.entity) ? prev.row.entity : hexOf<EntityId>(e, 16, 'entity');
  return { row: { entity, field: r.u16(REG.field), covered: r.u8(REG.covered, 0) === 1, w }, entity: e };
}

function decodeEntities(rows: TableReader[], doc: DocId, devices: readonly string[]): EntityRecord[] {
  const out: EntityRecord[] = [];
  let reg: RegisterRecord | undefined;
  let at: { row: Row; entity: Uint8Array } | undefined;
  for (const t of rows) {
    const prev = at?.row;
    at = decodeWrite(t, devices, at);
    const row = at.row;
    if (prev === undefined || prev.entity !== row.entity || prev.field !== row.field) {
      // SNAP-4: registers strictly ascending by (entity, field), so each appears once.
      if (
        prev !== undefined &&
        (prev.entity > row.entity || (prev.entity === row.entity && prev.field >= row.field))
      )
        malformed('registers not strictly ascending');
      if (row.covered) malformed('a register shows no write');
      if (prev === undefined || prev.entity !== row.entity)
        out.push({ doc, entity: row.entity, registers: [] });
      reg = { field: row.field, writes: [] };
      out[out.length - 1]!.registers.push(reg);
    } else if (!row.covered && reg!.covered !== undefined) malformed('a shown write after a covered one');
    if (!row.covered) reg!.writes.push(row.w);
    else if (reg!.covered === undefined) reg!.covered = [row.w];
    else reg!.covered.push(row.w);
  }
  return out;
}

/**
 * Decodes a snapshot plaintext; `Malformed` unless it is bounds-checked, well-typed, every list
 * in its one order and every index in range (SNAP-4). Anchor ops are opened (OP-2), not verified.
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
  const format = t.u8(SNAP.format, 0);
  if (format !== SNAPSHOT_FORMAT && format !== SNAPSHOT_FORMAT_ACTING)
    throw new EngineError('Unsupported', 'snapshot format');
  const doc = hexOf<DocId>(t.bytes(SNAP.doc), 16, 'doc');
  const previous = t.bytes(SNAP.previous);
  if (previous.length !== 0 && previous.length !== 32) malformed('previous is 32 bytes or empty');
  const devices = idList(t.bytes(SNAP.devices), 32, 'devices');
  for (let i = 1; i < devices.length; i++)
    if (devices[i - 1]! >= devices[i]!) malformed('devices not ascending');
  const anchors = t.tables(SNAP.ops).map((a): SnapshotAnchor => {
    const body = a.u8(ANCHOR.body, 0);
    if (body !== 0 && body !== 1) malformed('anchor body state');
    const op = a.bytes(ANCHOR.op);
    return {
      id: openOp(op).id,
      bytes: op,
      vv: unpackVv(a.shared(ANCHOR.vv), devices),
      mfront: idList(a.bytes(ANCHOR.mfront), 32, 'mfront') as OpId[],
      body: body === 0 ? 'applied' : 'inert',
    };
  });
  const state: SnapshotState = {
    doc,
    frontier: idList(t.bytes(SNAP.frontier), 32, 'frontier') as OpId[],
    previous,
    anchors,
    entities: decodeEntities(t.tables(SNAP.registers), doc, devices),
    evidence: t.tables(SNAP.evidence).map((e) => ({
      doc,
      author: hexOf<DeviceId>(e.bytes(EVID.author), 32, 'evidence author'),
      ctr: e.u64(EVID.ctr),
      ops: idList(e.bytes(EVID.ops), 32, 'evidence ops') as OpId[],
    })),
    ...(format === SNAPSHOT_FORMAT_ACTING ? { format } : {}),
  };
  const listed = (field: number, what: string): ListedStatement[] | undefined => {
    if (!t.has(field)) return undefined;
    const out = t.tables(field).map((e) => ({ body: e.bytes(0), sig: e.bytes(1) }));
    if (out.length === 0) malformed(`an empty ${what} list is left out`);
    for (const e of out) if (e.sig.length !== 64 || e.body.length === 0) malformed(what);
    for (let i = 1; i < out.length; i++)
      if (compareBytes(out[i - 1]!.body, out[i]!.body) >= 0) malformed(`${what} not strictly ascending`);
    return out;
  };
  const ends = listed(SNAP.endorsements, 'endorsements');
  if (ends !== undefined) state.endorsements = ends;
  const waiting = listed(SNAP.waiting, 'waiting endorsements');
  if (waiting !== undefined) {
    if (format === SNAPSHOT_FORMAT_ACTING) malformed('a format 1 snapshot lists no waiting endorsement');
    state.waiting = waiting;
  }
  checkOrder(state);
  return state;
}

/** SNAP-4: one order for every list, so one state has one encoding. */
function checkOrder(s: SnapshotState): void {
  const ascending = (xs: readonly string[], what: string) => {
    for (let i = 1; i < xs.length; i++) if (xs[i - 1]! >= xs[i]!) malformed(`${what} not strictly ascending`);
  };
  ascending(s.frontier, 'frontier');
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
