// My devices (docs/PROTOCOL.md section 8a, PER-*): whole engine hosts (IndexedDB over
// fake-indexeddb, the real sync loop) syncing through the in-process relay. Pairing links a
// device to the person's personal document; calendars created before or after pairing, online or
// offline, reach every device of the person; removing one device removes it everywhere, and it
// reads nothing written after, even when a hostile relay hands it every op.

import { describe, expect, it } from 'vitest';
import { createNobleCrypto, type DocId, eventFromRecord, Replica } from '../engine/index.ts';
import { loadOrCreateDevice } from '../worker/device-keys.ts';
import { openIdbStore } from '../worker/idb-store.ts';
import { parseLink } from '../worker/invite-link.ts';
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

describe('my devices', () => {
  it('[PER-1][PER-2][PER-3] a calendar created after pairing reaches the paired device and its events sync both ways', async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const family = await laptop.h.createCalendar('Family', '#336699');
    await laptop.h.createEvent(family, eventId(), ev('Dentist'));
    await synced(laptop);

    const link = await laptop.h.createInvite(ORIGIN);
    expect(link.calendarIds).toEqual([family]); // the personal document is not a calendar
    expect((await phone.h.acceptInvite(link.url)).calendarIds).toEqual([family]);
    expect(await calendarNames(phone)).toEqual(['Family']);
    expect(await calendarNames(laptop)).toEqual(['Family']);

    // After pairing: a new calendar on the laptop, and an event in it.
    const work = await laptop.h.createCalendar('Work', '#884400');
    await laptop.h.createEvent(work, eventId(), ev('Standup', 11));
    await until('Work on the phone', async () => (await calendarNames(phone)).includes('Work'));
    await until('Standup on the phone', async () => (await titles(phone)).includes('Standup'));
    await phone.h.createEvent(work, eventId(), ev('From the phone', 12));
    await until('phone event on the laptop', async () => (await titles(laptop)).includes('From the phone'));

    // Both know the two devices as mine, by name; the phone's name reached the calendar it was let into.
    const mine = await laptop.h.listMyDevices();
    expect(mine.map((d) => d.name).sort()).toEqual(['Laptop', 'Phone']);
    expect(mine.every((d) => d.mine)).toBe(true);
    const onPhone = await phone.h.listMembers(work);
    expect(onPhone.map((d) => `${d.name}/${d.mine}`).sort()).toEqual(['Laptop/true', 'Phone/true']);
    expect((await laptop.h.listMembers(work)).find((d) => d.name === 'Phone')?.mine).toBe(true);
  });

  it('[PER-3] calendars made on three devices, one of them offline, converge; two devices letting the phone in at once break nothing', async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const tablet = await device(r, 'Tablet');
    await laptop.h.createCalendar('Home', '#336699');
    await pair(laptop, phone);
    await pair(laptop, tablet);
    await until('tablet has Home', async () => (await calendarNames(tablet)).includes('Home'));

    await phone.h.setOnline(false);
    await until('phone offline', async () => (await phone.h.syncStatus()).state === 'offline');
    const a = await laptop.h.createCalendar('A', '#aa0000');
    const t = await tablet.h.createCalendar('T', '#00aa00');
    const b = await phone.h.createCalendar('B', '#0000aa');
    await phone.h.createEvent(b, eventId(), ev('offline on the phone'));
    await until(
      'laptop and tablet share A and T',
      async () =>
        (await calendarNames(laptop)).join() === 'A,Home,T' &&
        (await calendarNames(tablet)).join() === 'A,Home,T',
    );
    // The phone comes back: it gets A and T (laptop and tablet may both let it in), and B reaches both.
    await phone.h.setOnline(true);
    for (const d of [laptop, phone, tablet]) {
      await until(
        `${d.name} has every calendar`,
        async () => (await calendarNames(d)).join() === 'A,B,Home,T',
      );
    }
    await laptop.h.createEvent(a, eventId(), ev('in A', 14));
    await tablet.h.createEvent(t, eventId(), ev('in T', 15));
    const all = ['in A', 'in T', 'offline on the phone'];
    for (const d of [laptop, phone, tablet]) {
      await until(`${d.name} reads every event`, async () => (await titles(d)).join() === all.join());
    }
    for (const d of [laptop, phone, tablet]) await synced(d);
    for (const cal of [a, b, t]) {
      const want = await memberIds(laptop, cal);
      expect(want).toHaveLength(3);
      expect(await memberIds(phone, cal)).toEqual(want);
      expect(await memberIds(tablet, cal)).toEqual(want);
    }
  });

  it('[PER-4] one step removes my phone from every calendar; my other devices finish where the remover is not a member; the phone reads nothing written after', async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const tablet = await device(r, 'Tablet');
    const a = await laptop.h.createCalendar('A', '#aa0000');
    await laptop.h.createEvent(a, eventId(), ev('before in A'));
    await pair(laptop, phone);
    await pair(laptop, tablet);
    await until(
      'tablet and phone have A',
      async () => (await calendarNames(tablet)).includes('A') && (await calendarNames(phone)).includes('A'),
    );
    const meP = await phone.h.thisDevice();

    // The laptop is offline: the tablet makes X, which reaches the phone but not yet the laptop.
    await laptop.h.setOnline(false);
    await until('laptop offline', async () => (await laptop.h.syncStatus()).state === 'offline');
    const x = await tablet.h.createCalendar('X', '#00aa00');
    await tablet.h.createEvent(x, eventId(), ev('before in X', 11));
    await until('phone in X', async () => (await titles(phone)).includes('before in X'));

    // One step on the (offline) laptop; the tablet finishes X once it hears of it.
    await laptop.h.removeMyDevice(meP.id);
    expect(await memberIds(laptop, a)).not.toContain(meP.id);
    expect((await laptop.h.listMyDevices()).map((d) => d.name).sort()).toEqual(['Laptop', 'Tablet']);
    await laptop.h.setOnline(true);
    await until(
      'tablet removed the phone from X',
      async () => !(await memberIds(tablet, x)).includes(meP.id),
    );
    await until('laptop got into X', async () => (await calendarNames(laptop)).includes('X'));
    await tablet.h.createEvent(x, eventId(), ev('after in X', 20));
    await laptop.h.createEvent(a, eventId(), ev('after in A', 21));
    for (const d of [laptop, tablet]) await synced(d);
    expect(await memberIds(laptop, x)).not.toContain(meP.id);
    expect(await memberIds(tablet, a)).not.toContain(meP.id);

    // A hostile relay hands the removed phone every op of both calendars: it reads none written after.
    phone.h.close();
    const store = await openIdbStore({ name: phone.name, factory: phone.factory, durability: 'relaxed' });
    const dev = await loadOrCreateDevice(store, globalThis.crypto.subtle, (n) =>
      crypto.getRandomValues(new Uint8Array(n)),
    );
    const replica = await Replica.open({
      store,
      crypto: createNobleCrypto(),
      random: (n) => crypto.getRandomValues(new Uint8Array(n)),
      nowUs: () => Date.now() * 1000,
      device: dev,
    });
    for (const cal of [a, x] as DocId[]) {
      for (const op of await r.store.listOps(cal, 0, 10_000)) await replica.receive(op.bytes);
    }
    const read = [a, x].flatMap((cal) => replica.entities(cal as DocId).map((e) => eventFromRecord(e).title));
    expect(read).toContain('before in A');
    expect(read).toContain('before in X');
    expect(read).not.toContain('after in A');
    expect(read).not.toContain('after in X');
    store.close();
  });

  it('[PER-5] my device removed from one calendar alone is not let in again by my other devices', async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const a = await laptop.h.createCalendar('A', '#aa0000');
    const b = await laptop.h.createCalendar('B', '#00aa00');
    await pair(laptop, phone);
    const meP = await phone.h.thisDevice();
    await laptop.h.removeDevice(a, meP.id);
    await laptop.h.createEvent(b, eventId(), ev('in B'));
    await until('phone reads B', async () => (await titles(phone)).includes('in B'));
    // Several reconciler rounds later the phone is still out of A, and still in B and in my devices.
    await new Promise((res) => setTimeout(res, 1500));
    expect(await memberIds(laptop, a)).not.toContain(meP.id);
    expect(await memberIds(laptop, b)).toContain(meP.id);
    expect((await laptop.h.listMyDevices()).map((d) => d.id)).toContain(meP.id);
  });

  it('[PER-3] someone else removing my phone from a shared calendar is not undone by my other devices', async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const partner = await device(r, 'Partner');
    const family = await laptop.h.createCalendar('Family', '#336699');
    await partner.h.acceptInvite((await laptop.h.createInvite(ORIGIN, [family])).url);
    await pair(laptop, phone);
    const meP = (await phone.h.thisDevice()).id;
    await synced(phone);
    await until('partner sees the phone', async () => (await memberIds(partner, family)).includes(meP));
    await partner.h.removeDevice(family, meP);
    await until('laptop sees the removal', async () => !(await memberIds(laptop, family)).includes(meP));
    // Reconciler rounds on every device (each runs at least every 5 s): the phone stays out.
    await new Promise((res) => setTimeout(res, 6_000));
    for (const d of [laptop, partner]) expect(await memberIds(d, family)).not.toContain(meP);
    expect((await laptop.h.listMyDevices()).map((d) => d.id)).toContain(meP);
  });

  it("[PER-2] one person per device: a lone device adopts my devices and brings its calendars; a device linked to others refuses another person's link; two Add device at once make one personal document", async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const other = await device(r, 'Other laptop');
    const otherPhone = await device(r, 'Other phone');
    await laptop.h.createCalendar('Family', '#336699');
    // The phone has a calendar of its own and even made its own (unused) Add device link.
    await phone.h.createCalendar('Phone notes', '#884400');
    await phone.h.createInvite(ORIGIN);
    await pair(laptop, phone);
    for (const d of [laptop, phone]) {
      await until(
        `${d.name} has both calendars`,
        async () => (await calendarNames(d)).join() === 'Family,Phone notes',
      );
    }
    // Another person's pair; their phone opens my laptop's link: refused before joining anything.
    await other.h.createCalendar('Theirs', '#008800');
    // Two "Add device" at once (two tabs) lead to one personal document.
    const [l1, l2] = await Promise.all([other.h.createInvite(ORIGIN), other.h.createInvite(ORIGIN)]);
    expect(parseLink(l1.url).invites[0]!.doc).toBe(parseLink(l2.url).invites[0]!.doc);
    await otherPhone.h.acceptInvite(l2.url);
    const mine = await laptop.h.createInvite(ORIGIN);
    await expect(otherPhone.h.acceptInvite(mine.url)).rejects.toMatchObject({ code: 'AlreadyLinked' });
    expect(await calendarNames(otherPhone)).toEqual(['Theirs']);
    expect((await laptop.h.listMyDevices()).map((d) => d.name).sort()).toEqual(['Laptop', 'Phone']);
  });

  it('[PER-3][PER-4][ROLE-11][ROLE-12] calendars a partner shared with my laptop as editor and as viewer reach my phone at those roles; "Remove from all calendars" on the phone removes the laptop from both', async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const partner = await device(r, 'Partner');
    const shared = await partner.h.createCalendar('Shared', '#336699');
    const news = await partner.h.createCalendar('News', '#884400');
    await partner.h.createEvent(shared, eventId(), ev('before in Shared'));
    await laptop.h.acceptInvite((await partner.h.createInvite(ORIGIN, [shared], undefined, 'editor')).url);
    await laptop.h.acceptInvite((await partner.h.createInvite(ORIGIN, [news], undefined, 'viewer')).url);
    await pair(laptop, phone);
    const roles = async (d: Dev) =>
      Object.fromEntries((await d.h.listCalendars()).map((c) => [c.name, c.role ?? '']));
    await until(
      'both calendars on the phone',
      async () => (await calendarNames(phone)).join() === 'News,Shared',
    );
    await until('roles known on the phone', async () => (await roles(phone))['News'] === 'viewer');
    expect(await roles(phone)).toEqual({ News: 'viewer', Shared: 'editor' });
    await until('phone reads Shared', async () => (await titles(phone)).includes('before in Shared'));
    await phone.h.createEvent(shared, eventId(), ev('from the phone', 11));
    await until('partner reads the phone', async () => (await titles(partner)).includes('from the phone'));
    const meL = (await laptop.h.thisDevice()).id;
    const meP = (await phone.h.thisDevice()).id;
    // The partner sees the laptop and the phone as one person in Shared.
    await until('partner sees one person', async () => {
      const ms = await partner.h.listMembers(shared);
      const l = ms.find((m) => m.id === meL);
      const p = ms.find((m) => m.id === meP);
      return l !== undefined && p !== undefined && l.person === p.person;
    });

    // The phone may remove the laptop there (its sponsor group, ROLE-12), not the partner.
    const onPhone = await phone.h.listMembers(shared);
    const partnerId = (await partner.h.thisDevice()).id;
    expect(onPhone.find((m) => m.id === meL)?.removable).toBe(true);
    expect(onPhone.find((m) => m.id === partnerId)?.removable).toBe(false);
    await expect(phone.h.removeDevice(shared, partnerId)).rejects.toMatchObject({ code: 'NotPermitted' });

    // My laptop is lost: one step on the phone removes it from both calendars (ROLE-12: the
    // phone is no manager there, but the laptop is in its sponsor group).
    await phone.h.removeMyDevice(meL);
    for (const cal of [shared, news])
      await until(
        `partner sees the laptop out of ${cal}`,
        async () => !(await memberIds(partner, cal)).includes(meL),
      );
    expect(await memberIds(phone, shared)).toEqual([meP, partnerId].sort());
    await partner.h.createEvent(shared, eventId(), ev('after in Shared', 20));
    await partner.h.createEvent(news, eventId(), ev('after in News', 21));
    await until('phone reads after', async () => (await titles(phone)).includes('after in News'));
    await synced(partner);

    // A hostile relay hands the removed laptop every op: it reads nothing written after.
    laptop.h.close();
    const store = await openIdbStore({ name: laptop.name, factory: laptop.factory, durability: 'relaxed' });
    const dev = await loadOrCreateDevice(store, globalThis.crypto.subtle, (n) =>
      crypto.getRandomValues(new Uint8Array(n)),
    );
    const replica = await Replica.open({
      store,
      crypto: createNobleCrypto(),
      random: (n) => crypto.getRandomValues(new Uint8Array(n)),
      nowUs: () => Date.now() * 1000,
      device: dev,
    });
    for (const cal of [shared, news] as DocId[])
      for (const op of await r.store.listOps(cal, 0, 10_000)) await replica.receive(op.bytes);
    const read = [shared, news].flatMap((cal) =>
      replica.entities(cal as DocId).map((e) => eventFromRecord(e).title),
    );
    expect(read).toContain('before in Shared');
    expect(read).not.toContain('after in Shared');
    expect(read).not.toContain('after in News');
    store.close();
  });
});
