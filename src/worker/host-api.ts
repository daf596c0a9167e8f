// What a tab's worker asks of the engine host (local when it leads, over BroadcastChannel when
// it follows): plain, structured-cloneable arguments and results, plus the events hosts emit.

import type {
  CalendarInfo,
  DeviceInfo,
  EventFieldName,
  EventFields,
  EventView,
  HostError,
  InviteLink,
  Range,
  SeriesEdit,
  SeriesUndo,
  SyncStatus,
  Unsubscribe,
} from './api.ts';

export interface HostApi {
  listCalendars(): Promise<CalendarInfo[]>;
  createCalendar(name: string, color: string): Promise<string>;
  renameCalendar(calendarId: string, name: string, color: string): Promise<void>;
  setCalendarHidden(calendarId: string, hidden: boolean): Promise<void>;
  eventsInRange(range: Range): Promise<EventView[]>;
  getEvent(calendarId: string, eventId: string): Promise<EventView | undefined>;
  /**
   * The caller picks the event id ([RT-9]): a write retried after the leader tab died is then the
   * same write again (same entity, same values), not a second event.
   */
  createEvent(calendarId: string, eventId: string, fields: EventFields): Promise<string>;
  updateEvent(calendarId: string, eventId: string, fields: Partial<EventFields>): Promise<void>;
  deleteEvent(calendarId: string, eventId: string): Promise<void>;
  restoreEvent(calendarId: string, eventId: string): Promise<void>;
  editSeries(calendarId: string, edit: SeriesEdit): Promise<SeriesUndo>;
  restoreSeries(calendarId: string, undo: SeriesUndo): Promise<void>;
  restoreConflict(calendarId: string, eventId: string, field: EventFieldName, opId: string): Promise<void>;
  search(query: string, limit?: number): Promise<EventView[]>;
  syncStatus(): Promise<SyncStatus>;
  thisDevice(): Promise<DeviceInfo>;
  setDeviceName(name: string): Promise<void>;
  createInvite(origin: string, calendarIds?: string[], ttlMs?: number): Promise<InviteLink>;
  acceptInvite(link: string): Promise<{ calendarIds: string[] }>;
  listMembers(calendarId: string): Promise<DeviceInfo[]>;
  removeDevice(calendarId: string, deviceId: string): Promise<void>;
  /** A tab reports the browser's connectivity (its online/offline events) to the sync loop. */
  setOnline(online: boolean): Promise<void>;
}

export type HostMethod = keyof HostApi;

/** Every method, for building forwarding proxies without a Proxy object. */
export const HOST_METHODS: readonly HostMethod[] = [
  'listCalendars',
  'createCalendar',
  'renameCalendar',
  'setCalendarHidden',
  'eventsInRange',
  'getEvent',
  'createEvent',
  'updateEvent',
  'deleteEvent',
  'restoreEvent',
  'editSeries',
  'restoreSeries',
  'restoreConflict',
  'search',
  'syncStatus',
  'thisDevice',
  'setDeviceName',
  'createInvite',
  'acceptInvite',
  'listMembers',
  'removeDevice',
  'setOnline',
];

export type HostEvent =
  /** Events whose UTC extent (before or after the change) overlaps one of `intervals` changed. */
  | { type: 'events'; intervals: Range[] }
  /** The calendar list (names, colours, hidden flags, membership) changed. */
  | { type: 'calendars' }
  | { type: 'error'; error: HostError }
  | { type: 'sync'; status: SyncStatus }
  /** The member devices of a calendar changed (an Add, Remove or Invite was applied). */
  | { type: 'members'; calendarId: string };

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
