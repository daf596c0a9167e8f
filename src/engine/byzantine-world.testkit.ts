// The world of the Byzantine property test (byzantine.test.ts): honest replicas over stores that
// fail on commit at random, hostile devices (a real replica for API actions plus a `Hostile` that
// signs whatever it likes), a pool of every op ever made, and delivery that shuffles, duplicates,
// batches, delays and withholds. Only the engine's public API is used on replicas.

import { Hostile } from './byzantine-hostile.testkit.ts';
import { decodeMembership, type FieldWriteValue, MembershipKind } from './codec.ts';
import {
  type CommitBatch,
  createMemoryStore,
  createWebCrypto,
  type DeviceKeys,
  type DeviceRecord,
  type DocId,
  type EngineStore,
  type EntityId,
  EventField,
  fromHex,
  type OpId,
  OpKind,
  openOp,
  Replica,
  type SubtleLike,
  signDeviceCard,
  toHex,
  utf8,
} from './index.ts';
import type { ModelOp } from './reference-model.testkit.ts';
import {
  type Clock,
  deviceKeys,
  manualClock,
  seededRandom,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

const crypto = createWebCrypto(globalThis.crypto.subtle as unknown as SubtleLike);

/** Device keys by device name, derived once (X25519 and Ed25519 key derivation cost ~2 ms). */
const keyCache = new Map<string, DeviceKeys>();
export function keysOf(d: TestDevice): DeviceKeys {
  let k = keyCache.get(d.name);
  if (k === undefined) {
    k = deviceKeys(d);
    keyCache.set(d.name, k);
  }
  return k;
}

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
  /** Devices that have been members at some point (a later Add or join of one is a re-join). */
  everMember: Set<number>;
  /** Ids of the membership ops in the pool that are not withheld. */
  membership: OpId[];
  /** How many of them the setup made (a hostile's early point has seen exactly those). */
  setupMembership: number;
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

/**
 * A memory store whose commits fail at random while faults are on (honest nodes only), and that
 * records what it was given so a world's setup can be replayed into fresh stores (setup is the
 * same for every case of one shape and costs tens of milliseconds of X25519).
 */
function faultyStore(honest: boolean, faults: Faults, log: unknown[][]): EngineStore {
  const inner = createMemoryStore({
    beforeCommit: () => {
      if (honest && faults.on && faults.rnd() < faults.chance) throw new Error('QuotaExceededError');
    },
  });
  return {
    ...inner,
    saveDevice: async (d) => {
      await inner.saveDevice(d);
      log.push(['saveDevice', structuredClone(d)]);
    },
    commit: async (b) => {
      await inner.commit(b);
      log.push(['commit', structuredClone(b)]);
    },
  };
}

async function openNode(n: Omit<Node, 'replica'>, seed: number): Promise<Replica> {
  return Replica.open({
    store: n.store,
    crypto,
    nowUs: n.clock.nowUs,
    random: seededRandom(`${n.device.name}/${seed}/${Math.floor(n.clock.nowUs())}`),
    device: keysOf(n.device),
  });
}

interface Shape {
  n: number;
  hostile: number;
  joiner: boolean;
}

interface Setup {
  doc: DocId;
  ops: { bytes: Uint8Array; id: OpId }[];
  logs: unknown[][][];
}

const setups = new Map<string, Setup>();

/** Builds the calendar once per shape: the owner (node 0) creates it and adds the others. */
async function setupOf(o: Shape): Promise<Setup> {
  const key = `${o.n}/${o.hostile}/${o.joiner}`;
  const known = setups.get(key);
  if (known !== undefined) return known;
  const off: Faults = { on: false, chance: 0, rnd: () => 1 };
  const logs: unknown[][][] = [];
  const replicas: Replica[] = [];
  for (let i = 0; i < o.n; i++) {
    logs.push([]);
    const store = faultyStore(false, off, logs[i]!);
    const device = testDevice(`byz-${i}`);
    replicas.push(await openNode({ index: i, device, store, clock: clockOf(i), honest: true }, 0));
  }
  const owner = replicas[0]!;
  const g = await owner.createCalendar();
  const skip = o.joiner ? o.n - o.hostile - 1 : -1;
  for (let i = 1; i < o.n; i++) {
    if (i === skip) continue;
    const k = keysOf(testDevice(`byz-${i}`));
    await owner.addMember(g.doc, await signDeviceCard(k, fromHex(g.doc)));
  }
  const ops = (await owner.listOps(g.doc, 0, 1000)).map((x) => ({ bytes: x.bytes, id: x.id }));
  for (const r of replicas.slice(1)) for (const x of ops) await r.receive(x.bytes);
  const s = { doc: g.doc, ops, logs };
  setups.set(key, s);
  return s;
}

const clockOf = (i: number) => manualClock(1_700_000_000_000_000 + i * 1000);

/**
 * n devices; the last `hostile` are hostile; with `joiner`, the last honest device is not added
 * at the start (it joins later by Add or invite, or never).
 */
export async function createWorld(o: Shape & { seed: number; faults: boolean }): Promise<World> {
  const setup = await setupOf(o);
  const faults: Faults = { on: false, chance: 0.12, rnd: prng(o.seed) };
  const nodes: Node[] = [];
  for (let i = 0; i < o.n; i++) {
    const honest = i < o.n - o.hostile;
    const store = faultyStore(honest, faults, []);
    for (const [method, arg] of setup.logs[i]!) {
      if (method === 'commit') await store.commit(structuredClone(arg) as CommitBatch);
      else await store.saveDevice(structuredClone(arg) as DeviceRecord);
    }
    const base = { index: i, device: testDevice(`byz-${i}`), store, clock: clockOf(i), honest };
    nodes.push({ ...base, replica: await openNode(base, o.seed) });
  }
  const joiner = o.joiner ? o.n - o.hostile - 1 : -1;
  const everMember = new Set(nodes.map((x) => x.index).filter((i) => i !== joiner));
  const w: World = {
    doc: setup.doc,
    nodes,
    pool: [],
    byId: new Map(),
    faults,
    unexpected: [],
    everMember,
    membership: [],
    setupMembership: 0,
  };
  for (const x of setup.ops) add(w, { ...x, withheld: false });
  w.setupMembership = w.membership.length;
  for (const node of nodes) {
    if (!node.honest) {
      node.evil = new Hostile(node.device, keysOf(node.device), setup.doc, String(o.seed));
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
  try {
    if (openOp(p.bytes).header.kind === OpKind.Membership && !p.withheld) w.membership.push(p.id);
  } catch {
    // not an op: never delivered as one
  }
}

/**
 * Whether a membership change by `node` now would race another one: some membership op that
 * has been sent is not yet applied on the node (so keys it introduces or members it adds are
 * unknown to this change).
 */
export async function racing(w: World, node: Node): Promise<boolean> {
  const have = await node.replica.getOps(w.doc, w.membership);
  return have.some((o) => o === undefined);
}

/**
 * Delivers ops to a node (as one batch or one by one). Hostile nodes also learn them. Ops the node
 * wrote itself while applying them (a KEY-10 restatement) go out like any own op.
 */
export async function deliver(w: World, node: Node, ops: PoolOp[], batch: boolean): Promise<number> {
  const list = node.honest ? ops.filter((p) => !p.withheld) : ops;
  // An honest node's whole log, not only what this delivery added: an op it committed outside
  // a delivery or a local call (the KEY-10 restatement written when it reopens) is in its
  // outbox too, and goes out at its next sync.
  const since = node.honest || !node.replica.hasDoc(w.doc) ? 0 : node.replica.seq(w.doc);
  let applied = 0;
  const results = batch
    ? await node.replica.receiveBatch(list.map((p) => p.bytes))
    : await Promise.all(list.map((p) => node.replica.receive(p.bytes)));
  for (const [i, r] of results.entries()) {
    if (r.status === 'applied') applied++;
    if (node.evil !== undefined && r.status !== 'rejected') node.evil.see(list[i]!.bytes);
  }
  await outbox(w, node, since);
  return applied;
}

/**
 * Every op committed to `node`'s log after `since` enters the pool: its own ops (the device's
 * outbox) and, for an honest node, any other op it holds, because an honest device answers a
 * Want for any op it holds (SYNC-7): an op a hostile member handed one device only (say, with an
 * invite) reaches the others through it, as it does through the relay.
 */
async function outbox(w: World, node: Node, since: number, made?: OpId, patch?: PoolOp['patch']) {
  const mine = keysOf(node.device).signer.publicKey;
  let out: PoolOp | undefined;
  for (const o of node.replica.hasDoc(w.doc) ? await node.replica.listOps(w.doc, since, 100_000) : []) {
    if (toHex(openOp(o.bytes).header.author) !== toHex(mine)) {
      if (node.honest) add(w, { bytes: o.bytes, id: o.id, withheld: false });
      continue;
    }
    const p: PoolOp = {
      bytes: o.bytes,
      id: o.id,
      withheld: false,
      patch: o.kind === OpKind.Patch ? patch : undefined,
    };
    add(w, p);
    node.evil?.see(o.bytes);
    if (o.id === made) out = p;
  }
  return out;
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
  const since = node.replica.hasDoc(w.doc) ? node.replica.seq(w.doc) : 0;
  let made: { id: OpId } | undefined;
  try {
    made = await fn(node.replica);
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
  }
  // The outbox: every op the call committed to this device's log goes out, also ops the call
  // made besides the one it returned (e.g. a rotation before a write), and an op committed by a
  // call that then failed. The call's plaintext belongs to its one patch op.
  return outbox(w, node, since, made?.id, patch);
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
export async function reopen(node: Node): Promise<void> {
  node.replica = await openNode(node, 1);
}

/** Gives every honest node every op that is not withheld, rounds in shuffled orders, until nothing applies. */
export async function settle(w: World, order: readonly number[]): Promise<void> {
  w.faults.on = false;
  for (let round = 0; round < 40; round++) {
    let applied = 0;
    // A round that applied nothing may still have put ops in the pool that the nodes before it in
    // the round have not been offered: a KEY-10 restatement is committed in the task after the
    // apply that called for it, so it reaches the pool at its author's next delivery. Settled
    // means a round applied nothing and the pool did not grow.
    const pooled = w.pool.length;
    for (const node of w.nodes) {
      if (!node.honest) continue;
      const shuffled = w.pool
        .map((p, i) => ({ p, k: (order[(i + round) % order.length] ?? 0) * 7919 + i * (round + 1) }))
        .sort((x, y) => x.k - y.k)
        .map((x) => x.p);
      applied += await deliver(w, node, shuffled, (node.index + round) % 2 === 1);
    }
    if (applied === 0 && w.pool.length === pooled) return;
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
      let removes: string | undefined;
      let grants: ModelOp['grants'];
      if (h.header.kind === OpKind.Membership) {
        const m = decodeMembership(h.env.body);
        const subject = toHex(m.subject);
        if (m.kind === MembershipKind.Remove) removes = subject;
        if (m.kind === MembershipKind.Genesis) grants = { kind: 'genesis', subject };
        if (m.kind === MembershipKind.Invite) grants = { kind: 'invite', subject };
        if (m.kind === MembershipKind.Add)
          grants =
            m.invite.length === 0
              ? { kind: 'add', subject }
              : { kind: 'add', subject, invite: toHex(m.invite.subarray(0, 32)) };
      }
      out.push({
        id: h.id,
        author: h.author as string,
        ctr: h.header.ctr,
        removes,
        grants,
        wallTime: h.header.wallTime,
        preds: [...h.parents, ...(h.prev === null ? [] : [h.prev])],
        body: o.body,
      });
    }
    after = page[page.length - 1]!.seq;
  }
}
