import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from './bytes.ts';
import { calendarFromRecord, eventFromRecord, isValidWrite } from './calendar.ts';
import { CalendarField as FbsCalendarField } from './generated/ledgerday/wire/calendar-field.ts';
import { EventField as FbsEventField } from './generated/ledgerday/wire/event-field.ts';
import { CALENDAR_ENTITY, type DeviceId, type EntityId, type OpId } from './ids.ts';
import { formatRRule, parseRRule } from './rrule.ts';
import { CALENDAR_FIELDS, CalendarField, EVENT_FIELDS, EventField, SCHEMA_VERSION } from './schema.ts';
import type { EntityRecord, WriteRecord } from './store.ts';
import { decodeValue, encodeValue } from './values.ts';

const E1 = '11'.repeat(16) as EntityId;
const w = (value: Uint8Array | null, wallTime = 1): WriteRecord => ({
  value,
  author: 'aa'.repeat(32) as DeviceId,
  wallTime,
  op: 'bb'.repeat(32) as OpId,
  ctr: 1,
});

describe('field tables', () => {
  it('[SCH-1] field numbers are unique, versions ascend with numbers, and the .fbs enums agree', () => {
    for (const t of [EVENT_FIELDS, CALENDAR_FIELDS]) {
      expect(new Set(t.map((f) => f.num)).size).toBe(t.length);
      for (let i = 1; i < t.length; i++) {
        expect(t[i]!.num).toBeGreaterThan(t[i - 1]!.num);
        expect(t[i]!.since).toBeGreaterThanOrEqual(t[i - 1]!.since);
      }
    }
    expect(Math.max(...EVENT_FIELDS.map((f) => f.since), ...CALENDAR_FIELDS.map((f) => f.since))).toBe(
      SCHEMA_VERSION,
    );
    const fbs = (e: object) => Object.fromEntries(Object.entries(e).filter(([k]) => Number.isNaN(Number(k))));
    expect(fbs(FbsEventField)).toEqual({ ...EventField });
    expect(fbs(FbsCalendarField)).toEqual({ ...CalendarField });
  });

  it('[SCH-2] released fields keep their number and value type (an old reader must accept what a new writer sends)', () => {
    // Frozen at release: change a row here only by adding one.
    const released: [string, number, string, number][] = [
      ['Title', 1, 'text', 1],
      ['Start', 2, 'datetime', 1],
      ['End', 3, 'datetime', 1],
      ['AllDay', 4, 'bool', 1],
      ['TimeZone', 5, 'zone', 1],
      ['Location', 6, 'text', 1],
      ['Notes', 7, 'text', 1],
      ['Deleted', 8, 'bool', 1],
      ['Rrule', 9, 'rrule', 2],
      ['Rdates', 10, 'datetimes', 2],
      ['Exdates', 11, 'datetimes', 2],
      ['Alarms', 12, 'alarms', 2],
      ['OverrideOf', 13, 'entity', 2],
      ['RecurrenceId', 14, 'datetime', 2],
      ['SplitOf', 15, 'entity', 2],
    ];
    for (const [key, num, type, since] of released)
      expect(
        EVENT_FIELDS.find((f) => f.num === num),
        key,
      ).toMatchObject({ key, type, since });
    // The version-1 value grammar is unchanged: the same bytes are valid and invalid as before.
    for (const v of ['2026-01-01', '2026-01-01T09:00', '2026-01-01T09:00:30'])
      expect(isValidWrite(E1, EventField.Start, utf8(v))).toBe(true);
    for (const v of ['2026-1-1', '2026-01-01T9:00', '2026-01-01T09:00Z', '2026-01-01T09:00:00.5'])
      expect(isValidWrite(E1, EventField.Start, utf8(v))).toBe(false);
  });

  it('[SCH-3] a version-1 event reads as a version-2 event that does not repeat and uses the default reminders', () => {
    const rec: EntityRecord = {
      doc: 'd' as never,
      entity: E1,
      registers: [
        { field: EventField.Title, writes: [w(utf8('Standup'))] },
        { field: EventField.Start, writes: [w(utf8('2026-03-02T09:00'))] },
      ],
    };
    const ev = eventFromRecord(rec);
    expect(ev.title).toBe('Standup');
    expect(ev.rrule).toBe('');
    expect(ev.rdates).toEqual([]);
    expect(ev.alarms).toBeNull();
    expect([...ev.set]).toEqual([EventField.Title, EventField.Start]);
    expect(calendarFromRecord(undefined).defaultAlarms).toEqual([]);
  });

  it('[SCH-4] a field this schema does not know is kept as opaque bytes and never decoded', () => {
    const rec: EntityRecord = {
      doc: 'd' as never,
      entity: E1,
      registers: [{ field: 4000, writes: [w(new Uint8Array([0xff, 0]))] }],
    };
    const ev = eventFromRecord(rec);
    expect([...ev.unknown]).toEqual([[4000, new Uint8Array([0xff, 0])]]);
    expect(isValidWrite(E1, 4000, new Uint8Array([0xff]))).toBe(true);
  });
});

describe('compliance mode flag', () => {
  it('[CMP-1][SCH-1] the calendar entity carries Compliance (field 4, since 3): absent reads off, written reads back, off again is a later write', () => {
    expect(CalendarField.Compliance).toBe(4);
    expect(CALENDAR_FIELDS.find((f) => f.num === 4)).toMatchObject({ type: 'bool', since: 3 });
    expect(calendarFromRecord(undefined).compliance).toBe(false);
    const reg = (...ws: WriteRecord[]): EntityRecord => ({
      doc: 'd' as never,
      entity: CALENDAR_ENTITY,
      registers: [{ field: CalendarField.Compliance, writes: ws }],
    });
    const on = encodeValue('bool', true);
    expect(calendarFromRecord(reg(w(on, 1))).compliance).toBe(true);
    expect(calendarFromRecord(reg(w(encodeValue('bool', false), 2), w(on, 1))).compliance).toBe(false);
    expect(isValidWrite(CALENDAR_ENTITY, CalendarField.Compliance, new Uint8Array([2]))).toBe(false);
  });
});

describe('value types', () => {
  it('[VAL-1] version-2 values are validated: RRULE grammar, ascending date lists, bounded alarms, entity ids', () => {
    const ok: [number, string][] = [
      [EventField.Rrule, 'FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261231T225959Z'],
      [EventField.Rdates, '2026-01-01T09:00,2026-02-01T09:00'],
      [EventField.Exdates, ''],
      [EventField.Alarms, '-60,0,15,1440'],
      [EventField.OverrideOf, 'ab'.repeat(16)],
      [EventField.RecurrenceId, '2026-01-01T09:00'],
    ];
    for (const [f, v] of ok) expect(isValidWrite(E1, f, utf8(v)), `${f} ${v}`).toBe(true);
    const bad: [number, string][] = [
      [EventField.Rrule, 'FREQ=WEEKLY;COUNT=2;UNTIL=20260101'],
      [EventField.Rrule, 'RRULE:FREQ=DAILY'],
      [EventField.Rrule, 'FREQ=DAILY;FREQ=DAILY'],
      [EventField.Rrule, 'FREQ=WEEKLY;BYDAY=1MO'],
      [EventField.Rrule, 'FREQ=DAILY;BYSETPOS=1'],
      [EventField.Rrule, 'FREQ=MONTHLY;BYMONTHDAY=0'],
      [EventField.Rrule, 'FREQ=YEARLY;X-NAME=1'],
      [EventField.Rdates, '2026-02-01T09:00,2026-01-01T09:00'],
      [EventField.Rdates, '2026-02-01T09:00,2026-02-01T09:00'],
      [EventField.Alarms, '15,15'],
      [EventField.Alarms, '999999999'],
      [EventField.Alarms, Array.from({ length: 17 }, (_, i) => i).join(',')],
      [EventField.OverrideOf, '0'.repeat(32)],
      [EventField.OverrideOf, 'AB'.repeat(16)],
    ];
    for (const [f, v] of bad) expect(isValidWrite(E1, f, utf8(v)), `${f} ${v}`).toBe(false);
    expect(isValidWrite(CALENDAR_ENTITY, CalendarField.DefaultAlarms, utf8('x'))).toBe(false);
    expect(fromUtf8(encodeValue('alarms', [0, 10]))).toBe('0,10');
    expect(() => encodeValue('alarms', [10, 0])).toThrow(TypeError);
    expect(decodeValue('datetimes', utf8('2026-01-01'))).toEqual(['2026-01-01']);
  });

  it('RRULE text round-trips through the canonical printer', () => {
    for (const s of [
      'FREQ=YEARLY;COUNT=10;INTERVAL=2;BYHOUR=8,9;BYMINUTE=30;BYDAY=-1SU,2MO;BYMONTH=1,2,3;WKST=SU',
      'FREQ=MONTHLY;UNTIL=19971224T000000Z;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2',
      'FREQ=YEARLY;BYDAY=TH;BYWEEKNO=20',
    ]) {
      const p = parseRRule(s)!;
      expect(p).toBeDefined();
      expect(parseRRule(formatRRule(p))).toEqual(p);
    }
  });
});
