// Value types of calendar registers: their byte encodings and validation (docs/PROTOCOL.md VAL-1,
// SCH-2). An encoding, once released, never changes: an old reader must accept exactly what a new
// writer sends for a field it knows, or the patch would be inert on one replica and not another.

import { fromUtf8, utf8 } from './bytes.ts';
import { isEntityId } from './ids.ts';
import { parseRRule } from './rrule.ts';

export const MAX_TEXT_BYTES = 8 * 1024;
/** At most this many alarms per event, and this many dates in an RDATE or EXDATE list. */
export const MAX_ALARMS = 16;
export const MAX_DATES = 400;
/** Alarm offsets are minutes before the start: from 1 week after it to 1 year before it. */
export const ALARM_MIN = -7 * 24 * 60;
export const ALARM_MAX = 366 * 24 * 60;

const DATETIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?)?$/;
const ZONE = /^(UTC|[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2})$/;
const COLOR = /^#[0-9a-f]{6}$/;
const INT = /^-?(0|[1-9]\d{0,6})$/;

/** JavaScript value of each value type. */
export interface ValueOf {
  text: string;
  bool: boolean;
  datetime: string;
  zone: string;
  color: string;
  rrule: string;
  datetimes: string[];
  alarms: number[];
  entity: string;
}
export type ValueType = keyof ValueOf;
export type Value = ValueOf[ValueType];

export const isDateTime = (s: string): boolean => DATETIME.test(s);

/** Checks a decoded string of a type; the list types are checked item by item. */
function checkString(type: ValueType, s: string): Value | undefined {
  switch (type) {
    case 'text':
      return s;
    case 'datetime':
      return DATETIME.test(s) ? s : undefined;
    case 'zone':
      return s.length <= 64 && ZONE.test(s) ? s : undefined;
    case 'color':
      return COLOR.test(s) ? s : undefined;
    case 'rrule':
      // '' = the event does not repeat (a write that ends a series' repetition).
      return s === '' || (s.length <= 1024 && parseRRule(s) !== undefined) ? s : undefined;
    case 'entity':
      return isEntityId(s) && !/^0+$/.test(s) ? s : undefined;
    case 'datetimes': {
      if (s === '') return [];
      const items = s.split(',');
      if (items.length > MAX_DATES || !items.every((d) => DATETIME.test(d))) return undefined;
      // One encoding per set: strictly ascending, so equal lists are equal bytes.
      for (let i = 1; i < items.length; i++) if (!(items[i - 1]! < items[i]!)) return undefined;
      return items;
    }
    case 'alarms': {
      if (s === '') return [];
      const items = s.split(',');
      if (items.length > MAX_ALARMS || !items.every((d) => INT.test(d))) return undefined;
      const n = items.map(Number);
      if (n.some((x) => x < ALARM_MIN || x > ALARM_MAX)) return undefined;
      for (let i = 1; i < n.length; i++) if (!(n[i - 1]! < n[i]!)) return undefined;
      return n;
    }
    case 'bool':
      return undefined;
  }
}

/** Decodes a value of a declared type; undefined when the bytes are not a valid value of it. */
export function decodeValue<T extends ValueType>(type: T, b: Uint8Array): ValueOf[T] | undefined {
  if (type === 'bool')
    return (b.length === 1 && b[0]! <= 1 ? b[0] === 1 : undefined) as ValueOf[T] | undefined;
  if (b.length > MAX_TEXT_BYTES) return undefined;
  let s: string;
  try {
    s = fromUtf8(b);
  } catch {
    return undefined;
  }
  return checkString(type, s) as ValueOf[T] | undefined;
}

/** Encodes a value; throws a TypeError naming the problem when it is not valid for the type. */
export function encodeValue<T extends ValueType>(type: T, v: ValueOf[T]): Uint8Array {
  if (type === 'bool') {
    if (typeof v !== 'boolean') throw new TypeError('expected a boolean');
    return new Uint8Array([v ? 1 : 0]);
  }
  let s: string;
  if (type === 'datetimes' || type === 'alarms') {
    if (!Array.isArray(v)) throw new TypeError(`expected a list for ${type}`);
    s = v.join(',');
  } else {
    if (typeof v !== 'string') throw new TypeError('expected a string');
    s = v;
  }
  const b = utf8(s);
  if (decodeValue(type, b) === undefined)
    throw new TypeError(`not a valid ${type}: ${JSON.stringify(s.slice(0, 40))}`);
  return b;
}

/**
 * Is a JavaScript value (from storage or the UI) a valid value of the type? Exactly when
 * `encodeValue` accepts it, decided without encoding and decoding it (every stored span value is
 * checked on every read): the UTF-8 length is counted, not made, and the string checks are
 * applied to the string itself. Encoding replaces a lone surrogate with U+FFFD; that changes no
 * answer, since only `text` admits non-ASCII and it admits any string (values.test.ts compares
 * the two on arbitrary input).
 */
export function isValueOf(type: ValueType, v: unknown): boolean {
  if (type === 'bool') return typeof v === 'boolean';
  let s: string;
  if (type === 'datetimes' || type === 'alarms') {
    if (!Array.isArray(v)) return false;
    s = v.join(',');
  } else {
    if (typeof v !== 'string') return false;
    s = v;
  }
  if (s.length * 3 > MAX_TEXT_BYTES && utf8Length(s) > MAX_TEXT_BYTES) return false;
  return checkString(type, s) !== undefined;
}

/** Bytes of `s` in UTF-8 as TextEncoder writes it (a lone surrogate becomes U+FFFD, 3 bytes). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}
