// The state a replica's parts share: options, the live calendars, the causal gate, the op
// metadata cache, listeners and the device clock. Reads of op metadata go through here, always
// within one calendar (DAG-10: a cached op of another calendar is never taken for a parent).

import type { Certification } from './certification.ts';
import type { CryptoProvider, Signer } from './crypto.ts';
import { EngineError } from './errors.ts';
import { CausalGate } from './gate.ts';
import type { DeviceId, DocId, OpId } from './ids.ts';
import { noncePool } from './nonces.ts';
import type { BoxKeyPair } from './seal.ts';
import type { SnapshotBase } from './snapshot-base.ts';
import type { EngineStore, OpRecord } from './store.ts';
import type { ChangeEvent, DocState, Txn } from './txn.ts';
import type { OpMeta } from './validate.ts';

export interface DeviceKeys {
  signer: Signer;
  box: BoxKeyPair;
}

/** What a replica is built from (`ReplicaOptions` in the public API). */
export interface CoreOptions {
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

const META_CACHE_LIMIT = 200_000;

export const metaOf = (r: OpRecord): OpMeta => ({
  doc: r.doc,
  author: r.author,
  ctr: r.ctr,
  wallTime: r.wallTime,
  vv: r.vv,
  mfront: r.mfront,
});

export class Core {
  readonly store: EngineStore;
  readonly crypto: CryptoProvider;
  readonly nowUs: () => number;
  readonly random: (n: number) => Uint8Array;
  /** Nonces for own ops' bodies (nonces.ts). */
  readonly nonce: () => Uint8Array;
  readonly device: DeviceKeys | undefined;
  readonly deviceId: DeviceId | undefined;
  readonly gate: CausalGate;
  readonly docs = new Map<DocId, DocState>();
  readonly listeners = new Set<(e: ChangeEvent) => void>();
  /** SNAP-7: calendars this replica started from a snapshot (in memory only, SNAP-8). */
  readonly bases = new Map<DocId, SnapshotBase>();
  /**
   * SNAP-18: ops refused by SNAP-7 per calendar since it was opened, started or re-based (in
   * memory): a replica with every op would have applied them, so this copy has diverged.
   */
  readonly snapRefusals = new Map<DocId, number>();
  /** SNAP-10: certifications in force per calendar (this replica holds what they name). */
  readonly certs = new Map<DocId, Certification[]>();
  /** SNAP-10: certifications stored but waiting for an op they name. */
  readonly pendingCerts = new Map<DocId, Certification[]>();
  /**
   * SNAP-22: per calendar with a base, the ids of stored endorsements this replica cannot judge
   * (late-endorsements.ts): recomputed from the stored endorsements whenever they or the base change.
   */
  readonly lateCerts = new Map<DocId, ReadonlySet<string>>();
  deviceName: string | undefined;
  clock = 0;
  private readonly meta = new Map<OpId, OpMeta>();
  private readonly metaLimit: number;

  constructor(o: CoreOptions) {
    this.store = o.store;
    this.crypto = o.crypto;
    this.nowUs = o.nowUs;
    this.random = o.random;
    this.nonce = noncePool(o.random);
    this.device = o.device;
    this.deviceId = o.device === undefined ? undefined : (toHexKey(o.device.signer.publicKey) as DeviceId);
    this.gate = new CausalGate(o.pendingLimit);
    this.deviceName = o.deviceName;
    this.metaLimit = o.metaCacheLimit ?? META_CACHE_LIMIT;
  }

  /** SNAP-10: certifications now in force, and those found acting (after their commit): no longer pending. */
  certify(doc: DocId, certs: readonly Certification[], acted: ReadonlySet<string> = new Set()): void {
    const ids = new Set(certs.map((c) => c.id));
    this.certs.set(doc, [...(this.certs.get(doc) ?? []).filter((c) => !ids.has(c.id)), ...certs]);
    for (const c of this.certs.get(doc)!) if (acted.has(c.id)) c.acted = true;
    const pending = (this.pendingCerts.get(doc) ?? []).filter((c) => !ids.has(c.id));
    if (pending.length > 0) this.pendingCerts.set(doc, pending);
    else this.pendingCerts.delete(doc);
  }

  /** The unlocking identity for keyrings: this device's key and box, or none (relay). */
  me(): { device: Uint8Array; box: BoxKeyPair } | undefined {
    return this.device === undefined
      ? undefined
      : { device: this.device.signer.publicKey, box: this.device.box };
  }

  mustDevice(): DeviceKeys {
    if (this.device === undefined)
      throw new EngineError('InvalidArgument', 'a verify-only replica cannot write');
    return this.device;
  }

  mustDoc(doc: DocId): DocState {
    const st = this.docs.get(doc);
    if (st === undefined) throw new EngineError('UnknownDoc', `calendar ${doc} is not on this replica`);
    return st;
  }

  /** Cached metadata of an op of calendar `doc` (never of another calendar). */
  cached(id: OpId, doc: DocId): OpMeta | undefined {
    const m = this.meta.get(id);
    return m !== undefined && m.doc === doc ? m : undefined;
  }

  /** Metadata of ops of one calendar: staged in `txn`, cached, else from the store. */
  async metas(doc: DocId, ids: readonly OpId[], txn?: Txn): Promise<(OpMeta | undefined)[]> {
    const out = ids.map((id) => txn?.meta.get(id) ?? this.cached(id, doc));
    const missing = ids.filter((_, i) => out[i] === undefined);
    if (missing.length === 0) return out;
    const recs = await this.store.getOps(doc, missing);
    for (const r of recs) if (r !== undefined && r.doc === doc) this.remember(r.id, metaOf(r));
    return ids.map((id, i) => out[i] ?? this.cached(id, doc));
  }

  remember(id: OpId, m: OpMeta): void {
    if (this.meta.size >= this.metaLimit) {
      // Heads' metadata must stay: membership and write keys are read from the heads' mfront.
      const keep: [OpId, OpMeta][] = [];
      for (const st of this.docs.values()) {
        for (const h of st.rec.heads) {
          const hm = this.meta.get(h);
          if (hm !== undefined) keep.push([h, hm]);
        }
      }
      this.meta.clear();
      for (const [h, hm] of keep) this.meta.set(h, hm);
    }
    this.meta.set(id, m);
  }

  /**
   * SNAP-12, SNAP-13: ops of `doc` deleted from the store leave memory too: their cached
   * metadata, and with `pending` every op of the calendar waiting in the gate.
   */
  forget(doc: DocId, gone: (id: OpId) => boolean, pending = false): void {
    for (const [id, m] of this.meta) if (m.doc === doc && gone(id)) this.meta.delete(id);
    if (pending) for (const p of this.gate.ofDoc(doc)) this.gate.drop(p.op.id);
  }

  /** MEM-2: the maximal membership ops at a calendar's heads. */
  headFront(st: DocState): OpId[] {
    const fronts: OpId[] = [];
    for (const h of st.rec.heads) fronts.push(...(this.cached(h, st.rec.doc)?.mfront ?? []));
    return st.membership.maximal(fronts);
  }

  emit(e: ChangeEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch {
        // A listener's failure is the listener's: it never breaks the replica.
      }
    }
  }
}

function toHexKey(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}
