import { describe, expect, it } from 'vitest';
import type { EventView } from '../worker/api.ts';
import {
  applyHidden,
  applyOverrides,
  OVERRIDE_TTL_MS,
  pruneOverrides,
  type TimeOverride,
} from './pending.ts';

const ev: EventView = {
  id: 'e1',
  calendarId: 'c1',
  title: 'x',
  start: '2026-11-24T09:00',
  end: '2026-11-24T10:00',
  allDay: false,
  timeZone: 'UTC',
  location: '',
  notes: '',
  rrule: '',
  rdates: [],
  exdates: [],
  alarms: null,
  startMs: Date.parse('2026-11-24T09:00Z'),
  endMs: Date.parse('2026-11-24T10:00Z'),
  conflicts: [],
};

describe('optimistic time edits', () => {
  const o = new Map<string, TimeOverride>([
    ['c1/e1', { start: '2026-11-24T09:15', end: '2026-11-24T10:15', at: 1000 }],
  ]);

  it('applies an override with recomputed instants', () => {
    const [a] = applyOverrides([ev], o);
    expect(a).toMatchObject({ start: '2026-11-24T09:15', startMs: Date.parse('2026-11-24T09:15Z') });
    expect(applyOverrides([ev], new Map())[0]).toBe(ev);
  });

  it('keeps an override until confirmed or expired', () => {
    expect(pruneOverrides([ev], o, 1500)).toBe(o);
    expect(
      pruneOverrides([{ ...ev, start: '2026-11-24T09:15', end: '2026-11-24T10:15' }], o, 1500).size,
    ).toBe(0);
    expect(pruneOverrides([ev], o, 1000 + OVERRIDE_TTL_MS + 1).size).toBe(0);
  });

  it('applies pending hidden flags', () => {
    const cals = [{ id: 'c1', name: 'A', color: '#000000', hidden: false }];
    expect(applyHidden(cals, new Map([['c1', true]]))[0]!.hidden).toBe(true);
  });
});
