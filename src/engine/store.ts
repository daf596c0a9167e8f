// The storage interface every host implements (in memory here; IndexedDB in the worker; SQLite
// on the relay). One contract suite (store.testkit.ts) runs against every implementation.
// Invariant: `commit` is atomic: after a crash the store holds all of a batch or none of it.

import type { DeviceId, DocId, EntityId, KeyId, OpId } from './ids.ts';

export const OpKind = { Patch: 0, Snapshot: 1, Membership: 2 } as const;
export type OpKind = (typeof OpKind)[keyof typeof OpKind];

/** What became of an applied op's body on this replica (OP-6). */
export type BodyState =
  /** Decrypted, decoded and merged into the registers. */
  | 'applied'
  /** Decrypted but not a valid body: kept in the DAG, no effect on registers (deterministic for all members). */
  | 'inert'
  /** Not decrypted yet: no key for its key id (or a verify-only replica such as the relay). */
  | 'locked';

/** An op in the log: its canonical bytes plus what the replica derived from it when it applied it. */
export interface OpRecord {
  id: OpId;
  doc: DocId;
  /** Per-calendar apply order on this replica: 1, 2, 3, ... (the relay's sequence number). */
  seq: number;
  author: DeviceId;
  ctr: number;
  /** µs since the Unix epoch. */
  wallTime: number;
  kind: OpKind;
  parents: OpId[];
  prev: OpId | null;
  /** Canonical SignedOp bytes, exactly as signed. */
  bytes: Uint8Array;
  /** Version vector of the op's causal past including itself: device -> highest ctr. */
  vv: Record<string, number>;
  /** Maximal membership ops in the op's causal past, including itself if it is one (MEM-2). */
  mfront: OpId[];
  body: BodyState;
}

/** One write to a register. `value` null is a tombstone / cleared field (LWW-2). */
export interface WriteRecord {
  value: Uint8Array | null;
  wallTime: number;
  author: DeviceId;
  ctr: number;
  op: OpId;
  /** Version vector of the writing op: tells which writes it had seen (LWW-4). */
  vv?: Record<string, number>;
  /** Causal depth of the writing op (sum of its version vector, LWW-1); kept when `vv` is dropped. */
  depth?: number;
}

/** A register: writes[0] is the LWW winner; the rest are concurrent writes it beat (LWW-4). */
export interface RegisterRecord {
  field: number;
  writes: WriteRecord[];
  /**
   * LWW-5: writes among the greatest 33 that a kept write causally follows. Not shown; kept so
   * the register is the same whatever order writes arrive in (absent when empty).
   */
  covered?: WriteRecord[];
}

/** Materialized state of one entity (event) in one calendar. */
export interface EntityRecord {
  doc: DocId;
  entity: EntityId;
  registers: RegisterRecord[];
}

export interface PendingRecord {
  id: OpId;
  doc: DocId;
  bytes: Uint8Array;
  /** Predecessors (parents and prev) that were missing when it arrived. */
  missing: OpId[];
}

export interface EquivocationRecord {
  doc: DocId;
  author: DeviceId;
  ctr: number;
  /** Two or more distinct op ids signed by `author` with the same ctr. */
  ops: OpId[];
}

export interface DocRecord {
  doc: DocId;
  genesis: OpId;
  heads: OpId[];
  /** Highest seq assigned in this calendar. */
  seq: number;
  /** This device's last op in this calendar (its chain), or null. */
  ownLast: OpId | null;
  ownCtr: number;
  /** KEY-9: content keys added out of band (addKey), sealed for this device's box key. */
  keys?: { id: KeyId; sealed: Uint8Array }[];
  /** STORE-11: ids of the content keys this replica held when it last learned one (and unlocked what it opens). */
  keyIds?: KeyId[];
  /** SNAP-7: the calendar started from a snapshot: its frontier, its anchors (seq 1..anchors), the frontier's version vector. */
  snapshot?: SnapshotMark;
}

/** What a calendar started from a snapshot records of it in its doc record (SNAP-7, SNAP-8). */
export interface SnapshotMark {
  frontier: OpId[];
  anchors: number;
  vv: Record<string, number>;
  /** SNAP-11: how many base records are stored (copy-on-write, see CommitBatch.base); absent before SNAP-11. */
  base?: number;
}

/**
 * SNAP-9, SNAP-10: an endorsement this replica received (its signature verified), kept so the
 * certification it makes holds across a restart and so it can be served again.
 */
export interface EndorsementRecord {
  doc: DocId;
  /** Hex hash of the endorsement (TAG_ENDORSEMENT): one record per endorsement. */
  id: string;
  /** Its canonical signed bytes (a SignedStatement). */
  bytes: Uint8Array;
  /** In force by the snapshot the calendar started from (listed in it, SNAP-10). */
  base?: true;
  /** With `base`: listed by that snapshot as waiting for an op outside its frontier's past (SNAP-21). */
  waiting?: true;
  /** Some op the replica holds breaks it (SNAP-10: snapshots list it). */
  acted?: true;
}

/** Host-specific key material (a non-extractable CryptoKey in browsers, bytes elsewhere). */
export interface DeviceRecord {
  publicKey: Uint8Array;
  secret: unknown;
  /** X25519 key pair for receiving calendar keys (DEV-*), host-specific form. */
  boxPublicKey?: Uint8Array;
  boxSecret?: unknown;
}

/** Everything a replica needs to resume a calendar without reading the op log. */
export interface LoadedDoc {
  doc: DocRecord;
  entities: EntityRecord[];
  pending: PendingRecord[];
  /** All membership ops of the calendar (few), for membership evaluation. */
  membership: OpRecord[];
  evidence: EquivocationRecord[];
  /**
   * SNAP-11: the base records of the calendar (the snapshot's registers of the entities whose
   * live record has changed since), when it starts from a snapshot; absent when none is stored.
   */
  base?: EntityRecord[];
  /** SNAP-10: the endorsements stored for the calendar (absent: a store that keeps none). */
  endorsements?: EndorsementRecord[];
}

/** One atomic write. */
export interface CommitBatch {
  doc: DocId;
  /** New ops appended to the log. */
  ops?: OpRecord[];
  /** Existing ops whose body state changed (locked -> applied once a key arrives). */
  bodyUpdates?: { id: OpId; body: BodyState }[];
  docRecord?: DocRecord;
  /** Entities to store whole (replacing the previous record). */
  entities?: EntityRecord[];
  pendingAdd?: PendingRecord[];
  pendingRemove?: OpId[];
  evidence?: EquivocationRecord[];
  /** SNAP-10: endorsements to keep (one record per id: a later one replaces it). */
  endorsements?: EndorsementRecord[];
  /** The device's clock (last wall_time handed out, µs). Persisted before the op is returned (CLK-1). */
  clock?: number;
  /**
   * SNAP-13: every record of the calendar (ops, entities, pending ops, evidence, base) is deleted
   * before the rest of the batch is written: the calendar is replaced whole. A store with an
   * outbox refuses it while the calendar has ops of this device not yet acknowledged.
   */
  reset?: boolean;
  /**
   * SNAP-12: ops deleted from the log (pruned). Seqs are never reused: the log keeps its gaps. A
   * store with an outbox refuses a batch deleting an op of this device not yet acknowledged.
   */
  prune?: OpId[];
  /**
   * SNAP-11: base records put: an entity's registers as the snapshot the calendar starts from has
   * them (no registers: the snapshot has none for it). Stored only for entities whose live
   * record differs from the snapshot's; the others read as their live record.
   */
  base?: EntityRecord[];
  /** SNAP-11: every base record of the calendar is deleted before `base` is put (a new base). */
  baseReset?: boolean;
}

export interface EngineStore {
  loadDevice(): Promise<DeviceRecord | undefined>;
  saveDevice(device: DeviceRecord): Promise<void>;
  /** Last wall_time this device handed out (µs), 0 if none. */
  loadClock(): Promise<number>;
  listDocs(): Promise<DocId[]>;
  loadDoc(doc: DocId): Promise<LoadedDoc | undefined>;
  /** Ops by id, in the order asked; undefined where absent. */
  getOps(doc: DocId, ids: readonly OpId[]): Promise<(OpRecord | undefined)[]>;
  /** Ops by (author, ctr): more than one only under equivocation. */
  getOpsByChain(doc: DocId, author: DeviceId, ctr: number): Promise<OpRecord[]>;
  /** Ops with seq > afterSeq in seq order, at most `limit` (seqs may have gaps after pruning, SNAP-12). */
  listOps(doc: DocId, afterSeq: number, limit: number): Promise<OpRecord[]>;
  commit(batch: CommitBatch): Promise<void>;
}

export type { EntityId };
