// Identity of the entities a series edit writes (docs/PROTOCOL.md SER-2, SER-5): an override of
// one occurrence and a split ("This and following events") have ids derived from the series id
// and a wall-clock time, so devices that make the same edit concurrently write the same entity.

import { fromHex, toHex, utf8 } from './bytes.ts';
import { sha256 } from './hash.ts';
import type { EntityId } from './ids.ts';

const TAG_OVERRIDE = utf8('ledgerday/override/v1\0');
const TAG_SPLIT = utf8('ledgerday/split/v1\0');
const WALL = /^(\d{4}-\d{2}-\d{2})(T\d{2}:\d{2})?(:\d{2})?$/;

/**
 * The one spelling of a wall-clock time used in RecurrenceId, Rdates and Exdates and hashed into
 * ids: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM", or with ":SS" only when the seconds are not zero.
 * Undefined when `wall` is not a wall-clock time.
 */
export function canonicalWall(wall: string): string | undefined {
  const m = WALL.exec(wall);
  if (!m || (m[3] !== undefined && m[2] === undefined)) return undefined;
  return m[1]! + (m[2] ?? '') + (m[3] === undefined || m[3] === ':00' ? '' : m[3]);
}

/** SHA-256 states after (tag, series) per series: a month view derives thousands of occurrence
 * ids of the same few hundred series, so each costs one block instead of three (and no hex
 * decode); the same digest as taggedHash(tag, series bytes, UTF-8 wall). */
const prefixes = new Map<string, ReturnType<typeof sha256.create>>();

function derive(tag: Uint8Array, series: EntityId, wall: string): EntityId {
  const w = canonicalWall(wall);
  if (w === undefined) throw new TypeError(`not a wall-clock time: ${JSON.stringify(wall.slice(0, 40))}`);
  const key = (tag === TAG_SPLIT ? 's' : 'o') + series;
  let pre = prefixes.get(key);
  if (pre === undefined) {
    pre = sha256.create().update(tag).update(fromHex(series));
    if (prefixes.size >= 4096) prefixes.clear();
    prefixes.set(key, pre);
  }
  return toHex(pre.clone().update(utf8(w)).digest().subarray(0, 16)) as EntityId;
}

/** SER-2: the entity that overrides the occurrence of `series` originally at `recurrenceId`. */
export const overrideId = (series: EntityId, recurrenceId: string): EntityId =>
  derive(TAG_OVERRIDE, series, recurrenceId);

/** SER-5: the series that continues `series` from its occurrence originally at `splitAt`. */
export const splitId = (series: EntityId, splitAt: string): EntityId => derive(TAG_SPLIT, series, splitAt);
