// Hostile frames for tests and the attack soak (bench/soak.ts): decode bombs built by hand,
// since the encoder never produces them.

import { Builder } from 'flatbuffers';

/** A Push frame whose `n` vector entries all point at one OpBytes table of `opBytes` bytes. */
export function aliasedPush(n: number, opBytes: number): Uint8Array {
  const b = new Builder(opBytes + n * 4 + 256);
  const bytes = b.createByteVector(new Uint8Array(opBytes).fill(7));
  b.startObject(1);
  b.addFieldOffset(0, bytes, 0);
  const t = b.endObject();
  b.startVector(4, n, 4);
  for (let i = 0; i < n; i++) b.addOffset(t);
  const vec = b.endVector();
  b.startObject(1);
  b.addFieldOffset(0, vec, 0);
  b.finish(b.endObject());
  const payload = b.asUint8Array().slice();
  const f = new Builder(payload.length + 64);
  const p = f.createByteVector(payload);
  f.startObject(2);
  f.addFieldInt8(0, 5, 0);
  f.addFieldOffset(1, p, 0);
  f.finish(f.endObject(), 'LDS1');
  return f.asUint8Array().slice();
}
