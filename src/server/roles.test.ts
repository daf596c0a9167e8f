// Roles at the relay (docs/PROTOCOL.md ROLE-4, ROLE-10): it runs the same validator as every
// replica, so a viewer's write and an editor's membership ops are refused with NotPermitted and
// leave the relay's state as it was; what the role allows goes through.

import { describe, expect, it } from 'vitest';
import {
  type DocId,
  encodeMembership,
  fromHex,
  MembershipKind,
  type OpId,
  Role,
  signDeviceCard,
} from '../engine/index.ts';
import { createOp, type OpenedOp } from '../engine/op.ts';
import { OpKind } from '../engine/store.ts';
import {
  makeDevice,
  type RawSession,
  random,
  randomEntity,
  type TestDevice,
  type TestRelay,
  waitFor,
} from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';

const harness = useRelayHarness();

async function session(dev: TestDevice, r: TestRelay): Promise<RawSession> {
  const s = await harness.session(dev, r);
  await s.waitFor((m) => m.type === 'welcome', 'welcome');
  return s;
}

async function pushAndWaitError(s: RawSession, op: OpenedOp): Promise<string> {
  s.send({ type: 'push', ops: [op.bytes] });
  const m = await s.waitFor((x) => x.type === 'error' && x.op === op.id, `error for ${op.id}`);
  return m.type === 'error' ? m.code : '';
}

/** A calendar of a with a viewer and an editor (added with their roles), synced to the relay. */
async function rolesCalendar(r: TestRelay) {
  const [a, v, e] = await Promise.all([makeDevice('a'), makeDevice('viewer'), makeDevice('editor')]);
  const g = a.track(await a.replica.createCalendar({ name: 'Family', color: '#336699' }));
  for (const o of await a.replica.listOps(g.doc, 1, 100))
    a.persistence.add({ id: o.id, doc: o.doc, bytes: o.bytes });
  a.track(await a.replica.addMember(g.doc, await signDeviceCard(v, fromHex(g.doc)), Role.Viewer));
  a.track(await a.replica.addMember(g.doc, await signDeviceCard(e, fromHex(g.doc)), Role.Editor));
  await writeTitle(a, g.doc, randomEntity(), 'dentist');
  const ca = harness.client(a, r);
  ca.start();
  await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
  for (const d of [v, e])
    for (const o of await a.replica.listOps(g.doc, 0, 1000)) await d.replica.receive(o.bytes);
  return { a, ca, v, e, doc: g.doc };
}

/** The next op of `dev` on top of the relay's heads, built by hand (an honest replica would refuse). */
function craft(dev: TestDevice, doc: DocId, parents: OpId[], kind: OpKind, body: Uint8Array) {
  return createOp(dev.signer, random, {
    doc: fromHex(doc),
    ctr: 1,
    kind,
    schema: 1,
    wallTime: Date.now() * 1000,
    prev: new Uint8Array(0),
    parents: parents.map(fromHex),
    body,
    ...(kind === OpKind.Patch ? { key: { id: random(8), key: random(32) } } : {}),
  });
}

describe('roles at the relay', () => {
  it("[ROLE-10][ROLE-4] a viewer's write and an editor's Add and SetRole are NotPermitted; the relay's state is unchanged", async () => {
    const r = await harness.relay();
    const { a, ca, v, e, doc } = await rolesCalendar(r);
    const before = { heads: r.replica.heads(doc), root: r.replica.root(doc), seq: r.replica.seq(doc) };
    const sv = await session(v, r);
    const viewerWrite = await craft(v, doc, before.heads, OpKind.Patch, random(60));
    expect(await pushAndWaitError(sv, viewerWrite)).toBe('NotPermitted');

    const x = await makeDevice('intruder');
    const card = await signDeviceCard(x, fromHex(doc));
    const add = await craft(
      e,
      doc,
      before.heads,
      OpKind.Membership,
      encodeMembership({
        kind: MembershipKind.Add,
        subject: card.device,
        subjectBox: card.box,
        keys: [],
        invite: new Uint8Array(0),
        sealed: new Uint8Array(0),
        expires: 0,
        boxProof: card.proof,
        role: Role.Manager,
      }),
    );
    const se = await session(e, r);
    expect(await pushAndWaitError(se, add)).toBe('NotPermitted');
    const demote = await craft(
      e,
      doc,
      before.heads,
      OpKind.Membership,
      encodeMembership({
        kind: MembershipKind.SetRole,
        subject: a.signer.publicKey,
        subjectBox: new Uint8Array(0),
        keys: [],
        invite: new Uint8Array(0),
        sealed: new Uint8Array(0),
        expires: 0,
        boxProof: new Uint8Array(0),
        role: Role.Viewer,
      }),
    );
    expect(await pushAndWaitError(se, demote)).toBe('NotPermitted');

    expect({ heads: r.replica.heads(doc), root: r.replica.root(doc), seq: r.replica.seq(doc) }).toEqual(
      before,
    );
    expect(
      (await r.replica.getOps(doc, [viewerWrite.id, add.id, demote.id])).every((o) => o === undefined),
    ).toBe(true);
    expect(r.replica.members(doc).has(x.id)).toBe(false);
    expect(r.replica.members(doc).get(a.id)?.role).toBe(Role.Manager);
    expect(r.store.heldCount()).toBe(0);

    // What the roles allow goes through: the editor's event, then the manager making the viewer an editor.
    const ce = harness.client(e, r);
    await writeTitle(e, doc, randomEntity(), 'from the editor');
    ce.start();
    await waitFor(() => ce.status.state === 'synced', 15_000, 'e synced');
    expect(r.replica.seq(doc)).toBe(before.seq + 1);
    a.track(await a.replica.setRole(doc, v.signer.publicKey, Role.Editor));
    ca.kick();
    await waitFor(() => r.replica.members(doc).get(v.id)?.role === Role.Editor, 15_000, 'viewer promoted');
    expect(ca.status.lastError).toBeNull();
  });
});
