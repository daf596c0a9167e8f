// Re-basing a diverged calendar from a copy refilled beside it (docs/PROTOCOL.md SNAP-18): a
// replica started from (or pruned to) a snapshot refuses ops made concurrently with its frontier
// (SNAP-7), so it can never again equal a replica with every op by receiving ops. The host refills
// the calendar into a scratch replica (same device keys, a memory store) from the relay, then
// re-bases the real copy on the scratch's snapshot at its heads (SNAP-13): one store commit, so
// what is shown changes in one step from the old state to the new one.

import { receiveEndorsement } from './certify.ts';
import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DocId } from './ids.ts';
import type { Keyring } from './keyring.ts';
import { lateCount } from './late-endorsements.ts';
import * as local from './local.ts';
import { snapshotAtHeads } from './snapshot.ts';
import { encodeSnapshot } from './snapshot-codec.ts';
import { openEndorsement } from './snapshot-envelope.ts';
import { scratchOf } from './snapshot-replay.ts';

/** SNAP-18: an empty replica core over a memory store with `core`'s device keys and clock. */
export function scratchCore(core: Core): Core {
  if (core.device === undefined)
    throw new EngineError('InvalidArgument', 'a verify-only replica does not re-base');
  return scratchOf(core);
}

/** The signed bytes of every endorsement of `doc` the real copy stores (in force or waiting). */
export const endorsementsOf = (core: Core, doc: DocId): Uint8Array[] =>
  [...(core.certs.get(doc) ?? []), ...(core.pendingCerts.get(doc) ?? [])].map((c) => c.bytes);

/**
 * SNAP-18: the snapshot plaintext of `doc` at the scratch's heads, after the scratch learned every
 * content key the real copy holds (`keys`: an out-of-band key, KEY-9, may open no op the scratch
 * holds) and received every endorsement it stores (`endorsements`, SNAP-23: so the snapshot lists
 * what the real copy holds in force, and the scratch judges the ones the real copy could not).
 * Refused when the scratch lacks the calendar or diverged itself (it refused ops by SNAP-7: it
 * started from a snapshot that does not hold them): re-basing on it would lose those ops too.
 * Refused (`Unsupported`, SNAP-23) when the scratch cannot judge one of those endorsements either
 * (SNAP-22: it started from a snapshot that does not list it): re-basing on it would mend nothing.
 */
export async function scratchPlaintext(
  scratch: Core,
  doc: DocId,
  keys: Keyring,
  endorsements: readonly Uint8Array[] = [],
): Promise<Uint8Array> {
  if (!scratch.docs.has(doc))
    throw new EngineError('InvalidArgument', 'the refilled copy does not hold the calendar (SNAP-18)');
  if ((scratch.snapRefusals.get(doc) ?? 0) > 0)
    throw new EngineError('InvalidArgument', 'the refilled copy refused ops by SNAP-7 too (SNAP-18)');
  for (const bytes of endorsements) {
    try {
      await receiveEndorsement(scratch, await openEndorsement(scratch.crypto, bytes));
    } catch (e) {
      // A non-member's, one of another calendar, or one too many waiting: nothing to judge here.
      if (!(e instanceof EngineError)) throw e;
    }
  }
  if (lateCount(scratch, doc) > 0)
    throw new EngineError(
      'Unsupported',
      'the refilled copy cannot judge an endorsement this device holds either: it started from a snapshot that does not list it (SNAP-23)',
    );
  for (const id of keys.ids()) {
    if (scratch.mustDoc(doc).keys.has(id)) continue;
    await local.addKey(scratch, doc, id, keys.get(id)!);
  }
  return encodeSnapshot(await snapshotAtHeads(scratch, doc, new Uint8Array(0)));
}
