// Who may write a calendar, as a function of an op's causal past (docs/PROTOCOL.md MEM-*).
// Membership ops are few, so each keeps the set of membership ops in its causal past; any
// other op refers to membership through its `mfront`, the maximal membership ops it has seen.
// An index can be forked: a transaction stages membership ops in a fork, and the fork's ops
// move into its parent only once the transaction has committed.

import type { MembershipBody } from './codec.ts';
import { MembershipKind } from './codec.ts';
import type { DeviceId, OpId } from './ids.ts';

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
}

const EMPTY = new Uint8Array(0);

const concurrent = (a: MembershipOp, b: MembershipOp): boolean =>
  a.id !== b.id && !a.ancestors.has(b.id) && !b.ancestors.has(a.id);

export class MembershipIndex {
  private readonly own = new Map<OpId, MembershipOp>();
  private readonly removals = new Map<DeviceId, MembershipOp[]>();
  private readonly memo = new Map<string, Map<DeviceId, MemberInfo>>();
  private readonly parent: MembershipIndex | undefined;

  constructor(parent?: MembershipIndex) {
    this.parent = parent;
  }

  get(id: OpId): MembershipOp | undefined {
    return this.own.get(id) ?? this.parent?.get(id);
  }

  add(op: MembershipOp): void {
    this.own.set(op.id, op);
    if (op.body.kind === MembershipKind.Remove) push(this.removals, op.subject, op);
  }

  /** Every Remove of device d in the calendar (not only in some op's past). */
  removesOf(d: DeviceId): MembershipOp[] {
    const mine = this.removals.get(d) ?? [];
    const theirs = this.parent?.removesOf(d) ?? [];
    return theirs.length === 0 ? mine : [...theirs, ...mine];
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
   * MEM-3: device d is a member at a frontier iff some Add of d (or the genesis, for its
   * author) in the closure causally follows every Remove of d in the closure. So a Remove beats
   * a concurrent Add, and only an Add made after seeing the Remove brings d back.
   * MEM-10: an Add whose author has a Remove in the closure concurrent with that Add adds nobody.
   * MEM-8: d's box key is the one it stated last (boxOf).
   */
  membersAt(front: readonly OpId[]): Map<DeviceId, MemberInfo> {
    // A fork that staged nothing sees what its parent sees: ask the parent (and its memo).
    if (this.own.size === 0 && this.parent !== undefined) return this.parent.membersAt(front);
    const key = front.join(',');
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const ops: MembershipOp[] = [];
    for (const id of this.closure(front)) {
      const op = this.get(id);
      if (op !== undefined) ops.push(op);
    }
    const removes = new Map<DeviceId, MembershipOp[]>();
    for (const op of ops) if (op.body.kind === MembershipKind.Remove) push(removes, op.subject, op);
    const adds = new Map<DeviceId, MembershipOp[]>();
    for (const op of ops) {
      const k = op.body.kind;
      if (k === MembershipKind.Add && (removes.get(op.author) ?? []).some((r) => concurrent(r, op))) continue;
      if (k === MembershipKind.Genesis || k === MembershipKind.Add) push(adds, op.subject, op);
    }
    const members = new Map<DeviceId, MemberInfo>();
    for (const [d, as] of adds) {
      const rs = removes.get(d) ?? [];
      const live = as.filter((o) => rs.every((r) => o.ancestors.has(r.id)));
      if (live.length === 0) continue;
      live.sort((x, y) => x.wallTime - y.wallTime || (x.id < y.id ? -1 : 1));
      const first = live[0]!;
      members.set(d, { device: d, box: boxOf(d, ops), addedBy: first.id, addedAt: first.wallTime });
    }
    if (this.memo.size > 4096) this.memo.clear();
    this.memo.set(key, members);
    return members;
  }
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
