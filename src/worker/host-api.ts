// What a tab's worker asks of the engine host (local when it leads, over BroadcastChannel when
// it follows): plain, structured-cloneable arguments and results, plus the events hosts emit.

import type { DataApi, EventFields, HostError, Range, SyncStatus, Unsubscribe } from './api.ts';

export interface HostApi extends DataApi {
  /**
   * The caller picks the event id ([RT-9]): a write retried after the leader tab died is then the
   * same write again (same entity, same values), not a second event.
   */
  createEvent(calendarId: string, eventId: string, fields: EventFields): Promise<string>;
  syncStatus(): Promise<SyncStatus>;
  /** A tab reports the browser's connectivity (its online/offline events) to the sync loop. */
  setOnline(online: boolean): Promise<void>;
}

export type HostMethod = keyof HostApi;

/**
 * The host's method names as data, the one list that the worker RPC, the tab forwarding, the
 * starting host, the unavailable host and the UI's client are built from. `satisfies` makes the
 * compiler reject a name missing from HostApi or a HostApi method missing here.
 */
const METHOD_TABLE = {
  listCalendars: true,
  createCalendar: true,
  renameCalendar: true,
  setCalendarHidden: true,
  setDefaultAlarms: true,
  dismissReminder: true,
  reminderOccurrences: true,
  eventsInRange: true,
  monthLayout: true,
  getEvent: true,
  createEvent: true,
  updateEvent: true,
  deleteEvent: true,
  restoreEvent: true,
  editSeries: true,
  restoreSeries: true,
  seriesExceptions: true,
  restoreOccurrence: true,
  moveEvent: true,
  restoreConflict: true,
  setCompliance: true,
  complianceHistory: true,
  eventHistory: true,
  olderHistory: true,
  restoreFromHistory: true,
  importEvents: true,
  cancelImport: true,
  exportEvents: true,
  search: true,
  syncStatus: true,
  thisDevice: true,
  setDeviceName: true,
  createInvite: true,
  acceptInvite: true,
  listMembers: true,
  removeDevice: true,
  makeRecoveryFile: true,
  restoreRecoveryFile: true,
  recoveryStatus: true,
  setRole: true,
  listMyDevices: true,
  removeMyDevice: true,
  setOnline: true,
} as const satisfies Record<HostMethod, true>;

export const HOST_METHODS = Object.keys(METHOD_TABLE) as readonly HostMethod[];

/** A HostApi whose every method is `impl(name)`: forwarding proxies without a Proxy object. */
export function hostApiOf(impl: (m: HostMethod) => (...args: never[]) => Promise<unknown>): HostApi {
  return Object.fromEntries(HOST_METHODS.map((m) => [m, impl(m)])) as unknown as HostApi;
}

/** Calls a method of a HostApi by name (the one cast forwarding needs). */
export function callHost(api: HostApi, m: HostMethod, args: readonly unknown[]): Promise<unknown> {
  return (api[m] as (...a: unknown[]) => Promise<unknown>)(...args);
}

export type HostEvent =
  /** Events whose UTC extent (before or after the change) overlaps one of `intervals` changed. */
  | { type: 'events'; intervals: Range[] }
  /** The calendar list (names, colours, hidden flags, membership) changed. */
  | { type: 'calendars' }
  | { type: 'error'; error: HostError }
  | { type: 'sync'; status: SyncStatus }
  /** The member devices of a calendar changed (an Add, Remove or Invite was applied). */
  | { type: 'members'; calendarId: string }
  /** An import's progress: `done` of `total` events signed (committed all at once at the end). */
  | { type: 'import'; importId: string; done: number; total: number };

export interface Host extends HostApi {
  onEvent(cb: (e: HostEvent) => void): Unsubscribe;
  close(): void;
}

/** An error as it crosses a worker or tab boundary (Error subclasses do not survive cloning). */
export interface WireError {
  code: string;
  message: string;
}

export function toWireError(e: unknown): WireError {
  if (
    typeof e === 'object' &&
    e !== null &&
    'code' in e &&
    typeof (e as { code: unknown }).code === 'string'
  ) {
    return { code: (e as { code: string }).code, message: String((e as { message?: unknown }).message ?? e) };
  }
  return { code: 'Internal', message: e instanceof Error ? e.message : String(e) };
}

/** An error rebuilt on the calling side: keeps the code so callers can branch on it. */
export class RemoteError extends Error {
  readonly code: string;
  constructor(w: WireError) {
    super(w.message);
    this.name = 'HostError';
    this.code = w.code;
  }
}
