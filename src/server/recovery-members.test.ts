// Recovery of every calendar (docs/PROTOCOL.md REC-1, REC-2, ROLE-14): whole engine hosts
// (IndexedDB over fake-indexeddb, the real sync loop) through the in-process relay. A recovery file
// made on a laptop covers the calendar it manages and those a partner shared with it as editor and
// as viewer; after the laptop is lost, a fresh device restores every one at the laptop's role, and
// removes the lost laptop and phone from all of them in one step (ROLE-12 through the invites' links).

import { describe, expect, it } from 'vitest';
import {
  calendarNames,
  type Dev,
  ev,
  eventId,
  memberIds,
  ORIGIN,
  pair,
  device as startDevice,
  synced,
  titles,
  until,
} from './my-devices.testkit.ts';
import type { TestRelay } from './relay.testkit.ts';
import { useRelayHarness } from './relay-harness.testkit.ts';

const harness = useRelayHarness();
const device = (r: TestRelay, name: string): Promise<Dev> => startDevice(r, name, harness.defer);
const PASSWORD = 'correct horse battery';

describe('recovery of every calendar', () => {
  it('[REC-1][REC-2][ROLE-14] a file covers calendars shared with me as editor and viewer: a fresh device gets them back at those roles and removes the lost laptop and phone from all', async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const partner = await device(r, 'Partner');
    const mine = await laptop.h.createCalendar('Mine', '#336699');
    await laptop.h.createEvent(mine, eventId(), ev('in Mine'));
    const shared = await partner.h.createCalendar('Shared', '#884400');
    const news = await partner.h.createCalendar('News', '#008844');
    await partner.h.createEvent(shared, eventId(), ev('in Shared', 11));
    await partner.h.createEvent(news, eventId(), ev('in News', 12));
    await laptop.h.acceptInvite((await partner.h.createInvite(ORIGIN, [shared], undefined, 'editor')).url);
    await laptop.h.acceptInvite((await partner.h.createInvite(ORIGIN, [news], undefined, 'viewer')).url);
    await pair(laptop, phone);
    await until('laptop reads all', async () => (await titles(laptop)).length === 3);
    await until('phone has all', async () => (await calendarNames(phone)).join() === 'Mine,News,Shared');
    const before = await laptop.h.recoveryStatus();
    expect(before.uncoveredIds.sort()).toEqual([mine, news, shared].sort());

    const file = await laptop.h.makeRecoveryFile(PASSWORD);
    // The three calendars and the personal document (PER-1).
    expect(file.calendarIds).toHaveLength(4);
    for (const cal of [mine, news, shared]) expect(file.calendarIds).toContain(cal);
    expect((await laptop.h.recoveryStatus()).uncoveredIds).toEqual([]);
    await synced(laptop);
    await synced(phone);
    const meL = (await laptop.h.thisDevice()).id;
    const meP = (await phone.h.thisDevice()).id;
    // Both are lost.
    laptop.h.close();
    phone.h.close();

    const fresh = await device(r, 'New laptop');
    const result = await fresh.h.restoreRecoveryFile(file.text, PASSWORD);
    expect(result.failed).toEqual([]);
    expect(result.joined.map((j) => j.name).sort()).toEqual(['Mine', 'News', 'Shared']);
    expect(await calendarNames(fresh)).toEqual(['Mine', 'News', 'Shared']);
    const roles = Object.fromEntries((await fresh.h.listCalendars()).map((c) => [c.name, c.role ?? '']));
    expect(roles).toEqual({ Mine: 'manager', News: 'viewer', Shared: 'editor' });
    await until('fresh reads every event', async () => (await titles(fresh)).length === 3);
    await fresh.h.createEvent(shared, eventId(), ev('from the new laptop', 13));
    await until('partner reads it', async () => (await titles(partner)).includes('from the new laptop'));

    // The restored device adopted my devices; the lost laptop and phone are in its group in Shared
    // and News (the laptop's invites link it, ROLE-14; the phone came in by the laptop's sponsored
    // Add, ROLE-11): it removes both from every calendar, though it manages neither.
    await until('my devices known', async () => (await fresh.h.listMyDevices()).length === 3);
    const inShared = await fresh.h.listMembers(shared);
    expect(inShared.find((m) => m.id === meL)?.removable).toBe(true);
    expect(inShared.find((m) => m.id === meP)?.removable).toBe(true);
    await fresh.h.removeMyDevice(meL);
    await fresh.h.removeMyDevice(meP);
    const meF = (await fresh.h.thisDevice()).id;
    const partnerId = (await partner.h.thisDevice()).id;
    for (const cal of [shared, news])
      await until(
        `partner sees the lost devices out of ${cal}`,
        async () => (await memberIds(partner, cal)).join() === [meF, partnerId].sort().join(),
      );
    expect(await memberIds(fresh, mine)).toEqual([meF]);
  });
});
