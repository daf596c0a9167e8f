// SCH-4 for the Compliance flag: a reader whose calendar table stops at schema version 2 (this
// file's replicas: the table row is hidden from them, as in a build released before it) keeps a
// Compliance write as an unknown field, and its own edits of the calendar leave it as it was.

import { describe, expect, it, vi } from 'vitest';
import { fromHex, utf8 } from './bytes.ts';
import { calendarFromRecord } from './calendar.ts';
import { encodePatch } from './codec.ts';
import { lastOp, syncOps, team } from './hostile.testkit.ts';
import { CALENDAR_ENTITY } from './ids.ts';
import { OpKind } from './store.ts';
import { craftOp } from './testkit.testkit.ts';

const COMPLIANCE = 4;

vi.mock('./schema.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('./schema.ts')>();
  return {
    ...real,
    CALENDAR_FIELDS: real.CALENDAR_FIELDS.filter((f) => f.since <= 2),
    SCHEMA_VERSION: 2,
    fieldSpec: (calendar: boolean, num: number) =>
      calendar && num === COMPLIANCE ? undefined : real.fieldSpec(calendar, num),
  };
});

describe('an older reader and the Compliance flag', () => {
  it('[CMP-1][SCH-4][LWW-6] keeps it as an unknown field, merged by LWW, untouched by its own calendar edits', async () => {
    const t = await team(['old-a', 'old-b']);
    const [ra, rb] = t.reps;
    // A newer device (b, writing by hand what a schema-3 build writes) turns compliance mode on.
    const last = await lastOp(ra!, t.doc);
    const on = craftOp({
      secret: t.devs[1]!.secret,
      doc: fromHex(t.doc),
      ctr: 1,
      kind: OpKind.Patch,
      schema: 3,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: encodePatch({
        entity: fromHex(CALENDAR_ENTITY),
        writes: [{ field: COMPLIANCE, value: new Uint8Array([1]) }],
      }),
      key: t.key,
    });
    expect((await ra!.receive(on)).status).toBe('applied');
    expect((await ra!.getOps(t.doc, [(await lastOp(ra!, t.doc)).id]))[0]?.body).toBe('applied');
    // The old reader does not know the field: not in its view, kept in its register.
    expect('compliance' in calendarFromRecord(ra!.entity(t.doc, CALENDAR_ENTITY))).toBe(false);
    // Its own rename writes Name only (LWW-3).
    await ra!.write(t.doc, CALENDAR_ENTITY, [{ field: 1, value: utf8('Renamed') }]);
    const reg = () => ra!.entity(t.doc, CALENDAR_ENTITY)!.registers.find((g) => g.field === COMPLIANCE);
    expect(reg()!.writes[0]!.value).toEqual(new Uint8Array([1]));
    // And what it forwards carries the flag intact to every other replica.
    await syncOps(ra!, rb!, t.doc);
    const onB = rb!.entity(t.doc, CALENDAR_ENTITY)!.registers.find((g) => g.field === COMPLIANCE);
    expect(onB!.writes[0]!.value).toEqual(new Uint8Array([1]));
  });
});
