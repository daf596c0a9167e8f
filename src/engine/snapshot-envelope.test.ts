// The sealed snapshot envelope (docs/PROTOCOL.md SNAP-9, SNAP-5): a signed manifest, ciphertext
// chunks and endorsements; a new device starts only from what two members at the frontier signed.

import { describe, expect, it } from 'vitest';
import { utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { refused, syncAll, team, titleOf } from './hostile.testkit.ts';
import type { DocId } from './ids.ts';
import type { Replica } from './replica.ts';
import { OpKind } from './store.ts';
import { openReplica, testDevice } from './testkit.testkit.ts';

const membershipOps = async (r: Replica, doc: DocId) =>
  (await r.listOps(doc, 0, 100_000)).filter((o) => o.kind === OpKind.Membership).map((o) => o.bytes);

describe('sealed snapshots', () => {
  it('[SNAP-9] seal, endorse, start a new device of a member from maker and endorser', async () => {
    const t = await team(['se-a', 'se-b', 'se-c']);
    const [a, b] = t.reps as [Replica, Replica];
    await a.write(t.doc, '41'.repeat(16) as never, [{ field: EventField.Title, value: utf8('x') }]);
    await syncAll(t.reps, t.doc);
    const s = await a.sealSnapshot(t.doc);
    const e = await b.endorseSnapshot(s.manifest, s.chunks);
    const c2 = await openReplica(testDevice('se-c'));
    expect(await c2.startFromSealed(s.manifest, s.chunks, [e], await membershipOps(a, t.doc))).toBe(t.doc);
    expect(titleOf(c2, t.doc)).toBe(titleOf(a, t.doc));
    const c3 = await openReplica(testDevice('se-c'));
    expect(await refused(c3.startFromSealed(s.manifest, s.chunks, [], await membershipOps(a, t.doc)))).toBe(
      'NotPermitted',
    );
  });
});
