// Compaction benchmark (docs/PROTOCOL.md SNAP-*; issue 14): a new device's catch-up of a calendar
// with 10,000 events and 100,000 ops of history, side by side in one run: replaying every op
// (verify + decrypt + merge, batched as sync applies them) against starting from a snapshot of it
// plus a tail of 100 later ops. Engine only, in process: the relay does not serve snapshots yet,
// so neither path includes the network (the relay's own catch-up is `relay.catchup_10000_events_ms`).

import {
  createBestCrypto,
  createMemoryStore,
  type DeviceKeys,
  type EntityId,
  EventField,
  fromHex,
  Replica,
  signDeviceCard,
  utf8,
} from '../src/engine/index.ts';
import { deviceKeys, nowUs, random, subtle } from './bench-keys.ts';
import { benchDeviceStorage } from './compaction-device.ts';
import { benchRelayStorage } from './compaction-relay.ts';
import type { Figures } from './engine.ts';

async function open(device: DeviceKeys): Promise<Replica> {
  return Replica.open({
    store: createMemoryStore(),
    crypto: await createBestCrypto(subtle),
    nowUs,
    random,
    device,
  });
}

export async function benchCompaction(): Promise<Figures> {
  const events = Number(process.env['BENCH_COMPACTION_EVENTS'] ?? 10_000);
  const total = Number(process.env['BENCH_COMPACTION_OPS'] ?? 100_000);
  const owner = await open(await deviceKeys());
  const newKeys = await deviceKeys();
  const g = await owner.createCalendar({ name: 'Bench' });
  await owner.addMember(g.doc, await signDeviceCard(newKeys, fromHex(g.doc)));
  const ids = Array.from({ length: events }, () => Buffer.from(random(16)).toString('hex') as EntityId);
  const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];
  // Every event created, then edited round after round until the calendar holds `total` ops.
  for (let round = 0; owner.seq(g.doc) < total; round++) {
    const left = total - owner.seq(g.doc);
    const batch = ids.slice(0, Math.min(ids.length, left));
    for (let i = 0; i < batch.length; i += 1000)
      await owner.writeBatch(
        g.doc,
        batch
          .slice(i, i + 1000)
          .map((entity) => ({ entity, writes: title(`${entity.slice(0, 6)} r${round}`) })),
      );
  }
  const history = [];
  for (let after = 0; ; ) {
    const page = await owner.listOps(g.doc, after, 5000);
    if (page.length === 0) break;
    history.push(...page.map((o) => o.bytes));
    after = page[page.length - 1]!.seq;
  }
  let t = performance.now();
  const plain = await owner.snapshot(g.doc);
  const makeMs = performance.now() - t;
  for (let i = 0; i < 100; i++) await owner.write(g.doc, ids[i % ids.length]!, title(`tail ${i}`));
  const tail = (await owner.listOps(g.doc, history.length, 1000)).map((o) => o.bytes);

  // Side by side: the same new device, from the whole history and from the snapshot plus the tail.
  const full = await open(newKeys);
  t = performance.now();
  for (const ops of [...history, ...tail].reduce<Uint8Array[][]>((acc, o, i) => {
    if (i % 512 === 0) acc.push([]);
    acc[acc.length - 1]!.push(o);
    return acc;
  }, []))
    await full.receiveBatch(ops);
  const replayMs = performance.now() - t;
  const fresh = await open(newKeys);
  t = performance.now();
  await fresh.startFromSnapshot(plain);
  const startMs = performance.now() - t;
  await fresh.receiveBatch(tail);
  const snapMs = performance.now() - t;
  if (full.root(g.doc) !== fresh.root(g.doc) || fresh.entities(g.doc).length !== full.entities(g.doc).length)
    throw new Error('the two catch-ups disagree');
  const historyBytes = history.reduce((s, o) => s + o.length, 0);
  return {
    calendar_ops: history.length,
    catchup_10000_events_100000_ops_ms: Math.round(snapMs),
    catchup_replay_10000_events_100000_ops_ms: Math.round(replayMs),
    catchup_start_from_snapshot_ms: Math.round(startMs),
    catchup_speedup_x: Math.round((replayMs / snapMs) * 10) / 10,
    snapshot_make_ms: Math.round(makeMs),
    snapshot_bytes: plain.length,
    history_bytes: historyBytes,
    targets: 'catch-up from a snapshot plus tail < 1000 ms (Node, engine only)',
    // Device storage after 100,000 edits on 1,000 events, with pruning and in compliance mode.
    ...(await benchDeviceStorage()),
    // Relay storage after 100,000 edits on 1,000 events (with a snapshot, and in compliance mode)
    // and a new device's catch-up through the relay (bench/compaction-relay.ts).
    ...(await benchRelayStorage()),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchCompaction());
}
