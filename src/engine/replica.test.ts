import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from './bytes.ts';
import { EventField, eventFromRecord } from './calendar.ts';
import type { EntityId } from './ids.ts';
import { openReplica, testDevice } from './testkit.testkit.ts';

const E1 = '11'.repeat(16) as EntityId;

describe('replica basics', () => {
  it('[OP-1] creates a calendar and writes an event that another member reads', async () => {
    const a = testDevice('a');
    const b = testDevice('b');
    const ra = await openReplica(a);
    const rb = await openReplica(b);
    const g = await ra.createCalendar({ name: 'Home', color: '#336699' });
    const add = await ra.addMember(g.doc, await rb.deviceCard(g.doc));
    const w = await ra.write(g.doc, E1, [{ field: EventField.Title, value: utf8('Lunch') }]);
    for (const op of await ra.listOps(g.doc, 0, 100)) {
      const r = await rb.receive(op.bytes);
      expect(r.status, r.error?.message).toBe('applied');
    }
    expect(add.id).toBeTruthy();
    expect(w.id).toBeTruthy();
    const ev = eventFromRecord(rb.entity(g.doc, E1)!);
    expect(ev.title).toBe('Lunch');
    expect(rb.root(g.doc)).toBe(ra.root(g.doc));
    expect(fromUtf8(utf8('x'))).toBe('x');
  });
});
