import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ICS_LIMITS, IcsError, summarize } from './model.ts';
import { appOccurrences, icalOccurrences, modelOccurrences } from './occurrences.testkit.ts';
import { parseIcs } from './parse.ts';
import { fold, serializeIcs } from './serialize.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const UNTIL = '2027-01-01';
const DEVICE = 'Asia/Tokyo';

describe('import of real export shapes, occurrence by occurrence against ical.js', () => {
  for (const name of ['google.ics', 'apple.ics', 'outlook.ics', 'thunderbird.ics']) {
    it(`[ICS-1] ${name}: every occurrence equals ical.js's expansion of the raw file`, async () => {
      const text = fixture(name);
      const cal = parseIcs(text, { defaultZone: DEVICE });
      const want = icalOccurrences(text, cal.zone || DEVICE, UNTIL);
      const got = modelOccurrences(cal, UNTIL);
      expect(want.length).toBeGreaterThan(5);
      expect(got).toEqual(want);
      // And by the app's own expansion, the one the calendar draws with.
      expect(await appOccurrences(cal, UNTIL)).toEqual(want);
    });
  }

  it('[ICS-1] Google: zones, overrides, cancelled occurrence, alarms, kept properties', () => {
    const cal = parseIcs(fixture('google.ics'), { defaultZone: DEVICE });
    expect(cal.name).toBe('Work');
    expect(cal.zone).toBe('Europe/Berlin');
    const standup = cal.events.find((e) => e.title === 'Stand-up' && e.recurrenceId === null)!;
    expect(standup).toMatchObject({
      start: '2024-01-08T09:00',
      end: '2024-01-08T09:15',
      timeZone: 'Europe/Berlin',
      rrule: 'FREQ=WEEKLY;WKST=MO;UNTIL=20240428T215959Z;BYDAY=MO,WE,FR',
      exdates: ['2024-01-17T09:00', '2024-04-01T09:00'],
      alarms: [10],
      location: 'Room 4.12, Building B',
    });
    expect(standup.notes).toContain('Keep it short; 15 minutes.');
    expect(standup.extra).toContain('ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED');
    expect(standup.extra).toContain('X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij');
    expect(standup.extra).not.toMatch(/DTSTAMP|LAST-MODIFIED/);
    const moved = cal.events.find((e) => e.recurrenceId === '2024-01-24T09:00')!;
    expect(moved).toMatchObject({ start: '2024-01-24T10:00', title: 'Stand-up (late)', cancelled: false });
    expect(cal.events.find((e) => e.recurrenceId === '2024-01-29T09:00')?.cancelled).toBe(true);
    const birthday = cal.events.find((e) => e.title === "Anna's birthday")!;
    // All-day alarm 15 hours before midnight: the day before at 09:00.
    expect(birthday).toMatchObject({ allDay: true, start: '1990-03-15', end: '1990-03-16', alarms: [900] });
    // A UTC single event is shown in the calendar's zone, same instant.
    expect(cal.events.find((e) => e.title.startsWith('Call with'))).toMatchObject({
      start: '2024-03-01T15:00',
      timeZone: 'Europe/Berlin',
    });
    expect(summarize(cal)).toEqual({
      events: 6,
      repeating: 3,
      overrides: 2,
      cancelled: 1,
      years: [1990, 2024],
    });
  });

  it('[ICS-2] Outlook: Windows zone ids and a display-name VTIMEZONE map to IANA zones', () => {
    const cal = parseIcs(fixture('outlook.ics'), { defaultZone: DEVICE });
    expect(cal.events.find((e) => e.title === 'Sprint review')?.timeZone).toBe('Europe/Berlin');
    expect(cal.events.find((e) => e.title === 'Call with Sydney')?.timeZone).toMatch(
      /^Australia\/(Sydney|Melbourne)$/,
    );
    expect(cal.events.find((e) => e.recurrenceId === '2024-03-26T10:00')?.start).toBe('2024-03-26T14:00');
  });

  it('[ICS-2] Thunderbird: legacy prefixed TZID, UTC EXDATE, DURATION, RELATED=END alarm, floating time', () => {
    const cal = parseIcs(fixture('thunderbird.ics'), { defaultZone: DEVICE });
    expect(cal.events.find((e) => e.title === 'Conference talk')).toMatchObject({
      timeZone: 'Europe/Paris',
      start: '2024-06-10T08:30',
      end: '2024-06-10T10:00',
      alarms: [-80],
    });
    expect(cal.events.find((e) => e.title === 'Pottery class' && !e.recurrenceId)?.exdates).toEqual([
      '2024-04-11T19:00',
    ]);
    expect(cal.events.find((e) => e.title === 'Lunch (floating)')).toMatchObject({
      timeZone: DEVICE,
      start: '2024-04-02T12:00',
    });
    expect(cal.events.find((e) => e.title === 'Long weekend')).toMatchObject({
      start: '2024-05-03',
      end: '2024-05-06',
    });
  });
});

describe('malformed and hostile files', () => {
  const base = (body: string) => `BEGIN:VCALENDAR\r\nVERSION:2.0\r\n${body}END:VCALENDAR\r\n`;
  const cases: [string, string, number, RegExp][] = [
    ['not a content line', base('BEGIN:VEVENT\r\nthis is not ics\r\nEND:VEVENT\r\n'), 4, /content line/],
    ['unclosed component', 'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\n', 2, /never closed/],
    ['mismatched END', base('BEGIN:VEVENT\r\nEND:VTODO\r\n'), 4, /does not close BEGIN:VEVENT/],
    ['no DTSTART', base('BEGIN:VEVENT\r\nUID:a\r\nSUMMARY:x\r\nEND:VEVENT\r\n'), 3, /without DTSTART/],
    ['bad date', base('BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20241340T090000Z\r\nEND:VEVENT\r\n'), 5, /DTSTART/],
    ['garbage date', base('BEGIN:VEVENT\r\nUID:a\r\nDTSTART:2025garbage\r\nEND:VEVENT\r\n'), 5, /DTSTART/],
    [
      'end before start',
      base('BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T090000Z\r\nEND:VEVENT\r\n'),
      6,
      /ends before/,
    ],
    [
      'unknown zone without VTIMEZONE',
      base('BEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=Mars/Olympus:20240101T100000\r\nEND:VEVENT\r\n'),
      5,
      /Mars\/Olympus/,
    ],
    [
      'bad RRULE',
      base('BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101\r\nRRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\n'),
      6,
      /RRULE/,
    ],
    ['not ics at all', 'hello world\n', 1, /content line/],
  ];
  for (const [what, text, line, msg] of cases) {
    it(`[ICS-3] ${what}: a clear error with the line`, () => {
      let err: unknown;
      try {
        parseIcs(text, { defaultZone: 'UTC' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(IcsError);
      expect((err as IcsError).line).toBe(line);
      expect((err as IcsError).message).toMatch(msg);
    });
  }

  it('[ICS-4] bounded: oversized file, endless line, too many events and deep nesting are refused early', () => {
    expect(() => parseIcs('x'.repeat(ICS_LIMITS.maxBytes + 1), { defaultZone: 'UTC' })).toThrow(
      /larger than/,
    );
    const longLine = base(`X-A:${'a'.repeat(74)}\r\n${` ${'a'.repeat(74)}\r\n`.repeat(4000)}`);
    expect(() => parseIcs(longLine, { defaultZone: 'UTC' })).toThrow(/longer than/);
    const many = base(
      'BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101\r\nEND:VEVENT\r\n'.repeat(ICS_LIMITS.maxEvents + 1),
    );
    expect(() => parseIcs(many, { defaultZone: 'UTC' })).toThrow(/more than 50000 events/);
    const deep = base(`${'BEGIN:X\r\n'.repeat(20)}${'END:X\r\n'.repeat(20)}`);
    expect(() => parseIcs(deep, { defaultZone: 'UTC' })).toThrow(/nested too deeply/);
  });

  it('[ICS-4] oversized texts are cut and oversized unknown properties dropped, with warnings', () => {
    const big = 'é'.repeat(6000);
    const text = base(
      `BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20240101\r\nSUMMARY:${big}\r\nX-BLOB:${'b'.repeat(20000)}\r\nX-SMALL:keep\r\nEND:VEVENT\r\n`,
    );
    const cal = parseIcs(text, { defaultZone: 'UTC' });
    const ev = cal.events[0]!;
    expect(new TextEncoder().encode(ev.title).length).toBeLessThanOrEqual(ICS_LIMITS.maxTextBytes + 3);
    expect(ev.extra).toBe('X-SMALL:keep');
    expect(cal.warnings.join('\n')).toMatch(/SUMMARY was cut[\s\S]*X-BLOB/);
  });
});

describe('export', () => {
  it('[ICS-4] unknown properties and sub-components come back on export, long ones intact', () => {
    const long = `X-NOTE:${'x'.repeat(200)}`;
    const text = [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'BEGIN:VEVENT',
      'UID:k@test',
      'DTSTART:20240101T100000Z',
      'CATEGORIES:Work,Travel',
      'BEGIN:X-THING',
      long.slice(0, 75),
      ` ${long.slice(75, 149)}`,
      ` ${long.slice(149)}`,
      'END:X-THING',
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
    const cal = parseIcs(text, { defaultZone: 'UTC' });
    const out = serializeIcs([{ name: 'x', events: cal.events }], { nowMs: 0, zone: 'UTC' });
    const unfolded = out.replace(/\r\n[ \t]/g, '');
    expect(unfolded).toContain('CATEGORIES:Work,Travel\r\n');
    expect(unfolded).toContain(`BEGIN:X-THING\r\n${long}\r\nEND:X-THING\r\n`);
    expect(parseIcs(out, { defaultZone: 'UTC' }).events[0]?.extra).toBe(cal.events[0]?.extra);
  });

  it('[ICS-5] folds at 75 octets without splitting UTF-8, CRLF everywhere', () => {
    const line = `DESCRIPTION:${'ab🎆ü'.repeat(40)}`;
    const folded = fold(line);
    const physical = folded.split('\r\n').slice(0, -1);
    for (const p of physical) expect(new TextEncoder().encode(p).length).toBeLessThanOrEqual(75);
    expect(physical.map((p, i) => (i === 0 ? p : p.slice(1))).join('')).toBe(line);
    expect(folded.endsWith('\r\n')).toBe(true);
  });

  for (const name of ['google.ics', 'apple.ics', 'outlook.ics', 'thunderbird.ics']) {
    it(`[ICS-6] ${name}: import, export, re-import give the same occurrences (ical.js agrees on the export)`, () => {
      const cal = parseIcs(fixture(name), { defaultZone: DEVICE });
      const out = serializeIcs([{ name: cal.name, events: cal.events }], {
        nowMs: Date.UTC(2026, 10, 27),
        zone: cal.zone || DEVICE,
      });
      expect(out.split('\r\n').every((l) => new TextEncoder().encode(l).length <= 75)).toBe(true);
      expect(out).not.toMatch(/[^\r]\n/);
      const again = parseIcs(out, { defaultZone: DEVICE });
      expect(modelOccurrences(again, UNTIL)).toEqual(modelOccurrences(cal, UNTIL));
      expect(icalOccurrences(out, DEVICE, UNTIL)).toEqual(modelOccurrences(cal, UNTIL));
      // Everything modelled and kept survives (UIDs, alarms, unknown properties).
      const strip = (c: typeof cal) => c.events.map(({ line: _line, ...rest }) => rest);
      expect(strip(again)).toEqual(strip(cal));
    });
  }

  it('[ICS-5] every used zone gets a VTIMEZONE; UTC and all-day need none; every event has UID and DTSTAMP', () => {
    const cal = parseIcs(fixture('outlook.ics'), { defaultZone: DEVICE });
    const out = serializeIcs([{ name: 'x', events: cal.events }], {
      nowMs: Date.UTC(2026, 0, 1),
      zone: DEVICE,
    });
    expect(out).toContain('BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n');
    expect(out).toMatch(/TZID:Australia\/(Sydney|Melbourne)\r\n/);
    const events = out.split('BEGIN:VEVENT').length - 1;
    expect(out.split('\r\nUID:').length - 1).toBe(events);
    expect(out.split('\r\nDTSTAMP:20260101T000000Z').length - 1).toBe(events);
  });
});
