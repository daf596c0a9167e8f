// Sealed snapshots on a replica (docs/PROTOCOL.md SNAP-9, SNAP-5): making one (the plaintext at
// this device's heads, encrypted under the content key KEY-4 picks at the frontier, signed),
// endorsing one (decrypt, recompute, compare; a forgery is evidence against its maker), and
// starting a new device from one under SNAP-5's trust rule (maker and an endorser, two distinct
// members at the frontier, or the maker alone when it is the only member there), then SNAP-6.

import { bytesEqual, toHex } from './bytes.ts';
import { calendarFromRecord } from './calendar.ts';
import { decodeMembership } from './codec.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import { CALENDAR_ENTITY, type DocId, type OpId } from './ids.ts';
import { inviteKeys } from './invite.ts';
import { type Key, Keyring } from './keyring.ts';
import type { MembershipIndex } from './membership.ts';
import { openOp } from './op.ts';
import { snapshotAtHeads } from './snapshot.ts';
import { decodeSnapshot, encodeSnapshot, type SnapshotState } from './snapshot-codec.ts';
import {
  checkChunks,
  type Endorsement,
  MAX_FRONTIER,
  type OpenedEndorsement,
  type OpenedManifest,
  openEndorsement,
  openManifest,
  signEndorsement,
  signManifest,
} from './snapshot-envelope.ts';
import { decryptChunks, openChunks, sealChunks } from './snapshot-seal.ts';
import { startFromSnapshot } from './snapshot-start.ts';
import { type SnapshotVerdict, snapshotHash, verifySnapshot } from './snapshot-verify.ts';
import { OpKind } from './store.ts';

/** A sealed snapshot: the signed manifest and the ciphertext chunks it names. */
export interface SealedSnapshot {
  manifest: Uint8Array;
  chunks: Uint8Array[];
  /** Hex hash of the manifest (what endorsements name). */
  hash: string;
  /** SNAP-1 hash of the plaintext (what the next snapshot names as `previous`). */
  snapshot: Uint8Array;
}

/** The membership frontier of `frontier` (the maximal membership ops its ops have seen). */
async function membershipFront(core: Core, doc: DocId, index: MembershipIndex, frontier: readonly OpId[]) {
  const metas = await core.metas(doc, frontier);
  const fronts: OpId[] = [];
  for (const m of metas) {
    if (m === undefined) throw new EngineError('Storage', 'a frontier op is not in the store');
    fronts.push(...m.mfront);
  }
  return index.maximal(fronts);
}

/**
 * SNAP-9: seals the snapshot at this device's heads. `undefined` when no content key qualifies
 * at the frontier (KEY-4): the caller rotates first, as a writer does.
 */
export async function sealAtHeads(
  core: Core,
  doc: DocId,
  previous: Uint8Array,
): Promise<SealedSnapshot | undefined> {
  const device = core.mustDevice();
  const st = core.mustDoc(doc);
  const state = await snapshotAtHeads(core, doc, previous);
  if (state.frontier.length > MAX_FRONTIER)
    throw new EngineError(
      'TooLarge',
      `${state.frontier.length} heads: a snapshot names at most ${MAX_FRONTIER}`,
    );
  const front = await membershipFront(core, doc, st.membership, state.frontier);
  if (!st.membership.membersAt(front).has(core.deviceId!))
    throw new EngineError('NotMember', 'this device is not a member at its heads: it signs no snapshot');
  const key: Key | undefined = st.keys.writeKey(st.membership, front);
  if (key === undefined) return undefined;
  const plain = encodeSnapshot(state);
  const ctx = {
    doc,
    signer: core.deviceId!,
    wallTime: Math.floor(core.nowUs()),
    keyId: key.id,
    nonce: core.random(24),
    snapshot: snapshotHash(plain),
    size: plain.length,
  };
  const { chunks, hashes } = sealChunks(ctx, plain, key.key);
  const manifest = await signManifest(device.signer, {
    ...ctx,
    frontier: state.frontier,
    previous: state.previous,
    chunks: hashes,
  });
  const opened = await openManifest(core.crypto, manifest);
  return { manifest: opened.bytes, chunks, hash: opened.hash, snapshot: ctx.snapshot };
}

/** Why a manifest and its plaintext disagree (the maker signed both), or undefined. */
function manifestMismatch(m: OpenedManifest, state: SnapshotState): string | undefined {
  if (state.doc !== m.doc) return 'doc';
  if (state.frontier.join() !== m.frontier.join()) return 'frontier';
  if (!bytesEqual(state.previous, m.previous)) return 'previous';
  return undefined;
}

export type EndorseOutcome =
  | { status: 'endorsed'; endorsement: Uint8Array; manifest: OpenedManifest }
  | { status: 'forged'; verdict: Extract<SnapshotVerdict, { status: 'forged' }> };

/**
 * SNAP-5, SNAP-9: decrypts a sealed snapshot with this device's keys, recomputes it and, when it
 * is equal, signs an endorsement at this device's chain position. Chunks that match the signed
 * hashes but do not decrypt, or a plaintext that disagrees with its manifest, are the maker's
 * doing: forged, like a wrong register.
 */
export async function endorse(
  core: Core,
  bytes: Uint8Array,
  chunks: readonly Uint8Array[],
): Promise<EndorseOutcome> {
  const device = core.mustDevice();
  const m = await openManifest(core.crypto, bytes);
  const st = core.mustDoc(m.doc);
  // SNAP-17, CMP-2: an endorsement is also consent to the relay pruning the covered ops; a
  // calendar in compliance mode keeps every op, so no honest device consents there.
  if (calendarFromRecord(st.entities.get(CALENDAR_ENTITY)).compliance)
    throw new EngineError(
      'InvalidArgument',
      'the calendar is in compliance mode: this device endorses no snapshot of it (CMP-2, SNAP-17)',
    );
  const key = st.keys.get(m.keyId);
  if (key === undefined)
    throw new EngineError('NoKey', `this device does not hold key ${m.keyId}: it cannot endorse`);
  const forged = (differs: string[]) => ({
    status: 'forged' as const,
    verdict: {
      status: 'forged' as const,
      evidence: { doc: m.doc, signer: m.signer, claimed: toHex(m.snapshot), frontier: m.frontier, differs },
    },
  });
  // A chunk that does not match its signed hash is the carrier's doing, not the maker's.
  checkChunks(m, chunks);
  let plain: Uint8Array;
  try {
    plain = decryptChunks(m, chunks, key);
  } catch {
    return forged(['ciphertext']);
  }
  const v = await verifySnapshot(core, m.doc, plain, m.signer);
  if (v.status === 'unverifiable') throw new EngineError('InvalidArgument', `cannot endorse: ${v.reason}`);
  if (v.status === 'forged') return { status: 'forged', verdict: v };
  const wrong = manifestMismatch(m, v.state);
  if (wrong !== undefined) return forged(['manifest', wrong]);
  const front = await membershipFront(core, m.doc, st.membership, m.frontier);
  const members = st.membership.membersAt(front);
  if (!members.has(m.signer)) throw new EngineError('NotMember', 'the maker is not a member at the frontier');
  if (!members.has(core.deviceId!))
    throw new EngineError('NotMember', 'this device is not a member at the frontier');
  const e: Endorsement = {
    doc: m.doc,
    manifest: m.hash,
    endorser: core.deviceId!,
    ctr: st.rec.ownCtr,
    last: st.rec.ownLast,
    frontier: m.frontier,
  };
  return { status: 'endorsed', endorsement: await signEndorsement(device.signer, e), manifest: m };
}

/**
 * Keys a new device reads from membership ops (its Add, the Rotates that sealed keys for it, the
 * key chains, KEY-8) before it holds the calendar. Signatures are not needed: a key is taken only
 * when its bytes hash to its id (KEY-7), so an op can hand over only the real key.
 */
export function keysFrom(
  core: Core,
  sources: readonly Uint8Array[],
  inviteSecrets: readonly Uint8Array[] = [],
): Keyring {
  const ring = new Keyring();
  const bodies = sources.map((b) => {
    const op = openOp(b);
    return op.header.kind === OpKind.Membership ? decodeMembership(op.env.body) : undefined;
  });
  for (const body of bodies) if (body !== undefined) ring.absorbOp(body, undefined);
  for (const body of bodies) if (body !== undefined) ring.absorbOp(body, core.me());
  // INV-1: a device joining by invite opens the keys its Invite op sealed for the invite's key.
  for (const secret of inviteSecrets) {
    const ik = inviteKeys(secret);
    for (const body of bodies)
      if (body !== undefined) ring.absorbOp(body, { device: ik.publicKey, box: ik.box });
  }
  return ring;
}

/** SNAP-5: the trust rule at start, on the membership the device computed from the anchors. */
function checkTrust(
  m: OpenedManifest,
  ends: readonly OpenedEndorsement[],
  members: ReadonlySet<string>,
): void {
  if (!members.has(m.signer))
    throw new EngineError('NotMember', 'SNAP-5: the maker is not a member at the frontier');
  const others = new Set(ends.map((e) => e.endorser).filter((d) => d !== m.signer && members.has(d)));
  if (others.size > 0) return;
  if (members.size === 1) return;
  throw new EngineError(
    'NotPermitted',
    'SNAP-5: a snapshot needs an endorsement by a second member at its frontier (the maker is not the only member)',
  );
}

/**
 * SNAP-5, SNAP-9, SNAP-6: starts calendar `m.doc` on this device from a sealed snapshot. The
 * content key comes from `keySources` (membership ops; see keysFrom). One store commit: the
 * anchors, the state and the endorsements; nothing is stored on any failure.
 */
export async function startSealed(
  core: Core,
  bytes: Uint8Array,
  chunks: readonly Uint8Array[],
  endorsements: readonly Uint8Array[],
  keySources: readonly Uint8Array[],
  inviteSecrets: readonly Uint8Array[] = [],
): Promise<{ manifest: OpenedManifest; endorsements: OpenedEndorsement[] }> {
  const m = await openManifest(core.crypto, bytes);
  if (core.docs.has(m.doc))
    throw new EngineError('InvalidArgument', 'the calendar is already on this replica');
  const ends: OpenedEndorsement[] = [];
  for (const b of endorsements) {
    const e = await openEndorsement(core.crypto, b);
    if (e.doc !== m.doc || e.manifest !== m.hash)
      throw new EngineError('InvalidArgument', 'an endorsement names another snapshot');
    ends.push(e);
  }
  const key = keysFrom(core, keySources, inviteSecrets).get(m.keyId);
  if (key === undefined)
    throw new EngineError('NoKey', `no key source seals key ${m.keyId} for this device (SNAP-9)`);
  const state = decodeSnapshot(openChunks(m, chunks, key));
  const wrong = manifestMismatch(m, state);
  if (wrong !== undefined)
    throw new EngineError('Malformed', `snapshot envelope: the manifest states another ${wrong}`);
  await startFromSnapshot(core, state, (txn) => {
    const fronts: OpId[] = [];
    for (const h of state.frontier) fronts.push(...(txn.meta.get(h)?.mfront ?? []));
    checkTrust(m, ends, new Set(txn.membership.membersAt(txn.membership.maximal(fronts)).keys()));
    const listed = new Set(txn.endorsements.map((r) => r.id));
    for (const e of ends)
      if (!listed.has(e.hash)) txn.endorsements.push({ doc: m.doc, id: e.hash, bytes: e.bytes });
  });
  return { manifest: m, endorsements: ends };
}
