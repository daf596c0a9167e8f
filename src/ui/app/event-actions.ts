// What the views and the event dialog do to events: open a new one (next full hour today, 09:00
// on another day), open one, save, delete, keyboard moves and deletes on a focused event; a viewer's
// calendars are read-only here (ROLE-4: the engine refuses their writes anyway).
import type { KeyboardEvent as ReactKeyboardEvent } from 'react';
import type { CalendarInfo, EventFields, OccurrenceInfo } from '../../worker/api.ts';
import { type createCommands, keyboardTimes } from '../commands.ts';
import { eventKey } from '../components/EventChip.tsx';
import { VIEW_ONLY } from '../components/EventReadOnly.tsx';
import { titleOf, type UiEvent } from '../model.ts';
import type { Settings } from '../settings.ts';
import { pickDefaultCalendar } from '../settings.ts';
import type { Route } from '../time/nav.ts';
import { addDays, MS_PER_MINUTE, msToWall, msToZoned, wallToMs } from '../time/zoned.ts';
import type { useEventDialog } from './event-dialog.ts';
import type { ToastState } from './feedback.ts';

export interface EventActionDeps {
  calendars: CalendarInfo[];
  shared: ReadonlySet<string>;
  settings: Settings;
  route: Route;
  today: string;
  now: number;
  zone: string;
  dialog: ReturnType<typeof useEventDialog>;
  commands: ReturnType<typeof createCommands>;
  setToast: (t: ToastState) => void;
}

export function eventActions(x: EventActionDeps) {
  const { calendars, commands, dialog: d, zone } = x;
  // New events go to a calendar this device may write (with none, saving creates "Personal").
  const writable = calendars.filter((c) => c.role !== 'viewer');
  const canWrite = (calendarId: string) => calendars.find((c) => c.id === calendarId)?.role !== 'viewer';
  const viewOnly = (calendarId: string) => {
    if (canWrite(calendarId)) return false;
    x.setToast({ text: VIEW_ONLY });
    return true;
  };

  const openNew = (slot?: { start: string; end: string; allDay: boolean }) => {
    const s = slot ?? defaultSlot(x);
    const fields: EventFields = {
      title: '',
      start: s.start,
      end: s.allDay ? addDays(s.end, 1) : s.end,
      allDay: s.allDay,
      timeZone: zone,
      location: '',
      notes: '',
    };
    d.setDialog({
      calendarId: pickDefaultCalendar(writable, x.settings.defaultCalendar, x.shared),
      fields,
      conflicts: [],
    });
  };

  const save = async (calendarId: string, fields: EventFields) => {
    const target = d.dialog;
    if (!target) return;
    // The dialog closes only once the write is durable (or has failed and says so): closing it
    // earlier would let a reload in that moment lose an edit the user saw as saved.
    try {
      await commands.save(target, calendarId, fields);
    } finally {
      d.setDialog(null);
    }
  };

  const remove = async (calendarId: string, id: string, title: string, occ?: OccurrenceInfo) => {
    d.setDialog(null);
    await commands.remove(calendarId, id, title, occ);
  };

  const onEventKey = (e: ReactKeyboardEvent<HTMLButtonElement>, ui: UiEvent) => {
    const ev = ui.ev;
    if ((e.key === 'Delete' || e.key === 'Backspace') && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      if (viewOnly(ev.calendarId)) return;
      void remove(ev.calendarId, ev.id, titleOf(ev));
      return;
    }
    if (!e.altKey || !e.key.startsWith('Arrow')) return;
    e.preventDefault();
    e.stopPropagation();
    if (viewOnly(ev.calendarId)) return;
    const next = keyboardTimes(ev, e, x.route.view);
    if (next) void commands.changeTimes(ev, next, next.what, hasFocus(ui));
  };

  return { writable, canWrite, viewOnly, openNew, save, remove, onEventKey };
}

/** A new event's times when no slot was picked: the next full hour today, 09:00 on another day. */
function defaultSlot(x: EventActionDeps): { start: string; end: string; allDay: boolean } {
  const { route, today, now, zone } = x;
  const base =
    route.date === today ? msToZoned(now, zone).round({ smallestUnit: 'hour', roundingMode: 'ceil' }) : null;
  const start = base ? msToWall(base.epochMilliseconds, zone) : `${route.date}T09:00`;
  const end = msToWall(wallToMs(start, zone) + x.settings.eventMinutes * MS_PER_MINUTE, zone);
  return { start, end, allDay: false };
}

function hasFocus(ui: UiEvent): boolean {
  return (
    document.activeElement instanceof HTMLElement &&
    document.activeElement.dataset['eventKey'] === eventKey(ui)
  );
}
