// Views of plain occurrences are built from a per-series template (series-host.ts): each must be
// exactly the view built field by field from the assembled occurrence (viewOf), conflicts included.

import { beforeAll, describe, expect, it } from 'vitest';
import { type DocId, type EntityId, EventField, eventFromRecord } from '../engine/index.ts';
import { assemble, SeriesSet } from './occurrences.ts';
import { cachedExpander, type Expander, loadExpander } from './recur.ts';
import { occurrenceView } from './series-host.ts';
import { conflictsOf, viewOf } from './views.ts';

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
