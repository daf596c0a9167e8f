// The bugs a new user hit (issue 12), one test each: each failed on the code before its fix.
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { createViaDialog, drag, eventButton, HOUR_PX, openView, slot } from './ui-helpers.ts';

test.use({ locale: 'en-US', timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 900 } });

test('[UI-8] a drag to another day and an earlier time moves the event (no mixed-sign Duration)', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  await openView(page, 'week', '2026-11-24');
  await createViaDialog(page, { title: 'Planning', start: '2026-11-24T14:00', end: '2026-11-24T15:00' });
  const ev = eventButton(page, 'Planning');
  const box = (await ev.boundingBox())!;
  const to = await slot(page, '2026-11-26', 11 * 60);
  // Grab the event 10 px below its top; drop it two days later, three hours earlier.
  await drag(page, { x: box.x + box.width / 2, y: box.y + 10 }, { x: to.x, y: to.y + 10 });
  await expect(
    page.locator('.tg-col[data-date="2026-11-26"]').getByRole('button', { name: /^Planning/ }),
  ).toHaveAccessibleName(/11:00 AM – 12:00 PM/);
  expect(errors.filter((e) => /Duration/.test(e))).toEqual([]);
});

test('[UI-9] month view separates an event time from its title; "N more" only when the day is full', async ({
  page,
}) => {
  await page.setViewportSize({ width: 1280, height: 1000 });
  await openView(page, 'month', '2026-11-24');
  await createViaDialog(page, { title: 'Night flight', start: '2026-11-10T22:00', end: '2026-11-10T23:00' });
  const chip = eventButton(page, 'Night flight');
  await expect(chip).toBeVisible();
  expect(await chip.textContent()).toMatch(/10:00\sPM\s+Night flight/);
  for (const [i, t] of ['A1', 'A2', 'A3', 'A4', 'A5'].entries()) {
    await createViaDialog(page, {
      title: t,
      start: `2026-11-18T0${i + 1}:00`,
      end: `2026-11-18T0${i + 1}:30`,
    });
  }
  // A 1280x1000 month has room for five events in a day: all shown, no "more" button.
  for (const t of ['A1', 'A2', 'A3', 'A4', 'A5']) await expect(eventButton(page, t)).toBeVisible();
  await expect(page.getByRole('button', { name: /more/ })).toHaveCount(0);
  // In a short window the same day does overflow, and says by how many.
  await page.setViewportSize({ width: 1280, height: 560 });
  await expect(page.getByRole('button', { name: /^\d+ more/ }).first()).toBeVisible();
});

test('[UI-10] Escape in the event dialog with unsaved edits asks before discarding them', async ({
  page,
}) => {
  await openView(page, 'week', '2026-11-24');
  await page.getByRole('button', { name: 'New event' }).click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await dialog.getByLabel('Title').fill('Half typed');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeVisible();
  const ask = page.getByRole('alertdialog', { name: 'Discard changes?' });
  await expect(ask).toBeVisible();
  await ask.getByRole('button', { name: 'Keep editing' }).click();
  await expect(dialog.getByLabel('Title')).toHaveValue('Half typed');
  await page.keyboard.press('Escape');
  await page
    .getByRole('alertdialog', { name: 'Discard changes?' })
    .getByRole('button', { name: 'Discard' })
    .click();
  await expect(dialog).toBeHidden();
  // With nothing changed Escape just closes.
  await page.getByRole('button', { name: 'New event' }).click();
  await expect(dialog).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
});

test('[UI-11] event chips: the accessible name contains the visible text (WCAG 2.5.3)', async ({ page }) => {
  await openView(page, 'week', '2026-11-24');
  await createViaDialog(page, {
    title: 'Review',
    start: '2026-11-24T10:00',
    end: '2026-11-24T11:00',
    location: 'Room 1',
  });
  await createViaDialog(page, { title: 'Trip', start: '2026-11-23', end: '2026-11-26', allDay: true });
  for (const view of ['week', 'month', 'agenda'] as const) {
    await openView(page, view, '2026-11-24');
    await expect(eventButton(page, 'Review')).toBeVisible();
    const r = await new AxeBuilder({ page })
      .options({ runOnly: { type: 'rule', values: ['label-content-name-mismatch'] } })
      .analyze();
    expect(
      r.violations.flatMap((v) => v.nodes.map((n) => `${view}: ${n.target.join(' ')}`)),
      view,
    ).toEqual([]);
  }
});

test('[UI-12] a skip link and one tab stop in the mini calendar bring the keyboard to the first event quickly', async ({
  page,
}) => {
  await openView(page, 'week', '2026-11-24');
  await createViaDialog(page, { title: 'Early', start: '2026-11-23T09:00', end: '2026-11-23T10:00' });
  await page.reload();
  await expect(eventButton(page, 'Early')).toBeVisible();
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to calendar' });
  await expect(skip).toBeFocused();
  await page.keyboard.press('Enter');
  let presses = 0;
  while (presses < 12) {
    await page.keyboard.press('Tab');
    presses++;
    if (await eventButton(page, 'Early').evaluate((el) => el === document.activeElement)) break;
  }
  await expect(eventButton(page, 'Early')).toBeFocused();
  // Without the skip link: one stop for the whole mini calendar (arrow keys move within it).
  const mini = page.locator('.mini-grid');
  expect(await mini.locator('button:not([tabindex="-1"])').count()).toBe(1);
  await mini.locator('button[tabindex="0"]').focus();
  await page.keyboard.press('ArrowRight');
  await expect(mini.getByRole('button', { name: 'November 25, 2026' })).toBeFocused();
  // Total Tab presses from the top of the page to the first event, skip link unused.
  await page.reload();
  await expect(eventButton(page, 'Early')).toBeVisible();
  let total = 0;
  while (total < 80) {
    await page.keyboard.press('Tab');
    total++;
    if (await eventButton(page, 'Early').evaluate((el) => el === document.activeElement)) break;
  }
  console.log(`Tab presses to the first event: ${total}`);
  expect(total).toBeLessThanOrEqual(30);
});

test('[UI-13][RT-14] after an offline reload the status shows the last sync, not "Not synced yet"', async ({
  page,
  context,
}) => {
  await openView(page, 'week', '2026-11-24');
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  await createViaDialog(page, { title: 'Synced one', start: '2026-11-24T10:00', end: '2026-11-24T11:00' });
  const status = page.getByRole('status', { name: 'Sync status' });
  await expect(status).toContainText('Synced', { timeout: 15_000 });
  await expect(status).toContainText('Last synced');
  await context.setOffline(true);
  await page.reload();
  await expect(eventButton(page, 'Synced one')).toBeVisible();
  await expect(status).toContainText('Last synced');
  await expect(status).not.toContainText('Not synced yet');
});

test('[UI-14] the device name help says what the name is for, without jargon', async ({ page }) => {
  await page.goto('/#/devices');
  const help = page
    .locator('form', { has: page.getByLabel('Device name') })
    .locator('p.hint', { hasText: /\w/ });
  await expect(help.first()).toBeVisible();
  const text = (await help.allInnerTexts()).join(' ');
  expect(text).not.toMatch(/sealed|ops?\b|member of a calendar|step|cryptograph|key/i);
  expect(text).toMatch(/other devices/i);
});

test('[UI-8] drags on the grid are by pointer position: an earlier time on the same day still works', async ({
  page,
}) => {
  await openView(page, 'day', '2026-11-24');
  await createViaDialog(page, { title: 'Lunch', start: '2026-11-24T13:00', end: '2026-11-24T14:00' });
  const b = (await eventButton(page, 'Lunch').boundingBox())!;
  await drag(page, { x: b.x + 20, y: b.y + 10 }, { x: b.x + 20, y: b.y + 10 - 2 * HOUR_PX });
  await expect(eventButton(page, 'Lunch')).toHaveAccessibleName(/11:00 AM – 12:00 PM/);
});
