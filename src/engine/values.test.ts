import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeValue, isValueOf, MAX_TEXT_BYTES, type ValueType } from './values.ts';

const TYPES: ValueType[] = [
  'text',
  'bool',
  'datetime',
  'zone',
  'color',
  'rrule',
  'datetimes',
  'alarms',
  'entity',
];

/** The definition isValueOf must agree with: what encodeValue accepts. */
const accepted = (type: ValueType, v: unknown): boolean => {
  try {
    encodeValue(type, v as never);
    return true;
  } catch {
    return false;
  }
};

// Strings of any UTF-16 code units, lone surrogates included.
const units = fc
  .array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 })
  .map((a) => String.fromCharCode(...a));
const nearValid = fc.constantFrom(
  '',
  '2026-03-29',
  '2026-03-29T02:30',
  '2026-03-29T02:30:59',
  '2026-13-01',
  '2026-02-30T24:00',
  'UTC',
  'Europe/Berlin',
  'America/Argentina/Buenos_Aires',
  'Europe/Berlin\ud800',
  'A/B/C/D',
  '#a1b2c3',
  '#A1B2C3',
  '#a1b2c',
  'FREQ=WEEKLY;BYDAY=MO,WE',
  'FREQ=DAILY;COUNT=5',
  'FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR',
  'FREQ=YEARLY;UNTIL=20301231T000000Z',
  'FREQ=SOMETIMES',
  'FREQ=WEEKLY;BYDAY=M\u00d8',
  'ab'.repeat(16),
  '0'.repeat(32),
  'AB'.repeat(16),
  '2026-01-01,2026-01-02',
  '2026-01-02,2026-01-01',
  '10,60,1440',
  '60,10',
);
const item = fc.oneof(
  fc.integer({ min: -20_000, max: 600_000 }),
  fc.double(),
  fc.constantFrom('2026-01-01', '2026-01-02T09:00', '2025-12-31', 'x', '', '\udc00', 10, -5),
);
const anyValue = fc.oneof(
  units,
  nearValid,
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.array(item, { maxLength: 6 }),
  fc.array(item, { maxLength: 6 }).map((a) => [...a].sort()),
  fc
    .uniqueArray(fc.integer({ min: -10_080, max: 527_040 }), { maxLength: 20 })
    .map((a) => a.sort((x, y) => x - y)),
  fc.boolean(),
  fc.constantFrom(null, undefined, 0, 1, {}, [], ['2026-01-01'], [[]], new Uint8Array(1)),
);

describe('value checks', () => {
  it('[VAL-1] isValueOf accepts exactly what encodeValue accepts, for every type and any input', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TYPES), anyValue, (type, v) => {
        expect(isValueOf(type, v)).toBe(accepted(type, v));
      }),
      { numRuns: 20_000 },
    );
  });

  it('[VAL-1] text is bounded by its UTF-8 length, counted as the encoder counts it', () => {
    const cases = [
      'a'.repeat(MAX_TEXT_BYTES),
      'a'.repeat(MAX_TEXT_BYTES + 1),
      '\u00e9'.repeat(MAX_TEXT_BYTES / 2),
      `${'\u00e9'.repeat(MAX_TEXT_BYTES / 2)}a`,
      '\u{1f600}'.repeat(MAX_TEXT_BYTES / 4),
      `${'\u{1f600}'.repeat(MAX_TEXT_BYTES / 4)}a`,
      '\ud800'.repeat(2730),
      '\ud800'.repeat(2731),
      '\udc00\ud800'.repeat(1365),
      `${'\u20ac'.repeat(2730)}ab`,
      `${'\u20ac'.repeat(2730)}abc`,
    ];
    for (const s of cases) expect(isValueOf('text', s), `${s.length} units`).toBe(accepted('text', s));
    expect(isValueOf('text', '\u00e9'.repeat(MAX_TEXT_BYTES / 2))).toBe(true);
    expect(isValueOf('text', `${'\u00e9'.repeat(MAX_TEXT_BYTES / 2)}a`)).toBe(false);
  });
});
