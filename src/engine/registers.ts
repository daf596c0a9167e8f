// Bodies into registers: decrypt, decode and merge a patch into the staged entities of a
// transaction (OP-6, VAL-1, LWW-*), MEM-5's rule that an op concurrent with a Remove of its
// author (neither in the other's causal past) changes no register, whichever arrives first, the
// same for a demotion to viewer (ROLE-7), and ROLE-8 (the calendar's fields are managers').

import { toHex } from './bytes.ts';
import { isValidWrite } from './calendar.ts';
import { decodePatch, type PatchBody } from './codec.ts';
import { CALENDAR_ENTITY, type DeviceId, type EntityId, type OpId } from './ids.ts';
import { depthOf, mergeWrite } from './lww.ts';
import type { MembershipIndex } from './membership.ts';
import { decryptBody, type OpenedOp } from './op.ts';
import { canManage } from './roles.ts';
import type { BodyState, WriteRecord } from './store.ts';
import type { Txn } from './txn.ts';

/** What an op's body needs besides its bytes: its version vector and membership frontier. */
export interface Past {
  vv: Record<string, number>;
  mfront: readonly OpId[];
}

/**
 * MEM-5, ROLE-7 for an op arriving now (not stored yet): it is revoked when the calendar holds a
 * Remove of its author, or a SetRole making it a viewer, that is not in its causal past. Such a Remove cannot have the op in its own
 * causal past (every op in it is already stored), so the op and the Remove are concurrent.
 * MEM-12: also when its author was a member at its causal past only by Adds that count for nothing.
 * Ops already stored are judged by `revokedStored` (applier.ts), on the hash DAG.
 */
export function revoked(index: MembershipIndex, author: DeviceId, past: Past): boolean {
  if (index.standsOnVoid(author, past.mfront)) return true;
  const rs = index.revokersOf(author);
  if (rs.length === 0) return false;
  const closure = index.closure(past.mfront);
  return rs.some((r) => !closure.has(r.id));
}

function managerAt(index: MembershipIndex, author: DeviceId, past: Past): boolean {
  const m = index.membersAt(past.mfront).get(author);
  return m !== undefined && canManage(m.role);
}

/** Decrypts and decodes a patch body; null when it is inert (OP-6, VAL-1). */
export function openPatch(op: OpenedOp, key: Uint8Array): { entity: EntityId; patch: PatchBody } | null {
  const plain = decryptBody(op, key);
  if (plain === null) return null;
  let patch: PatchBody;
  try {
    patch = decodePatch(plain);
  } catch {
    return null;
  }
  const entity = toHex(patch.entity) as EntityId;
  // VAL-1: a write of the wrong type to a known field makes the whole op inert.
  if (!patch.writes.every((w) => isValidWrite(entity, w.field, w.value))) return null;
  return { entity, patch };
}

/** Merges a patch into the transaction's copy of the entity it writes; returns its body state and entity. */
export function materialize(
  txn: Txn,
  op: OpenedOp,
  key: Uint8Array,
  past: Past,
  plain?: { entity: EntityId; patch: PatchBody },
  isRevoked: boolean = revoked(txn.membership, op.author, past),
): [BodyState, EntityId | undefined] {
  const opened = plain ?? openPatch(op, key);
  if (opened === null) return ['inert', undefined];
  if (isRevoked) return ['inert', undefined];
  // ROLE-8: the calendar's own fields (name, colour, settings) are a manager's to write.
  if (opened.entity === CALENDAR_ENTITY && !managerAt(txn.membership, op.author, past))
    return ['inert', undefined];
  return ['applied', mergeInto(txn, op, opened.entity, opened.patch, past.vv) ? opened.entity : undefined];
}

function mergeInto(
  txn: Txn,
  op: OpenedOp,
  entity: EntityId,
  patch: PatchBody,
  vv: Record<string, number>,
): boolean {
  const current = txn.entity(entity);
  const regs = new Map((current?.registers ?? []).map((r) => [r.field, r]));
  let changed = false;
  const depth = depthOf({ vv });
  for (const w of patch.writes) {
    const write: WriteRecord = {
      value: w.value,
      wallTime: op.header.wallTime,
      author: op.author,
      ctr: op.header.ctr,
      op: op.id,
      vv,
      depth,
    };
    const next = mergeWrite(regs.get(w.field), write, w.field);
    if (next !== null) {
      regs.set(w.field, next);
      changed = true;
    }
  }
  if (changed) {
    const registers = [...regs.values()].sort((a, b) => a.field - b.field);
    txn.entities.set(entity, { doc: op.doc, entity, registers });
  }
  return changed;
}
