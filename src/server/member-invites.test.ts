// Invites by any member at the relay (docs/PROTOCOL.md ROLE-14, ROLE-10): it runs the same
// validator as every replica, so an editor's Invite at editor is stored and the Add by it lets the
// joiner in as an editor; an editor's Invite at manager is refused and changes nothing.

import { describe, expect, it } from 'vitest';
import {
  type DeviceId,
  encodeMembership,
  fromHex,
  MembershipKind,
  type OpId,
  Role,
  signDeviceCard,
} from '../engine/index.ts';
import { createOp } from '../engine/op.ts';
import { OpKind } from '../engine/store.ts';
import { makeDevice, random, randomEntity, waitFor } from './relay.testkit.ts';
import { useRelayHarness, writeTitle } from './relay-harness.testkit.ts';

const harness = useRelayHarness();

describe('invites by any member at the relay', () => {
  it("[ROLE-14][ROLE-10] an editor's Invite at editor and the Add by it go through; its Invite at manager is NotPermitted", async () => {
    const r = await harness.relay();
    const [a, e, j, key] = await Promise.all(
      ['a', 'editor', 'joiner', 'invite-key'].map((n) => makeDevice(n)),
    );
    const g = a!.track(await a!.replica.createCalendar({ name: 'Family', color: '#336699' }));
    for (const o of await a!.replica.listOps(g.doc, 1, 100))
      a!.persistence.add({ id: o.id, doc: o.doc, bytes: o.bytes });
    a!.track(await a!.replica.addMember(g.doc, await signDeviceCard(e!, fromHex(g.doc)), Role.Editor));
    await writeTitle(a!, g.doc, randomEntity(), 'dentist');
    const ca = harness.client(a!, r);
    ca.start();
    await waitFor(() => ca.status.state === 'synced', 15_000, 'a synced');
    const doc = g.doc;
    for (const o of await a!.replica.listOps(doc, 0, 1000)) await e!.replica.receive(o.bytes);
    const before = { heads: r.replica.heads(doc), root: r.replica.root(doc), seq: r.replica.seq(doc) };

    // An Invite at manager by the editor, built by hand (its own replica refuses to sign one).
    const wallTime = Date.now() * 1000;
    const above = await createOp(e!.signer, random, {
      doc: fromHex(doc),
      ctr: 1,
      kind: OpKind.Membership,
      schema: 1,
      wallTime,
      prev: new Uint8Array(0),
      parents: before.heads.map(fromHex),
      body: encodeMembership({
        kind: MembershipKind.Invite,
        subject: key!.signer.publicKey,
        subjectBox: key!.box.publicKey,
        keys: [],
        invite: new Uint8Array(0),
        sealed: new Uint8Array(0),
        expires: wallTime + 3_600_000_000,
        boxProof: new Uint8Array(0),
        role: Role.Manager,
      }),
    });
    const se = await harness.session(e!, r);
    await se.waitFor((m) => m.type === 'welcome', 'welcome');
    se.send({ type: 'push', ops: [above.bytes] });
    const err = await se.waitFor((x) => x.type === 'error' && x.op === above.id, 'error for the invite');
    expect(err.type === 'error' ? err.code : '').toBe('NotPermitted');
    expect({ heads: r.replica.heads(doc), root: r.replica.root(doc), seq: r.replica.seq(doc) }).toEqual(
      before,
    );

    // The honest Invite at editor is stored; the joiner's Add by it (pushed by the editor's client) too.
    const inv = await e!.replica.createInvite(doc, (Date.now() + 3_600_000) * 1000, Role.Editor);
    e!.track(inv.op);
    const ce = harness.client(e!, r);
    ce.start();
    await waitFor(() => r.replica.heads(doc).includes(inv.op.id as OpId), 15_000, 'invite stored');
    for (const o of await e!.replica.listOps(doc, 0, 1000)) await j!.replica.receive(o.bytes);
    const add = await j!.replica.joinWithInvite(doc, inv.op.id, inv.secret);
    await e!.replica.receive(add.bytes);
    e!.persistence.add({ id: add.id, doc, bytes: add.bytes });
    ce.kick();
    await waitFor(
      () => r.replica.members(doc).get(j!.id as DeviceId)?.role === Role.Editor,
      15_000,
      'joiner in',
    );
    expect(ce.status.lastError).toBeNull();
    // ROLE-12 through ROLE-14's link: the relay accepts the editor's Remove of its joiner.
    e!.track(await e!.replica.removeMember(doc, j!.signer.publicKey));
    ce.kick();
    await waitFor(() => !r.replica.members(doc).has(j!.id as DeviceId), 15_000, 'joiner removed');
    expect(ce.status.lastError).toBeNull();
  });
});
