// Who may write a calendar, as a function of an op's causal past (docs/PROTOCOL.md MEM-*).
// Membership ops are few, so each keeps the set of membership ops in its causal past; any
// other op refers to membership through its `mfront`, the maximal membership ops it has seen.

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
}

export interface MemberInfo {
  device: DeviceId;
  /** X25519 key from the op that added it (for sealing content keys). */
  box: Uint8Array;
  /** The op that made it a member. */
  addedBy: OpId;
  addedAt: number;
}

export class MembershipIndex {
  readonly ops = new Map<OpId, MembershipOp>();
  private readonly memo = new Map<string, Map<DeviceId, MemberInfo>>();

  add(op: MembershipOp): void {
    this.ops.set(op.id, op);
  }

  /** Membership ops in the causal past of a frontier, the frontier included. */
  closure(front: readonly OpId[]): Set<OpId> {
    const out = new Set<OpId>();
    for (const f of front) {
      out.add(f);
      const op = this.ops.get(f);
      if (op !== undefined) for (const a of op.ancestors) out.add(a);
    }
    return out;
  }

  /** MEM-2: the maximal elements of a set of membership ops (none in another's past). */
  maximal(ids: Iterable<OpId>): OpId[] {
    const set = [...new Set(ids)];
    return set.filter((id) => !set.some((o) => o !== id && this.ops.get(o)?.ancestors.has(id))).sort();
  }

  /**
   * MEM-3: device d is a member at a frontier iff some Add of d (or the genesis, for its author)
   * in the closure causally follows every Remove of d in the closure. So a Remove beats a
   * concurrent Add, and only an Add made after seeing the Remove brings d back.
   */
  membersAt(front: readonly OpId[]): Map<DeviceId, MemberInfo> {
    const key = front.join(',');
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit;
    const closure = this.closure(front);
    const adds = new Map<DeviceId, MembershipOp[]>();
    const removes = new Map<DeviceId, MembershipOp[]>();
    for (const id of closure) {
      const op = this.ops.get(id);
      if (op === undefined) continue;
      const k = op.body.kind;
      if (k === MembershipKind.Genesis || k === MembershipKind.Add) push(adds, op.subject, op);
      else if (k === MembershipKind.Remove) push(removes, op.subject, op);
    }
    const members = new Map<DeviceId, MemberInfo>();
    for (const [d, as] of adds) {
      const rs = removes.get(d) ?? [];
      const live = as.filter((a) => rs.every((r) => a.ancestors.has(r.id)));
      if (live.length === 0) continue;
      live.sort((x, y) => x.wallTime - y.wallTime || (x.id < y.id ? -1 : 1));
      const first = live[0]!;
      members.set(d, { device: d, box: first.body.subjectBox, addedBy: first.id, addedAt: first.wallTime });
    }
    if (this.memo.size > 4096) this.memo.clear();
    this.memo.set(key, members);
    return members;
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const a = m.get(k);
  if (a === undefined) m.set(k, [v]);
  else a.push(v);
}
