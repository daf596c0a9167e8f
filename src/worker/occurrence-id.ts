// The id an occurrence of a repeating event is shown with (docs/PROTOCOL.md SER-2): a fast hash of
// (series, original start).

import type { EntityId } from '../engine/index.ts';

/**
 * The id an occurrence is shown with: a 128-bit handle of (series, original start) by a fast
 * non-cryptographic hash, the same for the occurrence whether or not it has an override, so it
 * stays put when the occurrence is edited. The host maps it back to (series, original start);
 * the entity an edit writes is the derived override id (SER-2). Hashing SHA-256 for each of the
 * ~7,000 occurrences of a month of 500 series cost more than the whole draw (measured).
 */
export function occurrenceId(series: EntityId, r: string): EntityId {
  const text = `${series}|${r}`;
  // cyrb128 (public domain): four 32-bit lanes.
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return (hex32(h1) + hex32(h2) + hex32(h3) + hex32(h4)) as EntityId;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex32 = (n: number): string =>
  HEX[(n >>> 24) & 255]! + HEX[(n >>> 16) & 255]! + HEX[(n >>> 8) & 255]! + HEX[n & 255]!;
