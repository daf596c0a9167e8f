// .ics text -> IcsCalendar, or an IcsError naming the line. Nothing is half-read: the whole file is
// checked (lines.ts), parsed (ical.js) and converted before anything is returned.

import ICAL from 'ical.js';
import { Temporal } from 'temporal-polyfill';
import { type ReadEvent, readEvent } from './event.ts';
import { scanIcs } from './lines.ts';
import { type IcsCalendar, IcsError, type IcsEvent } from './model.ts';
import { fileWall, inZone, type JProp, type TimeContext } from './times.ts';
import { canonicalZone, resolveTzid } from './zones.ts';

type JComp = [string, JProp[], JComp[]];

export interface ParseOptions {
  /** Zone for floating times when the file has no X-WR-TIMEZONE (the device's zone). */
  defaultZone: string;
}

export function parseIcs(text: string, opts: ParseOptions): IcsCalendar {
  const scan = scanIcs(text);
  let root: JComp;
  try {
    // ical.js does not skip a byte order mark (the scan does): it would be read as part of "BEGIN".
    root = ICAL.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) as JComp;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    // ical.js names no line, and quotes the line (if at all) unfolded or reshaped: each content
    // line is read again alone to find the first one it refuses (BEGIN/END were checked by the scan).
    const at = scan.locate((line) => {
      if (/^(BEGIN|END):/i.test(line)) return false;
      try {
        ICAL.parse.property(line, ICAL.design.icalendar);
        return false;
      } catch {
        return true;
      }
    });
    throw new IcsError(at.line, at.name === '' ? msg : `${at.name}: ${msg}`);
  }
  const calProp = (name: string) => root[1].find((p) => p[0] === name)?.[3];
  const warnings: string[] = [];
  const warn = (m: string) => {
    if (warnings.length < 100) warnings.push(m);
  };
  const vtimezones = new Map<string, ICAL.Component>();
  for (const c of root[2]) {
    if (c[0] !== 'vtimezone') continue;
    const tzid = c[1].find((p) => p[0] === 'tzid')?.[3];
    if (typeof tzid === 'string') vtimezones.set(tzid, new ICAL.Component(c));
  }
  const vevents = root[2].filter((c) => c[0] === 'vevent');
  if (vevents.length !== scan.events.length)
    throw new IcsError(0, 'the file could not be read consistently (components out of place)');

  const ctx: TimeContext = {
    vtimezones,
    prefer: [],
    years: yearSpan(vevents),
    cache: new Map(),
    loaded: new Map(),
    floating: opts.defaultZone,
    warn,
  };
  const xwr = calProp('x-wr-timezone');
  let zone = '';
  if (typeof xwr === 'string' && xwr.trim() !== '') {
    zone = resolveTzid(xwr.trim(), ctx) ?? '';
    if (zone === '') warn(`X-WR-TIMEZONE "${xwr.slice(0, 40)}" is not a known zone; ignored`);
  }
  const device = canonicalZone(opts.defaultZone) ?? 'UTC';
  ctx.floating = zone || device;
  ctx.prefer = [...new Set([ctx.floating, device])];

  const read: ReadEvent[] = vevents.map((c, i) => readEvent(c, scan.events[i]!, ctx, warn));
  return {
    name: typeof calProp('x-wr-calname') === 'string' ? calendarName(String(calProp('x-wr-calname'))) : '',
    zone,
    events: linkOverrides(read, warn),
    warnings,
  };
}

/**
 * X-WR-CALNAME as text, at most 200 UTF-16 units (no half of a surrogate pair). ical.js does not
 * know the property, so it keeps TEXT escapes (RFC 5545 3.3.11): "Team\, A" came in as written.
 */
function calendarName(raw: string): string {
  const s = raw.replace(/\\([\\;,nN])/g, (_, c: string) => (c === 'n' || c === 'N' ? '\n' : c)).slice(0, 200);
  return /[\uD800-\uDBFF]$/.test(s) ? s.slice(0, -1) : s;
}

function yearSpan(vevents: JComp[]): [number, number] {
  let lo = 9999;
  let hi = 0;
  for (const c of vevents) {
    const v = c[1].find((p) => p[0] === 'dtstart')?.[3];
    const y = typeof v === 'string' ? Number(v.slice(0, 4)) : Number.NaN;
    if (Number.isInteger(y) && y > 0) {
      lo = Math.min(lo, y);
      hi = Math.max(hi, y);
    }
  }
  return lo > hi ? [2000, 2000] : [lo, hi];
}

/**
 * Gives each override its RECURRENCE-ID in its series' zone; an override whose series is not in
 * the file becomes a single event (shown, not dropped). Duplicates keep the last one.
 */
function linkOverrides(read: ReadEvent[], warn: (m: string) => void): IcsEvent[] {
  const series = new Map<string, ReadEvent>();
  for (const ev of read) {
    if (ev.recurrence !== null) continue;
    if (series.has(ev.uid))
      warn(`line ${ev.line}: a second event with UID ${ev.uid.slice(0, 60)} replaces the first`);
    series.set(ev.uid, ev);
  }
  const out = new Map<string, IcsEvent>();
  for (const ev of read) {
    const { recurrence, recurrenceLine, ...rest } = ev;
    if (recurrence === null) {
      out.set(ev.uid, rest);
      continue;
    }
    const master = series.get(ev.uid);
    if (master === undefined) {
      // Google exports single occurrences of series the user was invited to, without the series.
      warn(
        `line ${ev.line}: an occurrence of a repeating event that is not in the file is imported as a single event`,
      );
      const own = fileWall(inZone(recurrence, ev.timeZone), 'recurrence-id', recurrenceLine);
      out.set(`${ev.uid}\n${own}`, { ...rest, uid: `${ev.uid}#${own}`.slice(0, 255) });
      continue;
    }
    if (master.rrule === null && master.rdates.length === 0) {
      warn(`line ${ev.line}: RECURRENCE-ID on an event that does not repeat; ignored`);
      continue;
    }
    const w = inZone(recurrence, master.timeZone);
    const rid = fileWall(
      master.allDay && w instanceof Temporal.PlainDateTime ? w.toPlainDate() : w,
      'recurrence-id',
      recurrenceLine,
    );
    const key = `${ev.uid}\n${rid}`;
    if (out.has(key)) warn(`line ${ev.line}: a second override of the same occurrence replaces the first`);
    out.set(key, { ...rest, recurrenceId: rid });
  }
  return [...out.values()];
}
