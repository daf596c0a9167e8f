// One transaction over one calendar: everything an apply (a single op, a batch run, the ops it
// wakes, the history a new key unlocks) changes is staged here copy-on-write, over the live
// state, then committed to the store in one batch and only then published to memory. A failed
// commit is simply dropped: nothing live was touched, so there is nothing to undo.

import type { Certification } from './certification.ts';
import type { PatchBody } from './codec.ts';
import type { PendingOp } from './gate.ts';
import type { DocId, EntityId, OpId } from './ids.ts';
import { Keyring } from './keyring.ts';
import { MembershipIndex } from './membership.ts';
import type {
  BodyState,
  CommitBatch,
  DocRecord,
  EndorsementRecord,
  EntityRecord,
  EquivocationRecord,
  OpRecord,
} from './store.ts';
import type { OpMeta } from './validate.ts';

/** A calendar's live, committed state on a replica. */
export interface DocState {
  rec: DocRecord;
  entities: Map<EntityId, EntityRecord>;
  membership: MembershipIndex;
  keys: Keyring;
  evidence: EquivocationRecord[];
}

export interface ChangeEvent {
  doc: DocId;
  /** Entities whose registers changed. */
  entities: EntityId[];
  /** Ops newly applied, in apply order. */
  ops: OpId[];
  membershipChanged: boolean;
}

export class Txn {
  readonly doc: DocId;
  readonly live: DocState | undefined;
  rec: DocRecord;
  readonly entities = new Map<EntityId, EntityRecord>();
  evidence: EquivocationRecord[];
  readonly membership: MembershipIndex;
  readonly keys: Keyring;
  readonly ops: OpRecord[] = [];
  readonly bodyUpdates = new Map<OpId, BodyState>();
  readonly meta = new Map<OpId, OpMeta>();
  /** author:ctr -> ids staged here, for equivocation checks the store cannot answer yet. */
  readonly chain = new Map<string, OpId[]>();
  /** Ops admitted to the pending set by this transaction. */
  readonly admits = new Map<OpId, PendingOp>();
  /** Pending ops (admitted before) applied or dropped by this transaction. */
  readonly unpend = new Set<OpId>();
  readonly events: ChangeEvent[] = [];
  /** SNAP-10: endorsements stored by this commit, and the certifications they start. */
  readonly endorsements: EndorsementRecord[] = [];
  readonly certs: Certification[] = [];
  /** SNAP-10: certifications some op staged or judged here breaks (they act, after the commit). */
  readonly acted = new Set<string>();
  /** DAG-9: missing predecessors of refused ops, handed to the gate by commit(). */
  readonly wants: [DocId, OpId[]][] = [];
  clock: number | undefined;
  /** This device's own op being applied, with its plaintext (it was just encrypted here). */
  own: { id: OpId; plain?: { entity: EntityId; patch: PatchBody } } | undefined;

  constructor(doc: DocId, live: DocState | undefined, genesisRec?: DocRecord) {
    this.doc = doc;
    this.live = live;
    this.rec = live?.rec ?? genesisRec!;
    this.evidence = live?.evidence ?? [];
    this.membership = (live?.membership ?? new MembershipIndex()).fork();
    this.keys = (live?.keys ?? new Keyring()).fork();
  }

  entity(id: EntityId): EntityRecord | undefined {
    return this.entities.get(id) ?? this.live?.entities.get(id);
  }

  /** The staged record of an op applied in this transaction. */
  stagedOp(id: OpId): OpRecord | undefined {
    return this.ops.find((o) => o.id === id);
  }

  /** An own op staged while it was being signed gets its signed bytes (same id) before the commit. */
  signed(op: { id: OpId; bytes: Uint8Array }): void {
    const staged = this.stagedOp(op.id);
    if (staged === undefined) throw new Error(`op ${op.id} is not staged in this transaction`);
    staged.bytes = op.bytes;
  }

  get size(): number {
    return (
      this.ops.length + this.bodyUpdates.size + this.admits.size + this.unpend.size + this.endorsements.length
    );
  }

  /** The one store commit for everything staged. */
  batch(): CommitBatch {
    const b: CommitBatch = { doc: this.doc };
    if (this.ops.length > 0) b.ops = this.ops;
    if (this.rec !== this.live?.rec) b.docRecord = this.rec;
    if (this.entities.size > 0) b.entities = [...this.entities.values()];
    if (this.bodyUpdates.size > 0) b.bodyUpdates = [...this.bodyUpdates].map(([id, body]) => ({ id, body }));
    if (this.evidence !== (this.live?.evidence ?? [])) {
      const before = new Set(this.live?.evidence ?? []);
      b.evidence = this.evidence.filter((e) => !before.has(e));
    }
    if (this.admits.size > 0)
      b.pendingAdd = [...this.admits.values()].map((p) => ({
        id: p.op.id,
        doc: p.op.doc,
        bytes: p.op.bytes,
        missing: [...p.missing],
      }));
    if (this.unpend.size > 0) b.pendingRemove = [...this.unpend];
    if (this.clock !== undefined) b.clock = this.clock;
    if (this.endorsements.length > 0) b.endorsements = this.endorsements;
    return b;
  }

  /** After the commit: the live state this transaction leaves (the same object when it existed). */
  publish(): DocState {
    const st: DocState = this.live ?? {
      rec: this.rec,
      entities: new Map(),
      membership: new MembershipIndex(),
      keys: new Keyring(),
      evidence: [],
    };
    st.rec = this.rec;
    for (const [id, e] of this.entities) st.entities.set(id, e);
    st.evidence = this.evidence;
    st.membership.absorb(this.membership);
    st.keys.absorb(this.keys);
    return st;
  }
}
