// Re-basing a diverged calendar from a copy refilled beside it (docs/PROTOCOL.md SNAP-18): a
// replica started from (or pruned to) a snapshot refuses ops made concurrently with its frontier
// (SNAP-7), so it can never again equal a replica with every op by receiving ops. The host refills
// the calendar into a scratch replica (same device keys, a memory store) from the relay, then
// re-bases the real copy on the scratch's snapshot at its heads (SNAP-13): one store commit, so
// what is shown changes in one step from the old state to the new one.

import type { Core } from './core.ts';
import { EngineError } from './errors.ts';
import type { DocId } from './ids.ts';
import type { Keyring } from './keyring.ts';
import * as local from './local.ts';
import { snapshotAtHeads } from './snapshot.ts';
import { encodeSnapshot } from './snapshot-codec.ts';
import { scratchOf } from './snapshot-replay.ts';

/** SNAP-18: an empty replica core over a memory store with `core`'s device keys and clock. */
export function scratchCore(core: Core): Core {
  if (core.device === undefined)
    throw new EngineError('InvalidArgument', 'a verify-only replica does not re-base');
  return scratchOf(core);
}

/**
 * SNAP-18: the snapshot plaintext of `doc` at the scratch's heads, after the scratch learned every
 * content key the real copy holds (`keys`: an out-of-band key, KEY-9, may open no op the scratch holds).
 * Refused when the scratch lacks the calendar or diverged itself (it refused ops by SNAP-7: it
 * started from a snapshot that does not hold them): re-basing on it would lose those ops too.
 */
export async function scratchPlaintext(scratch: Core, doc: DocId, keys: Keyring): Promise<Uint8Array> {
  if (!scratch.docs.has(doc))
    throw new EngineError('InvalidArgument', 'the refilled copy does not hold the calendar (SNAP-18)');
  if ((scratch.snapRefusals.get(doc) ?? 0) > 0)
    throw new EngineError('InvalidArgument', 'the refilled copy refused ops by SNAP-7 too (SNAP-18)');
  for (const id of keys.ids()) {
    if (scratch.mustDoc(doc).keys.has(id)) continue;
    await local.addKey(scratch, doc, id, keys.get(id)!);
  }
  return encodeSnapshot(await snapshotAtHeads(scratch, doc, new Uint8Array(0)));
}
