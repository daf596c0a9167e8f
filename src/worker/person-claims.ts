// Person claims (docs/PROTOCOL.md PER-6): how the members of a calendar see one person's devices
// as one person. Each device of a person writes, in each calendar it is in, one claim entity
// derived from its own key, listing the devices of its person that are members there. A reader
// counts only the claim its device wrote itself (the author of a write is its signer), and shows
// two devices as one person only when each lists the other: one device cannot make others show it
// as someone else's. The entity says Deleted, so no calendar view shows it as an event.

import {
  compareWrites,
  type DeviceId,
  type DocId,
  type EntityId,
  EventField,
  fromHex,
  type Replica,
  taggedHash,
  toHex,
  utf8,
} from '../engine/index.ts';

/** The claim's field (outside the calendar schema's range, like the personal document's, PER-1). */
export const CLAIM_FIELD = 70;
/** A claim lists at most this many devices (longer ones are ignored). */
export const MAX_CLAIM_DEVICES = 64;
const TAG_PERSON = utf8('ledgerday/person/v1\0');

export const claimEntity = (device: DeviceId): EntityId =>
  toHex(taggedHash(TAG_PERSON, fromHex(device)).subarray(0, 16)) as EntityId;

function encodeClaim(devices: readonly DeviceId[]): Uint8Array {
  const sorted = [...new Set(devices)].sort();
  const out = new Uint8Array(sorted.length * 32);
  for (const [i, d] of sorted.entries()) out.set(fromHex(d), i * 32);
  return out;
}

/** The devices `device` itself claims as its person in `doc` (its own newest claim), if any. */
export function claimOf(replica: Replica, doc: DocId, device: DeviceId): DeviceId[] | undefined {
  const rec = replica.entity(doc, claimEntity(device));
  const reg = rec?.registers.find((r) => r.field === CLAIM_FIELD);
  if (reg === undefined) return undefined;
  const own = [...reg.writes, ...(reg.covered ?? [])]
    .filter((w) => w.author === device)
    .sort(compareWrites)
    .at(-1);
  const v = own?.value;
  if (v == null || v.length === 0 || v.length % 32 !== 0 || v.length > MAX_CLAIM_DEVICES * 32)
    return undefined;
  const out: DeviceId[] = [];
  for (let i = 0; i < v.length; i += 32) {
    const d = toHex(v.subarray(i, i + 32)) as DeviceId;
    // One encoding per claim: strictly ascending keys.
    if (out.length > 0 && out[out.length - 1]! >= d) return undefined;
    out.push(d);
  }
  return out.includes(device) ? out : undefined;
}

/**
 * PER-6: the persons among a calendar's members: each member maps to its person's key (the
 * smallest device id of its group). Two members are one person when each one's own claim lists
 * the other; groups are the connected parts of those mutual pairs.
 */
export function personsOf(replica: Replica, doc: DocId): Map<DeviceId, string> {
  const members = [...replica.members(doc).keys()];
  const claims = new Map(members.map((d) => [d, new Set(claimOf(replica, doc, d) ?? [d])]));
  const parent = new Map(members.map((d) => [d, d]));
  const find = (d: DeviceId): DeviceId => {
    let r = d;
    while (parent.get(r) !== r) r = parent.get(r)!;
    return r;
  };
  for (const a of members) {
    for (const b of claims.get(a)!) {
      if (b === a || !claims.get(b)?.has(a)) continue;
      const [ra, rb] = [find(a), find(b as DeviceId)];
      // The larger root joins the smaller, so each group's root is its smallest id.
      if (ra < rb) parent.set(rb, ra);
      else if (rb < ra) parent.set(ra, rb);
    }
  }
  return new Map(members.map((d) => [d, find(d)]));
}

/** Writes this device's claim in `doc` when it differs from `devices` (this device included). */
export async function updateClaim(
  replica: Replica,
  doc: DocId,
  devices: readonly DeviceId[],
): Promise<boolean> {
  const self = replica.deviceId as DeviceId;
  const want = encodeClaim([...devices, self]);
  const have = claimOf(replica, doc, self);
  if (have !== undefined && toHex(encodeClaim(have)) === toHex(want)) return false;
  // A device alone claims nothing until it has claimed something (then it says it is alone again).
  if (have === undefined && want.length === 32) return false;
  await replica.write(doc, claimEntity(self), [
    { field: EventField.Deleted, value: Uint8Array.of(1) },
    { field: CLAIM_FIELD, value: want },
  ]);
  return true;
}
