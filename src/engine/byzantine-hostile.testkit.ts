// A hostile member's toolbox for tests: it holds a real device's secrets and the ops it has seen,
// and signs whatever ops it likes with them (equivocations, junk or foreign wrapped keys, rotations
// that exclude a member, writes from parents before its removal, ops that can never complete).
// It builds wire bytes with the codec and `craftOp`, never with the engine's own op authoring.

import { fromHex, toHex } from './bytes.ts';
import {
  decodeMembership,
  encodeMembership,
  encodePatch,
  type FieldWriteValue,
  LIMITS,
  MembershipKind,
  type WrappedKeyValue,
} from './codec.ts';
import type { DocId, EntityId, KeyId, OpId } from './ids.ts';
import { inviteKeys } from './invite.ts';
import { chainEntry, keyIdOf } from './keyring.ts';
import { keyIdFromOp, type OpenedOp, openOp } from './op.ts';
import { Role } from './roles.ts';
import { boxKeyPairFromSecret, openSealed, seal } from './seal.ts';
import { OpKind } from './store.ts';
import { craftOp, seededRandom, type TestDevice } from './testkit.testkit.ts';

/** Where a device's chain and view stand: what a crafted op names as prev and parents. */
export interface ChainPoint {
  ctr: number;
  prev: OpId | null;
  parents: OpId[];
  /** Greatest wall_time among prev and parents. */
  after: number;
}

export interface Crafted {
  bytes: Uint8Array;
  id: OpId;
  /** Plaintext register writes, when the op is a patch (the reference model reads them). */
  patch?: { entity: EntityId; writes: FieldWriteValue[] };
}

export class Hostile {
  readonly pub: Uint8Array;
  readonly box: Uint8Array;
  /** Every op this device has seen, by id. */
  readonly seen = new Map<OpId, OpenedOp>();
  private readonly rnd: (n: number) => Uint8Array;
  /** Wall time this device stamps next (it may lie; replicas only check CLK-2). */
  private clock = 0;
  /** A point saved early (right after it joined): writes "from old parents" start here. */
  early: ChainPoint | undefined;

  private me: ReturnType<typeof boxKeyPairFromSecret> | undefined;
  /** Keys opened from each membership op, so each sealed key is opened once. */
  private readonly opened = new Map<OpId, [string, Uint8Array][]>();

  constructor(
    readonly device: TestDevice,
    k: { signer: { publicKey: Uint8Array }; box: { publicKey: Uint8Array } },
    readonly doc: DocId,
    salt: string,
  ) {
    this.pub = k.signer.publicKey;
    this.box = k.box.publicKey;
    this.rnd = seededRandom(`${device.name}/${salt}`);
  }

  /** Stamps the next op at `t` or later (a lying clock, e.g. at the 2^53 ceiling). */
  jumpTo(t: number): void {
    this.clock = Math.min(LIMITS.maxU53 - 1, Math.max(this.clock, t));
  }

  /** The greatest wall_time among the ops it has seen (to stamp a write from old parents "now"). */
  latest(): number {
    let t = 0;
    for (const op of this.seen.values()) t = Math.max(t, op.header.wallTime);
    return t;
  }

  see(bytes: Uint8Array): void {
    try {
      const op = openOp(bytes);
      if (op.doc === this.doc) this.seen.set(op.id, op);
    } catch {
      // not an op of this calendar
    }
  }

  /** Content keys sealed for this device in the ops it has seen: key id -> key. */
  keys(): Map<string, Uint8Array> {
    this.me ??= boxKeyPairFromSecret(this.device.boxSecret);
    const me = this.me;
    const out = new Map<string, Uint8Array>();
    for (const op of this.seen.values()) {
      if (op.header.kind !== OpKind.Membership) continue;
      let keys = this.opened.get(op.id);
      if (keys === undefined) {
        keys = [];
        for (const k of decodeMembership(op.env.body).keys) {
          if (toHex(k.recipient) !== toHex(this.pub)) continue;
          const key = openSealed(me, k.sealed);
          if (key !== null && key.length === 32)
            keys.push([k.keyId.length === 0 ? keyIdFromOp(op.id) : toHex(k.keyId), key]);
        }
        this.opened.set(op.id, keys);
      }
      for (const [id, key] of keys) out.set(id, key);
    }
    return out;
  }

  /**
   * The key introduced last among those this device holds: what it writes with. A key's
   * introduction is the earliest membership op that carries its id (a later Add re-seals it).
   */
  newestKey(): { id: Uint8Array; key: Uint8Array } | undefined {
    const held = this.keys();
    const intro = new Map<string, number>();
    for (const op of this.seen.values()) {
      if (op.header.kind !== OpKind.Membership) continue;
      for (const k of decodeMembership(op.env.body).keys) {
        const id = k.keyId.length === 0 ? keyIdFromOp(op.id) : toHex(k.keyId);
        intro.set(id, Math.min(intro.get(id) ?? Number.MAX_SAFE_INTEGER, op.header.wallTime));
      }
    }
    let best: { id: string; t: number } | undefined;
    for (const id of held.keys()) {
      const t = intro.get(id) ?? 0;
      if (best === undefined || t > best.t) best = { id, t };
    }
    return best === undefined ? undefined : { id: fromHex(best.id), key: held.get(best.id)! };
  }

  /** The tip of this device's own chain and the heads of everything it has seen. */
  tip(): ChainPoint {
    const named = new Set<OpId>();
    let own: OpenedOp | undefined;
    for (const op of this.seen.values()) {
      for (const p of op.parents) named.add(p);
      if (op.prev !== null) named.add(op.prev);
      if (op.author === toHex(this.pub) && (own === undefined || op.header.ctr > own.header.ctr)) own = op;
    }
    const heads = [...this.seen.keys()].filter((id) => !named.has(id)).sort();
    return this.point(own, heads);
  }

  point(own: OpenedOp | undefined, heads: OpId[]): ChainPoint {
    const parents = heads.filter((h) => h !== own?.id);
    const times = [...parents, ...(own === undefined ? [] : [own.id])].map(
      (h) => this.seen.get(h)!.header.wallTime,
    );
    return {
      ctr: (own?.header.ctr ?? 0) + 1,
      prev: own?.id ?? null,
      parents,
      after: Math.max(0, ...times),
    };
  }

  private sign(
    at: ChainPoint,
    kind: number,
    body: Uint8Array,
    key?: { id: Uint8Array; key: Uint8Array },
  ): Crafted {
    this.clock = Math.min(LIMITS.maxU53, Math.max(this.clock + 1, at.after + 1));
    const bytes = craftOp({
      secret: this.device.secret,
      doc: fromHex(this.doc),
      ctr: at.ctr,
      kind,
      wallTime: this.clock,
      ...(at.prev === null ? {} : { prev: fromHex(at.prev) }),
      // At most the parents the format allows (LIM-1): a hostile names any subset it likes.
      parents: at.parents.slice(0, LIMITS.maxParents).map(fromHex),
      body,
      ...(key === undefined ? {} : { key }),
    });
    this.see(bytes);
    return { bytes, id: openOp(bytes).id };
  }

  /** A patch at `at` (default: the tip), encrypted with the newest key it holds. */
  patch(entity: EntityId, writes: FieldWriteValue[], at = this.tip()): Crafted | undefined {
    const key = this.newestKey();
    if (key === undefined) return undefined;
    const c = this.sign(at, OpKind.Patch, encodePatch({ entity: fromHex(entity), writes }), key);
    return { ...c, patch: { entity, writes } };
  }

  /** Two different patches with one (author, ctr): equivocation. */
  equivocate(entity: EntityId, a: FieldWriteValue[], b: FieldWriteValue[]): Crafted[] {
    const at = this.tip();
    return [this.patch(entity, a, at), this.patch(entity, b, at)].filter((c) => c !== undefined);
  }

  /** A membership op of any kind, with any wrapped keys, at the tip. */
  membership(
    kind: number,
    subject: Uint8Array,
    subjectBox: Uint8Array,
    keys: WrappedKeyValue[],
    opts: { at?: ChainPoint; expires?: number; boxProof?: Uint8Array; role?: Role } = {},
  ): Crafted {
    const body = encodeMembership({
      kind: kind as MembershipKind,
      subject,
      subjectBox,
      keys,
      invite: new Uint8Array(0),
      sealed: new Uint8Array(0),
      expires: opts.expires ?? 0,
      boxProof: opts.boxProof ?? new Uint8Array(0),
      role: opts.role ?? Role.Unstated,
    });
    return this.sign(opts.at ?? this.tip(), OpKind.Membership, body);
  }

  /**
   * An Invite signed from `at` (e.g. from before this device's removal), with every key it holds
   * sealed for the invite: does the invite outlive its creator's membership (INV-2)?
   */
  invite(at: ChainPoint, expires: number): { op: Crafted; secret: Uint8Array } {
    const secret = this.rnd(32);
    const ik = inviteKeys(secret);
    const keys = [...this.keys()].map(([id, k]) => ({
      recipient: ik.publicKey,
      keyId: fromHex(id),
      sealed: seal(ik.box.publicKey, k, this.rnd),
    }));
    const op = this.membership(MembershipKind.Invite, ik.publicKey, ik.box.publicKey, keys, { at, expires });
    return { op, secret };
  }

  /**
   * Adds (or re-adds) a device with junk sealed under every real key id it knows. With the
   * device's card (it showed it to this member, MEM-11) the Add is valid for a non-member.
   */
  junkWrap(victim: Uint8Array, victimBox: Uint8Array, proof: Uint8Array): Crafted {
    const keys = [...this.keys().keys()].map((id) => ({
      recipient: victim,
      keyId: fromHex(id),
      sealed: seal(victimBox, this.rnd(32), this.rnd),
    }));
    return this.membership(MembershipKind.Add, victim, victimBox, keys, { boxProof: proof });
  }

  /**
   * Adds a device with this device's own box key, so it would receive the device's keys: with
   * the device's proof of its real box key (which does not cover this one), or with none.
   */
  foreignBox(victim: Uint8Array, proof: Uint8Array): Crafted {
    const keys = [...this.keys()].map(([id, k]) => ({
      recipient: victim,
      keyId: fromHex(id),
      sealed: seal(this.box, k, this.rnd),
    }));
    return this.membership(MembershipKind.Add, victim, this.box, keys, { boxProof: proof });
  }

  /**
   * A Rotate (or, with `removed`, a Remove of that member) introducing a key sealed for every
   * given member, except junk (under the real key id) for `victim`: writers must not use a key
   * the victim never received (KEY-10).
   */
  junkRotate(
    members: { device: Uint8Array; box: Uint8Array }[],
    victim: Uint8Array,
    removed?: Uint8Array,
  ): Crafted {
    const fresh = this.rnd(32);
    const id = keyIdOf(fresh);
    const stay = members.filter((m) => removed === undefined || toHex(m.device) !== toHex(removed));
    const keys: WrappedKeyValue[] = stay.map((m) => ({
      recipient: m.device,
      keyId: id,
      sealed: seal(m.box, toHex(m.device) === toHex(victim) ? this.rnd(32) : fresh, this.rnd),
    }));
    const prev = this.newestKey();
    if (prev !== undefined)
      keys.push(chainEntry(fresh, { id: toHex(prev.id) as KeyId, key: prev.key }, this.rnd));
    return removed === undefined
      ? this.membership(MembershipKind.Rotate, this.pub, this.box, keys)
      : this.membership(MembershipKind.Remove, removed, new Uint8Array(0), keys);
  }

  /**
   * A Rotate introducing a key (its id bound to its bytes, KEY-7, chained to the newest key it
   * holds, KEY-8) sealed for every given member except `excluded`.
   */
  rotateExcluding(members: { device: Uint8Array; box: Uint8Array }[], excluded: Uint8Array): Crafted {
    const fresh = this.rnd(32);
    const id = keyIdOf(fresh);
    const keys: WrappedKeyValue[] = members
      .filter((m) => toHex(m.device) !== toHex(excluded))
      .map((m) => ({ recipient: m.device, keyId: id, sealed: seal(m.box, fresh, this.rnd) }));
    const prev = this.newestKey();
    if (prev !== undefined)
      keys.push(chainEntry(fresh, { id: toHex(prev.id) as KeyId, key: prev.key }, this.rnd));
    return this.membership(MembershipKind.Rotate, this.pub, this.box, keys);
  }

  /** Ops naming a parent nobody has: they can never complete. */
  flood(n: number, entity: EntityId): Crafted[] {
    const out: Crafted[] = [];
    const tip = this.tip();
    for (let i = 0; i < n; i++) {
      const ghost = toHex(this.rnd(32)) as OpId;
      const c = this.patch(entity, [{ field: 1, value: null }], {
        ...tip,
        parents: [...tip.parents, ghost].sort(),
      });
      if (c === undefined) break;
      out.push(c);
      this.seen.delete(c.id); // it never becomes part of this device's own view
    }
    return out;
  }
}

const strangers = new Map<string, Uint8Array[]>();

/** Ops by a stranger (a fresh key, not a member) for calendars that do not exist (at most 30). */
export function strangerFlood(name: string, n: number): Uint8Array[] {
  let ops = strangers.get(name);
  if (ops === undefined) {
    const rnd = seededRandom(`stranger/${name}`);
    const secret = rnd(32);
    ops = Array.from({ length: 30 }, (_, i) =>
      craftOp({
        secret,
        doc: rnd(16),
        ctr: 2,
        kind: OpKind.Membership,
        wallTime: 10 + i,
        prev: rnd(32),
        body: new Uint8Array(0),
      }),
    );
    strangers.set(name, ops);
  }
  return ops.slice(0, n);
}
