import { describe, expect, it } from 'vitest';
import { onlyCopyCalendars } from './components/StorageNotice.tsx';
import { loadSettings, parseSettings, pickDefaultCalendar, type Settings, saveSettings } from './settings.ts';
import { uiLocale } from './time/zoned.ts';
import { canonicalZone, searchZones, zoneOptions } from './time/zones.ts';

const DEFAULTS: Settings = {
  weekStart: 7,
  timeFormat: '12',
  defaultCalendar: '',
  eventMinutes: 60,
  displayZone: 'America/New_York',
};

function memoryStorage(init: Record<string, string> = {}) {
  const m = new Map(Object.entries(init));
  return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v), m };
}

describe('settings', () => {
  it('[UI-15] round-trips through storage and validates every field on its own', () => {
    const st = memoryStorage();
    const s: Settings = {
      ...DEFAULTS,
      weekStart: 1,
      timeFormat: '24',
      eventMinutes: 30,
      displayZone: 'Asia/Kolkata',
    };
    saveSettings(st, s);
    expect(loadSettings(st, DEFAULTS)).toEqual(s);
    expect(
      parseSettings(
        { weekStart: 0, timeFormat: '25', eventMinutes: 7, displayZone: 'Mars/Base', defaultCalendar: '<x>' },
        DEFAULTS,
      ),
    ).toEqual(DEFAULTS);
    expect(parseSettings('junk', DEFAULTS)).toEqual(DEFAULTS);
    expect(loadSettings(memoryStorage({ 'ledgerday.settings': '{not json' }), DEFAULTS)).toEqual(DEFAULTS);
    // A legacy zone name is stored as its current name.
    expect(parseSettings({ displayZone: 'Asia/Calcutta' }, DEFAULTS).displayZone).toBe('Asia/Kolkata');
    // The display zone chosen before Settings existed is kept.
    expect(
      loadSettings(memoryStorage({ 'ledgerday.displayZone': 'Europe/Kiev' }), DEFAULTS).displayZone,
    ).toBe('Europe/Kyiv');
  });

  it('[UI-16] new events go to the chosen calendar, else the first one no other device shares', () => {
    const cals = [
      { id: 'a'.repeat(32), hidden: false },
      { id: 'b'.repeat(32), hidden: false },
      { id: 'c'.repeat(32), hidden: true },
    ];
    const shared = new Set(['a'.repeat(32)]);
    expect(pickDefaultCalendar(cals, '', shared)).toBe('b'.repeat(32));
    expect(pickDefaultCalendar(cals, 'a'.repeat(32), shared)).toBe('a'.repeat(32));
    // A chosen calendar that is hidden or gone falls back to the automatic choice.
    expect(pickDefaultCalendar(cals, 'c'.repeat(32), shared)).toBe('b'.repeat(32));
    expect(pickDefaultCalendar([], '', shared)).toBe('');
  });

  it('[UI-16] "only copy": calendars no other device has, before anything reached the server', () => {
    const cals = [
      { id: 'a'.repeat(32), name: 'Family', color: '#000000', hidden: false },
      { id: 'b'.repeat(32), name: 'Personal', color: '#000000', hidden: false },
    ];
    expect(onlyCopyCalendars(cals, new Set(['a'.repeat(32)]), null).map((c) => c.name)).toEqual(['Personal']);
    expect(onlyCopyCalendars(cals, new Set(), 1_700_000_000_000)).toEqual([]);
  });
});

describe('time zones and locale', () => {
  it('[UI-15] the zone list uses current names, with cities and offsets, and is searchable', () => {
    const opts = zoneOptions(Date.UTC(2026, 0, 15), ['Asia/Calcutta', 'Europe/Kiev', 'Europe/Berlin', 'UTC']);
    expect(opts.map((o) => o.id)).toEqual(['UTC', 'Europe/Berlin', 'Europe/Kyiv', 'Asia/Kolkata']);
    expect(opts.find((o) => o.id === 'Asia/Kolkata')).toMatchObject({ city: 'Kolkata', offset: 'UTC+05:30' });
    expect(searchZones(opts, 'kolk').map((o) => o.id)).toEqual(['Asia/Kolkata']);
    expect(searchZones(opts, '+5:30').map((o) => o.id)).toEqual(['Asia/Kolkata']);
    expect(searchZones(opts, 'utc+2').map((o) => o.id)).toEqual(['Europe/Kyiv']);
    expect(searchZones(opts, 'calcutta')).toEqual([]);
    expect(canonicalZone('Europe/Berlin')).toBe('Europe/Berlin');
    // Every zone this platform lists maps to a name it can use.
    for (const o of zoneOptions(Date.now())) expect(o.offset).toMatch(/^UTC[+−]\d\d:\d\d$/);
  });

  it('[UI-15] the UI writes dates in English with the browser region (de-DE -> en-DE)', () => {
    expect(uiLocale(['de-DE', 'en'])).toBe('en-DE');
    expect(uiLocale(['en-US'])).toBe('en-US');
    expect(uiLocale(['fr'])).toBe('en-FR');
    expect(uiLocale(['not a tag!'])).toBe('en-US');
  });
});
