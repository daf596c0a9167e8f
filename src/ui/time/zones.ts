// Time zones for people: current canonical ids (Asia/Kolkata, not Asia/Calcutta), the city, the
// offset now, and a search over all three. Browsers' Intl lists some zones by their old names
// (ICU keeps the IANA "backward" links as canonical), so they are mapped here.

import { msToZoned } from './zoned.ts';

/**
 * Old IANA names that Intl.supportedValuesOf('timeZone') (ICU) still returns, with the name IANA
 * uses today (tzdata "backward" file; renames and merges up to 2024).
 */
const CURRENT_NAME: Readonly<Record<string, string>> = {
  'Africa/Asmera': 'Africa/Asmara',
  'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
  'America/Catamarca': 'America/Argentina/Catamarca',
  'America/Coral_Harbour': 'America/Atikokan',
  'America/Cordoba': 'America/Argentina/Cordoba',
  'America/Godthab': 'America/Nuuk',
  'America/Indianapolis': 'America/Indiana/Indianapolis',
  'America/Jujuy': 'America/Argentina/Jujuy',
  'America/Louisville': 'America/Kentucky/Louisville',
  'America/Mendoza': 'America/Argentina/Mendoza',
  'America/Nipigon': 'America/Toronto',
  'America/Pangnirtung': 'America/Iqaluit',
  'America/Rainy_River': 'America/Winnipeg',
  'America/Santa_Isabel': 'America/Tijuana',
  'America/Thunder_Bay': 'America/Toronto',
  'America/Yellowknife': 'America/Edmonton',
  'Antarctica/South_Pole': 'Antarctica/McMurdo',
  'Asia/Calcutta': 'Asia/Kolkata',
  'Asia/Choibalsan': 'Asia/Ulaanbaatar',
  'Asia/Chongqing': 'Asia/Shanghai',
  'Asia/Dacca': 'Asia/Dhaka',
  'Asia/Harbin': 'Asia/Shanghai',
  'Asia/Katmandu': 'Asia/Kathmandu',
  'Asia/Macao': 'Asia/Macau',
  'Asia/Rangoon': 'Asia/Yangon',
  'Asia/Saigon': 'Asia/Ho_Chi_Minh',
  'Asia/Thimbu': 'Asia/Thimphu',
  'Asia/Ujung_Pandang': 'Asia/Makassar',
  'Asia/Ulan_Bator': 'Asia/Ulaanbaatar',
  'Atlantic/Faeroe': 'Atlantic/Faroe',
  'Australia/Currie': 'Australia/Hobart',
  'Europe/Kiev': 'Europe/Kyiv',
  'Europe/Uzhgorod': 'Europe/Kyiv',
  'Europe/Zaporozhye': 'Europe/Kyiv',
  'Pacific/Enderbury': 'Pacific/Kanton',
  'Pacific/Johnston': 'Pacific/Honolulu',
  'Pacific/Ponape': 'Pacific/Pohnpei',
  'Pacific/Truk': 'Pacific/Chuuk',
  'Pacific/Yap': 'Pacific/Chuuk',
};

/** The current IANA name of a zone id (unchanged when it is current already). */
export function canonicalZone(id: string): string {
  return CURRENT_NAME[id] ?? id;
}

export interface ZoneOption {
  /** Current IANA id, e.g. "Asia/Kolkata". */
  id: string;
  /** "Kolkata" (the last part of the id, underscores as spaces). */
  city: string;
  /** "Asia" */
  region: string;
  /** UTC offset at the reference instant, minutes. */
  offsetMin: number;
  /** "UTC+05:30" */
  offset: string;
}

export function formatOffset(min: number): string {
  const sign = min < 0 ? '−' : '+';
  const a = Math.abs(min);
  return `UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

function option(id: string, atMs: number): ZoneOption | null {
  try {
    const offsetMin = Math.round(msToZoned(atMs, id).offsetNanoseconds / 60e9);
    const parts = id.split('/');
    return {
      id,
      city: (parts.at(-1) ?? id).replaceAll('_', ' '),
      region: parts.length > 1 ? parts[0]!.replaceAll('_', ' ') : '',
      offsetMin,
      offset: formatOffset(offsetMin),
    };
  } catch {
    return null; // an id this platform's zone data does not know
  }
}

/** Every zone the platform knows, by current name, sorted by offset then city; UTC included. */
export function zoneOptions(atMs: number, platformIds?: readonly string[]): ZoneOption[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  const ids = platformIds ?? (intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : []);
  const seen = new Set<string>();
  const out: ZoneOption[] = [];
  for (const raw of [...ids, 'UTC']) {
    const id = canonicalZone(raw);
    if (seen.has(id)) continue;
    seen.add(id);
    const o = option(id, atMs);
    if (o) out.push(o);
  }
  return out.sort((a, b) => a.offsetMin - b.offsetMin || a.city.localeCompare(b.city));
}

/** Options matching a query on city, id, region or offset ("kolk", "india"? no: "+5:30", "utc+1"). */
export function searchZones(options: readonly ZoneOption[], query: string, limit = 50): ZoneOption[] {
  const q = query.trim().toLowerCase().replaceAll('_', ' ');
  if (q === '') return options.slice(0, limit);
  const qOffset = q.replace(/^(utc|gmt)\s*/, '').replace('−', '-');
  const out: ZoneOption[] = [];
  for (const o of options) {
    const offsetText = o.offset.replace('−', '-').toLowerCase();
    const hay = `${o.city} ${o.id.replaceAll('_', ' ')}`.toLowerCase();
    const offsetHit =
      /^[+-]\d/.test(qOffset) &&
      (offsetText.slice(3).startsWith(qOffset) ||
        offsetText
          .slice(3)
          .replace(/^([+-])0/, '$1')
          .startsWith(qOffset));
    if (hay.includes(q) || offsetHit || offsetText === q) out.push(o);
    if (out.length >= limit) break;
  }
  return out;
}
