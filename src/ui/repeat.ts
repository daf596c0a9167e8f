// The "Repeat" control's model (pure, unit-tested): presets named as the issue names them, the
// Custom editor's state ("Repeat every", "Repeat on", "Ends") and the RRULE value both produce.
// RRULE text is validated by the engine's parser (one grammar; the UI never writes another).

// One RRULE grammar for the engine's validation and this editor, through the engine's only public
// entry (index.ts): it costs the app shell about 5 KB gzip of engine code (measured with vite build,
// 120.5 -> 125.7 KB), which the layering rule is worth.
import { formatRRule, parseRRule, type RRuleParts, WEEKDAYS, type Weekday } from '../engine/index.ts';

export const WEEKDAY_NAMES: Record<Weekday, string> = {
  MO: 'Monday',
  TU: 'Tuesday',
  WE: 'Wednesday',
  TH: 'Thursday',
  FR: 'Friday',
  SA: 'Saturday',
  SU: 'Sunday',
};

export type PresetKey = 'none' | 'daily' | 'weekly' | 'monthly' | 'yearly' | 'weekdays' | 'custom';

/** The weekday of a "YYYY-MM-DD…" date (ISO: Monday first). */
export function weekdayOf(start: string): Weekday {
  const d = new Date(`${start.slice(0, 10)}T00:00Z`).getUTCDay();
  return WEEKDAYS[(d + 6) % 7]!;
}

/** The presets for an event starting at `start`: key, label (accessible name) and rule. */
export function presets(start: string): { key: PresetKey; label: string; rule: string }[] {
  const wd = weekdayOf(start);
  return [
    { key: 'none', label: 'Does not repeat', rule: '' },
    { key: 'daily', label: 'Daily', rule: 'FREQ=DAILY' },
    { key: 'weekly', label: `Weekly on ${WEEKDAY_NAMES[wd]}`, rule: `FREQ=WEEKLY;BYDAY=${wd}` },
    { key: 'monthly', label: 'Monthly', rule: 'FREQ=MONTHLY' },
    { key: 'yearly', label: 'Yearly', rule: 'FREQ=YEARLY' },
    { key: 'weekdays', label: 'Every weekday', rule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR' },
  ];
}

/** Which preset a stored rule is, or 'custom'. */
export function presetOf(rule: string, start: string): PresetKey {
  if (rule === '') return 'none';
  const p = parseRRule(rule);
  const canon = p === undefined ? rule : formatRRule(p);
  return presets(start).find((x) => x.rule === canon)?.key ?? 'custom';
}

export type Unit = 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';
export type Ends = 'never' | 'on' | 'after';

export interface CustomState {
  every: number;
  unit: Unit;
  /** Weekdays for a weekly rule ("Repeat on"). */
  on: Weekday[];
  ends: Ends;
  /** "YYYY-MM-DD", the last day (inclusive) when ends = 'on'. */
  until: string;
  count: number;
  /** Parts the Custom editor does not show (an imported BYSETPOS, say): kept as they are. */
  keep: Omit<RRuleParts, 'freq' | 'interval' | 'until' | 'count'>;
}

/** The Custom editor's state for a rule (a preset's rule too), with defaults from `start`. */
export function customFrom(rule: string, start: string): CustomState {
  const p = parseRRule(rule === '' ? `FREQ=WEEKLY;BYDAY=${weekdayOf(start)}` : rule);
  const base: CustomState = {
    every: 1,
    unit: 'WEEKLY',
    on: [weekdayOf(start)],
    ends: 'never',
    until: start.slice(0, 10),
    count: 10,
    keep: {},
  };
  if (p === undefined) return base;
  const { freq, interval, byDay, until, count, ...rest } = p;
  const simpleDays = byDay?.every((d) => d.n === 0) ?? true;
  const out: CustomState = { ...base, keep: { ...rest } };
  out.unit = (['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'] as const).includes(freq as Unit)
    ? (freq as Unit)
    : 'WEEKLY';
  out.every = interval ?? 1;
  if (freq === 'WEEKLY' && byDay && simpleDays) out.on = byDay.map((d) => d.day);
  else if (byDay) out.keep.byDay = byDay;
  if (until !== undefined) {
    out.ends = 'on';
    out.until = `${until.slice(0, 4)}-${until.slice(4, 6)}-${until.slice(6, 8)}`;
  } else if (count !== undefined) {
    out.ends = 'after';
    out.count = count;
  }
  return out;
}

/** The RRULE value of a Custom editor state; undefined when it is not a valid rule. */
export function ruleFromCustom(c: CustomState): string | undefined {
  if (!Number.isInteger(c.every) || c.every < 1 || c.every > 999) return undefined;
  const { byDay: keptDays, ...kept } = c.keep;
  const p: RRuleParts = { ...kept, freq: c.unit };
  if (c.every > 1) p.interval = c.every;
  if (c.unit === 'WEEKLY') {
    if (c.on.length === 0) return undefined;
    p.byDay = WEEKDAYS.filter((d) => c.on.includes(d)).map((day) => ({ n: 0, day }));
  } else if (keptDays) {
    p.byDay = keptDays;
  }
  if (c.ends === 'on') {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(c.until)) return undefined;
    p.until = c.until.replaceAll('-', '');
  } else if (c.ends === 'after') {
    if (!Number.isInteger(c.count) || c.count < 1 || c.count > 9999) return undefined;
    p.count = c.count;
  }
  const s = formatRRule(p);
  return parseRRule(s) === undefined ? undefined : s;
}
