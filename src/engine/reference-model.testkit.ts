// An independent reference model of the registers (docs/PROTOCOL.md LWW-1, LWW-4, LWW-5) for
// property tests. It shares no code with the engine: it orders writes by its own comparison of
// (wall_time, device id, op hash), and decides "causally follows" by walking the parents and prev
// each op declares (the hash DAG), not by version vectors. Its input is what the test itself
// knows: the ops' declared metadata and the plaintext writes of the ops it built.

export interface ModelOp {
  id: string;
  /** Hex of the author's public key. */
  author: string;
  ctr: number;
  wallTime: number;
  /** For a Remove: the device it removes (hex). */
  removes?: string | undefined;
  /**
   * For the ops that make members (MEM-12): a Genesis or Add names its subject (hex); an Add by
   * invite names the Invite op it uses; an Invite is marked.
   */
  grants?: { kind: 'genesis' | 'add' | 'invite'; subject: string; invite?: string } | undefined;
  /** Declared parents and prev (op ids). */
  preds: readonly string[];
  /** The plaintext writes, for a patch whose body takes effect; absent otherwise. */
  patch?: { entity: string; writes: readonly { field: number; value: Uint8Array | null }[] } | undefined;
}

export interface ModelWrite {
  op: string;
  value: Uint8Array | null;
}

/** One register in the model: the winner first, then the concurrent losers, greatest first. */
export interface ModelRegister {
  entity: string;
  field: number;
  writes: ModelWrite[];
}

/** LWW-5: losers kept per register. */
export const MODEL_LOSER_CAP = 32;

/** Which variant of the rules the model follows (the protocol's, as written in PROTOCOL.md). */
export interface ModelRules {
  /**
   * LWW-1 tie-break between equal wall times by causal depth: the sum over devices of the
   * greatest ctr in the op's causal past, itself included.
   */
  depth: boolean;
  /**
   * MEM-5: a patch by d changes nothing when some Remove of d is not in its causal past and had
   * not seen it.
   */
  revoke: boolean;
  /**
   * What "x has seen y" means for covering (LWW-4): 'dag' = y is in x's declared causal past;
   * 'vv' = x's version vector reaches y's ctr for y's author, as PROTOCOL.md words LWW-4 (under
   * equivocation a sibling of y also counts as seen).
   */
  causality: 'dag' | 'vv';
  /** The same for MEM-5's "the Remove had seen the op" (PROTOCOL.md: on the hash DAG). */
  revokeCausality: 'dag' | 'vv';
  /**
   * MEM-12: a patch by d changes nothing when every Add that made d a member at its causal past
   * counts for nothing (MEM-10) given every op.
   */
  voidStanding?: boolean;
}

/** LWW-1 in the model's own words: greater wall time, then greater device id, then greater hash. */
export function modelOrder(a: ModelOp, b: ModelOp, depth?: (id: string) => number): number {
  if (a.wallTime !== b.wallTime) return a.wallTime < b.wallTime ? -1 : 1;
  if (depth !== undefined) {
    const da = depth(a.id);
    const db = depth(b.id);
    if (da !== db) return da < db ? -1 : 1;
  }
  if (a.author !== b.author) return a.author < b.author ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

/** Everything strictly before each op, by the predecessors it declares. */
function ancestry(ops: ReadonlyMap<string, ModelOp>): (id: string) => ReadonlySet<string> {
  const memo = new Map<string, Set<string>>();
  const walk = (id: string): Set<string> => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const out = new Set<string>();
    // Iterative depth-first walk: histories can be deeper than the call stack.
    const stack = [...(ops.get(id)?.preds ?? [])];
    while (stack.length > 0) {
      const p = stack.pop()!;
      if (out.has(p)) continue;
      out.add(p);
      const done = memo.get(p);
      if (done !== undefined) for (const q of done) out.add(q);
      else stack.push(...(ops.get(p)?.preds ?? []));
    }
    memo.set(id, out);
    return out;
  };
  return walk;
}

/**
 * The registers the ops give: for each (entity, field), the writes no other write to it causally
 * follows, the greatest first, at most MODEL_LOSER_CAP losers. A patch that writes one field
 * twice is not built by tests (the engine refuses it) and is not modelled.
 */
export function modelRegisters(list: readonly ModelOp[], rules: ModelRules): ModelRegister[] {
  const ops = new Map(list.map((o) => [o.id, o]));
  const before = ancestry(ops);
  /** The version vector the op's declared past gives: greatest ctr per device, itself included. */
  const vv = (id: string): Map<string, number> => {
    const top = new Map<string, number>();
    for (const p of [id, ...before(id)]) {
      const o = ops.get(p);
      if (o !== undefined && o.ctr > (top.get(o.author) ?? 0)) top.set(o.author, o.ctr);
    }
    return top;
  };
  const depth = (id: string) => {
    let sum = 0;
    for (const c of vv(id).values()) sum += c;
    return sum;
  };
  const seenBy = (how: 'dag' | 'vv') => (by: ModelOp, o: ModelOp) =>
    how === 'dag' ? before(by.id).has(o.id) : (vv(by.id).get(o.author) ?? 0) >= o.ctr;
  const seen = seenBy(rules.causality);
  const removeSaw = seenBy(rules.revokeCausality);
  const removes = list.filter((o) => o.removes !== undefined);
  const standsOnVoid = rules.voidStanding === true ? voidStanding(list, before) : () => false;
  const revoked = (o: ModelOp) =>
    removes.some((r) => r.removes === o.author && !before(o.id).has(r.id) && !removeSaw(r, o)) ||
    standsOnVoid(o);
  const order = (a: ModelOp, b: ModelOp) => modelOrder(a, b, rules.depth ? depth : undefined);
  /** `a` covers `b`: a is greater and has seen b; equivocating siblings never cover each other. */
  const covers = (a: ModelOp, b: ModelOp) =>
    a.id !== b.id && !(a.author === b.author && a.ctr === b.ctr) && order(a, b) > 0 && seen(a, b);
  const regs = new Map<
    string,
    { entity: string; field: number; ops: ModelOp[]; values: Map<string, Uint8Array | null> }
  >();
  for (const o of list) {
    if (o.patch === undefined || (rules.revoke && revoked(o))) continue;
    for (const w of o.patch.writes) {
      const k = `${o.patch.entity}/${w.field}`;
      let r = regs.get(k);
      if (r === undefined) {
        r = { entity: o.patch.entity, field: w.field, ops: [], values: new Map() };
        regs.set(k, r);
      }
      r.ops.push(o);
      r.values.set(o.id, w.value);
    }
  }
  const out: ModelRegister[] = [];
  for (const r of regs.values()) {
    // LWW-5: the greatest MODEL_LOSER_CAP + 1 writes are kept; the frontier is found among them.
    const kept = [...r.ops].sort((a, b) => order(b, a)).slice(0, MODEL_LOSER_CAP + 1);
    const frontier = kept.filter((w, i) => i === 0 || !kept.some((o) => covers(o, w)));
    out.push({
      entity: r.entity,
      field: r.field,
      writes: frontier.map((o) => ({ op: o.id, value: r.values.get(o.id)! })),
    });
  }
  return out.sort((a, b) => (a.entity === b.entity ? a.field - b.field : a.entity < b.entity ? -1 : 1));
}

/**
 * MEM-5's promise in the model's words: whether `id` was written by a device that some Remove of
 * it had not seen on the hash DAG (neither op in the other's causal past). Such a write must
 * never be a register's winner, "however it stamps" it.
 */
export function concurrentWithOwnRemoval(list: readonly ModelOp[], id: string): boolean {
  const ops = new Map(list.map((o) => [o.id, o]));
  const before = ancestry(ops);
  const o = ops.get(id);
  if (o === undefined) return false;
  return list.some((r) => r.removes === o.author && !before(id).has(r.id) && !before(r.id).has(id));
}

/**
 * MEM-10 and MEM-12 in the model's words (Removes are the only lowering ops it models): within a
 * set of ops, a grant (an Add of another device, an Invite, an Add by invite) counts for nothing
 * when a Remove of its author is concurrent with it (for an Add by invite: of the Invite's author,
 * concurrent with the Invite or with the Add), when it uses an Invite that counts for
 * nothing, or when every Add that let its author in (in its past, after every Remove of its author
 * there) counts for nothing. A patch stands on void when the Adds that made its author a member at
 * its past, counting there, all count for nothing given every op.
 */
function voidStanding(
  list: readonly ModelOp[],
  before: (id: string) => ReadonlySet<string>,
): (o: ModelOp) => boolean {
  const members = list.filter((o) => o.grants !== undefined || o.removes !== undefined);
  const concurrent = (a: ModelOp, b: ModelOp) => !before(a.id).has(b.id) && !before(b.id).has(a.id);
  /** The Adds (and genesis) that let `d` in, in the past `past`, after every Remove of d there. */
  const live = (d: string, past: ReadonlySet<string>, set: readonly ModelOp[]) => {
    const rs = set.filter((r) => r.removes === d && past.has(r.id));
    return set.filter(
      (a) =>
        a.grants !== undefined &&
        a.grants.kind !== 'invite' &&
        a.grants.subject === d &&
        past.has(a.id) &&
        rs.every((r) => before(a.id).has(r.id)),
    );
  };
  const voidIn = (set: readonly ModelOp[]): Set<string> => {
    const out = new Set<string>();
    const byId = new Map(set.map((o) => [o.id, o]));
    for (const g of [...set].sort((a, b) => before(a.id).size - before(b.id).size)) {
      if (g.grants === undefined || g.grants.kind === 'genesis') continue;
      if (g.grants.kind === 'add' && g.grants.subject === g.author && g.grants.invite === undefined) continue;
      const past = before(g.id);
      const inv = g.grants.invite === undefined ? undefined : byId.get(g.grants.invite);
      const by = inv === undefined ? g.author : inv.author;
      const lets = live(g.author, past, set);
      if (
        set.some(
          (r) =>
            r.removes === by &&
            (concurrent(r, (inv ?? g) as ModelOp) || (inv !== undefined && concurrent(r, g))),
        ) ||
        (inv !== undefined && out.has(inv.id)) ||
        (g.grants.invite === undefined && lets.length > 0 && lets.every((a) => out.has(a.id)))
      )
        out.add(g.id);
    }
    return out;
  };
  const all = voidIn(members);
  if (all.size === 0) return () => false;
  return (o) => {
    const past = before(o.id);
    const inPast = members.filter((m) => past.has(m.id));
    const there = voidIn(inPast);
    const basis = live(o.author, past, inPast).filter((a) => !there.has(a.id));
    return basis.length > 0 && basis.every((a) => all.has(a.id));
  };
}
