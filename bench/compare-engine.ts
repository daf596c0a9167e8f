// Same-run comparison of this checkout's engine with another checkout's (an older commit), because
// on this shared machine a figure from another day says little:
//
//   git worktree add --detach /tmp/old <commit> && cp -al node_modules /tmp/old/node_modules
//   npx tsx bench/compare-engine.ts /tmp/old
//
// Both engines run the workload of bench/engine.ts in one process, alternating pass by pass (the
// first pass of each is cold, the rest warm): title edits on 100 events, each write awaited
// (local edits/s, beside the awaited WebCrypto signature alone, the floor under any edit here);
// then another replica applies them one op per message as a socket streams them and in frames
// of 256, as % of one core's raw verify rate measured in the same pass. Prints every pass and
// the medians of the warm ones. Not part of npm run bench.

import { resolve } from 'node:path';
import { rawVerifyOneCore } from './engine.ts';

// biome-ignore lint/suspicious/noExplicitAny: two versions of one API, typed by neither
type Engine = Record<string, any>;
type Figures = { local: number; sign: number; streamPct: number; batchPct: number };

const subtle = globalThis.crypto.subtle;
const random = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const ENTITIES = Array.from({ length: 100 }, () => Buffer.from(random(16)).toString('hex'));
const N = Number(process.env['BENCH_N'] ?? 3000);
const PASSES = Number(process.env['PASSES'] ?? 5);
const perS = (t: number) => N / ((performance.now() - t) / 1000);

async function keys(E: Engine) {
  const kp = (await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const pub = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
  return {
    signer: E['createWebCryptoSigner'](subtle, kp.privateKey, pub),
    box: E['boxKeyPairFromSecret'](random(32)),
  };
}

async function engineAt(root: string): Promise<() => Promise<Figures>> {
  const E = (await import(resolve(root, 'src/engine/index.ts'))) as Engine;
  const crypto = await E['createBestCrypto'](subtle);
  return async () => {
    const a0 = await keys(E);
    const b0 = await keys(E);
    const a = await E['Replica'].open({ store: E['createMemoryStore'](), crypto, nowUs, random, device: a0 });
    const g = await a.createCalendar({ name: 'Bench' });
    // The member-adding API changed (device cards, MEM-11); either version is accepted.
    if (E['signDeviceCard']) await a.addMember(g.doc, await E['signDeviceCard'](b0, E['fromHex'](g.doc)));
    else await a.addMember(g.doc, b0.signer.publicKey, b0.box.publicKey);
    const setup = (await a.listOps(g.doc, 0, 100)).map((o: { bytes: Uint8Array }) => o.bytes);
    const ops: Uint8Array[] = [];
    let t = performance.now();
    for (let i = 0; i < N; i++) {
      const op = await a.write(g.doc, ENTITIES[i % ENTITIES.length], [
        { field: E['EventField'].Title, value: E['utf8'](`Meeting ${i}`) },
      ]);
      ops.push(op.bytes);
    }
    const local = perS(t);
    const digest = random(32);
    t = performance.now();
    for (let i = 0; i < N; i++) await a0.signer.sign(digest);
    const sign = perS(t);
    const fresh = async () => {
      const b = await E['Replica'].open({
        store: E['createMemoryStore'](),
        crypto,
        nowUs,
        random,
        device: b0,
      });
      for (const s of setup) await b.receive(s);
      return b;
    };
    let b = await fresh();
    t = performance.now();
    await Promise.all(ops.map((o) => b.receive(o)));
    const stream = perS(t);
    b = await fresh();
    t = performance.now();
    for (let i = 0; i < N; i += 256) await b.receiveBatch(ops.slice(i, i + 256));
    const batch = perS(t);
    if (b.root(g.doc) !== a.root(g.doc)) throw new Error('replicas diverged');
    const core = rawVerifyOneCore(N);
    return { local, sign, streamPct: (stream / core) * 100, batchPct: (batch / core) * 100 };
  };
}

const other = process.argv[2];
if (other === undefined) {
  console.error('usage: npx tsx bench/compare-engine.ts <path of another checkout with node_modules>');
  process.exit(2);
}
const theirs = await engineAt(other);
const ours = await engineAt(resolve(import.meta.dirname, '..'));
const runs: { theirs: Figures[]; ours: Figures[] } = { theirs: [], ours: [] };
for (let i = 0; i < PASSES; i++) {
  runs.theirs.push(await theirs());
  runs.ours.push(await ours());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const KEYS: [keyof Figures, string][] = [
  ['local', 'local edits/s'],
  ['sign', 'awaited sign alone/s'],
  ['streamPct', 'one op per message, streamed, % of one-core verify'],
  ['batchPct', 'frames of 256, % of one-core verify'],
];
for (const [k, label] of KEYS) {
  const col = (fs: Figures[]) => fs.map((f) => Math.round(f[k]));
  const warm = (fs: Figures[]) => median(fs.slice(1).map((f) => f[k]));
  console.log(`${label}:`);
  console.log(`  ${other}: ${col(runs.theirs).join(' / ')}`);
  console.log(`  this checkout: ${col(runs.ours).join(' / ')}`);
  console.log(
    `  warm medians ${Math.round(warm(runs.theirs))} vs ${Math.round(warm(runs.ours))}, ratio ${(warm(runs.ours) / warm(runs.theirs)).toFixed(2)}`,
  );
}
