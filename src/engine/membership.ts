// Who may write a calendar, as a function of an op's causal past (docs/PROTOCOL.md MEM-*).
// Membership ops are few, so each keeps the set of membership ops in its causal past; any
// other op refers to membership through its `mfront`, the maximal membership ops it has seen.
// An index can be forked: a transaction stages membership ops in a fork, and the fork's ops
// move into its parent only once the transaction has committed.

import { toHex } from './bytes.ts';
import type { MembershipBody } from './codec.ts';
import { MembershipKind } from './codec.ts';
import type { DeviceId, OpId } from './ids.ts';
import { INVITE_PROOF_BYTES } from './invite.ts';
import { effectiveRole, type MemberRole, Role } from './roles.ts';
import { type SponsorEdge, SponsorGroups } from './sponsors.ts';

export interface MembershipOp {
  id: OpId;
  author: DeviceId;
  wallTime: number;
  body: MembershipBody;
  subject: DeviceId;
  /** Membership ops strictly in this op's causal past. */
  ancestors: ReadonlySet<OpId>;
  /** The op's version vector (MEM-5: which of a removed device's ops it had seen). */
  vv: Readonly<Record<string, number>>;
  /** ROLE-6: a SetRole that gives its subject a higher role than it had in the op's causal past. */
  raises: boolean;
}

export interface MemberInfo {
  device: DeviceId;
  /**
   * X25519 key content keys are sealed for (MEM-8): the one the device stated last, by its own
   * op or by its box proof in an Add (MEM-11); empty when it never stated one.
   */
  box: Uint8Array;
  /** The op that made it a member. */
  addedBy: OpId;
  addedAt: number;
  /** ROLE-3: what it may do at the frontier. */
  role: MemberRole;
}

const EMPTY = new Uint8Array(0);

const concurrent = (a: MembershipOp, b: MembershipOp): boolean =>
  a.id !== b.id && !a.ancestors.has(b.id) && !b.ancestors.has(a.id);

export class MembershipIndex {
  private readonly own = new Map<OpId, MembershipOp>();
  private readonly revokers = new Map<DeviceId, MembershipOp[]>();
  private readonly memo = new Map<string, Map<DeviceId, MemberInfo>>();
  private readonly groupMemo = new Map<string, SponsorGroups>();
  /** membersAt's live Adds of each member, per frontier (MEM-12). */
  private readonly basisMemo = new Map<string, Map<DeviceId, OpId[]>>();
  /** MEM-12: the ops that count for nothing given every op held, and how many ops that was. */
  private voidMemo: { n: number; voided: ReadonlySet<OpId> } | undefined;
  private readonly parent: MembershipIndex | undefined;

  constructor(parent?: MembershipIndex) {
    this.parent = parent;
  }

  get(id: OpId): MembershipOp | undefined {
    return this.own.get(id) ?? this.parent?.get(id);
  }

  add(op: MembershipOp): void {
    this.own.set(op.id, op);
    if (revokes(op)) push(this.revokers, op.subject, op);
  }

  /**
   * MEM-5, ROLE-7: every op of the calendar that revokes d's concurrent Patches: its Removes and
   * the SetRoles that make it a viewer.
   */
  revokersOf(d: DeviceId): MembershipOp[] {
    const mine = this.revokers.get(d) ?? [];
    const theirs = this.parent?.revokersOf(d) ?? [];
    return theirs.length === 0 ? mine : [...theirs, ...mine];
  }

  /** ROLE-6: whether setting `subject` to `role` raises it above its role at `front` (an op's past). */
  raises(subject: DeviceId, role: Role, front: readonly OpId[]): boolean {
    const m = this.membersAt(front).get(subject);
    return m === undefined || role > m.role;
  }

  /** A view that sees this index's ops plus its own, for staging (see the file header). */
  fork(): MembershipIndex {
    return new MembershipIndex(this);
  }

  /** Takes in the ops staged in a fork of this index. */
  absorb(fork: MembershipIndex): void {
    for (const op of fork.own.values()) this.add(op);
  }

  /** Every op, parents' first. */
  *all(): Iterable<MembershipOp> {
    if (this.parent !== undefined) yield* this.parent.all();
    yield* this.own.values();
  }

  private count(): number {
    return this.own.size + (this.parent?.count() ?? 0);
  }

  /**
   * MEM-12: the membership ops that count for nothing (MEM-10, ROLE-6) given every membership op
   * held. Ops only ever arrive, and a lowering op never stops voiding, so this set only grows.
   */
  voided(): ReadonlySet<OpId> {
    if (this.own.size === 0 && this.parent !== undefined) return this.parent.voided();
    const n = this.count();
    if (this.voidMemo?.n === n) return this.voidMemo.voided;
    const ops = [...this.all()];
    const counting = new Set(countingOps(ops).map((o) => o.id));
    const voided = new Set(ops.filter((o) => !counting.has(o.id)).map((o) => o.id));
    this.voidMemo = { n, voided };
    return voided;
  }

  /**
   * MEM-12: whether d was a member at `front` (an op's causal past) only by Adds that, given every
   * op held now, count for nothing: an op d wrote there is then revoked.
   */
  standsOnVoid(d: DeviceId, front: readonly OpId[]): boolean {
    const v = this.voided();
    if (v.size === 0) return false;
    this.membersAt(front);
    const basis = this.basisAt(front).get(d);
    return basis !== undefined && basis.length > 0 && basis.every((id) => v.has(id));
  }

  private basisAt(front: readonly OpId[]): Map<DeviceId, OpId[]> {
    if (this.own.size === 0 && this.parent !== undefined) return this.parent.basisAt(front);
    return this.basisMemo.get(front.join(',')) ?? new Map();
  }

  /** Membership ops in the causal past of a frontier, the frontier included. */
  closure(front: readonly OpId[]): Set<OpId> {
    const out = new Set<OpId>();
    for (const f of front) {
      out.add(f);
      const op = this.get(f);
      if (op !== undefined) for (const a of op.ancestors) out.add(a);
    }
    return out;
  }

  /** MEM-2: the maximal elements of a set of membership ops (none in another's past). */
  maximal(ids: Iterable<OpId>): OpId[] {
    const set = [...new Set(ids)];
    if (set.length <= 1) return set;
    return set.filter((id) => !set.some((o) => o !== id && this.get(o)?.ancestors.has(id))).sort();
  }

  /**
   * ROLE-12: the sponsor groups at a frontier: the connected components of the sponsored Adds
   * (ROLE-11) and of the Adds by a non-manager's invite (ROLE-14) in its past that count (MEM-10,
   * ROLE-6), whether or not their subjects are still in.
   */
  groupsAt(front: readonly OpId[]): SponsorGroups {
    if (this.own.size === 0 && this.parent !== undefined) return this.parent.groupsAt(front);
    const key = front.join(',');
    const hit = this.groupMemo.get(key);
    if (hit !== undefined) return hit;
    const ops = this.opsIn(front);
    const edges: SponsorEdge[] = [];
    const linking = (o: MembershipOp) =>
      o.body.sponsored === true || o.body.invite.length === INVITE_PROOF_BYTES;
    for (const o of ops.some(linking) ? countingOps(ops) : []) {
      if (o.body.sponsored === true) edges.push({ author: o.author, subject: o.subject });
      else if (o.body.invite.length === INVITE_PROOF_BYTES) {
        const inviter = this.memberInviter(o);
        if (inviter !== undefined) edges.push({ author: inviter, subject: o.subject });
      }
    }
    const groups = new SponsorGroups(edges);
    if (this.groupMemo.size > 4096) this.groupMemo.clear();
    this.groupMemo.set(key, groups);
    return groups;
  }

  /**
   * ROLE-14: the author of the Invite an Add by invite used, when that author was not a manager at
   * the Invite's causal past (a member's invite links the joiner to it, as a sponsored Add does);
   * undefined for a manager's invite (it links nothing).
   */
  private memberInviter(add: MembershipOp): DeviceId | undefined {
    const inv = this.get(toHex(add.body.invite.subarray(0, 32)) as OpId);
    if (inv === undefined || inv.body.kind !== MembershipKind.Invite) return undefined;
    const role = this.membersAt(this.maximal(inv.ancestors)).get(inv.author)?.role;
    return role === undefined || role === Role.Manager ? undefined : inv.author;
  }

  private opsIn(front: readonly OpId[]): MembershipOp[] {
    const ops: MembershipOp[] = [];
    for (const id of this.closure(front)) {
      const op = this.get(id);
      if (op !== undefined) ops.push(op);
    }
    return ops;
  }

  /**
   * MEM-3: device d is a member at a frontier iff some Add of d (or the genesis, for its
   * author) in the closure causally follows every Remove of d in the closure. So a Remove beats
   * a concurrent Add, and only an Add made after seeing the Remove brings d back.
   * MEM-10, ROLE-6: ops that count for nothing (voided) are left out first.
   * MEM-8: d's box key is the one it stated last (boxOf). ROLE-3: its role (roleOf).
   */
  membersAt(front: readonly OpId[]): Map<DeviceId, MemberInfo> {
    // A fork that staged nothing sees what its parent sees: ask the parent (and its memo).
    if (this.own.size === 0 && this.parent !== undefined) return this.parent.membersAt(front);
    const key = front.join(',');
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const ops = this.opsIn(front);
    const counting = countingOps(ops);
    const removes = new Map<DeviceId, MembershipOp[]>();
    const adds = new Map<DeviceId, MembershipOp[]>();
    for (const op of counting) {
      const k = op.body.kind;
      if (k === MembershipKind.Remove) push(removes, op.subject, op);
      if (k === MembershipKind.Genesis || k === MembershipKind.Add) push(adds, op.subject, op);
    }
    const members = new Map<DeviceId, MemberInfo>();
    const basis = new Map<DeviceId, OpId[]>();
    for (const [d, as] of adds) {
      const rs = removes.get(d) ?? [];
      const live = as.filter((o) => rs.every((r) => o.ancestors.has(r.id)));
      if (live.length === 0) continue;
      basis.set(
        d,
        live.map((o) => o.id),
      );
      live.sort((x, y) => x.wallTime - y.wallTime || (x.id < y.id ? -1 : 1));
      const first = live[0]!;
      const role = roleOf(d, counting, rs);
      members.set(d, { device: d, box: boxOf(d, ops), addedBy: first.id, addedAt: first.wallTime, role });
    }
    if (this.memo.size > 4096) {
      this.memo.clear();
      this.basisMemo.clear();
    }
    this.memo.set(key, members);
    this.basisMemo.set(key, basis);
    return members;
  }
}

/**
 * ROLE-6: ops that lower their subject below Manager void the grants of that subject made
 * concurrently (with Removes, MEM-10); ROLE-7: ops that revoke a subject's concurrent Patches.
 */
const isSetRole = (o: MembershipOp, ...roles: Role[]): boolean =>
  o.body.kind === MembershipKind.SetRole && roles.includes(o.body.role);
const lowers = (o: MembershipOp): boolean =>
  o.body.kind === MembershipKind.Remove || (isSetRole(o, Role.Viewer, Role.Editor) && !o.raises);
const revokes = (o: MembershipOp): boolean =>
  o.body.kind === MembershipKind.Remove || isSetRole(o, Role.Viewer);
/** ROLE-6: an op that gives someone rights they did not have in its author's view: voidable. */
const grants = (o: MembershipOp): boolean =>
  o.body.kind === MembershipKind.Add ||
  o.body.kind === MembershipKind.Invite ||
  (o.body.kind === MembershipKind.SetRole && o.raises);

/**
 * MEM-10, ROLE-6: the membership ops of a closure that count. A grant (an Add, an Invite, a
 * SetRole that raises its subject above its role in the op's causal past) counts for nothing when
 * its author has, in the closure, a Remove or a lowering SetRole below Manager concurrent with it;
 * an Add by a void Invite counts for nothing too, and so does an Add by invite concurrent with
 * such a lowering of the Invite's author (INV-9: a joiner that had not seen its inviter's removal
 * cannot get in by an invite made before it); and (MEM-10, the chain rule) so does a grant whose author was a
 * member at the grant's causal past only by Adds that count for nothing, so a device let in by a
 * void Add lets nobody in either, however long the chain. What lowers (a Remove, a SetRole that
 * does not raise) always counts, so no concurrent counter-move can stall it. The voiding ops are
 * taken as they are (void or not): the rule never depends on itself. Ops are decided ancestors
 * first (a strict ancestor has fewer ancestors), so the chain rule reads settled answers.
 */
function countingOps(ops: readonly MembershipOp[]): MembershipOp[] {
  const lowered = new Map<DeviceId, MembershipOp[]>();
  const removed = new Map<DeviceId, MembershipOp[]>();
  const added = new Map<DeviceId, MembershipOp[]>();
  for (const op of ops) {
    if (lowers(op)) push(lowered, op.subject, op);
    if (op.body.kind === MembershipKind.Remove) push(removed, op.subject, op);
    if (op.body.kind === MembershipKind.Add) push(added, op.subject, op);
  }
  if (lowered.size === 0) return [...ops];
  const voided = new Set<OpId>();
  /** The author's Adds that made it a member at op's causal past, all void. */
  const standsOnVoid = (op: MembershipOp): boolean => {
    const rs = (removed.get(op.author) ?? []).filter((r) => op.ancestors.has(r.id));
    const live = (added.get(op.author) ?? []).filter(
      (a) => op.ancestors.has(a.id) && rs.every((r) => a.ancestors.has(r.id)),
    );
    return live.length > 0 && live.every((a) => voided.has(a.id));
  };
  const byId = new Map(ops.map((o) => [o.id, o]));
  /** An Add by invite: void with its Invite, or when its inviter is lowered concurrently with it. */
  const voidByInvite = (op: MembershipOp): boolean => {
    const id = toHex(op.body.invite.subarray(0, 32)) as OpId;
    if (voided.has(id)) return true;
    const inviter = byId.get(id)?.author;
    return inviter !== undefined && (lowered.get(inviter) ?? []).some((r) => concurrent(r, op));
  };
  const ordered = [...ops].sort((a, b) => a.ancestors.size - b.ancestors.size);
  for (const op of ordered) {
    if (!grants(op)) continue;
    const v =
      (lowered.get(op.author) ?? []).some((r) => concurrent(r, op)) ||
      (voided.size > 0 && standsOnVoid(op)) ||
      (op.body.kind === MembershipKind.Add &&
        op.body.invite.length === INVITE_PROOF_BYTES &&
        voidByInvite(op));
    if (v) voided.add(op.id);
  }
  return ops.filter((op) => !voided.has(op.id));
}

/**
 * ROLE-3: d's role is the lowest among the statements about it (its genesis, Adds and SetRoles of
 * it that count) that follow every Remove of d in the closure and that no other such statement
 * follows. So a demotion beats a concurrent promotion, as a Remove beats a concurrent Add.
 */
function roleOf(d: DeviceId, counting: readonly MembershipOp[], rs: readonly MembershipOp[]): MemberRole {
  const said = counting.filter((o) => {
    const k = o.body.kind;
    if (o.subject !== d) return false;
    if (k !== MembershipKind.Genesis && k !== MembershipKind.Add && k !== MembershipKind.SetRole)
      return false;
    return rs.every((r) => o.ancestors.has(r.id));
  });
  let role: MemberRole = Role.Manager;
  for (const o of said) {
    if (said.some((x) => x !== o && x.ancestors.has(o.id))) continue;
    const r = o.body.kind === MembershipKind.Genesis ? Role.Manager : effectiveRole(o.body.role);
    if (r < role) role = r;
  }
  return role;
}

/**
 * MEM-8, MEM-11: d's box key is the one stated last (wall_time, then id) by a Genesis, Add or
 * Rotate naming d in the frontier's past. Each is signed by d: its own op, or an Add carrying
 * d's box proof (validated, MEM-11). So it never depends on who added d or whether they stay.
 */
function boxOf(d: DeviceId, ops: readonly MembershipOp[]): Uint8Array {
  let last: MembershipOp | undefined;
  for (const o of ops) {
    const k = o.body.kind;
    if (o.subject !== d || o.body.subjectBox.length !== 32) continue;
    if (k !== MembershipKind.Genesis && k !== MembershipKind.Add && k !== MembershipKind.Rotate) continue;
    if (last === undefined || o.wallTime > last.wallTime || (o.wallTime === last.wallTime && o.id > last.id))
      last = o;
  }
  return last === undefined ? EMPTY : last.body.subjectBox;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a === undefined) m.set(k, [v]);
  else a.push(v);
}
