// A tab closed in the middle of a burst of writes: after reopening, every write is whole or
// absent, and every write the page was told was saved is there. Plus storage failures reaching
// the UI's onError in Chromium.

import { expect, test } from '@playwright/test';
import type { EventFields } from '../src/worker/api.ts';
import { serveFixtures } from './fixtures/build.ts';
import type { RuntimeFixture } from './fixtures/client.entry.ts';

declare global {
  var rt: RuntimeFixture;
  function ack(token: string): void;
}

const ALL = { fromMs: 0, toMs: Date.UTC(3000, 0, 1) };

test('[RT-1] writes interrupted by closing the page are whole or absent; acknowledged ones all survive', async ({
  context,
}) => {
  await serveFixtures(context);
  const ns = `crash-${Date.now()}`;
  const acked = new Set<string>();
  await context.exposeFunction('ack', (t: string) => acked.add(t));
  let page = await context.newPage();
  await page.goto(`/__rt/?ns=${ns}`);
  await page.waitForFunction(() => 'rt' in globalThis);
  const [cal, hot] = await page.evaluate(async () => {
    const c = await rt.client.createCalendar('Crash', '#aa0000');
    const f: EventFields = {
      title: 'hot',
      start: '2025-03-10T09:00',
      end: '2025-03-10T10:00',
      allDay: false,
      timeZone: 'UTC',
      location: 'hot',
      notes: 'hot',
    };
    return [c, await rt.client.createEvent(c, f)] as const;
  });

  // A burst of new events and of multi-field edits to one event; each write carries one token in
  // three fields, so a half-applied write would show mismatched fields.
  await page.evaluate(
    ([c, h]) => {
      for (let i = 0; i < 400; i++) {
        const t = `t${i}`;
        const f = {
          title: t,
          start: '2025-03-11T09:00',
          end: '2025-03-11T10:00',
          allDay: false,
          timeZone: 'UTC',
          location: t,
          notes: t,
        };
        void rt.client.createEvent(c, f).then(
          () => ack(`create:${t}`),
          () => {},
        );
        void rt.client.updateEvent(c, h, { title: t, location: t, notes: t }).then(
          () => ack(`edit:${t}`),
          () => {},
        );
      }
    },
    [cal, hot] as const,
  );
  await expect.poll(() => acked.size, { intervals: [5] }).toBeGreaterThan(20);
  await page.close();
  const ackedAtClose = new Set(acked);
  expect(ackedAtClose.size, 'closed mid-burst').toBeLessThan(800);

  page = await context.newPage();
  await page.goto(`/__rt/?ns=${ns}`);
  await page.waitForFunction(() => 'rt' in globalThis);
  const events = await page.evaluate((r) => rt.client.eventsInRange(r), ALL);
  for (const e of events) {
    expect([e.title, e.location, e.notes], `event ${e.id} is whole`).toEqual([e.title, e.title, e.title]);
  }
  const created = new Set(events.filter((e) => e.id !== hot).map((e) => e.title));
  for (const a of ackedAtClose)
    if (a.startsWith('create:')) expect(created.has(a.slice(7)), `${a} survived`).toBe(true);
  // The hot event holds the newest acknowledged edit or a later one (edits apply in order).
  const lastEdit = Math.max(
    ...[...ackedAtClose].filter((a) => a.startsWith('edit:')).map((a) => Number(a.slice(6))),
  );
  const hotNow = events.find((e) => e.id === hot)!;
  expect(Number(hotNow.title.slice(1))).toBeGreaterThanOrEqual(lastEdit);
  console.log(`acknowledged before close: ${ackedAtClose.size}; events after reopen: ${events.length}`);
});

test('[RT-2] a database the app cannot open surfaces through onError and calls fail cleanly', async ({
  context,
}) => {
  await serveFixtures(context);
  const ns = `blocked-${Date.now()}`;
  const page = await context.newPage();
  // A database left at a newer schema version (a newer app version ran here) cannot be opened.
  await page.goto('/__rt/blank.html');
  await page.evaluate(
    (name) =>
      new Promise<void>((resolve) => {
        const r = indexedDB.open(name, 999);
        r.onsuccess = () => {
          r.result.close();
          resolve();
        };
      }),
    ns,
  );
  await page.goto(`/__rt/?ns=${ns}`);
  await page.waitForFunction(() => 'rt' in globalThis);
  const err = await page.evaluate(() =>
    rt.client.listCalendars().then(
      () => null,
      (e: { code: string; message: string }) => ({ code: e.code, message: e.message }),
    ),
  );
  expect(err).toMatchObject({ code: 'Storage', message: expect.stringMatching(/newer than this version/) });
  await expect.poll(() => page.evaluate(() => rt.errors.map((e) => e.code))).toContain('Storage');
});
