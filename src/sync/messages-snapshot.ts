// The snapshot messages (SYNC-13..15): SnapshotPut and SnapshotChunk upload a sealed snapshot,
// SnapshotStored answers, Endorse carries an endorsement, SnapshotOffer serves a snapshot. Their
// layouts, encoding and decoding, each field within its own bound.

import type { DocId } from '../engine/index.ts';
import { type MessageOf, malformed, SYNC_LIMITS, type SyncMessage, SyncProtocolError } from './messages.ts';
import { fixed, hexToBytes } from './messages-ids.ts';
import { OP_BYTES } from './messages-log.ts';
import { fieldsOf, type Obj, type Payload, type Table } from './messages-table.ts';

export type SnapshotType = 'snapshotPut' | 'snapshotChunk' | 'endorse' | 'snapshotStored' | 'snapshotOffer';

/** Layouts, in schemas/sync.fbs declaration order. */
export const SNAPSHOT_TABLES: Record<SnapshotType, Table> = {
  snapshotPut: [
    ['doc', 'bytes'],
    ['manifest', 'bytes'],
  ],
  snapshotChunk: [
    ['doc', 'bytes'],
    ['snapshot', 'bytes'],
    ['index', 'u32'],
    ['bytes', 'bytes'],
  ],
  endorse: [
    ['doc', 'bytes'],
    ['endorsement', 'bytes'],
  ],
  snapshotStored: [
    ['doc', 'bytes'],
    ['snapshot', 'bytes'],
    ['chunks', 'u32'],
    ['complete', 'u8'],
  ],
  snapshotOffer: [
    ['doc', 'bytes'],
    ['manifest', 'bytes'],
    ['endorsements', 'tables', OP_BYTES, SYNC_LIMITS.maxEndorsementsPerOffer],
    ['seq', 'u64'],
    ['keySources', 'tables', OP_BYTES, SYNC_LIMITS.maxOpsPerFrame],
  ],
};

export function encodeSnapshot(m: MessageOf<SnapshotType>): Payload {
  switch (m.type) {
    case 'snapshotPut':
      return { o: { doc: hexToBytes(m.doc, 16, 'doc'), manifest: m.manifest }, hint: m.manifest.length + 64 };
    case 'snapshotChunk':
      return {
        o: { ...m, doc: hexToBytes(m.doc, 16, 'doc'), snapshot: hexToBytes(m.snapshot, 32, 'snapshot') },
        hint: m.bytes.length + 96,
      };
    case 'endorse':
      return { o: { doc: hexToBytes(m.doc, 16, 'doc'), endorsement: m.endorsement } };
    case 'snapshotStored':
      return {
        o: {
          ...m,
          doc: hexToBytes(m.doc, 16, 'doc'),
          snapshot: hexToBytes(m.snapshot, 32, 'snapshot'),
          complete: m.complete ? 1 : 0,
        },
      };
    case 'snapshotOffer':
      return {
        o: {
          doc: hexToBytes(m.doc, 16, 'doc'),
          manifest: m.manifest,
          endorsements: m.endorsements.map((bytes) => ({ bytes })),
          seq: m.seq,
          keySources: m.keySources.map((bytes) => ({ bytes })),
        },
        hint: [...m.endorsements, ...m.keySources].reduce(
          (n, e) => n + e.length + 16,
          m.manifest.length + 96,
        ),
      };
  }
}

/** Bytes of at most `max` (SYNC-13..15: each snapshot frame is bounded by its own limit). */
function capped(b: Uint8Array, max: number, what: string, min = 1): Uint8Array {
  if (b.length > max) throw new SyncProtocolError('TooLarge', `${what} is ${b.length} bytes (max ${max})`);
  if (b.length < min) malformed(`${what} is empty`);
  return b;
}

export function decodeSnapshot(type: SnapshotType, o: Obj): SyncMessage {
  const { bytes, num } = fieldsOf(o);
  const doc = fixed<DocId>(bytes('doc'), 16, 'doc');
  switch (type) {
    case 'snapshotPut':
      return { type, doc, manifest: capped(bytes('manifest'), SYNC_LIMITS.maxManifestBytes, 'manifest') };
    case 'snapshotChunk':
      return {
        type,
        doc,
        snapshot: fixed<string>(bytes('snapshot'), 32, 'snapshot'),
        index: num('index'),
        bytes: capped(bytes('bytes'), SYNC_LIMITS.maxChunkBytes, 'chunk'),
      };
    case 'endorse':
      return {
        type,
        doc,
        endorsement: capped(bytes('endorsement'), SYNC_LIMITS.maxEndorsementBytes, 'endorsement'),
      };
    case 'snapshotStored': {
      const complete = num('complete');
      if (complete > 1) malformed('complete is 0 or 1');
      return {
        type,
        doc,
        snapshot: fixed<string>(bytes('snapshot'), 32, 'snapshot'),
        chunks: num('chunks'),
        complete: complete === 1,
      };
    }
    case 'snapshotOffer':
      return {
        type,
        doc,
        manifest: capped(bytes('manifest'), SYNC_LIMITS.maxManifestBytes, 'manifest'),
        endorsements: (o['endorsements'] as Obj[]).map((e) =>
          capped(e['bytes'] as Uint8Array, SYNC_LIMITS.maxEndorsementBytes, 'endorsement'),
        ),
        seq: num('seq'),
        keySources: (o['keySources'] as Obj[]).map((e) => e['bytes'] as Uint8Array),
      };
  }
}
