// Moving events between calendars is one durable step ([RT-13]): a page closed in the middle of
// a burst of moves leaves every event exactly once, and a move through the dialog leaves one copy.
import { expect, test } from '@playwright/test';
import type { EventFields } from '../src/worker/api.ts';
import { serveFixtures } from './fixtures/build.ts';
import type { RuntimeFixture } from './fixtures/client.entry.ts';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

declare global {
  var rt: RuntimeFixture;
  function ackMove(token: string): void;
}

const ALL = { fromMs: 0, toMs: Date.UTC(3000, 0, 1) };
const N = 120;

test('[RT-13] calendar moves interrupted by closing the page leave exactly one copy of each event', async ({
  context,
}) => {
  await serveFixtures(context);
  const ns = `move-${Date.now()}`;
  const acked = new Set<string>();
  await context.exposeFunction('ackMove', (t: string) => acked.add(t));
  let page = await context.newPage();
  await page.goto(`/__rt/?ns=${ns}`);
  await page.waitForFunction(() => 'rt' in globalThis);
  const [work, home, ids] = await page.evaluate(async (n) => {
    const w = await rt.client.createCalendar('Work', '#336699');
    const h = await rt.client.createCalendar('Home', '#993366');
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const f: EventFields = {
        title: `e${i}`,
        start: '2025-03-10T09:00',
        end: '2025-03-10T10:00',
        allDay: false,
        timeZone: 'UTC',
        location: '',
        notes: '',
      };
      out.push(await rt.client.createEvent(w, f));
    }
    return [w, h, out] as const;
  }, N);

  // Every event moved Work -> Home at once; the page closes while they are under way.
  await page.evaluate(
    ([w, h, list]) => {
      for (const id of list)
        void rt.client.moveEvent(w, id, h).then(
          () => ackMove(id),
          () => {},
        );
    },
    [work, home, ids] as const,
  );
  await expect.poll(() => acked.size, { intervals: [5] }).toBeGreaterThan(3);
  await page.close();
  const ackedAtClose = acked.size;
  expect(ackedAtClose, 'closed mid-burst').toBeLessThan(N);

  page = await context.newPage();
  await page.goto(`/__rt/?ns=${ns}`);
  await page.waitForFunction(() => 'rt' in globalThis);
  // Wait for the replica (start-up recovery runs before it answers).
  await page.evaluate(() => rt.client.search('e'));
  const events = await page.evaluate((r) => rt.client.eventsInRange(r), ALL);
  const count = new Map<string, number>();
  for (const e of events) count.set(e.title, (count.get(e.title) ?? 0) + 1);
  for (let i = 0; i < N; i++) expect(count.get(`e${i}`), `e${i} exactly once`).toBe(1);
  expect(events).toHaveLength(N);
  const inHome = events.filter((e) => e.calendarId === home).length;
  console.log(`moves acknowledged before close: ${ackedAtClose}; in Home after reopen: ${inHome}`);
  expect(inHome).toBeGreaterThanOrEqual(ackedAtClose);
});

test('[RT-13] moving an event to another calendar in the dialog leaves one copy, and undo moves it back', async ({
  page,
}) => {
  await openView(page, 'week', '2026-11-24');
  await createViaDialog(page, { title: 'Dentist', start: '2026-11-24T10:00', end: '2026-11-24T11:00' });
  await page.getByRole('button', { name: '+ Add calendar' }).click();
  await page.getByLabel('Name').fill('Family');
  await page.getByRole('button', { name: 'Create calendar' }).click();
  await expect(page.getByRole('checkbox', { name: 'Family' })).toBeVisible();
  await eventButton(page, 'Dentist').click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await dialog.getByLabel('Calendar').selectOption({ label: 'Family' });
  await dialog.getByLabel('Location').fill('Main St');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
  await expect(eventButton(page, 'Dentist')).toHaveCount(1);
  await expect(eventButton(page, 'Dentist')).toHaveAccessibleName(/Main St, Family/);
  await page.getByRole('button', { name: 'Undo' }).click();
  await expect(eventButton(page, 'Dentist')).toHaveAccessibleName(/Personal/);
  await expect(eventButton(page, 'Dentist')).toHaveCount(1);
  await page.reload();
  await expect(eventButton(page, 'Dentist')).toHaveCount(1);
});
