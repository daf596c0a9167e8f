// The contract between the UI and the engine host: everything the UI may ask of its data.
// The UI imports only this file (types) and client.ts (the RPC client); never the engine, never IndexedDB.

import type { EditableFieldName, EditableValues, EventValues, RoleName, Value } from '../engine/index.ts';

/** What a member may do in a calendar (docs/PROTOCOL.md ROLE-*): 'viewer' | 'editor' | 'manager'. */
export type { RoleName };

/**
 * Calendar fields as the UI edits them, derived from the engine's field table (schema.ts): title,
 * start and end ("YYYY-MM-DDTHH:MM" wall-clock in `timeZone`, or "YYYY-MM-DD" when `allDay`; end
 * exclusive), allDay, timeZone (IANA), location, notes; from schema 2 on (optional when writing)
 * rrule (RRULE value, '' = does not repeat), rdates, exdates and alarms (minutes before the start,
 * null = the calendar's default).
 */
export type EventFields = EditableValues;
export type EventFieldName = EditableFieldName;

/** One write to a register: who wrote it, when, from which op. */
export interface RegisterWrite {
  value: Value | null;
  /** Device id (hex of its Ed25519 public key). */
  device: string;
  /** Device display name when known. */
  deviceName?: string;
  /** Microseconds since the Unix epoch (the op's wall_time). */
  wallTime: number;
  opId: string;
}

/** A field whose concurrent writes were resolved by last-writer-wins: the winner and the losers. */
export interface FieldConflict {
  field: EventFieldName;
  winner: RegisterWrite;
  losers: RegisterWrite[];
}

/** Where an occurrence of a repeating event comes from (docs/PROTOCOL.md SER-*). */
export interface OccurrenceInfo {
  /** The series entity (after "This and following" splits, the part that holds it). */
  seriesId: string;
  /** The occurrence's original start, wall-clock in the series' zone (RECURRENCE-ID). */
  recurrenceId: string;
  /** An edited occurrence the rule no longer generates: shown, never dropped (SER-6). */
  detached: boolean;
}

export type SeriesScope = 'this' | 'following' | 'all';

/** "This event", "This and following events" or "All events" for one occurrence. */
export interface SeriesEdit {
  seriesId: string;
  recurrenceId: string;
  scope: SeriesScope;
  /** The changed fields (omit for a delete). */
  fields?: Partial<EventFields>;
  delete?: boolean;
}

/** Dates a series has beyond its rule (RDATE) and occurrences it skips (EXDATE or cancelled, SER-4). */
export interface SeriesExceptions {
  extra: string[];
  skipped: { recurrenceId: string; by: 'exdate' | 'cancelled' }[];
}

/** The inverse of a series edit: the previous values of the registers it wrote (UI-7). */
export interface SeriesUndo {
  entity: string;
  values: Record<string, Value | null>;
  /** Other entities the same edit wrote (overrides carried along, SER-8), undone together. */
  also?: { entity: string; values: Record<string, Value | null> }[];
}

export interface EventView extends Pick<EventValues, EditableFieldName> {
  /** An occurrence's id is a handle of (series, original start) the host maps back (occurrenceId). */
  id: string;
  calendarId: string;
  /** UTC instants (ms) of start and end, computed from the wall-clock times and the zone. */
  startMs: number;
  endMs: number;
  conflicts: FieldConflict[];
  /**
   * UTC ms up to which this event's reminders were dismissed on some device (REM-3): the latest
   * of its DismissedUntil register's concurrent writes. Absent when none (or not known yet).
   */
  dismissedUntilMs?: number;
  /** Set on occurrences of repeating events. */
  occurrence?: OccurrenceInfo;
}

/** An occurrence with reminders, resolved for the reminder loop (REM-1..3). */
export interface ReminderOccurrence {
  calendarId: string;
  /** The event (for a series: the series) whose DismissedUntil a dismissal writes. */
  eventId: string;
  title: string;
  location: string;
  /** UTC ms of this occurrence's start. */
  startMs: number;
  allDay: boolean;
  /** "YYYY-MM-DD" first day (all-day events remind relative to its 00:00 in the device's zone). */
  startDate: string;
  /** Minutes before the start (the event's own, else the calendar's default). */
  alarms: number[];
  /** UTC ms up to which its reminders were dismissed on some device (0: none). */
  dismissedUntilMs: number;
}

export interface CalendarInfo {
  id: string;
  name: string;
  /** "#rrggbb" */
  color: string;
  /** Local, per-device preference: hidden calendars' events are not shown. */
  hidden: boolean;
  /** Reminders (minutes before the start) of its events that set none of their own (REM-1). */
  defaultAlarms?: number[];
  /** This device's role in it (ROLE-3); absent while unknown (before the replica loads) or not a member. */
  role?: RoleName;
  /** Compliance mode (docs/PROTOCOL.md CMP-1): set (true) only when on. */
  compliance?: boolean;
}

/**
 * What a write is now (CMP-4, CMP-5): the field's value, a concurrent loser (conflict), overwritten,
 * or never counted (its author was removed concurrently, or the edit was invalid).
 */
export type HistoryStatus = 'winner' | 'conflict' | 'superseded' | 'revoked' | 'inert';

/** One write to a field, from the calendar's op log (CMP-3). */
export interface HistoryWrite {
  opId: string;
  /** Device id (hex of its Ed25519 public key), its name ('' when unknown) and fingerprint (DEV-2). */
  device: string;
  deviceName: string;
  fingerprint: string;
  /** Microseconds since the Unix epoch (the op's wall_time). */
  wallTime: number;
  /** The value written (null: cleared). */
  value: Value | null;
  /** The value it replaced (null: cleared); absent when unknown (beyond the page) or `first`. */
  old?: Value | null;
  /** The field's first write: it replaced nothing. */
  first: boolean;
  status: HistoryStatus;
}

export interface FieldHistoryView {
  field: EventFieldName | 'deleted';
  /** Newest first. */
  writes: HistoryWrite[];
  /** Older writes not shown. */
  more: number;
}

/** The history of one entity: an event, a series, or one occurrence's own changes (override). */
export interface EntityHistoryView {
  entityId: string;
  role: 'event' | 'series' | 'occurrence';
  fields: FieldHistoryView[];
}

export interface EventHistory {
  /** For an occurrence of a repeating event: its own changes (if any), then the series'. */
  parts: EntityHistoryView[];
  /** Edits this device cannot read yet (no key): they may belong to this event (CMP-5). */
  unreadable: number;
}

/** `resyncing`: a calendar diverged from the others and is being refilled and re-based (SNAP-18). */
export type SyncState = 'offline' | 'connecting' | 'syncing' | 'resyncing' | 'synced';

export interface SyncStatus {
  state: SyncState;
  /** Ops written on this device that the relay has not acknowledged yet. */
  pendingUploads: number;
  /** ms since the Unix epoch of the last moment this device was fully in sync, or null. */
  lastSyncedAt: number | null;
  /** How far this device's clock is ahead of the relay's (ms); warn when large. null if unknown. */
  clockOffsetMs: number | null;
  /** Human-readable reason for the current state, if any. */
  detail?: string;
  /** Ops downloaded from the relay since this device's engine host started (diagnostics). */
  opsDownloaded?: number;
  /** Calendars this device started from a snapshot since then (SYNC-15; diagnostics). */
  snapshotStarts?: number;
  /** Snapshots this device made and the relay stored since then (SNAP-14; diagnostics). */
  snapshotUploads?: number;
  /** Calendars re-based on a refill since then (SNAP-18; diagnostics). */
  rebased?: number;
  /** Ops this device deleted by pruning since then (SNAP-16; diagnostics). */
  opsPruned?: number;
}

/** An error the UI must show: storage full, storage unavailable, corrupt data, rejected input. */
export interface HostError {
  code: string;
  message: string;
}

export interface Range {
  /** Inclusive UTC ms. */
  fromMs: number;
  /** Exclusive UTC ms. */
  toMs: number;
}

export type Unsubscribe = () => void;

/** A device as people see it (docs/PROTOCOL.md DEV-1, DEV-2). */
export interface DeviceInfo {
  /** Hex of the device's Ed25519 public key. */
  id: string;
  /** Display name the device gave itself ('' when unknown). */
  name: string;
  /** Short comparable code, e.g. "7K2M-Q9TX-4HDA-R1CE". */
  fingerprint: string;
  /** ms since the Unix epoch when it became a member (its add op's wall time), if known. */
  addedAt: number | null;
  /** ms since the Unix epoch of its newest op this device has seen, if any. */
  lastSeen: number | null;
  isThisDevice: boolean;
  /** Its role in the calendar listed (ROLE-3); null outside a calendar (thisDevice). */
  role: RoleName | null;
  /** One of this person's devices (this one, or a member of its personal document, PER-1). */
  mine: boolean;
  /**
   * Which person the device belongs to, as the id of one of its devices: this device's id for
   * mine; for others, devices whose own claims name each other share one (PER-6).
   */
  person: string;
  /**
   * In a calendar's list: whether this device may remove it there (ROLE-4: this device manages
   * the calendar; ROLE-12: or it is in this device's sponsor group there). Absent elsewhere.
   */
  removable?: boolean;
}

/** An invite link: the secret is in the URL fragment, which browsers never send to a server. */
export interface InviteLink {
  /** e.g. "https://host/#/join/<payload>". */
  url: string;
  /** ms since the Unix epoch. */
  expiresAt: number;
  calendarIds: string[];
}

/** One event of an .ics import (docs/PROTOCOL.md IMP-*): a series, a single event or an override. */
export interface ImportItem {
  /** The iCalendar UID: the event's id is derived from (calendar, UID), so a re-import updates it. */
  uid: string;
  /**
   * For an override (RECURRENCE-ID): the occurrence's original start in the series' zone. Its
   * entity is the override of that occurrence (SER-2) and stores only what differs (SER-3).
   */
  recurrenceId: string | null;
  /** STATUS:CANCELLED: for an override, the occurrence is cancelled (SER-4). */
  cancelled: boolean;
  /** Properties the app does not model, as content lines (kept for export). */
  extra: string;
  /** Every field as the file gives it (rrule '' when it does not repeat; alarms null = none given). */
  fields: EventFields;
}

export interface ImportResult {
  /** Events written (new or changed). */
  written: number;
  /** Events already as the file says (nothing written). */
  unchanged: number;
}

/** One event of a calendar as an export reads it (an override with the series' values filled in). */
export interface ExportItem {
  id: string;
  uid: string;
  recurrenceId: string | null;
  cancelled: boolean;
  extra: string;
  fields: EventFields;
}

// The month grid (month-layout.ts computes it in the host; [UI-18]).

/** What the month view asks: its grid, the display zone and how many lanes a week row fits. */
export interface MonthRequest {
  /** The grid's first day ("YYYY-MM-DD"); the grid is `weeks` rows of 7 consecutive days. */
  firstDay: string;
  weeks: number;
  /** The display zone (IANA) in which timed events fall on days. */
  zone: string;
  /** Lanes of bars a week row has room for (the view measures it; at least 1). */
  lanes: number;
  /** Calendars not drawn (hidden, pending choices included). */
  hidden: string[];
  /** Time changes the UI shows before the host reports them (optimistic edits): drawn at these. */
  moved: MovedEvent[];
}

export interface MovedEvent {
  calendarId: string;
  id: string;
  start: string;
  end: string;
}

/** One bar of a week row: columns 0..6, lane from 0 (only lanes < the row's `shown`). */
export interface MonthBar {
  view: EventView;
  startCol: number;
  endCol: number;
  lane: number;
  continuesBefore: boolean;
  continuesAfter: boolean;
}

export interface MonthWeek {
  /** Lanes shown: all the view fits when every bar does, else one fewer ("+N more" takes it). */
  shown: number;
  bars: MonthBar[];
  /** Per day (7): events on that day not shown ("+N more"); the day's full list has shown + more. */
  more: number[];
}

export interface MonthLayout {
  weeks: MonthWeek[];
  /** Events that fall on a day of the grid (shown or counted). */
  events: number;
  /** Keys (`calendarId/id`) of the request's moved events whose stored times are those already. */
  confirmed: string[];
}

/**
 * What the UI and the engine host share, defined once: the host (src/worker/host-api.ts HostApi)
 * and the UI's client (CalendarClient) both extend it, and HOST_METHODS lists it as data.
 */
export interface DataApi {
  listCalendars(): Promise<CalendarInfo[]>;
  createCalendar(name: string, color: string): Promise<string>;
  renameCalendar(calendarId: string, name: string, color: string): Promise<void>;
  setCalendarHidden(calendarId: string, hidden: boolean): Promise<void>;
  /** The calendar's default reminders, minutes before the start (REM-1). */
  setDefaultAlarms(calendarId: string, alarms: number[]): Promise<void>;
  /** Dismisses an event's reminders up to `untilMs` on every device (REM-3). Never moves back. */
  dismissReminder(calendarId: string, eventId: string, untilMs: number): Promise<void>;
  /** Occurrences with reminders starting in [fromMs, toMs) (at most 60 days), in shown calendars. */
  reminderOccurrences(fromMs: number, toMs: number): Promise<ReminderOccurrence[]>;

  /** Events overlapping the range, across all calendars (hidden ones included; the UI filters). */
  eventsInRange(range: Range): Promise<EventView[]>;
  /**
   * The month grid as the month view draws it ([UI-18]): per week row the bars that fit in
   * `lanes`, per day how many more there are (the day's full list is eventsInRange of that day).
   */
  monthLayout(request: MonthRequest): Promise<MonthLayout>;
  getEvent(calendarId: string, eventId: string): Promise<EventView | undefined>;

  updateEvent(calendarId: string, eventId: string, fields: Partial<EventFields>): Promise<void>;
  /** Deleting writes the Deleted register; `restoreEvent` (undo) writes it back to false. */
  deleteEvent(calendarId: string, eventId: string): Promise<void>;
  restoreEvent(calendarId: string, eventId: string): Promise<void>;
  /**
   * Moves an event to another calendar as one durable step (docs/PROTOCOL.md RT-13): the intent
   * is journaled first, the copy's id is derived from (source calendar, event id), so a move
   * replayed after a crash, or made on two devices at once, leaves exactly one copy. `fields`
   * (optional) are the values the copy gets, e.g. edits made in the same dialog. Returns the
   * new event id.
   */
  moveEvent(
    fromCalendarId: string,
    eventId: string,
    toCalendarId: string,
    fields?: EventFields,
  ): Promise<string>;
  /** Edits or deletes an occurrence of a repeating event with the scope the person chose. */
  editSeries(calendarId: string, edit: SeriesEdit): Promise<SeriesUndo>;
  /** A series' extra and skipped dates (the repeat editor lists them). */
  seriesExceptions(calendarId: string, seriesId: string): Promise<SeriesExceptions>;
  /** Restores a skipped occurrence (drops its EXDATE or un-cancels it); returns the undo. */
  restoreOccurrence(calendarId: string, seriesId: string, recurrenceId: string): Promise<SeriesUndo>;
  /** Undoes a series edit (writes the previous values back). */
  restoreSeries(calendarId: string, undo: SeriesUndo): Promise<void>;
  /** Writes a losing value again, so it becomes the newest write everywhere. */
  restoreConflict(calendarId: string, eventId: string, field: EventFieldName, opId: string): Promise<void>;
  /** Turns compliance mode on or off for a calendar (CMP-1). */
  setCompliance(calendarId: string, on: boolean): Promise<void>;
  /** Who turned a calendar's compliance mode on and off, and when: its newest 20 writes (CMP-1). */
  complianceHistory(calendarId: string): Promise<{ writes: HistoryWrite[]; more: number }>;
  /**
   * Each field's history of the event the dialog edits (an event id or an occurrence's id),
   * newest first, at most `limit` writes per field (CMP-3..6).
   */
  eventHistory(calendarId: string, eventId: string, limit?: number): Promise<EventHistory>;
  /** The next page of one field's history: writes older than op `beforeOpId` (CMP-6). */
  olderHistory(
    calendarId: string,
    entityId: string,
    field: EventFieldName | 'deleted',
    beforeOpId: string,
    limit?: number,
  ): Promise<FieldHistoryView>;
  /**
   * Restore from history (CMP-7): writes the value op `opId` gave `field` of entity `entityId` as
   * a new write. Returns the op of the value it replaced (for undo), or null when the field was unset.
   */
  restoreFromHistory(
    calendarId: string,
    entityId: string,
    field: EventFieldName | 'deleted',
    opId: string,
  ): Promise<{ undoOpId: string | null }>;

  /**
   * Writes the events of an .ics file into a calendar as one atomic step (IMP-3): all or nothing.
   * Progress comes as `import` host events with this `importId`; `cancelImport` stops it with
   * nothing written.
   */
  importEvents(calendarId: string, importId: string, items: ImportItem[]): Promise<ImportResult>;
  cancelImport(importId: string): Promise<void>;
  /** Every event of a calendar, for an .ics export. */
  exportEvents(calendarId: string): Promise<ExportItem[]>;

  /** Substring search over title, location and notes (case-insensitive), newest first. */
  search(query: string, limit?: number): Promise<EventView[]>;

  /** This device: its id, name and fingerprint. */
  thisDevice(): Promise<DeviceInfo>;
  setDeviceName(name: string): Promise<void>;
  /**
   * "Add device" (all of this device's calendars, `calendarIds` omitted) or "Share" (the given
   * calendars): writes one single-use invite per calendar and returns one link carrying them.
   * `origin` is the app's origin (the link's base); `ttlMs` defaults to 24 hours; `role` is what
   * the joiner gets (ROLE-5; default 'manager', as "Add device" of one's own device wants).
   */
  createInvite(origin: string, calendarIds?: string[], ttlMs?: number, role?: RoleName): Promise<InviteLink>;
  /** Joins the calendars of an invite link (or just its fragment). Resolves once joined and synced. */
  acceptInvite(link: string): Promise<{ calendarIds: string[] }>;
  /** Member devices of a calendar. */
  listMembers(calendarId: string): Promise<DeviceInfo[]>;
  /** Removes a device from a calendar and rotates the calendar's key (docs/PROTOCOL.md KEY-3). */
  removeDevice(calendarId: string, deviceId: string): Promise<void>;
  /** PER-1: this person's devices (this one first when it has no other), with names and fingerprints. */
  listMyDevices(): Promise<DeviceInfo[]>;
  /** PER-4: removes one of my devices from my devices and from every calendar, rotating keys (KEY-3). */
  removeMyDevice(deviceId: string): Promise<void>;
  /** Sets a member device's role in a calendar (this device must be a manager there, ROLE-4). */
  setRole(calendarId: string, deviceId: string, role: RoleName): Promise<void>;

  /**
   * A recovery file for every calendar this device is a member of and its personal document
   * (REC-1, ROLE-14): one long-lived single-use invite each, at this device's role there, sealed
   * under `password` (Argon2id). The text is the file to save.
   */
  makeRecoveryFile(password: string): Promise<RecoveryFile>;
  /** Joins each calendar of a recovery file as this (new) device (REC-2); per-calendar outcome. */
  restoreRecoveryFile(text: string, password: string): Promise<RecoveryResult>;
  /** The last recovery file this device made and what it does not cover (REC-4). */
  recoveryStatus(): Promise<RecoveryStatus>;
}

export interface RecoveryFileInfo {
  /** ms since the Unix epoch */
  madeAt: number;
  /** ms since the Unix epoch: its invites expire then */
  expiresAt: number;
  /** The calendars it covers. */
  calendarIds: string[];
}

export interface RecoveryStatus {
  /** The last file this device made (never its secrets), or null. */
  lastFile: RecoveryFileInfo | null;
  /** Calendars this device is in that the last file does not cover (all, if none). */
  uncoveredIds: string[];
  /** Whether any calendar this device is a member of has an event (when a file is first offered). */
  hasEvents: boolean;
}

export interface RecoveryFile extends RecoveryFileInfo {
  fileName: string;
  text: string;
}

export interface RecoveryResult {
  joined: { calendarId: string; name: string }[];
  failed: { calendarId: string; name: string; code: string; message: string }[];
}

/** The UI's door to its data: the shared calls plus subscriptions and a create that picks the id. */
export interface CalendarClient extends DataApi {
  onCalendarsChanged(cb: (calendars: CalendarInfo[]) => void): Unsubscribe;
  /** Calls back now and after every change (local, other tab, or remote) touching the range. */
  subscribeRange(range: Range, cb: (events: EventView[]) => void): Unsubscribe;
  /** The same for a month layout: now and after every change touching the grid's range. */
  subscribeMonth(request: MonthRequest, cb: (layout: MonthLayout) => void): Unsubscribe;
  createEvent(calendarId: string, fields: EventFields): Promise<string>;
  onSyncStatus(cb: (status: SyncStatus) => void): Unsubscribe;
  onError(cb: (error: HostError) => void): Unsubscribe;
  onMembersChanged(cb: (calendarId: string) => void): Unsubscribe;
  /** Progress of running imports (any tab's). */
  onImportProgress(cb: (p: ImportProgress) => void): Unsubscribe;
  /** Called after any change to any event (no data: the reminder loop re-reads what it needs). */
  onEventsChanged(cb: () => void): Unsubscribe;
}

export interface ImportProgress {
  importId: string;
  done: number;
  total: number;
}
