import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DocId } from '../engine/index.ts';
import type { EventView, Range } from './api.ts';
import { EventIndex, type Indexed } from './event-index.ts';
import { inRange } from './views.ts';

const DOC = '0'.repeat(32) as DocId;
const DAY = 86_400_000;
const BASE = Date.UTC(2026, 10, 1);

function item(id: string, startMs: number, endMs: number): Indexed {
  return { doc: DOC, view: { id, calendarId: DOC, startMs, endMs } as unknown as EventView };
}

/** What a scan of every event gives (the host's answer before the index by day). */
function scan(items: Map<string, Indexed>, range: Range): string[] {
  return [...items.values()].filter((i) => inRange(i.view, range)).map((i) => i.view.id);
}

function query(index: EventIndex, range: Range): string[] {
  const out: EventView[] = [];
  index.inRange(range, out);
  return out.map((v) => v.id);
}

const offset = fc.oneof(
  fc.integer({ min: -40 * DAY, max: 40 * DAY }),
  // Day boundaries and the 7-day short limit, where an off-by-one would show.
  fc.constantFrom(0, DAY, DAY - 1, 7 * DAY, 7 * DAY + 1, -7 * DAY, -1),
);
const span = fc.oneof(
  fc.integer({ min: 0, max: 3 * DAY }),
  fc.constantFrom(0, 1, -DAY, 7 * DAY, 7 * DAY + 1, 400 * DAY, Number.NaN, Number.POSITIVE_INFINITY),
);
const action = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key: fc.integer({ min: 0, max: 30 }), at: offset, span }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 30 }) }),
);
const range = fc
  .tuple(offset, fc.oneof(fc.integer({ min: 0, max: 60 * DAY }), fc.constantFrom(0, 1, DAY, 2000 * DAY)))
  .map(([from, len]) => ({ fromMs: BASE + from, toMs: BASE + from + len }));

describe('EventIndex', () => {
  it('answers every range exactly as a scan of every event does, across sets, replacements and deletes', () => {
    fc.assert(
      fc.property(
        fc.array(action, { maxLength: 60 }),
        fc.array(range, { minLength: 1, maxLength: 8 }),
        (acts, ranges) => {
          const index = new EventIndex();
          const model = new Map<string, Indexed>();
          for (const a of acts) {
            const key = `${DOC}/${a.key}`;
            if (a.kind === 'delete') {
              index.delete(key);
              model.delete(key);
            } else {
              const it = item(`e${a.key}`, BASE + a.at, BASE + a.at + a.span);
              index.set(key, it);
              model.set(key, it);
            }
          }
          expect(index.size).toBe(model.size);
          const ids = (xs: Iterable<Indexed>) => [...xs].map((i) => i.view.id).sort();
          expect(ids(index.values())).toEqual(ids(model.values()));
          for (const r of ranges) expect(query(index, r).sort()).toEqual(scan(model, r).sort());
        },
      ),
      { numRuns: Number(process.env['EVENT_INDEX_RUNS'] ?? 300) },
    );
  });

  it('a month of a ten-year calendar gives exactly the events of that month', () => {
    const index = new EventIndex();
    for (let i = 0; i < 3650; i++)
      index.set(`${DOC}/${i}`, item(`e${i}`, BASE + i * DAY, BASE + i * DAY + 3600_000));
    const out: EventView[] = [];
    index.inRange({ fromMs: BASE + 100 * DAY, toMs: BASE + 130 * DAY }, out);
    expect(out.map((v) => v.id)).toEqual(Array.from({ length: 30 }, (_, i) => `e${100 + i}`));
  });
});
