// Helpers for the hostile-member tests: a calendar of three members whose replicas are in sync,
// and builders for ops a hostile member signs by hand (bypassing the replica's own authoring).

import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField, eventFromRecord } from './calendar.ts';
import {
  encodeMembership,
  encodePatch,
  type MembershipBody,
  MembershipKind,
  type WrappedKeyValue,
} from './codec.ts';
import { EngineError } from './errors.ts';
import type { DocId, EntityId, OpId } from './ids.ts';
import { openOp } from './op.ts';
import type { Replica } from './replica.ts';
import { Role } from './roles.ts';
import { boxKeyPairFromSecret, seal } from './seal.ts';
import { OpKind, type OpRecord } from './store.ts';
import {
  cardOf,
  craftOp,
  deviceKeys,
  openReplica,
  seededRandom,
  type TestDevice,
  testDevice,
} from './testkit.testkit.ts';

export const EV = '31'.repeat(16) as EntityId;
export const pubOf = (d: TestDevice) => deviceKeys(d).signer.publicKey;
export const boxOf = (d: TestDevice) => boxKeyPairFromSecret(d.boxSecret).publicKey;

/** MEM-11: device d's box proof for calendar `doc` (what its card carries). */
export const proofOf = async (d: TestDevice, doc: DocId) => (await cardOf(d, doc)).proof;

export async function syncOps(from: Replica, to: Replica, doc: DocId): Promise<void> {
  for (const o of await from.listOps(doc, 0, 100_000)) await to.receive(o.bytes);
}

/** Every replica receives every other's ops. */
export async function syncAll(reps: readonly Replica[], doc: DocId): Promise<void> {
  for (const a of reps) for (const b of reps) if (a !== b) await syncOps(a, b, doc);
}

/** Where device d's next crafted op goes at replica r: its chain, r's heads, a later stamp. */
export async function craftAt(r: Replica, d: TestDevice, doc: DocId): Promise<Craft> {
  const ops = await r.listOps(doc, 0, 100_000);
  const mine = ops.filter((o) => o.author === toHex(pubOf(d)));
  const last = mine[mine.length - 1];
  return {
    by: d,
    doc,
    ctr: (last?.ctr ?? 0) + 1,
    wallTime: Math.max(...ops.map((o) => o.wallTime)) + 1,
    prev: (last?.id ?? null) as OpId | null,
    parents: r.heads(doc).filter((h) => h !== last?.id),
  };
}

/** The error code of a receive result, or its status. */
export const codeOf = (res: { status: string; error?: EngineError }): string => res.error?.code ?? res.status;

/** The error code a local call throws, or 'ok'. */
export async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof EngineError ? e.code : String(e);
  }
}

export async function lastOp(r: Replica, doc: DocId): Promise<OpRecord> {
  const ops = await r.listOps(doc, 0, 100_000);
  return ops[ops.length - 1]!;
}

export const titleOf = (r: Replica, doc: DocId, e: EntityId = EV): string | null | undefined => {
  const rec = r.entity(doc, e);
  return rec === undefined ? undefined : eventFromRecord(rec).title;
};

/** The content key a's replica writes with, read back from one of its ops (id and bytes). */
export interface Key {
  id: Uint8Array;
  key: Uint8Array;
}

export interface Team {
  devs: TestDevice[];
  reps: Replica[];
  doc: DocId;
  /** The key a's first write used. */
  key: Key;
}

/**
 * A calendar created by devs[0] with every other device added by devs[0], one write, and all
 * replicas in sync. `keyOf` opens the current key for device 0 (the test plays each device).
 */
export async function team(names: string[]): Promise<Team> {
  const devs = names.map((n) => testDevice(n));
  const reps = await Promise.all(devs.map((d) => openReplica(d)));
  const ra = reps[0]!;
  const g = await ra.createCalendar({ name: 'Team' });
  for (const d of devs.slice(1)) await ra.addMember(g.doc, await cardOf(d, g.doc));
  const w = await ra.write(g.doc, EV, [{ field: EventField.Title, value: utf8('Start') }]);
  for (const r of reps.slice(1)) await syncOps(ra, r, g.doc);
  const op = openOp(w.bytes);
  const keyIdHex = op.keyId!;
  // Find the key bytes: the replica that wrote holds them; read them from its sealed box.
  const key = await keyBytes(ra, devs[0]!, g.doc, keyIdHex);
  return { devs, reps, doc: g.doc, key: { id: fromHex(keyIdHex), key } };
}

/** Opens, with device d's box key, the wrapped key with id `keyId` sealed for d in any op. */
export async function keyBytes(r: Replica, d: TestDevice, doc: DocId, keyId: string): Promise<Uint8Array> {
  const { decodeMembership } = await import('./codec.ts');
  const { openSealed } = await import('./seal.ts');
  const me = boxKeyPairFromSecret(d.boxSecret);
  for (const o of await r.listOps(doc, 0, 100_000)) {
    if (o.kind !== OpKind.Membership) continue;
    const op = openOp(o.bytes);
    const body = decodeMembership(op.env.body);
    for (const k of body.keys) {
      if (toHex(k.recipient) !== toHex(pubOf(d))) continue;
      const id = k.keyId.length === 0 ? op.id.slice(0, 16) : toHex(k.keyId);
      if (id !== keyId) continue;
      const bytes = openSealed(me, k.sealed);
      if (bytes !== null) return bytes;
    }
  }
  throw new Error(`no key ${keyId} for ${d.name}`);
}

export interface Craft {
  by: TestDevice;
  doc: DocId;
  ctr: number;
  wallTime: number;
  prev?: OpId | null;
  parents: OpId[];
}

/** A Patch by `c.by` writing the title, encrypted under `key`. */
export function patchOp(c: Craft, key: Key, title: string | null, entity: EntityId = EV): Uint8Array {
  return craftOp({
    secret: c.by.secret,
    doc: fromHex(c.doc),
    ctr: c.ctr,
    kind: OpKind.Patch,
    wallTime: c.wallTime,
    ...(c.prev ? { prev: fromHex(c.prev) } : {}),
    parents: c.parents.map(fromHex),
    body: encodePatch({
      entity: fromHex(entity),
      writes: [{ field: EventField.Title, value: title === null ? null : utf8(title) }],
    }),
    key,
  });
}

export function membershipOp(c: Craft, body: Partial<MembershipBody> & { kind: MembershipKind }): Uint8Array {
  const full: MembershipBody = {
    subject: pubOf(c.by),
    subjectBox: new Uint8Array(0),
    keys: [],
    invite: new Uint8Array(0),
    sealed: new Uint8Array(0),
    expires: 0,
    boxProof: new Uint8Array(0),
    role: Role.Unstated,
    ...body,
  };
  return craftOp({
    secret: c.by.secret,
    doc: fromHex(c.doc),
    ctr: c.ctr,
    kind: OpKind.Membership,
    wallTime: c.wallTime,
    ...(c.prev ? { prev: fromHex(c.prev) } : {}),
    parents: c.parents.map(fromHex),
    body: encodeMembership(full),
  });
}

const rnd = seededRandom('hostile-seal');
export function wrap(
  recipient: TestDevice | Uint8Array,
  box: Uint8Array,
  keyId: Uint8Array,
  key: Uint8Array,
): WrappedKeyValue {
  return {
    recipient: recipient instanceof Uint8Array ? recipient : pubOf(recipient),
    keyId,
    sealed: seal(box, key, rnd),
  };
}

export { MembershipKind };

/**
 * Everything a user can see of a calendar, as data, for comparing replicas: heads, root, members
 * and roles, registers with their shown writes (winner first), evidence. An entity whose every
 * write was revoked may linger as an empty record on the replicas that had applied one (MEM-5's
 * rebuild), as in byzantine.test.ts: not something a user sees, so left out.
 */
export function userView(r: Replica, doc: DocId) {
  return {
    heads: r.heads(doc),
    root: r.root(doc),
    members: [...r.members(doc).values()].map((m) => `${m.device}:${m.role}`).sort(),
    registers: r
      .entities(doc)
      .flatMap((e) =>
        e.registers.filter((g) => g.writes.length > 0).map((g) => [e.entity, g.field, g.writes]),
      )
      .sort((a, b) => (`${a[0]}:${a[1]}` < `${b[0]}:${b[1]}` ? -1 : 1)),
    evidence: r
      .evidence(doc)
      .map((e) => `${e.author}:${e.ctr}`)
      .sort(),
  };
}
