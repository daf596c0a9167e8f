// Devices and sharing in real Chromium against the real relay (playwright.config.ts webServer):
// separate browser contexts are separate devices. Drives the real CalendarClient (worker, Web
// Locks leader, IndexedDB, sync loop) through the runtime fixture page (e2e/fixtures/).

import { type Browser, type BrowserContext, expect, type Page, test } from '@playwright/test';
import base from '../playwright.config.ts';
import type { EventFields, SyncStatus } from '../src/worker/api.ts';
import { serveFixtures } from './fixtures/build.ts';
import type { RuntimeFixture } from './fixtures/client.entry.ts';

declare global {
  var rt: RuntimeFixture;
  var sync: SyncStatus | undefined;
}

test.describe.configure({ timeout: 180_000 });
// The fixture page is served by request interception, so it has no IP address and Chromium's
// Local Network Access checks treat it as public and block its WebSocket to the loopback relay
// (net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS). The app itself, served by the relay, is not
// affected; only this harness needs the check off.
test.use({
  launchOptions: {
    ...base.use?.launchOptions,
    args: [...(base.use?.launchOptions?.args ?? []), '--disable-features=LocalNetworkAccessChecks'],
  },
});

const MARCH = { fromMs: Date.UTC(2025, 2, 1), toMs: Date.UTC(2025, 3, 1) };
const fields = (title: string, day: number): EventFields => ({
  title,
  start: `2025-03-${String(day).padStart(2, '0')}T09:00`,
  end: `2025-03-${String(day).padStart(2, '0')}T10:00`,
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: '',
});

interface Device {
  context: BrowserContext;
  page: Page;
}

async function device(browser: Browser): Promise<Device> {
  const context = await browser.newContext();
  await serveFixtures(context);
  const page = await context.newPage();
  await page.goto('/__rt/?ns=devices');
  await page.waitForFunction(() => 'rt' in globalThis);
  await page.evaluate(() => {
    rt.client.onSyncStatus((s) => {
      globalThis.sync = s;
    });
  });
  return { context, page };
}

async function synced(d: Device, timeout = 30_000): Promise<void> {
  try {
    await d.page.waitForFunction(() => sync?.state === 'synced' && sync.pendingUploads === 0, undefined, {
      timeout,
    });
  } catch (e) {
    throw new Error(`not synced: ${JSON.stringify(await d.page.evaluate(() => sync))}`, { cause: e });
  }
}

const titles = (d: Device) =>
  d.page.evaluate(async (range) => (await rt.client.eventsInRange(range)).map((e) => e.title).sort(), MARCH);

const calendars = (d: Device) =>
  d.page.evaluate(async () => (await rt.client.listCalendars()).map((c) => c.name).sort());

test('[SYNC-10][SYNC-11][INV-5][INV-6][RELAY-9] two devices pair by link, converge after offline edits; a removed device no longer reaches the other', async ({
  browser,
}) => {
  const a = await device(browser);
  const b = await device(browser);

  // A works offline: a calendar and events, nothing reaches the relay.
  await a.context.setOffline(true);
  await a.page.waitForFunction(() => sync?.state === 'offline');
  const cal = await a.page.evaluate(
    async (f) => {
      const id = await rt.client.createCalendar('Family', '#336699');
      await rt.client.createEvent(id, f[0]!);
      await rt.client.createEvent(id, f[1]!);
      return id;
    },
    [fields('Dentist', 10), fields('Swimming', 12)],
  );
  expect((await a.page.evaluate(() => sync?.pendingUploads)) ?? 0).toBeGreaterThan(0);
  await a.context.setOffline(false);
  await synced(a);

  // A names itself and makes a link; B names itself and opens it.
  await a.page.evaluate(() => rt.client.setDeviceName('Laptop'));
  const link = await a.page.evaluate(() => rt.client.createInvite(location.origin));
  expect(link.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/#\/join\/[A-Za-z0-9_-]+$/);
  expect(link.calendarIds).toEqual([cal]);

  // A damaged link is refused with a typed error and changes nothing.
  const bad = await b.page.evaluate(async (url) => {
    try {
      await rt.client.acceptInvite(`${url.slice(0, -4)}`);
      return 'accepted';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  }, link.url);
  expect(bad).toBe('InvalidLink');
  expect(await calendars(b)).toEqual([]);

  await b.page.evaluate(() => rt.client.setDeviceName('Phone'));
  const joined = await b.page.evaluate((url) => rt.client.acceptInvite(url), link.url);
  expect(joined.calendarIds).toEqual([cal]);
  await expect.poll(() => titles(b), { timeout: 30_000 }).toEqual(['Dentist', 'Swimming']);
  expect(await calendars(b)).toEqual(['Family']);

  // Both see both devices, with names and comparable fingerprints.
  const meA = await a.page.evaluate(() => rt.client.thisDevice());
  const meB = await b.page.evaluate(() => rt.client.thisDevice());
  expect(meB.name).toBe('Phone');
  expect(meA.fingerprint).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
  await expect
    .poll(
      async () =>
        (await a.page.evaluate((c) => rt.client.listMembers(c), cal))
          .map((m) => `${m.name}/${m.fingerprint}`)
          .sort(),
      { timeout: 30_000 },
    )
    .toEqual([`Laptop/${meA.fingerprint}`, `Phone/${meB.fingerprint}`].sort());
  const membersOnB = await b.page.evaluate((c) => rt.client.listMembers(c), cal);
  expect(membersOnB.find((m) => m.isThisDevice)?.id).toBe(meB.id);
  expect(membersOnB.every((m) => m.addedAt !== null && m.lastSeen !== null)).toBe(true);

  // Both edit offline, reconnect, and converge.
  await synced(b);
  await a.context.setOffline(true);
  await b.context.setOffline(true);
  await a.page.evaluate(async (c) => {
    await rt.client.createEvent(c, {
      title: 'From A offline',
      start: '2025-03-20T09:00',
      end: '2025-03-20T10:00',
      allDay: false,
      timeZone: 'Europe/Berlin',
      location: '',
      notes: '',
    });
  }, cal);
  await b.page.evaluate(async (range) => {
    const ev = (await rt.client.eventsInRange(range)).find((e) => e.title === 'Dentist')!;
    await rt.client.updateEvent(ev.calendarId, ev.id, { title: 'Dentist (moved)' });
  }, MARCH);
  await a.context.setOffline(false);
  await b.context.setOffline(false);
  await synced(a);
  await synced(b);
  const expected = ['Dentist (moved)', 'From A offline', 'Swimming'];
  await expect.poll(() => titles(a), { timeout: 30_000 }).toEqual(expected);
  await expect.poll(() => titles(b), { timeout: 30_000 }).toEqual(expected);

  // A removes B while B is offline; B's later edits never reach A.
  await b.context.setOffline(true);
  await a.page.evaluate(([c, id]) => rt.client.removeDevice(c!, id!), [cal, meB.id]);
  await synced(a);
  expect((await a.page.evaluate((c) => rt.client.listMembers(c), cal)).map((m) => m.id)).toEqual([meA.id]);
  await b.page.evaluate(async (range) => {
    const ev = (await rt.client.eventsInRange(range)).find((e) => e.title === 'Swimming')!;
    await rt.client.updateEvent(ev.calendarId, ev.id, { title: 'Hijacked by B' });
  }, MARCH);
  await b.context.setOffline(false);
  // B's relay connection refuses the op (NotMember) and the calendar; B keeps its copy.
  await b.page.waitForFunction(
    () => sync?.state !== 'offline' && (sync?.detail ?? '').includes('NotMember'),
    undefined,
    {
      timeout: 30_000,
    },
  );
  await a.page.waitForTimeout(1000);
  expect(await titles(a)).toEqual(expected);

  await a.context.close();
  await b.context.close();
});

test('[INV-5][INV-6] another person shared one calendar sees only that calendar', async ({ browser }) => {
  const a = await device(browser);
  const c = await device(browser);
  const [family, work] = await a.page.evaluate(
    async (f) => {
      const fam = await rt.client.createCalendar('Family', '#336699');
      const wk = await rt.client.createCalendar('Work', '#993366');
      await rt.client.createEvent(fam, f[0]!);
      await rt.client.createEvent(wk, f[1]!);
      return [fam, wk];
    },
    [fields('Family dinner', 14), fields('Standup', 15)],
  );
  await synced(a);
  const link = await a.page.evaluate((w) => rt.client.createInvite(location.origin, [w]), work);
  expect(link.calendarIds).toEqual([work]);
  await c.page.evaluate((url) => rt.client.acceptInvite(url), link.url);
  await expect.poll(() => titles(c), { timeout: 30_000 }).toEqual(['Standup']);
  expect(await calendars(c)).toEqual(['Work']);
  // The other calendar is neither listed nor readable, nor served to this device.
  const denied = await c.page.evaluate(async (f) => {
    try {
      await rt.client.listMembers(f);
      return 'listed';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  }, family);
  expect(denied).toBe('UnknownDoc');
  // Using the same link again (the invite is single use) is refused for a new person.
  const d = await device(browser);
  const again = await d.page.evaluate(async (url) => {
    try {
      await rt.client.acceptInvite(url);
      return 'joined';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  }, link.url);
  expect(again).toBe('InviteUsed');
  expect(await calendars(d)).toEqual([]);
  await a.context.close();
  await c.context.close();
  await d.context.close();
});

test('[SYNC-10] several tabs of one device share one relay connection; on hand-over the next leader connects', async ({
  browser,
}) => {
  const a = await device(browser);
  const sockets: { page: string; closed: boolean }[] = [];
  const track = (p: Page, name: string) =>
    p.on('websocket', (ws) => {
      const s = { page: name, closed: false };
      sockets.push(s);
      ws.on('close', () => {
        s.closed = true;
      });
    });
  track(a.page, 'first');
  const second = await a.context.newPage();
  track(second, 'second');
  await second.goto('/__rt/?ns=devices');
  await second.waitForFunction(() => 'rt' in globalThis);
  await a.page.evaluate(() => rt.client.createCalendar('Tabs', '#123456'));
  await synced(a);
  await second.waitForTimeout(1500);
  // The first tab's worker leads (it started first); the second tab forwards and never connects.
  expect(sockets.filter((s) => !s.closed).map((s) => s.page)).toEqual(['first']);
  await a.page.close(); // its worker, and with it the connection, goes away (no close event)
  await expect
    .poll(() => sockets.filter((s) => s.page === 'second' && !s.closed).length, { timeout: 30_000 })
    .toBe(1);
  // The new leader syncs: an edit from the remaining tab reaches the relay.
  await second.evaluate(() => {
    rt.client.onSyncStatus((s) => {
      globalThis.sync = s;
    });
  });
  await second.evaluate(async () => {
    const [cal] = await rt.client.listCalendars();
    await rt.client.renameCalendar(cal!.id, 'Tabs renamed', '#654321');
  });
  await second.waitForFunction(() => sync?.state === 'synced' && sync.pendingUploads === 0, undefined, {
    timeout: 30_000,
  });
  await a.context.close();
});
