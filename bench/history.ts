// Field history benchmark (docs/PROTOCOL.md CMP-3..6): reading one event's history is one pass over
// the calendar's op log decrypting every Patch (an op names its entity only inside its body), so
// its time follows the calendar's op count, not the event's. Measured beside a plain read of the
// same op log (listOps pages), in the same run: the ratio is the cost of decrypting and decoding.

import {
  boxKeyPairFromSecret,
  createBestCrypto,
  createMemoryStore,
  createWebCryptoSigner,
  type EntityId,
  EventField,
  Replica,
  type SubtleLike,
  utf8,
} from '../src/engine/index.ts';
import type { Figures } from './engine.ts';

const subtle = globalThis.crypto.subtle as unknown as SubtleLike;
const random = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function timed(f: () => Promise<unknown>): Promise<number> {
  await f();
  const runs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await f();
    runs.push(performance.now() - t);
  }
  return Math.round(median(runs) * 10) / 10;
}

/** 1,000 events of one op each, then `hot` title edits of one event and the rest spread: 10,000 ops. */
export async function benchHistory(): Promise<Figures> {
  const kp = (await globalThis.crypto.subtle.generateKey({ name: 'Ed25519' }, false, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  const pub = new Uint8Array(await globalThis.crypto.subtle.exportKey('raw', kp.publicKey));
  const device = {
    signer: createWebCryptoSigner(subtle, kp.privateKey, pub),
    box: boxKeyPairFromSecret(random(32)),
  };
  const r = await Replica.open({
    store: createMemoryStore(),
    crypto: await createBestCrypto(subtle),
    nowUs,
    random,
    device,
  });
  const g = await r.createCalendar({ name: 'Bench' });
  const ids = Array.from({ length: 1000 }, () => Buffer.from(random(16)).toString('hex') as EntityId);
  const hot = ids[0]!;
  const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];
  for (let round = 0; round < 9; round++)
    await r.writeBatch(
      g.doc,
      ids.map((entity) => ({ entity, writes: title(`${entity.slice(0, 6)} r${round}`) })),
    );
  for (let i = 0; i < 1000; i++) await r.write(g.doc, hot, title(`hot ${i}`));
  const ops = r.seq(g.doc);
  const scan = async () => {
    for (let after = 0; ; ) {
      const page = await r.listOps(g.doc, after, 500);
      if (page.length === 0) break;
      after = page[page.length - 1]!.seq;
    }
  };
  const quiet = ids[1]!;
  return {
    calendar_ops: ops,
    list_all_ops_ms: await timed(scan),
    read_event_10_writes_ms: await timed(() => r.fieldHistory(g.doc, quiet)),
    read_event_1009_writes_limit50_ms: await timed(() => r.fieldHistory(g.doc, hot)),
    read_event_1009_writes_limit1000_ms: await timed(() => r.fieldHistory(g.doc, hot, { limit: 1000 })),
  };
}
