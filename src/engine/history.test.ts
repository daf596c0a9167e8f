// Field history (CMP-*): every write to each register of an entity, read back from the op log,
// agrees with the registers on every replica, marks conflicts, revoked and inert writes, counts
// what a replica cannot read, pages through long histories and changes nothing.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, fromUtf8, utf8 } from './bytes.ts';
import { CalendarField, calendarFromRecord, EventField, encodeValue } from './calendar.ts';
import { encodePatch } from './codec.ts';
import { createWebCrypto, type SubtleLike } from './crypto.ts';
import type { HistoryEntry } from './history.ts';
import { EV, lastOp, pubOf, syncOps, team } from './hostile.testkit.ts';
import { CALENDAR_ENTITY, type DocId, type EntityId, type OpId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import { Replica } from './replica.ts';
import { type EngineStore, OpKind } from './store.ts';
import { cardOf, craftOp, deviceKeys, manualClock, openReplica, testDevice } from './testkit.testkit.ts';

const T = EventField.Title;
const text = (v: Uint8Array | null | undefined) =>
  v === null ? null : v === undefined ? undefined : fromUtf8(v);
const show = (e: HistoryEntry) => ({ value: text(e.value), old: text(e.old), status: e.status });

async function titleHistory(r: Replica, doc: DocId, entity: EntityId = EV) {
  const h = await r.fieldHistory(doc, entity, { fields: [T] });
  return h.fields.find((f) => f.field === T)?.entries ?? [];
}

describe('field history', () => {
  it('[CMP-3] every write to a field across devices, newest first, with who, when and what it replaced', async () => {
    const t = await team(['h-a', 'h-b', 'h-c']);
    const [ra, rb, rc] = t.reps as [Replica, Replica, Replica];
    await rb.write(t.doc, EV, [{ field: T, value: utf8('Lunch') }]);
    await syncOps(rb, rc, t.doc);
    await rc.write(t.doc, EV, [{ field: T, value: utf8('Dinner') }]);
    await syncOps(rc, ra, t.doc);
    await syncOps(rb, ra, t.doc);
    const entries = await titleHistory(ra, t.doc);
    expect(entries.map(show)).toEqual([
      { value: 'Dinner', old: 'Lunch', status: 'winner' },
      { value: 'Lunch', old: 'Start', status: 'superseded' },
      { value: 'Start', old: null, status: 'superseded' },
    ]);
    expect(entries.map((e) => e.author)).toEqual(
      [t.devs[2]!, t.devs[1]!, t.devs[0]!].map((d) => Buffer.from(pubOf(d)).toString('hex')),
    );
    for (let i = 1; i < entries.length; i++)
      expect(entries[i - 1]!.wallTime).toBeGreaterThan(entries[i]!.wallTime);
    // The same on every replica once all ops are there.
    await syncOps(ra, rb, t.doc);
    await syncOps(ra, rc, t.doc);
    for (const r of [rb, rc]) expect(await titleHistory(r, t.doc)).toEqual(entries);
  });

  it('[CMP-4] concurrent writes: the winner and the loser still in the frontier (a conflict), both replacing the same value', async () => {
    const t = await team(['hc-a', 'hc-b']);
    const [ra, rb] = t.reps as [Replica, Replica];
    await ra.write(t.doc, EV, [{ field: T, value: utf8('from a') }]);
    await rb.write(t.doc, EV, [{ field: T, value: utf8('from b') }]);
    await syncOps(ra, rb, t.doc);
    await syncOps(rb, ra, t.doc);
    const ha = await titleHistory(ra, t.doc);
    expect(ha.map((e) => e.status)).toEqual(['winner', 'conflict', 'superseded']);
    expect(ha.slice(0, 2).map((e) => text(e.old))).toEqual(['Start', 'Start']);
    const reg = ra.entity(t.doc, EV)!.registers.find((g) => g.field === T)!;
    expect(text(ha[0]!.value)).toBe(text(reg.writes[0]!.value));
    expect(ha[1]!.op).toBe(reg.writes[1]!.op);
    expect(await titleHistory(rb, t.doc)).toEqual(ha);
  });

  it('[CMP-5][MEM-5] a write concurrent with its author removal is shown as revoked and never as the value', async () => {
    const t = await team(['hr-a', 'hr-b', 'hr-c']);
    const [ra, , rc] = t.reps as [Replica, Replica, Replica];
    const cw = await rc.write(t.doc, EV, [{ field: T, value: utf8('sneaky') }]);
    await ra.removeMember(t.doc, pubOf(t.devs[2]!));
    expect((await ra.receive(cw.bytes)).status).toBe('applied');
    const entries = await titleHistory(ra, t.doc);
    expect(entries.map(show)).toEqual([
      { value: 'sneaky', old: 'Start', status: 'revoked' },
      { value: 'Start', old: null, status: 'winner' },
    ]);
  });

  it('[CMP-5][OP-6] an inert body (an invalid write in the patch) is shown as not counted', async () => {
    const t = await team(['hi-a', 'hi-b']);
    const [ra] = t.reps as [Replica];
    const last = await lastOp(ra, t.doc);
    const bad = craftOp({
      secret: t.devs[1]!.secret,
      doc: fromHex(t.doc),
      ctr: 1,
      kind: OpKind.Patch,
      wallTime: last.wallTime + 1,
      parents: [fromHex(last.id)],
      body: encodePatch({
        entity: fromHex(EV),
        writes: [
          { field: T, value: utf8('bad op') },
          { field: EventField.AllDay, value: new Uint8Array([7]) },
        ],
      }),
      key: t.key,
    });
    expect((await ra.receive(bad)).status).toBe('applied');
    const h = await ra.fieldHistory(t.doc, EV);
    const title = h.fields.find((f) => f.field === T)!.entries;
    expect(title.map(show)).toEqual([
      { value: 'bad op', old: 'Start', status: 'inert' },
      { value: 'Start', old: null, status: 'winner' },
    ]);
    expect(h.fields.find((f) => f.field === EventField.AllDay)!.entries.map((e) => e.status)).toEqual([
      'inert',
    ]);
  });

  it('[CMP-5][KEY-6] ops a replica cannot decrypt are counted as unreadable, then shown once the key arrives', async () => {
    const [a, b] = [testDevice('hk-a'), testDevice('hk-b')];
    const [ra, rb] = await Promise.all([openReplica(a), openReplica(b)]);
    const g = await ra.createCalendar({ name: 'K' });
    await ra.write(g.doc, EV, [{ field: T, value: utf8('early') }]);
    await ra.addMember(g.doc, await cardOf(b, g.doc));
    const ops = await ra.listOps(g.doc, 0, 100);
    const add = ops[ops.length - 1]!;
    // b holds every op but the Add that carries its key: the writes are locked there.
    for (const o of ops.slice(0, -1)) await rb.receive(o.bytes);
    const locked = await rb.fieldHistory(g.doc, EV);
    expect(locked.fields).toEqual([]);
    expect(locked.unreadable).toBe(2);
    await rb.receive(add.bytes);
    const open = await rb.fieldHistory(g.doc, EV);
    expect(open.unreadable).toBe(0);
    expect(open.fields.find((f) => f.field === T)!.entries.map(show)).toEqual([
      { value: 'early', old: null, status: 'winner' },
    ]);
  });

  it('[CMP-3][LWW-2] clearing a field is a write of null, replacing the value before it', async () => {
    const t = await team(['hn-a']);
    const [ra] = t.reps as [Replica];
    await ra.write(t.doc, EV, [{ field: T, value: null }]);
    await ra.write(t.doc, EV, [{ field: T, value: utf8('back') }]);
    expect((await titleHistory(ra, t.doc)).map(show)).toEqual([
      { value: 'back', old: null, status: 'winner' },
      { value: null, old: 'Start', status: 'superseded' },
      { value: 'Start', old: null, status: 'superseded' },
    ]);
  });

  it('[CMP-2][CMP-1] turning compliance mode on later shows history from genesis; the flag itself is an LWW register', async () => {
    const t = await team(['hg-a', 'hg-b']);
    const [ra, rb] = t.reps as [Replica, Replica];
    await ra.write(t.doc, EV, [{ field: T, value: utf8('before on') }]);
    const flag = (on: boolean) => [{ field: CalendarField.Compliance, value: encodeValue('bool', on) }];
    const on = await rb.write(t.doc, CALENDAR_ENTITY, flag(true));
    await syncOps(rb, ra, t.doc);
    expect(calendarFromRecord(ra.entity(t.doc, CALENDAR_ENTITY)).compliance).toBe(true);
    // Nothing was ever pruned (OP-5 refuses Snapshot ops): the writes made while it was off are all there.
    expect((await titleHistory(ra, t.doc)).map((e) => text(e.value))).toEqual(['before on', 'Start']);
    const last = await lastOp(ra, t.doc);
    const snap = craftOp({
      secret: t.devs[1]!.secret,
      doc: fromHex(t.doc),
      ctr: 2,
      prev: fromHex(on.id),
      kind: OpKind.Snapshot,
      wallTime: last.wallTime + 1,
      body: new Uint8Array(0),
      key: t.key,
    });
    expect(await ra.receive(snap)).toMatchObject({ status: 'rejected', error: { code: 'Unsupported' } });
    // Off and on again: later writes win (LWW-1), and the calendar's own history shows each.
    await ra.write(t.doc, CALENDAR_ENTITY, flag(false));
    await ra.write(t.doc, CALENDAR_ENTITY, flag(true));
    const h = await ra.fieldHistory(t.doc, CALENDAR_ENTITY, { fields: [CalendarField.Compliance] });
    expect(h.fields[0]!.entries.map((e) => [e.value![0], e.old?.[0] ?? null, e.status])).toEqual([
      [1, 0, 'winner'],
      [0, 1, 'superseded'],
      [1, null, 'superseded'],
    ]);
  });

  it('[CMP-7] a past write is read back from the log only when it counted, for its own entity and field', async () => {
    const t = await team(['hw-a', 'hw-b', 'hw-c']);
    const [ra, , rc] = t.reps as [Replica, Replica, Replica];
    const first = (await lastOp(ra, t.doc)).id;
    await ra.write(t.doc, EV, [{ field: T, value: utf8('second') }]);
    expect(text((await ra.pastWrite(t.doc, EV, T, first))?.value)).toBe('Start');
    expect(await ra.pastWrite(t.doc, EV, EventField.Location, first)).toBeUndefined();
    expect(await ra.pastWrite(t.doc, ENTS[0]!, T, first)).toBeUndefined();
    expect(await ra.pastWrite(t.doc, EV, T, 'ab'.repeat(32) as OpId)).toBeUndefined();
    const cw = await rc.write(t.doc, EV, [{ field: T, value: utf8('revoked') }]);
    await ra.removeMember(t.doc, pubOf(t.devs[2]!));
    await ra.receive(cw.bytes);
    expect(await ra.pastWrite(t.doc, EV, T, cw.id)).toBeUndefined();
  });

  it('[CMP-6] a long history is paged: bounded pages, "more" counts the rest, pages join without gap or overlap', async () => {
    const t = await team(['hp-a']);
    const [ra] = t.reps as [Replica];
    const N = 240;
    for (let i = 0; i < N; i++) await ra.write(t.doc, EV, [{ field: T, value: utf8(`v${i}`) }]);
    const first = await ra.fieldHistory(t.doc, EV, { fields: [T], limit: 100 });
    const f = first.fields[0]!;
    expect(f.entries).toHaveLength(100);
    expect(f.more).toBe(N + 1 - 100);
    expect(text(f.entries[0]!.value)).toBe(`v${N - 1}`);
    const seen = [...f.entries];
    let before = f.entries[f.entries.length - 1]!.op;
    for (;;) {
      const page = (await ra.fieldHistory(t.doc, EV, { fields: [T], limit: 100, before })).fields[0];
      if (page === undefined) break;
      seen.push(...page.entries);
      if (page.more === 0) break;
      before = page.entries[page.entries.length - 1]!.op;
    }
    expect(seen.map((e) => text(e.value))).toEqual([
      ...Array.from({ length: N }, (_, i) => `v${N - 1 - i}`),
      'Start',
    ]);
    // Each entry's old value is the next older one; the last page reaches the first write.
    for (let i = 0; i < seen.length - 1; i++) expect(text(seen[i]!.old)).toBe(text(seen[i + 1]!.value));
    expect(seen[seen.length - 1]!.old).toBeNull();
    expect(seen[seen.length - 1]!.replaced).toBeNull();
    await expect(ra.fieldHistory(t.doc, EV, { limit: 0 })).rejects.toMatchObject({ code: 'InvalidArgument' });
    await expect(ra.fieldHistory(t.doc, EV, { limit: 100_000 })).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
  });

  it('[CMP-6] many unknown field numbers (a hostile member) are capped and never crowd out the known fields', async () => {
    const t = await team(['hf-a', 'hf-b']);
    const [, rb] = t.reps as [Replica, Replica];
    const junk = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) => ({ field: from + i, value: new Uint8Array([i]) }));
    await rb.write(t.doc, EV, junk(1000, 64));
    await rb.write(t.doc, EV, junk(2000, 64));
    await rb.write(t.doc, EV, [{ field: EventField.Location, value: utf8('after junk') }]);
    const h = await rb.fieldHistory(t.doc, EV);
    expect(h.fields.filter((f) => f.field >= 1000).length).toBeGreaterThan(0);
    // Known fields are tracked besides the 64 others: Location, first written after the junk, is there.
    expect(h.fields.length).toBeLessThanOrEqual(64 + 2);
    expect(h.fields.find((f) => f.field === EventField.Location)?.entries.map((e) => text(e.value))).toEqual([
      'after junk',
    ]);
  });

  it('[CMP-6] reading history commits nothing and changes no state', async () => {
    const base = createMemoryStore();
    let commits = 0;
    const store: EngineStore = {
      ...base,
      commit: (b) => {
        commits++;
        return base.commit(b);
      },
    };
    const a = testDevice('hs-a');
    const ra = await openReplica(a, { store });
    const g = await ra.createCalendar({ name: 'S' });
    await ra.write(g.doc, EV, [{ field: T, value: utf8('one') }]);
    await ra.idle();
    const before = { commits, root: ra.root(g.doc), seq: ra.seq(g.doc), ent: ra.entity(g.doc, EV) };
    await ra.fieldHistory(g.doc, EV);
    await ra.fieldHistory(g.doc, EV, { fields: [T], limit: 1 });
    expect({ commits, root: ra.root(g.doc), seq: ra.seq(g.doc), ent: ra.entity(g.doc, EV) }).toEqual(before);
  });
});

// Property: whatever the delivery order, on every replica the history's winner is the register's
// value, its conflicts are the register's other frontier writes, and once every op is delivered
// every replica reports the same history.
const crypto = createWebCrypto(globalThis.crypto.subtle as unknown as SubtleLike);
const RUNS = Number(process.env['HISTORY_RUNS'] ?? 15);
const ENTS = ['e1', 'e2'].map((p) => p.repeat(16) as EntityId);

describe('field history on every replica', () => {
  it('[CMP-3][CMP-4] agrees with the registers on every replica whatever the delivery order', async () => {
    const step = fc.oneof(
      fc.record({
        t: fc.constant('w' as const),
        who: fc.nat(2),
        ent: fc.nat(1),
        value: fc.option(fc.nat(4), { freq: 4 }),
        jump: fc.integer({ min: -3_000_000, max: 3_000_000 }),
      }),
      fc.record({ t: fc.constant('d' as const), to: fc.nat(2), pick: fc.nat() }),
      // Device 0 removes device 2 (once): 2's concurrent writes are revoked (MEM-5), later ones
      // rejected, and what the others write next is under a key 2 never gets (KEY-3).
      fc.record({ t: fc.constant('rm' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), fc.string(), async (steps, seed) => {
        const devs = [0, 1, 2].map((i) => testDevice(`hp-${seed}-${i}`));
        const clocks = devs.map((_, i) => manualClock(1_700_000_000_000_000 + i * 999));
        const reps = await Promise.all(
          devs.map((d, i) =>
            Replica.open({
              store: createMemoryStore(),
              crypto,
              nowUs: clocks[i]!.nowUs,
              random: d.random,
              device: deviceKeys(d),
            }),
          ),
        );
        const g = await reps[0]!.createCalendar({ name: 'P' });
        for (const d of devs.slice(1)) await reps[0]!.addMember(g.doc, await cardOf(d, g.doc));
        for (const r of reps.slice(1)) await syncOps(reps[0]!, r, g.doc);
        const all: Uint8Array[] = [];
        let removed = false;
        for (const s of steps) {
          if (s.t === 'w') {
            clocks[s.who]!.advance(s.jump);
            const v = s.value === null ? null : utf8(`v${s.value}`);
            // A removed device that knows it can no longer write.
            const w = await reps[s.who]!.write(g.doc, ENTS[s.ent]!, [{ field: T, value: v }]).catch(
              () => null,
            );
            if (w !== null) all.push(w.bytes);
          } else if (s.t === 'rm') {
            if (removed) continue;
            removed = true;
            all.push((await reps[0]!.removeMember(g.doc, deviceKeys(devs[2]!).signer.publicKey)).bytes);
          } else if (all.length > 0) await reps[s.to]!.receive(all[s.pick % all.length]!);
        }
        for (const r of reps) await agrees(r, g.doc);
        for (const r of reps) for (const b of all) await r.receive(b);
        const ref = await Promise.all(ENTS.map((e) => reps[0]!.fieldHistory(g.doc, e)));
        // Every member ends with the same history; the removed device only agrees with its own registers.
        for (const [i, r] of reps.entries()) {
          await agrees(r, g.doc);
          if (!removed || i < 2)
            expect(await Promise.all(ENTS.map((e) => r.fieldHistory(g.doc, e)))).toEqual(ref);
        }
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});

async function agrees(r: Replica, doc: DocId): Promise<void> {
  for (const e of ENTS) {
    const entries = (await r.fieldHistory(doc, e, { fields: [T] })).fields[0]?.entries ?? [];
    const reg = r.entity(doc, e)?.registers.find((g) => g.field === T);
    const winners = entries.filter((x) => x.status === 'winner');
    if (reg === undefined) {
      expect(winners).toEqual([]);
      continue;
    }
    expect(winners).toHaveLength(1);
    expect(winners[0]!.op).toBe(reg.writes[0]!.op);
    expect(text(winners[0]!.value)).toEqual(text(reg.writes[0]!.value));
    expect(entries.filter((x) => x.status === 'conflict').map((x) => x.op)).toEqual(
      reg.writes.slice(1).map((w) => w.op),
    );
    // Newest first by the register order: the winner is the greatest counted write.
    const counted = entries.filter((x) => x.status !== 'revoked' && x.status !== 'inert');
    expect(counted[0]!.op).toBe(reg.writes[0]!.op);
  }
}
