// MEM-5 on the hash DAG: an op by d is revoked (changes no register) when some Remove of d is
// concurrent with it: the Remove is not in the op's causal past and the op is not in the
// Remove's. Version vectors decide "the Remove had seen the op" exactly unless d equivocated at
// the op's ctr (two ops with one (author, ctr), DAG-6); then the Remove's past is walked.

import type { Core } from './core.ts';
import type { OpId } from './ids.ts';
import type { MembershipOp } from './membership.ts';
import type { OpRecord } from './store.ts';
import type { Txn } from './txn.ts';

type Subject = Pick<OpRecord, 'id' | 'author' | 'ctr'>;
/** An op whose causal past is asked about: a Remove, or any stored op (SNAP-10). */
type From = Pick<MembershipOp, 'id' | 'vv'>;

/**
 * Whether `o` (stored, or staged in `txn`) is in the causal past of the Remove `r`. Without
 * equivocation at o's (author, ctr), o is the only op there, and r's past holds it exactly when
 * r's version vector reaches o's ctr (the author's chain of `prev` runs through every ctr).
 * With it, r's past is walked back once per transaction and (author, ctr), skipping every op
 * whose past cannot hold o (its version vector below o's ctr): the cost is paid only for an
 * equivocating author.
 */
export async function inPastOf(core: Core, txn: Txn, r: From, o: Subject): Promise<boolean> {
  if ((r.vv[o.author] ?? 0) < o.ctr) return false;
  if (!txn.evidence.some((e) => e.author === o.author && e.ctr === o.ctr)) return true;
  return (await atCtrInPast(core, txn, r, o)).has(o.id);
}

/** Per transaction: the ops by (author, ctr) in a Remove's causal past, one walk per question. */
const walks = new WeakMap<Txn, Map<string, Promise<Set<OpId>>>>();

function atCtrInPast(core: Core, txn: Txn, r: From, o: Subject): Promise<Set<OpId>> {
  let memo = walks.get(txn);
  if (memo === undefined) {
    memo = new Map();
    walks.set(txn, memo);
  }
  const k = `${r.id}:${o.author}:${o.ctr}`;
  let found = memo.get(k);
  if (found === undefined) {
    found = walk(core, txn, r.id, o.author, o.ctr);
    memo.set(k, found);
  }
  return found;
}

/** Walks back from `from`, skipping ops whose past holds no op by `author` at `ctr`. */
export async function walk(
  core: Core,
  txn: Txn,
  from: OpId,
  author: string,
  ctr: number,
): Promise<Set<OpId>> {
  const out = new Set<OpId>();
  const seen = new Set<OpId>();
  const stack: OpId[] = [from];
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    const rec = txn.stagedOp(id) ?? (await core.store.getOps(txn.doc, [id]))[0];
    if (rec === undefined || (rec.vv[author] ?? 0) < ctr) continue;
    if (rec.author === author && rec.ctr === ctr) out.add(id);
    stack.push(...rec.parents);
    if (rec.prev !== null) stack.push(rec.prev);
  }
  return out;
}

/**
 * MEM-5, ROLE-7 for a stored op: some Remove of its author, or SetRole making it a viewer, is
 * concurrent with it (on the hash DAG). MEM-12: or its author was a member at its causal past only
 * by Adds that count for nothing.
 */
export async function revokedStored(core: Core, txn: Txn, o: OpRecord): Promise<boolean> {
  if (txn.membership.standsOnVoid(o.author, o.mfront)) return true;
  const rs = txn.membership.revokersOf(o.author);
  if (rs.length === 0) return false;
  const closure = txn.membership.closure(o.mfront);
  for (const r of rs) if (!closure.has(r.id) && !(await inPastOf(core, txn, r, o))) return true;
  return false;
}
