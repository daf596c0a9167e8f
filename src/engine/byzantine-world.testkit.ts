// The world of the Byzantine property test (byzantine.test.ts): honest replicas over stores that
// fail on commit at random, hostile devices (a real replica for API actions plus a `Hostile` that
// signs whatever it likes), a pool of every op ever made, and delivery that shuffles, duplicates,
// batches, delays and withholds. Only the engine's public API is used on replicas.

import type { FieldWriteValue } from './codec.ts';
import { Hostile } from './hostile.testkit.ts';
import {
  createMemoryStore,
  createWebCrypto,
  type DocId,
  type EngineStore,
  type EntityId,
  EventField,
  type OpId,
  openOp,
  Replica,
  type SubtleLike,
  utf8,
} from './index.ts';
import {
  type Clock,
  deviceKeys,
  manualClock,
  seededRandom,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

const crypto = createWebCrypto(globalThis.crypto.subtle as unknown as SubtleLike);

export const ENTITIES = ['a1', 'b2'].map((p) => p.repeat(16) as EntityId);
export const FIELDS = [EventField.Title, EventField.Location, EventField.Deleted];

export function valueFor(field: number, v: number | null): Uint8Array | null {
  if (v === null) return null;
  if (field === EventField.Deleted) return new Uint8Array([v % 2]);
  return utf8(`v${v}`);
}

export interface PoolOp {
  bytes: Uint8Array;
  id: OpId;
  /** Never delivered to an honest replica (a hostile device keeps it to itself). */
  withheld: boolean;
  /** Plaintext writes when the test built a patch: what the reference model reads. */
  patch?: { entity: EntityId; writes: readonly FieldWriteValue[] } | undefined;
}

export interface Node {
  index: number;
  device: TestDevice;
  store: EngineStore;
  clock: Clock;
  replica: Replica;
  honest: boolean;
  /** Present on hostile nodes. */
  evil?: Hostile;
}

/** Commit failures: each commit of an honest store fails with this chance while `on`. */
export interface Faults {
  on: boolean;
  chance: number;
  rnd: () => number;
}

export interface World {
  doc: DocId;
  nodes: Node[];
  pool: PoolOp[];
  byId: Map<OpId, PoolOp>;
  faults: Faults;
  /** Local API failures on honest replicas that no rule allows (a bricked calendar). */
  unexpected: string[];
}

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

async function openNode(w: { faults: Faults }, n: Omit<Node, 'replica' | 'store'> & { store?: EngineStore }) {
  const store =
    n.store ??
    createMemoryStore({
      beforeCommit: () => {
        if (n.honest && w.faults.on && w.faults.rnd() < w.faults.chance)
          throw new Error('QuotaExceededError');
      },
    });
  const replica = await Replica.open({
    store,
    crypto,
    nowUs: n.clock.nowUs,
    random: seededRandom(`${n.device.name}/${Math.floor(n.clock.nowUs())}`),
    device: deviceKeys(n.device),
  });
  return { ...n, store, replica };
}

/**
 * n devices; the last `hostile` are hostile; with `joiner`, the last honest device is not added
 * at the start (it joins later by Add or invite, or never).
 */
export async function createWorld(o: {
  n: number;
  hostile: number;
  joiner: boolean;
  seed: number;
  faults: boolean;
}): Promise<World> {
  const faults: Faults = { on: false, chance: 0.12, rnd: prng(o.seed) };
  const nodes: Node[] = [];
  for (let i = 0; i < o.n; i++) {
    const honest = i < o.n - o.hostile;
    nodes.push(
      await openNode(
        { faults },
        {
          index: i,
          device: testDevice(`byz-${i}`),
          clock: manualClock(1_700_000_000_000_000 + i * 1000),
          honest,
        },
      ),
    );
  }
  const owner = nodes[0]!.replica;
  const g = await owner.createCalendar();
  const skip = o.joiner ? o.n - o.hostile - 1 : -1;
  for (const node of nodes.slice(1)) {
    if (node.index === skip) continue;
    const k = deviceKeys(node.device);
    await owner.addMember(g.doc, k.signer.publicKey, k.box.publicKey);
  }
  const w: World = { doc: g.doc, nodes, pool: [], byId: new Map(), faults, unexpected: [] };
  for (const op of await owner.listOps(g.doc, 0, 1000))
    add(w, { bytes: op.bytes, id: op.id, withheld: false });
  for (const node of nodes.slice(1)) for (const p of w.pool) await node.replica.receive(p.bytes);
  for (const node of nodes) {
    if (!node.honest) {
      node.evil = new Hostile(node.device, g.doc, String(o.seed));
      for (const p of w.pool) node.evil.see(p.bytes);
      node.evil.early = node.evil.tip();
    }
  }
  faults.on = o.faults;
  return w;
}

export function add(w: World, p: PoolOp): void {
  if (w.byId.has(p.id)) return;
  w.byId.set(p.id, p);
  w.pool.push(p);
}

/** Delivers ops to a node (as one batch or one by one). Hostile nodes also learn them. */
export async function deliver(node: Node, ops: PoolOp[], batch: boolean): Promise<number> {
  const list = node.honest ? ops.filter((p) => !p.withheld) : ops;
  let applied = 0;
  const results = batch
    ? await node.replica.receiveBatch(list.map((p) => p.bytes))
    : await Promise.all(list.map((p) => node.replica.receive(p.bytes)));
  for (const [i, r] of results.entries()) {
    if (r.status === 'applied') applied++;
    if (node.evil !== undefined && r.status !== 'rejected') node.evil.see(list[i]!.bytes);
  }
  return applied;
}

/**
 * Runs a local API call on a node. Hostile nodes may fail in any way. An honest node may fail
 * only for reasons the rules give (a storage failure injected here, not a member, no key, a bad
 * invite); anything else means a valid history bricked the calendar and is recorded.
 */
export async function local(
  w: World,
  node: Node,
  what: string,
  fn: (r: Replica) => Promise<{ id: OpId; bytes: Uint8Array }>,
  patch?: PoolOp['patch'],
): Promise<PoolOp | undefined> {
  try {
    const op = await fn(node.replica);
    const p: PoolOp = { bytes: op.bytes, id: op.id, withheld: false, patch };
    add(w, p);
    node.evil?.see(op.bytes);
    return p;
  } catch (e) {
    const code = (e as { code?: string }).code;
    const allowed = [
      'Storage',
      'NotMember',
      'NoKey',
      'InviteInvalid',
      'InviteExpired',
      'InviteUsed',
      'InvalidArgument',
    ];
    if (node.honest && !(code !== undefined && allowed.includes(code)))
      w.unexpected.push(`${what} on device ${node.index}: ${String(e)}`);
    return undefined;
  }
}

/** A hostile node's crafted ops: into its own replica (and view), then the pool. */
export async function publish(
  w: World,
  node: Node,
  ops: { bytes: Uint8Array; id: OpId; patch?: PoolOp['patch'] }[],
  withheld: boolean,
) {
  for (const c of ops) {
    const r = await node.replica.receive(c.bytes);
    if (r.status === 'rejected' && r.error?.code !== 'Storage') continue;
    add(w, { bytes: c.bytes, id: c.id, withheld, patch: c.patch });
  }
}

/** Restarts an honest node over its store (a reload or a crash between commits). */
export async function reopen(w: World, node: Node): Promise<void> {
  const next = await openNode(w, node);
  node.replica = next.replica;
}

/** Gives every honest node every op that is not withheld, rounds in shuffled orders, until nothing applies. */
export async function settle(w: World, order: readonly number[]): Promise<void> {
  w.faults.on = false;
  for (let round = 0; round < 40; round++) {
    let applied = 0;
    for (const node of w.nodes) {
      if (!node.honest) continue;
      const shuffled = w.pool
        .map((p, i) => ({ p, k: (order[(i + round) % order.length] ?? 0) * 7919 + i * (round + 1) }))
        .sort((x, y) => x.k - y.k)
        .map((x) => x.p);
      applied += await deliver(node, shuffled, (node.index + round) % 2 === 1);
    }
    if (applied === 0) return;
  }
}

/** Ops the test can see in a replica's log: declared metadata read from the bytes. */
export async function logOf(r: Replica, doc: DocId) {
  const out = [];
  for (let after = 0; ; ) {
    const page = await r.listOps(doc, after, 500);
    if (page.length === 0) return out;
    for (const o of page) {
      const h = openOp(o.bytes);
      out.push({
        id: h.id,
        author: h.author,
        wallTime: h.header.wallTime,
        preds: [...h.parents, ...(h.prev === null ? [] : [h.prev])],
        body: o.body,
      });
    }
    after = page[page.length - 1]!.seq;
  }
}
