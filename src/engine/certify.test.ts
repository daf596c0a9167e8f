// Certification by endorsement (docs/PROTOCOL.md SNAP-10): once device h endorsed a snapshot at
// its chain position (c, last), an op of h outside last's causal past that does not hold the
// snapshot's frontier is revoked (MEM-5's semantics), in whichever order the op and the
// endorsement arrive; honest devices, which never make such ops, are never affected.

import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { MAX_STRANGER_CERTS } from './certify.ts';
import {
  craftAt,
  EV,
  lastOp,
  patchOp,
  pubOf,
  refused,
  syncAll,
  syncOps,
  team,
  titleOf,
} from './hostile.testkit.ts';
import type { DeviceId, OpId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import type { Replica } from './replica.ts';
import { membershipOps, visibleState } from './snapshot.testkit.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';
import { signEndorsement } from './snapshot-envelope.ts';
import { deviceKeys, openReplica, testDevice } from './testkit.testkit.ts';

const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];

/**
 * a (owner), h (hostile) and c; h writes once (ctr 1); `old` is where h's next op would go then;
 * a writes again (so the frontier is past `old`), a seals, h endorses at (1, h's op).
 */
async function setup(prefix: string) {
  const t = await team([`${prefix}-a`, `${prefix}-h`, `${prefix}-c`]);
  const [a, h, c] = t.reps as [Replica, Replica, Replica];
  const [, dh, dc] = t.devs;
  await h.write(t.doc, EV, title('h1'));
  await syncAll(t.reps, t.doc);
  const h1 = await lastOp(h, t.doc);
  const old = await craftAt(a, dh!, t.doc);
  const oldForC = await craftAt(a, dc!, t.doc);
  await a.write(t.doc, EV, title('a2'));
  await syncAll(t.reps, t.doc);
  const s = await a.sealSnapshot(t.doc);
  const endorsement = await h.endorseSnapshot(s.manifest, s.chunks);
  const late = (await lastOp(a, t.doc)).wallTime + 1_000_000;
  // After c = 1, from parents that do not hold the frontier.
  const after = patchOp({ ...old, wallTime: late }, t.key, 'evil after');
  // A fork of h's op at ctr 1 (same parents, another body: not in its last op's past).
  const fork = patchOp(
    { by: dh!, doc: t.doc, ctr: 1, prev: null, parents: h1.parents, wallTime: late + 1 },
    t.key,
    'evil fork',
  );
  // An honest device that never endorsed writes from the same old parents (it was offline).
  const offline = patchOp({ ...oldForC, wallTime: late + 2 }, t.key, 'offline c');
  return { ...t, a, h, c, endorsement, after, fork, offline };
}

/** A replica of observer `c`'s device with nothing but what `from` holds, then `bytes` in order. */
async function replay(
  from: Replica,
  doc: Parameters<Replica['heads']>[0],
  d: Parameters<typeof openReplica>[0],
  steps: (r: Replica) => Promise<void>,
) {
  const r = await openReplica(d);
  await syncOps(from, r, doc);
  await steps(r);
  return r;
}

const bodyOf = async (r: Replica, doc: Parameters<Replica['heads']>[0], id: OpId) =>
  (await r.listOps(doc, 0, 100_000)).find((o) => o.id === id)?.body;

describe('certification by endorsement', () => {
  it('[SNAP-10] an op after the endorsement from old parents is revoked, whichever arrives first', async () => {
    const t = await setup('ca');
    const dc = t.devs[2]!;
    const endorsementFirst = await replay(t.a, t.doc, dc, async (r) => {
      expect(await r.receiveEndorsement(t.endorsement)).toBe('certified');
      expect((await r.receive(t.after)).status).toBe('applied');
    });
    const opFirst = await replay(t.a, t.doc, dc, async (r) => {
      expect((await r.receive(t.after)).status).toBe('applied');
      expect(titleOf(r, t.doc)).toBe('evil after'); // without the endorsement it counts
      expect(await r.receiveEndorsement(t.endorsement)).toBe('certified');
    });
    for (const r of [endorsementFirst, opFirst]) {
      expect(titleOf(r, t.doc)).toBe('a2');
      // It stays in the DAG (a head), changing no register.
      expect(r.heads(t.doc)).toContain((await lastOp(r, t.doc)).id);
    }
    expect(visibleState(endorsementFirst, t.doc)).toEqual(visibleState(opFirst, t.doc));
    expect(await bodyOf(opFirst, t.doc, (await lastOp(opFirst, t.doc)).id)).toBe('inert');
  });

  it('[SNAP-10] an equivocating fork below the endorsed position is revoked, whichever arrives first', async () => {
    const t = await setup('cf');
    const dc = t.devs[2]!;
    const x = await replay(t.a, t.doc, dc, async (r) => {
      await r.receiveEndorsement(t.endorsement);
      await r.receive(t.fork);
    });
    const y = await replay(t.a, t.doc, dc, async (r) => {
      const res = await r.receive(t.fork);
      expect(res.error?.message ?? res.status).toBe('applied');
      expect(titleOf(r, t.doc)).toBe('evil fork');
      await r.receiveEndorsement(t.endorsement);
    });
    for (const r of [x, y]) {
      expect(titleOf(r, t.doc)).toBe('a2');
      expect(r.evidence(t.doc).length).toBe(1); // DAG-6 still records the fork
    }
    expect(visibleState(x, t.doc)).toEqual(visibleState(y, t.doc));
  });

  it('[SNAP-10] honest devices are never affected: an offline member that never endorsed, the endorser writing on, and ops built on a revoked op', async () => {
    const t = await setup('ch');
    await t.a.receiveEndorsement(t.endorsement);
    // c never endorsed: its write from old parents counts as it always did.
    expect((await t.a.receive(t.offline)).status).toBe('applied');
    expect(titleOf(t.a, t.doc)).toBe('offline c');
    // The endorser's own next op (honest code takes its heads as parents) counts.
    await syncAll([t.a, t.h], t.doc);
    await t.h.write(t.doc, EV, title('h after endorsing'));
    await syncOps(t.h, t.a, t.doc);
    expect(titleOf(t.a, t.doc)).toBe('h after endorsing');
    // A revoked op's descendants are valid: a writes on top of it and its write counts.
    const revoked = await t.a.receive(t.after);
    expect(titleOf(t.a, t.doc)).toBe('h after endorsing');
    await t.a.write(t.doc, EV, title('a on top'));
    expect(titleOf(t.a, t.doc)).toBe('a on top');
    expect((await lastOp(t.a, t.doc)).parents).toContain(revoked.id);
  });

  it('[SNAP-10] endorsing never changes the snapshot endorsed: a fork the snapshot covers still counts', async () => {
    const t = await team(['cx-a', 'cx-h', 'cx-c']);
    const [a, h] = t.reps as [Replica, Replica];
    const dh = t.devs[1]!;
    const at = await craftAt(a, dh, t.doc);
    // h equivocates at ctr 1; a sees both and seals over them; h endorses at one twin.
    for (const [i, v] of ['twin x', 'twin y'].entries())
      await a.receive(patchOp({ ...at, wallTime: at.wallTime + i }, t.key, v));
    await syncOps(a, h, t.doc);
    const before = visibleState(a, t.doc);
    const s = await a.sealSnapshot(t.doc);
    const e = await h.endorseSnapshot(s.manifest, s.chunks);
    expect(await a.receiveEndorsement(e)).toBe('certified');
    expect(visibleState(a, t.doc)).toEqual(before);
    // A new device from that snapshot and a replica with every op agree.
    const c = await openReplica(t.devs[2]!);
    await c.startFromSealed(s.manifest, s.chunks, [e], await membershipOps(a, t.doc));
    expect(visibleState(c, t.doc)).toEqual(visibleState(a, t.doc));
  });

  it('[SNAP-10] a snapshot lists the certifications in force: a replica that lacks one recomputes with it and endorses instead of accusing', async () => {
    const t = await setup('cl');
    await t.a.receiveEndorsement(t.endorsement);
    await t.a.receive(t.after);
    await t.c.receive(t.after);
    expect(titleOf(t.a, t.doc)).toBe('a2');
    expect(titleOf(t.c, t.doc)).toBe('evil after'); // c has not received the endorsement
    const s2 = await t.a.sealSnapshot(t.doc);
    const e2 = await t.c.endorseSnapshot(s2.manifest, s2.chunks);
    expect(t.c.snapshotEvidence(t.doc)).toEqual([]);
    // A new device from it starts with the certification in force, as a's state is.
    const fresh = await openReplica(t.devs[2]!);
    await fresh.startFromSealed(s2.manifest, s2.chunks, [e2], await membershipOps(t.a, t.doc));
    expect(titleOf(fresh, t.doc)).toBe('a2');
    expect(await fresh.receiveEndorsement(t.endorsement)).toBe('duplicate');
    // The plaintext names it; a snapshot listing one that is not in force is a forgery.
    const plain = await t.a.snapshot(t.doc);
    expect(decodeSnapshot(plain).endorsements).toHaveLength(1);
    const bogus = decodeSnapshot(plain);
    bogus.endorsements = [];
    const v = await t.c.verifySnapshot(t.doc, encodeSnapshot(bogus), t.a.deviceId!);
    expect(v.status).toBe('forged');
  });

  it('[SNAP-10] an endorsement that names ops not held yet waits, then certifies when they arrive', async () => {
    const t = await setup('cp');
    const dc = t.devs[2]!;
    // A replica without a2, the frontier (a's last op): the endorsement waits.
    const r = await openReplica(dc);
    const ops = await t.a.listOps(t.doc, 0, 100_000);
    for (const o of ops.slice(0, -1)) await r.receive(o.bytes);
    expect(await r.receiveEndorsement(t.endorsement)).toBe('pending');
    expect(await r.receiveEndorsement(t.endorsement)).toBe('duplicate');
    await r.receive(t.after);
    expect(titleOf(r, t.doc)).toBe('evil after');
    for (const o of ops) await r.receive(o.bytes);
    expect(titleOf(r, t.doc)).toBe('a2');
  });

  it('[SNAP-10][SNAP-21] an endorsement that waited and revokes nothing is in force once its ops arrive: a snapshot made then lists it as others do, never taken for a forgery', async () => {
    const t = await setup('cq');
    // h writes after endorsing (from the frontier on, so the endorsement breaks nothing): a
    // snapshot lists it from then on (SNAP-21).
    await t.h.write(t.doc, EV, title('h2'));
    await syncAll(t.reps, t.doc);
    // A replica of c without a2 (the frontier) and h2: the endorsement waits.
    const r = await openReplica(t.devs[2]!);
    const ops = await t.a.listOps(t.doc, 0, 100_000);
    for (const o of ops.slice(0, -2)) await r.receive(o.bytes);
    expect(await r.receiveEndorsement(t.endorsement)).toBe('pending');
    expect(await r.certifiedFrontiers(t.doc)).toEqual([]);
    for (const o of ops.slice(-2)) await r.receive(o.bytes);
    expect(titleOf(r, t.doc)).toBe('h2');
    expect(await r.certifiedFrontiers(t.doc)).toHaveLength(1);
    const listed = decodeSnapshot(await r.snapshot(t.doc));
    expect(listed.endorsements).toHaveLength(1);
    expect(listed.waiting ?? []).toEqual([]);
    // Sealed there, another member recomputes it alike and endorses it (no evidence against r).
    const s = await r.sealSnapshot(t.doc);
    await syncAll([r, t.a], t.doc);
    await expect(t.a.endorseSnapshot(s.manifest, s.chunks)).resolves.toBeInstanceOf(Uint8Array);
    expect(t.a.snapshotEvidence(t.doc)).toEqual([]);
  });

  it('[SNAP-10] endorsements waiting for ops are bounded: a stranger fills at most its few slots', async () => {
    const t = await setup('cb');
    const x = testDevice('cb-stranger');
    const sign = (by: typeof x, n: number) =>
      signEndorsement(deviceKeys(by).signer, {
        doc: t.doc,
        manifest: 'ab'.repeat(32),
        endorser: toHex(pubOf(by)) as DeviceId,
        ctr: 0,
        last: null,
        frontier: [n.toString(16).padStart(64, '0') as OpId],
      });
    for (let i = 1; i <= MAX_STRANGER_CERTS; i++)
      expect(await t.a.receiveEndorsement(await sign(x, i))).toBe('pending');
    expect(await refused(t.a.receiveEndorsement(await sign(x, 999)))).toBe('PendingFull');
    // A member's waiting endorsement still has room.
    expect(await t.a.receiveEndorsement(await sign(t.devs[1]!, 999))).toBe('pending');
  });

  it('[SNAP-10][SNAP-21] a stored endorsement certifies across a restart', async () => {
    const t = await setup('cr');
    const store = createMemoryStore();
    const r = await openReplica(t.devs[2]!, { store });
    await syncOps(t.a, r, t.doc);
    await r.receiveEndorsement(t.endorsement);
    const again = await openReplica(t.devs[2]!, { store });
    expect(await again.receiveEndorsement(t.endorsement)).toBe('duplicate');
    // In force at its endorser's chain position, with nothing written since: every replica
    // starting from a snapshot judges it unlisted, so snapshots leave it out (SNAP-21).
    expect(decodeSnapshot(await again.snapshot(t.doc)).endorsements).toBeUndefined();
    await again.receive(t.after);
    expect(titleOf(again, t.doc)).toBe('a2');
    // Once it acts, that is stored too: after another restart, snapshots still list it.
    const third = await openReplica(t.devs[2]!, { store });
    expect(decodeSnapshot(await third.snapshot(t.doc)).endorsements).toHaveLength(1);
    expect(toHex(await third.snapshot(t.doc))).toBe(toHex(await again.snapshot(t.doc)));
  });
});
