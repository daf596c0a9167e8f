// Devices and sharing in the engine host: this device's name and fingerprint (DEV-1, DEV-2),
// invite links (INV-1, INV-5), joining by invite over the relay (INV-6), members with their
// names, roles and last activity, removal with key rotation (MEM-5, KEY-3), and roles (ROLE-*).

import {
  CALENDAR_ENTITY,
  type DeviceId,
  type DocId,
  deviceFingerprint,
  EngineError,
  fromHex,
  isDeviceId,
  isDocId,
  isRoleName,
  type MemberRole,
  type OpId,
  type Replica,
  Role,
  type RoleName,
  roleFromName,
  roleName,
} from '../engine/index.ts';
import type { SyncEvent } from '../sync/client-contract.ts';
import type { DeviceInfo, InviteLink } from './api.ts';
import type { HostEvent } from './host-api.ts';
import type { IdbStore } from './idb-store.ts';
import { inviteUrl, type LinkInvite, MAX_LINK_CALENDARS, normalizeBase, parseLink } from './invite-link.ts';
import type { MyDevices } from './my-devices.ts';
import { personsOf } from './person-claims.ts';
import { isPersonalDoc } from './personal.ts';
import type { SyncHost } from './sync-host.ts';

export const DEFAULT_INVITE_TTL_MS = 24 * 3600_000;
const MAX_INVITE_TTL_MS = 30 * 24 * 3600_000;
const MIN_INVITE_TTL_MS = 60_000;
/** How long a join waits for the relay (the calendar's ops, then the ack of its Add). */
export const JOIN_TIMEOUT_MS = 30_000;
/** How long createInvite waits for the relay to store its Invite ops when connected. */
const INVITE_ACK_WAIT_MS = 10_000;

/** A failure of a devices call with a code the UI can branch on (crosses the worker boundary). */
export class DeviceError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'DeviceError';
    this.code = code;
  }
}

export interface DeviceApi {
  thisDevice(): Promise<DeviceInfo>;
  setDeviceName(name: string): Promise<void>;
  createInvite(origin: string, calendarIds?: string[], ttlMs?: number, role?: RoleName): Promise<InviteLink>;
  acceptInvite(link: string): Promise<{ calendarIds: string[] }>;
  listMembers(calendarId: string): Promise<DeviceInfo[]>;
  removeDevice(calendarId: string, deviceId: string): Promise<void>;
  setRole(calendarId: string, deviceId: string, role: RoleName): Promise<void>;
  listMyDevices(): Promise<DeviceInfo[]>;
  removeMyDevice(deviceId: string): Promise<void>;
  setOnline(online: boolean): Promise<void>;
}

export interface DeviceApiOptions {
  replica: Replica;
  store: IdbStore;
  /** Absent when the host has no relay (tests in Node, file:// pages). */
  sync: SyncHost | undefined;
  my: MyDevices;
  emit: (e: HostEvent) => void;
  nowMs?: () => number;
  joinTimeoutMs?: number;
}

/** The host's own uses of invites beyond links (recovery files, REC-*). */
export interface DeviceInvites {
  /**
   * One Invite op per calendar, expiring at `expiresMs`, granting `role` (ROLE-5), or 'own': this
   * device's own role in each calendar.
   */
  issueInvites(docs: readonly DocId[], expiresMs: number, role: RoleName | 'own'): Promise<LinkInvite[]>;
  /** Joins each calendar not joined yet, in order; the first failure is thrown. */
  joinInvites(invites: readonly LinkInvite[]): Promise<void>;
}

export function createDeviceApi(o: DeviceApiOptions): DeviceApi & DeviceInvites {
  const { replica, store, sync, my } = o;
  const nowMs = o.nowMs ?? (() => Date.now());
  const self = replica.deviceId as DeviceId;
  if (self === undefined) throw new EngineError('InvalidArgument', 'the host replica has no device keys');

  replica.onChange((e) => {
    if (e.membershipChanged) o.emit({ type: 'members', calendarId: e.doc });
  });

  const isMember = (doc: DocId) => replica.members(doc).has(self);
  const isCalendar = (doc: DocId) => isMember(doc) && !my.isPersonal(doc);

  function info(
    doc: DocId,
    device: DeviceId,
    m: { addedAt: number; role?: MemberRole },
    seen: number,
    ownName: string,
    person: string,
  ): DeviceInfo {
    const me = device === self;
    const at = Math.max(seen, m.addedAt);
    return {
      id: device,
      name: replica.memberName(doc, device) ?? my.nameOf(device) ?? (me ? ownName : ''),
      fingerprint: deviceFingerprint(fromHex(device)),
      addedAt: Math.floor(m.addedAt / 1000),
      lastSeen: at > 0 ? Math.floor(at / 1000) : null,
      isThisDevice: me,
      mine: me || my.isMine(device),
      person,
      // Its role in that calendar (ROLE-3); none in the list of my devices.
      role: m.role === undefined ? null : roleName(m.role),
    };
  }

  function mustMemberDoc(calendarId: string): DocId {
    if (!isDocId(calendarId))
      throw new EngineError('InvalidArgument', `not a calendar id: ${String(calendarId).slice(0, 40)}`);
    if (!replica.hasDoc(calendarId))
      throw new EngineError('UnknownDoc', `no calendar ${calendarId} on this device`);
    return calendarId;
  }

  /**
   * lastSeen: the newest wall_time among the device's writes this replica still holds in its
   * registers (winners and concurrent losers) and its own Add. Older overwritten writes are not
   * kept in registers, so this is a lower bound of its last activity, exact for an active device.
   */
  function lastSeenIn(doc: DocId): Map<DeviceId, number> {
    const last = new Map<DeviceId, number>();
    for (const e of replica.entities(doc)) {
      for (const r of e.registers) {
        for (const w of r.writes) if (w.wallTime > (last.get(w.author) ?? 0)) last.set(w.author, w.wallTime);
      }
    }
    return last;
  }

  /** Waits for `done`, failing on a refusal event `fail` recognises, offline, or timeout. */
  function waitSync(
    what: string,
    done: () => boolean | Promise<boolean>,
    fail: (e: SyncEvent) => DeviceError | undefined,
  ): Promise<void> {
    const s = sync!;
    return new Promise<void>((resolve, reject) => {
      let finished = false;
      const timeoutMs = o.joinTimeoutMs ?? JOIN_TIMEOUT_MS;
      const end = (err?: Error) => {
        if (finished) return;
        finished = true;
        off();
        clearInterval(poll);
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      };
      const off = s.onEvent((e) => {
        const err = fail(e);
        if (err !== undefined) end(err);
      });
      const check = async () => {
        try {
          if (await done()) end();
          else if (s.status().state === 'offline')
            end(new DeviceError('Offline', `this device is offline: connect to the internet to ${what}`));
        } catch (e) {
          end(e instanceof Error ? e : new Error(String(e)));
        }
      };
      const poll = setInterval(() => void check(), 100);
      const timer = setTimeout(
        () => end(new DeviceError('Timeout', `the server did not answer in time while trying to ${what}`)),
        timeoutMs,
      );
      void check();
    });
  }

  async function joinOne(inv: LinkInvite): Promise<void> {
    const s = sync!;
    const { doc } = inv;
    const refusedDoc = (e: SyncEvent) =>
      e.type === 'docRefused' && e.doc === doc ? new DeviceError(e.code, e.message) : undefined;
    s.follow(doc, { op: inv.invite, secret: inv.secret });
    try {
      // The calendar's ops up to the invite (INV-6 lets a non-member fetch them).
      await waitSync(
        'join the calendar',
        async () => replica.hasDoc(doc) && (await replica.getOps(doc, [inv.invite]))[0] !== undefined,
        refusedDoc,
      );
      if (isMember(doc)) return;
      const acked = new Set<OpId>();
      const refused = new Map<OpId, DeviceError>();
      const off = s.onEvent((e) => {
        if (e.type === 'acked') for (const a of e.acks) acked.add(a.op);
        if (e.type === 'opRefused') refused.set(e.op, new DeviceError(e.code, e.message));
      });
      try {
        const add = await replica.joinWithInvite(doc, inv.invite, inv.secret);
        // Joined once the relay stored the Add (it checks expiry by its clock and single use, INV-7, INV-8).
        await waitSync(
          'join the calendar',
          () => {
            const err = refused.get(add.id);
            if (err !== undefined) throw err;
            return acked.has(add.id);
          },
          (e) =>
            e.type === 'opRefused' && e.op === add.id ? new DeviceError(e.code, e.message) : refusedDoc(e),
        );
      } finally {
        off();
      }
    } catch (e) {
      if (!isMember(doc)) s.unfollow(doc);
      throw e;
    }
  }

  /**
   * Writes one Invite op per calendar (INV-1), all expiring at `expiresMs`; when connected, waits
   * (up to INVITE_ACK_WAIT_MS) until the relay stored them, so the secrets work right away.
   */
  async function issueInvites(
    docs: readonly DocId[],
    expiresMs: number,
    role: RoleName | 'own',
  ): Promise<LinkInvite[]> {
    const invites: LinkInvite[] = [];
    const acked = new Set<OpId>();
    const refused = new Map<OpId, DeviceError>();
    const off = sync?.onEvent((e) => {
      if (e.type === 'acked') for (const x of e.acks) acked.add(x.op);
      if (e.type === 'opRefused') refused.set(e.op, new DeviceError(e.code, e.message));
    });
    try {
      // Each Invite op enters the outbox in its commit ([RT-3]); the sync loop pushes it.
      for (const doc of docs) {
        const own = replica.members(doc).get(self)?.role;
        if (role === 'own' && own === undefined)
          throw new EngineError('NotMember', `this device is not a member of ${doc}`);
        const grant = role === 'own' ? own! : roleFromName(role);
        const { op, secret } = await replica.createInvite(doc, expiresMs * 1000, grant);
        invites.push({ doc, invite: op.id, secret });
      }
      // The link works once the relay holds the Invite ops (INV-6): when connected, wait for
      // their acks, so a link shown right away is usable right away. Offline, the link is
      // returned at once and starts working when this device next syncs.
      if (sync?.connected === true) {
        const end = nowMs() + INVITE_ACK_WAIT_MS;
        while (nowMs() < end && invites.some((i) => !acked.has(i.invite))) {
          const err = invites.map((i) => refused.get(i.invite)).find((x) => x !== undefined);
          if (err !== undefined) throw err;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    } finally {
      off?.();
    }
    return invites;
  }

  async function joinInvites(invites: readonly LinkInvite[]): Promise<void> {
    if (sync === undefined) throw new DeviceError('Offline', 'this app has no server to join through');
    if (sync.status().state === 'offline') {
      throw new DeviceError('Offline', 'this device is offline: connect to the internet to join');
    }
    for (const inv of invites) if (!isMember(inv.doc)) await joinOne(inv);
  }

  return {
    issueInvites,
    joinInvites,
    async thisDevice() {
      return {
        id: self,
        name: await store.getDeviceName(),
        fingerprint: deviceFingerprint(fromHex(self)),
        addedAt: null,
        lastSeen: null,
        isThisDevice: true,
        role: null,
        mine: true,
        person: self,
      };
    },

    async setDeviceName(name) {
      if (typeof name !== 'string') throw new EngineError('InvalidArgument', 'a device name is text');
      const clean = name.trim();
      if (clean.length > 100)
        throw new EngineError('InvalidArgument', 'a device name has at most 100 characters');
      await store.setDeviceName(clean);
      // Sealed into the ops that make this device a member from now on (DEV-1): calendars it
      // creates and invites it accepts. Calendars it already belongs to keep the old name.
      replica.setDeviceName(clean === '' ? undefined : clean);
    },

    async createInvite(origin, calendarIds, ttlMs = DEFAULT_INVITE_TTL_MS, role: RoleName = 'manager') {
      if (!isRoleName(role)) throw new EngineError('InvalidArgument', 'a role is viewer, editor or manager');
      let base: string;
      try {
        base = normalizeBase(origin);
      } catch (e) {
        throw new EngineError('InvalidArgument', e instanceof Error ? e.message : String(e));
      }
      if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_INVITE_TTL_MS || ttlMs > MAX_INVITE_TTL_MS) {
        throw new EngineError('InvalidArgument', 'an invite lives between one minute and 30 days');
      }
      // "Add device" (no calendars named, PER-2): the personal document first, then as many of
      // the calendars this device manages as the link holds (only managers invite, ROLE-5); the
      // rest reach the new device through the personal document (PER-3).
      const manages = (d: DocId) => replica.members(d).get(self)?.role === Role.Manager;
      const device = calendarIds === undefined;
      const all = device
        ? replica.listDocs().filter((d) => isCalendar(d) && manages(d))
        : [...new Set(calendarIds.map(mustMemberDoc))];
      for (const d of all) {
        if (!isMember(d)) throw new EngineError('NotMember', `this device is not a member of ${d}`);
        if (!device && my.isPersonal(d)) throw new EngineError('InvalidArgument', `${d} is not a calendar`);
      }
      if (!device && all.length === 0)
        throw new EngineError('InvalidArgument', 'there is no calendar to share');
      if (!device && all.length > MAX_LINK_CALENDARS) {
        throw new EngineError('InvalidArgument', `one link carries at most ${MAX_LINK_CALENDARS} calendars`);
      }
      const docs = device ? [await my.ensure(), ...all.slice(0, MAX_LINK_CALENDARS - 1)] : all;
      const expiresMs = nowMs() + ttlMs;
      const invites = await issueInvites(docs, expiresMs, device ? 'manager' : role);
      return { url: inviteUrl(base, invites, device), expiresAt: expiresMs, calendarIds: all };
    },

    async acceptInvite(link) {
      // Parsed before anything else: a bad link changes nothing.
      const { device, invites } = parseLink(link);
      if (sync === undefined) throw new DeviceError('Offline', 'this app has no server to join through');
      if (sync.status().state === 'offline') {
        throw new DeviceError('Offline', 'this device is offline: connect to the internet to join');
      }
      const personal = device ? invites[0]!.doc : undefined;
      const mine = my.current();
      // PER-2: one person per device. Linked to other devices already, it does not join another set.
      if (
        personal !== undefined &&
        mine !== undefined &&
        mine !== personal &&
        replica.members(mine).size > 1
      ) {
        throw new DeviceError(
          'AlreadyLinked',
          'this device is already linked to other devices: remove it from them first, then open the link again',
        );
      }
      for (const inv of invites) if (!isMember(inv.doc)) await joinOne(inv);
      if (personal !== undefined && personal !== mine) {
        if (!isPersonalDoc(replica, personal))
          throw new DeviceError('InvalidLink', 'this "Add device" link does not lead to a set of devices');
        await my.adopt(personal);
      }
      return { calendarIds: invites.map((i) => i.doc).filter((d) => !my.isPersonal(d)) };
    },

    async listMembers(calendarId) {
      const doc = mustMemberDoc(calendarId);
      const last = lastSeenIn(doc);
      const ownName = await store.getDeviceName();
      const out: DeviceInfo[] = [];
      // PER-6: mine by my personal document; other people by their devices' mutual claims.
      const persons = personsOf(replica, doc);
      const members = replica.members(doc);
      // ROLE-4, ROLE-12: whom this device may remove here.
      const manages = members.get(self)?.role === Role.Manager;
      const group = new Set(replica.sponsorGroup(doc, self));
      for (const m of members.values()) {
        const person = my.isMine(m.device) || m.device === self ? self : (persons.get(m.device) ?? m.device);
        const removable = m.device !== self && (manages || group.has(m.device));
        out.push({ ...info(doc, m.device, m, last.get(m.device) ?? 0, ownName, person), removable });
      }
      return out.sort(byAdded);
    },

    async removeDevice(calendarId, deviceId) {
      const doc = mustMemberDoc(calendarId);
      if (!isDeviceId(deviceId)) throw new EngineError('InvalidArgument', 'not a device id');
      if (!replica.members(doc).has(deviceId))
        throw new EngineError('InvalidArgument', 'that device is not a member of this calendar');
      // MEM-5 + KEY-3: the Remove rotates the content key for the devices that remain; the relay
      // stops serving the removed device this calendar once it stores the Remove (RELAY-9).
      // ROLE-13: another person's device leaves with the devices of its sponsor group.
      await replica.removePerson(doc, deviceId);
      // PER-5: one of my devices removed from this calendar alone is not let in again by my others.
      await my.excludeFrom(doc, deviceId);
    },

    async listMyDevices() {
      const p = my.current();
      const ownName = await store.getDeviceName();
      if (p === undefined) {
        return [await this.thisDevice()];
      }
      // Last seen: the newest write of each device in any calendar here.
      const last = new Map<DeviceId, number>();
      for (const doc of replica.listDocs())
        for (const [d, t] of lastSeenIn(doc)) if (t > (last.get(d) ?? 0)) last.set(d, t);
      const out: DeviceInfo[] = [];
      for (const m of replica.members(p).values())
        out.push(info(p, m.device, { addedAt: m.addedAt }, last.get(m.device) ?? 0, ownName, self));
      return out.sort(byAdded);
    },

    async removeMyDevice(deviceId) {
      if (!isDeviceId(deviceId)) throw new EngineError('InvalidArgument', 'not a device id');
      await my.removeEverywhere(deviceId);
    },

    async setRole(calendarId, deviceId, role) {
      const doc = mustMemberDoc(calendarId);
      if (!isDeviceId(deviceId)) throw new EngineError('InvalidArgument', 'not a device id');
      if (!isRoleName(role)) throw new EngineError('InvalidArgument', 'a role is viewer, editor or manager');
      if (!replica.members(doc).has(deviceId))
        throw new EngineError('InvalidArgument', 'that device is not a member of this calendar');
      // ROLE-2: a SetRole op; ROLE-4: the engine refuses it (NotPermitted) unless this device manages.
      await replica.setRole(doc, fromHex(deviceId), roleFromName(role));
    },

    async setOnline(online) {
      if (typeof online !== 'boolean') throw new EngineError('InvalidArgument', 'online is a boolean');
      sync?.setOnline(online);
    },
  };
}

const byAdded = (a: DeviceInfo, b: DeviceInfo) =>
  (a.addedAt ?? 0) - (b.addedAt ?? 0) || (a.id < b.id ? -1 : 1);

/**
 * Calendars the UI lists: joined ones, and ones this device was removed from (still readable);
 * never a personal document (PER-1).
 */
export function isListedCalendar(replica: Replica, doc: DocId, my: Pick<MyDevices, 'isPersonal'>): boolean {
  const self = replica.deviceId;
  if (my.isPersonal(doc)) return false;
  return (
    (self !== undefined && replica.members(doc).has(self)) ||
    replica.entity(doc, CALENDAR_ENTITY) !== undefined
  );
}
