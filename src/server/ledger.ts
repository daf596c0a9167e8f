// The relay's ledger of invites and removals per calendar (INV-6..8, RELAY-9, RELAY-10): which
// Invite ops exist and when they expire, which Add used each invite, and which devices were ever
// removed. Built lazily per calendar from the store's membership ops (read synchronously, so no
// commit can slip between the read and the commit hook that keeps it current).

import type { DeviceId, DocId, OpId, OpRecord } from '../engine/index.ts';
import {
  decodeMembership,
  INVITE_PROOF_BYTES,
  MembershipKind,
  type OpenedOp,
  OpKind,
  openOp,
  toHex,
} from '../engine/index.ts';

export interface InviteEntry {
  /** Ed25519 public key of the invite secret (the Invite op's subject). */
  subject: Uint8Array;
  /** µs wall time after which the relay accepts no use of it (by the relay's own clock). */
  expires: number;
}

export interface InviteUse {
  op: OpId;
  author: DeviceId;
}

interface DocLedger {
  invites: Map<OpId, InviteEntry>;
  /** Invite op id -> the stored Add that used it (the first the relay accepted). */
  uses: Map<OpId, InviteUse>;
  /** Devices that are the subject of some stored Remove in this calendar -> seq of the latest. */
  removed: Map<DeviceId, number>;
}

/** What a membership op means to the ledger; undefined for ops it does not track. */
export type LedgerFact =
  | { kind: 'invite'; id: OpId; entry: InviteEntry }
  | { kind: 'use'; invite: OpId; use: InviteUse }
  | { kind: 'remove'; device: DeviceId };

/** Reads an op's membership meaning. Never throws: undecodable bodies mean nothing here. */
export function ledgerFact(bytes: Uint8Array): LedgerFact | undefined {
  try {
    const op = openOp(bytes);
    if (op.header.kind !== OpKind.Membership) return undefined;
    const m = decodeMembership(op.env.body);
    if (m.kind === MembershipKind.Invite) {
      return { kind: 'invite', id: op.id, entry: { subject: m.subject, expires: m.expires } };
    }
    if (m.kind === MembershipKind.Add && m.invite.length === INVITE_PROOF_BYTES) {
      return {
        kind: 'use',
        invite: toHex(m.invite.subarray(0, 32)) as OpId,
        use: { op: op.id, author: op.author },
      };
    }
    if (m.kind === MembershipKind.Remove && m.subject.length === 32) {
      return { kind: 'remove', device: toHex(m.subject) as DeviceId };
    }
  } catch {
    // The engine rejects such an op with its own typed error.
  }
  return undefined;
}

/** The device a membership op adds (Add, Genesis), or undefined. Never throws. */
export function membershipSubject(op: OpenedOp): DeviceId | undefined {
  try {
    const m = decodeMembership(op.env.body);
    if ((m.kind === MembershipKind.Add || m.kind === MembershipKind.Genesis) && m.subject.length === 32)
      return toHex(m.subject) as DeviceId;
  } catch {
    // The engine rejects it with its own typed error.
  }
  return undefined;
}

export class Ledger {
  private readonly docs = new Map<DocId, DocLedger>();
  /** Adds accepted for apply but not committed yet: invite id -> Add op id (single use in flight). */
  private readonly reserved = new Map<OpId, OpId>();

  constructor(private readonly load: (doc: DocId) => OpRecord[]) {}

  private of(doc: DocId): DocLedger {
    let d = this.docs.get(doc);
    if (d === undefined) {
      d = { invites: new Map(), uses: new Map(), removed: new Map() };
      for (const r of this.load(doc)) this.apply(d, r.bytes, r.seq);
      this.docs.set(doc, d);
    }
    return d;
  }

  private apply(d: DocLedger, bytes: Uint8Array, seq: number): LedgerFact | undefined {
    const f = ledgerFact(bytes);
    if (f === undefined) return undefined;
    if (f.kind === 'invite') d.invites.set(f.id, f.entry);
    else if (f.kind === 'use') {
      if (!d.uses.has(f.invite)) d.uses.set(f.invite, f.use);
      if (this.reserved.get(f.invite) === f.use.op) this.reserved.delete(f.invite);
    } else d.removed.set(f.device, Math.max(seq, d.removed.get(f.device) ?? 0));
    return f;
  }

  /** Commit hook: keeps loaded calendars current (unloaded ones read the op when they load). */
  committed(doc: DocId, ops: readonly OpRecord[]): (LedgerFact & { seq: number })[] {
    const out: (LedgerFact & { seq: number })[] = [];
    const d = this.docs.get(doc);
    for (const r of ops) {
      if (r.kind !== OpKind.Membership) continue;
      const f = d === undefined ? ledgerFact(r.bytes) : this.apply(d, r.bytes, r.seq);
      if (f !== undefined) out.push({ ...f, seq: r.seq });
    }
    return out;
  }

  invite(doc: DocId, id: OpId): InviteEntry | undefined {
    return this.of(doc).invites.get(id);
  }

  /** The Add that used an invite (stored, or accepted and in flight), if any. */
  usedBy(doc: DocId, invite: OpId): { op: OpId; author?: DeviceId } | undefined {
    const u = this.of(doc).uses.get(invite);
    if (u !== undefined) return u;
    const r = this.reserved.get(invite);
    return r === undefined ? undefined : { op: r };
  }

  reserve(invite: OpId, add: OpId): void {
    this.reserved.set(invite, add);
  }

  /** An Add that was reserved and then rejected frees its invite again. */
  release(invite: OpId, add: OpId): void {
    if (this.reserved.get(invite) === add) this.reserved.delete(invite);
  }

  wasRemoved(doc: DocId, device: DeviceId): boolean {
    return this.of(doc).removed.has(device);
  }

  /** Seq of the latest stored Remove of `device` in `doc`, if any. */
  removedAt(doc: DocId, device: DeviceId): number | undefined {
    return this.of(doc).removed.get(device);
  }
}
