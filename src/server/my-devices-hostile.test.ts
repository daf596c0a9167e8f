// My devices under stress (docs/PROTOCOL.md section 8a): random pairing, offline work, calendar
// creation and a removal on three devices converge (PER-3, PER-4); a hostile member of a shared
// calendar cannot pass for one of my devices (PER-6).

import { describe, expect, it } from 'vitest';
import { type DeviceId, type DocId, EventField, fromHex } from '../engine/index.ts';
import { parseInviteLink } from '../worker/invite-link.ts';
import { CLAIM_FIELD, claimEntity } from '../worker/person-claims.ts';
import {
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
import { makeDevice, type TestRelay } from './relay.testkit.ts';
import { useRelayHarness } from './relay-harness.testkit.ts';

const harness = useRelayHarness();
const device = (r: TestRelay, name: string): Promise<Dev> => startDevice(r, name, harness.defer);

describe('my devices, converging and attacked', () => {
  it('[PER-3][PER-4] random pairing, offline work, calendar creation and a removal on three devices converge', async () => {
    // Seeded runs (PER_RUNS=n for more): each action on a random device; at the end every device
    // of mine shows the same calendars, events and members, and the removed one is in none.
    const runs = Number(process.env['PER_RUNS'] ?? 2);
    for (let run = 0; run < runs; run++) {
      let seed = 0x9e3779b9 ^ (run * 7919);
      const rnd = (n: number) => {
        seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
        return (seed >>> 0) % n;
      };
      const r = await harness.relay();
      const devs = [await device(r, 'D0'), await device(r, 'D1'), await device(r, 'D2')];
      await devs[0]!.h.createCalendar('Start', '#336699');
      await pair(devs[0]!, devs[1]!);
      await pair(devs[1]!, devs[2]!);
      const offline = new Set<number>();
      let made = 0;
      // What the two devices that stay wrote must reach both (the lost one's offline work may not).
      const wantCals = ['Start'];
      const wantTitles: string[] = [];
      for (let step = 0; step < 12; step++) {
        const i = rnd(3);
        const d = devs[i]!;
        const what = rnd(3);
        if (what === 0) {
          const on = offline.has(i);
          await d.h.setOnline(on);
          if (on) offline.delete(i);
          else offline.add(i);
        } else if (what === 1) {
          const id = await d.h.createCalendar(`C${++made}`, '#aa0000');
          await d.h.createEvent(id, eventId(), ev(`E${made}`, 10 + (made % 15)));
          if (i < 2) wantCals.push(`C${made}`);
          if (i < 2) wantTitles.push(`E${made}`);
        } else {
          const cals = await d.h.listCalendars();
          const c = cals[rnd(cals.length)]!;
          await d.h.createEvent(c.id, eventId(), ev(`W${step}-${i}`, 5));
          if (i < 2) wantTitles.push(`W${step}-${i}`);
        }
      }
      // The third device is lost: removed from the first while some may still be offline.
      const lost = (await devs[2]!.h.thisDevice()).id;
      await devs[0]!.h.removeMyDevice(lost);
      for (const i of offline) await devs[i]!.h.setOnline(true);
      const keep = devs.slice(0, 2);
      const view = async (d: Dev) => {
        const cals = (await d.h.listCalendars()).sort((a, b) => (a.name < b.name ? -1 : 1));
        const members = await Promise.all(cals.map((c) => memberIds(d, c.id)));
        return JSON.stringify({ cals: cals.map((c) => c.name), titles: await titles(d), members });
      };
      let last = '';
      await until(
        `run ${run}: my remaining devices converge without the lost one`,
        async () => {
          const [a, b] = await Promise.all(keep.map(view));
          last = `${a}\n${b}`;
          const v = JSON.parse(a!) as { cals: string[]; titles: string[] };
          return (
            a === b &&
            !a!.includes(lost) &&
            wantCals.every((c) => v.cals.includes(c)) &&
            wantTitles.every((t) => v.titles.includes(t))
          );
        },
        60_000,
      ).catch((e) => {
        throw new Error(`${(e as Error).message}\nwant ${wantCals} ${wantTitles}\n${last}`);
      });
      for (const d of devs) d.h.close();
    }
  }, 240_000);

  it('[PER-6] a partner sees my two devices as one person; a hostile member claiming to be one of mine is not', async () => {
    const r = await harness.relay();
    const laptop = await device(r, 'Laptop');
    const phone = await device(r, 'Phone');
    const partner = await device(r, 'Partner');
    const family = await laptop.h.createCalendar('Family', '#336699');
    await pair(laptop, phone);
    await partner.h.acceptInvite((await laptop.h.createInvite(ORIGIN, [family])).url);

    // A hostile member (a raw replica that signs what it likes) joins by another share link.
    const share = parseInviteLink((await laptop.h.createInvite(ORIGIN, [family])).url)[0]!;
    const hostile = await makeDevice('hostile');
    const hc = harness.client(hostile, r);
    hc.follow(family as DocId, { op: share.invite, secret: share.secret });
    hc.start();
    await until(
      'hostile fetched the invite',
      async () =>
        hostile.replica.hasDoc(family as DocId) &&
        (await hostile.replica.getOps(family as DocId, [share.invite]))[0] !== undefined,
    );
    hostile.track(await hostile.replica.joinWithInvite(family as DocId, share.invite, share.secret));
    hc.kick();
    const meL = (await laptop.h.thisDevice()).id as DeviceId;
    const claim = (ids: string[]) => Uint8Array.from(ids.sort().flatMap((d) => [...fromHex(d)]));
    const deleted = { field: EventField.Deleted, value: Uint8Array.of(1) };
    // Its own claim names my laptop, and it writes over my laptop's claim entity too.
    for (const entity of [claimEntity(hostile.id), claimEntity(meL)]) {
      hostile.track(
        await hostile.replica.write(family as DocId, entity, [
          deleted,
          { field: CLAIM_FIELD, value: claim([hostile.id, meL]) },
        ]),
      );
    }
    hc.kick();
    await until(
      'the relay holds the hostile claims',
      async () => hc.status.state === 'synced' && hc.status.pending === 0,
    );
    await synced(partner);

    const persons = async () => {
      const ms = await partner.h.listMembers(family);
      const by = (name: string) => ms.find((m) => m.name === name)?.person;
      return {
        ms,
        laptop: by('Laptop'),
        phone: by('Phone'),
        partner: by('Partner'),
        hostile: ms.find((m) => m.id === hostile.id)?.person,
      };
    };
    await until('partner sees laptop and phone as one person and the hostile device', async () => {
      const p = await persons();
      return p.laptop !== undefined && p.laptop === p.phone && p.hostile !== undefined && p.ms.length === 4;
    });
    const p = await persons();
    expect(p.hostile).not.toBe(p.laptop);
    expect(p.partner).not.toBe(p.laptop);
    expect(p.ms.filter((m) => m.mine).map((m) => m.name)).toEqual(['Partner']);
    // And on my own devices, the hostile device is not one of mine either.
    const onLaptop = await laptop.h.listMembers(family);
    expect(
      onLaptop
        .filter((m) => m.mine)
        .map((m) => m.name)
        .sort(),
    ).toEqual(['Laptop', 'Phone']);
    expect(onLaptop.find((m) => m.id === hostile.id)?.person).toBe(hostile.id);
  });
});
