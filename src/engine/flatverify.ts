// A minimal flatbuffers verifier. The flatbuffers JavaScript runtime has none: reading a
// malformed buffer can return garbage or throw at a random place. Every buffer from the wire or
// from storage passes through `verifyTable` first, so accessors afterwards only touch bytes
// inside the buffer (docs/PROTOCOL.md OP-2).

/** What a field holds, for bounds checks: scalars of a width, byte vectors, or vectors of tables. */
export type FieldSpec = 1 | 2 | 4 | 8 | 'bytes' | { table: TableSpec };
/** Field specs by field index (the n-th field declared in the .fbs table). */
export type TableSpec = readonly FieldSpec[];

const MAX_DEPTH = 8;

export class FlatVerifyError extends Error {}

function fail(what: string): never {
  throw new FlatVerifyError(what);
}

/**
 * Verifies a whole buffer whose root is a table of `spec`, optionally with a file identifier.
 * Returns the root table's position.
 */
export function verifyRoot(buf: Uint8Array, spec: TableSpec, fileId?: string): number {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 8) fail('buffer too short');
  if (fileId !== undefined) {
    for (let i = 0; i < 4; i++) if (buf[4 + i] !== fileId.charCodeAt(i)) fail('wrong file identifier');
  }
  const root = view.getUint32(0, true);
  verifyTable(view, root, spec, 0);
  return root;
}

/**
 * Reads fields of a table `verifyRoot` passed, by slot (the n-th field declared in the .fbs
 * table), the way generated readers do; every position read was bounds-checked by the verifier.
 */
export class TableReader {
  private readonly view: DataView;
  constructor(
    private readonly buf: Uint8Array,
    private readonly pos: number,
    view?: DataView,
  ) {
    this.view = view ?? new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Whether field `slot` is present. */
  has(slot: number): boolean {
    return this.at(slot) !== 0;
  }

  /** A vector of tables, one reader each; empty when absent. */
  tables(slot: number): TableReader[] {
    const a = this.at(slot);
    if (a === 0) return [];
    const v = a + this.view.getUint32(a, true);
    const out: TableReader[] = [];
    for (let k = 0, n = this.view.getUint32(v, true); k < n; k++) {
      const el = v + 4 + 4 * k;
      out.push(new TableReader(this.buf, el + this.view.getUint32(el, true), this.view));
    }
    return out;
  }

  /** Where field `slot` is, or 0 when it is absent (then it has its schema default). */
  private at(slot: number): number {
    const vt = this.pos - this.view.getInt32(this.pos, true);
    const o = 4 + 2 * slot;
    if (o >= this.view.getUint16(vt, true)) return 0;
    const off = this.view.getUint16(vt + o, true);
    return off === 0 ? 0 : this.pos + off;
  }

  /** A byte vector, copied (so it pins nothing); empty when absent. */
  bytes(slot: number): Uint8Array {
    return this.shared(slot).slice();
  }

  /** A byte vector as a view into the buffer (which must then never change); empty when absent. */
  shared(slot: number): Uint8Array {
    const a = this.at(slot);
    if (a === 0) return this.buf.subarray(0, 0);
    const v = a + this.view.getUint32(a, true);
    return this.buf.subarray(v + 4, v + 4 + this.view.getUint32(v, true));
  }

  u8(slot: number, dflt: number): number {
    const a = this.at(slot);
    return a === 0 ? dflt : this.view.getUint8(a);
  }

  u16(slot: number): number {
    const a = this.at(slot);
    return a === 0 ? 0 : this.view.getUint16(a, true);
  }

  u32(slot: number): number {
    const a = this.at(slot);
    return a === 0 ? 0 : this.view.getUint32(a, true);
  }

  /** An unsigned 64-bit field as a number: exact below 2^53, at least 2^53 (not a safe integer) above. */
  u64(slot: number): number {
    const a = this.at(slot);
    return a === 0 ? 0 : this.view.getUint32(a, true) + this.view.getUint32(a + 4, true) * 2 ** 32;
  }
}

function verifyTable(view: DataView, pos: number, spec: TableSpec, depth: number): void {
  if (depth > MAX_DEPTH) fail('nesting too deep');
  const len = view.byteLength;
  if (pos % 4 !== 0 || pos + 4 > len) fail('table out of bounds');
  const vt = pos - view.getInt32(pos, true);
  if (vt < 0 || vt % 2 !== 0 || vt + 4 > len) fail('vtable out of bounds');
  const vtSize = view.getUint16(vt, true);
  const tableSize = view.getUint16(vt + 2, true);
  if (vtSize < 4 || vtSize % 2 !== 0 || vt + vtSize > len) fail('bad vtable size');
  if (tableSize < 4 || pos + tableSize > len) fail('bad table size');
  const slots = (vtSize - 4) / 2;
  for (let i = 0; i < slots; i++) {
    const off = view.getUint16(vt + 4 + i * 2, true);
    if (off === 0) continue;
    const f = spec[i];
    // Fields this reader does not know (a newer schema) are skipped: they are never read.
    if (f === undefined) continue;
    const size = typeof f === 'number' ? f : 4;
    if (off < 4 || off + size > tableSize) fail(`field ${i} outside its table`);
    if (typeof f === 'number') continue;
    const at = pos + off;
    const vec = at + view.getUint32(at, true);
    if (vec % 4 !== 0 || vec + 4 > len) fail(`field ${i} vector out of bounds`);
    const n = view.getUint32(vec, true);
    if (f === 'bytes') {
      if (vec + 4 + n > len) fail(`field ${i} bytes out of bounds`);
      continue;
    }
    if (vec + 4 + n * 4 > len) fail(`field ${i} table vector out of bounds`);
    for (let k = 0; k < n; k++) {
      const el = vec + 4 + k * 4;
      verifyTable(view, el + view.getUint32(el, true), f.table, depth + 1);
    }
  }
}
