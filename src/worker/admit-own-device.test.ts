// PER-3's one place a device of mine is let into a calendar (`admitOwnDevice`): by its sponsor card
// naming this device, at this device's role there, whatever it is (ROLE-11); by its plain card
// (a device of a build before sponsor cards) only as a manager.

import { describe, expect, it } from 'vitest';
import { type DeviceId, EngineError, fromHex, Role, toHex } from '../engine/index.ts';
import { cardOf, manualClock, openReplica, sponsorCardOf, testDevice } from '../engine/testkit.testkit.ts';
import { admitOwnDevice } from './my-devices.ts';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof EngineError ? e.code : String(e);
  }
}

describe('admitOwnDevice', () => {
  it('[PER-3][ROLE-11] by a sponsor card at my role (viewer, editor, manager); by a plain card only as a manager', async () => {
    const clock = manualClock();
    const [owner, laptop] = ['ao-owner', 'ao-laptop'].map((n) => testDevice(n));
    const ro = await openReplica(owner!, { clock });
    const rl = await openReplica(laptop!, { clock });
    const lid = rl.deviceId as DeviceId;
    for (const role of [Role.Viewer, Role.Editor, Role.Manager] as const) {
      const g = await ro.createCalendar({ name: `R${role}` });
      await ro.addMember(g.doc, await cardOf(laptop!, g.doc), role);
      for (const o of await ro.listOps(g.doc, 0, 1e5)) await rl.receive(o.bytes);
      const phone = testDevice(`ao-phone-${role}`);
      const plain = await cardOf(phone, g.doc);
      const pid = toHex(plain.device) as DeviceId;
      if (role !== Role.Manager) expect(await code(admitOwnDevice(rl, g.doc, plain))).toBe('NotPermitted');
      await admitOwnDevice(rl, g.doc, await sponsorCardOf(phone, g.doc, fromHex(lid)), 'Phone');
      expect(rl.members(g.doc).get(pid)?.role).toBe(role);
      expect(rl.sponsorGroup(g.doc, lid)).toContain(pid);
    }
    // A plain card by a manager: the phone becomes a manager, not linked to the laptop's group.
    const g = await rl.createCalendar({ name: 'Mine' });
    const tab = testDevice('ao-tablet');
    const card = await cardOf(tab, g.doc);
    await admitOwnDevice(rl, g.doc, card);
    const tid = [...rl.members(g.doc).keys()].find((d) => d !== lid)!;
    expect(rl.members(g.doc).get(tid)?.role).toBe(Role.Manager);
    expect(rl.sponsorGroup(g.doc, lid)).toEqual([lid]);
    // Not a member: refused before anything is written.
    const other = await ro.createCalendar({ name: 'Not mine' });
    for (const o of await ro.listOps(other.doc, 0, 1e5)) await rl.receive(o.bytes);
    expect(await code(admitOwnDevice(rl, other.doc, await cardOf(tab, other.doc)))).toBe('NotMember');
  });
});
