// The snapshot frames (SYNC-13..15): round trips, the layout flatc generates, and each field's own
// bound (a chunk, a manifest, an endorsement, the endorsements of an offer), checked before
// anything of the field is kept, so a peer cannot make either side hold more than one bounded frame.

import { Builder, ByteBuffer } from 'flatbuffers';
import { describe, expect, it } from 'vitest';
import { Frame } from '../engine/generated/ledgerday/sync/frame.ts';
import { SnapshotChunk } from '../engine/generated/ledgerday/sync/snapshot-chunk.ts';
import { SnapshotOffer } from '../engine/generated/ledgerday/sync/snapshot-offer.ts';
import type { DocId } from '../engine/ids.ts';
import { SYNC_LIMITS, type SyncMessage } from './messages.ts';
import { decodeMessage, encodeMessage } from './messages-codec.ts';

const hex = (n: number, byte: number) => byte.toString(16).padStart(2, '0').repeat(n);
const doc = hex(16, 0xab) as DocId;
const snap = hex(32, 0x5e);

const samples: SyncMessage[] = [
  { type: 'subscribe', doc, cursor: 0, fromSnapshot: true },
  { type: 'snapshotPut', doc, manifest: new Uint8Array(900).fill(1) },
  {
    type: 'snapshotChunk',
    doc,
    snapshot: snap,
    index: 7,
    bytes: new Uint8Array(SYNC_LIMITS.maxChunkBytes).fill(2),
  },
  { type: 'endorse', doc, endorsement: new Uint8Array(200).fill(3) },
  { type: 'snapshotStored', doc, snapshot: snap, chunks: 12, complete: true },
  { type: 'snapshotStored', doc, snapshot: snap, chunks: 0, complete: false },
  {
    type: 'snapshotOffer',
    doc,
    manifest: new Uint8Array(700).fill(4),
    endorsements: [new Uint8Array(150).fill(5), new Uint8Array(160).fill(6)],
    seq: 4321,
    keySources: [new Uint8Array(300).fill(7)],
  },
];

/** A frame of `type` whose payload is the given table bytes (built by hand: the encoder refuses). */
function frameOf(type: number, payload: Uint8Array): Uint8Array {
  const f = new Builder(payload.length + 64);
  const p = f.createByteVector(payload);
  f.startObject(2);
  f.addFieldInt8(0, type, 0);
  f.addFieldOffset(1, p, 0);
  f.finish(f.endObject(), 'LDS1');
  return f.asUint8Array().slice();
}

describe('snapshot frames', () => {
  it('[SYNC-13][SYNC-14][SYNC-15] round-trip, and the layout is the one flatc generates', () => {
    for (const m of samples) expect(decodeMessage(encodeMessage(m))).toEqual(m);
    const c = Frame.getRootAsFrame(new ByteBuffer(encodeMessage(samples[2]!)));
    expect(c.type()).toBe(15);
    const chunk = SnapshotChunk.getRootAsSnapshotChunk(new ByteBuffer(c.payloadArray()!));
    expect(chunk.index()).toBe(7);
    expect(chunk.bytesLength()).toBe(SYNC_LIMITS.maxChunkBytes);
    const o = Frame.getRootAsFrame(new ByteBuffer(encodeMessage(samples[6]!)));
    const offer = SnapshotOffer.getRootAsSnapshotOffer(new ByteBuffer(o.payloadArray()!));
    expect(offer.seq()).toBe(4321n);
    expect(offer.endorsementsLength()).toBe(2);
    // A Subscribe without the flag (an older device) reads as before.
    expect(decodeMessage(encodeMessage({ type: 'subscribe', doc, cursor: 3 }))).toEqual({
      type: 'subscribe',
      doc,
      cursor: 3,
    });
  });

  it('[SYNC-13] a whole chunk fits in one frame, with room to spare', () => {
    expect(encodeMessage(samples[2]!).length).toBeLessThan(SYNC_LIMITS.maxFrameBytes / 2);
  });

  it('[SYNC-13][SYNC-14] a chunk, manifest or endorsement over its own bound is TooLarge; empty is Malformed', () => {
    const over = (m: SyncMessage) => () => decodeMessage(encodeMessage(m));
    expect(
      over({
        type: 'snapshotChunk',
        doc,
        snapshot: snap,
        index: 0,
        bytes: new Uint8Array(SYNC_LIMITS.maxChunkBytes + 1),
      }),
    ).toThrow(expect.objectContaining({ code: 'TooLarge' }));
    expect(
      over({ type: 'snapshotPut', doc, manifest: new Uint8Array(SYNC_LIMITS.maxManifestBytes + 1) }),
    ).toThrow(expect.objectContaining({ code: 'TooLarge' }));
    expect(
      over({ type: 'endorse', doc, endorsement: new Uint8Array(SYNC_LIMITS.maxEndorsementBytes + 1) }),
    ).toThrow(expect.objectContaining({ code: 'TooLarge' }));
    expect(over({ type: 'endorse', doc, endorsement: new Uint8Array(0) })).toThrow(
      expect.objectContaining({ code: 'Malformed' }),
    );
  });

  it('[SYNC-15] an offer with more endorsements than its bound is refused before one is read', () => {
    const many = Array.from({ length: SYNC_LIMITS.maxEndorsementsPerOffer + 1 }, () => new Uint8Array(8));
    const f = encodeMessage({
      type: 'snapshotOffer',
      doc,
      manifest: new Uint8Array(10),
      endorsements: many,
      seq: 0,
      keySources: [],
    });
    expect(() => decodeMessage(f)).toThrow(expect.objectContaining({ code: 'TooLarge' }));
  });

  it('[SYNC-12][SYNC-15] an offer whose endorsement entries alias one table is refused (fields never add up past the frame)', () => {
    const b = new Builder(4096);
    const bytes = b.createByteVector(new Uint8Array(1000).fill(7));
    b.startObject(1);
    b.addFieldOffset(0, bytes, 0);
    const t = b.endObject();
    b.startVector(4, 60, 4);
    for (let i = 0; i < 60; i++) b.addOffset(t);
    const vec = b.endVector();
    const d = b.createByteVector(new Uint8Array(16));
    const man = b.createByteVector(new Uint8Array(10).fill(1));
    b.startObject(4);
    b.addFieldOffset(0, d, 0);
    b.addFieldOffset(1, man, 0);
    b.addFieldOffset(2, vec, 0);
    b.finish(b.endObject());
    const frame = frameOf(18, b.asUint8Array().slice());
    expect(frame.length).toBeLessThan(2000);
    expect(() => decodeMessage(frame)).toThrow(expect.objectContaining({ code: 'Malformed' }));
  });

  it('[SYNC-15] a from_snapshot flag other than 0 or 1 is Malformed', () => {
    const b = new Builder(128);
    const d = b.createByteVector(new Uint8Array(16));
    b.startObject(5);
    b.addFieldOffset(0, d, 0);
    b.addFieldInt8(4, 2, 0);
    b.finish(b.endObject());
    expect(() => decodeMessage(frameOf(4, b.asUint8Array().slice()))).toThrow(
      expect.objectContaining({ code: 'Malformed' }),
    );
  });
});
