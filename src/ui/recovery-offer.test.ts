import { describe, expect, it } from 'vitest';
import type { CalendarInfo, RecoveryStatus } from '../worker/api.ts';
import { offerText } from './components/Recovery.tsx';

const cal = (id: string, name: string): CalendarInfo => ({ id, name, color: '#000000', hidden: false });
const CALS = [cal('a', 'Personal'), cal('b', 'Work'), cal('c', 'Family')];
const NOW = Date.UTC(2026, 10, 27);
const DAY = 86_400_000;
const status = (p: Partial<RecoveryStatus>): RecoveryStatus => ({
  lastFile: null,
  uncoveredIds: [],
  hasEvents: true,
  ...p,
});

describe('recovery offer', () => {
  it('[REC-4] never before a calendar has an event, nor when there is no calendar to cover', () => {
    expect(offerText(status({ hasEvents: false, uncoveredIds: ['a'] }), CALS, NOW)).toBeNull();
    expect(offerText(status({ uncoveredIds: [] }), CALS, NOW)).toBeNull();
    expect(offerText(status({ uncoveredIds: ['a', 'b'] }), CALS, NOW)).toMatch(/recovery file brings/);
  });

  it('[REC-4] again when a calendar is not in the last file, or the file expires within 30 days', () => {
    const file = { madeAt: NOW - 300 * DAY, expiresAt: NOW + 65 * DAY, calendarIds: ['a'] };
    expect(offerText(status({ lastFile: file }), CALS, NOW)).toBeNull();
    expect(offerText(status({ lastFile: file, uncoveredIds: ['b'] }), CALS, NOW)).toBe(
      'Your recovery file does not cover “Work”.',
    );
    expect(offerText(status({ lastFile: { ...file, expiresAt: NOW + 10 * DAY } }), CALS, NOW)).toMatch(
      /^Your recovery file expires on /,
    );
  });
});
