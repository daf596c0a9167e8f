// Authoring: the bodies and headers of this device's own ops (docs/PROTOCOL.md CLK-1, DAG-8,
// KEY-3..KEY-8, MEM-4, INV-1, DEV-1). Pure builders: the replica gives them the calendar's
// state at its heads and applies what they build like any other op.

import type { DeviceCard } from './box-proof.ts';
import { fromHex, toHex } from './bytes.ts';
import { LIMITS, type MembershipBody, MembershipKind, type WrappedKeyValue } from './codec.ts';
import type { OpId } from './ids.ts';
import { chainEntry, type Key, type Keyring, keyIdHex, sealFor, sealName } from './keyring.ts';
import type { MemberInfo } from './membership.ts';
import { type MemberRole, Role } from './roles.ts';

export interface Me {
  device: Uint8Array;
  box: Uint8Array;
  name: string | undefined;
  random: (n: number) => Uint8Array;
}

/**
 * DAG-8: the parents of a new op: every head but the author's own last op (its prev), at most
 * LIMITS.maxParents of them; heads left out stay heads and the next op names them. When there
 * are more heads than that, the op must still have the writer's whole membership frontier in its
 * past (its key choice, KEY-4, and its validity are judged at the frontier of what it names): so
 * first, for each maximal membership op of the heads' frontiers, the smallest head that has it in
 * its frontier, then the smallest other heads. `frontOf` gives a head's membership frontier and
 * `maximal` the maximal ops of a set (needed only when there are too many heads).
 */
export function chooseParents(
  heads: readonly OpId[],
  prev: OpId | null,
  frontOf?: (head: OpId) => readonly OpId[],
  maximal?: (ids: OpId[]) => OpId[],
): OpId[] {
  const all = heads.filter((h) => h !== prev).sort();
  if (all.length <= LIMITS.maxParents || frontOf === undefined || maximal === undefined)
    return all.slice(0, LIMITS.maxParents);
  const chosen = new Set<OpId>();
  const prevFront = prev === null ? [] : frontOf(prev);
  const wanted = maximal([...prevFront, ...all.flatMap((h) => [...frontOf(h)])]);
  const covered = new Set<OpId>(prevFront);
  for (const m of wanted) {
    if (covered.has(m) || chosen.size >= LIMITS.maxParents) continue;
    const h = all.find((x) => frontOf(x).includes(m));
    if (h === undefined) continue;
    chosen.add(h);
    for (const f of frontOf(h)) covered.add(f);
  }
  for (const h of all) {
    if (chosen.size >= LIMITS.maxParents) break;
    chosen.add(h);
  }
  return [...chosen].sort();
}

/** CLK-1, CLK-5: after the device's last stamp and every parent, saturating at 2^53 - 1. */
export function stamp(now: number, clock: number, maxParent: number): number {
  return Math.min(LIMITS.maxU53, Math.max(now, clock + 1, maxParent + 1));
}

export function newKey(me: Me): Key {
  const key = me.random(32);
  return { id: keyIdHex(key), key };
}

const base = (me: Me): Omit<MembershipBody, 'kind'> => ({
  subject: me.device,
  subjectBox: new Uint8Array(0),
  keys: [],
  invite: new Uint8Array(0),
  sealed: new Uint8Array(0),
  expires: 0,
  boxProof: new Uint8Array(0),
  role: Role.Unstated,
});

const named = (me: Me, key: Key | undefined): Uint8Array =>
  me.name === undefined || me.name === '' || key === undefined
    ? new Uint8Array(0)
    : sealName(me.name, me.device, key, me.random);

/** KEY-1: the genesis introduces the first key, sealed for its author. */
export function genesisBody(me: Me, key: Key): MembershipBody {
  return {
    ...base(me),
    kind: MembershipKind.Genesis,
    subjectBox: me.box,
    keys: sealFor([{ device: me.device, box: me.box }], key, me.random),
    sealed: named(me, key),
  };
}

/** KEY-3, KEY-8: a fresh key sealed for `members`, carrying every key the author holds at its heads. */
function introduce(
  me: Me,
  ring: Keyring,
  members: Iterable<MemberInfo>,
  fresh: Key,
  withSelf = true,
): WrappedKeyValue[] {
  const self = toHex(me.device);
  const others = [...members].filter((m) => m.device !== self);
  const mine = withSelf ? [{ device: me.device, box: me.box }] : [];
  return [
    ...sealFor([...mine, ...others], fresh, me.random),
    ...ring.heads().map((k) => chainEntry(fresh.key, k, me.random)),
  ];
}

/** MEM-5, KEY-3: removes a device and introduces a key for the members that remain. */
export function removeBody(
  me: Me,
  ring: Keyring,
  members: Map<string, MemberInfo>,
  removed: string,
  fresh: Key,
): MembershipBody {
  // Every box key is its device's own (MEM-8, MEM-11), so the removed device reads none of them.
  const stay = [...members.values()].filter((m) => m.device !== removed);
  return {
    ...base(me),
    kind: MembershipKind.Remove,
    subject: fromHex(removed),
    keys: introduce(me, ring, stay, fresh, removed !== toHex(me.device)),
  };
}

/** MEM-7: a Rotate restates the author's box key and introduces a key for exactly the members. */
export function rotateBody(
  me: Me,
  ring: Keyring,
  members: Map<string, MemberInfo>,
  fresh: Key,
): MembershipBody {
  return {
    ...base(me),
    kind: MembershipKind.Rotate,
    subjectBox: me.box,
    keys: introduce(me, ring, members.values(), fresh),
  };
}

/**
 * MEM-4, MEM-11, KEY-5: adds a device by the card it showed (its keys and box proof), sealing for
 * it the keys the adder holds that no other key carries.
 */
export function addBody(
  me: Me,
  ring: Keyring,
  card: DeviceCard,
  role: MemberRole,
  name?: string,
): MembershipBody {
  const keys: WrappedKeyValue[] = [];
  for (const k of ring.heads()) keys.push(...sealFor([{ device: card.device, box: card.box }], k, me.random));
  const key = ring.heads()[0];
  return {
    ...base(me),
    kind: MembershipKind.Add,
    subject: card.device,
    subjectBox: card.box,
    keys,
    boxProof: card.proof,
    role,
    // ROLE-11: a sponsor card's proof names this author: the Add says so.
    ...(card.sponsor === undefined ? {} : { sponsored: true }),
    // DEV-1: the name the adder knows the device by (PER-6: the name it chose in its person's
    // personal document), sealed for the subject like a device's own.
    sealed:
      name === undefined || name === '' || key === undefined
        ? new Uint8Array(0)
        : sealName(name, card.device, key, me.random),
  };
}

/** INV-1: an invite: its public keys, expiry, and the key heads sealed for its box key. */
export function inviteBody(
  me: Me,
  ring: Keyring,
  subject: Uint8Array,
  box: Uint8Array,
  expires: number,
  role: MemberRole,
): MembershipBody {
  const keys: WrappedKeyValue[] = [];
  for (const k of ring.heads()) keys.push(...sealFor([{ device: subject, box }], k, me.random));
  return { ...base(me), kind: MembershipKind.Invite, subject, subjectBox: box, keys, expires, role };
}

/**
 * INV-2: this device's Add by invite, sealing for itself the keys it opened with the invite, with
 * the invite's role as stated there (ROLE-5).
 */
export function joinBody(
  me: Me,
  opened: Keyring,
  proof: Uint8Array,
  nameKey: Key | undefined,
  role: Role,
): MembershipBody {
  const keys: WrappedKeyValue[] = [];
  for (const k of opened.heads()) keys.push(...sealFor([{ device: me.device, box: me.box }], k, me.random));
  return {
    ...base(me),
    kind: MembershipKind.Add,
    subjectBox: me.box,
    keys,
    invite: proof,
    sealed: named(me, nameKey),
    role,
  };
}

/** ROLE-2: a member's new role. */
export function setRoleBody(me: Me, subject: Uint8Array, role: MemberRole): MembershipBody {
  return { ...base(me), kind: MembershipKind.SetRole, subject, role };
}
