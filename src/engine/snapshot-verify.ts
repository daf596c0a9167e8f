// Verifying a snapshot by recomputing it (docs/PROTOCOL.md SNAP-5): a replica that holds every
// op of the snapshot's frontier's past computes the snapshot itself and compares bytes. Equal
// bytes are equal state (one encoding, SNAP-4); any difference is evidence against the signer,
// as an equivocation is (DAG-6), with the parts that differ named for a human.

import { bytesEqual } from './bytes.ts';
import type { Core } from './core.ts';
import { EngineError, isEngineError } from './errors.ts';
import { TAG_SNAPSHOT, taggedHash } from './hash.ts';
import type { DeviceId, DocId, OpId } from './ids.ts';
import { snapshotAt } from './snapshot.ts';
import { decodeSnapshot, encodeSnapshot, type SnapshotState } from './snapshot-codec.ts';

/** SNAP-5: proof that `signer` signed a snapshot that the ops it covers do not give. */
export interface SnapshotEvidence {
  doc: DocId;
  signer: DeviceId;
  /** SHA-256 (TAG_SNAPSHOT) of the plaintext it signed. */
  claimed: string;
  frontier: OpId[];
  /** Which parts differ from the recomputed snapshot ('format' when it does not even decode). */
  differs: string[];
}

export type SnapshotVerdict =
  | { status: 'valid'; state: SnapshotState; hash: string }
  /** This replica lacks an op of the frontier's past (or a key for one): it cannot judge. */
  | { status: 'unverifiable'; reason: string }
  | { status: 'forged'; evidence: SnapshotEvidence };

/** SNAP-1: a snapshot's hash, what the next snapshot names as `previous`. */
export const snapshotHash = (plain: Uint8Array): Uint8Array => taggedHash(TAG_SNAPSHOT, plain);

const hexOf = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

function parts(a: SnapshotState, b: SnapshotState): string[] {
  const enc = (s: SnapshotState) => encodeSnapshot(s);
  const with_ = (s: SnapshotState, k: keyof SnapshotState): SnapshotState => ({
    doc: s.doc,
    frontier: s.frontier,
    previous: new Uint8Array(0),
    anchors: [],
    entities: [],
    evidence: [],
    [k]: s[k],
  });
  const keys: (keyof SnapshotState)[] = [
    'previous',
    'anchors',
    'entities',
    'evidence',
    'endorsements',
    'waiting',
  ];
  return keys.filter((k) => !bytesEqual(enc(with_(a, k)), enc(with_(b, k))));
}

/**
 * SNAP-5: recomputes the snapshot `plain` claims to be, signed by `signer`, and compares. A
 * plaintext that does not decode, or names another calendar than `doc`, is forged too.
 */
export async function verifySnapshot(
  core: Core,
  doc: DocId,
  plain: Uint8Array,
  signer: DeviceId,
): Promise<SnapshotVerdict> {
  const claimed = hexOf(snapshotHash(plain));
  let state: SnapshotState;
  try {
    state = decodeSnapshot(plain);
  } catch (e) {
    if (!isEngineError(e)) throw e;
    // SNAP-21: a format this build does not know is a newer build's (as format 2 is to a build
    // before SNAP-21, which took it for a forgery): not judged here, nobody accused.
    if (e.code === 'Unsupported')
      return {
        status: 'unverifiable',
        reason: 'a snapshot format this build does not read (a newer build made it)',
      };
    return { status: 'forged', evidence: { doc, signer, claimed, frontier: [], differs: ['format'] } };
  }
  if (state.doc !== doc)
    return {
      status: 'forged',
      evidence: { doc, signer, claimed, frontier: state.frontier, differs: ['doc'] },
    };
  let mine: SnapshotState | undefined;
  try {
    mine = await snapshotAt(
      core,
      doc,
      state.frontier,
      state.previous,
      { endorsements: state.endorsements ?? [], waiting: state.waiting ?? [] },
      state.format,
    );
  } catch (e) {
    if (e instanceof EngineError && e.code === 'NoKey') return { status: 'unverifiable', reason: e.message };
    throw e;
  }
  if (mine === undefined)
    return {
      status: 'unverifiable',
      reason:
        'an op of the frontier past is not held here, or a listed endorsement cannot be judged here (SNAP-22)',
    };
  if (bytesEqual(encodeSnapshot(mine), plain)) return { status: 'valid', state, hash: claimed };
  return {
    status: 'forged',
    evidence: { doc, signer, claimed, frontier: state.frontier, differs: parts(state, mine) },
  };
}
