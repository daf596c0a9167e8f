// Ids on the sync wire: hex strings in memory, raw bytes in a frame; each read checks its length.

import { type OpId, toHex } from '../engine/index.ts';
import { malformed, SYNC_LIMITS, SyncProtocolError } from './messages.ts';

export function hexToBytes(hex: string, len: number, what: string): Uint8Array {
  if (hex.length !== len * 2 || !/^[0-9a-f]*$/.test(hex))
    throw new TypeError(`${what}: expected ${len} bytes of hex`);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function idsToBytes(ids: readonly string[], what: string): Uint8Array {
  const out = new Uint8Array(ids.length * 32);
  for (let i = 0; i < ids.length; i++) out.set(hexToBytes(ids[i]!, 32, what), i * 32);
  return out;
}

export function fixed<T extends string>(b: Uint8Array, len: number, what: string): T {
  if (b.length !== len) malformed(`${what} must be ${len} bytes, got ${b.length}`);
  return toHex(b) as T;
}

export function optionalFixed<T extends string>(b: Uint8Array, len: number, what: string): T | null {
  return b.length === 0 ? null : fixed<T>(b, len, what);
}

export function idList(b: Uint8Array, what: string): OpId[] {
  if (b.length % 32 !== 0) malformed(`${what} length is not a multiple of 32`);
  const n = b.length / 32;
  if (n > SYNC_LIMITS.maxIdsPerFrame) throw new SyncProtocolError('TooLarge', `${n} ids in ${what}`);
  const out: OpId[] = [];
  for (let i = 0; i < n; i++) out.push(toHex(b.subarray(i * 32, i * 32 + 32)) as OpId);
  return out;
}
