// Edit commands: create, save (field diff), move and resize (drag or keyboard), calendar move,
// delete, each with its undo (a later write, so undo syncs like any edit). App.tsx wires them to
// the views; the pure parts (field diff, keyboard steps) are unit-tested.
import type { CalendarClient, EventFields, EventView, OccurrenceInfo, SeriesScope } from '../worker/api.ts';
import { PALETTE } from './colors.ts';
import type { View } from './time/nav.ts';
import { addDays, MS_PER_MINUTE, msToWall, shiftEvent, wallToMs } from './time/zoned.ts';

export interface CommandDeps {
  client: CalendarClient;
  /** Runs a client call; a rejection becomes a visible error and resolves to undefined. */
  run: <T>(p: Promise<T>) => Promise<T | undefined>;
  /** Puts an edit on the undo stack and says so in the toast; the result takes it off again. */
  record: (label: string, undo: () => Promise<void>) => () => void;
  /** Shows new times at once (or drops them, null) until the client reports the write. */
  setOverride: (key: string, times: { start: string; end: string } | null) => void;
  /** Focuses an event once it is rendered. */
  focus: (key: string) => void;
  /**
   * Asks "This event" / "This and following events" / "All events" for an occurrence of a
   * repeating event; undefined when the person cancels. `allowThis` is false for a change of the
   * repetition itself.
   */
  askScope: (kind: 'edit' | 'delete', allowThis: boolean) => Promise<SeriesScope | undefined>;
}

/** What an open dialog edits: an existing event (with id) or a new one. */
export interface EditTarget {
  id?: string;
  calendarId: string;
  fields: EventFields;
  /** Set when the target is an occurrence of a repeating event. */
  occurrence?: OccurrenceInfo | undefined;
}

export type Times = { start: string; end: string };

export const eventKeyOf = (calendarId: string, id: string) => `${calendarId}/${id}`;

/** The fields that changed, and their values before (the undo write). Null when nothing changed. */
export function fieldDiff(
  before: EventFields,
  after: EventFields,
): { patch: Partial<EventFields>; undo: Partial<EventFields> } | null {
  const patch: Record<string, unknown> = {};
  const undo: Record<string, unknown> = {};
  for (const k of Object.keys(after) as (keyof EventFields)[]) {
    if (after[k] !== before[k]) {
      patch[k] = after[k];
      undo[k] = before[k];
    }
  }
  if (Object.keys(patch).length === 0) return null;
  return { patch: patch as Partial<EventFields>, undo: undo as Partial<EventFields> };
}

export interface KeyStep {
  key: string;
  altKey: boolean;
  shiftKey: boolean;
}

/**
 * New times for a keyboard move or resize of an event (Alt+arrows move, Alt+Shift+Up/Down resize),
 * or null when the key does nothing. Moves are by 15 minutes in time grids, by a day sideways, by
 * a week vertically in the month; an event never gets shorter than 15 minutes (or one day).
 */
export function keyboardTimes(ev: EventFields, k: KeyStep, view: View): (Times & { what: string }) | null {
  if (!k.altKey || !k.key.startsWith('Arrow')) return null;
  const vertical = k.key === 'ArrowUp' || k.key === 'ArrowDown';
  const sign = k.key === 'ArrowUp' || k.key === 'ArrowLeft' ? -1 : 1;
  if (k.shiftKey) {
    if (!vertical) return null;
    if (ev.allDay) {
      const end = addDays(ev.end, sign);
      return end <= ev.start ? null : { start: ev.start, end, what: 'Event resized' };
    }
    const endMs = wallToMs(ev.end, ev.timeZone) + sign * 15 * MS_PER_MINUTE;
    if (endMs < wallToMs(ev.start, ev.timeZone) + 15 * MS_PER_MINUTE) return null;
    return { start: ev.start, end: msToWall(endMs, ev.timeZone), what: 'Event resized' };
  }
  let by: { days?: number; minutes?: number };
  if (!vertical) by = { days: sign };
  else if (view === 'month') by = { days: 7 * sign };
  else if (ev.allDay || view === 'agenda') by = { days: sign };
  else by = { minutes: 15 * sign };
  return { ...shiftEvent(ev, by), what: 'Event moved' };
}

export function createCommands(d: CommandDeps) {
  const { client, run, record } = d;

  /** Creates an event; with no calendar yet, first a "Personal" one. Returns its key. */
  async function create(calendarId: string, fields: EventFields): Promise<string | undefined> {
    let cal = calendarId;
    if (cal === '') {
      const created = await run(client.createCalendar('Personal', PALETTE[0]!));
      if (!created) return undefined;
      cal = created;
    }
    const id = await run(client.createEvent(cal, fields));
    if (id === undefined) return undefined;
    d.focus(eventKeyOf(cal, id));
    record('Event created', () => client.deleteEvent(cal, id));
    return eventKeyOf(cal, id);
  }

  /** Moves an event to another calendar in one durable step (RT-13); undo moves it back. */
  async function moveToCalendar(from: string, id: string, to: string, fields?: EventFields): Promise<void> {
    const newId = await run(client.moveEvent(from, id, to, fields));
    if (newId === undefined) return;
    d.focus(eventKeyOf(to, newId));
    record('Event moved to another calendar', async () => {
      await client.moveEvent(to, newId, from);
    });
  }

  /** Saves a dialog: create, calendar move (with the edits), or the changed fields only. */
  async function save(target: EditTarget, calendarId: string, fields: EventFields): Promise<void> {
    if (!target.id) {
      await create(calendarId, fields);
      return;
    }
    if (target.occurrence) {
      await saveOccurrence(target, target.occurrence, calendarId, fields);
      return;
    }
    if (calendarId !== target.calendarId) {
      await moveToCalendar(target.calendarId, target.id, calendarId, fields);
      return;
    }
    const diff = fieldDiff(target.fields, fields);
    if (!diff) return;
    const id = target.id;
    await run(client.updateEvent(calendarId, id, diff.patch));
    record('Event saved', () => client.updateEvent(calendarId, id, diff.undo));
  }

  /** An occurrence: the person picks the scope, the host writes one entity (SER-1..5). */
  async function saveOccurrence(
    target: EditTarget,
    occ: OccurrenceInfo,
    calendarId: string,
    fields: EventFields,
  ): Promise<void> {
    let seriesId = occ.seriesId;
    if (calendarId !== target.calendarId) {
      // The whole repeating event moves, with its changed occurrences (RT-15); undo moves it back.
      const from = target.calendarId;
      const moved = await run(client.moveEvent(from, occ.seriesId, calendarId));
      if (moved === undefined) return;
      record('Repeating event moved to another calendar', async () => {
        await client.moveEvent(calendarId, moved, from);
      });
      seriesId = moved;
    }
    const diff = fieldDiff(target.fields, fields);
    if (!diff) return;
    const scope = await d.askScope('edit', !('rrule' in diff.patch));
    if (scope === undefined) return;
    const edit = { seriesId, recurrenceId: occ.recurrenceId, scope, fields: diff.patch };
    const undo = await run(client.editSeries(calendarId, edit));
    if (undo) record('Event saved', () => client.restoreSeries(calendarId, undo));
  }

  async function remove(calendarId: string, id: string, title: string, occ?: OccurrenceInfo): Promise<void> {
    if (occ) {
      const scope = await d.askScope('delete', true);
      if (scope === undefined) return;
      const edit = { seriesId: occ.seriesId, recurrenceId: occ.recurrenceId, scope, delete: true };
      const undo = await run(client.editSeries(calendarId, edit));
      if (undo) record(`Deleted “${title}”`, () => client.restoreSeries(calendarId, undo));
      return;
    }
    await run(client.deleteEvent(calendarId, id));
    record(`Deleted “${title}”`, () => client.restoreEvent(calendarId, id));
  }

  /**
   * Moves or resizes an event in time (drag or keyboard). The new times show at once; a failed
   * write takes them back. `keepFocus`: the event had keyboard focus and keeps it.
   */
  async function changeTimes(ev: EventView, times: Times, what: string, keepFocus: boolean): Promise<void> {
    const next: Times = { start: times.start, end: times.end };
    if (next.start === ev.start && next.end === ev.end) return;
    const key = eventKeyOf(ev.calendarId, ev.id);
    if (keepFocus) d.focus(key);
    d.setOverride(key, next);
    // The undo is recorded when the new times are drawn, not when the write returns: a Ctrl+Z
    // pressed in between undoes this change (after its write), never the one before it.
    const write = client.updateEvent(ev.calendarId, ev.id, next).then(() => true);
    const forget = record(what, async () => {
      if (await write.catch(() => false)) {
        await client.updateEvent(ev.calendarId, ev.id, { start: ev.start, end: ev.end });
      }
    });
    const ok = await run(write);
    if (!ok) {
      forget();
      d.setOverride(key, null);
    }
  }

  /** A drag ended at new instants: written back as wall times in the event's own zone. */
  function dragTo(ev: EventView, startMs: number, endMs: number): Promise<void> {
    const moved = startMs !== wallToMs(ev.start, ev.timeZone);
    return changeTimes(
      ev,
      { start: msToWall(startMs, ev.timeZone), end: msToWall(endMs, ev.timeZone) },
      moved ? 'Event moved' : 'Event resized',
      false,
    );
  }

  return { create, save, moveToCalendar, remove, changeTimes, dragTo };
}

export type Commands = ReturnType<typeof createCommands>;
