// Navigation math (visible days, previous/next/today, fetch range) and the URL route "#/week/2026-11-24".
import { Temporal } from 'temporal-polyfill';
import type { DateStr } from './zoned.ts';
import { isDateStr, startOfDayMs } from './zoned.ts';

export type View = 'month' | 'week' | 'day' | 'agenda';
export const VIEWS: readonly View[] = ['month', 'week', 'day', 'agenda'];

/** Days the agenda shows from its date. */
export const AGENDA_DAYS = 30;

/** ISO weekday of the first column: 1 = Monday ... 7 = Sunday. */
export type WeekStart = 1 | 2 | 3 | 4 | 5 | 6 | 7;

export function isView(s: string): s is View {
  return (VIEWS as readonly string[]).includes(s);
}

export function startOfWeek(date: DateStr, weekStart: WeekStart): DateStr {
  const d = Temporal.PlainDate.from(date);
  return d.subtract({ days: (d.dayOfWeek - weekStart + 7) % 7 }).toString();
}

function span(from: DateStr, count: number): DateStr[] {
  const d = Temporal.PlainDate.from(from);
  return Array.from({ length: count }, (_, i) => d.add({ days: i }).toString());
}

/** Month grid: whole weeks covering the month of `date` (4 to 6 rows). */
export function monthWeeks(date: DateStr, weekStart: WeekStart): DateStr[][] {
  const d = Temporal.PlainDate.from(date);
  const first = d.with({ day: 1 });
  const gridStart = startOfWeek(first.toString(), weekStart);
  const lastOfMonth = first.add({ months: 1 }).subtract({ days: 1 });
  const total = Temporal.PlainDate.from(gridStart).until(lastOfMonth, { largestUnit: 'days' }).days + 1;
  const weeks = Math.ceil(total / 7);
  const all = span(gridStart, weeks * 7);
  return Array.from({ length: weeks }, (_, w) => all.slice(w * 7, w * 7 + 7));
}

export function visibleDays(view: View, date: DateStr, weekStart: WeekStart): DateStr[] {
  switch (view) {
    case 'day':
      return [date];
    case 'week':
      return span(startOfWeek(date, weekStart), 7);
    case 'month':
      return monthWeeks(date, weekStart).flat();
    case 'agenda':
      return span(date, AGENDA_DAYS);
  }
}

/** The date "Previous"/"Next" goes to. Month steps keep the day where the month has it (31 -> 30). */
export function step(view: View, date: DateStr, dir: 1 | -1): DateStr {
  const d = Temporal.PlainDate.from(date);
  switch (view) {
    case 'day':
      return d.add({ days: dir }).toString();
    case 'week':
      return d.add({ weeks: dir }).toString();
    case 'month':
      return d.add({ months: dir }, { overflow: 'constrain' }).toString();
    case 'agenda':
      return d.add({ days: dir * AGENDA_DAYS }).toString();
  }
}

/**
 * Instant range to fetch for the visible days, padded by a day each side: all-day events are
 * floating dates whose stored instants can sit up to ±14 h from the display zone's days.
 */
export function fetchRange(days: DateStr[], zone: string): { fromMs: number; toMs: number } {
  const first = Temporal.PlainDate.from(days[0]!);
  const last = Temporal.PlainDate.from(days[days.length - 1]!);
  return {
    fromMs: startOfDayMs(first.subtract({ days: 1 }), zone),
    toMs: startOfDayMs(last.add({ days: 2 }), zone),
  };
}

export interface Route {
  view: View;
  date: DateStr;
}

/** Parses "#/week/2026-11-24"; anything else (bad view, impossible date) is null, never a throw. */
export function parseRoute(hash: string): Route | null {
  const m = /^#\/([a-z]+)\/(\d{4}-\d{2}-\d{2})$/.exec(hash);
  if (!m) return null;
  const [, view, date] = m;
  if (!view || !date || !isView(view) || !isDateStr(date)) return null;
  return { view, date };
}

export function formatRoute(r: Route): string {
  return `#/${r.view}/${r.date}`;
}

/** First weekday for the locale (Intl.Locale weekInfo where available), Monday otherwise. */
export function localeWeekStart(locale?: string): WeekStart {
  try {
    const loc = new Intl.Locale(locale ?? navigator.language) as Intl.Locale & {
      getWeekInfo?: () => { firstDay: number };
      weekInfo?: { firstDay: number };
    };
    const info = loc.getWeekInfo?.() ?? loc.weekInfo;
    const fd = info?.firstDay;
    if (fd && fd >= 1 && fd <= 7) return fd as WeekStart;
  } catch {
    // Unknown locale tag or no navigator (tests): fall through.
  }
  return 1;
}
