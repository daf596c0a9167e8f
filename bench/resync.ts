// Re-syncing a calendar that diverged from its snapshot (docs/PROTOCOL.md SNAP-18, SYNC-16): a
// device started from a snapshot of a calendar of 10,000 events refuses a returning member's
// offline edits; the host refills the calendar into a scratch replica from every op (the path
// while the relay keeps every op) and re-bases the real copy on it. Side by side in one run: the
// refill, the re-base (the scratch's snapshot and the one reset commit), and, for scale, a new
// device's start from the plaintext snapshot. Engine only, in process, over memory stores (no
// relay, no network); each figure the median of 3 timed passes.

import { EventField, type Replica, utf8 } from '../src/engine/index.ts';
import { median, openMemory as open, threeMembers } from './bench-keys.ts';
import type { Figures } from './engine.ts';

const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

export async function benchResync(): Promise<Figures> {
  const events = Number(process.env['BENCH_RESYNC_EVENTS'] ?? 10_000);
  const { a, b, kc, doc, ids } = await threeMembers(events);
  const page = async (from: Replica, to: Replica) => {
    const all = await from.listOps(doc, 0, 10_000_000);
    for (let i = 0; i < all.length; i += 512)
      await to.receiveBatch(all.slice(i, i + 512).map((o) => o.bytes));
  };
  await page(a, b);
  // b goes offline and edits; a edits on and makes the snapshot c starts from.
  for (const e of ids.slice(0, 20)) await b.write(doc, e, title('b offline'));
  for (const e of ids.slice(20, 40)) await a.write(doc, e, title('a'));
  const plain = await a.snapshot(doc);
  await page(b, a);
  const diverged = async () => {
    const c = await open(kc);
    await c.startFromSnapshot(plain);
    await page(a, c);
    if (c.snapshotRefusals(doc) === 0) throw new Error('bench: c did not diverge');
    return c;
  };
  const startMs = await median(3, async () => (await open(kc)).startFromSnapshot(plain));
  let refillMs = 0;
  let rebaseMs = 0;
  const refills: number[] = [];
  const rebases: number[] = [];
  for (let i = 0; i < 3; i++) {
    const c = await diverged();
    let t = performance.now();
    const scratch = c.scratch();
    await page(a, scratch);
    refills.push(performance.now() - t);
    t = performance.now();
    await c.rebaseFrom(doc, scratch);
    rebases.push(performance.now() - t);
    if (c.root(doc) !== a.root(doc)) throw new Error('bench: the re-base did not converge');
  }
  refillMs = Math.round(refills.sort((x, y) => x - y)[1]!);
  rebaseMs = Math.round(rebases.sort((x, y) => x - y)[1]!);
  return {
    events,
    ops: a.seq(doc),
    refill_whole_history_ms: refillMs,
    rebase_ms: rebaseMs,
    start_from_snapshot_ms: startMs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchResync());
}
