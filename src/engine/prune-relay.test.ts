// Pruning a verify-only replica (the relay's) on its members' consent (docs/PROTOCOL.md SNAP-17):
// it waits for every member, never prunes over an op concurrent with the frontier, keeps the
// anchors, and afterwards judges every later op as a verify-only replica with every op does
// (across a restart); ops that need a pruned op are refused or wait, never corrupt it.

import { describe, expect, it } from 'vitest';
import { toHex, utf8 } from './bytes.ts';
import { EventField } from './calendar.ts';
import { createNobleCrypto } from './crypto.ts';
import { craftAt, patchOp, pubOf, syncAll, syncOps, team } from './hostile.testkit.ts';
import { CALENDAR_ENTITY, type DeviceId, type DocId, type EntityId } from './ids.ts';
import { createMemoryStore } from './memory-store.ts';
import type { PruneConsent } from './prune-relay.ts';
import type { Replica } from './replica.ts';
import { openEndorsement } from './snapshot-envelope.ts';
import { cardOf, openReplica, testDevice } from './testkit.testkit.ts';

const E1 = '71'.repeat(16) as EntityId;
const E2 = '72'.repeat(16) as EntityId;
const title = (s: string) => [{ field: EventField.Title, value: utf8(s) }];
const crypto = createNobleCrypto();
const pubHex = (d: ReturnType<typeof testDevice>) => toHex(pubOf(d)) as DeviceId;

/** What a verify-only replica shows: heads, root, members and roles, evidence. */
const relayView = (r: Replica, doc: DocId) => ({
  heads: [...r.heads(doc)].sort(),
  root: r.root(doc),
  members: [...r.members(doc).values()].map((m) => `${m.device}:${m.role}`).sort(),
  evidence: r
    .evidence(doc)
    .map((e) => `${e.author}:${e.ctr}`)
    .sort(),
});

/** a, b, c with some history; the relay's verify-only replica (reopenable) and a full twin of it. */
async function world() {
  const t = await team(['rp-a', 'rp-b', 'rp-c']);
  const [a, b, c] = t.reps as [Replica, Replica, Replica];
  for (let i = 0; i < 4; i++) {
    await a.write(t.doc, E1, title(`a ${i}`));
    await b.write(t.doc, E2, title(`b ${i}`));
  }
  await c.write(t.doc, E1, title('c'));
  await syncAll([a, b, c], t.doc);
  const store = createMemoryStore();
  const relay = await openReplica(undefined, { store });
  const twin = await openReplica(undefined);
  await syncOps(a, relay, t.doc);
  await syncOps(a, twin, t.doc);
  return { ...t, a, b, c, relay, twin, store };
}

/** The snapshot a seals, endorsed by each of `by` (a's own included): the consent map. */
async function consentOf(a: Replica, doc: DocId, by: readonly Replica[]) {
  const s = await a.sealSnapshot(doc);
  const consent = new Map<DeviceId, PruneConsent>();
  for (const r of by) {
    const e = await openEndorsement(crypto, await r.endorseSnapshot(s.manifest, s.chunks));
    consent.set(e.endorser, { ctr: e.ctr, last: e.last });
  }
  const frontier = [...a.heads(doc)].sort();
  return { s, consent, frontier };
}

describe('pruning on a verify-only replica (SNAP-17)', () => {
  it('[SNAP-17] waits for every member’s consent, keeps the anchors, then judges every later op as a replica with every op', async () => {
    const { doc, a, b, c, relay, twin, store, devs } = await world();
    const { consent, frontier } = await consentOf(a, doc, [a, b]);
    const waiting = await relay.pruneUnreadStatus(doc, frontier, consent);
    expect(waiting).toMatchObject({ ready: false, blocked: null, waitingFor: [c.deviceId!] });
    await expect(relay.pruneUnread(doc, frontier, consent)).rejects.toMatchObject({
      code: 'InvalidArgument',
    });
    const all = await consentOf(a, doc, [a, b, c]);
    const ready = await relay.pruneUnreadStatus(doc, all.frontier, all.consent);
    expect(ready).toMatchObject({ ready: true, waitingFor: [] });
    const before = (await relay.listOps(doc, 0, 100_000)).length;
    expect(await relay.pruneUnread(doc, all.frontier, all.consent)).toBe(ready.prunable);
    expect(ready.prunable).toBeGreaterThan(0);
    const left = await relay.listOps(doc, 0, 100_000);
    expect(left.length).toBe(before - ready.prunable);
    // The anchors a maker selects are what is left: the snapshot's own anchor count.
    expect(left.map((r) => r.id)).toEqual(expect.arrayContaining(all.frontier));
    expect(relayView(relay, doc)).toEqual(relayView(twin, doc));
    // Later ops of every member, a new device, a removal: applied alike, also after a restart.
    await b.write(doc, E2, title('b after'));
    await c.write(doc, E1, title('c after'));
    const d = testDevice('rp-d');
    await a.addMember(doc, await cardOf(d, doc));
    await syncAll([a, b, c], doc);
    const rd = await openReplica(d);
    await syncOps(a, rd, doc);
    await rd.write(doc, E2, title('d, new'));
    await syncOps(rd, a, doc);
    await a.removeMember(doc, pubOf(devs[2]!));
    for (const r of [relay, twin]) await syncOps(a, r, doc);
    expect(relayView(relay, doc)).toEqual(relayView(twin, doc));
    const reopened = await openReplica(undefined, { store });
    expect(relayView(reopened, doc)).toEqual(relayView(twin, doc));
    await b.write(doc, E2, title('b, after the restart'));
    await syncOps(b, reopened, doc);
    await syncOps(b, twin, doc);
    expect(relayView(reopened, doc)).toEqual(relayView(twin, doc));
    // A verify-only replica reads no body: no entity, so no base record is ever stored (SNAP-11).
    expect(reopened.entities(doc)).toEqual([]);
    expect(twin.entities(doc)).toEqual([]);
  });

  it('[SNAP-17] an op held here concurrently with the frontier blocks; a later frontier prunes', async () => {
    const { doc, a, b, c, relay } = await world();
    await a.write(doc, E1, title('a, not seen by c'));
    await syncOps(a, b, doc);
    const first = await consentOf(a, doc, [a, b]);
    // c writes offline without having seen a's frontier, then receives it and endorses.
    await c.write(doc, E2, title('c, offline'));
    await syncOps(a, c, doc);
    await syncOps(a, relay, doc);
    await syncOps(c, relay, doc);
    const cc = await openEndorsement(crypto, await c.endorseSnapshot(first.s.manifest, first.s.chunks));
    first.consent.set(cc.endorser, { ctr: cc.ctr, last: cc.last });
    const st = await relay.pruneUnreadStatus(doc, first.frontier, first.consent);
    expect(st.ready).toBe(false);
    expect(st.blocked).toContain('without the whole frontier');
    // After everything merged, the next snapshot, endorsed by all, prunes.
    await syncAll([a, b, c], doc);
    const next = await consentOf(a, doc, [a, b, c]);
    await syncOps(a, relay, doc);
    expect((await relay.pruneUnreadStatus(doc, next.frontier, next.consent)).ready).toBe(true);
  });

  it('[SNAP-17] a consent whose chain position the replica does not hold yet counts for nothing', async () => {
    const { doc, a, b, c, relay } = await world();
    // b writes (offline from the relay), then endorses at that position.
    await b.write(doc, E2, title('b, not at the relay'));
    await syncOps(b, a, doc);
    await syncOps(b, c, doc);
    const all = await consentOf(a, doc, [a, b, c]);
    await syncOps(c, relay, doc);
    // b writes again (not at the relay yet) and endorses at that newer chain position.
    await b.write(doc, E1, title('b, later'));
    const again = await openEndorsement(crypto, await b.endorseSnapshot(all.s.manifest, all.s.chunks));
    const consent = new Map(all.consent).set(again.endorser, { ctr: again.ctr, last: again.last });
    const st = await relay.pruneUnreadStatus(doc, all.frontier, consent);
    expect(st.waitingFor).toEqual([b.deviceId!]);
    await syncOps(b, relay, doc);
    expect((await relay.pruneUnreadStatus(doc, all.frontier, consent)).ready).toBe(true);
  });

  it('[SNAP-17] ops that need a pruned op (a member’s fork, a removed device’s op) are refused or wait, and change nothing; a replica that reads bodies refuses', async () => {
    const { doc, a, b, c, relay, devs, key } = await world();
    const old = await relay.listOps(doc, 0, 100_000);
    const all = await consentOf(a, doc, [a, b, c]);
    await syncOps(a, relay, doc);
    expect((await a.pruneUnreadStatus(doc, all.frontier, all.consent)).blocked).toContain('SNAP-12');
    await relay.pruneUnread(doc, all.frontier, all.consent);
    const kept = new Set((await relay.listOps(doc, 0, 100_000)).map((r) => r.id));
    const gone = old.find((r) => !kept.has(r.id))!;
    expect(gone).toBeDefined();
    const view = relayView(relay, doc);
    // c, a fork of its own chain below the frontier naming a pruned op: covered, refused (SNAP-7).
    const at = await craftAt(relay, devs[2]!, doc);
    const fork = patchOp({ ...at, ctr: 1, prev: null, parents: [gone.id] }, key, 'fork', E1);
    const r1 = await relay.receive(fork);
    expect(r1.status).toBe('rejected');
    expect(r1.error?.code).toBe('Unsupported');
    // c, an op from old parents that are kept (anchors) but without the whole frontier: refused.
    const genesis = old[0]!.id;
    const stale = patchOp({ ...at, parents: [genesis] }, key, 'stale', E1);
    const r2 = await relay.receive(stale);
    expect(r2.status).toBe('rejected');
    expect(relayView(relay, doc)).toEqual(view);
    expect(relay.pendingCount(doc)).toBe(0);
    // c removed after the frontier; an op of c past its chain position naming a pruned op waits
    // for it (bounded, DAG-4; the relay refuses it before, RELAY-10) and changes nothing.
    await a.removeMember(doc, pubOf(devs[2]!));
    await syncOps(a, relay, doc);
    const after = relayView(relay, doc);
    const late = patchOp({ ...(await craftAt(relay, devs[2]!, doc)), parents: [gone.id] }, key, 'late', E1);
    expect((await relay.receive(late)).status).toBe('pending');
    expect(relayView(relay, doc)).toEqual(after);
  });

  it('[SNAP-17] a device added after the frontier needs no consent (it cannot endorse; its every op follows its Add); one removed before it and added again does', async () => {
    const { doc, a, b, c, relay, devs } = await world();
    const all = await consentOf(a, doc, [a, b, c]);
    const d = testDevice('rp-late');
    await a.addMember(doc, await cardOf(d, doc));
    await syncOps(a, relay, doc);
    expect(relay.members(doc).has(pubHex(d))).toBe(true);
    expect((await relay.pruneUnreadStatus(doc, all.frontier, all.consent)).ready).toBe(true);
    // c removed before the next frontier and added again after it: it has a past there.
    await a.removeMember(doc, pubOf(devs[2]!));
    await syncOps(a, b, doc);
    const next = await consentOf(a, doc, [a, b]);
    await a.addMember(doc, await cardOf(devs[2]!, doc));
    await syncOps(a, relay, doc);
    const st = await relay.pruneUnreadStatus(doc, next.frontier, next.consent);
    // d is a member at this frontier: it must endorse it like everyone there.
    expect(st.waitingFor).toEqual([c.deviceId!, pubHex(d)].sort());
  });

  it('[SNAP-17][CMP-2] no device endorses a snapshot of a calendar in compliance mode', async () => {
    const { doc, a, b } = await world();
    const s = await a.sealSnapshot(doc);
    await a.write(doc, CALENDAR_ENTITY, [{ field: 4, value: new Uint8Array([1]) }]);
    await syncOps(a, b, doc);
    await expect(b.endorseSnapshot(s.manifest, s.chunks)).rejects.toMatchObject({
      code: 'InvalidArgument',
      message: expect.stringContaining('compliance'),
    });
    await expect(a.endorseSnapshot(s.manifest, s.chunks)).rejects.toMatchObject({ code: 'InvalidArgument' });
  });
});
