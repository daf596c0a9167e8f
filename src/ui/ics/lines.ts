// First pass over an .ics file, before any parser sees it: size, line length, content-line syntax,
// BEGIN/END nesting and the VEVENT count, each error with its line. Records where every VEVENT
// and each of its properties start, so later errors can name a line too. Memory: one unfolded line
// at a time plus a small record per VEVENT.

import { ICS_LIMITS, IcsError } from './model.ts';

export interface ScannedComponent {
  /** Line of BEGIN. */
  line: number;
  /** Upper-case property name -> line of its first occurrence (direct properties only). */
  props: Map<string, number>;
}

export interface Scan {
  /** Top-level VEVENTs (children of VCALENDAR) in file order. */
  events: ScannedComponent[];
  /**
   * The first content line (unfolded) that `bad` is true of, with its 1-based line and upper-case
   * name ({ line: 0, name: '' } if none), for locating parser errors.
   */
  locate(bad: (line: string) => boolean): { line: number; name: string };
}

const NAME = /^[A-Za-z0-9-]+[;:]/;

export function scanIcs(text: string): Scan {
  if (text.length > ICS_LIMITS.maxBytes)
    throw new IcsError(0, `the file is larger than ${ICS_LIMITS.maxBytes / 1024 / 1024} MB`);
  const stack: { name: string; line: number }[] = [];
  const events: ScannedComponent[] = [];
  let current: ScannedComponent | undefined;
  let calendars = 0;
  const handle = (line: string, at: number) => {
    if (line.trim() === '') return;
    if (!NAME.test(line) || line.indexOf(':') < 0)
      throw new IcsError(
        at,
        `not an iCalendar content line (NAME:value): ${JSON.stringify(line.slice(0, 60))}`,
      );
    const colon = line.indexOf(':');
    const semi = line.indexOf(';');
    const name = line.slice(0, semi >= 0 && semi < colon ? semi : colon).toUpperCase();
    if (name === 'BEGIN' || name === 'END') {
      // ical.js reads "BEGIN;X=1:VEVENT" as a property, and "BEGIN:VEVENT " as a component named
      // "vevent " (space kept): refused here, so both readers see the same components.
      if (semi >= 0 && semi < colon) throw new IcsError(at, `${name} takes no parameters`);
      const raw = line.slice(colon + 1);
      const comp = raw.trim().toUpperCase();
      if (name === 'BEGIN' && !/^[A-Za-z0-9-]+$/.test(raw))
        throw new IcsError(at, `not a component name: ${JSON.stringify(raw.slice(0, 60))}`);
      if (name === 'BEGIN') {
        if (stack.length === 0 && comp !== 'VCALENDAR')
          throw new IcsError(at, `expected BEGIN:VCALENDAR, found BEGIN:${comp}`);
        if (stack.length === 0 && ++calendars > 1)
          throw new IcsError(at, 'more than one VCALENDAR in the file');
        if (stack.length >= ICS_LIMITS.maxDepth) throw new IcsError(at, 'components nested too deeply');
        stack.push({ name: comp, line: at });
        if (comp === 'VEVENT' && stack.length === 2) {
          if (events.length >= ICS_LIMITS.maxEvents)
            throw new IcsError(at, `more than ${ICS_LIMITS.maxEvents} events in one file`);
          current = { line: at, props: new Map() };
          events.push(current);
        }
      } else {
        const open = stack.pop();
        if (open === undefined) throw new IcsError(at, `END:${comp} without a BEGIN`);
        if (open.name !== comp)
          throw new IcsError(at, `END:${comp} does not close BEGIN:${open.name} (line ${open.line})`);
        if (stack.length === 1) current = undefined;
      }
      return;
    }
    if (stack.length === 0) throw new IcsError(at, `${name} outside of BEGIN:VCALENDAR ... END:VCALENDAR`);
    if (current !== undefined && stack.length === 2 && !current.props.has(name)) current.props.set(name, at);
  };

  eachLine(text, handle);
  if (calendars === 0) throw new IcsError(0, 'not an iCalendar file: no BEGIN:VCALENDAR');
  const open = stack.at(-1);
  if (open !== undefined) throw new IcsError(open.line, `BEGIN:${open.name} is never closed`);

  return {
    events,
    locate(bad) {
      // Only used on the error path: a second pass over the text is fine there.
      let found = { line: 0, name: '' };
      eachLine(text, (line, at) => {
        if (found.line > 0 || line.trim() === '' || !bad(line)) return;
        found = { line: at, name: (/^[A-Za-z0-9-]+/.exec(line)?.[0] ?? '').toUpperCase() };
      });
      return found;
    },
  };
}

/** Calls `handle` with each content line unfolded (RFC 5545 3.1) and the line of the file it starts on. */
function eachLine(text: string, handle: (line: string, at: number) => void): void {
  let n = 0; // physical line number of the last line read
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let logical = '';
  let logicalLine = 0;
  while (pos < text.length) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    let line = text.slice(pos, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    pos = end + 1;
    n++;
    const c = line.charCodeAt(0);
    if ((c === 0x20 || c === 0x09) && logicalLine > 0) {
      // RFC 5545 3.1: a line starting with one space or tab continues the previous one.
      if (logical.length + line.length > ICS_LIMITS.maxLineChars)
        throw new IcsError(
          logicalLine,
          `a content line is longer than ${ICS_LIMITS.maxLineChars} characters`,
        );
      logical += line.slice(1);
      continue;
    }
    if (logicalLine > 0) handle(logical, logicalLine);
    if (line.length > ICS_LIMITS.maxLineChars)
      throw new IcsError(n, `a content line is longer than ${ICS_LIMITS.maxLineChars} characters`);
    logical = line;
    logicalLine = n;
  }
  if (logicalLine > 0) handle(logical, logicalLine);
}
