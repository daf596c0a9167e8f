// This device's own changes (ERR-2 checks first, then author.ts builds the op, then it is applied
// and committed like a remote op, with the device clock in the same commit, CLK-1). Runs on the
// replica's queue.

import { applyWithWakeups, commit, txnFor, unlock } from './applier.ts';
import {
  addBody,
  chooseParents,
  genesisBody,
  inviteBody,
  joinBody,
  type Me,
  newKey,
  removeBody,
  rotateBody,
  setRoleBody,
  stamp,
} from './author.ts';
import {
  BOX_PROOF_BYTES,
  cardMessage,
  type DeviceCard,
  signDeviceCard,
  signSponsorCard,
} from './box-proof.ts';
import { bytesEqual, fromHex, toHex } from './bytes.ts';
import { isValidWrite, SCHEMA_VERSION } from './calendar.ts';
import {
  encodeMembership,
  encodePatch,
  LIMITS,
  type MembershipBody,
  MembershipKind,
  type PatchBody,
} from './codec.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import { type DeviceId, type DocId, type EntityId, isEntityId, type KeyId, type OpId } from './ids.ts';
import { inviteKeys, inviteMessage, inviteProof, signInvite } from './invite.ts';
import { type Key, keyIdHex } from './keyring.ts';
import { createOp, type OpenedOp, prepareOp } from './op.ts';
import { isMemberRole, type MemberRole, Role, writeDenied } from './roles.ts';
import { seal } from './seal.ts';
import { OpKind } from './store.ts';
import type { DocState } from './txn.ts';
import { Txn } from './txn.ts';

export interface LocalOp {
  id: OpId;
  doc: DocId;
  bytes: Uint8Array;
}

export interface NewWrite {
  field: number;
  value: Uint8Array | null;
}

function me(core: Core): Me {
  const d = core.mustDevice();
  return { device: d.signer.publicKey, box: d.box.publicKey, name: core.deviceName, random: core.random };
}

type Position = Awaited<ReturnType<typeof position>>;

/** Where the next own op goes: its parents, prev, membership frontier and latest parent stamp. */
/** Where this device's next op goes: its last op, heads as parents, membership front, newest parent stamp. */
async function position(core: Core, st: Pick<DocState, 'rec' | 'membership'>, txn?: Txn) {
  const prev = st.rec.ownLast;
  const others = st.rec.heads.filter((h) => h !== prev);
  let frontOf: ((h: OpId) => readonly OpId[]) | undefined;
  if (others.length > LIMITS.maxParents) {
    // DAG-8: too many heads to name them all; the ones named must carry the whole frontier.
    const all = prev === null ? others : [...others, prev];
    const metas = await core.metas(st.rec.doc, all, txn);
    const fronts = new Map(all.map((h, i) => [h, metas[i]?.mfront ?? []]));
    frontOf = (h) => fronts.get(h) ?? [];
  }
  const parents = chooseParents(st.rec.heads, prev, frontOf, (ids) => st.membership.maximal(ids));
  const preds = prev === null ? parents : [...parents, prev];
  const metas = await core.metas(st.rec.doc, preds, txn);
  let maxParent = 0;
  const fronts: OpId[] = [];
  for (const m of metas) {
    if (m === undefined) throw new EngineError('Storage', 'a head of this calendar is not in the store');
    if (m.wallTime > maxParent) maxParent = m.wallTime;
    fronts.push(...m.mfront);
  }
  return { prev, parents, front: st.membership.maximal(fronts), maxParent };
}

/**
 * Applies and commits one own op. `signing`: the op is being signed meanwhile (WebCrypto signs
 * on another thread) and `op` is the op before its signature (PreparedOp.unsigned); the signed
 * bytes replace it in the transaction before its one commit, so only a signed op is ever stored
 * or handed out.
 */
async function signAndApply(
  core: Core,
  op: OpenedOp,
  clock: number,
  txn: Txn,
  plain?: { entity: EntityId; patch: PatchBody },
  signing?: Promise<OpenedOp>,
): Promise<LocalOp> {
  txn.clock = clock;
  txn.own = plain === undefined ? { id: op.id } : { id: op.id, plain };
  const res = await applyWithWakeups(core, op, txn);
  if (res.status !== 'applied')
    throw res.error ?? new EngineError('InvalidArgument', `local op ${res.status}`);
  const signed = signing === undefined ? op : await signing;
  if (signed !== op) txn.signed(signed);
  const err = await commit(core, txn);
  if (err !== undefined) throw err;
  return { id: signed.id, doc: signed.doc, bytes: signed.bytes };
}

/** Builds, signs, applies and commits one own op in calendar `st`. */
async function localOp(
  core: Core,
  st: DocState,
  kind: OpKind,
  make: (front: OpId[], wallTime: number) => { body: Uint8Array; key?: Key },
  joining = false,
  plain?: { entity: EntityId; patch: PatchBody },
  at?: Position,
): Promise<LocalOp> {
  const dev = core.mustDevice();
  const pos = at ?? (await position(core, st));
  if (!joining && !st.membership.membersAt(pos.front).has(core.deviceId!))
    throw new EngineError('NotMember', 'this device is not a member of the calendar');
  const wallTime = stamp(core.nowUs(), core.clock, pos.maxParent);
  const spec = make(pos.front, wallTime);
  const p = prepareOp(dev.signer.publicKey, core.nonce, {
    doc: fromHex(st.rec.doc),
    ctr: st.rec.ownCtr + 1,
    kind,
    schema: SCHEMA_VERSION,
    wallTime,
    prev: pos.prev === null ? new Uint8Array(0) : fromHex(pos.prev),
    parents: pos.parents.map(fromHex),
    body: spec.body,
    ...(spec.key === undefined ? {} : { key: { id: fromHex(spec.key.id), key: spec.key.key } }),
  });
  const txn = new Txn(st.rec.doc, st);
  if (kind !== OpKind.Patch)
    return signAndApply(core, p.finish(await dev.signer.sign(p.digest)), wallTime, txn, plain);
  // A Patch (it unlocks and revokes nothing) is staged while it is being signed.
  const signing = dev.signer.sign(p.digest).then((sig) => p.finish(sig));
  signing.catch(() => undefined); // awaited in signAndApply; not unhandled if staging throws first
  return signAndApply(core, p.unsigned(), wallTime, txn, plain, signing);
}

const membership = (
  core: Core,
  st: DocState,
  body: (front: OpId[], wallTime: number) => MembershipBody,
  joining = false,
) =>
  localOp(core, st, OpKind.Membership, (front, w) => ({ body: encodeMembership(body(front, w)) }), joining);

export async function createCalendar(core: Core): Promise<LocalOp> {
  const dev = core.mustDevice();
  const body = genesisBody(me(core), newKey(me(core)));
  const wallTime = stamp(core.nowUs(), core.clock, 0);
  const op = await createOp(dev.signer, core.random, {
    doc: new Uint8Array(0),
    ctr: 1,
    kind: OpKind.Membership,
    schema: SCHEMA_VERSION,
    wallTime,
    prev: new Uint8Array(0),
    parents: [],
    body: encodeMembership(body),
  });
  return signAndApply(core, op, wallTime, txnFor(core, op));
}

/** ERR-2: a local write list checked (entity id, fields in range and once each, valid values). */
function checkedPatch(entity: EntityId, writes: readonly NewWrite[]): PatchBody {
  if (!isEntityId(entity)) throw new EngineError('InvalidArgument', 'entity id must be 32 hex chars');
  const sorted = [...writes].sort((a, b) => a.field - b.field);
  for (let i = 0; i < sorted.length; i++) {
    const w = sorted[i]!;
    if (!Number.isInteger(w.field) || w.field < 0 || w.field > 0xffff)
      throw new EngineError('InvalidArgument', `field ${w.field}`);
    if (i > 0 && sorted[i - 1]!.field === w.field)
      throw new EngineError('InvalidArgument', `field ${w.field} written twice`);
    if (!isValidWrite(entity, w.field, w.value))
      throw new EngineError('InvalidArgument', `invalid value for field ${w.field}`);
  }
  return { entity: fromHex(entity), writes: sorted.map((w) => ({ field: w.field, value: w.value })) };
}

/**
 * KEY-4: the calendar's state once a key qualifies for writing (rotating first when none does,
 * KEY-3), and the position of the next op in that state.
 */
async function withWriteKey(
  core: Core,
  doc: DocId,
  entities: readonly EntityId[],
): Promise<{ st: DocState; pos: Position }> {
  let st = core.mustDoc(doc);
  let pos = await position(core, st);
  // ROLE-4, ROLE-8 before anything is written (not after a rotation KEY-4 may ask for first).
  const denied = writeDenied(st.membership.membersAt(pos.front).get(core.deviceId!)?.role, entities);
  if (denied !== null) throw new EngineError('NotPermitted', denied);
  if (writeKey(core, st, pos.front) !== undefined) return { st, pos };
  await rotateKey(core, doc);
  st = core.mustDoc(doc);
  pos = await position(core, st);
  return { st, pos };
}

/** KEY-4: writes with the key the rule picks; when none qualifies, rotates first (KEY-3). */
export async function write(
  core: Core,
  doc: DocId,
  entity: EntityId,
  writes: readonly NewWrite[],
): Promise<LocalOp> {
  const patch = checkedPatch(entity, writes);
  const body = encodePatch(patch);
  const { st, pos } = await withWriteKey(core, doc, [entity]);
  return localOp(
    core,
    st,
    OpKind.Patch,
    (front) => {
      const key = writeKey(core, st, front);
      if (key === undefined)
        throw new EngineError('NoKey', 'no content key for this calendar on this device');
      return { body, key };
    },
    false,
    { entity, patch },
    pos,
  );
}

/** Signatures of a batch in flight at once (an op's id is its header's digest, so the chain is built first). */
const BATCH_SIGNING = 32;

/**
 * DAG-11: many entities of one calendar, one op each, chained as `write` would chain them one by
 * one (each names the previous as `prev`; wall times strictly increase, CLK-1), staged in ONE
 * transaction and committed once: all or none. `step(done)` is awaited as the work advances
 * (0..n-1, signing then applying); a throw from it (a cancel), a failed op or a failed commit
 * drops the transaction, so nothing was stored, published or handed out.
 */
export async function writeBatch(
  core: Core,
  doc: DocId,
  items: readonly { entity: EntityId; writes: readonly NewWrite[] }[],
  step?: (done: number) => void | Promise<void>,
): Promise<LocalOp[]> {
  const patches = items.map((it) => ({ entity: it.entity, patch: checkedPatch(it.entity, it.writes) }));
  if (patches.length === 0) return [];
  const { st, pos } = await withWriteKey(
    core,
    doc,
    items.map((i) => i.entity),
  );
  const dev = core.mustDevice();
  if (!st.membership.membersAt(pos.front).has(core.deviceId!))
    throw new EngineError('NotMember', 'this device is not a member of the calendar');
  const key = writeKey(core, st, pos.front);
  if (key === undefined) throw new EngineError('NoKey', 'no content key for this calendar on this device');
  const n = patches.length;
  const report = step && ((done: number) => step(Math.floor(done / 2)));
  let wallTime = pos.maxParent;
  let prev: Uint8Array = pos.prev === null ? new Uint8Array(0) : fromHex(pos.prev);
  let parents = pos.parents.map(fromHex);
  const prepared = patches.map(({ patch }, i) => {
    wallTime = stamp(core.nowUs(), Math.max(core.clock, wallTime), wallTime);
    const p = prepareOp(dev.signer.publicKey, core.nonce, {
      doc: fromHex(st.rec.doc),
      ctr: st.rec.ownCtr + i + 1,
      kind: OpKind.Patch,
      schema: SCHEMA_VERSION,
      wallTime,
      prev,
      parents,
      body: encodePatch(patch),
      key: { id: fromHex(key.id), key: key.key },
    });
    prev = p.digest;
    parents = [];
    return { p, wallTime };
  });
  const sigs: Uint8Array[] = new Array(n);
  let next = 0;
  let signed = 0;
  const signer = async () => {
    while (next < n) {
      const i = next++;
      await report?.(signed);
      sigs[i] = await dev.signer.sign(prepared[i]!.p.digest);
      signed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_SIGNING, n) }, signer));
  const txn = new Txn(st.rec.doc, st);
  const out: LocalOp[] = [];
  for (let i = 0; i < n; i++) {
    await report?.(n + i);
    const op = prepared[i]!.p.finish(sigs[i]!);
    txn.clock = prepared[i]!.wallTime;
    txn.own = { id: op.id, plain: patches[i]! };
    const res = await applyWithWakeups(core, op, txn);
    if (res.status !== 'applied')
      throw res.error ?? new EngineError('InvalidArgument', `local op ${res.status}`);
    out.push({ id: op.id, doc: op.doc, bytes: op.bytes });
  }
  const err = await commit(core, txn);
  if (err !== undefined) throw err;
  return out;
}

const keyMemo = new WeakMap<DocState, { at: string; n: number; key: Key | undefined }>();

/** KEY-4 at a frontier, memoized per calendar while the frontier and the keys held stay the same. */
function writeKey(_core: Core, st: DocState, front: OpId[]): Key | undefined {
  const at = front.join(',');
  const n = st.keys.ids().length;
  const hit = keyMemo.get(st);
  if (hit !== undefined && hit.at === at && hit.n === n) return hit.key;
  const key = st.keys.writeKey(st.membership, front);
  keyMemo.set(st, { at, n, key });
  return key;
}

export async function rotateKey(core: Core, doc: DocId): Promise<LocalOp> {
  const st = core.mustDoc(doc);
  return membership(core, st, (front) =>
    rotateBody(me(core), st.keys, st.membership.membersAt(front), newKey(me(core))),
  );
}

/** MEM-4, MEM-11: adds the device whose card (keys and box proof for this calendar) it showed. */
export async function addMember(
  core: Core,
  doc: DocId,
  card: DeviceCard,
  role: MemberRole = Role.Manager,
  name?: string,
): Promise<LocalOp> {
  if (card.device.length !== 32 || card.box.length !== 32 || card.proof.length !== BOX_PROOF_BYTES)
    throw new EngineError('InvalidArgument', 'a device card holds two 32-byte keys and a 64-byte proof');
  const st = core.mustDoc(doc);
  // ROLE-11: a sponsor card lets only the member it names add the device.
  if (card.sponsor !== undefined && !bytesEqual(card.sponsor, core.mustDevice().signer.publicKey))
    throw new EngineError('InvalidArgument', 'the sponsor card names another member');
  const ok = await core.crypto.verify(card.device, card.proof, cardMessage(fromHex(doc), card));
  if (!ok)
    throw new EngineError('InvalidArgument', 'the device card is not signed by its device for this calendar');
  return membership(core, st, () => addBody(me(core), st.keys, card, role, name));
}

/** ROLE-11: this device's sponsor card for calendar `doc`, letting `sponsor` alone add it. */
export async function sponsorCard(core: Core, doc: DocId, sponsor: Uint8Array): Promise<DeviceCard> {
  if (!/^[0-9a-f]{32}$/.test(doc)) throw new EngineError('InvalidArgument', 'a calendar id is 32 hex chars');
  if (sponsor.length !== 32) throw new EngineError('InvalidArgument', 'a sponsor is a 32-byte key');
  return signSponsorCard(core.mustDevice(), fromHex(doc), sponsor);
}

/** MEM-11: this device's card for calendar `doc`, to show a member who adds it. */
export async function deviceCard(core: Core, doc: DocId): Promise<DeviceCard> {
  if (!/^[0-9a-f]{32}$/.test(doc)) throw new EngineError('InvalidArgument', 'a calendar id is 32 hex chars');
  return signDeviceCard(core.mustDevice(), fromHex(doc));
}

export async function removeMember(core: Core, doc: DocId, signingKey: Uint8Array): Promise<LocalOp> {
  const st = core.mustDoc(doc);
  const removed = toHex(signingKey);
  return membership(core, st, (front) => {
    const members = st.membership.membersAt(front);
    if (!members.has(removed as never)) throw new EngineError('InvalidArgument', 'not a member');
    return removeBody(me(core), st.keys, members, removed, newKey(me(core)));
  });
}

/**
 * ROLE-13: removes `device` and, unless it is in this device's own sponsor group (ROLE-12), every
 * other member of its group as this replica sees it: one Remove each (each introducing a key for
 * those who remain, KEY-3), chained, staged in one transaction and committed together, so either
 * all are written or none. Returns the Removes written.
 */
export async function removePerson(core: Core, doc: DocId, device: DeviceId): Promise<LocalOp[]> {
  const st = core.mustDoc(doc);
  const dev = core.mustDevice();
  const self = core.deviceId!;
  const front = core.headFront(st);
  const members = st.membership.membersAt(front);
  if (!members.has(self)) throw new EngineError('NotMember', 'this device is not a member of the calendar');
  const groups = st.membership.groupsAt(front);
  const group = groups.same(self, device) ? [device] : [device, ...groups.groupOf(device)];
  const targets = [...new Set(group)].filter((d) => members.has(d));
  if (!members.has(device)) throw new EngineError('InvalidArgument', 'not a member');
  const txn = new Txn(st.rec.doc, st);
  const out: LocalOp[] = [];
  let wallTime = 0;
  for (const d of targets) {
    const pos = await position(core, { rec: txn.rec, membership: txn.membership }, txn);
    wallTime = stamp(core.nowUs(), Math.max(core.clock, wallTime), pos.maxParent);
    const body = removeBody(me(core), txn.keys, txn.membership.membersAt(pos.front), d, newKey(me(core)));
    const p = prepareOp(dev.signer.publicKey, core.nonce, {
      doc: fromHex(st.rec.doc),
      ctr: txn.rec.ownCtr + 1,
      kind: OpKind.Membership,
      schema: SCHEMA_VERSION,
      wallTime,
      prev: pos.prev === null ? new Uint8Array(0) : fromHex(pos.prev),
      parents: pos.parents.map(fromHex),
      body: encodeMembership(body),
    });
    const op = p.finish(await dev.signer.sign(p.digest));
    txn.clock = wallTime;
    txn.own = { id: op.id };
    const res = await applyWithWakeups(core, op, txn);
    if (res.status !== 'applied')
      throw res.error ?? new EngineError('InvalidArgument', `local op ${res.status}`);
    out.push({ id: op.id, doc: op.doc, bytes: op.bytes });
  }
  const err = await commit(core, txn);
  if (err !== undefined) throw err;
  return out;
}

export async function createInvite(
  core: Core,
  doc: DocId,
  expiresUs: number,
  role: MemberRole = Role.Manager,
): Promise<{ op: LocalOp; secret: Uint8Array }> {
  const st = core.mustDoc(doc);
  if (!Number.isSafeInteger(expiresUs) || expiresUs <= core.nowUs())
    throw new EngineError('InvalidArgument', 'an invite must expire in the future');
  // ROLE-14 before anything is signed: an invite states a role no higher than this device's.
  const mine = st.membership.membersAt((await position(core, st)).front).get(core.deviceId!)?.role;
  if (mine !== undefined && mine < role)
    throw new EngineError('NotPermitted', 'an invite states a role no higher than this device has');
  const secret = core.random(32);
  const ik = inviteKeys(secret);
  // CLK-5: after an op stamped at the ceiling an invite cannot expire later than its own stamp.
  const op = await membership(core, st, (_front, w) =>
    inviteBody(me(core), st.keys, ik.publicKey, ik.box.publicKey, Math.max(expiresUs, w), role),
  );
  return { op, secret };
}

export async function joinWithInvite(
  core: Core,
  doc: DocId,
  inviteOp: OpId,
  secret: Uint8Array,
): Promise<LocalOp> {
  const m = me(core);
  const st = core.mustDoc(doc);
  const inv = st.membership.get(inviteOp);
  const ik = inviteKeys(secret);
  if (inv === undefined || inv.body.kind !== MembershipKind.Invite)
    throw new EngineError('InviteInvalid', 'no such invite in this calendar');
  if (toHex(inv.body.subject) !== toHex(ik.publicKey))
    throw new EngineError('InviteInvalid', 'wrong invite secret');
  const opened = st.keys.fork();
  opened.absorbOp(inv.body, { device: ik.publicKey, box: ik.box });
  const message = inviteMessage(fromHex(doc), fromHex(inviteOp), m.device, m.box);
  const proof = inviteProof(fromHex(inviteOp), signInvite(secret, message));
  return membership(core, st, () => joinBody(m, opened, proof, opened.heads()[0], inv.body.role), true);
}

/** ROLE-2, ROLE-4: sets a member's role (a manager's op; validation refuses it otherwise). */
export async function setRole(
  core: Core,
  doc: DocId,
  device: Uint8Array,
  role: MemberRole,
): Promise<LocalOp> {
  if (device.length !== 32 || !isMemberRole(role))
    throw new EngineError(
      'InvalidArgument',
      'a role is set for a 32-byte device key, to viewer, editor or manager',
    );
  const st = core.mustDoc(doc);
  return membership(core, st, (front) => {
    if (!st.membership.membersAt(front).has(toHex(device) as never))
      throw new EngineError('InvalidArgument', 'not a member');
    return setRoleBody(me(core), device, role);
  });
}

/** KEY-9: a key obtained out of band, persisted sealed for this device, unlocking what it opens. */
export async function addKey(core: Core, doc: DocId, keyId: KeyId, key: Uint8Array): Promise<void> {
  const st = core.mustDoc(doc);
  const dev = core.mustDevice();
  if (key.length !== 32 || keyIdHex(key) !== keyId)
    throw new EngineError('InvalidArgument', 'a content key is 32 bytes whose hash gives its id');
  if (st.keys.has(keyId)) return;
  const txn = new Txn(doc, st);
  const learned = txn.keys.learn(keyId, key);
  const sealed = seal(dev.box.publicKey, key, core.random);
  await unlock(core, txn, new Set(learned));
  txn.rec = {
    ...txn.rec,
    keys: [...(txn.rec.keys ?? []), { id: keyId, sealed }],
    keyIds: txn.keys.ids().sort(),
  };
  const err = await commit(core, txn);
  if (err !== undefined) throw err;
}
