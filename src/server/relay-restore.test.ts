// A relay restored from an old backup of relay.db heals from its devices: they hold the ops it
// lost and push them back until roots match, and live forwarding carries on although the
// relay's seqs now run behind the devices' cursors (RELAY-16). And a device whose calendar the
// relay does not serve never reports "synced" (SYNC-11).

import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type DocId, toHex } from '../engine/index.ts';
import {
  makeDevice,
  random,
  randomEntity,
  sharedCalendar,
  type TestDevice,
  waitFor,
} from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';

const harness = useRelayHarness();

function titles(dev: TestDevice, doc: DocId): number {
  return dev.replica.entities(doc).length;
}

describe('restored relay', () => {
  it('[RELAY-16] a relay restored from an old backup heals from its devices; live forwarding carries on', async () => {
    const r1 = await harness.relay();
    const dataDir = r1.dataDir;
    const [a, b] = await Promise.all([makeDevice('a'), makeDevice('b')]);
    const doc = await sharedCalendar(a, [b]);
    for (let i = 0; i < 5; i++) await writeTitle(a, doc, randomEntity(), `old-${i}`);
    const sync = async (url: string, devs: TestDevice[]) => {
      const cs = devs.map((d) => {
        const c = harness.client(d, { url } as never);
        c.follow(doc);
        c.start();
        return c;
      });
      await waitFor(
        () => cs.every((c) => c.status.state === 'synced' && c.status.pending === 0),
        15_000,
        'devices synced',
      ).catch((e) => {
        throw new Error(`${e}: ${JSON.stringify(cs.map((c) => c.status))}`);
      });
      return cs;
    };
    for (const c of await sync(r1.url, [a, b])) c.stop();
    await r1.close();
    const backup = join(dataDir, 'backup.db');
    copyFileSync(join(dataDir, 'relay.db'), backup);
    const backupSeq = a.replica.seq(doc);

    // After the backup: both devices write; the relay acknowledges all of it.
    const r2 = await harness.relay({ dataDir });
    for (let i = 0; i < 10; i++) await writeTitle(a, doc, randomEntity(), `a-${i}`);
    for (let i = 0; i < 10; i++) await writeTitle(b, doc, randomEntity(), `b-${i}`);
    for (const c of await sync(r2.url, [a, b])) c.stop();
    expect(r2.replica.seq(doc)).toBe(backupSeq + 20);
    await r2.close();

    // The operator restores the old backup: the relay lost 20 acknowledged ops.
    copyFileSync(backup, join(dataDir, 'relay.db'));
    rmSync(join(dataDir, 'relay.db-wal'), { force: true });
    rmSync(join(dataDir, 'relay.db-shm'), { force: true });
    const r3 = await harness.relay({ dataDir });
    expect(r3.replica.seq(doc)).toBe(backupSeq);
    const cs = await sync(r3.url, [a, b]);
    await waitFor(
      () => r3.replica.root(doc) === a.replica.root(doc) && b.replica.root(doc) === a.replica.root(doc),
      15_000,
      'roots match',
    );
    expect(r3.replica.seq(doc)).toBe(backupSeq + 20);
    // New ops get seqs the devices' old cursors already passed: they still reach everyone.
    const before = titles(b, doc);
    await writeTitle(a, doc, randomEntity(), 'after restore');
    cs[0]!.kick();
    await waitFor(() => titles(b, doc) === before + 1, 10_000, 'b gets the new edit');
    expect(b.persistence.cursors.get(doc)).toBe(r3.replica.seq(doc));
  });

  it('[SYNC-11] a calendar the relay answers UnknownDoc for keeps the device from "synced"', async () => {
    const r = await harness.relay();
    const a = await makeDevice('a');
    await sharedCalendar(a, []);
    const ca = harness.client(a, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
    const b = await makeDevice('b');
    const cb = harness.client(b, r);
    const unknown = toHex(random(16)) as DocId;
    cb.follow(unknown);
    cb.start();
    await waitFor(() => cb.status.lastError?.code === 'UnknownDoc', 10_000, 'relay says UnknownDoc');
    await new Promise((res) => setTimeout(res, 300));
    expect(cb.status.state).toBe('syncing');
  });
});
