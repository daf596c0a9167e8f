// Views of plain occurrences are built from a per-series template (series-host.ts): each must be
// exactly the view built field by field from the assembled occurrence (viewOf), conflicts included;
// and sortByTime (ranks sorted natively) orders views exactly as the byTime comparator.

import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DocId, type EntityId, EventField, eventFromRecord } from '../engine/index.ts';
import type { EventView } from './api.ts';
import { assemble, SeriesSet } from './occurrences.ts';
import { cachedExpander, type Expander, loadExpander } from './recur.ts';
import { occurrenceView } from './series-host.ts';
import { byTime, conflictsOf, sortByTime, viewOf } from './views.ts';

const DOC = 'd0'.repeat(16) as DocId;
const DOC2 = 'd1'.repeat(16) as DocId;
let expand: Expander;
beforeAll(async () => {
  expand = cachedExpander(await loadExpander());
});

function series(id: string, values: Record<string, unknown>, conflicted: boolean) {
  const ev = eventFromRecord({ doc: DOC, entity: id as EntityId, registers: [] });
  Object.assign(ev, values);
  if (conflicted)
    ev.conflicts.set(EventField.Title, [
      { value: values['title'] as string, author: 'a'.repeat(64), wallTime: 2, op: 'o1' },
      { value: 'Other', author: 'b'.repeat(64), wallTime: 1, op: 'o2' },
    ]);
  return ev;
}

describe('occurrence views', () => {
  it('a plain occurrence view equals the one built field by field, per calendar, conflicts included', () => {
    const set = new SeriesSet();
    const a = series(
      'a1'.repeat(16),
      {
        title: 'Stand-up',
        start: '2026-03-02T09:00',
        end: '2026-03-02T09:30',
        timeZone: 'Europe/Berlin',
        location: 'Room 1',
        rrule: 'FREQ=WEEKLY;BYDAY=MO,WE',
      },
      true,
    );
    const b = series(
      'b2'.repeat(16),
      {
        title: 'Day off',
        start: '2026-03-01',
        end: '2026-03-02',
        allDay: true,
        rrule: 'FREQ=DAILY;COUNT=40',
      },
      false,
    );
    set.put(a);
    set.put(b);
    const from = Date.UTC(2026, 2, 1);
    const to = Date.UTC(2026, 4, 1);
    const occ = assemble(set, expand, from, to);
    expect(occ.length).toBeGreaterThan(40);
    for (const doc of [DOC, DOC2, DOC]) {
      for (const o of occ) {
        const s = o.seriesId === a.id ? a : b;
        const want = viewOf(doc, o.id, o.fields, s.conflicts.size > 0 ? conflictsOf(s) : [], o);
        want.occurrence = { seriesId: o.seriesId, recurrenceId: o.recurrenceId, detached: false };
        const got = occurrenceView(doc, o, set);
        expect(got).toEqual(want);
        expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
      }
    }
    // A changed series (a new entity object) is drawn with its new values.
    const a2 = series('a1'.repeat(16), { ...a, title: 'Retro', conflicts: new Map() }, false);
    set.put(a2);
    for (const o of assemble(set, expand, from, to).filter((x) => x.seriesId === a2.id)) {
      const v = occurrenceView(DOC, o, set);
      expect(v.title).toBe('Retro');
      expect(v.conflicts).toEqual([]);
    }
  });
});

describe('sortByTime', () => {
  it('orders views as byTime does (start, end, id), ties and equal starts included', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            start: fc.integer({ min: 0, max: 40 }),
            len: fc.integer({ min: -2, max: 5 }),
            id: fc.integer({ min: 0, max: 1_000_000 }),
          }),
          { minLength: 0, maxLength: 400 },
        ),
        (rows) => {
          const seen = new Set<number>();
          const views = rows
            .filter((r) => !seen.has(r.id) && seen.add(r.id))
            .map(
              (r) =>
                ({
                  id: r.id.toString(16).padStart(8, '0'),
                  startMs: 1.7e12 + r.start * 900_000,
                  endMs: 1.7e12 + (r.start + r.len) * 900_000,
                }) as EventView,
            );
          const want = [...views].sort(byTime);
          expect(sortByTime([...views]).map((v) => v.id)).toEqual(want.map((v) => v.id));
        },
      ),
    );
  });

  it('keeps every view once when ids repeat', () => {
    const views = Array.from(
      { length: 300 },
      (_, i) => ({ id: `x${i % 7}`, startMs: (i * 37) % 50, endMs: 60, n: i }) as unknown as EventView,
    );
    const got = sortByTime([...views]);
    expect(new Set(got).size).toBe(300);
    for (let i = 1; i < got.length; i++)
      expect(byTime(got[i - 1]!, got[i]!) <= 0 || got[i - 1]!.id === got[i]!.id).toBe(true);
  });
});
