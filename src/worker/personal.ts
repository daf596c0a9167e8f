// The personal document (docs/PROTOCOL.md section 8a, PER-*): a document of the engine like a
// calendar (same ops, keys, sync and relay; the relay cannot read it) whose members are one
// person's devices and which is never shown as a calendar. Its entities are defined here once, as
// data: which calendars the person is in, each device's card for a calendar it must be let into,
// whether it was let in or kept out, and which devices were removed. The fields sit in a range
// the calendar schema never uses (64 and up), so the engine keeps them as opaque bytes (SCH-4)
// and every reader here checks their exact shape; every entity also says Deleted, so no calendar
// view (this build's or an older one's) ever shows one as an event.

import {
  CALENDAR_ENTITY,
  type DeviceCard,
  type DeviceId,
  type DocId,
  type EntityId,
  type EntityRecord,
  EventField,
  fromHex,
  isDocId,
  type NewWrite,
  type OpId,
  type Replica,
  taggedHash,
  toHex,
  utf8,
} from '../engine/index.ts';

/** PER-1: the personal document's fields (never reused by the calendar schema, which stays below 64). */
export const PersonalField = {
  /** On the marker entity: PERSONAL_MARK_VALUE. */
  Personal: 64,
  /** On entity `C` (a calendar's doc id): 1 = the person is in calendar C. */
  Calendar: 65,
  /**
   * On the card entity of (C, d): doc (16) || device (32) || box (32) || box proof (64) || epoch
   * (32), written by d. The epoch is the id of the op that made d a member of the personal
   * document (its pairing): entries of an earlier pairing do not count.
   */
  Card: 66,
  /** On the card entity of (C, d): d's epoch = d has been a member of C during that pairing. */
  Added: 67,
  /** On the card entity of (C, d): d's epoch = d was removed from C alone and is not let in again. */
  Excluded: 68,
  /** On the removed entity of d: d's 32-byte key = d was removed from the person's devices. */
  Removed: 69,
  // 70 is PER-6's claim (person-claims.ts), written in calendars, not here.
  /**
   * On the sponsor entity of (C, d, e): doc (16) || d (32) || e (32) || d's box (32) || d's
   * sponsor proof naming e (64, ROLE-11) || d's epoch (32), written by d (PER-3).
   */
  Sponsor: 71,
} as const;

export const PERSONAL_MARK: EntityId = `${'0'.repeat(31)}1` as EntityId;
const PERSONAL_MARK_VALUE = utf8('ledgerday/personal/v1');
const TAG_CARD = utf8('ledgerday/personal-card/v1\0');
const TAG_REMOVED = utf8('ledgerday/personal-removed/v1\0');
const TAG_SPONSOR = utf8('ledgerday/personal-sponsor/v1\0');
const CARD_BYTES = 16 + 32 + 32 + 64 + 32;
const SPONSOR_BYTES = 16 + 32 + 32 + 32 + 64 + 32;
const ONE = Uint8Array.of(1);
const DELETED: NewWrite = { field: EventField.Deleted, value: ONE };

const entityOf = (bytes: Uint8Array): EntityId => toHex(bytes.subarray(0, 16)) as EntityId;
export const cardEntity = (doc: DocId, device: DeviceId): EntityId =>
  entityOf(taggedHash(TAG_CARD, fromHex(doc), fromHex(device)));
export const removedEntity = (device: DeviceId): EntityId =>
  entityOf(taggedHash(TAG_REMOVED, fromHex(device)));
export const sponsorEntity = (doc: DocId, device: DeviceId, sponsor: DeviceId): EntityId =>
  entityOf(taggedHash(TAG_SPONSOR, fromHex(doc), fromHex(device), fromHex(sponsor)));

/** PER-3: d's sponsor card for C naming e (ROLE-11), as d wrote it in the personal document. */
export interface SponsorEntry {
  card: DeviceCard;
  epoch: OpId;
}

export interface CardEntry {
  doc: DocId;
  device: DeviceId;
  /** The card, when the device itself wrote a well-formed one. */
  card: DeviceCard | undefined;
  /** The pairing the card was written in. */
  epoch: OpId | undefined;
}

export interface PersonalState {
  calendars: Set<DocId>;
  /** By `${doc}/${device}`. */
  cards: Map<string, CardEntry>;
  removed: Set<DeviceId>;
  /** By `${doc}/${device}/${sponsor}`: written by the device itself (PER-3). */
  sponsors: Map<string, SponsorEntry>;
}

const eq = (a: Uint8Array | null | undefined, b: Uint8Array) =>
  a != null && a.length === b.length && a.every((x, i) => x === b[i]);

function winner(rec: EntityRecord, field: number) {
  return rec.registers.find((r) => r.field === field)?.writes[0];
}

const isOne = (rec: EntityRecord, field: number) => eq(winner(rec, field)?.value, ONE);

/** PER-1: whether `doc` is a personal document (its marker is readable here). */
export function isPersonalDoc(replica: Replica, doc: DocId): boolean {
  const rec = replica.entity(doc, PERSONAL_MARK);
  return rec !== undefined && eq(winner(rec, PersonalField.Personal)?.value, PERSONAL_MARK_VALUE);
}

/**
 * Reads a personal document. Every entry is checked against its derivation: a card counts only
 * when its entity is the one derived from (doc, device) and the winning write is by that device.
 */
export function readPersonal(replica: Replica, doc: DocId): PersonalState {
  const out: PersonalState = {
    calendars: new Set(),
    cards: new Map(),
    removed: new Set(),
    sponsors: new Map(),
  };
  const entry = (c: DocId, d: DeviceId): CardEntry => {
    const key = `${c}/${d}`;
    let e = out.cards.get(key);
    if (e === undefined) {
      e = { doc: c, device: d, card: undefined, epoch: undefined };
      out.cards.set(key, e);
    }
    return e;
  };
  for (const rec of replica.entities(doc)) {
    if (rec.entity === CALENDAR_ENTITY || rec.entity === PERSONAL_MARK) continue;
    if (isDocId(rec.entity) && rec.entity !== doc && isOne(rec, PersonalField.Calendar))
      out.calendars.add(rec.entity as string as DocId);
    const card = winner(rec, PersonalField.Card);
    if (card?.value != null && card.value.length === CARD_BYTES) {
      const v = card.value;
      const c = toHex(v.subarray(0, 16)) as DocId;
      const d = toHex(v.subarray(16, 48)) as DeviceId;
      if (cardEntity(c, d) === rec.entity && card.author === d) {
        const e = entry(c, d);
        e.card = { device: v.slice(16, 48), box: v.slice(48, 80), proof: v.slice(80, 144) };
        e.epoch = toHex(v.subarray(144, 176)) as OpId;
      }
    }
    readSponsor(rec, out.sponsors);
    const removed = winner(rec, PersonalField.Removed)?.value;
    if (removed != null && removed.length === 32) {
      const d = toHex(removed) as DeviceId;
      if (removedEntity(d) === rec.entity) out.removed.add(d);
    }
  }
  // Added / Excluded sit on card entities; the entity id alone does not say (doc, device), so
  // they are read (cardFlags) for the pairs a card, a listing or a member names.
  return out;
}

/** PER-3: a sponsor entry counts when its entity is derived from it and the winning write is by d. */
function readSponsor(rec: EntityRecord, into: Map<string, SponsorEntry>): void {
  const w = winner(rec, PersonalField.Sponsor);
  if (w?.value == null || w.value.length !== SPONSOR_BYTES) return;
  const v = w.value;
  const c = toHex(v.subarray(0, 16)) as DocId;
  const d = toHex(v.subarray(16, 48)) as DeviceId;
  const e = toHex(v.subarray(48, 80)) as DeviceId;
  if (sponsorEntity(c, d, e) !== rec.entity || w.author !== d) return;
  into.set(`${c}/${d}/${e}`, {
    card: {
      device: v.slice(16, 48),
      box: v.slice(80, 112),
      proof: v.slice(112, 176),
      sponsor: v.slice(48, 80),
    },
    epoch: toHex(v.subarray(176, 208)) as OpId,
  });
}

/** Whether the card entity of (doc, device) says Added / Excluded for the pairing `epoch`. */
export function cardFlags(replica: Replica, personal: DocId, doc: DocId, device: DeviceId, epoch: OpId) {
  const rec = replica.entity(personal, cardEntity(doc, device));
  const e = fromHex(epoch);
  return {
    added: rec !== undefined && eq(winner(rec, PersonalField.Added)?.value, e),
    excluded: rec !== undefined && eq(winner(rec, PersonalField.Excluded)?.value, e),
  };
}

// --- writes (each one op on one entity of the personal document) --------------------------------

export const markPersonal = (replica: Replica, doc: DocId) =>
  replica.write(doc, PERSONAL_MARK, [DELETED, { field: PersonalField.Personal, value: PERSONAL_MARK_VALUE }]);

export const listCalendar = (replica: Replica, personal: DocId, cal: DocId) =>
  replica.write(personal, cal as string as EntityId, [
    DELETED,
    { field: PersonalField.Calendar, value: ONE },
  ]);

export async function writeCard(replica: Replica, personal: DocId, cal: DocId, epoch: OpId): Promise<void> {
  const card = await replica.deviceCard(cal);
  const value = new Uint8Array(CARD_BYTES);
  value.set(fromHex(cal), 0);
  value.set(card.device, 16);
  value.set(card.box, 48);
  value.set(card.proof, 80);
  value.set(fromHex(epoch), 144);
  await replica.write(personal, cardEntity(cal, toHex(card.device) as DeviceId), [
    DELETED,
    { field: PersonalField.Card, value },
  ]);
}

/** PER-3: this device's sponsor card for `cal` naming `sponsor` (another device of the person). */
export async function writeSponsor(
  replica: Replica,
  personal: DocId,
  cal: DocId,
  sponsor: DeviceId,
  epoch: OpId,
): Promise<void> {
  const card = await replica.sponsorCard(cal, fromHex(sponsor));
  const value = new Uint8Array(SPONSOR_BYTES);
  value.set(fromHex(cal), 0);
  value.set(card.device, 16);
  value.set(card.sponsor!, 48);
  value.set(card.box, 80);
  value.set(card.proof, 112);
  value.set(fromHex(epoch), 176);
  await replica.write(personal, sponsorEntity(cal, toHex(card.device) as DeviceId, sponsor), [
    DELETED,
    { field: PersonalField.Sponsor, value },
  ]);
}

export const markAdded = (replica: Replica, personal: DocId, cal: DocId, device: DeviceId, epoch: OpId) =>
  replica.write(personal, cardEntity(cal, device), [
    DELETED,
    { field: PersonalField.Added, value: fromHex(epoch) },
  ]);

export const markExcluded = (replica: Replica, personal: DocId, cal: DocId, device: DeviceId, epoch: OpId) =>
  replica.write(personal, cardEntity(cal, device), [
    DELETED,
    { field: PersonalField.Excluded, value: fromHex(epoch) },
  ]);

export const markRemoved = (replica: Replica, personal: DocId, device: DeviceId) =>
  replica.write(personal, removedEntity(device), [
    DELETED,
    { field: PersonalField.Removed, value: fromHex(device) },
  ]);
