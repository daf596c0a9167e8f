// Between the importer's model (IcsEvent) and what the host stores and returns (ImportItem,
// ExportItem): the one place that knows how an iCalendar event maps onto the event fields.

import type { EventFields, ExportItem, ImportItem } from '../../worker/api.ts';
import type { IcsCalendar, IcsEvent } from './model.ts';

const sortedUnique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

function fieldsOf(ev: IcsEvent): EventFields {
  return {
    title: ev.title,
    start: ev.start,
    end: ev.end,
    allDay: ev.allDay,
    timeZone: ev.timeZone,
    location: ev.location,
    notes: ev.notes,
    rrule: ev.rrule ?? '',
    rdates: sortedUnique(ev.rdates),
    exdates: sortedUnique(ev.exdates),
    // No VALARM in the file: the calendar's default reminders apply (null), as for a new event.
    alarms: ev.alarms.length === 0 ? null : [...new Set(ev.alarms)].sort((a, b) => a - b),
  };
}

export function toImportItems(cal: IcsCalendar): ImportItem[] {
  return cal.events.map((ev) => ({
    uid: ev.uid,
    recurrenceId: ev.recurrenceId,
    cancelled: ev.cancelled,
    extra: ev.extra,
    fields: fieldsOf(ev),
  }));
}

export function toIcsEvents(items: ExportItem[]): IcsEvent[] {
  return items.map((it) => ({
    uid: it.uid,
    line: 0,
    recurrenceId: it.recurrenceId,
    title: it.fields.title,
    location: it.fields.location,
    notes: it.fields.notes,
    start: it.fields.start,
    end: it.fields.end,
    allDay: it.fields.allDay,
    timeZone: it.fields.timeZone,
    rrule: it.fields.rrule ? it.fields.rrule : null,
    rdates: it.fields.rdates ?? [],
    exdates: it.fields.exdates ?? [],
    cancelled: it.cancelled,
    alarms: it.fields.alarms ?? [],
    extra: it.extra,
  }));
}
