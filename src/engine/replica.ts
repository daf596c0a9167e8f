// A replica of the calendars one device (or the relay) holds: applies local and remote ops under
// the validity rules of docs/PROTOCOL.md, gates them on their causal past, keeps the registers
// materialized incrementally, and persists every change as one atomic store commit.
//
// Invariants:
// - In-memory state changes only after the store commit for that change has succeeded.
// - All mutations run one at a time on `queue`; signature checks run ahead of it concurrently.
// - Validity of an op depends only on the op and its causal past, so every replica decides alike.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bytesEqual, concatBytes, fromHex, fromUtf8, toHex, utf8 } from './bytes.ts';
import { isValidWrite, SCHEMA_VERSION } from './calendar.ts';
import {
  decodeMembership,
  decodePatch,
  encodeMembership,
  encodePatch,
  type FieldWriteValue,
  type MembershipBody,
  MembershipKind,
  type WrappedKeyValue,
} from './codec.ts';
import type { CryptoProvider, Signer } from './crypto.ts';
import { EngineError, toEngineError } from './errors.ts';
import { TAG_ROOT, taggedHash } from './hash.ts';
import {
  CALENDAR_ENTITY,
  type DeviceId,
  type DocId,
  type EntityId,
  isEntityId,
  type KeyId,
  type OpId,
} from './ids.ts';
import { INVITE_PROOF_BYTES, inviteKeys, inviteMessage, inviteProof, signInvite } from './invite.ts';
import { mergeWrite } from './lww.ts';
import { type MemberInfo, MembershipIndex, type MembershipOp } from './membership.ts';
import {
  createOp,
  decryptBody,
  docIdFromGenesis,
  keyIdFromOp,
  type OpenedOp,
  openOp,
  prepareOp,
  verifyOp,
} from './op.ts';
import { type BoxKeyPair, openSealed, seal } from './seal.ts';
import {
  type BodyState,
  type CommitBatch,
  type DocRecord,
  type EngineStore,
  type EntityRecord,
  type EquivocationRecord,
  OpKind,
  type OpRecord,
  type PendingRecord,
  type WriteRecord,
} from './store.ts';

export interface DeviceKeys {
  signer: Signer;
  box: BoxKeyPair;
}

export interface ReplicaOptions {
  store: EngineStore;
  crypto: CryptoProvider;
  /** Microseconds since the Unix epoch. */
  nowUs: () => number;
  random: (n: number) => Uint8Array;
  /** This device's keys. Absent for a verify-only replica (the relay): it decrypts nothing. */
  device?: DeviceKeys;
  /** DAG-4: most ops waiting for parents per calendar. */
  pendingLimit?: number;
  /** This device's display name, sealed for members in the ops that make it a member (DEV-1). */
  deviceName?: string;
  /** Op metadata kept in memory (default 200,000); older entries are re-read from the store. */
  metaCacheLimit?: number;
}

export type ApplyStatus = 'applied' | 'duplicate' | 'pending' | 'rejected';

export interface ApplyResult {
  status: ApplyStatus;
  id?: OpId;
  doc?: DocId;
  error?: EngineError;
}

export interface LocalOp {
  id: OpId;
  doc: DocId;
  bytes: Uint8Array;
}

export interface ChangeEvent {
  doc: DocId;
  /** Entities whose registers changed. */
  entities: EntityId[];
  /** Ops newly applied, in apply order. */
  ops: OpId[];
  membershipChanged: boolean;
}

export interface NewWrite {
  field: number;
  value: Uint8Array | null;
}

/** What the replica remembers about an applied op without its bytes. */
interface OpMeta {
  doc: DocId;
  author: DeviceId;
  ctr: number;
  wallTime: number;
  vv: Record<string, number>;
  mfront: OpId[];
}

interface DocState {
  rec: DocRecord;
  entities: Map<EntityId, EntityRecord>;
  membership: MembershipIndex;
  keys: Map<KeyId, Uint8Array>;
  evidence: EquivocationRecord[];
}

interface PendingOp {
  op: OpenedOp;
  missing: Set<OpId>;
}

/** Ops applied in memory but not yet committed, with how to undo them if the commit fails. */
interface Group {
  doc: DocId;
  batch: CommitBatch & { ops: OpRecord[] };
  entities: Map<EntityId, EntityRecord>;
  undo: (() => void)[];
  results: ApplyResult[];
  events: ChangeEvent[];
  /** author:ctr -> ids in this group, for equivocation checks the store cannot answer yet. */
  chain: Map<string, OpId[]>;
}

/** Most ops committed together by receiveBatch. */
const MAX_GROUP = 512;

export const DEFAULT_PENDING_LIMIT = 5000;
const TAG_NAME = utf8('ledgerday/device-name/v1\0');
/** In a sealed device name: the key introduced by the op itself (genesis). */
const THIS_OP_KEY = new Uint8Array(8);
const META_CACHE_LIMIT = 200_000;

/** Validates a local write list (fields in range, each once, values valid); returns it sorted. */
function checkWrites(entity: EntityId, writes: readonly NewWrite[]): FieldWriteValue[] {
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
  return sorted.map((w) => ({ field: w.field, value: w.value }));
}

export class Replica {
  readonly deviceId: DeviceId | undefined;
  private readonly store: EngineStore;
  private readonly crypto: CryptoProvider;
  private readonly nowUs: () => number;
  private readonly random: (n: number) => Uint8Array;
  private readonly device: DeviceKeys | undefined;
  private readonly pendingLimit: number;
  private deviceName: string | undefined;
  private readonly metaCacheLimit: number;
  private readonly docs = new Map<DocId, DocState>();
  private readonly meta = new Map<OpId, OpMeta>();
  private readonly pending = new Map<OpId, PendingOp>();
  private readonly waiters = new Map<OpId, Set<OpId>>();
  private readonly listeners = new Set<(e: ChangeEvent) => void>();
  private queue: Promise<unknown> = Promise.resolve();
  private clock = 0;
  /** Set while receiveBatch runs: remote ops of one calendar are committed together (DAG-7). */
  private grouping = false;
  private group: Group | undefined;
  /** Set while writeBatch runs: local ops join the group too, committed all or none (DAG-8). */
  private localBatch = false;

  private constructor(opts: ReplicaOptions) {
    this.store = opts.store;
    this.crypto = opts.crypto;
    this.nowUs = opts.nowUs;
    this.random = opts.random;
    this.device = opts.device;
    this.pendingLimit = opts.pendingLimit ?? DEFAULT_PENDING_LIMIT;
    this.deviceName = opts.deviceName;
    this.metaCacheLimit = opts.metaCacheLimit ?? META_CACHE_LIMIT;
    this.deviceId = opts.device === undefined ? undefined : (toHex(opts.device.signer.publicKey) as DeviceId);
  }

  /** Opens a replica over a store: loads the clock and every calendar's materialized state. */
  static async open(opts: ReplicaOptions): Promise<Replica> {
    const r = new Replica(opts);
    try {
      r.clock = await opts.store.loadClock();
      for (const doc of await opts.store.listDocs()) await r.loadDoc(doc);
    } catch (e) {
      throw toEngineError(e, 'Storage', 'opening the replica');
    }
    return r;
  }

  get cryptoName(): string {
    return this.crypto.name;
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  listDocs(): DocId[] {
    return [...this.docs.keys()];
  }

  hasDoc(doc: DocId): boolean {
    return this.docs.has(doc);
  }

  heads(doc: DocId): OpId[] {
    return [...(this.docs.get(doc)?.rec.heads ?? [])];
  }

  /** DAG-5: the Merkle root of a calendar = SHA-256(TAG_ROOT || sorted head ids). */
  root(doc: DocId): string {
    const heads = this.heads(doc).sort();
    return toHex(taggedHash(TAG_ROOT, ...heads.map(fromHex)));
  }

  /** Highest sequence number applied in a calendar on this replica. */
  seq(doc: DocId): number {
    return this.docs.get(doc)?.rec.seq ?? 0;
  }

  entity(doc: DocId, entity: EntityId): EntityRecord | undefined {
    return this.docs.get(doc)?.entities.get(entity);
  }

  entities(doc: DocId): EntityRecord[] {
    return [...(this.docs.get(doc)?.entities.values() ?? [])];
  }

  members(doc: DocId): Map<DeviceId, MemberInfo> {
    const st = this.docs.get(doc);
    if (st === undefined) return new Map();
    return st.membership.membersAt(this.headFront(st));
  }

  evidence(doc: DocId): EquivocationRecord[] {
    return [...(this.docs.get(doc)?.evidence ?? [])];
  }

  pendingCount(doc?: DocId): number {
    if (doc === undefined) return this.pending.size;
    let n = 0;
    for (const p of this.pending.values()) if (p.op.doc === doc) n++;
    return n;
  }

  /** Ids that pending ops of a calendar wait for: what sync should fetch (DAG-3). */
  missing(doc: DocId): OpId[] {
    const out = new Set<OpId>();
    for (const p of this.pending.values()) if (p.op.doc === doc) for (const m of p.missing) out.add(m);
    return [...out];
  }

  async getOps(doc: DocId, ids: readonly OpId[]): Promise<(OpRecord | undefined)[]> {
    try {
      return await this.store.getOps(doc, ids);
    } catch (e) {
      throw toEngineError(e, 'Storage', 'reading ops');
    }
  }

  async listOps(doc: DocId, afterSeq: number, limit: number): Promise<OpRecord[]> {
    try {
      return await this.store.listOps(doc, afterSeq, limit);
    } catch (e) {
      throw toEngineError(e, 'Storage', 'listing ops');
    }
  }

  onChange(cb: (e: ChangeEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Resolves when every queued mutation has finished. */
  idle(): Promise<void> {
    return this.queue.then(
      () => undefined,
      () => undefined,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Local writes

  /** Creates a calendar: a genesis op naming this device, with a fresh content key sealed for it. */
  createCalendar(props?: { name?: string; color?: string }): Promise<LocalOp> {
    return this.enqueue(async () => {
      const dev = this.mustDevice();
      const contentKey = this.random(32);
      const body: MembershipBody = {
        kind: MembershipKind.Genesis,
        subject: dev.signer.publicKey,
        subjectBox: dev.box.publicKey,
        keys: [
          {
            recipient: dev.signer.publicKey,
            keyId: new Uint8Array(0),
            sealed: seal(dev.box.publicKey, contentKey, this.random),
          },
        ],
        invite: new Uint8Array(0),
        sealed: this.sealName(dev.signer.publicKey, { id: THIS_OP_KEY, key: contentKey }),
        expires: 0,
      };
      const wallTime = Math.max(this.nowUs(), this.clock + 1);
      const op = await createOp(dev.signer, this.random, {
        doc: new Uint8Array(0),
        ctr: 1,
        kind: OpKind.Membership,
        schema: SCHEMA_VERSION,
        wallTime,
        prev: new Uint8Array(0),
        parents: [],
        body: encodeMembership(body),
      });
      const res = await this.applyOpened(op, { clock: wallTime });
      if (res.status !== 'applied')
        throw res.error ?? new EngineError('InvalidArgument', 'genesis not applied');
      const local: LocalOp = { id: op.id, doc: docIdFromGenesis(op.id), bytes: op.bytes };
      return local;
    }).then(async (g) => {
      const writes: NewWrite[] = [];
      const enc = new TextEncoder();
      if (props?.name !== undefined) writes.push({ field: 1, value: enc.encode(props.name) });
      if (props?.color !== undefined) writes.push({ field: 2, value: enc.encode(props.color) });
      if (writes.length > 0) await this.write(g.doc, CALENDAR_ENTITY, writes);
      return g;
    });
  }

  /** Writes registers of one entity. Durable (committed with the clock) when it resolves. */
  write(doc: DocId, entity: EntityId, writes: readonly NewWrite[]): Promise<LocalOp> {
    return this.enqueue(async () => {
      const plain = checkWrites(entity, writes);
      const st = this.mustDoc(doc);
      const key = this.writeKey(st);
      if (key === undefined)
        throw new EngineError('NoKey', 'no content key for this calendar on this device');
      return this.localOp(st, OpKind.Patch, encodePatch({ entity: fromHex(entity), writes: plain }), key);
    });
  }

  /**
   * DAG-8: writes many entities of one calendar (one op each) as one store commit, all or none.
   * `step(done)` runs as the work advances (done grows from 0 to n-1) and is awaited (a host
   * yields to its event loop there, so a cancel can arrive: applying is otherwise all in memory); if it throws (a cancel), or an op or the commit fails, nothing
   * is kept: no op stored or handed out, memory as before, no change event. Other calls wait.
   */
  writeBatch(
    doc: DocId,
    items: readonly { entity: EntityId; writes: readonly NewWrite[] }[],
    step?: (done: number) => void | Promise<void>,
  ): Promise<LocalOp[]> {
    return this.enqueue(async () => {
      const bodies = items.map((it) => {
        const plain = checkWrites(it.entity, it.writes);
        return encodePatch({ entity: fromHex(it.entity), writes: plain });
      });
      const st = this.mustDoc(doc);
      const key = this.writeKey(st);
      if (key === undefined)
        throw new EngineError('NoKey', 'no content key for this calendar on this device');
      if (this.group !== undefined) await this.flushGroup();
      this.grouping = true;
      this.localBatch = true;
      try {
        // Progress counts each op twice (signed, applied): `step` sees 0..n-1 across both halves.
        const n = bodies.length;
        const signed = await this.signBatch(st, bodies, key, step && ((done) => step(Math.floor(done / 2))));
        const out: LocalOp[] = [];
        for (const [i, { op, wallTime }] of signed.entries()) {
          await step?.(Math.floor((n + i) / 2));
          const res = await this.applyOpened(op, { clock: wallTime });
          if (res.status !== 'applied')
            throw res.error ?? new EngineError('InvalidArgument', `local op ${res.status}`);
          out.push({ id: op.id, doc: op.doc, bytes: op.bytes });
        }
        const g = this.group as Group | undefined;
        await this.flushGroup();
        const failed = g?.results.find((r) => r.status === 'rejected');
        if (failed !== undefined) throw failed.error ?? new EngineError('Storage', 'batch not committed');
        return out;
      } catch (e) {
        this.discardGroup();
        throw e;
      } finally {
        this.grouping = false;
        this.localBatch = false;
      }
    });
  }

  /**
   * The ops of a batch, chained as localOp would chain them one by one (each names the previous as
   * `prev`, the first also the other heads; wall times strictly increase, CLK-1), signed with up
   * to 32 signatures in flight: an op's id is its header's digest, so the next header needs the
   * previous id, not its signature (measured: signing one at a time left the thread idle ~half
   * the time).
   */
  private async signBatch(
    st: DocState,
    bodies: Uint8Array[],
    key: { id: KeyId; key: Uint8Array },
    step: ((done: number) => void | Promise<void>) | undefined,
  ): Promise<{ op: OpenedOp; wallTime: number }[]> {
    const dev = this.mustDevice();
    if (!this.members(st.rec.doc).has(this.deviceId!))
      throw new EngineError('NotMember', 'this device is not a member of the calendar');
    const headMetas = await this.metas(st.rec.doc, st.rec.heads);
    let maxParent = 0;
    for (const m of headMetas) if (m !== undefined && m.wallTime > maxParent) maxParent = m.wallTime;
    let wallTime = Math.max(this.nowUs(), this.clock + 1, maxParent + 1);
    let prev: Uint8Array = st.rec.ownLast === null ? new Uint8Array(0) : fromHex(st.rec.ownLast);
    let parents = st.rec.heads.filter((h) => h !== st.rec.ownLast).map(fromHex);
    const prepared = bodies.map((body, i) => {
      const p = prepareOp(dev.signer.publicKey, this.random, {
        doc: fromHex(st.rec.doc),
        ctr: st.rec.ownCtr + i + 1,
        kind: OpKind.Patch,
        schema: SCHEMA_VERSION,
        wallTime,
        prev,
        parents,
        body,
        key: { id: fromHex(key.id), key: key.key },
      });
      prev = p.digest;
      parents = [];
      return { p, wallTime: wallTime++ };
    });
    const sigs: Uint8Array[] = new Array(prepared.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < prepared.length) {
        const i = next++;
        await step?.(done);
        sigs[i] = await dev.signer.sign(prepared[i]!.p.digest);
        done++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(32, prepared.length) }, worker));
    return prepared.map(({ p, wallTime: w }, i) => ({ op: p.finish(sigs[i]!), wallTime: w }));
  }

  /** MEM-4: adds a device; every content key this device holds is sealed for the new one. */
  addMember(doc: DocId, signingKey: Uint8Array, boxKey: Uint8Array): Promise<LocalOp> {
    return this.enqueue(async () => {
      if (signingKey.length !== 32 || boxKey.length !== 32)
        throw new EngineError('InvalidArgument', 'keys must be 32 bytes');
      const st = this.mustDoc(doc);
      const keys: WrappedKeyValue[] = [...st.keys].map(([id, k]) => ({
        recipient: signingKey,
        keyId: fromHex(id),
        sealed: seal(boxKey, k, this.random),
      }));
      const body: MembershipBody = {
        kind: MembershipKind.Add,
        subject: signingKey,
        subjectBox: boxKey,
        keys,
        invite: new Uint8Array(0),
        sealed: new Uint8Array(0),
        expires: 0,
      };
      return this.localOp(st, OpKind.Membership, encodeMembership(body), undefined);
    });
  }

  /** MEM-5: removes a device and rotates the content key for the devices that remain (KEY-3). */
  removeMember(doc: DocId, signingKey: Uint8Array): Promise<LocalOp> {
    return this.enqueue(async () => {
      const st = this.mustDoc(doc);
      const removed = toHex(signingKey) as DeviceId;
      const members = st.membership.membersAt(this.headFront(st));
      if (!members.has(removed)) throw new EngineError('InvalidArgument', 'not a member');
      const fresh = this.random(32);
      const keys: WrappedKeyValue[] = [];
      for (const m of members.values()) {
        if (m.device === removed || m.box.length !== 32) continue;
        keys.push({
          recipient: fromHex(m.device),
          keyId: new Uint8Array(0),
          sealed: seal(m.box, fresh, this.random),
        });
      }
      const body: MembershipBody = {
        kind: MembershipKind.Remove,
        subject: signingKey,
        subjectBox: new Uint8Array(0),
        keys,
        invite: new Uint8Array(0),
        sealed: new Uint8Array(0),
        expires: 0,
      };
      return this.localOp(st, OpKind.Membership, encodeMembership(body), undefined);
    });
  }

  /**
   * INV-1: an invite for one more device. Returns the op and the one-time secret to hand over
   * out of band (a link's URL fragment): whoever holds it may add one device until `expiresUs`.
   */
  createInvite(doc: DocId, expiresUs: number): Promise<{ op: LocalOp; secret: Uint8Array }> {
    return this.enqueue(async () => {
      const st = this.mustDoc(doc);
      if (!Number.isSafeInteger(expiresUs) || expiresUs <= this.nowUs()) {
        throw new EngineError('InvalidArgument', 'an invite must expire in the future');
      }
      const secret = this.random(32);
      const ik = inviteKeys(secret);
      const keys: WrappedKeyValue[] = [...st.keys].map(([id, k]) => ({
        recipient: ik.publicKey,
        keyId: fromHex(id),
        sealed: seal(ik.box.publicKey, k, this.random),
      }));
      const body: MembershipBody = {
        kind: MembershipKind.Invite,
        subject: ik.publicKey,
        subjectBox: ik.box.publicKey,
        keys,
        invite: new Uint8Array(0),
        sealed: new Uint8Array(0),
        expires: expiresUs,
      };
      const op = await this.localOp(st, OpKind.Membership, encodeMembership(body), undefined);
      return { op, secret };
    });
  }

  /**
   * INV-2: joins a calendar with an invite. The calendar's ops up to the invite must already be
   * on this replica (sync fetches them). Opens the content keys sealed for the invite, then
   * writes an Add of this device proven by the invite key, sealing the keys for itself.
   */
  joinWithInvite(doc: DocId, inviteOp: OpId, secret: Uint8Array): Promise<LocalOp> {
    return this.enqueue(async () => {
      const dev = this.mustDevice();
      const st = this.mustDoc(doc);
      const inv = st.membership.ops.get(inviteOp);
      const ik = inviteKeys(secret);
      if (inv === undefined || inv.body.kind !== MembershipKind.Invite) {
        throw new EngineError('InviteInvalid', 'no such invite in this calendar');
      }
      if (!bytesEqual(inv.body.subject, ik.publicKey))
        throw new EngineError('InviteInvalid', 'wrong invite secret');
      const opened = new Map<KeyId, Uint8Array>();
      for (const k of inv.body.keys) {
        const key = openSealed(ik.box, k.sealed);
        if (key !== null && key.length === 32)
          opened.set(k.keyId.length === 0 ? keyIdFromOp(inv.id) : (toHex(k.keyId) as KeyId), key);
      }
      const keys: WrappedKeyValue[] = [...opened].map(([id, k]) => ({
        recipient: dev.signer.publicKey,
        keyId: fromHex(id),
        sealed: seal(dev.box.publicKey, k, this.random),
      }));
      const message = inviteMessage(fromHex(doc), fromHex(inviteOp), dev.signer.publicKey, dev.box.publicKey);
      const current = [...opened].find(([id]) => id === this.writeKeyIn(st, opened)?.id);
      const body: MembershipBody = {
        kind: MembershipKind.Add,
        subject: dev.signer.publicKey,
        subjectBox: dev.box.publicKey,
        keys,
        invite: inviteProof(fromHex(inviteOp), signInvite(secret, message)),
        sealed:
          current === undefined
            ? new Uint8Array(0)
            : this.sealName(dev.signer.publicKey, { id: fromHex(current[0]), key: current[1] }),
        expires: 0,
      };
      return this.localOp(st, OpKind.Membership, encodeMembership(body), undefined, true);
    });
  }

  /**
   * DEV-1: the name this device seals into the ops that make it a member from now on (calendars
   * it creates, invites it accepts). Ops already written keep the name they were written with.
   */
  setDeviceName(name: string | undefined): void {
    this.deviceName = name;
  }

  /** DEV-1: a member device's display name, when it sealed one and this device holds the key. */
  memberName(doc: DocId, device: DeviceId): string | undefined {
    const st = this.docs.get(doc);
    const m = this.members(doc).get(device);
    if (st === undefined || m === undefined) return undefined;
    const op = st.membership.ops.get(m.addedBy);
    const sealed = op?.body.sealed;
    if (op === undefined || sealed === undefined || sealed.length < 8 + 24 + 16) return undefined;
    const kid = sealed.subarray(0, 8);
    const keyId = kid.every((b) => b === 0) ? keyIdFromOp(op.id) : (toHex(kid) as KeyId);
    const key = st.keys.get(keyId);
    if (key === undefined) return undefined;
    try {
      const aad = taggedHash(TAG_NAME, op.body.subject);
      return fromUtf8(xchacha20poly1305(key, sealed.subarray(8, 32), aad).decrypt(sealed.subarray(32)));
    } catch {
      return undefined;
    }
  }

  private sealName(subject: Uint8Array, key: { id: Uint8Array; key: Uint8Array }): Uint8Array {
    if (this.deviceName === undefined || this.deviceName === '') return new Uint8Array(0);
    const nonce = this.random(24);
    const ct = xchacha20poly1305(key.key, nonce, taggedHash(TAG_NAME, subject)).encrypt(
      utf8(this.deviceName.slice(0, 100)),
    );
    return concatBytes(key.id, nonce, ct);
  }

  /** The key KEY-4 picks among `keys` (used before they are stored). */
  private writeKeyIn(st: DocState, keys: Map<KeyId, Uint8Array>): { id: KeyId } | undefined {
    const saved = st.keys;
    st.keys = keys;
    try {
      return this.writeKey(st);
    } finally {
      st.keys = saved;
    }
  }

  private async localOp(
    st: DocState,
    kind: OpKind,
    body: Uint8Array,
    key: { id: KeyId; key: Uint8Array } | undefined,
    joining = false,
  ): Promise<LocalOp> {
    const dev = this.mustDevice();
    if (!joining && !this.members(st.rec.doc).has(this.deviceId!)) {
      throw new EngineError('NotMember', 'this device is not a member of the calendar');
    }
    const heads = st.rec.heads;
    const headMetas = await this.metas(st.rec.doc, heads);
    let maxParent = 0;
    for (const m of headMetas) if (m !== undefined && m.wallTime > maxParent) maxParent = m.wallTime;
    // CLK-1: strictly after the device's last stamp and after everything it has seen.
    const wallTime = Math.max(this.nowUs(), this.clock + 1, maxParent + 1);
    const prev = st.rec.ownLast;
    const op = await createOp(dev.signer, this.random, {
      doc: fromHex(st.rec.doc),
      ctr: st.rec.ownCtr + 1,
      kind,
      schema: SCHEMA_VERSION,
      wallTime,
      prev: prev === null ? new Uint8Array(0) : fromHex(prev),
      parents: heads.filter((h) => h !== prev).map(fromHex),
      body,
      ...(key === undefined ? {} : { key: { id: fromHex(key.id), key: key.key } }),
    });
    const res = await this.applyOpened(op, { clock: wallTime });
    if (res.status !== 'applied')
      throw res.error ?? new EngineError('InvalidArgument', `local op ${res.status}`);
    return { id: op.id, doc: op.doc, bytes: op.bytes };
  }

  /** Adds a content key obtained out of band, then applies ops that were waiting for it. */
  addKey(doc: DocId, keyId: KeyId, key: Uint8Array): Promise<void> {
    return this.enqueue(async () => {
      const st = this.mustDoc(doc);
      if (key.length !== 32) throw new EngineError('InvalidArgument', 'content keys are 32 bytes');
      st.keys.set(keyId, key);
      await this.retryLocked(st);
    });
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
    if (this.meta.get(op.id)?.doc === op.doc)
      return Promise.resolve({ status: 'duplicate', id: op.id, doc: op.doc });
    // Verification starts now and runs concurrently with earlier ops' application.
    const verified = verifyOp(this.crypto, op);
    return this.enqueue(async () => {
      if (!(await verified))
        return {
          status: 'rejected',
          id: op.id,
          doc: op.doc,
          error: new EngineError('BadSignature', 'signature does not verify', op.id),
        } as ApplyResult;
      return this.applyOpened(op, {});
    }).catch((e: unknown) => ({
      status: 'rejected',
      id: op.id,
      doc: op.doc,
      error: toEngineError(e, 'Storage', 'applying op'),
    }));
  }

  /**
   * DAG-7: applies many remote ops with one store commit per run of ops of one calendar (up to
   * 512), instead of one per op. Same results as receive() one by one; signatures are checked
   * concurrently. If a commit fails, every op of that run is rejected with Storage and memory is
   * rolled back to before the run. Never throws.
   */
  receiveBatch(list: readonly (Uint8Array | OpenedOp)[]): Promise<ApplyResult[]> {
    const opened = list.map((b): { op: OpenedOp } | { error: EngineError } => {
      // An OpenedOp from openOp() (a host that already parsed it for its own checks) is not parsed twice.
      if (!(b instanceof Uint8Array)) return { op: b };
      try {
        return { op: openOp(b) };
      } catch (e) {
        return { error: toEngineError(e, 'Malformed', 'decoding op') };
      }
    });
    const verified = opened.map((o) =>
      'op' in o && this.meta.get(o.op.id)?.doc !== o.op.doc
        ? verifyOp(this.crypto, o.op)
        : Promise.resolve(true),
    );
    return this.enqueue(async () => {
      const results: ApplyResult[] = [];
      this.grouping = true;
      try {
        for (let i = 0; i < opened.length; i++) {
          const o = opened[i]!;
          if ('error' in o) {
            results.push({ status: 'rejected', error: o.error });
            continue;
          }
          const base = { id: o.op.id, doc: o.op.doc };
          if (!(await verified[i])) {
            results.push({
              status: 'rejected',
              ...base,
              error: new EngineError('BadSignature', 'signature does not verify', o.op.id),
            });
            continue;
          }
          try {
            results.push(await this.applyOpened(o.op, {}));
          } catch (e) {
            results.push({ status: 'rejected', ...base, error: toEngineError(e, 'Storage', 'applying op') });
          }
        }
        await this.flushGroup();
      } finally {
        this.grouping = false;
        await this.flushGroup();
      }
      return results;
    });
  }

  /** Commits the pending group; on failure undoes its memory changes and rejects its ops. */
  private async flushGroup(): Promise<void> {
    const g = this.group;
    this.group = undefined;
    if (g === undefined || g.batch.ops.length === 0) return;
    g.batch.entities = [...g.entities.values()];
    try {
      await this.store.commit(g.batch);
    } catch (e) {
      for (const u of g.undo.reverse()) u();
      const error = toEngineError(e, 'Storage', 'committing a batch of ops');
      for (const r of g.results) {
        r.status = 'rejected';
        r.error = error;
      }
      return;
    }
    if (g.batch.clock !== undefined) this.clock = Math.max(this.clock, g.batch.clock);
    for (const ev of g.events) this.emit(ev);
  }

  /** Drops the pending group uncommitted: memory back to before it (DAG-8 cancel). */
  private discardGroup(): void {
    const g = this.group;
    this.group = undefined;
    if (g !== undefined) for (const u of g.undo.reverse()) u();
  }

  // -------------------------------------------------------------------------------------------
  // Core

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private mustDevice(): DeviceKeys {
    if (this.device === undefined)
      throw new EngineError('InvalidArgument', 'a verify-only replica cannot write');
    return this.device;
  }

  private mustDoc(doc: DocId): DocState {
    const st = this.docs.get(doc);
    if (st === undefined) throw new EngineError('UnknownDoc', `calendar ${doc} is not on this replica`);
    return st;
  }

  private headFront(st: DocState): OpId[] {
    const fronts: OpId[] = [];
    for (const h of st.rec.heads) fronts.push(...(this.meta.get(h)?.mfront ?? []));
    return st.membership.maximal(fronts);
  }

  /** KEY-4: writers use the newest key (by wall time, then id) introduced in their causal past that they hold. */
  private writeKey(st: DocState): { id: KeyId; key: Uint8Array } | undefined {
    const closure = st.membership.closure(this.headFront(st));
    let best: MembershipOp | undefined;
    for (const id of closure) {
      const op = st.membership.ops.get(id);
      if (op === undefined || !st.keys.has(keyIdFromOp(op.id))) continue;
      if (
        best === undefined ||
        op.wallTime > best.wallTime ||
        (op.wallTime === best.wallTime && op.id > best.id)
      )
        best = op;
    }
    if (best !== undefined) return { id: keyIdFromOp(best.id), key: st.keys.get(keyIdFromOp(best.id))! };
    // Keys added out of band (addKey) with no introducing op on this replica.
    const any = [...st.keys].sort(([a], [b]) => (a < b ? -1 : 1)).at(-1);
    return any === undefined ? undefined : { id: any[0], key: any[1] };
  }

  /** Metadata of ops by id: from memory, else from the calendar's log in the store. */
  private async metas(doc: DocId, ids: readonly OpId[]): Promise<(OpMeta | undefined)[]> {
    const out: (OpMeta | undefined)[] = ids.map((id) => this.meta.get(id));
    const missing = ids.filter((_, i) => out[i] === undefined);
    if (missing.length === 0) return out;
    const recs = await this.store.getOps(doc, missing);
    for (const r of recs) if (r !== undefined) this.remember(r.id, metaOf(r));
    return ids.map((id) => this.meta.get(id));
  }

  private remember(id: OpId, m: OpMeta): void {
    if (this.meta.size >= this.metaCacheLimit) {
      // Heads' metadata must stay: membership and write keys are read from the heads' mfront.
      const keep: [OpId, OpMeta][] = [];
      for (const st of this.docs.values()) {
        for (const h of st.rec.heads) {
          const hm = this.meta.get(h);
          if (hm !== undefined) keep.push([h, hm]);
        }
      }
      // So must the ops of an uncommitted group: the store cannot answer for them yet.
      for (const o of this.group?.batch.ops ?? []) {
        const om = this.meta.get(o.id);
        if (om !== undefined) keep.push([o.id, om]);
      }
      this.meta.clear();
      for (const [h, hm] of keep) this.meta.set(h, hm);
    }
    this.meta.set(id, m);
  }

  private async loadDoc(doc: DocId): Promise<void> {
    const loaded = await this.store.loadDoc(doc);
    if (loaded === undefined) return;
    const st: DocState = {
      rec: loaded.doc,
      entities: new Map(loaded.entities.map((e) => [e.entity, e])),
      membership: new MembershipIndex(),
      keys: new Map(),
      evidence: loaded.evidence,
    };
    // Membership ops in seq order (a topological order): rebuild the index and our keys.
    const mops = [...loaded.membership].sort((a, b) => a.seq - b.seq);
    for (const r of mops) {
      this.remember(r.id, metaOf(r));
      const op = openOp(r.bytes);
      const body = decodeMembership(op.env.body);
      const predFront: OpId[] = [];
      for (const p of [...op.parents, ...(op.prev === null ? [] : [op.prev])]) {
        const m = (await this.metas(doc, [p]))[0];
        if (m !== undefined) predFront.push(...m.mfront);
      }
      st.membership.add(this.membershipOp(op, body, st.membership.closure(st.membership.maximal(predFront))));
      for (const [k, v] of this.unsealKeys(op, body)) st.keys.set(k, v);
    }
    for (const h of loaded.doc.heads) {
      const [r] = await this.store.getOps(doc, [h]);
      if (r !== undefined) this.remember(r.id, metaOf(r));
    }
    this.docs.set(doc, st);
    // Pending ops come from storage: check them again as if they had just arrived.
    for (const p of loaded.pending) {
      try {
        const op = openOp(p.bytes);
        if (op.id === p.id && (await verifyOp(this.crypto, op))) {
          this.pending.set(op.id, { op, missing: new Set(p.missing) });
          for (const m of p.missing) addTo(this.waiters, m, op.id);
          continue;
        }
      } catch {
        // dropped below
      }
      await this.store.commit({ doc, pendingRemove: [p.id] });
    }
  }

  private membershipOp(op: OpenedOp, body: MembershipBody, ancestors: Set<OpId>): MembershipOp {
    return {
      id: op.id,
      author: op.author,
      wallTime: op.header.wallTime,
      body,
      subject: toHex(body.subject) as DeviceId,
      ancestors,
    };
  }

  private unsealKeys(op: OpenedOp, body: MembershipBody): [KeyId, Uint8Array][] {
    if (this.device === undefined) return [];
    const out: [KeyId, Uint8Array][] = [];
    for (const k of body.keys) {
      if (!bytesEqual(k.recipient, this.device.signer.publicKey)) continue;
      const key = openSealed(this.device.box, k.sealed);
      if (key === null || key.length !== 32) continue;
      out.push([k.keyId.length === 0 ? keyIdFromOp(op.id) : (toHex(k.keyId) as KeyId), key]);
    }
    return out;
  }

  /**
   * Applies an op whose signature has been checked (or that this device just signed). Runs on the
   * queue. Returns `pending` when predecessors are missing; rejects with a typed error otherwise.
   */
  private async applyOpened(first: OpenedOp, extra: { clock?: number }): Promise<ApplyResult> {
    const result = await this.applyOne(first, extra);
    if (result.status !== 'applied') return result;
    // Ops that were waiting for this one (and so on), breadth first: no deep recursion.
    const work: OpId[] = [first.id];
    while (work.length > 0) {
      const id = work.shift()!;
      const ws = this.waiters.get(id);
      if (ws === undefined) continue;
      this.waiters.delete(id);
      for (const wid of ws) {
        const p = this.pending.get(wid);
        if (p === undefined) continue;
        p.missing.delete(id);
        if (p.missing.size > 0) continue;
        const r = await this.applyOne(p.op, {}, true);
        if (r.status === 'applied') work.push(wid);
        else if (r.status === 'rejected' && r.error?.code !== 'Storage') {
          this.pending.delete(wid);
          await this.store.commit({ doc: p.op.doc, pendingRemove: [wid] }).catch(() => undefined);
        }
      }
    }
    return result;
  }

  private reject(op: OpenedOp, code: EngineError['code'], msg: string): ApplyResult {
    return { status: 'rejected', id: op.id, doc: op.doc, error: new EngineError(code, msg, op.id) };
  }

  private async known(op: OpenedOp): Promise<boolean> {
    if (this.meta.get(op.id)?.doc === op.doc) return true;
    if (!this.docs.has(op.doc)) return false;
    const [r] = await this.store.getOps(op.doc, [op.id]);
    if (r !== undefined) this.remember(r.id, metaOf(r));
    return r !== undefined;
  }

  private async applyOne(op: OpenedOp, extra: { clock?: number }, fromPending = false): Promise<ApplyResult> {
    const base = { id: op.id, doc: op.doc };
    // An op just built by writeBatch is new (fresh nonce, so a fresh id): no store lookup (DAG-8).
    if (!this.localBatch && (await this.known(op))) {
      if (fromPending) this.pending.delete(op.id);
      return { status: 'duplicate', ...base };
    }
    const isGenesis = op.header.doc.length === 0;
    const st = this.docs.get(op.doc);
    const preds = op.prev === null ? op.parents : [...op.parents, op.prev];
    const predMetas = st === undefined ? preds.map(() => undefined) : await this.metas(op.doc, preds);
    const missing = preds.filter((_, i) => predMetas[i] === undefined);
    if (!isGenesis && (st === undefined || missing.length > 0)) {
      return this.addPending(op, st === undefined ? preds : missing, fromPending);
    }

    // CLK-2, CLK-3, DAG-2: checks against the causal past.
    let maxWall = -1;
    const fronts: OpId[] = [];
    const vv: Record<string, number> = {};
    for (const m of predMetas as OpMeta[]) {
      if (m.doc !== op.doc) return this.reject(op, 'WrongDoc', 'a predecessor belongs to another calendar');
      if (m.wallTime > maxWall) maxWall = m.wallTime;
      fronts.push(...m.mfront);
      for (const d in m.vv) if ((vv[d] ?? 0) < m.vv[d]!) vv[d] = m.vv[d]!;
    }
    if (op.header.wallTime <= maxWall)
      return this.reject(op, 'ClockRule', 'wall_time must exceed every predecessor');
    if (op.prev !== null) {
      const pm = predMetas[predMetas.length - 1]!;
      if (pm.author !== op.author || pm.ctr !== op.header.ctr - 1) {
        return this.reject(op, 'ChainRule', "prev must be the author's op with ctr - 1");
      }
    }
    vv[op.author] = Math.max(vv[op.author] ?? 0, op.header.ctr);

    const membership = st?.membership ?? new MembershipIndex();
    const predFront = membership.maximal(fronts);
    let mbody: MembershipBody | undefined;
    if (op.header.kind === OpKind.Membership) {
      try {
        mbody = decodeMembership(op.env.body);
      } catch (e) {
        return { status: 'rejected', ...base, error: toEngineError(e, 'Malformed', 'membership body') };
      }
      const selfSubject = bytesEqual(mbody.subject, op.header.author);
      if (isGenesis !== (mbody.kind === MembershipKind.Genesis)) {
        return this.reject(op, 'Malformed', 'genesis kind only in a genesis op');
      }
      if (isGenesis && (!selfSubject || mbody.subjectBox.length !== 32)) {
        return this.reject(op, 'Malformed', 'genesis must name its author and box key');
      }
      if (
        (mbody.kind === MembershipKind.Add || mbody.kind === MembershipKind.Invite) &&
        mbody.subjectBox.length !== 32
      ) {
        return this.reject(op, 'Malformed', 'an add or invite must carry an X25519 key');
      }
      if (mbody.kind === MembershipKind.Invite && mbody.expires <= op.header.wallTime) {
        return this.reject(op, 'Malformed', 'an invite must expire after it is made');
      }
    }
    if (!isGenesis && !membership.membersAt(predFront).has(op.author)) {
      const why =
        mbody === undefined ? undefined : await this.checkInviteAdd(op, mbody, membership, predFront);
      if (why !== null)
        return why ?? this.reject(op, 'NotMember', "author is not a member in the op's causal past");
    }

    // OP-6: the body. Decryption failures make the op inert, never invalid: its descendants stay valid.
    let body: BodyState = 'locked';
    const touched = new Map<EntityId, EntityRecord>();
    const newState = st ?? this.freshDoc(op);
    if (op.header.kind === OpKind.Membership) body = 'applied';
    else if (op.keyId !== null && this.device !== undefined) {
      const key = newState.keys.get(op.keyId);
      if (key !== undefined) body = this.materialize(newState, op, key, vv, touched);
    }

    // Equivocation: another op with the same (author, ctr) (DAG-6).
    let evidence: EquivocationRecord | undefined;
    const chainKey = `${op.author}:${op.header.ctr}`;
    // writeBatch's ops extend this replica's own persisted chain, which only this host extends: the
    // store holds no op with their counters, so only the group is searched (DAG-8).
    const stored = this.localBatch ? [] : await this.store.getOpsByChain(op.doc, op.author, op.header.ctr);
    const sameIds = [
      ...stored.map((o) => o.id),
      ...(this.group?.doc === op.doc ? (this.group.chain.get(chainKey) ?? []) : []),
    ];
    if (sameIds.some((id) => id !== op.id)) {
      const prevEv = newState.evidence.find((e) => e.author === op.author && e.ctr === op.header.ctr);
      const ids = new Set<OpId>([...(prevEv?.ops ?? []), ...sameIds, op.id]);
      evidence = { doc: op.doc, author: op.author, ctr: op.header.ctr, ops: [...ids].sort() };
    }

    const mfront = op.header.kind === OpKind.Membership ? [op.id] : predFront;
    const predSet = new Set(preds);
    const heads = newState.rec.heads.filter((h) => !predSet.has(h));
    heads.push(op.id);
    heads.sort();
    const own = this.deviceId === op.author && op.header.ctr > newState.rec.ownCtr;
    const rec: DocRecord = {
      ...newState.rec,
      heads,
      seq: newState.rec.seq + 1,
      ...(own ? { ownLast: op.id, ownCtr: op.header.ctr } : {}),
    };
    const record: OpRecord = {
      id: op.id,
      doc: op.doc,
      seq: rec.seq,
      author: op.author,
      ctr: op.header.ctr,
      wallTime: op.header.wallTime,
      kind: op.header.kind,
      parents: op.parents,
      prev: op.prev,
      bytes: op.bytes,
      vv,
      mfront,
      body,
    };
    const batch: CommitBatch = { doc: op.doc, ops: [record], docRecord: rec };
    if (touched.size > 0) batch.entities = [...touched.values()];
    if (fromPending) batch.pendingRemove = [op.id];
    if (evidence !== undefined) batch.evidence = [evidence];
    if (extra.clock !== undefined) batch.clock = extra.clock;
    const event: ChangeEvent = {
      doc: op.doc,
      entities: [...touched.keys()],
      ops: [op.id],
      membershipChanged: mbody !== undefined,
    };
    const meta: OpMeta = {
      doc: op.doc,
      author: op.author,
      ctr: op.header.ctr,
      wallTime: op.header.wallTime,
      vv,
      mfront,
    };

    // DAG-7: remote non-membership ops inside receiveBatch join the calendar's group commit.
    // Memory changes now, with an undo step, so later ops of the batch see this one.
    if (
      this.grouping &&
      mbody === undefined &&
      (extra.clock === undefined || this.localBatch) &&
      st !== undefined
    ) {
      if (
        this.group !== undefined &&
        (this.group.doc !== op.doc || (!this.localBatch && this.group.batch.ops.length >= MAX_GROUP))
      ) {
        await this.flushGroup();
      }
      const fresh: Group = {
        doc: op.doc,
        batch: { doc: op.doc, ops: [] },
        entities: new Map(),
        undo: [],
        results: [],
        events: [],
        chain: new Map(),
      };
      if (this.group === undefined) this.group = fresh;
      const g = this.group;
      g.batch.ops.push(record);
      g.batch.docRecord = rec;
      if (extra.clock !== undefined) g.batch.clock = Math.max(g.batch.clock ?? 0, extra.clock);
      for (const [id, e] of touched) g.entities.set(id, e);
      if (fromPending) g.batch.pendingRemove = [...(g.batch.pendingRemove ?? []), op.id];
      if (evidence !== undefined) g.batch.evidence = [...(g.batch.evidence ?? []), evidence];
      g.chain.set(chainKey, [...(g.chain.get(chainKey) ?? []), op.id]);
      const prevRec = st.rec;
      const prevEntities = [...touched.keys()].map((id) => [id, st.entities.get(id)] as const);
      const prevEvidence = st.evidence;
      const pendingOp = this.pending.get(op.id);
      this.applyInMemory(st, rec, touched, evidence, op.id, meta, fromPending);
      g.undo.push(() => {
        st.rec = prevRec;
        for (const [id, e] of prevEntities) {
          if (e === undefined) st.entities.delete(id);
          else st.entities.set(id, e);
        }
        st.evidence = prevEvidence;
        this.meta.delete(op.id);
        if (pendingOp !== undefined) this.pending.set(op.id, pendingOp);
      });
      g.events.push(event);
      const res: ApplyResult = { status: 'applied', ...base };
      g.results.push(res);
      return res;
    }
    if (this.group !== undefined) await this.flushGroup();

    try {
      await this.store.commit(batch);
    } catch (e) {
      return { status: 'rejected', ...base, error: toEngineError(e, 'Storage', 'committing op') };
    }

    // Committed: now, and only now, change memory.
    if (extra.clock !== undefined) this.clock = Math.max(this.clock, extra.clock);
    if (st === undefined) this.docs.set(op.doc, newState);
    this.applyInMemory(newState, rec, touched, evidence, op.id, meta, fromPending);
    let learnedKeys = false;
    if (mbody !== undefined) {
      newState.membership.add(this.membershipOp(op, mbody, newState.membership.closure(predFront)));
      for (const [k, v] of this.unsealKeys(op, mbody)) {
        if (!newState.keys.has(k)) learnedKeys = true;
        newState.keys.set(k, v);
      }
    }
    this.emit(event);
    if (learnedKeys && !isGenesis) await this.retryLocked(newState);
    return { status: 'applied', ...base };
  }

  /**
   * INV-2..INV-4: an Add by a non-member is valid only as a self-add proven by an invite of this
   * calendar in its causal past, dated no later than the invite's expiry, and the first use of
   * that invite in its causal past. Returns null when valid, else the rejection.
   */
  private async checkInviteAdd(
    op: OpenedOp,
    m: MembershipBody,
    membership: MembershipIndex,
    front: OpId[],
  ): Promise<ApplyResult | null | undefined> {
    if (m.kind !== MembershipKind.Add || m.invite.length === 0) return undefined;
    if (!bytesEqual(m.subject, op.header.author) || m.invite.length !== INVITE_PROOF_BYTES) {
      return this.reject(op, 'InviteInvalid', 'an invite may only add its holder, with a 96-byte proof');
    }
    const inviteId = toHex(m.invite.subarray(0, 32)) as OpId;
    const closure = membership.closure(front);
    const inv = membership.ops.get(inviteId);
    if (inv === undefined || !closure.has(inviteId) || inv.body.kind !== MembershipKind.Invite) {
      return this.reject(
        op,
        'InviteInvalid',
        "the invite is not in this calendar or not in the op's causal past",
      );
    }
    const message = inviteMessage(op.header.doc, m.invite.subarray(0, 32), m.subject, m.subjectBox);
    if (!(await this.crypto.verify(inv.body.subject, m.invite.subarray(32), message))) {
      return this.reject(op, 'InviteInvalid', 'the invite proof does not verify');
    }
    if (op.header.wallTime > inv.body.expires)
      return this.reject(op, 'InviteExpired', 'the invite had expired');
    for (const id of closure) {
      const other = membership.ops.get(id);
      if (
        other !== undefined &&
        other.body.invite.length === INVITE_PROOF_BYTES &&
        toHex(other.body.invite.subarray(0, 32)) === inviteId
      ) {
        return this.reject(op, 'InviteUsed', 'the invite was already used');
      }
    }
    return null;
  }

  private applyInMemory(
    st: DocState,
    rec: DocRecord,
    touched: Map<EntityId, EntityRecord>,
    evidence: EquivocationRecord | undefined,
    id: OpId,
    meta: OpMeta,
    fromPending: boolean,
  ): void {
    st.rec = rec;
    for (const [eid, e] of touched) st.entities.set(eid, e);
    if (evidence !== undefined) {
      st.evidence = [
        ...st.evidence.filter((e) => !(e.author === evidence.author && e.ctr === evidence.ctr)),
        evidence,
      ];
    }
    this.remember(id, meta);
    if (fromPending) this.pending.delete(id);
  }

  private freshDoc(genesis: OpenedOp): DocState {
    return {
      rec: { doc: genesis.doc, genesis: genesis.id, heads: [], seq: 0, ownLast: null, ownCtr: 0 },
      entities: new Map(),
      membership: new MembershipIndex(),
      keys: new Map(),
      evidence: [],
    };
  }

  /** Decrypts, decodes and merges a patch into copies of the touched entities (in `touched`). */
  private materialize(
    st: DocState,
    op: OpenedOp,
    key: Uint8Array,
    vv: Record<string, number>,
    touched: Map<EntityId, EntityRecord>,
  ): BodyState {
    const plain = decryptBody(op, key);
    if (plain === null) return 'inert';
    let patch: ReturnType<typeof decodePatch>;
    try {
      patch = decodePatch(plain);
    } catch {
      return 'inert';
    }
    const entity = toHex(patch.entity) as EntityId;
    // VAL-1: a write of the wrong type to a known field makes the whole op inert.
    if (!patch.writes.every((w) => isValidWrite(entity, w.field, w.value))) return 'inert';
    const current = touched.get(entity) ?? st.entities.get(entity);
    const regs = new Map((current?.registers ?? []).map((r) => [r.field, r]));
    let changed = false;
    for (const w of patch.writes) {
      const write: WriteRecord = {
        value: w.value,
        wallTime: op.header.wallTime,
        author: op.author,
        ctr: op.header.ctr,
        op: op.id,
        vv,
      };
      const next = mergeWrite(regs.get(w.field), write, w.field);
      if (next !== null) {
        regs.set(w.field, next);
        changed = true;
      }
    }
    if (changed) {
      const registers = [...regs.values()].sort((a, b) => a.field - b.field);
      touched.set(entity, { doc: op.doc, entity, registers });
    }
    return 'applied';
  }

  /** Ops stored `locked` whose key is now known get decrypted and merged (KEY-5). */
  private async retryLocked(st: DocState): Promise<void> {
    const doc = st.rec.doc;
    let after = 0;
    for (;;) {
      const page = await this.store.listOps(doc, after, 500);
      if (page.length === 0) break;
      after = page[page.length - 1]!.seq;
      for (const r of page) {
        if (r.body !== 'locked' || r.kind !== OpKind.Patch) continue;
        const op = openOp(r.bytes);
        const key = op.keyId === null ? undefined : st.keys.get(op.keyId);
        if (key === undefined) continue;
        const touched = new Map<EntityId, EntityRecord>();
        const body = this.materialize(st, op, key, r.vv, touched);
        await this.store.commit({ doc, bodyUpdates: [{ id: r.id, body }], entities: [...touched.values()] });
        for (const [id, e] of touched) st.entities.set(id, e);
        if (touched.size > 0)
          this.emit({ doc, entities: [...touched.keys()], ops: [r.id], membershipChanged: false });
      }
    }
  }

  private async addPending(op: OpenedOp, missing: OpId[], already: boolean): Promise<ApplyResult> {
    const base = { id: op.id, doc: op.doc };
    if (!already && !this.pending.has(op.id)) {
      if (this.pendingCount(op.doc) >= this.pendingLimit || this.pending.size >= this.pendingLimit * 4) {
        return {
          status: 'rejected',
          ...base,
          error: new EngineError('PendingFull', 'too many ops waiting for parents', op.id),
        };
      }
      const rec: PendingRecord = { id: op.id, doc: op.doc, bytes: op.bytes, missing };
      try {
        await this.store.commit({ doc: op.doc, pendingAdd: [rec] });
      } catch (e) {
        return { status: 'rejected', ...base, error: toEngineError(e, 'Storage', 'storing a pending op') };
      }
    }
    const p = this.pending.get(op.id) ?? { op, missing: new Set<OpId>() };
    p.missing = new Set(missing);
    this.pending.set(op.id, p);
    for (const m of missing) addTo(this.waiters, m, op.id);
    return { status: 'pending', ...base };
  }

  private emit(e: ChangeEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure is the listener's: it never breaks the replica.
      }
    }
  }
}

function metaOf(r: OpRecord): OpMeta {
  return { doc: r.doc, author: r.author, ctr: r.ctr, wallTime: r.wallTime, vv: r.vv, mfront: r.mfront };
}

function addTo<K, V>(m: Map<K, Set<V>>, k: K, v: V): void {
  const s = m.get(k);
  if (s === undefined) m.set(k, new Set([v]));
  else s.add(v);
}
