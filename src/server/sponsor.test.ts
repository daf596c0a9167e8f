// Sponsored Adds and sponsor groups at the relay (docs/PROTOCOL.md ROLE-11, ROLE-12): it runs the
// same validator as every replica, so an editor's sponsored Add at its own role goes through, one
// above its role or whose proof names another member is refused, and an editor's Remove of a
// device outside its sponsor group is refused; refused ops leave the relay's state as it was.

import { describe, expect, it } from 'vitest';
import {
  type DocId,
  encodeMembership,
  fromHex,
  type MembershipBody,
  MembershipKind,
  type OpId,
  Role,
  signDeviceCard,
  signSponsorCard,
} from '../engine/index.ts';
import { createOp, type OpenedOp } from '../engine/op.ts';
import { OpKind } from '../engine/store.ts';
import {
  makeDevice,
  type RawSession,
  random,
  randomEntity,
  type TestDevice,
  waitFor,
} from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';

const harness = useRelayHarness();

async function pushAndWaitError(s: RawSession, op: OpenedOp): Promise<string> {
  s.send({ type: 'push', ops: [op.bytes] });
  const m = await s.waitFor((x) => x.type === 'error' && x.op === op.id, `error for ${op.id}`);
  return m.type === 'error' ? m.code : '';
}

/** `dev`'s first op on top of `parents`, built by hand (an honest replica would refuse it). */
function craft(dev: TestDevice, doc: DocId, parents: OpId[], body: Partial<MembershipBody>) {
  return createOp(dev.signer, random, {
    doc: fromHex(doc),
    ctr: 1,
    kind: OpKind.Membership,
    schema: 1,
    wallTime: Date.now() * 1000,
    prev: new Uint8Array(0),
    parents: parents.map(fromHex),
    body: encodeMembership({
      kind: MembershipKind.Add,
      subject: dev.signer.publicKey,
      subjectBox: new Uint8Array(0),
      keys: [],
      invite: new Uint8Array(0),
      sealed: new Uint8Array(0),
      expires: 0,
      boxProof: new Uint8Array(0),
      role: Role.Unstated,
      ...body,
    }),
  });
}

describe('sponsored Adds at the relay', () => {
  it("[ROLE-11][ROLE-12][ROLE-10] an editor's sponsored Add goes through; above its role, naming another sponsor, or removing outside its group is refused", async () => {
    const r = await harness.relay();
    const [a, v, e, x] = await Promise.all(['a', 'viewer', 'editor', 'phone'].map((n) => makeDevice(n)));
    const g = a!.track(await a!.replica.createCalendar({ name: 'Family', color: '#336699' }));
    for (const o of await a!.replica.listOps(g.doc, 1, 100))
      a!.persistence.add({ id: o.id, doc: o.doc, bytes: o.bytes });
    a!.track(await a!.replica.addMember(g.doc, await signDeviceCard(v!, fromHex(g.doc)), Role.Viewer));
    a!.track(await a!.replica.addMember(g.doc, await signDeviceCard(e!, fromHex(g.doc)), Role.Editor));
    await writeTitle(a!, g.doc, randomEntity(), 'dentist');
    const ca = harness.client(a!, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
    for (const o of await a!.replica.listOps(g.doc, 0, 1000)) await e!.replica.receive(o.bytes);
    const doc = g.doc;
    const before = { heads: r.replica.heads(doc), root: r.replica.root(doc), seq: r.replica.seq(doc) };

    const mine = await signSponsorCard(x!, fromHex(doc), e!.signer.publicKey);
    const toA = await signSponsorCard(x!, fromHex(doc), a!.signer.publicKey);
    const add = { kind: MembershipKind.Add, subject: mine.device, subjectBox: mine.box, sponsored: true };
    const above = await craft(e!, doc, before.heads, { ...add, boxProof: mine.proof, role: Role.Manager });
    const otherSponsor = await craft(e!, doc, before.heads, {
      ...add,
      boxProof: toA.proof,
      role: Role.Editor,
    });
    const outside = await craft(e!, doc, before.heads, {
      kind: MembershipKind.Remove,
      subject: v!.signer.publicKey,
    });
    const se = await harness.session(e!, r);
    await se.waitFor((m) => m.type === 'welcome', 'welcome');
    expect(await pushAndWaitError(se, above)).toBe('NotPermitted');
    expect(await pushAndWaitError(se, otherSponsor)).toBe('BadSignature');
    expect(await pushAndWaitError(se, outside)).toBe('NotPermitted');
    expect({ heads: r.replica.heads(doc), root: r.replica.root(doc), seq: r.replica.seq(doc) }).toEqual(
      before,
    );
    expect(r.replica.members(doc).has(x!.id)).toBe(false);
    expect(r.replica.members(doc).has(v!.id)).toBe(true);

    // The honest sponsored Add at the editor's role goes through; then the editor removes it (its group).
    const ce = harness.client(e!, r);
    e!.track(await e!.replica.addMember(doc, mine, Role.Editor, 'Phone'));
    ce.start();
    await waitFor(() => r.replica.members(doc).get(x!.id)?.role === Role.Editor, 15_000, 'phone in');
    e!.track(await e!.replica.removeMember(doc, x!.signer.publicKey));
    ce.kick();
    await waitFor(() => !r.replica.members(doc).has(x!.id), 15_000, 'phone removed');
    expect(ce.status.lastError).toBeNull();
    expect(r.replica.members(doc).has(v!.id)).toBe(true);
  });
});
