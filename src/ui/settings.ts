// Settings ([UI-15]): week start, clock, default calendar, default event length, display zone.
// Kept per device in localStorage (like the calendars' show/hide choice); whatever is stored is
// validated on read, so a bad or old value falls back to its default instead of breaking the app.

import type { WeekStart } from './time/nav.ts';
import { isValidZone } from './time/zoned.ts';
import { canonicalZone } from './time/zones.ts';

export type TimeFormat = '12' | '24';

export interface Settings {
  /** ISO weekday of the first column: 1 = Monday ... 7 = Sunday. */
  weekStart: WeekStart;
  timeFormat: TimeFormat;
  /** Calendar id for new events; '' = automatic (the first calendar no other device shares). */
  defaultCalendar: string;
  /** Minutes. */
  eventMinutes: number;
  displayZone: string;
}

export const SETTINGS_KEY = 'ledgerday.settings';
/** The display zone's key before Settings existed (read once as a default). */
export const OLD_ZONE_KEY = 'ledgerday.displayZone';
export const EVENT_LENGTHS = [15, 30, 45, 60, 90, 120] as const;
export const WEEK_STARTS: readonly { day: WeekStart; label: string }[] = [
  { day: 1, label: 'Monday' },
  { day: 6, label: 'Saturday' },
  { day: 7, label: 'Sunday' },
];

/** Stored settings over the defaults, each field validated on its own. */
export function parseSettings(raw: unknown, defaults: Settings): Settings {
  const o = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const s = { ...defaults };
  if (
    typeof o['weekStart'] === 'number' &&
    Number.isInteger(o['weekStart']) &&
    o['weekStart'] >= 1 &&
    o['weekStart'] <= 7
  )
    s.weekStart = o['weekStart'] as WeekStart;
  if (o['timeFormat'] === '12' || o['timeFormat'] === '24') s.timeFormat = o['timeFormat'];
  if (typeof o['defaultCalendar'] === 'string' && /^([0-9a-f]{32})?$/.test(o['defaultCalendar']))
    s.defaultCalendar = o['defaultCalendar'];
  if ((EVENT_LENGTHS as readonly unknown[]).includes(o['eventMinutes']))
    s.eventMinutes = o['eventMinutes'] as number;
  if (typeof o['displayZone'] === 'string' && o['displayZone'].length < 64 && isValidZone(o['displayZone']))
    s.displayZone = canonicalZone(o['displayZone']);
  return s;
}

export interface StorageLike {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
}

export function loadSettings(storage: StorageLike | undefined, defaults: Settings): Settings {
  if (!storage) return defaults;
  try {
    const old = storage.getItem(OLD_ZONE_KEY);
    const base = old && isValidZone(old) ? { ...defaults, displayZone: canonicalZone(old) } : defaults;
    const raw = storage.getItem(SETTINGS_KEY);
    return raw === null ? base : parseSettings(JSON.parse(raw), base);
  } catch {
    return defaults; // unreadable JSON or storage blocked: defaults, nothing thrown
  }
}

export function saveSettings(storage: StorageLike | undefined, s: Settings): void {
  try {
    storage?.setItem(SETTINGS_KEY, JSON.stringify(s));
  } catch {
    // Storage full or blocked: the choice holds for this session.
  }
}

/**
 * The calendar a new event goes to: the one chosen in Settings if it is still here and shown;
 * else the first shown calendar no other device shares; else the first shown one ('' when none:
 * saving creates "Personal"). `shared` says which calendars have other member devices.
 */
export function pickDefaultCalendar(
  calendars: readonly { id: string; hidden: boolean }[],
  chosen: string,
  shared: ReadonlySet<string>,
): string {
  const shown = calendars.filter((c) => !c.hidden);
  if (chosen !== '' && shown.some((c) => c.id === chosen)) return chosen;
  return shown.find((c) => !shared.has(c.id))?.id ?? shown[0]?.id ?? calendars[0]?.id ?? '';
}
