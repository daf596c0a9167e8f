// Helpers for relay and sync tests: devices with real engine replicas, an in-process relay on a
// loopback port with a temporary data directory, and sync clients over real WebSockets.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import {
  type BoxKeyPair,
  boxKeyPairFromSecret,
  type CryptoProvider,
  createBestCrypto,
  createMemoryStore,
  createNobleCrypto,
  createNobleSigner,
  createWebCryptoSigner,
  type DeviceId,
  type DocId,
  fromHex,
  type LocalOp,
  Replica,
  type Signer,
  type SubtleLike,
  signDeviceCard,
  toHex,
} from '../engine/index.ts';
import { SyncClient } from '../sync/client.ts';
import type { SyncClock, SyncSocket } from '../sync/client-contract.ts';
import { hostOf } from '../sync/client-session.ts';
import { createMemorySyncPersistence, type MemorySyncPersistence } from '../sync/memory-persistence.ts';
import type { SyncMessage } from '../sync/messages.ts';
import { authMessage } from '../sync/messages-auth.ts';
import { decodeMessage, encodeMessage } from '../sync/messages-codec.ts';
import { DEFAULTS, type RelayConfig } from './config.ts';
import { type Logger, silentLogger } from './log.ts';
import { type RunningRelay, startRelay } from './start.ts';

export const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

export interface TestDevice {
  name: string;
  id: DeviceId;
  signer: Signer;
  box: BoxKeyPair;
  replica: Replica;
  persistence: MemorySyncPersistence;
  /** Offset added to the device clock (µs): a device whose clock runs ahead. */
  clockSkewUs: number;
  /** Records a local op for upload, as the worker does. */
  track(op: LocalOp): LocalOp;
}

/**
 * A device with its own in-memory replica. `webcrypto`: sign and verify with Node's WebCrypto
 * Ed25519 (about 10x faster than @noble, see src/engine/crypto.ts) for benchmarks.
 */
export async function makeDevice(
  name: string,
  clockSkewUs = 0,
  opts: { webcrypto?: boolean } = {},
): Promise<TestDevice> {
  let signer: Signer;
  let crypto: CryptoProvider = createNobleCrypto();
  if (opts.webcrypto === true) {
    const subtle = globalThis.crypto.subtle;
    const pair = (await subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])) as CryptoKeyPair;
    const pub = new Uint8Array(await subtle.exportKey('raw', pair.publicKey));
    signer = createWebCryptoSigner(subtle as unknown as SubtleLike, pair.privateKey, pub);
    crypto = await createBestCrypto(subtle as unknown as SubtleLike);
  } else {
    signer = createNobleSigner(random(32));
  }
  const box = boxKeyPairFromSecret(random(32));
  const dev: Partial<TestDevice> = { name, signer, box, clockSkewUs };
  const replica = await Replica.open({
    store: createMemoryStore(),
    crypto,
    nowUs: () => Date.now() * 1000 + (dev.clockSkewUs ?? 0),
    random,
    device: { signer, box },
  });
  const persistence = createMemorySyncPersistence();
  return Object.assign(dev, {
    id: toHex(signer.publicKey) as DeviceId,
    replica,
    persistence,
    track(op: LocalOp) {
      persistence.add(op);
      return op;
    },
  }) as TestDevice;
}

export const realClock = (skewUs = 0): SyncClock => ({
  nowUs: () => Date.now() * 1000 + skewUs,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
});

export const wsFactory = (url: string): SyncSocket => new WebSocket(url) as unknown as SyncSocket;

/** A sync client over real WebSockets; `snapshots`: with the worker's snapshot handling (SYNC-13..15). */
export function makeClient(dev: TestDevice, url: string, opts: { snapshots?: boolean } = {}): SyncClient {
  return new SyncClient({
    ...(opts.snapshots === true ? { crypto: createNobleCrypto() } : {}),
    url,
    replica: dev.replica,
    signer: dev.signer,
    persistence: dev.persistence,
    socket: wsFactory,
    clock: realClock(dev.clockSkewUs),
    random: Math.random,
    backoffBaseMs: 50,
    backoffMaxMs: 500,
  });
}

/**
 * A new device (snapshots on) follows `doc` at `url` until it shows what `owner` shows (its root);
 * returns its client, still running (the caller stops it).
 */
export async function joinedAt(
  dev: TestDevice,
  url: string,
  owner: TestDevice,
  doc: DocId,
  what = 'the new device caught up',
): Promise<SyncClient> {
  const c = makeClient(dev, url, { snapshots: true });
  c.follow(doc);
  c.start();
  try {
    await waitFor(
      () =>
        c.status.state === 'synced' &&
        dev.replica.hasDoc(doc) &&
        dev.replica.root(doc) === owner.replica.root(doc),
      60_000,
      what,
    );
  } catch (e) {
    c.stop();
    throw e;
  }
  return c;
}

export interface TestRelay extends RunningRelay {
  url: string;
  dataDir: string;
  /** Moves the relay's clock (µs). */
  clockOffsetUs: number;
  stop(): Promise<void>;
}

export async function startTestRelay(
  over: Partial<RelayConfig> = {},
  log: Logger = silentLogger,
): Promise<TestRelay> {
  const dataDir = over.dataDir ?? mkdtempSync(join(tmpdir(), 'ledgerday-relay-'));
  const state = { clockOffsetUs: 0 };
  const cfg: RelayConfig = {
    ...DEFAULTS,
    port: 0,
    host: '127.0.0.1',
    dataDir,
    staticDir: join(dataDir, 'no-static'),
    rateOpsPerSec: 100_000,
    rateBurst: 100_000,
    rateBytesPerSec: 1_000_000_000,
    rateBytesBurst: 1_000_000_000,
    rateFramesPerSec: 1_000_000,
    rateFramesBurst: 1_000_000,
    rateStrangerFramesPerSec: 1_000_000,
    rateStrangerFramesBurst: 1_000_000,
    rateCalendarsPerMin: 1_000_000,
    rateCalendarsBurst: 1_000_000,
    ...over,
  };
  const r = await startRelay(cfg, {
    log,
    nowUs: () => Date.now() * 1000 + state.clockOffsetUs,
  });
  const t = Object.assign(r, {
    url: `ws://127.0.0.1:${r.port}/sync`,
    dataDir,
    clockOffsetUs: 0,
    async stop() {
      await r.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  });
  // An accessor (Object.assign would copy a getter's value, not the accessor).
  Object.defineProperty(t, 'clockOffsetUs', {
    get: () => state.clockOffsetUs,
    set: (v: number) => {
      state.clockOffsetUs = v;
    },
  });
  return t;
}

export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A calendar owned by `owner` with `others` added as members; every op tracked for upload. */
export async function sharedCalendar(owner: TestDevice, others: TestDevice[]): Promise<DocId> {
  const g = owner.track(await owner.replica.createCalendar({ name: 'Family', color: '#336699' }));
  // createCalendar may write the calendar's name as a second op: track everything in the log.
  for (const r of await owner.replica.listOps(g.doc, 1, 100))
    owner.persistence.add({ id: r.id, doc: r.doc, bytes: r.bytes });
  for (const o of others)
    owner.track(await owner.replica.addMember(g.doc, await signDeviceCard(o, fromHex(g.doc))));
  return g.doc;
}

export function randomEntity(): string {
  return toHex(random(16));
}

export interface RawSession {
  ws: WebSocket;
  got: SyncMessage[];
  closed(): number | undefined;
  send(m: SyncMessage): void;
  sendRaw(b: Uint8Array | string): void;
  /** Called for every message as it arrives (benchmarks time deliveries here). */
  onMessage: ((m: SyncMessage) => void) | undefined;
  waitFor(pred: (m: SyncMessage) => boolean, what: string, timeoutMs?: number): Promise<SyncMessage>;
  close(): void;
}

/**
 * A protocol session below the SyncClient: answers the challenge with the device's key (or a
 * forged signature) and records every message, for tests of the wire protocol and benchmarks.
 */
export async function rawSession(
  dev: TestDevice,
  url: string,
  opts: { forge?: boolean; keep?: boolean } = {},
): Promise<RawSession> {
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  const host = hostOf(url);
  let closed: number | undefined;
  const s: RawSession = {
    ws,
    got: [],
    closed: () => closed,
    send: (m) => ws.send(encodeMessage(m)),
    sendRaw: (b) => ws.send(b),
    onMessage: undefined,
    waitFor: async (pred, what, timeoutMs = 10_000) => {
      await waitFor(() => s.got.some(pred), timeoutMs, what);
      return s.got.find(pred)!;
    },
    close: () => ws.close(),
  };
  ws.on('close', (code) => {
    closed = code;
  });
  ws.on('message', (data: ArrayBuffer) => {
    const m = decodeMessage(new Uint8Array(data));
    if (opts.keep !== false) s.got.push(m);
    s.onMessage?.(m);
    if (m.type === 'challenge') {
      void (async () => {
        const msg = authMessage(m.challenge, host);
        if (opts.forge === true) msg[msg.length - 1] = msg[msg.length - 1]! ^ 1;
        const sig = await dev.signer.sign(msg);
        ws.send(
          encodeMessage({ type: 'auth', version: 1, device: dev.id, sig, deviceTime: Date.now() * 1000 }),
        );
      })();
    }
  });
  await new Promise((res, rej) => {
    ws.once('open', res);
    ws.once('error', rej);
  });
  return s;
}
