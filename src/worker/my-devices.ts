// "My devices" in the engine host (docs/PROTOCOL.md section 8a, PER-*): this device's personal
// document (created by "Add device", adopted by opening an "Add device" link), and the reconciler
// that keeps every calendar of the person reaching every device of the person: it lists the
// calendars this device is in, writes this device's card for a listed calendar it is not in,
// lets a device of the person into a calendar by its card, follows a calendar it was let into,
// removes a removed device from every calendar, and states in each calendar which members are
// devices of this person (person-claims.ts). Each step is idempotent and reads only
// replicated state, so the person's devices converge whichever of them acts, online or late.

import {
  type DeviceCard,
  type DeviceId,
  type DocId,
  EngineError,
  fromHex,
  isDocId,
  type LocalOp,
  type Replica,
  Role,
} from '../engine/index.ts';
import type { IdbStore } from './idb-store.ts';
import { updateClaim } from './person-claims.ts';
import {
  cardFlags,
  isPersonalDoc,
  listCalendar,
  markAdded,
  markExcluded,
  markPersonal,
  markRemoved,
  readPersonal,
  writeCard,
  writeSponsor,
} from './personal.ts';
import type { SyncHost } from './sync-host.ts';

const PREF_KEY = 'personalDoc';
/** How often the reconciler looks again without a change (a follow the relay refused, a failed step). */
const RETRY_MS = 5_000;
/** The longest wait between two follows of a calendar the relay keeps refusing. */
const MAX_FOLLOW_WAIT_MS = 5 * 60_000;

export interface MyDevices {
  /** This device's personal document, while it is a member of it. */
  current(): DocId | undefined;
  /** Whether `doc` is a personal document (this device's, or one it holds by mistake): never listed. */
  isPersonal(doc: DocId): boolean;
  /** Whether `device` is one of this person's devices (a member of the personal document). */
  isMine(device: DeviceId): boolean;
  /** The display name a device of mine gave itself in the personal document. */
  nameOf(device: DeviceId): string | undefined;
  /** The personal document, created (with every calendar this device is in listed) when absent. */
  ensure(): Promise<DocId>;
  /** Makes a joined personal document this device's own (PER-2). */
  adopt(doc: DocId): Promise<void>;
  /** PER-5: keeps one of my devices out of one calendar (it was removed from that one alone). */
  excludeFrom(cal: DocId, device: DeviceId): Promise<void>;
  /** PER-4: removes one of my devices from the personal document and every calendar here. */
  removeEverywhere(device: DeviceId): Promise<void>;
  /** Runs the reconciler once now (tests; the host runs it on every change). */
  reconcile(): Promise<void>;
  close(): void;
}

/**
 * PER-3: the ONE place where a device of mine is let into a calendar, with the name it chose
 * (DEV-1). By its sponsor card naming this device (ROLE-11), at this device's own role there,
 * whatever that role is; by its plain card (MEM-11), as a manager, only when this device manages
 * the calendar and the device wrote no sponsor card (builds before ROLE-11).
 */
export async function admitOwnDevice(
  replica: Replica,
  cal: DocId,
  card: DeviceCard,
  name?: string,
): Promise<LocalOp> {
  const mine = replica.members(cal).get(replica.deviceId as DeviceId)?.role;
  if (mine === undefined) throw new EngineError('NotMember', 'this device is not a member of the calendar');
  if (card.sponsor !== undefined) return replica.addMember(cal, card, mine, name);
  // ROLE-4: without a sponsor card only a manager adds devices, and my device gets my role: manager.
  return replica.addMember(cal, card, Role.Manager, name);
}

export async function createMyDevices(o: {
  replica: Replica;
  store: IdbStore;
  sync: SyncHost | undefined;
  /** A step failed (storage): reported, retried later. */
  onError?: (e: unknown) => void;
}): Promise<MyDevices> {
  const { replica, store, sync } = o;
  const self = replica.deviceId as DeviceId;
  const saved = await store.getLocal(PREF_KEY).catch(() => undefined);
  let personal: DocId | undefined = isDocId(saved) && replica.hasDoc(saved) ? saved : undefined;
  let closed = false;
  const member = (doc: DocId, d: DeviceId = self) => replica.members(doc).has(d);
  const role = (doc: DocId) => replica.members(doc).get(self)?.role;
  const current = () => (personal !== undefined && member(personal) ? personal : undefined);
  const report = (e: unknown) => o.onError?.(e);

  // PER-4: removals are queued on the replica synchronously from the change that reveals them, so
  // any op this device writes in a calendar after it applied a removal comes after its Remove.
  const removing = new Map<string, Promise<unknown>>();
  function removeNow(): Promise<unknown>[] {
    const p = current();
    if (p === undefined) return [];
    const gone = [...readPersonal(replica, p).removed].filter((d) => d !== self && !member(p, d));
    const out: Promise<unknown>[] = [];
    if (gone.length === 0) return out;
    for (const cal of replica.listDocs()) {
      if (cal === p || !member(cal)) continue;
      // A manager removes any device (ROLE-4); any member removes a device of its sponsor group
      // (ROLE-12); elsewhere a manager there must remove it (PER-4 says so).
      const manager = role(cal) === Role.Manager;
      const group = manager ? [] : replica.sponsorGroup(cal, self);
      for (const d of gone) {
        const key = `${cal}/${d}`;
        const busy = removing.get(key);
        if (busy !== undefined) out.push(busy);
        if (busy !== undefined || !member(cal, d) || !(manager || group.includes(d))) continue;
        const task = replica
          .removeMember(cal, fromHex(d))
          .catch((e) => {
            if (member(cal, d)) report(e);
          })
          .finally(() => removing.delete(key));
        removing.set(key, task);
        out.push(task);
      }
    }
    return out;
  }

  let running: Promise<void> | undefined;
  let again = false;
  let ensuring: Promise<DocId> | undefined;

  // Follows of calendars this device was let into, with backoff (the relay may not hold the Add yet,
  // or someone else removed this device again: then it keeps asking, rarely).
  const follows = new Map<DocId, { at: number; wait: number }>();
  function followLater(cal: DocId): void {
    if (sync === undefined) return;
    const f = follows.get(cal) ?? { at: 0, wait: RETRY_MS / 2 };
    if (Date.now() - f.at < f.wait) return;
    follows.set(cal, { at: Date.now(), wait: Math.min(f.wait * 2, MAX_FOLLOW_WAIT_MS) });
    sync.follow(cal);
  }

  /** One item of a pass: a failure is reported and the pass goes on (the next pass retries it). */
  async function attempt(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      report(e);
    }
  }

  async function step(): Promise<void> {
    const p = current();
    if (p === undefined) return;
    // A personal document whose marker was not written (the tab died right after creating it)
    // gets it now, so it stays hidden everywhere and a device link to it can be adopted.
    if (!isPersonalDoc(replica, p)) await attempt(() => markPersonal(replica, p));
    const st = readPersonal(replica, p);
    const epoch = (d: DeviceId) => replica.members(p).get(d)?.addedBy;
    const myEpoch = epoch(self)!;
    // PER-1: every calendar this device is in is listed.
    for (const cal of replica.listDocs()) {
      if (cal !== p && member(cal) && !st.calendars.has(cal) && !isPersonalDoc(replica, cal))
        await attempt(() => listCalendar(replica, p, cal));
    }
    for (const cal of st.calendars) {
      const flags = cardFlags(replica, p, cal, self, myEpoch);
      // PER-3: "in C during this pairing": after that, a removal from C by anyone is not undone.
      if (member(cal)) {
        if (!flags.added) await attempt(() => markAdded(replica, p, cal, self, myEpoch));
        continue;
      }
      if (flags.excluded) continue;
      // A listed calendar this device is not in: its card, for a device of mine that is in it,
      // and its sponsor card naming each other device of mine (ROLE-11), whatever their role.
      const card = st.cards.get(`${cal}/${self}`);
      if (card?.card === undefined || card.epoch !== myEpoch)
        await attempt(() => writeCard(replica, p, cal, myEpoch));
      else if (flags.added) followLater(cal);
      for (const e of replica.members(p).keys()) {
        if (e === self || st.sponsors.get(`${cal}/${self}/${e}`)?.epoch === myEpoch) continue;
        await attempt(() => writeSponsor(replica, p, cal, e, myEpoch));
      }
    }
    // PER-3: let a device of mine into a calendar I am in, once per pairing, by its own card.
    for (const c of st.cards.values()) {
      const e = epoch(c.device);
      const card = c.card;
      if (card === undefined || c.device === self || e === undefined || c.epoch !== e) continue;
      if (!replica.hasDoc(c.doc) || !member(c.doc) || member(c.doc, c.device)) continue;
      // By its sponsor card naming this device, at any role (ROLE-11); else, only as a manager
      // (ROLE-4), by its plain card (a device of a build before sponsor cards).
      const sp = st.sponsors.get(`${c.doc}/${c.device}/${self}`);
      const by = sp !== undefined && sp.epoch === e ? sp.card : card;
      if (by.sponsor === undefined && role(c.doc) !== Role.Manager) continue;
      const flags = cardFlags(replica, p, c.doc, c.device, e);
      if (flags.added || flags.excluded) continue;
      await attempt(async () => {
        await admitOwnDevice(replica, c.doc, by, replica.memberName(p, c.device));
        await markAdded(replica, p, c.doc, c.device, e);
      });
    }
    await Promise.all(removeNow());
    // PER-6: in each calendar, this device's claim lists the devices of mine that are members there.
    const mine = [...replica.members(p).keys()];
    for (const cal of replica.listDocs()) {
      if (cal === p || !member(cal) || isPersonalDoc(replica, cal)) continue;
      // A viewer writes nothing (ROLE-3): its devices are not shown as one person there.
      if (role(cal) === Role.Viewer) continue;
      await attempt(() =>
        updateClaim(
          replica,
          cal,
          mine.filter((d) => member(cal, d)),
        ),
      );
    }
  }

  function schedule(): Promise<void> {
    if (closed) return Promise.resolve();
    if (running !== undefined) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await new Promise((r) => setTimeout(r, 0));
          await step().catch(report);
        } while (again && !closed);
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  const offChange = replica.onChange((e) => {
    if (closed) return;
    const p = current();
    if (e.membershipChanged || e.doc === p) removeNow();
    schedule();
  });
  const timer = setInterval(() => void schedule(), RETRY_MS);
  void schedule();

  return {
    current,
    isPersonal: (doc) => doc === personal || isPersonalDoc(replica, doc),
    isMine: (d) => {
      const p = current();
      return p !== undefined && member(p, d);
    },
    nameOf: (d) => {
      const p = current();
      return p === undefined ? undefined : replica.memberName(p, d);
    },

    ensure() {
      const have = current();
      if (have !== undefined) return Promise.resolve(have);
      // Two "Add device" at once (two tabs) make one personal document, not two.
      ensuring ??= (async () => {
        try {
          const g = await replica.createCalendar();
          personal = g.doc;
          await store.putLocal(PREF_KEY, g.doc);
          await markPersonal(replica, g.doc);
          await schedule();
          return g.doc;
        } finally {
          ensuring = undefined;
        }
      })();
      return ensuring;
    },

    async adopt(doc) {
      if (!isPersonalDoc(replica, doc) || !member(doc))
        throw new EngineError('InvalidArgument', 'that is not a personal document this device is in');
      personal = doc;
      await store.putLocal(PREF_KEY, doc);
      await schedule();
    },

    async excludeFrom(cal, device) {
      const p = current();
      const e = p === undefined ? undefined : replica.members(p).get(device)?.addedBy;
      if (p !== undefined && e !== undefined) await markExcluded(replica, p, cal, device, e);
    },

    async removeEverywhere(device) {
      const p = current();
      if (p === undefined || !member(p, device))
        throw new EngineError('InvalidArgument', 'that device is not one of your devices');
      if (device === self)
        throw new EngineError('InvalidArgument', 'remove this device from another of your devices');
      // The mark first: a device that sees the Remove has the mark too (same author, earlier op).
      await markRemoved(replica, p, device);
      await replica.removeMember(p, fromHex(device));
      await Promise.all(removeNow());
      await schedule();
    },

    reconcile: () => schedule(),

    close() {
      closed = true;
      offChange();
      clearInterval(timer);
    },
  };
}
