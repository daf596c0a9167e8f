// Sealed snapshots (docs/PROTOCOL.md SNAP-9, SNAP-5): for a calendar of 10,000 events, in one run
// and side by side: the plaintext snapshot, sealing it (encrypting into chunks, signing the
// manifest), endorsing it on a second member's replica (decrypt, recompute, compare, sign), and a
// new device starting from it (checks, decryption, trust rule, SNAP-6) beside starting from the
// plaintext alone. Engine only, in process; each figure the median of 3 timed passes.

import { OpKind } from '../src/engine/index.ts';
import { median, openMemory as open, threeMembers } from './bench-keys.ts';
import type { Figures } from './engine.ts';

export async function benchSealed(): Promise<Figures> {
  const events = Number(process.env['BENCH_SEALED_EVENTS'] ?? 10_000);
  const { a, b, kc, doc } = await threeMembers(events);
  const all = await a.listOps(doc, 0, 1_000_000);
  for (let i = 0; i < all.length; i += 512) await b.receiveBatch(all.slice(i, i + 512).map((o) => o.bytes));
  const keySources = all.filter((o) => o.kind === OpKind.Membership).map((o) => o.bytes);
  const plain = await a.snapshot(doc);
  let sealed = await a.sealSnapshot(doc);
  let endorsement = await b.endorseSnapshot(sealed.manifest, sealed.chunks);
  const plainMs = await median(3, () => a.snapshot(doc));
  const sealMs = await median(3, async () => (sealed = await a.sealSnapshot(doc)));
  const endorseMs = await median(
    3,
    async () => (endorsement = await b.endorseSnapshot(sealed.manifest, sealed.chunks)),
  );
  const startMs = await median(3, async () => {
    const c = await open(kc);
    await c.startFromSealed(sealed.manifest, sealed.chunks, [endorsement], keySources);
  });
  const startPlainMs = await median(3, async () => {
    const c = await open(kc);
    await c.startFromSnapshot(plain);
  });
  return {
    events,
    plaintext_bytes: plain.length,
    chunks: sealed.chunks.length,
    manifest_bytes: sealed.manifest.length,
    endorsement_bytes: endorsement.length,
    snapshot_plaintext_ms: plainMs,
    seal_ms: sealMs,
    endorse_ms: endorseMs,
    start_from_sealed_ms: startMs,
    start_from_plaintext_ms: startPlainMs,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await benchSealed());
}
