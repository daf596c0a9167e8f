// "Export": reads calendars' events from the host, writes one .ics and hands it to the browser
// as a download. Loaded on first use (it brings the serializer).

import type { CalendarClient, CalendarInfo } from '../../worker/api.ts';
import { toIcsEvents } from './convert.ts';
import { serializeIcs } from './serialize.ts';

/** A file name from a calendar name: letters, digits, spaces, dashes; never empty. */
export function icsFileName(name: string): string {
  const base = name
    .replace(/[^\p{L}\p{N} _-]+/gu, '')
    .trim()
    .slice(0, 60);
  return `${base || 'calendar'}.ics`;
}

/** The .ics text of the given calendars (one calendar: its name as X-WR-CALNAME). */
export async function exportText(
  client: CalendarClient,
  calendars: CalendarInfo[],
  zone: string,
  nowMs = Date.now(),
): Promise<string> {
  const parts = [];
  for (const c of calendars)
    parts.push({ name: c.name, events: toIcsEvents(await client.exportEvents(c.id)) });
  return serializeIcs(parts, { nowMs, zone });
}

export async function downloadIcs(
  client: CalendarClient,
  calendars: CalendarInfo[],
  zone: string,
  fileName: string,
): Promise<number> {
  const text = await exportText(client, calendars, zone);
  const blob = new Blob([text], { type: 'text/calendar;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return text.split('\r\nBEGIN:VEVENT').length - 1;
}
