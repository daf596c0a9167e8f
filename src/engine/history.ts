// Field history (docs/PROTOCOL.md CMP-*): every write to each register of one entity, read back
// from the op log. Ops name their entity only inside the encrypted body, so the log is read page by
// page and each Patch decrypted; what is kept per field is bounded (the greatest `limit` writes
// plus a window to find what each replaced), so memory does not grow with history. Reading
// changes no state: nothing is staged, stored or cached.

import { toHex } from './bytes.ts';
import { fieldType, isValidWrite } from './calendar.ts';
import {
  decodeEnvelope,
  decodeHeader,
  decodePatch,
  type Envelope,
  type Header,
  type PatchBody,
} from './codec.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DeviceId, DocId, EntityId, KeyId, OpId } from './ids.ts';
import type { Keyring } from './keyring.ts';
import { compareWrites, covers, depthOf } from './lww.ts';
import { decryptBody } from './op.ts';
import { OpKind, type OpRecord, type RegisterRecord, type WriteRecord } from './store.ts';

/**
 * What a write is now: the register's value (`winner`), a concurrent loser still in its frontier
 * (`conflict`, LWW-4), overwritten (`superseded`), or never counted: its op was revoked by its
 * author's removal (`revoked`, MEM-5) or its body is invalid (`inert`, VAL-1, OP-6).
 */
export type HistoryStatus = 'winner' | 'conflict' | 'superseded' | 'revoked' | 'inert';

export interface HistoryEntry {
  op: OpId;
  author: DeviceId;
  ctr: number;
  /** The op's wall_time (µs). */
  wallTime: number;
  /** The value written (null: the field was cleared, LWW-2), bytes as signed. */
  value: Uint8Array | null;
  /**
   * The value this write replaced: the greatest counted write to the field in its op's causal
   * past (what its author's register showed); null when there was none (the field was unset);
   * undefined when that write lies beyond what this page kept (older than `limit` + window).
   */
  old: Uint8Array | null | undefined;
  /** The op of the write it replaced: null when none (the field's first write), undefined when unknown. */
  replaced: OpId | null | undefined;
  status: HistoryStatus;
}

export interface FieldHistory {
  field: number;
  /** Newest first, in the register order (LWW-1). */
  entries: HistoryEntry[];
  /** Older writes not returned (ask again with `before` = the last entry's op). */
  more: number;
}

export interface EntityHistory {
  entity: EntityId;
  fields: FieldHistory[];
  /**
   * Patch ops of the calendar this replica cannot read (no key yet, KEY-6, or a body that does
   * not decrypt): they name their entity only inside the body, so any of them may have written
   * this entity. None of them counts in a register here either.
   */
  unreadable: number;
}

export interface HistoryOptions {
  /** Only these fields (default: every field the entity has a write to). */
  fields?: readonly number[];
  /** Most entries per field (default 50, at most MAX_HISTORY_LIMIT). */
  limit?: number;
  /** Only writes older (LWW-1) than those of this op: the next page. */
  before?: OpId;
}

export const MAX_HISTORY_LIMIT = 1000;
const DEFAULT_LIMIT = 50;
/** Writes kept below the page to find what each entry replaced (a register keeps 33, LWW-5). */
const WINDOW = 64;
/** Unknown fields tracked at most, besides the fields the schema knows. */
const MAX_FIELDS = 64;
const PAGE = 500;

interface Found {
  w: WriteRecord;
  /** Body state as the register saw it: counted, revoked or inert. */
  kind: 'counted' | 'revoked' | 'inert';
}

/** The history of `entity` in `doc` (see HistoryOptions); the caller runs it on the replica's queue. */
export async function entityHistory(
  core: Core,
  doc: DocId,
  entity: EntityId,
  opts: HistoryOptions = {},
): Promise<EntityHistory> {
  const st = core.mustDoc(doc);
  const limit = opts.limit ?? DEFAULT_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_HISTORY_LIMIT)
    throw new EngineError('InvalidArgument', `history limit must be 1..${MAX_HISTORY_LIMIT}`);
  const only = opts.fields === undefined ? undefined : new Set(opts.fields);
  const cursor = opts.before === undefined ? undefined : await cursorOf(core, doc, opts.before);
  const keep = limit + WINDOW;
  const byField = new Map<number, { found: Found[]; total: number }>();
  let unreadable = 0;
  let after = 0;
  for (;;) {
    const page = await core.store.listOps(doc, after, PAGE);
    if (page.length === 0) break;
    after = page[page.length - 1]!.seq;
    for (const r of page) {
      if (r.kind !== OpKind.Patch) continue;
      const opened = readPatch(st.keys, r);
      if (opened === null) {
        unreadable++;
        continue;
      }
      if (opened.entity !== entity) continue;
      for (const f of foundIn(r, opened.patch, entity)) {
        const field = f.field;
        if (only !== undefined && !only.has(field)) continue;
        if (cursor !== undefined && compareWrites(f.found.w, cursor) >= 0) continue;
        let slot = byField.get(field);
        if (slot === undefined) {
          // Fields the schema knows are always tracked; unknown ones (a hostile member may write
          // thousands of numbers) only up to the cap.
          if (byField.size >= MAX_FIELDS && fieldType(entity, field) === undefined) continue;
          slot = { found: [], total: 0 };
          byField.set(field, slot);
        }
        slot.total++;
        slot.found.push(f.found);
        // Amortized: sort and cut once another WINDOW writes beyond what is kept have piled up.
        if (slot.found.length > keep + WINDOW) slot.found = greatest(slot.found, keep);
      }
    }
  }
  const regs = new Map((st.entities.get(entity)?.registers ?? []).map((g) => [g.field, g]));
  const fields: FieldHistory[] = [];
  for (const [field, slot] of [...byField].sort((a, b) => a[0] - b[0])) {
    const kept = greatest(slot.found, keep);
    const entries = entriesOf(kept, regs.get(field), slot.total > kept.length, limit);
    fields.push({ field, entries, more: slot.total - entries.length });
  }
  return { entity, fields, unreadable };
}

/**
 * The entity and writes of a stored Patch, or null when this replica cannot read it. Stored bytes
 * were checked (format, body hash, signature) when applied: they are only decoded here, which is
 * a tenth of openOp's cost (measured), so decryption is most of the work.
 */
function readPatch(keys: Keyring, r: OpRecord): { entity: string; patch: PatchBody } | null {
  if (r.body === 'locked') return null;
  let op: { env: Envelope; header: Header };
  try {
    const env = decodeEnvelope(r.bytes, true);
    op = { env, header: decodeHeader(env.header, true) };
  } catch {
    return null;
  }
  const key = op.header.keyId.length === 0 ? undefined : keys.get(toHex(op.header.keyId) as KeyId);
  if (key === undefined) return null;
  const plain = decryptBody(op, key);
  if (plain === null) return null;
  try {
    const patch = decodePatch(plain);
    return { entity: toHex(patch.entity), patch };
  } catch {
    return null;
  }
}

/** One write per field of a patch, with the body state its op got (OP-6, MEM-5, VAL-1). */
function foundIn(r: OpRecord, patch: PatchBody, entity: EntityId): { field: number; found: Found }[] {
  // VAL-1: one invalid write makes the whole patch inert; a valid patch stored inert was revoked.
  const valid = patch.writes.every((w) => isValidWrite(entity, w.field, w.value));
  const kind: Found['kind'] = r.body === 'applied' ? 'counted' : valid ? 'revoked' : 'inert';
  const depth = depthOf({ vv: r.vv });
  return patch.writes.map((x) => ({
    field: x.field,
    found: {
      kind,
      w: { value: x.value, wallTime: r.wallTime, author: r.author, ctr: r.ctr, op: r.id, vv: r.vv, depth },
    },
  }));
}

async function cursorOf(core: Core, doc: DocId, id: OpId): Promise<WriteRecord> {
  const r = (await core.store.getOps(doc, [id]))[0];
  if (r === undefined || r.doc !== doc) throw new EngineError('InvalidArgument', `no op ${id} in ${doc}`);
  const depth = depthOf({ vv: r.vv });
  return { value: null, wallTime: r.wallTime, author: r.author, ctr: r.ctr, op: r.id, vv: r.vv, depth };
}

function greatest(found: Found[], n: number): Found[] {
  return found.sort((a, b) => compareWrites(b.w, a.w)).slice(0, n);
}

/**
 * Entries for the greatest writes (sorted newest first): the status each has in the register,
 * and the value each replaced (the greatest counted write it covers, LWW-4), among those kept.
 */
function entriesOf(
  kept: Found[],
  reg: RegisterRecord | undefined,
  truncated: boolean,
  limit: number,
): HistoryEntry[] {
  const frontier = new Set((reg?.writes ?? []).map((w) => w.op));
  const winner = reg?.writes[0]?.op;
  const out: HistoryEntry[] = [];
  for (let i = 0; i < Math.min(limit, kept.length); i++) {
    const { w, kind } = kept[i]!;
    let old: Uint8Array | null | undefined = truncated ? undefined : null;
    let replaced: OpId | null | undefined = truncated ? undefined : null;
    for (let j = i + 1; j < kept.length; j++) {
      const x = kept[j]!;
      if (x.kind === 'counted' && covers(w, x.w)) {
        old = x.w.value;
        replaced = x.w.op;
        break;
      }
    }
    const status: HistoryStatus =
      kind !== 'counted' ? kind : w.op === winner ? 'winner' : frontier.has(w.op) ? 'conflict' : 'superseded';
    out.push({
      op: w.op,
      author: w.author,
      ctr: w.ctr,
      wallTime: w.wallTime,
      value: w.value,
      old,
      replaced,
      status,
    });
  }
  return out;
}

/**
 * CMP-7: the value op `id` wrote to `field` of `entity`, read from the log, when it is a counted
 * write (its body applied: not revoked, not inert); undefined otherwise.
 */
export async function pastWrite(
  core: Core,
  doc: DocId,
  entity: EntityId,
  field: number,
  id: OpId,
): Promise<{ value: Uint8Array | null } | undefined> {
  const st = core.mustDoc(doc);
  const r = (await core.store.getOps(doc, [id]))[0];
  if (r === undefined || r.doc !== doc || r.kind !== OpKind.Patch || r.body !== 'applied') return undefined;
  const opened = readPatch(st.keys, r);
  if (opened === null || opened.entity !== entity) return undefined;
  const w = opened.patch.writes.find((x) => x.field === field);
  return w === undefined ? undefined : { value: w.value };
}
