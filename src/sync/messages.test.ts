// Sync frame codec: round trips, layout agreement with the flatc-generated classes, and
// robustness against malformed, truncated and oversize frames (SYNC-9).

import fc from 'fast-check';
import { Builder, ByteBuffer } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { Ack } from '../engine/generated/ledgerday/sync/ack.ts';
import { ErrorMsg } from '../engine/generated/ledgerday/sync/error-msg.ts';
import { Frame } from '../engine/generated/ledgerday/sync/frame.ts';
import { Held } from '../engine/generated/ledgerday/sync/held.ts';
import { Ops } from '../engine/generated/ledgerday/sync/ops.ts';
import type { DeviceId, DocId, OpId } from '../engine/ids.ts';
import { aliasedPush } from './bombs.testkit.ts';
import { SyncErrorCode, type SyncMessage, SyncProtocolError } from './messages.ts';
import { AUTH_DOMAIN, authMessage } from './messages-auth.ts';
import { decodeMessage, encodeMessage } from './messages-codec.ts';

const hex = (n: number, byte: number) => byte.toString(16).padStart(2, '0').repeat(n);
const doc = hex(16, 0xab) as DocId;
const op1 = hex(32, 0x01) as OpId;
const op2 = hex(32, 0xfe) as OpId;
const dev = hex(32, 0x42) as DeviceId;
const root = hex(32, 0x77);

const samples: SyncMessage[] = [
  { type: 'challenge', version: 1, challenge: new Uint8Array(32).fill(9), relayTime: 1_700_000_000_000_000 },
  {
    type: 'auth',
    version: 1,
    device: dev,
    sig: new Uint8Array(64).fill(3),
    deviceTime: 1_700_000_000_123_456,
  },
  { type: 'welcome', device: dev, relayTime: 5, clockOffset: -300_000_000, maxSkew: 300_000_000 },
  { type: 'subscribe', doc, cursor: 12345 },
  { type: 'push', ops: [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(1000).fill(7)] },
  {
    type: 'ack',
    acks: [
      { doc, op: op1, seq: 1 },
      { doc, op: op2, seq: Number.MAX_SAFE_INTEGER },
    ],
  },
  { type: 'error', code: 'NotMember', message: 'author is not a member ✓', op: op1, doc, retryAfterMs: 0 },
  { type: 'error', code: 'RateLimited', message: '', op: null, doc: null, retryAfterMs: 1500 },
  {
    type: 'ops',
    doc,
    ops: [
      { seq: 3, bytes: new Uint8Array([5]) },
      { seq: 0, bytes: new Uint8Array([6, 6]) },
    ],
  },
  { type: 'caughtUp', doc, seq: 99, root, heads: [op1, op2] },
  { type: 'heads', doc, root, heads: [] },
  { type: 'want', doc, ids: [op2] },
  { type: 'held', doc, op: op1, releaseAt: 1_800_000_000_000_000, clockOffset: 3_600_000_000 },
  { type: 'clock', clockOffset: -42, maxSkew: 300_000_000 },
  { type: 'subscribe', doc, cursor: 0, invite: { op: op2, sig: new Uint8Array(64).fill(5) } },
  { type: 'error', code: 'InviteUsed', message: 'used', op: op1, doc, retryAfterMs: 0 },
];

describe('sync messages', () => {
  it('[SYNC-1] round-trips every message type', () => {
    for (const m of samples) expect(decodeMessage(encodeMessage(m))).toEqual(m);
  });

  it('[SYNC-1] frames match the layout flatc generates from schemas/sync.fbs', () => {
    const f = encodeMessage(samples[5]!);
    const frame = Frame.getRootAsFrame(new ByteBuffer(f));
    expect(frame.type()).toBe(6);
    const ack = Ack.getRootAsAck(new ByteBuffer(frame.payloadArray()!));
    expect(ack.acksLength()).toBe(2);
    expect(ack.acks(1)!.seq()).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    expect(ack.acks(0)!.opArray()).toEqual(new Uint8Array(32).fill(1));

    const e = Frame.getRootAsFrame(new ByteBuffer(encodeMessage(samples[7]!)));
    const err = ErrorMsg.getRootAsErrorMsg(new ByteBuffer(e.payloadArray()!));
    expect(err.code()).toBe(SyncErrorCode.RateLimited);
    expect(err.retryAfterMs()).toBe(1500);

    const h = Frame.getRootAsFrame(new ByteBuffer(encodeMessage(samples[12]!)));
    const held = Held.getRootAsHeld(new ByteBuffer(h.payloadArray()!));
    expect(held.clockOffset()).toBe(3_600_000_000n);
    expect(held.releaseAt()).toBe(1_800_000_000_000_000n);

    const o = Frame.getRootAsFrame(new ByteBuffer(encodeMessage(samples[8]!)));
    const ops = Ops.getRootAsOps(new ByteBuffer(o.payloadArray()!));
    expect(ops.ops(1)!.bytesArray()).toEqual(new Uint8Array([6, 6]));
  });

  it('[SYNC-9] rejects oversize frames with TooLarge before parsing', () => {
    const big = encodeMessage({ type: 'push', ops: [new Uint8Array(2000)] });
    expect(() => decodeMessage(big, 1000)).toThrow(expect.objectContaining({ code: 'TooLarge' }));
  });

  it('[SYNC-9] rejects wrong lengths and unknown types with typed errors', () => {
    const shortSig = encodeMessage({
      type: 'auth',
      version: 1,
      device: dev,
      sig: new Uint8Array(10),
      deviceTime: 0,
    });
    expect(() => decodeMessage(shortSig)).toThrow(expect.objectContaining({ code: 'Malformed' }));
    // A well-formed Frame of a type this reader does not know.
    const b = new Builder(64);
    const payload = Frame.createPayloadVector(b, new Uint8Array(0));
    b.finish(Frame.createFrame(b, 99 as never, payload), 'LDS1');
    expect(() => decodeMessage(b.asUint8Array())).toThrow(expect.objectContaining({ code: 'Unsupported' }));
    expect(() => decodeMessage(new Uint8Array([1, 2, 3]))).toThrow(SyncProtocolError);
    expect(() => decodeMessage(new Uint8Array(64))).toThrow(expect.objectContaining({ code: 'Malformed' }));
  });

  it('[SYNC-9] any mutation or truncation of a valid frame yields a message or a SyncProtocolError', () => {
    const frames = samples.map(encodeMessage);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: frames.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.nat(),
        (which, flips, cut) => {
          const f = frames[which]!.slice();
          for (const [pos, v] of flips) f[pos % f.length] = v;
          const g = f.subarray(0, f.length - (cut % 4 === 0 ? cut % f.length : 0));
          try {
            decodeMessage(g);
          } catch (e) {
            if (!(e instanceof SyncProtocolError)) throw e;
          }
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('[SYNC-2] the auth message is domain-separated and binds the host', () => {
    const c = new Uint8Array(32).fill(1);
    const a = authMessage(c, 'relay.example:443');
    expect(new TextDecoder().decode(a.subarray(0, AUTH_DOMAIN.length))).toBe(AUTH_DOMAIN);
    expect(a).not.toEqual(authMessage(c, 'other.example:443'));
    expect(authMessage(c, 'Relay.Example:443')).toEqual(a);
  });
});

describe('decode bombs (SYNC-12)', () => {
  it('[SYNC-12] a frame whose vector entries alias one op is refused before anything is copied', () => {
    const frame = aliasedPush(2000, 8 * 1024);
    expect(frame.length).toBeLessThan(20 * 1024);
    let copied = 0;
    const orig = Uint8Array.prototype.slice;
    Uint8Array.prototype.slice = function (this: Uint8Array, s?: number, e?: number) {
      const out = orig.call(this, s, e);
      copied += out.length;
      return out;
    };
    try {
      expect(() => decodeMessage(frame)).toThrow(SyncProtocolError);
    } finally {
      Uint8Array.prototype.slice = orig;
    }
    // Nothing beyond the frame's own size is ever allocated for its fields.
    expect(copied).toBeLessThanOrEqual(frame.length);
  });

  it('[SYNC-12] aliasing below the count limit is refused too: fields never add up past the frame', () => {
    const frame = aliasedPush(100, 4 * 1024);
    expect(() => decodeMessage(frame)).toThrow(/Malformed|TooLarge/);
  });

  it('[SYNC-12] decodeMessage with `only` reads the frame type and nothing else for other types', () => {
    const frame = aliasedPush(2000, 8 * 1024);
    expect(() => decodeMessage(frame, undefined, ['auth'])).toThrow(/AuthRequired|Unsupported/);
    const auth = encodeMessage(samples[1]!);
    expect(decodeMessage(auth, undefined, ['auth']).type).toBe('auth');
  });
});
