// Device storage with compaction and in compliance mode (issue 14; docs/PROTOCOL.md SNAP-12,
// CMP-2): 100,000 edits on 1,000 events by one device while a second member device follows,
// engine only over the memory store. With compaction, every INTERVAL edits the writer makes a
// snapshot at its heads, the follower catches up and writes once (certifying the frontier), and
// the writer prunes to it; in compliance mode nothing is pruned. Stored bytes are what the
// memory store holds for the calendar, each record counted as its byte fields plus the JSON of
// the rest (what an IndexedDB or SQLite row of it costs, within a small factor). The issue's
// target: compacted storage under 3x one fresh snapshot plus the ops not yet in a snapshot.
// A third run seals each round and has both devices endorse it, as the hosts do (SNAP-14..16),
// so its snapshots carry the endorsements SNAP-21 lists (every one in force whose endorser wrote
// after it); it reports how many the last snapshot lists and their bytes. It is shorter
// (BENCH_DEVICE_ENDORSED_EDITS, default 20,000). The follower receives the maker's endorsement
// before it endorses, as the hosts do: without it the lists differ and the follower (which keeps
// every op) recomputes each snapshot by replaying the whole history, a cost growing with it.

import {
  CALENDAR_ENTITY,
  createBestCrypto,
  createMemoryStore,
  type DeviceKeys,
  type DocId,
  decodeSnapshot,
  type EngineStore,
  type EntityId,
  EventField,
  fromHex,
  Replica,
  signDeviceCard,
  utf8,
} from '../src/engine/index.ts';
import { deviceKeys, nowUs, random, subtle } from './bench-keys.ts';
import type { Figures } from './engine.ts';

async function open(device: DeviceKeys, store: EngineStore): Promise<Replica> {
  return Replica.open({ store, crypto: await createBestCrypto(subtle), nowUs, random, device });
}

/** A record's stored size: byte arrays by length, everything else as its JSON. */
function sizeOf(v: unknown): number {
  let bytes = 0;
  const json = JSON.stringify(v, (_k, x: unknown) => {
    if (x instanceof Uint8Array) {
      bytes += x.length;
      return 0;
    }
    return x;
  });
  return bytes + json.length;
}

/** What the store holds for `doc`: every op of the log, the doc record, entities, base, pending, evidence. */
export async function storedBytes(store: EngineStore, doc: DocId): Promise<number> {
  let total = 0;
  for (let after = 0; ; ) {
    const page = await store.listOps(doc, after, 5000);
    if (page.length === 0) break;
    for (const o of page) total += sizeOf(o);
    after = page[page.length - 1]!.seq;
  }
  const loaded = await store.loadDoc(doc);
  if (loaded === undefined) return total;
  // The membership ops were counted with the log.
  const { membership: _m, ...rest } = loaded;
  if (process.env['BENCH_DEVICE_DEBUG'])
    console.log({
      ops: total,
      entities: sizeOf(rest.entities),
      base: sizeOf(rest.base ?? []),
      n: rest.base?.length,
    });
  return total + sizeOf(rest);
}

interface Run {
  bytes: number;
  snapshotBytes: number;
  /** SNAP-21: endorsements the last snapshot lists, and the bytes those entries take. */
  listed: number;
  listedBytes: number;
  tailBytes: number;
  ops: number;
  ms: number;
}

async function run(
  compliance: boolean,
  events: number,
  edits: number,
  interval: number,
  endorse = false,
): Promise<Run> {
  const store = createMemoryStore();
  const writer = await open(await deviceKeys(), store);
  const followerKeys = await deviceKeys();
  const follower = await open(followerKeys, createMemoryStore());
  const g = await writer.createCalendar({ name: 'Bench' });
  const doc = g.doc;
  await writer.addMember(doc, await signDeviceCard(followerKeys, fromHex(doc)));
  if (compliance) await writer.write(doc, CALENDAR_ENTITY, [{ field: 4, value: new Uint8Array([1]) }]);
  const ids = Array.from({ length: events }, () => Buffer.from(random(16)).toString('hex') as EntityId);
  let synced = 0;
  const sync = async () => {
    for (;;) {
      const page = await writer.listOps(doc, synced, 512);
      if (page.length === 0) return;
      await follower.receiveBatch(page.map((o) => o.bytes));
      synced = page[page.length - 1]!.seq;
    }
  };
  const t = performance.now();
  let ops = 0;
  for (let done = 0; done < edits; ) {
    const n = Math.min(interval, edits - done);
    for (let i = 0; i < n; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, n - i) }, (_, k) => {
        const e = done + i + k;
        return {
          entity: ids[e % events]!,
          writes: [{ field: EventField.Title, value: utf8(`event ${e % events} v${e}`) }],
        };
      });
      await writer.writeBatch(doc, batch);
    }
    done += n;
    ops += n;
    await sync();
    if (compliance) continue;
    if (endorse) {
      // SNAP-14..16: the writer seals and endorses its snapshot, the follower endorses it too.
      const sealed = await writer.sealSnapshot(doc);
      const mine = await writer.endorseSnapshot(sealed.manifest, sealed.chunks);
      // As the hosts do (snapshot-sync.ts endorse): the endorsements offered with the snapshot,
      // the maker's own among them, are received before it is recomputed and endorsed.
      await follower.receiveEndorsement(mine);
      await writer.receiveEndorsement(await follower.endorseSnapshot(sealed.manifest, sealed.chunks));
    }
    const plain = await writer.snapshot(doc);
    const c = await follower.write(doc, ids[done % events]!, [
      { field: EventField.Location, value: utf8('here') },
    ]);
    await writer.receive(c.bytes);
    await writer.prune(doc, plain);
  }
  const ms = performance.now() - t;
  // The yardstick: one fresh snapshot at the end, plus the ops after the stored base.
  const last = await writer.snapshot(doc);
  const snapshotBytes = last.length;
  const lists = decodeSnapshot(last);
  const entries = [...(lists.endorsements ?? []), ...(lists.waiting ?? [])];
  // A listed entry: its body and signature, each a byte vector in a table (about 20 bytes of
  // flatbuffer framing: two length prefixes, the table, its vtable, an offset).
  const listedBytes = entries.reduce((n, e) => n + e.body.length + e.sig.length + 20, 0);
  const log = await writer.listOps(doc, 0, 1_000_000);
  const mark = (await store.loadDoc(doc))?.doc.snapshot;
  const tailBytes = log.slice(mark?.anchors ?? log.length).reduce((s, o) => s + o.bytes.length, 0);
  return {
    bytes: await storedBytes(store, doc),
    snapshotBytes,
    listed: entries.length,
    listedBytes,
    tailBytes,
    ops,
    ms,
  };
}

export async function benchDeviceStorage(): Promise<Figures> {
  const events = Number(process.env['BENCH_DEVICE_EVENTS'] ?? 1000);
  const edits = Number(process.env['BENCH_DEVICE_EDITS'] ?? 100_000);
  const interval = Number(process.env['BENCH_DEVICE_INTERVAL'] ?? 2000);
  const compact = await run(false, events, edits, interval);
  const keep = await run(true, events, edits, interval);
  const endorsedEdits = Number(process.env['BENCH_DEVICE_ENDORSED_EDITS'] ?? 20_000);
  const endorsed = await run(false, events, endorsedEdits, interval, true);
  const yardstick = compact.snapshotBytes + compact.tailBytes;
  return {
    device_bytes: compact.bytes,
    device_bytes_compliance: keep.bytes,
    device_snapshot_bytes: compact.snapshotBytes,
    device_tail_bytes: compact.tailBytes,
    device_bytes_over_snapshot_plus_tail_x: Math.round((compact.bytes / yardstick) * 100) / 100,
    device_compliance_over_compacted_x: Math.round((keep.bytes / compact.bytes) * 10) / 10,
    device_edits_with_pruning_ms: Math.round(compact.ms),
    device_edits_compliance_ms: Math.round(keep.ms),
    device_prune_interval_edits: interval,
    device_endorsed_edits: endorsedEdits,
    device_endorsed_edits_with_pruning_ms: Math.round(endorsed.ms),
    device_endorsed_snapshot_bytes: endorsed.snapshotBytes,
    device_snapshot_listed_endorsements: endorsed.listed,
    device_snapshot_listed_endorsement_bytes: endorsed.listedBytes,
    device_targets: 'device_bytes < 3x (one fresh snapshot + the unsnapshotted tail)',
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchDeviceStorage());
}
