// Content keys of one calendar on one device (docs/PROTOCOL.md KEY-*): key ids bound to key
// bytes, opening what membership ops seal for this device, key chains, the writer's key choice,
// sealing for members, and device names (DEV-1). A keyring can be forked like a membership index:
// a transaction learns keys in a fork that reaches its parent only after the commit.

import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bytesEqual, concatBytes, fromHex, fromUtf8, toHex, utf8 } from './bytes.ts';
import { type MembershipBody, MembershipKind, type WrappedKeyValue } from './codec.ts';
import { taggedHash } from './hash.ts';
import type { DeviceId, KeyId, OpId } from './ids.ts';
import type { MembershipIndex, MembershipOp } from './membership.ts';
import { type BoxKeyPair, openSealed, seal } from './seal.ts';

const TAG_KEYID = utf8('ledgerday/key-id/v1\0');
const TAG_CHAIN = utf8('ledgerday/key-chain/v1\0');
const TAG_NAME = utf8('ledgerday/device-name/v1\0');

/** KEY-7: a content key's id is the first 8 bytes of SHA-256(TAG_KEYID || key). */
export const keyIdOf = (key: Uint8Array): Uint8Array => taggedHash(TAG_KEYID, key).subarray(0, 8);
export const keyIdHex = (key: Uint8Array): KeyId => toHex(keyIdOf(key)) as KeyId;

/** KEY-8: a WrappedKey with this recipient holds an older key encrypted under the op's new key. */
export const CHAIN_RECIPIENT = new Uint8Array(32);
/** A key sealed for a device: eph (32) || nonce (24) || key (32) || tag (16). */
export const SEALED_KEY_BYTES = 104;
/** A chained key: nonce (24) || key (32) || tag (16). */
export const CHAINED_KEY_BYTES = 72;
/** Device name (DEV-1): key id (8) || nonce (24) || ciphertext of at most 400 bytes || tag (16). */
export const NAME_MIN_BYTES = 8 + 24 + 16;
export const NAME_MAX_BYTES = NAME_MIN_BYTES + 400;

/** Kinds whose op introduces a new key (every non-chain entry carries its id). */
export const introducesKey = (k: MembershipKind): boolean =>
  k === MembershipKind.Genesis || k === MembershipKind.Remove || k === MembershipKind.Rotate;

export const isChainEntry = (k: WrappedKeyValue): boolean => bytesEqual(k.recipient, CHAIN_RECIPIENT);

export interface Key {
  id: KeyId;
  key: Uint8Array;
}

export class Keyring {
  private readonly own = new Map<KeyId, Uint8Array>();
  /** New key id -> older keys chained under it (from every membership op seen). */
  private readonly chains = new Map<KeyId, WrappedKeyValue[]>();
  /** New key id -> older key ids its chains were opened to and checked (KEY-7). */
  private readonly carried = new Map<KeyId, Set<KeyId>>();
  private readonly parent: Keyring | undefined;

  constructor(parent?: Keyring) {
    this.parent = parent;
  }

  get(id: KeyId): Uint8Array | undefined {
    return this.own.get(id) ?? this.parent?.get(id);
  }

  has(id: KeyId): boolean {
    return this.get(id) !== undefined;
  }

  ids(): KeyId[] {
    return [...new Set([...(this.parent?.ids() ?? []), ...this.own.keys()])];
  }

  fork(): Keyring {
    return new Keyring(this);
  }

  absorb(fork: Keyring): void {
    for (const [k, v] of fork.own) this.own.set(k, v);
    for (const [k, v] of fork.chains) this.chains.set(k, [...(this.chains.get(k) ?? []), ...v]);
    for (const [k, v] of fork.carried) for (const x of v) this.carry(k, x);
  }

  private chainsOf(id: KeyId): WrappedKeyValue[] {
    return [...(this.parent?.chainsOf(id) ?? []), ...(this.chains.get(id) ?? [])];
  }

  /** Adds a key if its bytes hash to its id (KEY-7); then every key chained under it (KEY-8). Returns ids learned. */
  learn(id: KeyId, key: Uint8Array): KeyId[] {
    if (key.length !== 32 || this.has(id) || keyIdHex(key) !== id) return [];
    this.own.set(id, key);
    const out: KeyId[] = [id];
    for (const c of this.chainsOf(id)) out.push(...this.follow(id, key, c));
    return out;
  }

  /** Opens a chain entry under a held key; a checked older key is carried by it and learned. */
  private follow(id: KeyId, key: Uint8Array, c: WrappedKeyValue): KeyId[] {
    const prev = openChain(key, c);
    const prevId = toHex(c.keyId) as KeyId;
    if (prev === null || keyIdHex(prev) !== prevId) return [];
    this.carry(id, prevId);
    return this.learn(prevId, prev);
  }

  private carry(id: KeyId, prev: KeyId): void {
    let set = this.carried.get(id);
    if (set === undefined) {
      set = new Set();
      this.carried.set(id, set);
    }
    set.add(prev);
  }

  private carriedBy(id: KeyId): KeyId[] {
    return [...(this.parent?.carriedBy(id) ?? []), ...(this.carried.get(id) ?? [])];
  }

  /** Takes in a membership op: records its chains and opens what is sealed for `me`. Returns ids learned. */
  absorbOp(body: MembershipBody, me: { device: Uint8Array; box: BoxKeyPair } | undefined): KeyId[] {
    const newId = introducedKeyId(body);
    const out: KeyId[] = [];
    for (const k of body.keys) {
      if (!isChainEntry(k)) continue;
      if (newId === undefined) continue;
      this.chains.set(newId, [...(this.chains.get(newId) ?? []), k]);
      const under = this.get(newId);
      if (under !== undefined) out.push(...this.follow(newId, under, k));
    }
    if (me === undefined) return out;
    for (const k of body.keys) {
      if (isChainEntry(k) || !bytesEqual(k.recipient, me.device)) continue;
      const key = openSealed(me.box, k.sealed);
      if (key !== null) out.push(...this.learn(toHex(k.keyId) as KeyId, key));
    }
    return out;
  }

  /** A key and every key checked to be chained under it, transitively (ids). */
  reach(id: KeyId): Set<KeyId> {
    const out = new Set<KeyId>([id]);
    const work = [id];
    while (work.length > 0) {
      for (const prev of this.carriedBy(work.pop()!)) {
        if (!out.has(prev)) {
          out.add(prev);
          work.push(prev);
        }
      }
    }
    return out;
  }

  /** Held keys no other held key chains to: what an Add or an Invite must seal (KEY-5, KEY-8). */
  heads(): Key[] {
    const all = this.ids();
    const chained = new Set<string>();
    for (const id of all) for (const prev of this.carriedBy(id)) chained.add(prev);
    return all.filter((id) => !chained.has(id)).map((id) => ({ id, key: this.get(id)! }));
  }

  /**
   * KEY-4: the key a writer at frontier `front` uses: among the keys it holds that were sealed,
   * in the frontier's past, for every member that has a box key and for nobody but members
   * and invites, that carries (by chains) every key it holds, and that no member refused by a
   * later Rotate (KEY-10), the one introduced last (by its introducing op's wall_time, then id).
   * Undefined when none qualifies: the writer rotates first (KEY-3).
   */
  writeKey(index: MembershipIndex, front: readonly OpId[]): Key | undefined {
    const closure = index.closure(front);
    const members = index.membersAt(front);
    const allowed = new Set<string>(members.keys());
    const recips = new Map<KeyId, Set<string>>();
    const intro = new Map<KeyId, MembershipOp>();
    for (const id of closure) {
      const op = index.get(id);
      if (op === undefined) continue;
      if (op.body.kind === MembershipKind.Invite) allowed.add(op.subject);
      const newId = introducedKeyId(op.body);
      if (newId !== undefined) {
        const cur = intro.get(newId);
        if (
          cur === undefined ||
          op.wallTime > cur.wallTime ||
          (op.wallTime === cur.wallTime && op.id > cur.id)
        )
          intro.set(newId, op);
      }
      for (const k of op.body.keys) {
        if (isChainEntry(k)) continue;
        const kid = toHex(k.keyId) as KeyId;
        let s = recips.get(kid);
        if (s === undefined) {
          s = new Set();
          recips.set(kid, s);
        }
        s.add(toHex(k.recipient));
      }
    }
    const refused = refusedKeys(this, index, closure, members);
    let best: { id: KeyId; op: MembershipOp } | undefined;
    const held = this.ids();
    for (const [kid, op] of intro) {
      const rs = recips.get(kid);
      if (rs === undefined || !this.has(kid)) continue;
      // (e) K carries every key the writer holds (KEY-8), so whoever reads K reads what it reads.
      const reach = this.reach(kid);
      if (!held.every((h) => reach.has(h))) continue;
      if (refused.has(kid) || ![...rs].every((r) => allowed.has(r))) continue;
      if (![...members.values()].every((m) => m.box.length !== 32 || rs.has(m.device))) continue;
      if (
        best === undefined ||
        op.wallTime > best.op.wallTime ||
        (op.wallTime === best.op.wallTime && op.id > best.op.id)
      )
        best = { id: kid, op };
    }
    return best === undefined ? undefined : { id: best.id, key: this.get(best.id)! };
  }
}

/**
 * KEY-10: keys a member said it does not hold. A member's Rotate chains every key it holds
 * (KEY-8), so a key sealed for it in the Rotate's past that the Rotate's key does not carry (by
 * this device's checked chains) never reached it: junk sealed under a real key id (KEY-7), or
 * sealed for a box key that was not its own. When this device does not hold the Rotate's key it
 * cannot check, and counts every such key as refused (its next write rotates once).
 */
function refusedKeys(
  ring: Keyring,
  index: MembershipIndex,
  closure: ReadonlySet<OpId>,
  members: ReadonlyMap<string, { box: Uint8Array }>,
): Set<KeyId> {
  const out = new Set<KeyId>();
  for (const id of closure) {
    const r = index.get(id);
    if (r === undefined || r.body.kind !== MembershipKind.Rotate || !members.has(r.author)) continue;
    const rid = introducedKeyId(r.body);
    if (rid === undefined) continue;
    const carried = ring.has(rid) ? ring.reach(rid) : new Set<KeyId>([rid]);
    const device = fromHex(r.author);
    for (const a of r.ancestors) {
      for (const k of index.get(a)?.body.keys ?? []) {
        if (isChainEntry(k) || !bytesEqual(k.recipient, device)) continue;
        const kid = toHex(k.keyId) as KeyId;
        if (!carried.has(kid)) out.add(kid);
      }
    }
  }
  return out;
}

/** The id of the key an op introduces: the key id of its sealed entries (they must agree, MEM-7). */
export function introducedKeyId(body: MembershipBody): KeyId | undefined {
  if (!introducesKey(body.kind)) return undefined;
  const k = body.keys.find((x) => !isChainEntry(x));
  return k === undefined ? undefined : (toHex(k.keyId) as KeyId);
}

function openChain(under: Uint8Array, c: WrappedKeyValue): Uint8Array | null {
  if (c.sealed.length !== CHAINED_KEY_BYTES) return null;
  try {
    const aad = taggedHash(TAG_CHAIN, c.keyId);
    return xchacha20poly1305(under, c.sealed.subarray(0, 24), aad).decrypt(c.sealed.subarray(24));
  } catch {
    return null;
  }
}

/** KEY-8: `prev` encrypted under `next`, as a chain entry of the op that introduces `next`. */
export function chainEntry(next: Uint8Array, prev: Key, random: (n: number) => Uint8Array): WrappedKeyValue {
  const keyId = fromHex(prev.id);
  const nonce = random(24);
  const ct = xchacha20poly1305(next, nonce, taggedHash(TAG_CHAIN, keyId)).encrypt(prev.key);
  return { recipient: CHAIN_RECIPIENT, keyId, sealed: concatBytes(nonce, ct) };
}

/** KEY-2: a key sealed for each device with a box key. */
export function sealFor(
  recipients: readonly { device: DeviceId | Uint8Array; box: Uint8Array }[],
  key: Key,
  random: (n: number) => Uint8Array,
): WrappedKeyValue[] {
  const out: WrappedKeyValue[] = [];
  for (const r of recipients) {
    if (r.box.length !== 32) continue;
    out.push({
      recipient: typeof r.device === 'string' ? fromHex(r.device) : r.device,
      keyId: fromHex(key.id),
      sealed: seal(r.box, key.key, random),
    });
  }
  return out;
}

/** DEV-1: a device name sealed under a content key, bound to the subject. */
export function sealName(
  name: string,
  subject: Uint8Array,
  key: Key,
  random: (n: number) => Uint8Array,
): Uint8Array {
  const nonce = random(24);
  const ct = xchacha20poly1305(key.key, nonce, taggedHash(TAG_NAME, subject)).encrypt(
    utf8(name.slice(0, 100)),
  );
  return concatBytes(fromHex(key.id), nonce, ct);
}

export function openName(sealed: Uint8Array, subject: Uint8Array, ring: Keyring): string | undefined {
  if (sealed.length < NAME_MIN_BYTES) return undefined;
  const key = ring.get(toHex(sealed.subarray(0, 8)) as KeyId);
  if (key === undefined) return undefined;
  try {
    const aad = taggedHash(TAG_NAME, subject);
    return fromUtf8(xchacha20poly1305(key, sealed.subarray(8, 32), aad).decrypt(sealed.subarray(32)));
  } catch {
    return undefined;
  }
}
