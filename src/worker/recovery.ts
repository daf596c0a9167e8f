// Recovery in the engine host (docs/PROTOCOL.md REC-*): making a recovery file (one long-lived
// invite per calendar this device is a member of, sealed under the user's password), restoring
// from one on a new device (joining each calendar by its invite, as a new device with its own
// keys), and what this device remembers of the last file it made (never the secrets).

import {
  CALENDAR_ENTITY,
  calendarFromRecord,
  type DocId,
  EngineError,
  isDocId,
  type Replica,
} from '../engine/index.ts';
import type { RecoveryFile, RecoveryFileInfo, RecoveryResult, RecoveryStatus } from './api.ts';
import type { DeviceInvites } from './devices.ts';
import type { IdbStore } from './idb-store.ts';
import type { MyDevices } from './my-devices.ts';
import {
  checkRecoveryPassword,
  openRecoveryFile,
  type RecoveryContents,
  sealRecoveryFile,
} from './recovery-file.ts';

/** How long a recovery file's invites live (the relay refuses them after, INV-7). */
export const RECOVERY_TTL_MS = 365 * 24 * 3600_000;
/** What this device keeps of the last file it made (meta store key). */
const STATUS_KEY = 'recoveryFile';

export interface RecoveryApi {
  makeRecoveryFile(password: string): Promise<RecoveryFile>;
  restoreRecoveryFile(text: string, password: string): Promise<RecoveryResult>;
  recoveryStatus(): Promise<RecoveryStatus>;
}

export interface RecoveryApiOptions {
  replica: Replica;
  store: IdbStore;
  invites: DeviceInvites;
  /** This person's devices (PER-*): a file also covers the personal document, and restoring adopts it. */
  my: Pick<MyDevices, 'isPersonal' | 'current' | 'adopt'>;
  random: (n: number) => Uint8Array;
  nowMs?: () => number;
}

export function createRecoveryApi(o: RecoveryApiOptions): RecoveryApi {
  const { replica, store, invites } = o;
  const nowMs = o.nowMs ?? (() => Date.now());
  const self = replica.deviceId;
  const memberDocs = () =>
    replica.listDocs().filter((d) => self !== undefined && replica.members(d).has(self));
  const nameOf = (doc: DocId) => {
    const rec = replica.entity(doc, CALENDAR_ENTITY);
    return rec === undefined ? '' : calendarFromRecord(rec).name;
  };

  return {
    async makeRecoveryFile(password) {
      // ROLE-14: any member invites at its own role, so a file covers every calendar this device
      // is in (each at its role there) and its personal document.
      const docs = memberDocs();
      if (docs.length === 0) throw new EngineError('InvalidArgument', 'this device is in no calendar');
      const madeAt = nowMs();
      const expiresAt = madeAt + RECOVERY_TTL_MS;
      // Checked before any invite is written: a weak password writes nothing.
      checkRecoveryPassword(password);
      const issued = await invites.issueInvites(docs, expiresAt, 'own');
      const contents: RecoveryContents = {
        madeAt,
        expiresAt,
        calendars: issued.map((i) => ({
          ...i,
          name: o.my.isPersonal(i.doc) ? 'Your devices' : nameOf(i.doc),
        })),
      };
      const text = await sealRecoveryFile(contents, password, o.random);
      const status: RecoveryFileInfo = { madeAt, expiresAt, calendarIds: docs };
      await store.putLocal(STATUS_KEY, status);
      const day = new Date(madeAt).toISOString().slice(0, 10);
      return { fileName: `ledgerday-recovery-${day}.json`, text, ...status };
    },

    async restoreRecoveryFile(text, password) {
      const contents = await openRecoveryFile(text, password);
      const result: RecoveryResult = { joined: [], failed: [] };
      for (const c of contents.calendars) {
        try {
          await invites.joinInvites([c]);
          // The person's personal document (PER-1) is no calendar: joined, then adopted (as an
          // "Add device" link's is, PER-2) when this device is not linked to other devices yet.
          if (o.my.isPersonal(c.doc)) {
            const mine = o.my.current();
            if (mine === undefined || replica.members(mine).size <= 1) await o.my.adopt(c.doc);
            continue;
          }
          result.joined.push({ calendarId: c.doc, name: nameOf(c.doc) || c.name });
        } catch (e) {
          const code =
            typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'Error';
          const message = e instanceof Error ? e.message : String(e);
          result.failed.push({ calendarId: c.doc, name: c.name, code, message });
          // Offline: no later calendar can be reached either.
          if (code === 'Offline') {
            for (const rest of contents.calendars.slice(contents.calendars.indexOf(c) + 1))
              result.failed.push({ calendarId: rest.doc, name: rest.name, code, message });
            break;
          }
        }
      }
      return result;
    },

    async recoveryStatus() {
      const lastFile = parseStatus(await store.getLocal(STATUS_KEY).catch(() => undefined));
      // What the user sees as calendars: the personal document is covered silently.
      const docs = memberDocs().filter((d) => !o.my.isPersonal(d));
      const covered = new Set(lastFile?.calendarIds ?? []);
      return {
        lastFile,
        uncoveredIds: docs.filter((d) => !covered.has(d)),
        hasEvents: docs.some((d) => replica.entities(d).some((e) => e.entity !== CALENDAR_ENTITY)),
      };
    },
  };
}

/** The stored status, validated (RT-5: anything else reads as "no file made"). */
function parseStatus(v: unknown): RecoveryFileInfo | null {
  const r = v as Partial<RecoveryFileInfo> | null | undefined;
  if (typeof r !== 'object' || r === null) return null;
  if (!Number.isSafeInteger(r.madeAt) || !Number.isSafeInteger(r.expiresAt)) return null;
  if (!Array.isArray(r.calendarIds) || !r.calendarIds.every(isDocId)) return null;
  return { madeAt: r.madeAt!, expiresAt: r.expiresAt!, calendarIds: [...r.calendarIds] };
}
