// The validity rules of docs/PROTOCOL.md as one pure function: an op and the facts of its causal
// past (its predecessors' metadata and the calendar's membership ops) -> valid, with what the op
// derives from its past, or a typed error. It reads no cache and no clock, so every replica and
// the relay decide alike.

import { BOX_PROOF_BYTES, boxProofMessage, sponsorMessage } from './box-proof.ts';
import { bytesEqual, toHex } from './bytes.ts';
import { decodeMembership, LIMITS, type MembershipBody, MembershipKind } from './codec.ts';
import { EngineError, type ErrorCode, toEngineError } from './errors.ts';
import type { DeviceId, DocId, OpId } from './ids.ts';
import { INVITE_PROOF_BYTES, inviteMessage } from './invite.ts';
import {
  CHAINED_KEY_BYTES,
  introducesKey,
  isChainEntry,
  NAME_MAX_BYTES,
  NAME_MIN_BYTES,
  SEALED_KEY_BYTES,
} from './keyring.ts';
import type { MembershipIndex } from './membership.ts';
import type { OpenedOp } from './op.ts';
import { canManage, canWriteEvents, effectiveRole, isRoleValue, type MemberRole, Role } from './roles.ts';
import type { SponsorGroups } from './sponsors.ts';
import { OpKind } from './store.ts';

/** What a replica remembers about an applied op without its bytes. */
export interface OpMeta {
  doc: DocId;
  author: DeviceId;
  ctr: number;
  wallTime: number;
  vv: Record<string, number>;
  mfront: OpId[];
}

export interface PastFacts {
  /** Metadata of the op's parents, then of its prev (last) if it has one: all present. */
  preds: readonly OpMeta[];
  /** The calendar's membership ops (a superset of the op's past is fine: only its closure is read). */
  membership: MembershipIndex;
  /** Ed25519 verification (the replica's provider), for invite proofs. */
  verify: (publicKey: Uint8Array, sig: Uint8Array, msg: Uint8Array) => Promise<boolean>;
}

export interface Valid {
  vv: Record<string, number>;
  /** Maximal membership ops of the op's past (MEM-2), the op itself if it is one. */
  mfront: OpId[];
  /** Maximal membership ops strictly before the op. */
  predFront: OpId[];
  mbody: MembershipBody | undefined;
}

const fail = (op: OpenedOp, code: ErrorCode, msg: string) => new EngineError(code, msg, op.id);

/** Validates an op against its causal past. Never throws. */
export async function validate(op: OpenedOp, facts: PastFacts): Promise<Valid | EngineError> {
  const isGenesis = op.header.doc.length === 0;
  // CLK-2, CLK-3, CLK-5, DAG-2: checks against the predecessors.
  let maxWall = -1;
  const fronts: OpId[] = [];
  const vv: Record<string, number> = {};
  for (const m of facts.preds) {
    if (m.doc !== op.doc) return fail(op, 'WrongDoc', 'a predecessor belongs to another calendar');
    if (m.wallTime > maxWall) maxWall = m.wallTime;
    fronts.push(...m.mfront);
    for (const d in m.vv) if ((vv[d] ?? 0) < m.vv[d]!) vv[d] = m.vv[d]!;
  }
  const w = op.header.wallTime;
  if (w <= maxWall && !(w === LIMITS.maxU53 && maxWall === LIMITS.maxU53))
    return fail(op, 'ClockRule', 'wall_time must exceed every predecessor');
  if (op.prev !== null) {
    const pm = facts.preds[facts.preds.length - 1]!;
    if (pm.author !== op.author || pm.ctr !== op.header.ctr - 1)
      return fail(op, 'ChainRule', "prev must be the author's op with ctr - 1");
  }
  vv[op.author] = Math.max(vv[op.author] ?? 0, op.header.ctr);
  const index = facts.membership;
  const predFront = index.maximal(fronts);

  let mbody: MembershipBody | undefined;
  if (op.header.kind === OpKind.Membership) {
    try {
      mbody = decodeMembership(op.env.body);
    } catch (e) {
      return toEngineError(e, 'Malformed', 'membership body');
    }
    const shape = membershipShape(op, mbody, isGenesis);
    if (shape !== null) return fail(op, 'Malformed', shape);
  }
  if (!isGenesis) {
    const members = index.membersAt(predFront);
    const me = members.get(op.author);
    if (me === undefined) {
      const why = mbody === undefined ? 'x' : await inviteAdd(op, mbody, facts, predFront);
      if (why !== null)
        return why === 'x' ? fail(op, 'NotMember', "author is not a member in the op's causal past") : why;
    } else {
      const denied = permission(op, mbody, me.role, () => index.groupsAt(predFront));
      if (denied !== null) return fail(op, 'NotPermitted', denied);
      const bad = mbody === undefined ? null : await memberOp(op, mbody, members, facts);
      if (bad !== null) return bad;
    }
  }
  const mfront = mbody === undefined ? predFront : [op.id];
  return { vv, mfront, predFront, mbody };
}

/** MEM-4, MEM-8, MEM-11, ROLE-2: a membership op by a member, against the members at its past. */
async function memberOp(
  op: OpenedOp,
  m: MembershipBody,
  members: ReadonlyMap<DeviceId, unknown>,
  facts: PastFacts,
): Promise<EngineError | null> {
  const subject = toHex(m.subject) as DeviceId;
  if (m.kind === MembershipKind.Add && m.invite.length > 0)
    return fail(op, 'Malformed', 'an Add by a member carries no invite proof');
  // MEM-8: an Add of a device already a member (another box key for it) is not allowed.
  if (m.kind === MembershipKind.Add && members.has(subject))
    return fail(op, 'NotMember', 'the subject is already a member');
  if ((m.kind === MembershipKind.Remove || m.kind === MembershipKind.SetRole) && !members.has(subject))
    return fail(op, 'NotMember', 'the subject is not a member');
  // MEM-11: the box key an Add states is the subject's own, signed by it for this calendar;
  // ROLE-11: in a sponsored Add, signed for this calendar and this author alone.
  if (m.kind !== MembershipKind.Add) return null;
  const proof =
    m.sponsored === true
      ? sponsorMessage(op.header.doc, m.subject, m.subjectBox, op.header.author)
      : boxProofMessage(op.header.doc, m.subject, m.subjectBox);
  if (!(await facts.verify(m.subject, m.boxProof, proof)))
    return fail(op, 'BadSignature', "the subject's box proof does not verify");
  return null;
}

/**
 * ROLE-4: what the author's role at the op's causal past allows; null when allowed. Viewers write
 * no Patch; only managers add, remove others and set roles. Every member may Rotate
 * (KEY-10 heals viewers too) and Remove itself (leave). ROLE-11: any member may sponsor a device
 * at a role no higher than its own; ROLE-14: and invite at such a role; ROLE-12: any member may
 * remove a device of its sponsor group.
 */
function permission(
  op: OpenedOp,
  m: MembershipBody | undefined,
  role: MemberRole,
  groups: () => SponsorGroups,
): string | null {
  if (m === undefined) return canWriteEvents(role) ? null : 'a viewer writes no events';
  const k = m.kind;
  if (k === MembershipKind.Rotate) return null;
  if (k === MembershipKind.Remove && bytesEqual(m.subject, op.header.author)) return null;
  if (k === MembershipKind.Add && m.sponsored === true)
    return effectiveRole(m.role) <= role ? null : 'a sponsored Add states a role no higher than its author';
  // ROLE-14: any member may invite, at a role no higher than its own.
  if (k === MembershipKind.Invite)
    return effectiveRole(m.role) <= role ? null : 'an Invite states a role no higher than its author';
  if (canManage(role)) return null;
  if (k === MembershipKind.Remove) {
    const g = groups();
    if (g.same(op.author, toHex(m.subject) as DeviceId)) return null;
    return "only a manager removes a device outside the author's sponsor group";
  }
  return 'only a manager adds, removes or sets roles';
}

/** ROLE-2: where a role may be stated, and which values. Null when fine. */
function roleShape(m: MembershipBody): string | null {
  if (!isRoleValue(m.role)) return 'unknown role';
  const k = m.kind;
  if (k === MembershipKind.SetRole) {
    if (m.role === Role.Unstated) return 'a SetRole states a role';
    if (m.keys.length !== 0 || m.sealed.length !== 0) return 'a SetRole carries no keys or name';
    return null;
  }
  if (k !== MembershipKind.Add && k !== MembershipKind.Invite && m.role !== Role.Unstated)
    return 'a role is stated only in an Add, Invite or SetRole';
  if (m.sponsored === true && m.role === Role.Unstated) return 'a sponsored Add states a role';
  return null;
}

/** MEM-7, OP-2: what each membership kind must carry; every fixed length. Null when fine. */
export function membershipShape(op: OpenedOp, m: MembershipBody, isGenesis: boolean): string | null {
  const k = m.kind;
  if (isGenesis !== (k === MembershipKind.Genesis)) return 'genesis kind only in a genesis op';
  const self = bytesEqual(m.subject, op.header.author);
  if ((k === MembershipKind.Genesis || k === MembershipKind.Rotate) && !self)
    return 'a genesis or rotate names its author';
  const role = roleShape(m);
  if (role !== null) return role;
  const noBox = k === MembershipKind.Remove || k === MembershipKind.SetRole;
  if (noBox ? m.subjectBox.length !== 0 : m.subjectBox.length !== 32)
    return 'subject_box is 32 bytes, empty only in a Remove or SetRole';
  if (k === MembershipKind.Invite ? m.expires < op.header.wallTime : m.expires !== 0)
    return 'expires is set only in an Invite, not before its wall_time';
  if (
    k === MembershipKind.Add
      ? m.invite.length !== 0 && m.invite.length !== INVITE_PROOF_BYTES
      : m.invite.length !== 0
  )
    return 'invite is a 96-byte proof, only in an Add';
  // ROLE-11: only an Add of another device, not by invite, is sponsored.
  if (m.sponsored === true && (k !== MembershipKind.Add || self || m.invite.length !== 0))
    return 'sponsored is set only in an Add of another device';
  // MEM-11: an Add of another device carries that device's box proof; no other op carries one.
  if (m.boxProof.length !== (k === MembershipKind.Add && !self ? BOX_PROOF_BYTES : 0))
    return 'box_proof is 64 bytes in an Add of another device, empty otherwise';
  if (m.sealed.length !== 0 && (m.sealed.length < NAME_MIN_BYTES || m.sealed.length > NAME_MAX_BYTES))
    return 'sealed name length';
  let newId: string | undefined;
  for (const w of m.keys) {
    if (w.keyId.length !== 8) return 'wrapped key id is 8 bytes';
    if (isChainEntry(w)) {
      if (!introducesKey(k)) return 'only an op that introduces a key chains older ones';
      if (w.sealed.length !== CHAINED_KEY_BYTES) return 'chained key length';
      continue;
    }
    if (w.sealed.length !== SEALED_KEY_BYTES) return 'sealed key length';
    if (introducesKey(k)) {
      const id = toHex(w.keyId);
      if (newId !== undefined && id !== newId) return 'an op introduces one key';
      newId = id;
    }
  }
  if (
    k === MembershipKind.Genesis &&
    !m.keys.some((w) => !isChainEntry(w) && bytesEqual(w.recipient, op.header.author))
  )
    return 'a genesis seals its key for its author';
  return null;
}

/**
 * INV-2..INV-4, INV-9: an Add by a non-member is valid only as a self-add proven by an invite of
 * this calendar in its causal past whose inviter is still a member there, dated no later than
 * the invite's expiry, and the first use of that invite in its causal past. Null when valid.
 */
async function inviteAdd(
  op: OpenedOp,
  m: MembershipBody,
  facts: PastFacts,
  front: OpId[],
): Promise<EngineError | null | 'x'> {
  if (m.kind !== MembershipKind.Add || m.invite.length === 0) return 'x';
  if (!bytesEqual(m.subject, op.header.author) || m.invite.length !== INVITE_PROOF_BYTES)
    return fail(op, 'InviteInvalid', 'an invite may only add its holder, with a 96-byte proof');
  const index = facts.membership;
  const inviteId = toHex(m.invite.subarray(0, 32)) as OpId;
  const closure = index.closure(front);
  const inv = index.get(inviteId);
  if (inv === undefined || !closure.has(inviteId) || inv.body.kind !== MembershipKind.Invite)
    return fail(op, 'InviteInvalid', "the invite is not in this calendar or not in the op's causal past");
  const inviter = index.membersAt(front).get(inv.author);
  if (inviter === undefined)
    return fail(op, 'InviteInvalid', "the inviter is not a member in the op's causal past");
  // ROLE-5, ROLE-14: an invite lets in only while its author holds at least its role, and with exactly that role.
  if (inviter.role < effectiveRole(inv.body.role))
    return fail(op, 'NotPermitted', "the inviter's role in the op's causal past is below the invite's");
  const message = inviteMessage(op.header.doc, m.invite.subarray(0, 32), m.subject, m.subjectBox);
  if (!(await facts.verify(inv.body.subject, m.invite.subarray(32), message)))
    return fail(op, 'InviteInvalid', 'the invite proof does not verify');
  // As the roles count (ROLE-1): an older build's Add states none, which matches a manager's invite.
  if (effectiveRole(m.role) !== effectiveRole(inv.body.role))
    return fail(op, 'NotPermitted', "an Add by invite states the invite's role");
  if (op.header.wallTime > inv.body.expires) return fail(op, 'InviteExpired', 'the invite had expired');
  for (const id of closure) {
    const other = index.get(id);
    if (
      other !== undefined &&
      other.body.invite.length === INVITE_PROOF_BYTES &&
      toHex(other.body.invite.subarray(0, 32)) === inviteId
    )
      return fail(op, 'InviteUsed', 'the invite was already used');
  }
  return null;
}
