// KEY-10: a member that was handed keys it cannot open heals itself. When this device is a member
// of a calendar at its heads and some membership op there seals for it a key it does not hold
// (junk under a real key id, KEY-7, or a key sealed for a box key that is not its own), and no
// Rotate of its own has seen that op yet, it writes a Rotate at once: it restates its own box key
// and introduces a key chaining exactly what it holds, so every other writer sees which keys did
// not reach it (keyring.ts `refusedKeys`) and rotates to a key that carries them (KEY-4).
// Only ops that change membership can make this true, so it is checked after those.

import { bytesEqual, toHex } from './bytes.ts';
import { MembershipKind } from './codec.ts';
import type { Core } from './core.ts';
import type { DocId, KeyId, OpId } from './ids.ts';
import { isChainEntry } from './keyring.ts';

/** Whether this device must restate its box key and holdings in calendar `doc` (KEY-10). */
export function needsRestate(core: Core, doc: DocId): boolean {
  const st = core.docs.get(doc);
  const dev = core.device;
  if (st === undefined || dev === undefined || core.deviceId === undefined) return false;
  const front = core.headFront(st);
  const mine = st.membership.membersAt(front).get(core.deviceId);
  if (mine === undefined) return false;
  if (!bytesEqual(mine.box, dev.box.publicKey)) return true;
  const closure = st.membership.closure(front);
  const seen = new Set<OpId>();
  for (const id of closure) {
    const op = st.membership.get(id);
    if (op === undefined || op.author !== core.deviceId || op.body.kind !== MembershipKind.Rotate) continue;
    seen.add(id);
    for (const a of op.ancestors) seen.add(a);
  }
  for (const id of closure) {
    if (seen.has(id)) continue;
    for (const k of st.membership.get(id)?.body.keys ?? []) {
      if (isChainEntry(k) || !bytesEqual(k.recipient, dev.signer.publicKey)) continue;
      if (!st.keys.has(toHex(k.keyId) as KeyId)) return true;
    }
  }
  return false;
}
