// Test vectors for other implementations (schemas/vectors/basic.json): keys, ops, their ids and
// signatures, and the state they produce. This test regenerates them deterministically and
// fails if the committed file differs (run with UPDATE_VECTORS=1 to rewrite it on purpose),
// then applies the committed ops to fresh replicas and checks the recorded outcome.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import type { DocId, EntityId } from './ids.ts';
import { openOp } from './op.ts';
import type { Replica } from './replica.ts';
import { cardOf, deviceKeys, manualClock, openReplica, testDevice } from './testkit.testkit.ts';

const FILE = join(import.meta.dirname, '..', '..', 'schemas', 'vectors', 'basic.json');
const E1 = '5e'.repeat(16) as EntityId;

function stateOf(r: Replica, doc: DocId) {
  return r
    .entities(doc)
    .sort((x, y) => (x.entity < y.entity ? -1 : 1))
    .map((e) => ({
      entity: e.entity,
      registers: e.registers.map((g) => ({
        field: g.field,
        writes: g.writes.map((w) => ({ op: w.op, value_hex: w.value === null ? null : toHex(w.value) })),
      })),
    }));
}

async function generate() {
  const a = testDevice('vector-a');
  const b = testDevice('vector-b');
  const clockA = manualClock(1_767_225_600_000_000); // 2026-01-01T00:00:00Z
  const clockB = manualClock(1_767_225_600_000_500);
  const ra = await openReplica(a, { clock: clockA });
  const rb = await openReplica(b, { clock: clockB });
  const g = await ra.createCalendar({ name: 'Family', color: '#2a9d8f' });
  clockA.advance(1000);
  await ra.addMember(g.doc, await cardOf(b, g.doc));
  clockA.advance(1000);
  await ra.write(g.doc, E1, [
    { field: EventField.Title, value: utf8('Dentist') },
    { field: EventField.Start, value: utf8('2026-03-29T09:30') },
    { field: EventField.End, value: utf8('2026-03-29T10:15') },
    { field: EventField.TimeZone, value: utf8('Europe/Berlin') },
  ]);
  for (const o of await ra.listOps(g.doc, 0, 100)) await rb.receive(o.bytes);
  // Concurrent edits of the same title, and a note from b.
  clockA.advance(1000);
  clockB.advance(2000);
  await ra.write(g.doc, E1, [{ field: EventField.Title, value: utf8('Dentist (Dr. Weiss)') }]);
  await rb.write(g.doc, E1, [
    { field: EventField.Title, value: utf8('Dentist!') },
    { field: EventField.Notes, value: utf8('bring card') },
  ]);
  for (const o of await rb.listOps(g.doc, 0, 100)) await ra.receive(o.bytes);
  const ops = await ra.listOps(g.doc, 0, 100);
  return {
    description:
      'ledgerday wire format 1: a calendar created by device a, device b added, an event, concurrent title edits. ' +
      'Keys are raw 32-byte secrets (Ed25519 seed, X25519 scalar). Apply the ops in any causal order to a replica ' +
      "holding device b's keys: expect the heads, root and registers below. See docs/PROTOCOL.md.",
    devices: [a, b].map((d) => ({
      name: d.name,
      ed25519_secret: toHex(d.secret),
      x25519_secret: toHex(d.boxSecret),
      public_key: toHex(deviceKeys(d).signer.publicKey),
    })),
    ops: ops.map((o) => {
      const opened = openOp(o.bytes);
      return {
        id: o.id,
        author: o.author,
        ctr: o.ctr,
        wall_time: o.wallTime,
        signature: toHex(opened.env.sig),
        bytes: toHex(o.bytes),
      };
    }),
    expected: { doc: g.doc, heads: ra.heads(g.doc), root: ra.root(g.doc), entities: stateOf(ra, g.doc) },
  };
}

describe('test vectors', () => {
  it('[OP-1][SIG-1] regenerating the vectors gives the committed file byte for byte', async () => {
    const text = `${JSON.stringify(await generate(), null, 2)}\n`;
    if (process.env['UPDATE_VECTORS'] === '1') writeFileSync(FILE, text);
    expect(existsSync(FILE)).toBe(true);
    expect(readFileSync(FILE, 'utf8')).toBe(text);
  });

  it('[CONV-1] the committed ops, genesis first then the rest in reverse, give the recorded state', async () => {
    const v = JSON.parse(readFileSync(FILE, 'utf8'));
    const b = testDevice('vector-b');
    expect(toHex(b.secret)).toBe(v.devices[1].ed25519_secret);
    const rb = await openReplica(b);
    // DAG-4: ops of a calendar the replica does not hold are not kept, so the genesis comes first.
    for (const o of [v.ops[0], ...[...v.ops].slice(1).reverse()]) {
      const bytes = fromHex(o.bytes);
      expect(openOp(bytes).id).toBe(o.id);
      await rb.receive(bytes);
    }
    expect(rb.pendingCount()).toBe(0);
    expect(rb.heads(v.expected.doc)).toEqual(v.expected.heads);
    expect(rb.root(v.expected.doc)).toBe(v.expected.root);
    expect(stateOf(rb, v.expected.doc)).toEqual(v.expected.entities);
  });
});
