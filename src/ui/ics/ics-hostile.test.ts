// Attacker-style property tests for the .ics importer and exporter (docs/PROTOCOL.md ICS-3..ICS-6):
// real export shapes mutated at random, arbitrary texts through export and import, and recurrence
// data sized to exhaust. The bar: a clear error with its line or a bounded result, never a throw,
// never an unexpected TypeError/RangeError (readIcs's "the file could not be read" fallback), never
// a hang. fast-check prints the seed and the shrunk case of any failure.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Temporal } from 'temporal-polyfill';
import { describe, expect, it } from 'vitest';
import { parseRRule } from '../../engine/index.ts';
import { toImportItems } from './convert.ts';
import { ICS_LIMITS, type IcsEvent } from './model.ts';
import { parseIcs } from './parse.ts';
import { type ReadResult, readIcs } from './read.ts';
import { serializeIcs } from './serialize.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
const FIXTURES = ['google.ics', 'apple.ics', 'outlook.ics', 'thunderbird.ics'];
const encoder = new TextEncoder();
const utf8 = (s: string) => encoder.encode(s).length;
/** The app's wall-clock format (src/engine/series.ts WALL): four-digit years. */
const WALL = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?)?$/;
/** Runs per property (ICS_RUNS=20000 for a deep search; the time bounds below assume the default). */
const RUNS = Number(process.env['ICS_RUNS'] ?? 300);
const TIMEOUT = 60_000 * Math.max(1, RUNS / 300);
/** Errors about the file as a whole, which have no line to name. */
const WHOLE_FILE = /no BEGIN:VCALENDAR|larger than/;

/** What readIcs may answer for any text: a bounded result, or an IcsError's message with its line. */
function expectClearOutcome(r: ReadResult): void {
  if (!r.ok) {
    expect(r.message).not.toBe('');
    // The fallback means a TypeError/RangeError leaked from somewhere: a bug at its source.
    expect(r.message).not.toMatch(/^the file could not be read: /);
    if (!WHOLE_FILE.test(r.message)) {
      expect(r.line).toBeGreaterThanOrEqual(1);
      expect(r.message.startsWith(`line ${r.line}: `)).toBe(true);
    }
    return;
  }
  const { items, summary } = r.value;
  expect(items.length).toBeLessThanOrEqual(ICS_LIMITS.maxEvents);
  expect(summary.events).toBeLessThanOrEqual(items.length);
  for (const it of items) {
    const f = it.fields;
    for (const w of [f.start, f.end, ...(f.rdates ?? []), ...(f.exdates ?? [])]) expect(w).toMatch(WALL);
    if (it.recurrenceId !== null) expect(it.recurrenceId).toMatch(WALL);
    expect(f.end >= f.start).toBe(true);
    expect(f.rdates?.length ?? 0).toBeLessThanOrEqual(ICS_LIMITS.maxDates);
    expect(f.exdates?.length ?? 0).toBeLessThanOrEqual(ICS_LIMITS.maxDates);
    expect(f.alarms?.length ?? 0).toBeLessThanOrEqual(ICS_LIMITS.maxAlarms);
    for (const t of [f.title, f.location, f.notes])
      expect(utf8(t)).toBeLessThanOrEqual(ICS_LIMITS.maxTextBytes);
    expect(utf8(it.extra)).toBeLessThanOrEqual(ICS_LIMITS.maxExtraBytes);
    expect(utf8(it.uid)).toBeLessThanOrEqual(255 * 3);
  }
}

// --- ICS-3 / ICS-4: mutated real files ---------------------------------------------------------

/** Characters that matter to the content-line grammar, folding, and to decoders. */
const HOSTILE_CHARS = [
  ':',
  ';',
  '=',
  '"',
  ',',
  '\\',
  '\r',
  '\n',
  '\r\n',
  ' ',
  '\t',
  '\r\n ',
  '\r\n\t',
  '\0',
  '\uD800',
  '\uDC00',
  '\uFEFF',
  'é',
  '🎆',
  '0',
  '9',
  '-',
  '+',
  'T',
  'Z',
];

/** Whole lines an attacker would try: out-of-range values, broken structure, zone tricks. */
const HOSTILE_LINES = [
  'RRULE:FREQ=DAILY;COUNT=99999999999999999999',
  'RRULE:FREQ=DAILY;INTERVAL=0',
  'RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-9999',
  'RRULE:FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1',
  'RRULE:FREQ=SECONDLY',
  'RRULE:FREQ=MINUTELY;INTERVAL=1',
  'RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30',
  'RRULE:FREQ=YEARLY;BYDAY=MO,TU,WE,TH,FR,SA,SU',
  'RRULE:',
  'RRULE:FREQ=WEEKLY;UNTIL=99991231T999999Z',
  'RRULE:FREQ=DAILY;UNTIL=20240230',
  'RRULE:FREQ=DAILY;X-FOO=1',
  'RRULE:FREQ=DAILY;BYDAY=99MO',
  'RRULE:FREQ=DAILY;WKST=XX',
  'DTSTART:20240230',
  'DTSTART:99991231T999999',
  'DTSTART:99991231T235959Z',
  'DTSTART:00000101T000000Z',
  'DTSTART;VALUE=DATE:20240230',
  'DTSTART;VALUE=DATE:99991231',
  'DTSTART;TZID=:20240101T000000',
  'DTSTART;TZID="Europe/Berlin":20240101T000000',
  'DTSTART;TZID=Europe/Berlin:20240331T023000',
  'DTSTART;TZID=(UTC+10:00) Canberra, Melbourne, Sydney:99991231T235959',
  'DTSTART;TZID=(UTC+10:00) Canberra, Melbourne, Sydney:00000101T000000',
  'DTSTART;VALUE=PERIOD:20240101T000000Z/PT1H',
  'DTSTART;VALUE=TEXT:hello',
  'DTSTART;VALUE=DATE-TIME:20240101',
  'DTEND:99991231T235959Z',
  'DTEND;VALUE=DATE:99991231',
  'DURATION:P99999999999999999999D',
  'DURATION:P99999999999W',
  'DURATION:P9999999D',
  'DURATION:PT99999999999H',
  'DURATION:-P1D',
  'DURATION:P',
  'RDATE:20240230',
  'RDATE;VALUE=PERIOD:20240101T000000Z/20240102T000000Z',
  'RDATE;VALUE=PERIOD:20240101T000000Z/PT1H',
  'RDATE;VALUE=PERIOD:garbage',
  'EXDATE:99991231T999999',
  'EXDATE;VALUE=DATE:20240101,20240102',
  'RECURRENCE-ID:20240101T000000Z',
  'RECURRENCE-ID:99991231T235959Z',
  'RECURRENCE-ID;VALUE=DATE:20240230',
  'TRIGGER:-P99999999999W',
  'TRIGGER:-P99999999D',
  'TRIGGER;VALUE=DATE-TIME:20240230T000000Z',
  'TRIGGER;RELATED=END:PT0S',
  'TRIGGER:garbage',
  'BEGIN:VALARM',
  'END:VALARM',
  'BEGIN:VEVENT',
  'END:VEVENT',
  'BEGIN:VEVENT ',
  'BEGIN;X=1:VEVENT',
  'BEGIN:VTIMEZONE',
  'END:VTIMEZONE',
  'BEGIN:STANDARD',
  'END:STANDARD',
  'TZOFFSETFROM:+9999',
  'TZOFFSETTO:garbage',
  'TZID:',
  'X-WR-TIMEZONE:',
  'X-WR-TIMEZONE:Mars/Olympus',
  'X-WR-TIMEZONE:+01:00',
  'UID:',
  'STATUS:',
  'ATTACH;VALUE=BINARY;ENCODING=BASE64:@@@',
  'GEO:a;b',
  'X-A;X-B="unterminated:v',
  'X-A;=:v',
  ';:',
  ':',
  'A:',
];

/** The property a hostile line replaces when put in place ('put'); by default its own. */
const SLOT: Record<string, string> = { DURATION: 'DTEND', RDATE: 'EXDATE', 'RECURRENCE-ID': 'DTSTART' };

/** Number-ish replacements for a run of digits already in the file. */
const HOSTILE_NUMBERS = ['99999999999999999999', '0', '-1', '-9999', '1e308', '999999', '00', '60'];
/** Replacements for a property's whole value. */
const HOSTILE_VALUES = [
  '20240230',
  '99991231T999999',
  '99991231T235959Z',
  '99999999999999999999',
  '0',
  '-1',
  '',
  ',',
  'T',
  'Z',
  '20240101T000000Z,',
  '19700101',
];

type Mutation =
  | { k: 'delete' | 'duplicate'; i: number }
  | { k: 'swap'; i: number; j: number }
  | { k: 'truncate'; at: number }
  | { k: 'insert' | 'replace'; at: number; s: string }
  | { k: 'line' | 'put'; i: number; s: string }
  | { k: 'value'; i: number; s: string }
  | { k: 'number'; at: number; s: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ k: fc.constantFrom('delete' as const, 'duplicate' as const), i: fc.nat() }),
  fc.record({ k: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ k: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    k: fc.constantFrom('insert' as const, 'replace' as const),
    at: fc.nat(),
    s: fc.oneof(fc.constantFrom(...HOSTILE_CHARS), fc.string({ unit: 'binary', maxLength: 4 })),
  }),
  fc.record({
    k: fc.constantFrom('line' as const, 'put' as const),
    i: fc.nat(),
    s: fc.constantFrom(...HOSTILE_LINES),
  }),
  fc.record({
    k: fc.constant('value' as const),
    i: fc.nat(),
    s: fc.oneof(fc.constantFrom(...HOSTILE_VALUES), fc.string({ unit: 'grapheme', maxLength: 12 })),
  }),
  fc.record({ k: fc.constant('number' as const), at: fc.nat(), s: fc.constantFrom(...HOSTILE_NUMBERS) }),
);

function mutate(text: string, mutations: Mutation[]): string {
  let t = text;
  for (const m of mutations) {
    const lines = t.split('\r\n');
    const n = lines.length;
    switch (m.k) {
      case 'delete':
        lines.splice(m.i % n, 1);
        break;
      case 'duplicate':
        lines.splice(m.i % n, 0, lines[m.i % n]!);
        break;
      case 'swap': {
        const [a, b] = [m.i % n, m.j % n];
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        break;
      }
      case 'line':
        lines.splice(m.i % n, 0, m.s);
        break;
      case 'put': {
        // In place of a line it can stand for (DURATION for a DTEND), else after a DTSTART: an
        // inserted line lands where it is read far more often than at a random place.
        const name = /^[A-Z-]*/.exec(m.s)![0];
        const slot = (l: string) => l.startsWith(`${SLOT[name] ?? name}`) && /^[A-Z-]+[;:]/.test(l);
        const at = lines.map((l, i) => (slot(l) ? i : -1)).filter((i) => i >= 0);
        const starts = lines.map((l, i) => (l.startsWith('DTSTART') ? i : -1)).filter((i) => i >= 0);
        if (at.length > 0) lines[at[m.i % at.length]!] = m.s;
        else lines.splice(starts.length > 0 ? starts[m.i % starts.length]! + 1 : m.i % n, 0, m.s);
        break;
      }
      case 'value': {
        const l = lines[m.i % n]!;
        const colon = l.indexOf(':');
        if (colon >= 0) lines[m.i % n] = l.slice(0, colon + 1) + m.s;
        break;
      }
      case 'truncate':
        t = t.slice(0, m.at % (t.length + 1));
        continue;
      case 'insert': {
        const p = m.at % (t.length + 1);
        t = t.slice(0, p) + m.s + t.slice(p);
        continue;
      }
      case 'replace': {
        const p = m.at % Math.max(1, t.length);
        t = t.slice(0, p) + m.s + t.slice(p + 1);
        continue;
      }
      case 'number': {
        const runs = [...t.matchAll(/\d+/g)];
        const r = runs[m.at % Math.max(1, runs.length)];
        if (r !== undefined) t = t.slice(0, r.index) + m.s + t.slice(r.index + r[0].length);
        continue;
      }
    }
    t = lines.join('\r\n');
  }
  return t;
}

describe('mutated real export files', () => {
  for (const name of FIXTURES) {
    it(
      `[ICS-3][ICS-4] ${name} mutated at random: a result or an IcsError with its line, never a throw, quickly`,
      () => {
        const text = fixture(name).replace(/\r?\n/g, '\r\n');
        const started = performance.now();
        fc.assert(
          fc.property(fc.array(mutation, { minLength: 1, maxLength: 6 }), (mutations) => {
            expectClearOutcome(readIcs(mutate(text, mutations), 'Europe/Berlin'));
          }),
          { numRuns: RUNS },
        );
        // ~0.3 s here; a case that expands without bound would take seconds or run out of memory.
        expect(performance.now() - started).toBeLessThan(15_000 * (RUNS / 300));
      },
      TIMEOUT,
    );
  }

  it('[ICS-3] the mutations are hostile enough: most mutated files are refused, each with a line', () => {
    // Guards the test itself: if mutations stopped reaching the parser, the property above would
    // pass vacuously.
    const text = fixture('google.ics').replace(/\r?\n/g, '\r\n');
    const results = fc
      .sample(fc.array(mutation, { minLength: 1, maxLength: 6 }), { numRuns: 200, seed: 1 })
      .map((ms) => readIcs(mutate(text, ms), 'Europe/Berlin'));
    const refused = results.filter((r) => !r.ok);
    expect(refused.length).toBeGreaterThan(50);
    expect(results.length - refused.length).toBeGreaterThan(20);
    expect(refused.filter((r) => !r.ok && r.line > 1).length).toBeGreaterThan(50);
  });
});

// --- ICS-3 / ICS-4: cases the mutations found, pinned --------------------------------------------

describe('found by the mutations', () => {
  const outlook = fixture('outlook.ics').replace(/\r?\n/g, '\r\n');
  const google = fixture('google.ics').replace(/\r?\n/g, '\r\n');
  const refusedAt = (text: string, line: number, message: RegExp) => {
    const r = readIcs(text, 'Europe/Berlin');
    expect(r).toMatchObject({ ok: false, line });
    expect(!r.ok && r.message).toMatch(message);
  };

  it('[ICS-4] a VTIMEZONE rule ical.js cannot expand within bounds is refused at once, with the line using it', () => {
    // Outlook's "(UTC+10:00) Canberra, ..." zone is computed from its VTIMEZONE (its name is no
    // zone id). ical.js expands observances from 1601 without a bound: SECONDLY ran out of memory,
    // HOURLY took 26 s and 830 MB, DAILY;BYMONTH=2;BYMONTHDAY=30 never ended.
    const rules = [
      'FREQ=SECONDLY',
      'FREQ=MINUTELY',
      'FREQ=HOURLY',
      'FREQ=DAILY',
      'FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30',
      'FREQ=YEARLY;BYDAY=MO,TU,WE,TH,FR,SA,SU',
    ];
    for (const rule of rules) {
      const started = performance.now();
      refusedAt(
        outlook.replace('RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4', `RRULE:${rule}`),
        110,
        /Canberra.*cannot be used: (an observance repeats other than yearly|its rules give more than)/,
      );
      expect(performance.now() - started).toBeLessThan(2_000);
    }
    // Unreadable observance values (ical.js reads them only when it expands): the line, not a TypeError.
    refusedAt(outlook.replace('TZOFFSETFROM:+1100', 'TZOFFSETFROM:garbage'), 110, /cannot be used/);
    refusedAt(outlook.replace('DTSTART:16010401T030000', 'DTSTART:1601'), 110, /cannot be used/);
  });

  it('[ICS-4] a zone defined only by its VTIMEZONE is computed once per file, not once per time', () => {
    // 2,000 events in a zone matching no IANA zone took 29 s (ical.js expanded it from 1601 for
    // every DTSTART and DTEND); now well under a second.
    const zone = [
      'BEGIN:VTIMEZONE',
      'TZID:Customized Time Zone',
      'BEGIN:STANDARD',
      'DTSTART:16011028T030000',
      'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10',
      'TZOFFSETFROM:+0223',
      'TZOFFSETTO:+0123',
      'END:STANDARD',
      'BEGIN:DAYLIGHT',
      'DTSTART:16010325T020000',
      'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3',
      'TZOFFSETFROM:+0123',
      'TZOFFSETTO:+0223',
      'END:DAYLIGHT',
      'END:VTIMEZONE',
    ];
    const events = Array.from({ length: 2000 }, (_, i) => [
      'BEGIN:VEVENT',
      `UID:e${i}`,
      'DTSTART;TZID=Customized Time Zone:20240701T100000',
      'DTEND;TZID=Customized Time Zone:20240701T110000',
      'END:VEVENT',
    ]).flat();
    const text = ['BEGIN:VCALENDAR', 'VERSION:2.0', ...zone, ...events, 'END:VCALENDAR', ''].join('\r\n');
    const started = performance.now();
    const r = readIcs(text, 'Europe/Berlin');
    expect(performance.now() - started).toBeLessThan(8_000);
    // 10:00 at +02:23 (summer) is 07:37 UTC, shown in the calendar's zone (Berlin, +02:00).
    expect(r.ok && r.value.items[0]!.fields).toMatchObject({
      start: '2024-07-01T09:37',
      end: '2024-07-01T10:37',
    });
  });

  /** A file with one event at 10:00 in a zone known only by its VTIMEZONE, `std`/`dst` offsets. */
  const customZone = (tzid: string, std: string, dst: string) => [
    'BEGIN:VTIMEZONE',
    `TZID:${tzid}`,
    'BEGIN:STANDARD',
    'DTSTART:16011028T030000',
    'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10',
    `TZOFFSETFROM:${dst}`,
    `TZOFFSETTO:${std}`,
    'END:STANDARD',
    'BEGIN:DAYLIGHT',
    'DTSTART:16010325T020000',
    'RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3',
    `TZOFFSETFROM:${std}`,
    `TZOFFSETTO:${dst}`,
    'END:DAYLIGHT',
    'END:VTIMEZONE',
  ];
  const inZones = (zones: string[][], tzids: string[]) =>
    [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      ...zones.flat(),
      ...tzids.flatMap((tzid, i) => [
        'BEGIN:VEVENT',
        `UID:z${i}`,
        `DTSTART;TZID=${tzid}:20240701T100000`,
        'END:VEVENT',
      ]),
      'END:VCALENDAR',
      '',
    ].join('\r\n');

  it('[ICS-2] a VTIMEZONE is matched by its whole text, not by one of another file that has the same length', () => {
    // The cache shared across files was keyed by the VTIMEZONE's length: after a file whose
    // "Customized Time Zone" is +02:00/+03:00, another's at +01:00/+02:00 was read as the first.
    const summer = (std: string, dst: string) => {
      const r = readIcs(
        inZones([customZone('Customized Time Zone', std, dst)], ['Customized Time Zone']),
        'UTC',
      );
      if (!r.ok) throw new Error(r.message);
      const { start, timeZone } = r.value.items[0]!.fields;
      return Temporal.PlainDateTime.from(start).toZonedDateTime(timeZone).offset;
    };
    expect(summer('+0200', '+0300')).toBe('+03:00');
    expect(summer('+0100', '+0200')).toBe('+02:00');
  });

  it('[ICS-4] at most 20 zones known only by their VTIMEZONE are computed per file; the 21st is refused at its line', () => {
    // Offsets no IANA zone has (+01:23...), so each zone is computed by ical.js.
    const tzids = Array.from({ length: 21 }, (_, i) => `Custom ${i}`);
    const zones = tzids.map((tzid, i) => customZone(tzid, `+01${String(i + 10)}`, `+02${String(i + 10)}`));
    const text = inZones(zones, tzids);
    const r = readIcs(text, 'UTC');
    const line = text.split('\r\n').indexOf('DTSTART;TZID=Custom 20:20240701T100000') + 1;
    expect(r).toMatchObject({ ok: false, line });
    expect(!r.ok && r.message).toMatch(/more than 20 time zones that are not known by name/);
    expect(readIcs(inZones(zones.slice(0, 20), tzids.slice(0, 20)), 'UTC').ok).toBe(true);
  });

  it('[ICS-3] errors ical.js raises name their line, also in folded lines', () => {
    refusedAt(google.replace('WKST=MO', 'WK\r\n ST=XX'), 47, /^line 47: RRULE: invalid WKST value "XX"/);
    refusedAt(google.replace('BEGIN:VEVENT', 'BEGIN;X=1:VEVENT'), 44, /BEGIN takes no parameters/);
    // ical.js would open a component named "vevent " that the scan counted as a VEVENT.
    refusedAt(google.replace('BEGIN:VEVENT', 'BEGIN:VEVENT '), 44, /not a component name/);
  });

  it('[ICS-3] durations and zones past the year 9999 are refused with their line, not a RangeError', () => {
    const dtend = 'DTEND;TZID=Europe/Berlin:20240108T091500';
    refusedAt(google.replace(dtend, 'DURATION:P99999999999W'), 46, /duration out of range/);
    refusedAt(google.replace(dtend, 'DURATION:P9999999D'), 46, /DURATION is outside the years 0000 to 9999/);
    // A UTC single event is shown in the calendar's zone: 23:59 UTC is already 10000 in Berlin.
    const single = 'DTSTART:20240301T140000Z\r\nDTEND:20240301T153000Z';
    expect(google).toContain(single);
    refusedAt(
      google.replace(single, 'DTSTART:99991231T230000Z\r\nDTEND:99991231T235959Z'),
      121,
      /DTSTART is outside the years 0000 to 9999/,
    );
  });

  it('[ICS-4] a trigger past the year 9999 is left out with a warning, not a RangeError', () => {
    const r = readIcs(google.replace('TRIGGER:-P0DT0H10M0S', 'TRIGGER:P99999999D'), 'Europe/Berlin');
    expect(r.ok && r.value.warnings.join('\n')).toMatch(/reminder past the year 9999 was left out/);
  });

  it('[ICS-3] a byte order mark is skipped, as the scan skips it', () => {
    const r = readIcs(`\uFEFF${google}`, 'Europe/Berlin');
    expect(r.ok && r.value.items.length).toBe(8);
  });
});

// --- ICS-5 / ICS-6: texts through export and import -----------------------------------------------

/** Pieces that matter to TEXT escaping, folding, line ends and the component grammar. */
const TEXT_PIECES = [
  '\\',
  ';',
  ',',
  ':',
  '"',
  '\n',
  '\r\n',
  '\r',
  ' ',
  '  ',
  '\t',
  '\0',
  'é',
  '€',
  '🎆',
  '👩‍👩‍👧',
  '\uD800',
  '\uDC00',
  '\\n',
  'END:VEVENT',
  'BEGIN:VEVENT',
  '\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:injected\r\nDTSTART:20240101T000000Z\r\n',
  '\r\nEND:VCALENDAR\r\n',
  '\r\nRRULE:FREQ=DAILY\r\n',
  '\r\n DESCRIPTION:x',
];

const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.string({ unit: fc.constantFrom(...TEXT_PIECES), maxLength: 40 }),
  fc
    .tuple(fc.string({ unit: fc.constantFrom(...TEXT_PIECES, 'a', 'b'), maxLength: 8 }), fc.string())
    .map(([a, b]) => a + b),
  // Around the 8 KiB cut, in characters of 1 to 4 UTF-8 bytes (and a surrogate pair at the edge).
  fc
    .tuple(fc.constantFrom('a', 'é', '€', '🎆', '\\', '\n', 'a🎆'), fc.integer({ min: 1500, max: 9000 }))
    .map(([c, n]) => c.repeat(Math.ceil(n / c.length))),
);

const event = (uid: string, title: string, location: string, notes: string): IcsEvent => ({
  uid,
  line: 0,
  recurrenceId: null,
  title,
  location,
  notes,
  start: '2024-03-31T01:30',
  end: '2024-03-31T03:30',
  allDay: false,
  timeZone: 'UTC',
  rrule: null,
  rdates: [],
  exdates: [],
  cancelled: false,
  // A VALARM's DESCRIPTION carries the title too.
  alarms: [10],
  extra: '',
});

/** What export then import promises for a text (model.ts maxTextBytes, escapeText's line ends). */
function expectTextBack(got: string, sent: string, warnings: string[]): void {
  // Export writes every line end as "\n" (RFC 5545 TEXT has no other).
  const want = sent.replace(/\r\n|\r/g, '\n');
  if (utf8(want) <= ICS_LIMITS.maxTextBytes) {
    expect(got).toBe(want);
    return;
  }
  // Over 8 KiB: a prefix of whole characters and "…", at most 8 KiB, with a warning.
  expect(got.endsWith('…')).toBe(true);
  expect(want.startsWith(got.slice(0, -1))).toBe(true);
  expect(utf8(got)).toBeLessThanOrEqual(ICS_LIMITS.maxTextBytes);
  expect(utf8(got)).toBeGreaterThan(ICS_LIMITS.maxTextBytes / 2);
  if (want.isWellFormed()) expect(got.isWellFormed()).toBe(true);
  expect(warnings.join('\n')).toMatch(/was cut to 8 KiB/);
}

/** Every physical line of an export: at most 75 octets, CRLF-terminated, nothing else. */
function expectFolded(out: string): void {
  expect(out.endsWith('\r\n')).toBe(true);
  expect(out).not.toMatch(/[^\r]\n|\r(?!\n)/);
  for (const line of out.split('\r\n')) expect(utf8(line)).toBeLessThanOrEqual(75);
}

describe('texts through export and import', () => {
  it(
    '[ICS-5][ICS-6] any title, location and notes come back (line ends as "\\n", cut at 8 KiB), folded at 75 octets, injecting nothing',
    () => {
      const started = performance.now();
      fc.assert(
        fc.property(
          fc.array(fc.tuple(hostileText, hostileText, hostileText), { minLength: 1, maxLength: 3 }),
          hostileText,
          (texts, calendarName) => {
            const events = texts.map(([t, l, n], i) => event(`ev${i}@test`, t, l, n));
            const out = serializeIcs([{ name: calendarName, events }], {
              nowMs: Date.UTC(2026, 0, 1),
              zone: 'UTC',
            });
            expectFolded(out);
            const cal = parseIcs(out, { defaultZone: 'UTC' });
            // No text became a line of its own: the same events, components and properties.
            expect(cal.events.map((e) => e.uid)).toEqual(events.map((e) => e.uid));
            // Line by line, the same properties and components as with plain texts.
            const plain = events.map((e) => ({
              ...e,
              title: e.title && 'x',
              location: e.location && 'x',
              notes: e.notes && 'x',
            }));
            const names = (ics: string) =>
              ics
                .replace(/\r\n[ \t]/g, '')
                .split('\r\n')
                .map((l) => /^[A-Z-]+(?::(?:VEVENT|VALARM|VCALENDAR))?/.exec(l)?.[0]);
            expect(names(out)).toEqual(
              names(
                serializeIcs([{ name: 'x', events: plain }], { nowMs: Date.UTC(2026, 0, 1), zone: 'UTC' }),
              ),
            );
            for (const [i, ev] of cal.events.entries()) {
              const [t, l, n] = texts[i]!;
              expectTextBack(ev.title, t, cal.warnings);
              expectTextBack(ev.location, l, cal.warnings);
              expectTextBack(ev.notes, n, cal.warnings);
              expect(ev).toMatchObject({
                start: '2024-03-31T01:30',
                end: '2024-03-31T03:30',
                alarms: [10],
                rrule: null,
              });
              expect(ev.extra).toBe('');
            }
            // X-WR-CALNAME: the name, its first 200 UTF-16 units without half a surrogate pair.
            const name = calendarName.replace(/\r\n|\r/g, '\n').slice(0, 200);
            expect(cal.name).toBe(/[\uD800-\uDBFF]$/.test(name) ? name.slice(0, -1) : name);
          },
        ),
        { numRuns: RUNS },
      );
      expect(performance.now() - started).toBeLessThan(15_000 * (RUNS / 300));
    },
    TIMEOUT,
  );
});

describe('kept properties through export', () => {
  // An event's kept properties (IcsExtra) are text any member of a shared calendar can write.
  const EXTRA_LINES = [
    'X-A:1',
    'CATEGORIES:Work,Travel',
    'ATTENDEE;CN="A:B";ROLE=REQ-PARTICIPANT:mailto:a@example.com',
    'STATUS:CONFIRMED',
    'STATUS:CANCELLED',
    'status;X-Y=1:Cancelled',
    'BEGIN:X-THING',
    'END:X-THING',
    'begin:x-other',
    'END:X-OTHER',
    'BEGIN:VEVENT',
    'END:VEVENT',
    'BEGIN:VCALENDAR',
    'END:VCALENDAR',
    'BEGIN:VTIMEZONE',
    'END:VTIMEZONE',
    'BEGIN:VALARM',
    'END:VALARM',
    'TRIGGER:-PT5M',
    'ACTION:DISPLAY',
    'BEGIN;X=1:VEVENT',
    'END:VEVENT ',
    'BEGIN: VEVENT',
    'UID:injected',
    'DTSTART:20200101T000000Z',
    'DTEND:20300101T000000Z',
    'DURATION:P400D',
    'RRULE:FREQ=DAILY',
    'rrule:FREQ=HOURLY',
    'RDATE:20240101T000000Z',
    'EXDATE:20240331T013000',
    'RECURRENCE-ID:20240101T000000Z',
    'SUMMARY:injected',
    'not a content line',
    '',
    ' folded',
    '\r',
    'X-A;=:v',
  ];
  const extraText = fc
    .array(fc.oneof(fc.constantFrom(...EXTRA_LINES), fc.string({ maxLength: 20 })), { maxLength: 30 })
    .map((lines) => lines.join('\n'));

  it(
    '[ICS-5][ICS-6] no kept text adds an event or component, or changes what the event is',
    () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(extraText, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 3 }),
          (specs) => {
            const events = specs.map(([extra, cancelled, repeats], i) => ({
              ...event(`ev${i}@test`, `title ${i}`, '', ''),
              extra,
              cancelled,
              rrule: repeats ? 'FREQ=WEEKLY;COUNT=3' : null,
            }));
            const out = serializeIcs([{ name: 'x', events }], { nowMs: Date.UTC(2026, 0, 1), zone: 'UTC' });
            expectFolded(out);
            const r = readIcs(out, 'UTC');
            expectClearOutcome(r);
            if (!r.ok) throw new Error(`the export is refused: ${r.message}`);
            const want = toImportItems({ name: '', zone: '', events, warnings: [] });
            const modelled = (items: typeof want) => items.map(({ extra: _extra, ...rest }) => rest);
            expect(modelled(r.value.items)).toEqual(modelled(want));
          },
        ),
        { numRuns: RUNS },
      );
    },
    TIMEOUT,
  );
});

// --- ICS-4: recurrence data sized to exhaust ----------------------------------------------------

describe('hostile recurrence data', () => {
  const part = fc.oneof(
    fc
      .constantFrom('SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY')
      .map((f) => `FREQ=${f}`),
    fc.constantFrom('99999999999999999999', '1000000', '999999', '1', '0', '-1').map((n) => `COUNT=${n}`),
    fc.constantFrom('0', '1', '9999', '10000', '99999999999').map((n) => `INTERVAL=${n}`),
    fc.constantFrom('20240230', '99991231T235959Z', '20250101T000000Z', '20240101').map((u) => `UNTIL=${u}`),
    fc
      .array(fc.integer({ min: -400, max: 400 }), { minLength: 1, maxLength: 500 })
      .map((ns) => `BYSETPOS=${ns.join(',')}`),
    fc
      .array(fc.constantFrom('MO', 'TU', '-1SU', '2WE', '53FR', '99MO', 'XX'), {
        minLength: 1,
        maxLength: 60,
      })
      .map((ds) => `BYDAY=${ds.join(',')}`),
    fc
      .array(fc.integer({ min: -40, max: 40 }), { minLength: 1, maxLength: 80 })
      .map((ns) => `BYMONTHDAY=${ns.join(',')}`),
    fc
      .array(fc.integer({ min: 0, max: 60 }), { minLength: 1, maxLength: 70 })
      .map((ns) => `BYSECOND=${ns.join(',')}`),
    fc.constantFrom('BYHOUR=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23', 'WKST=SU'),
  );
  const rrule = fc
    .tuple(
      fc.constantFrom('SECONDLY', 'MINUTELY', 'HOURLY', 'DAILY', 'MONTHLY', 'YEARLY'),
      fc.array(part, { maxLength: 5 }),
    )
    .map(([freq, parts]) => [`FREQ=${freq}`, ...parts].join(';'));
  const DAYS = Array.from({ length: 15_000 }, (_, i) =>
    Temporal.PlainDate.from('2024-01-01').add({ days: i }).toString().replaceAll('-', ''),
  );

  /** A VEVENT with `rule`, `rdates` RDATE values and `exdates` EXDATE values in `props` properties. */
  function file(rule: string | null, rdates: number, exdates: number, props: number): string {
    const dates = (name: string, n: number) => {
      const values = Array.from({ length: n }, (_, i) => `${DAYS[i]}T090000`);
      const per = Math.max(1, Math.ceil(n / props));
      const lines = [];
      for (let i = 0; i < n; i += per)
        lines.push(`${name};TZID=Europe/Berlin:${values.slice(i, i + per).join(',')}`);
      return lines;
    };
    return [
      'BEGIN:VCALENDAR',
      'VERSION:2.0',
      'BEGIN:VEVENT',
      'UID:r@test',
      'DTSTART;TZID=Europe/Berlin:20240101T090000',
      'DTEND;TZID=Europe/Berlin:20240101T100000',
      ...(rule === null ? [] : [`RRULE:${rule}`]),
      ...dates('RDATE', rdates),
      ...dates('EXDATE', exdates),
      'END:VEVENT',
      'END:VCALENDAR',
      '',
    ].join('\r\n');
  }

  it(
    '[ICS-4] endless or huge RRULEs, long BY lists and many RDATE/EXDATE values: bounded, or refused at their line',
    () => {
      const started = performance.now();
      fc.assert(
        fc.property(
          fc.option(rrule, { nil: null }),
          fc.nat({ max: 1000 }),
          fc.nat({ max: 1000 }),
          fc.integer({ min: 1, max: 50 }),
          (rule, rdates, exdates, props) => {
            const text = file(rule, rdates, exdates, props);
            const lineOf = (name: string) => text.split('\r\n').findIndex((l) => l.startsWith(name)) + 1;
            const r = readIcs(text, 'UTC');
            expectClearOutcome(r);
            if (!r.ok) {
              // The rule, else the first list over the limit (RDATEs are read first), at its line.
              const why =
                r.line === lineOf('RRULE:')
                  ? /RRULE/
                  : rdates > ICS_LIMITS.maxDates
                    ? /more than 400 RDATE values/
                    : /more than 400 EXDATE values/;
              expect(r.message).toMatch(why);
              if (r.line !== lineOf('RRULE:'))
                expect(r.line).toBe(lineOf(rdates > ICS_LIMITS.maxDates ? 'RDATE' : 'EXDATE'));
              return;
            }
            expect(rdates).toBeLessThanOrEqual(ICS_LIMITS.maxDates);
            expect(exdates).toBeLessThanOrEqual(ICS_LIMITS.maxDates);
            expect(r.value.items).toHaveLength(1);
            const { fields } = r.value.items[0]!;
            expect(fields.rdates).toHaveLength(rdates);
            expect(fields.exdates).toHaveLength(exdates);
            // The rule is kept as the engine's register accepts it (COUNT and INTERVAL bounded).
            if (rule !== null) expect(parseRRule(fields.rrule ?? '')).toBeDefined();
            expect(fields.rrule?.length ?? 0).toBeLessThan(2000);
          },
        ),
        { numRuns: RUNS },
      );
      expect(performance.now() - started).toBeLessThan(15_000 * (RUNS / 300));
    },
    TIMEOUT,
  );

  it('[ICS-4] an RRULE with no end, FREQ=SECONDLY, imports at once (nothing is expanded on import)', () => {
    const started = performance.now();
    const r = readIcs(file('FREQ=SECONDLY', 400, 400, 1), 'UTC');
    expect(r.ok && r.value.items[0]!.fields.rrule).toBe('FREQ=SECONDLY');
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('[ICS-4] a BY list or a date list as long as a line may be is refused quickly', () => {
    const started = performance.now();
    const setpos = Array.from({ length: 732 }, (_, i) => (i < 366 ? i + 1 : 365 - i)).join(',');
    expect(readIcs(file(`FREQ=MONTHLY;BYDAY=MO;BYSETPOS=${setpos}`, 0, 0, 1), 'UTC')).toMatchObject({
      ok: false,
      line: 7,
      message: expect.stringMatching(/RRULE part not understood: BYSETPOS=/),
    });
    // ical.js folds repeated values (and keeps the last of repeated parts) before the importer
    // sees the rule: 100,001 values are one.
    const same = readIcs(file(`FREQ=MONTHLY;BYDAY=MO;BYSETPOS=${'1,'.repeat(100_000)}1`, 0, 0, 1), 'UTC');
    expect(same.ok && same.value.items[0]!.fields.rrule).toBe('FREQ=MONTHLY;BYDAY=MO;BYSETPOS=1');
    const dates = file('FREQ=DAILY', 15_000, 0, 1);
    expect(readIcs(dates, 'UTC')).toMatchObject({
      ok: false,
      line: 8,
      message: expect.stringMatching(/more than 400 RDATE/),
    });
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
