// Same-run comparison of local edits between this checkout's engine and another checkout's (an
// older commit), because on this shared machine a figure from another day says little:
//
//   git worktree add --detach /tmp/old <commit> && cp -al node_modules /tmp/old/node_modules
//   npx tsx bench/compare-engine.ts /tmp/old
//
// Both engines run the loop of bench/engine.ts (title edits on 100 events, each write awaited,
// WebCrypto Ed25519 keys) in one process, alternating pass by pass; the first pass of each is
// cold, the rest warm. Prints each pass, the cold ratio and the ratio of the warm medians, and
// the awaited signature alone (the floor under any edit on this host). Not part of npm run bench.

import { resolve } from 'node:path';

type Pass = () => Promise<number>;
// biome-ignore lint/suspicious/noExplicitAny: two versions of one API, typed by neither
type Engine = Record<string, any>;

const subtle = globalThis.crypto.subtle;
const random = (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n));
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);
const ENTITIES = Array.from({ length: 100 }, () => Buffer.from(random(16)).toString('hex'));
const N = Number(process.env['BENCH_N'] ?? 3000);
const PASSES = Number(process.env['PASSES'] ?? 5);

async function keys(E: Engine) {
  const kp = (await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const pub = new Uint8Array(await subtle.exportKey('raw', kp.publicKey));
  return {
    signer: E['createWebCryptoSigner'](subtle, kp.privateKey, pub),
    box: E['boxKeyPairFromSecret'](random(32)),
  };
}

async function engineAt(root: string): Promise<Pass> {
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
    const t = performance.now();
    for (let i = 0; i < N; i++)
      await a.write(g.doc, ENTITIES[i % ENTITIES.length], [
        { field: E['EventField'].Title, value: E['utf8'](`Meeting ${i}`) },
      ]);
    return N / ((performance.now() - t) / 1000);
  };
}

async function signOnly(): Promise<number> {
  const kp = (await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
  const m = random(32);
  const t = performance.now();
  for (let i = 0; i < N; i++) await subtle.sign('Ed25519', kp.privateKey, m);
  return N / ((performance.now() - t) / 1000);
}

const other = process.argv[2];
if (other === undefined) {
  console.error('usage: npx tsx bench/compare-engine.ts <path of another checkout with node_modules>');
  process.exit(2);
}
const theirs = await engineAt(other);
const ours = await engineAt(resolve(import.meta.dirname, '..'));
const runs = { theirs: [] as number[], ours: [] as number[], sign: [] as number[] };
for (let i = 0; i < PASSES; i++) {
  runs.theirs.push(await theirs());
  runs.ours.push(await ours());
  runs.sign.push(await signOnly());
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => xs.map((x) => Math.round(x)).join(' / ');
console.log(`local edits/s, ${other}: ${fmt(runs.theirs)}`);
console.log(`local edits/s, this checkout: ${fmt(runs.ours)}`);
console.log(`awaited WebCrypto sign alone/s: ${fmt(runs.sign)}`);
console.log(`cold (first pass) ratio: ${(runs.ours[0]! / runs.theirs[0]!).toFixed(2)}`);
const warm = (xs: number[]) => median(xs.slice(1));
console.log(
  `warm medians: ${Math.round(warm(runs.theirs))} vs ${Math.round(warm(runs.ours))}/s, ratio ${(warm(runs.ours) / warm(runs.theirs)).toFixed(2)}; sign alone ${Math.round(warm(runs.sign))}/s`,
);
