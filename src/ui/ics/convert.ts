// Between the importer's model (IcsEvent) and what the host stores and returns (ImportItem,
// ExportItem): the one place that knows how an iCalendar event maps onto the event fields.

import type { EventFields, ExportItem, ImportItem } from '../../worker/api.ts';
import type { IcsCalendar, IcsEvent } from './model.ts';

function fieldsOf(ev: IcsEvent): EventFields {
  return {
    title: ev.title,
    start: ev.start,
    end: ev.end,
    allDay: ev.allDay,
    timeZone: ev.timeZone,
    location: ev.location,
    notes: ev.notes,
  };
}

export function toImportItems(cal: IcsCalendar): ImportItem[] {
  return cal.events
    .filter((ev) => ev.recurrenceId === null)
    .map((ev) => ({ uid: ev.uid, fields: fieldsOf(ev) }));
}

export function toIcsEvents(items: ExportItem[]): IcsEvent[] {
  return items.map((it) => ({
    uid: it.uid,
    line: 0,
    recurrenceId: null,
    title: it.fields.title,
    location: it.fields.location,
    notes: it.fields.notes,
    start: it.fields.start,
    end: it.fields.end,
    allDay: it.fields.allDay,
    timeZone: it.fields.timeZone,
    rrule: null,
    rdates: [],
    exdates: [],
    cancelled: false,
    alarms: [],
    extra: '',
  }));
}
