// A replica of the calendars one device (or the relay) holds. A thin coordinator: it runs every
// change on one queue, opens a transaction (txn.ts) per calendar, lets the validator
// (validate.ts) judge each op against its causal past, parks ops with missing predecessors in
// the causal gate (gate.ts), materializes bodies with the keyring's keys (keyring.ts,
// registers.ts), builds this device's own ops with author.ts, and publishes a transaction's
// state only after its one store commit succeeded.
//
// Invariants:
// - In-memory state changes only after the store commit for that change has succeeded.
// - All mutations run one at a time on `queue`; signature checks run ahead of it concurrently.
// - Validity of an op depends only on the op and its causal past, so every replica decides alike.

import type { ApplyResult } from './applier.ts';
import { applyOne, applyWithWakeups, commit, rejected, txnFor } from './applier.ts';
import type { DeviceCard } from './box-proof.ts';
import { toHex, utf8 } from './bytes.ts';
import { type EndorsementStatus, settle } from './certify.ts';
import { Core, type CoreOptions as ReplicaOptions } from './core.ts';
import { EngineError, toEngineError } from './errors.ts';
import { DEFAULT_PENDING_LIMIT } from './gate.ts';
import { TAG_ROOT, taggedHash } from './hash.ts';
import { needsRestate } from './heal.ts';
import { type EntityHistory, entityHistory, type HistoryOptions, pastWrite } from './history.ts';
import { CALENDAR_ENTITY, type DeviceId, type DocId, type EntityId, type KeyId, type OpId } from './ids.ts';
import { openName } from './keyring.ts';
import { lateCount } from './late-endorsements.ts';
import { loadDoc, recheck } from './loader.ts';
import type { LocalOp, NewWrite } from './local.ts';
import * as local from './local.ts';
import type { MemberInfo } from './membership.ts';
import { type OpenedOp, openOp, verifyOp } from './op.ts';
import { type PruneStatus, prune, pruneStatus } from './prune.ts';
import { type PruneConsent, pruneUnread, pruneUnreadStatus } from './prune-relay.ts';
import { rebase } from './rebase.ts';
import { endorsementsOf, scratchCore, scratchPlaintext } from './rebase-scratch.ts';
import { SnapshotDesk } from './replica-snapshots.ts';
import { type MemberRole, Role } from './roles.ts';
import type { SealedSnapshot } from './snapshot-sealed.ts';
import type { SnapshotEvidence, SnapshotVerdict } from './snapshot-verify.ts';
import { type EntityRecord, type EquivocationRecord, OpKind, type OpRecord } from './store.ts';
import type { ChangeEvent, Txn } from './txn.ts';

export type { ApplyResult, ApplyStatus } from './applier.ts';
export type { EndorsementStatus } from './certify.ts';
export type { CoreOptions as ReplicaOptions, DeviceKeys } from './core.ts';
export type { LocalOp, NewWrite } from './local.ts';
export type { SealedSnapshot } from './snapshot-sealed.ts';
export type { ChangeEvent } from './txn.ts';
export { DEFAULT_PENDING_LIMIT };

/** Most ops committed together by receiveBatch (DAG-7). */
const MAX_GROUP = 512;

export class Replica {
  readonly deviceId: DeviceId | undefined;
  private readonly core: Core;
  private queue: Promise<unknown> = Promise.resolve();
  /** KEY-10: calendars whose restating Rotate failed; tried again before the next task. */
  private readonly unhealed = new Set<DocId>();
  /** SNAP-*: snapshot flows, and what they remember in memory (evidence, the last snapshot). */
  private readonly snaps: SnapshotDesk;

  private constructor(opts: ReplicaOptions | Core) {
    this.core = opts instanceof Core ? opts : new Core(opts);
    this.deviceId = this.core.deviceId;
    this.snaps = new SnapshotDesk(this.core, (docs) => this.heal(docs));
  }

  /** Opens a replica over a store: loads the clock and every calendar's materialized state. */
  static async open(opts: ReplicaOptions): Promise<Replica> {
    const r = new Replica(opts);
    let docs: DocId[];
    try {
      r.core.clock = await opts.store.loadClock();
      docs = await opts.store.listDocs();
      for (const doc of docs) await loadDoc(r.core, doc);
    } catch (e) {
      throw toEngineError(e, 'Storage', 'opening the replica');
    }
    // STORE-11: re-checks run on the queue, after the open (cold start reads no op log, RT-10).
    for (const doc of docs)
      void r
        .enqueue(async () => {
          await recheck(r.core, doc);
          await r.heal([doc]);
        })
        .catch(() => undefined);
    return r;
  }

  get cryptoName(): string {
    return this.core.crypto.name;
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  listDocs(): DocId[] {
    return [...this.core.docs.keys()];
  }

  hasDoc(doc: DocId): boolean {
    return this.core.docs.has(doc);
  }

  heads(doc: DocId): OpId[] {
    return [...(this.core.docs.get(doc)?.rec.heads ?? [])];
  }

  /** DAG-5: the Merkle root of a calendar = SHA-256(TAG_ROOT || sorted head ids). */
  root(doc: DocId): string {
    const heads = this.heads(doc).sort();
    return toHex(taggedHash(TAG_ROOT, ...heads.map((h) => hexBytes(h))));
  }

  /** Highest sequence number applied in a calendar on this replica. */
  seq(doc: DocId): number {
    return this.core.docs.get(doc)?.rec.seq ?? 0;
  }

  entity(doc: DocId, entity: EntityId): EntityRecord | undefined {
    return this.core.docs.get(doc)?.entities.get(entity);
  }

  entities(doc: DocId): EntityRecord[] {
    return [...(this.core.docs.get(doc)?.entities.values() ?? [])];
  }

  members(doc: DocId): Map<DeviceId, MemberInfo> {
    const st = this.core.docs.get(doc);
    if (st === undefined) return new Map();
    return st.membership.membersAt(this.core.headFront(st));
  }

  /**
   * Members at a frontier of ops this replica holds (their membership frontiers, as `members`
   * reads the heads'), or undefined when it lacks one of them. The relay checks a snapshot's
   * signer and endorsers with it (RELAY-26, SNAP-5).
   */
  async membersAt(doc: DocId, frontier: readonly OpId[]): Promise<Map<DeviceId, MemberInfo> | undefined> {
    const st = this.core.docs.get(doc);
    if (st === undefined) return undefined;
    const recs = await this.getOps(doc, frontier);
    const fronts: OpId[] = [];
    for (const r of recs) {
      if (r === undefined) return undefined;
      fronts.push(...r.mfront);
    }
    return st.membership.membersAt(st.membership.maximal(fronts));
  }

  /**
   * ROLE-12: the sponsor group of `device` at this replica's heads: the devices linked to it by
   * sponsored Adds that count, itself included, members or not (ascending).
   */
  sponsorGroup(doc: DocId, device: DeviceId): DeviceId[] {
    const st = this.core.docs.get(doc);
    if (st === undefined) return [device];
    return st.membership.groupsAt(this.core.headFront(st)).groupOf(device);
  }

  evidence(doc: DocId): EquivocationRecord[] {
    return [...(this.core.docs.get(doc)?.evidence ?? [])];
  }

  pendingCount(doc?: DocId): number {
    return this.core.gate.count(doc);
  }

  /** Ids that sync should fetch for a calendar: what pending and refused ops wait for (DAG-3, DAG-9). */
  missing(doc: DocId): OpId[] {
    return this.core.gate.missing(doc, (id) => this.core.cached(id, doc) !== undefined);
  }

  async getOps(doc: DocId, ids: readonly OpId[]): Promise<(OpRecord | undefined)[]> {
    try {
      return await this.core.store.getOps(doc, ids);
    } catch (e) {
      throw toEngineError(e, 'Storage', 'reading ops');
    }
  }

  async listOps(doc: DocId, afterSeq: number, limit: number): Promise<OpRecord[]> {
    try {
      return await this.core.store.listOps(doc, afterSeq, limit);
    } catch (e) {
      throw toEngineError(e, 'Storage', 'listing ops');
    }
  }

  /**
   * CMP-3: every write to each register of one entity, from the op log (history.ts). Runs on the
   * queue, so it sees one committed state: the register winners it reports are the live ones.
   */
  fieldHistory(doc: DocId, entity: EntityId, opts?: HistoryOptions): Promise<EntityHistory> {
    return this.enqueue(() => entityHistory(this.core, doc, entity, opts)).catch((e: unknown) => {
      throw toEngineError(e, 'Storage', 'reading field history');
    });
  }

  /** CMP-7: what op `op` wrote to `field` of `entity`, if it is a counted write there (history.ts). */
  pastWrite(
    doc: DocId,
    entity: EntityId,
    field: number,
    op: OpId,
  ): Promise<{ value: Uint8Array | null } | undefined> {
    return this.enqueue(() => pastWrite(this.core, doc, entity, field, op)).catch((e: unknown) => {
      throw toEngineError(e, 'Storage', 'reading a past write');
    });
  }

  onChange(cb: (e: ChangeEvent) => void): () => void {
    this.core.listeners.add(cb);
    return () => this.core.listeners.delete(cb);
  }

  /** Resolves when every queued mutation has finished. */
  idle(): Promise<void> {
    return this.queue.then(
      () => undefined,
      () => undefined,
    );
  }

  /** DEV-1: a member device's display name, when it sealed one and this device holds the key. */
  memberName(doc: DocId, device: DeviceId): string | undefined {
    const st = this.core.docs.get(doc);
    const m = this.members(doc).get(device);
    if (st === undefined || m === undefined) return undefined;
    const op = st.membership.get(m.addedBy);
    if (op === undefined) return undefined;
    return openName(op.body.sealed, op.body.subject, st.keys);
  }

  // -------------------------------------------------------------------------------------------
  // Local writes (docs/PROTOCOL.md CLK-1, KEY-*, MEM-4, INV-1; local.ts)

  /** Creates a calendar: a genesis op naming this device, with a fresh content key sealed for it. */
  async createCalendar(props?: { name?: string; color?: string }): Promise<LocalOp> {
    const g = await this.enqueue(() => local.createCalendar(this.core));
    const writes: NewWrite[] = [];
    if (props?.name !== undefined) writes.push({ field: 1, value: utf8(props.name) });
    if (props?.color !== undefined) writes.push({ field: 2, value: utf8(props.color) });
    if (writes.length > 0) await this.write(g.doc, CALENDAR_ENTITY, writes);
    return g;
  }

  /** Writes registers of one entity. Durable (committed with the clock) when it resolves. */
  write(doc: DocId, entity: EntityId, writes: readonly NewWrite[]): Promise<LocalOp> {
    return this.enqueue(() => local.write(this.core, doc, entity, writes));
  }

  /**
   * DAG-11: writes many entities of one calendar (one op each) as one store commit, all or none.
   * `step(done)` is awaited as the work advances (a host yields to its event loop there, so a
   * cancel can arrive); if it throws, or an op or the commit fails, nothing is kept: no op stored
   * or handed out, memory as before, no change event. Other calls wait.
   */
  writeBatch(
    doc: DocId,
    items: readonly { entity: EntityId; writes: readonly NewWrite[] }[],
    step?: (done: number) => void | Promise<void>,
  ): Promise<LocalOp[]> {
    return this.enqueue(() => local.writeBatch(this.core, doc, items, step));
  }

  /**
   * MEM-4, MEM-11: adds a device by the card it showed (`deviceCard` on that device: its keys and
   * its signature over its box key for this calendar); the keys this device holds are sealed for
   * the new one (KEY-5). `name`, if given, is sealed as the device's display name (DEV-1).
   */
  addMember(doc: DocId, card: DeviceCard, role: MemberRole = Role.Manager, name?: string): Promise<LocalOp> {
    return this.enqueue(() => local.addMember(this.core, doc, card, role, name));
  }

  /** MEM-11: this device's card for a calendar (it need not hold it yet), for a member to add it. */
  deviceCard(doc: DocId): Promise<DeviceCard> {
    return local.deviceCard(this.core, doc);
  }

  /**
   * ROLE-11: this device's sponsor card for a calendar: lets the member `sponsor` (32-byte key),
   * and no other, add it by a sponsored Add at a role no higher than the sponsor's.
   */
  sponsorCard(doc: DocId, sponsor: Uint8Array): Promise<DeviceCard> {
    return local.sponsorCard(this.core, doc, sponsor);
  }

  /** MEM-5: removes a device and introduces a key for the devices that remain (KEY-3). */
  /** ROLE-2: sets a member's role (this device must be a manager, ROLE-4). */
  setRole(doc: DocId, device: Uint8Array, role: MemberRole): Promise<LocalOp> {
    return this.enqueue(() => local.setRole(this.core, doc, device, role));
  }

  removeMember(doc: DocId, signingKey: Uint8Array): Promise<LocalOp> {
    return this.enqueue(() => local.removeMember(this.core, doc, signingKey));
  }

  /**
   * ROLE-13: removes a device as a person: with it, unless it is in this device's own sponsor
   * group, every other member of its sponsor group (ROLE-12), so devices it brought in leave with it.
   * All the Removes are committed together, or none.
   */
  removePerson(doc: DocId, device: DeviceId): Promise<LocalOp[]> {
    return this.enqueue(() => local.removePerson(this.core, doc, device));
  }

  /** MEM-7: introduces a fresh key for exactly the current members (and restates this device's box key). */
  rotateKey(doc: DocId): Promise<LocalOp> {
    return this.enqueue(() => local.rotateKey(this.core, doc));
  }

  /**
   * INV-1: an invite for one more device. Returns the op and the one-time secret to hand over
   * out of band (a link's URL fragment): whoever holds it may add one device until `expiresUs`.
   */
  createInvite(
    doc: DocId,
    expiresUs: number,
    role: MemberRole = Role.Manager,
  ): Promise<{ op: LocalOp; secret: Uint8Array }> {
    return this.enqueue(() => local.createInvite(this.core, doc, expiresUs, role));
  }

  /** INV-2: joins a calendar with an invite whose op is already on this replica. */
  joinWithInvite(doc: DocId, inviteOp: OpId, secret: Uint8Array): Promise<LocalOp> {
    return this.enqueue(() => local.joinWithInvite(this.core, doc, inviteOp, secret));
  }

  /**
   * DEV-1: the name this device seals into the ops that make it a member from now on (calendars
   * it creates, invites it accepts). Ops already written keep the name they were written with.
   */
  setDeviceName(name: string | undefined): void {
    this.core.deviceName = name;
  }

  /** KEY-9: adds a content key obtained out of band (kept across reloads); unlocks what it opens. */
  addKey(doc: DocId, keyId: KeyId, key: Uint8Array): Promise<void> {
    return this.enqueue(() => local.addKey(this.core, doc, keyId, key));
  }

  // -------------------------------------------------------------------------------------------
  // Snapshots (docs/PROTOCOL.md SNAP-*; the flows are in replica-snapshots.ts)

  /**
   * SNAP-2, SNAP-3: the snapshot plaintext of `doc` at `frontier` (default: this replica's heads),
   * naming `previous` (a snapshot hash, or nothing). Byte-identical on every replica holding the
   * frontier's past. `NoKey` while a covered op is locked; `InvalidArgument` when an op of the
   * frontier's past is not held here.
   */
  snapshot(
    doc: DocId,
    opts: { frontier?: readonly OpId[]; previous?: Uint8Array } = {},
  ): Promise<Uint8Array> {
    return this.enqueue(() => this.snaps.plaintext(doc, opts));
  }

  /**
   * SNAP-5: recomputes a snapshot `signer` signed and compares; a forged one is recorded as
   * evidence against the signer (`snapshotEvidence`).
   */
  verifySnapshot(doc: DocId, plain: Uint8Array, signer: DeviceId): Promise<SnapshotVerdict> {
    return this.enqueue(() => this.snaps.verify(doc, plain, signer));
  }

  /**
   * SNAP-6: starts a calendar from a snapshot plaintext instead of its history; the ops after it
   * then apply as SNAP-7 says. The caller decides the snapshot is trusted (SNAP-5's rule).
   * What it keeps of the snapshot is stored with the calendar (SNAP-11).
   */
  startFromSnapshot(plain: Uint8Array): Promise<DocId> {
    return this.enqueue(() => this.snaps.startPlain(plain));
  }

  /** SNAP-12: what holds pruning `doc` to the snapshot `plain` back here (changes nothing). */
  pruneStatus(doc: DocId, plain: Uint8Array): Promise<PruneStatus> {
    return this.enqueue(() => pruneStatus(this.core, doc, plain));
  }

  /** SNAP-12: deletes the ops the snapshot covers, except its anchors; one commit. Returns how many. */
  prune(doc: DocId, plain: Uint8Array): Promise<number> {
    return this.enqueue(() => prune(this.core, doc, plain));
  }

  /**
   * SNAP-17: what holds pruning `doc` to `frontier` back on this verify-only replica (the relay),
   * given each member's consent (its endorsement's chain position); changes nothing.
   */
  pruneUnreadStatus(
    doc: DocId,
    frontier: readonly OpId[],
    consent: ReadonlyMap<DeviceId, PruneConsent>,
  ): Promise<PruneStatus> {
    return this.enqueue(() => pruneUnreadStatus(this.core, doc, frontier, consent));
  }

  /** SNAP-17: deletes the ops `frontier` covers but its anchors, on a verify-only replica; one commit. */
  pruneUnread(
    doc: DocId,
    frontier: readonly OpId[],
    consent: ReadonlyMap<DeviceId, PruneConsent>,
  ): Promise<number> {
    return this.enqueue(() => pruneUnread(this.core, doc, frontier, consent));
  }

  /**
   * SNAP-7, SNAP-17: the snapshot frontier this calendar starts from (started from one or pruned
   * to one) and its version vector; undefined when it holds its history from genesis.
   */
  startsFrom(doc: DocId): { frontier: OpId[]; vv: Readonly<Record<string, number>> } | undefined {
    const b = this.core.bases.get(doc);
    return b === undefined ? undefined : { frontier: [...b.frontier].sort(), vv: b.vv };
  }

  /** SNAP-12: the frontiers endorsements in force here certify, newest first (what to prune to). */
  certifiedFrontiers(doc: DocId): Promise<OpId[][]> {
    return this.enqueue(() => this.snaps.certifiedFrontiers(doc));
  }

  /** SNAP-13: replaces `doc` by a snapshot covering everything held here (trusted by the caller). */
  rebase(doc: DocId, plain: Uint8Array): Promise<void> {
    return this.enqueue(() => rebase(this.core, doc, plain));
  }

  /**
   * SNAP-18: ops of `doc` this replica refused by SNAP-7 since it opened, started or re-based the
   * calendar (a replica with every op would apply them): more than 0 means this copy diverged, and
   * the host refills it beside it and re-bases (`scratch`, `rebaseFrom`).
   */
  snapshotRefusals(doc: DocId): number {
    return this.core.snapRefusals.get(doc) ?? 0;
  }

  /**
   * SNAP-22: stored endorsements of `doc` this replica cannot judge (it starts from a snapshot
   * that does not list them, and they may act on ops that snapshot covers): more than 0 means
   * this copy may differ from a replica with every op, and the host re-syncs it as for
   * `snapshotRefusals` (SNAP-18), onto a refill that judges them (SNAP-23). Found again from the
   * stored endorsements when the calendar is opened.
   */
  lateEndorsements(doc: DocId): number {
    return lateCount(this.core, doc);
  }

  /**
   * SNAP-18: an empty replica over a memory store with this device's keys and clock, to refill a
   * diverged calendar into from the relay (from its trusted snapshot, or its whole history).
   */
  scratch(): Replica {
    return new Replica(scratchCore(this.core));
  }

  /**
   * SNAP-18, SNAP-13: re-bases `doc` on the copy `scratch` refilled (its snapshot at its heads,
   * after it learned every content key this replica holds), in one store commit. Refused, nothing
   * changed, when the scratch lacks the calendar, refused ops itself, or does not cover everything
   * held here (SNAP-13: this device's own ops above all).
   */
  async rebaseFrom(doc: DocId, scratch: Replica): Promise<void> {
    const keys = this.core.mustDoc(doc).keys;
    const ends = endorsementsOf(this.core, doc);
    const plain = await scratch.enqueue(() => scratchPlaintext(scratch.core, doc, keys, ends));
    await this.enqueue(() => rebase(this.core, doc, plain));
  }

  /**
   * SNAP-9: seals the snapshot at this device's heads: the plaintext encrypted in chunks under the
   * content key KEY-4 picks at the frontier (rotating first when none qualifies, as a writer
   * does), and a manifest signed by this device. `previous`: the snapshot it follows (default:
   * the last one this replica sealed, endorsed or started from in this session).
   */
  sealSnapshot(doc: DocId, opts: { previous?: Uint8Array } = {}): Promise<SealedSnapshot> {
    return this.enqueue(() => this.snaps.seal(doc, opts.previous));
  }

  /**
   * SNAP-5, SNAP-9, SNAP-10: decrypts and recomputes a sealed snapshot; when it is what the ops
   * give, signs, stores and returns an endorsement at this device's chain position. A forgery is
   * recorded as evidence against its maker (`snapshotEvidence`) and the call fails (`Malformed`).
   */
  endorseSnapshot(manifest: Uint8Array, chunks: readonly Uint8Array[]): Promise<Uint8Array> {
    return this.enqueue(() => this.snaps.endorse(manifest, chunks));
  }

  /**
   * SNAP-10: stores an endorsement (signature checked) and puts its certification in force now,
   * or once this replica holds the ops it names (`pending`).
   */
  receiveEndorsement(bytes: Uint8Array): Promise<EndorsementStatus> {
    return this.enqueue(() => this.snaps.receive(bytes));
  }

  /**
   * SNAP-5, SNAP-9, SNAP-6: starts a calendar on this device from a sealed snapshot, trusted only
   * when signed by two distinct members at its frontier (its maker and an endorser), or by its
   * maker alone when it is the only member there. `keySources`: membership ops (signed bytes)
   * that give this device the snapshot's content key: its Add and what seals or chains keys for it.
   * `inviteSecrets`: a device joining by invite opens the keys its Invite op sealed (INV-1).
   */
  startFromSealed(
    manifest: Uint8Array,
    chunks: readonly Uint8Array[],
    endorsements: readonly Uint8Array[],
    keySources: readonly Uint8Array[] = [],
    inviteSecrets: readonly Uint8Array[] = [],
  ): Promise<DocId> {
    return this.enqueue(() =>
      this.snaps.startSealed(manifest, chunks, endorsements, keySources, inviteSecrets),
    );
  }

  /** SNAP-5: the forged snapshots this replica has seen for `doc`. */
  snapshotEvidence(doc: DocId): SnapshotEvidence[] {
    return this.snaps.evidence(doc);
  }

  // -------------------------------------------------------------------------------------------
  // Remote ops

  /** Applies one op from the wire. Never throws: failures come back as `rejected` with a typed error. */
  receive(bytes: Uint8Array): Promise<ApplyResult> {
    let op: OpenedOp;
    try {
      op = openOp(bytes);
    } catch (e) {
      return Promise.resolve({ status: 'rejected', error: toEngineError(e, 'Malformed', 'decoding op') });
    }
    // DAG-1: an op already applied is a duplicate, whatever envelope it came in.
    if (this.core.cached(op.id, op.doc) !== undefined)
      return Promise.resolve({ status: 'duplicate', id: op.id, doc: op.doc });
    // Verification starts now and runs concurrently with earlier ops' application.
    const verified = verifyOp(this.core.crypto, op);
    return this.enqueue(async () => {
      const spec = await this.speculate(op);
      const early = await this.admissible(op, verified, undefined);
      if (early !== undefined) return early;
      if (spec !== undefined && 'error' in spec) throw spec.error;
      const txn = spec?.txn ?? txnFor(this.core, op);
      const res = await applyWithWakeups(this.core, op, txn, spec?.res);
      const err = await commit(this.core, txn);
      if (err === undefined) await this.heal(membershipDocs(txn));
      if (err === undefined) await this.settle(txn.doc);
      return failed(res, err);
    }).catch((e: unknown) => rejected(op, toEngineError(e, 'Storage', 'applying op')));
  }

  /**
   * A Patch of a calendar held here is staged in a fresh transaction while its signature is
   * still being checked (on another thread), so one op awaited at a time costs little more than
   * its verification. Staging reads live state and changes none of it (txn.ts), so when the
   * signature fails the transaction is dropped: nothing was stored, published or asked for.
   * Nothing is committed, and no waiting op is woken, before the signature verified. Membership
   * ops (which may unlock or revoke history) are staged only after it.
   */
  private async speculate(
    op: OpenedOp,
  ): Promise<{ txn: Txn; res: ApplyResult } | { error: unknown } | undefined> {
    if (op.header.kind !== OpKind.Patch || !this.core.docs.has(op.doc)) return undefined;
    const txn = txnFor(this.core, op);
    try {
      return { txn, res: await applyOne(this.core, op, txn, false) };
    } catch (error) {
      // Reported only if the signature verifies (a forged op is BadSignature, whatever else).
      return { error };
    }
  }

  /**
   * DAG-7: applies many remote ops with one store commit per run of ops of one calendar (up to
   * 512), instead of one per op. Same results as receive() one by one; signatures are checked
   * concurrently. If a commit fails, every op of that run is rejected with Storage and memory is
   * as before the run. Never throws.
   */
  receiveBatch(list: readonly (Uint8Array | OpenedOp)[]): Promise<ApplyResult[]> {
    const opened: ({ op: OpenedOp } | { error: EngineError })[] = [];
    const verified: Promise<boolean>[] = [];
    const known = Promise.resolve(true);
    // Each signature check starts as soon as its op is parsed, so the other threads start
    // verifying while the rest of the batch is still being parsed here.
    for (const b of list) {
      let o: { op: OpenedOp } | { error: EngineError };
      // An OpenedOp from openOp() (a host that already parsed it for its own checks) is not parsed twice.
      if (!(b instanceof Uint8Array)) o = { op: b };
      else
        try {
          o = { op: openOp(b) };
        } catch (e) {
          o = { error: toEngineError(e, 'Malformed', 'decoding op') };
        }
      opened.push(o);
      verified.push(
        'op' in o && this.core.cached(o.op.id, o.op.doc) === undefined
          ? verifyOp(this.core.crypto, o.op)
          : known,
      );
    }
    return this.enqueue(async () => {
      const results: ApplyResult[] = [];
      let txn: Txn | undefined;
      let run: ApplyResult[] = [];
      const healing = new Set<DocId>();
      const flush = async () => {
        const err = txn === undefined ? undefined : await commit(this.core, txn);
        if (txn !== undefined && err === undefined) for (const d of membershipDocs(txn)) healing.add(d);
        for (let i = 0; i < run.length; i++) run[i] = failed(run[i]!, err);
        results.push(...run);
        txn = undefined;
        run = [];
      };
      for (let i = 0; i < opened.length; i++) {
        const o = opened[i]!;
        if ('error' in o) {
          await flush();
          results.push({ status: 'rejected', error: o.error });
          continue;
        }
        if (txn !== undefined && (txn.doc !== o.op.doc || txn.ops.length >= MAX_GROUP)) await flush();
        const early = await this.admissible(o.op, verified[i]!, txn);
        if (early !== undefined) {
          run.push(early);
          continue;
        }
        txn ??= txnFor(this.core, o.op);
        try {
          run.push(await applyWithWakeups(this.core, o.op, txn));
        } catch (e) {
          run.push(rejected(o.op, toEngineError(e, 'Storage', 'applying op')));
        }
      }
      await flush();
      await this.heal(healing);
      for (const d of new Set(opened.flatMap((o) => ('op' in o ? [o.op.doc] : [])))) await this.settle(d);
      return results;
    });
  }

  /** Signature, and DAG-4: an op of a calendar this replica does not hold is not kept. */
  private async admissible(
    op: OpenedOp,
    verified: Promise<boolean>,
    txn: Txn | undefined,
  ): Promise<ApplyResult | undefined> {
    if (!(await verified))
      return rejected(op, new EngineError('BadSignature', 'signature does not verify', op.id));
    const isGenesis = op.header.doc.length === 0;
    if (!isGenesis && !this.core.docs.has(op.doc) && txn?.doc !== op.doc)
      return rejected(op, new EngineError('UnknownDoc', 'the calendar is not on this replica', op.id));
    return undefined;
  }

  /**
   * KEY-10: where a membership change handed this device keys it cannot open, it restates its box
   * key and holdings with a Rotate (heal.ts). Runs on the queue, inside the caller's task. A
   * calendar whose Rotate failed (storage) is tried again before the next queued task.
   */
  private async heal(docs: Iterable<DocId>): Promise<void> {
    for (const doc of docs) {
      this.unhealed.delete(doc);
      if (!needsRestate(this.core, doc)) continue;
      try {
        await local.rotateKey(this.core, doc);
      } catch {
        this.unhealed.add(doc);
      }
    }
  }

  /** SNAP-10: waiting certifications whose ops just arrived are put in force (failures wait). */
  private async settle(doc: DocId): Promise<void> {
    if (!this.core.pendingCerts.has(doc)) return;
    await settle(this.core, doc).catch(() => undefined);
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const task = async () => {
      if (this.unhealed.size > 0) await this.heal([...this.unhealed]);
      return fn();
    };
    const run = this.queue.then(task, task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Calendars where a transaction applied a membership op. */
function membershipDocs(txn: Txn): DocId[] {
  return txn.events.some((e) => e.membershipChanged) ? [txn.doc] : [];
}

/** A result made void by a failed commit: it did not happen. */
function failed(res: ApplyResult, err: EngineError | undefined): ApplyResult {
  if (err === undefined || (res.status !== 'applied' && res.status !== 'pending')) return res;
  return { ...res, status: 'rejected', error: err };
}

function hexBytes(h: string): Uint8Array {
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(i * 2, i * 2 + 2), 16);
  return out;
}
