// Relay side of the compaction benchmark (issue 14; SYNC-13..15, RELAY-25..32), in process over
// real WebSockets: relay storage after 100,000 edits on 1,000 events, with compaction (a stored
// snapshot, which every member endorsed as honest devices do, so the relay pruned the log to its
// anchors and the tail, RELAY-29) and in compliance mode (the log only: no honest device endorses
// there); the ratio of the compacted file to one fresh snapshot plus the unsnapshotted tail; and a
// new device's catch-up through the relay of that calendar, from the snapshot plus the tail and
// from the whole history (before pruning, which ends the whole history's service), side by side.

import { rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  createBestCrypto,
  type DocId,
  type EntityId,
  EventField,
  encodeValue,
  fromHex,
  type SubtleLike,
  signDeviceCard,
} from '../src/engine/index.ts';
import type { RawSession } from '../src/server/relay.testkit.ts';
import {
  makeClient,
  makeDevice,
  randomEntity,
  realClock,
  startTestRelay,
  type TestDevice,
  type TestRelay,
  waitFor,
  wsFactory,
} from '../src/server/relay.testkit.ts';
import { SyncClient } from '../src/sync/client.ts';
import type { OutboxOp } from '../src/sync/client-contract.ts';
import type { Figures } from './engine.ts';
import { authed } from './relay.ts';

/**
 * Pushes every op over one session with at most WINDOW unacknowledged: all at once, 100,000 ops
 * would be ~30 MB queued at the relay, over its per-connection input budget (RELAY-20: closed).
 */
function pushPaced(s: RawSession, ops: OutboxOp[]): Promise<void> {
  const WINDOW = 4096;
  const FRAME = 256;
  return new Promise((resolve, reject) => {
    let sent = 0;
    let acked = 0;
    const more = () => {
      while (sent < ops.length && sent - acked < WINDOW) {
        s.send({ type: 'push', ops: ops.slice(sent, sent + FRAME).map((o) => o.bytes) });
        sent = Math.min(ops.length, sent + FRAME);
      }
    };
    s.onMessage = (m) => {
      if (m.type === 'ack') {
        acked += m.acks.length;
        if (acked >= ops.length) resolve();
        else more();
      } else if (m.type === 'error') reject(new Error(`${m.code}: ${m.message}`));
    };
    more();
  });
}

/** Bytes of the relay's SQLite file (and WAL, if any) in `dataDir`. */
function fileBytes(dataDir: string): number {
  const path = join(dataDir, 'relay.db');
  let n = statSync(path).size;
  try {
    n += statSync(`${path}-wal`).size;
  } catch {
    // No WAL left.
  }
  return n;
}

async function snapClient(dev: TestDevice, r: TestRelay): Promise<SyncClient> {
  return new SyncClient({
    url: r.url,
    replica: dev.replica,
    signer: dev.signer,
    persistence: dev.persistence,
    socket: wsFactory,
    clock: realClock(),
    random: Math.random,
    crypto: await createBestCrypto(globalThis.crypto.subtle as unknown as SubtleLike),
  });
}

/** `edits` ops on `events` events (every event created, then edited round after round). */
async function history(dev: TestDevice, doc: DocId, events: number, edits: number): Promise<void> {
  const ids = Array.from({ length: events }, () => randomEntity() as EntityId);
  for (let round = 0, made = 0; made < edits; round++) {
    for (let i = 0; i < ids.length && made < edits; i += 1000) {
      const batch = ids.slice(i, Math.min(i + 1000, i + edits - made));
      await dev.replica.writeBatch(
        doc,
        batch.map((entity) => ({
          entity,
          writes: [
            { field: EventField.Title, value: encodeValue('text', `${entity.slice(0, 6)} r${round}`) },
          ],
        })),
      );
      made += batch.length;
    }
  }
}

async function catchUp(dev: TestDevice, c: SyncClient, doc: DocId, root: string): Promise<number> {
  c.follow(doc);
  const t0 = performance.now();
  c.start();
  await waitFor(
    () => c.status.state === 'synced' && dev.replica.hasDoc(doc) && dev.replica.root(doc) === root,
    600_000,
    'caught up',
  );
  const ms = performance.now() - t0;
  c.stop();
  return ms;
}

export async function benchRelayStorage(): Promise<Figures> {
  const events = Number(process.env['BENCH_COMPACTION_RELAY_EVENTS'] ?? 1000);
  const edits = Number(process.env['BENCH_COMPACTION_RELAY_EDITS'] ?? 100_000);
  const r = await startTestRelay();
  const owner = await makeDevice('owner', 0, { webcrypto: true });
  const g = await owner.replica.createCalendar({ name: 'Bench' });
  await history(owner, g.doc, events, edits);
  const log = (await owner.replica.listOps(g.doc, 0, 1_000_000)).map((o) => ({
    id: o.id,
    doc: o.doc,
    bytes: o.bytes,
  }));
  try {
    const s = await authed(owner, r, false);
    await pushPaced(s, log);
    s.close();
  } finally {
    // Closed, not removed: its file at rest is the compliance figure, and it is reopened below.
    await r.close();
  }
  // Compliance mode: nothing but the log (no snapshot is made, none is pruned).
  const compliance = fileBytes(r.dataDir);
  return await withSnapshot(r.dataDir, owner, g.doc, log.length, compliance);
}

/** Uploads a snapshot of the calendar, then measures storage and the two catch-ups. */
async function withSnapshot(
  dataDir: string,
  owner: TestDevice,
  doc: DocId,
  ops: number,
  compliance: number,
): Promise<Figures> {
  // The same data directory, reopened (the first relay was closed to measure its file at rest).
  const r = await startTestRelay({ dataDir });
  try {
    const c = await snapClient(owner, r);
    c.start();
    await waitFor(() => c.status.state === 'synced', 600_000, 'owner synced');
    const frontierSeq = owner.replica.seq(doc);
    let t = performance.now();
    const sealed = await owner.replica.sealSnapshot(doc);
    const sealMs = performance.now() - t;
    t = performance.now();
    if (!(await c.uploadSnapshot(doc, sealed.manifest, sealed.chunks))) throw new Error('upload failed');
    const uploadMs = performance.now() - t;
    const snapshotBytes = sealed.chunks.reduce((n, x) => n + x.length, 0);
    // Two new devices, added after the snapshot (the owner is then its only member: trusted alone).
    const [viaSnap, viaLog] = await Promise.all([
      makeDevice('snap', 0, { webcrypto: true }),
      makeDevice('log', 0, { webcrypto: true }),
    ]);
    for (const d of [viaSnap, viaLog])
      owner.track(await owner.replica.addMember(doc, await signDeviceCard(d, fromHex(doc))));
    c.kick();
    await waitFor(() => c.status.state === 'synced' && c.status.pending === 0, 60_000, 'adds uploaded');
    c.stop();
    const root = owner.replica.root(doc);
    const snapMs = await catchUp(viaSnap, await snapClient(viaSnap, r), doc, root);
    const logMs = await catchUp(viaLog, makeClient(viaLog, r.url), doc, root);
    // The maker endorses its snapshot (SNAP-16), its only member at the frontier: every member
    // consented (the two new devices were added after the frontier), so the relay prunes.
    const pruned = await pruneRelay(r, c, owner, doc, sealed);
    await r.close();
    const compacted = fileBytes(dataDir);
    const tailBytes = (await owner.replica.listOps(doc, frontierSeq, 100_000)).reduce(
      (n, o) => n + o.bytes.length,
      0,
    );
    return {
      relay_bytes: compacted,
      relay_bytes_compliance: compliance,
      relay_snapshot_bytes: snapshotBytes,
      relay_tail_bytes: tailBytes,
      relay_bytes_ratio_to_snapshot_plus_tail:
        Math.round((compacted / (snapshotBytes + tailBytes)) * 100) / 100,
      relay_ops_pruned: pruned.ops,
      relay_prune_ms: pruned.ms,
      relay_calendar_ops: ops,
      relay_seal_ms: Math.round(sealMs),
      relay_upload_ms: Math.round(uploadMs),
      relay_catchup_from_snapshot_ms: Math.round(snapMs),
      relay_catchup_whole_history_ms: Math.round(logMs),
      relay_catchup_speedup_x: Math.round((logMs / snapMs) * 10) / 10,
    };
  } finally {
    await r.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** RELAY-29..31: the maker's endorsement stored, then one prune and the storage it frees given back. */
async function pruneRelay(
  r: TestRelay,
  c: SyncClient,
  owner: TestDevice,
  doc: DocId,
  sealed: { manifest: Uint8Array; chunks: Uint8Array[] },
): Promise<{ ops: number; ms: number }> {
  // Back online, the owner is also offered its snapshot to endorse (SYNC-15) and endorses it: the
  // relay may prune by itself after its debounce (RELAY-31) before the call below does.
  c.start();
  await waitFor(() => c.status.state === 'synced', 600_000, 'owner synced again');
  c.sendEndorsement(doc, await owner.replica.endorseSnapshot(sealed.manifest, sealed.chunks));
  await waitFor(async () => (await r.relay.snapshots.allEndorsements(doc)).length > 0, 60_000, 'endorsed');
  c.stop();
  await r.relay.pruner.prune(doc);
  await r.relay.pruner.reclaiming;
  const { opsPruned, lastPruneMs } = r.relay.pruner.stats;
  if (opsPruned === 0)
    throw new Error(`the relay did not prune: ${JSON.stringify(r.relay.pruner.reports.get(doc))}`);
  return { ops: opsPruned, ms: lastPruneMs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchRelayStorage());
}
