// Sealed snapshots on replicas (docs/PROTOCOL.md SNAP-9, SNAP-5): sealing at the heads,
// endorsing by recomputation, and what a new device trusts when it starts from one: the maker
// and an endorser, two distinct members at the frontier, or the maker alone when it is the only
// member there. A hostile member plays against it; two colluding members are shown too.

import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { createNobleCrypto } from './crypto.ts';
import { pubOf, refused, syncAll, syncOps, type Team, team, titleOf } from './hostile.testkit.ts';
import type { DocId, EntityId } from './ids.ts';
import type { Replica } from './replica.ts';
import { membershipOps, visibleState } from './snapshot.testkit.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot-codec.ts';
import { type Manifest, openManifest, signEndorsement, signManifest } from './snapshot-envelope.ts';
import { sealChunks } from './snapshot-seal.ts';
import { snapshotHash } from './snapshot-verify.ts';
import { cardOf, deviceKeys, openReplica, type TestDevice, testDevice } from './testkit.testkit.ts';

const E1 = '61'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];
const crypto = createNobleCrypto();

/** a, b, c (and `hostile`) in one calendar, a few writes, everyone in sync. */
async function world(names: string[]) {
  const t = await team(names);
  const [a, b] = t.reps as [Replica, Replica];
  await a.write(t.doc, E1, title('from a'));
  await b.write(t.doc, E1, title('from b'));
  await syncAll(t.reps, t.doc);
  return { ...t, a, b };
}

/** A fresh install of device `d` (a new device with the same keys: it holds nothing yet). */
const fresh = (d: TestDevice) => openReplica(d);

/** What a hostile member `by` seals: `plain` under the team's key, signed by `by` itself. */
async function sealAs(by: TestDevice, t: Team, plain: Uint8Array, over: Partial<Manifest> = {}) {
  const s = decodeSnapshot(plain);
  const ctx = {
    doc: t.doc,
    signer: toHex(pubOf(by)) as Manifest['signer'],
    wallTime: 1_800_000_000_000_000,
    keyId: toHex(t.key.id) as Manifest['keyId'],
    nonce: new Uint8Array(24).fill(7),
    snapshot: snapshotHash(plain),
    size: plain.length,
  };
  const { chunks, hashes } = sealChunks(ctx, plain, t.key.key);
  const m: Manifest = { ...ctx, frontier: s.frontier, previous: s.previous, chunks: hashes, ...over };
  return { manifest: await signManifest(deviceKeys(by).signer, m), chunks };
}

/** A snapshot of `r` with the first register's winning value replaced. */
async function forgedPlain(r: Replica, doc: DocId): Promise<Uint8Array> {
  const s = decodeSnapshot(await r.snapshot(doc));
  s.entities.find((e) => e.entity === E1)!.registers[0]!.writes[0]!.value = utf8('forged');
  return encodeSnapshot(s);
}

describe('sealed snapshots', () => {
  it('[SNAP-9] [SNAP-5] sealed by one member, endorsed by another: a new device of a member starts from it and shows what the maker shows', async () => {
    const t = await world(['sl-a', 'sl-b', 'sl-c']);
    const s = await t.a.sealSnapshot(t.doc);
    expect((await openManifest(crypto, s.manifest)).frontier).toEqual([...t.a.heads(t.doc)].sort());
    const e = await t.b.endorseSnapshot(s.manifest, s.chunks);
    const c = await fresh(t.devs[2]!);
    expect(await c.startFromSealed(s.manifest, s.chunks, [e], await membershipOps(t.a, t.doc))).toBe(t.doc);
    expect(visibleState(c, t.doc)).toEqual(visibleState(t.a, t.doc));
    // Then the tail, both ways.
    await t.a.write(t.doc, E1, title('later'));
    await syncOps(t.a, c, t.doc);
    await c.write(t.doc, E1, title('from the new device'));
    await syncOps(c, t.a, t.doc);
    expect(titleOf(c, t.doc, E1)).toBe('from the new device');
    expect(visibleState(c, t.doc)).toEqual(visibleState(t.a, t.doc));
  });

  it('[SNAP-5] without an endorsement by a second member nothing starts; the maker endorsing itself does not count', async () => {
    const t = await world(['sn-a', 'sn-b', 'sn-c']);
    const s = await t.a.sealSnapshot(t.doc);
    const self = await t.a.endorseSnapshot(s.manifest, s.chunks);
    const keys = await membershipOps(t.a, t.doc);
    const c = await fresh(t.devs[2]!);
    expect(await refused(c.startFromSealed(s.manifest, s.chunks, [], keys))).toBe('NotPermitted');
    expect(await refused(c.startFromSealed(s.manifest, s.chunks, [self], keys))).toBe('NotPermitted');
    expect(c.hasDoc(t.doc)).toBe(false);
    expect(await c.listOps(t.doc, 0, 10)).toEqual([]);
  });

  it('[SNAP-5] the one-member calendar: its only member signs alone, and a fresh install of it starts', async () => {
    const d = testDevice('solo-a');
    const a = await openReplica(d);
    const g = await a.createCalendar({ name: 'Mine' });
    await a.write(g.doc, E1, title('dentist'));
    const s = await a.sealSnapshot(g.doc);
    const again = await fresh(d);
    expect(await again.startFromSealed(s.manifest, s.chunks, [], await membershipOps(a, g.doc))).toBe(g.doc);
    expect(titleOf(again, g.doc, E1)).toBe('dentist');
  });

  it('[SNAP-5] an endorser that is not a member at the frontier does not count (added later, or removed before)', async () => {
    const t = await world(['nm-a', 'nm-b', 'nm-c']);
    const s = await t.a.sealSnapshot(t.doc);
    const m = await openManifest(crypto, s.manifest);
    // d is added after the frontier: its replica refuses to endorse, and a crafted endorsement does not count.
    const d = testDevice('nm-d');
    await t.a.addMember(t.doc, await cardOf(d, t.doc));
    const rd = await openReplica(d);
    await syncOps(t.a, rd, t.doc);
    expect(await refused(rd.endorseSnapshot(s.manifest, s.chunks))).toBe('NotMember');
    const crafted = await signEndorsement(deviceKeys(d).signer, {
      doc: t.doc,
      manifest: m.hash,
      endorser: toHex(pubOf(d)) as Manifest['signer'],
      ctr: 0,
      last: null,
      frontier: m.frontier,
    });
    const keys = await membershipOps(t.a, t.doc);
    const c = await fresh(t.devs[2]!);
    expect(await refused(c.startFromSealed(s.manifest, s.chunks, [crafted], keys))).toBe('NotPermitted');
    // SNAP-10: a replica does not let it certify anything either.
    expect(await refused(t.b.receiveEndorsement(crafted))).toBe('NotMember');
    // A member removed before the frontier: its replica cannot even read the snapshot (the key was
    // rotated past it), and an endorsement it signs anyway does not count.
    const [, rb] = t.reps as [Replica, Replica];
    await t.a.removeMember(t.doc, pubOf(t.devs[1]!));
    const s2 = await t.a.sealSnapshot(t.doc);
    await syncOps(t.a, rb, t.doc);
    expect(await refused(rb.endorseSnapshot(s2.manifest, s2.chunks))).toBe('NoKey');
    const m2 = await openManifest(crypto, s2.manifest);
    const late = await signEndorsement(deviceKeys(t.devs[1]!).signer, {
      doc: t.doc,
      manifest: m2.hash,
      endorser: toHex(pubOf(t.devs[1]!)) as Manifest['signer'],
      ctr: 0,
      last: null,
      frontier: m2.frontier,
    });
    const keys2 = await membershipOps(t.a, t.doc);
    const c2 = await fresh(t.devs[2]!);
    expect(await refused(c2.startFromSealed(s2.manifest, s2.chunks, [late], keys2))).toBe('NotPermitted');
  });

  it('[SNAP-5] a single hostile member forges a snapshot: honest members refuse to endorse it and record evidence; no new device starts from it', async () => {
    const t = await world(['hf-a', 'hf-b', 'hf-c', 'hf-h']);
    const h = t.devs[3]!;
    const forged = await sealAs(h, t, await forgedPlain(t.a, t.doc));
    expect(await refused(t.b.endorseSnapshot(forged.manifest, forged.chunks))).toBe('Malformed');
    const ev = t.b.snapshotEvidence(t.doc);
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ signer: toHex(pubOf(h)), differs: ['entities'] });
    // The hostile member endorses its own forgery: still one device, so no start.
    const selfEnd = await t.reps[3]!.endorseSnapshot(forged.manifest, forged.chunks).catch(() => undefined);
    expect(selfEnd).toBeUndefined(); // its own replica recomputes too, and refuses
    const m = await openManifest(crypto, forged.manifest);
    const own = await signEndorsement(deviceKeys(h).signer, {
      doc: t.doc,
      manifest: m.hash,
      endorser: m.signer,
      ctr: 0,
      last: null,
      frontier: m.frontier,
    });
    const c = await fresh(t.devs[2]!);
    const keys = await membershipOps(t.a, t.doc);
    expect(await refused(c.startFromSealed(forged.manifest, forged.chunks, [own], keys))).toBe(
      'NotPermitted',
    );
    // Ciphertext that does not open to what the manifest states is the maker's forgery too.
    const garbage = await sealAs(h, t, await t.a.snapshot(t.doc), { snapshot: new Uint8Array(32).fill(1) });
    expect(await refused(t.b.endorseSnapshot(garbage.manifest, garbage.chunks))).toBe('Malformed');
    expect(t.b.snapshotEvidence(t.doc).map((e) => e.differs)).toContainEqual(['ciphertext']);
  });

  it('[SNAP-5] two colluding members can start a new device from forged registers (stated limitation); the first honest recomputation has the evidence', async () => {
    const t = await world(['co-a', 'co-b', 'co-c', 'co-h1', 'co-h2']);
    const [h1, h2] = [t.devs[3]!, t.devs[4]!];
    const forged = await sealAs(h1, t, await forgedPlain(t.a, t.doc));
    const m = await openManifest(crypto, forged.manifest);
    const accomplice = await signEndorsement(deviceKeys(h2).signer, {
      doc: t.doc,
      manifest: m.hash,
      endorser: toHex(pubOf(h2)) as Manifest['signer'],
      ctr: 0,
      last: null,
      frontier: m.frontier,
    });
    const c = await fresh(t.devs[2]!);
    await c.startFromSealed(forged.manifest, forged.chunks, [accomplice], await membershipOps(t.a, t.doc));
    // Registers are taken on trust; members, roles and keys are recomputed (SNAP-6).
    expect(titleOf(c, t.doc, E1)).toBe('forged');
    expect(titleOf(t.a, t.doc, E1)).not.toBe('forged');
    expect(visibleState(c, t.doc).members).toEqual(visibleState(t.a, t.doc).members);
    expect(await refused(t.b.endorseSnapshot(forged.manifest, forged.chunks))).toBe('Malformed');
    expect(t.b.snapshotEvidence(t.doc)[0]?.signer).toBe(toHex(pubOf(h1)));
  });

  it('[SNAP-5] a stale honest snapshot is harmless: endorsed by recomputation at its frontier, a device starts from it and the tail brings it up to date', async () => {
    const t = await world(['sa-a', 'sa-b', 'sa-c']);
    const old = await t.a.sealSnapshot(t.doc);
    for (let i = 0; i < 4; i++) await t.a.write(t.doc, E1, title(`edit ${i}`));
    await syncAll(t.reps, t.doc);
    const e = await t.b.endorseSnapshot(old.manifest, old.chunks);
    const c = await fresh(t.devs[2]!);
    await c.startFromSealed(old.manifest, old.chunks, [e], await membershipOps(t.a, t.doc));
    expect(titleOf(c, t.doc, E1)).not.toBe('edit 3');
    await syncOps(t.a, c, t.doc);
    expect(visibleState(c, t.doc)).toEqual(visibleState(t.a, t.doc));
    // SNAP-1: the next snapshot names it as previous.
    const next = await t.a.sealSnapshot(t.doc);
    expect(toHex((await openManifest(crypto, next.manifest)).previous)).toBe(toHex(old.snapshot));
  });

  it('[SNAP-9] wrong calendar, tampered chunk, tampered endorsement, missing key: refused with nothing stored', async () => {
    const t = await world(['wd-a', 'wd-b', 'wd-c']);
    const s = await t.a.sealSnapshot(t.doc);
    const e = await t.b.endorseSnapshot(s.manifest, s.chunks);
    const keys = await membershipOps(t.a, t.doc);
    const u = await world(['wd-x', 'wd-y']);
    const su = await u.a.sealSnapshot(u.doc);
    const eu = await u.b.endorseSnapshot(su.manifest, su.chunks);
    const c = await fresh(t.devs[2]!);
    expect(await refused(c.startFromSealed(s.manifest, s.chunks, [eu], keys))).toBe('InvalidArgument');
    const bent = s.chunks.map((x) => x.slice());
    bent[0]![10]! ^= 1;
    expect(await refused(c.startFromSealed(s.manifest, bent, [e], keys))).toBe('Malformed');
    expect(await refused(c.startFromSealed(s.manifest, [], [e], keys))).toBe('Malformed');
    const badE = e.slice();
    badE[badE.length - 5]! ^= 1;
    expect(['BadSignature', 'Malformed']).toContain(
      await refused(c.startFromSealed(s.manifest, s.chunks, [badE], keys)),
    );
    expect(await refused(c.startFromSealed(s.manifest, s.chunks, [e], []))).toBe('NoKey');
    // Another calendar's chunks under this manifest.
    expect(await refused(c.startFromSealed(s.manifest, su.chunks, [e], keys))).toBe('Malformed');
    expect(c.hasDoc(t.doc)).toBe(false);
    // And then the real thing still works on the same replica.
    expect(await c.startFromSealed(s.manifest, s.chunks, [e], keys)).toBe(t.doc);
  });

  it('[SNAP-9] the content key: a device added after the snapshot reads it through its own Add, one added before a rotation through the Rotate', async () => {
    const t = await world(['ky-a', 'ky-b', 'ky-c']);
    const s = await t.a.sealSnapshot(t.doc);
    const e = await t.b.endorseSnapshot(s.manifest, s.chunks);
    // d joins after the snapshot: its Add (in the tail) seals the key for it.
    const d = testDevice('ky-d');
    await t.a.addMember(t.doc, await cardOf(d, t.doc));
    const rd = await fresh(d);
    const add = (await t.a.listOps(t.doc, 0, 100_000)).at(-1)!;
    expect(await rd.startFromSealed(s.manifest, s.chunks, [e], [add.bytes])).toBe(t.doc);
    await syncOps(t.a, rd, t.doc);
    expect(visibleState(rd, t.doc)).toEqual(visibleState(t.a, t.doc));
    // A removal rotates the key; the next snapshot is sealed under the new one, which c reads
    // only from the Remove (its own Add sealed the old key).
    await t.a.removeMember(t.doc, pubOf(t.devs[1]!));
    await t.a.write(t.doc, E1, title('after the removal'));
    await syncOps(t.a, rd, t.doc);
    const s2 = await t.a.sealSnapshot(t.doc);
    const e2 = await rd.endorseSnapshot(s2.manifest, s2.chunks);
    const all = await membershipOps(t.a, t.doc);
    const c = await fresh(t.devs[2]!);
    expect(await refused(c.startFromSealed(s2.manifest, s2.chunks, [e2], all.slice(0, 3)))).toBe('NoKey');
    expect(await c.startFromSealed(s2.manifest, s2.chunks, [e2], all)).toBe(t.doc);
    expect(titleOf(c, t.doc, E1)).toBe('after the removal');
  });
});
