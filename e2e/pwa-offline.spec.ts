// Offline: the service worker starts the app with no network; events created and edited offline persist
// across reload and close/reopen; two tabs offline see each other's edits.
import { expect, type Page, test } from '@playwright/test';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

test.use({ locale: 'en-US', timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 900 } });

async function waitForServiceWorker(page: Page): Promise<void> {
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
}

test('loads once, then starts and works fully offline from the service worker', async ({ context, page }) => {
  await openView(page, 'week', '2026-11-24');
  await waitForServiceWorker(page);
  await createViaDialog(page, { title: 'Online event', start: '2026-11-24T09:00', end: '2026-11-24T10:00' });
  await expect(eventButton(page, 'Online event')).toBeVisible();

  await context.setOffline(true);
  await page.reload();
  await expect(page.getByRole('status', { name: 'Sync status' })).toBeVisible();
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
  await expect(eventButton(page, 'Online event')).toBeVisible();

  // Create and edit while offline.
  await createViaDialog(page, { title: 'Offline event', start: '2026-11-25T14:00', end: '2026-11-25T15:00' });
  await eventButton(page, 'Online event').click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await dialog.getByLabel('Title').fill('Online event (edited offline)');
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(eventButton(page, 'Online event \\(edited offline\\)')).toBeVisible();

  // Close the app and open it again, still offline.
  await page.close();
  const again = await context.newPage();
  await again.goto('/#/week/2026-11-24');
  await expect(eventButton(again, 'Offline event')).toHaveAccessibleName(/2:00 PM – 3:00 PM/);
  await expect(eventButton(again, 'Online event \\(edited offline\\)')).toBeVisible();
  // Other views come from the precache too.
  await again.getByRole('button', { name: 'Month', exact: true }).click();
  await expect(eventButton(again, 'Offline event')).toBeVisible();
});

test('two tabs edit offline and both show the same result', async ({ context, page }) => {
  await openView(page, 'week', '2026-11-24');
  await waitForServiceWorker(page);
  await createViaDialog(page, { title: 'Shared', start: '2026-11-24T09:00', end: '2026-11-24T10:00' });
  // Reloading right after Save must not lose the event: the dialog closes once it is durable.
  await context.setOffline(true);
  await page.reload();
  const tab2 = await context.newPage();
  await tab2.goto('/#/week/2026-11-24');
  await expect(eventButton(tab2, 'Shared')).toBeVisible();

  await createViaDialog(tab2, { title: 'From tab 2', start: '2026-11-26T11:00', end: '2026-11-26T12:00' });
  await eventButton(page, 'Shared').click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await dialog.getByLabel('Location').fill('Kitchen');
  await dialog.getByRole('button', { name: 'Save' }).click();

  for (const p of [page, tab2]) {
    await expect(eventButton(p, 'From tab 2')).toBeVisible();
    await expect(eventButton(p, 'Shared')).toHaveAccessibleName(/Kitchen/);
  }
});
