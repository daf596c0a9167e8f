// Automatic snapshots in the engine host (SNAP-14), over a real replica: when a calendar is due
// (member, compliance off, enough ops since the last snapshot, which outweigh it), that only a
// caught-up device seals, and that what it uploads is a snapshot of its heads.

import { describe, expect, it } from 'vitest';
import {
  CALENDAR_ENTITY,
  CalendarField,
  createNobleCrypto,
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  openManifest,
} from '../engine/index.ts';
import { makeDevice, randomEntity, type TestDevice } from '../server/relay.testkit.ts';
import { AutoSnapshots, SNAPSHOT_MAX_TAIL, SNAPSHOT_MIN_TAIL } from './snapshots.ts';

async function seed(dev: TestDevice, doc: DocId, n: number, size = 10): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, () => ({
      entity: randomEntity() as EntityId,
      writes: [{ field: EventField.Title, value: encodeValue('text', 'x'.repeat(size)) }],
    }));
    await dev.replica.writeBatch(doc, batch);
  }
}

function auto(dev: TestDevice, caughtUp: () => boolean) {
  const uploads: { doc: DocId; manifest: Uint8Array; chunks: Uint8Array[] }[] = [];
  const a = new AutoSnapshots({
    replica: dev.replica,
    caughtUp,
    upload: async (doc, manifest, chunks) => {
      uploads.push({ doc, manifest, chunks });
      return true;
    },
    random: () => 0,
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  });
  return { a, uploads };
}

describe('automatic snapshots', () => {
  it('[SNAP-14] due only past the minimum tail, at once past the cap, and never in compliance mode', async () => {
    const dev = await makeDevice('d');
    const doc = (await dev.replica.createCalendar({ name: 'Home' })).doc;
    const { a } = auto(dev, () => true);
    await seed(dev, doc, SNAPSHOT_MIN_TAIL - 10);
    expect(await a.due(doc)).toBe(false);
    await seed(dev, doc, 20);
    expect(await a.due(doc)).toBe(true);
    await dev.replica.write(doc, CALENDAR_ENTITY, [
      { field: CalendarField.Compliance, value: encodeValue('bool', true) },
    ]);
    await seed(dev, doc, SNAPSHOT_MAX_TAIL);
    expect(await a.due(doc)).toBe(false);
  });

  it('[SNAP-14] after a snapshot the tail must outweigh it; the cap seals whatever the sizes', async () => {
    const dev = await makeDevice('d');
    const doc = (await dev.replica.createCalendar({ name: 'Home' })).doc;
    await seed(dev, doc, 300, 200);
    const { a, uploads } = auto(dev, () => true);
    await a.run();
    expect(uploads.length).toBe(1);
    const bytes = uploads[0]!.chunks.reduce((n, c) => n + c.length, 0);
    // Small ops after a large snapshot: 100 of them do not outweigh it.
    await seed(dev, doc, 100, 1);
    expect(await a.due(doc)).toBe(false);
    await seed(dev, doc, SNAPSHOT_MAX_TAIL - 100, 1);
    expect(await a.due(doc)).toBe(true);
    expect(bytes).toBeGreaterThan(0);
  });

  it('[SNAP-14] a device that is not caught up seals nothing; a caught-up one uploads a snapshot of its heads', async () => {
    const dev = await makeDevice('d');
    const doc = (await dev.replica.createCalendar({ name: 'Home' })).doc;
    await seed(dev, doc, 200);
    let caught = false;
    const { a, uploads } = auto(dev, () => caught);
    await a.run();
    expect(uploads).toEqual([]);
    caught = true;
    a.poke();
    await new Promise((r) => setTimeout(r, 20));
    await a.run();
    expect(uploads.length).toBe(1);
    const m = await openManifest(createNobleCrypto(), uploads[0]!.manifest);
    expect(m.doc).toBe(doc);
    expect(m.signer).toBe(dev.id);
    expect(m.frontier).toEqual([...dev.replica.heads(doc)].sort());
    expect(a.made).toBe(1);
    // Nothing new since: not due again.
    expect(await a.due(doc)).toBe(false);
  });

  it('[SNAP-14] a snapshot another device made counts as the last one', async () => {
    const dev = await makeDevice('d');
    const doc = (await dev.replica.createCalendar({ name: 'Home' })).doc;
    await seed(dev, doc, 200);
    const { a } = auto(dev, () => true);
    expect(await a.due(doc)).toBe(true);
    a.seen(doc, 1_000_000);
    expect(await a.due(doc)).toBe(false);
  });
});
