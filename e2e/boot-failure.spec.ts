// The data worker's script fails to load (a broken deploy, a proxy, an extension blocking it):
// the page says so and offers Reload, instead of staying on the splash forever.

import { expect, test } from '@playwright/test';

test('[RT-16] a data worker whose script does not load is reported, not waited on forever', async ({
  context,
}) => {
  let blocked = 0;
  await context.route(/\/worker[^/]*\.(js|ts)(\?.*)?$/, (route) => {
    blocked++;
    return route.fulfill({ status: 404, body: 'not found' });
  });
  const page = await context.newPage();
  await page.goto('/#/month/2026-11-15');
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('Ledgerday could not open your calendar', { timeout: 20_000 });
  await expect(alert).toContainText('the data worker failed to start');
  await expect(page.getByRole('button', { name: 'Reload' })).toBeVisible();
  expect(blocked).toBeGreaterThan(0);
});
