// The phone ([UI-17]): 390x844 with touch. A compact header, the day view first, a dialog that
// fits, tap to create, long press and drag to move, tap to edit, a menu that closes by Escape or
// a tap outside, and Settings.
import { type CDPSession, expect, type Page, test } from '@playwright/test';
import { eventButton, HOUR_PX } from './ui-helpers.ts';

test.use({
  viewport: { width: 390, height: 844 },
  hasTouch: true,
  isMobile: true,
  locale: 'en-US',
  timezoneId: 'Europe/Berlin',
});

const DAY = '2026-11-24';

async function touch(cdp: CDPSession, type: 'touchStart' | 'touchMove' | 'touchEnd', x = 0, y = 0) {
  await cdp.send('Input.dispatchTouchEvent', {
    type,
    touchPoints: type === 'touchEnd' ? [] : [{ x, y }],
  });
}

/** Presses, holds past the long-press delay, drags in steps, lifts: as a finger does. */
async function longPressDrag(page: Page, from: { x: number; y: number }, to: { x: number; y: number }) {
  const cdp = await page.context().newCDPSession(page);
  await touch(cdp, 'touchStart', from.x, from.y);
  await page.waitForTimeout(700);
  for (let i = 1; i <= 10; i++) {
    await touch(cdp, 'touchMove', from.x + ((to.x - from.x) * i) / 10, from.y + ((to.y - from.y) * i) / 10);
  }
  await touch(cdp, 'touchEnd');
  await cdp.detach();
}

async function open(page: Page) {
  await page.goto(`/#/day/${DAY}`);
  await expect(page.getByRole('status', { name: 'Sync status' })).toBeVisible();
}

test('[UI-17] phone: compact header, day view by default, nothing wider than the screen', async ({
  page,
}) => {
  await page.goto('/');
  await expect(page.getByRole('button', { name: 'Day', pressed: true })).toBeVisible();
  const header = (await page.locator('header.topbar').boundingBox())!;
  expect(header.height, 'header fits in two rows').toBeLessThanOrEqual(100);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  await expect(page.getByRole('button', { name: 'Settings' })).toBeVisible();
});

test('[UI-17] phone: tap to create, the dialog fits, long press and drag to move, tap to edit', async ({
  page,
}) => {
  await open(page);
  const col = page.locator(`.tg-col[data-date="${DAY}"]`);
  await col.scrollIntoViewIfNeeded();
  // Scroll so 10:00 is on screen, then tap it.
  await page.locator('.tg-scroll').evaluate((el, px) => {
    el.scrollTop = px;
  }, 9 * HOUR_PX);
  const box = (await col.boundingBox())!;
  await page.touchscreen.tap(box.x + box.width / 2, box.y + 10 * HOUR_PX + 5);
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog).toBeVisible();
  for (const name of ['Title', 'Start', 'End']) {
    const b = (await dialog.getByLabel(name, { exact: true }).boundingBox())!;
    expect(b.x, `${name} starts on screen`).toBeGreaterThanOrEqual(0);
    expect(b.x + b.width, `${name} ends on screen`).toBeLessThanOrEqual(390);
  }
  await dialog.getByLabel('Title').fill('Coffee');
  await dialog.getByRole('button', { name: 'Save' }).tap();
  await expect(dialog).toBeHidden();
  const ev = eventButton(page, 'Coffee');
  await expect(ev).toHaveAccessibleName(/10:00 AM – 11:00 AM/);

  // Long press, then drag up two hours.
  const eb = (await ev.boundingBox())!;
  const from = { x: eb.x + eb.width / 2, y: eb.y + 8 };
  await longPressDrag(page, from, { x: from.x, y: from.y - 2 * HOUR_PX });
  await expect(ev).toHaveAccessibleName(/8:00 AM – 9:00 AM/);

  // A quick swipe over an event scrolls; it does not move the event.
  const eb2 = (await ev.boundingBox())!;
  const cdp = await page.context().newCDPSession(page);
  await touch(cdp, 'touchStart', eb2.x + 10, eb2.y + 8);
  for (let i = 1; i <= 5; i++) await touch(cdp, 'touchMove', eb2.x + 10, eb2.y + 8 + i * 20);
  await touch(cdp, 'touchEnd');
  await cdp.detach();
  await page.waitForTimeout(300);
  await expect(ev).toHaveAccessibleName(/8:00 AM – 9:00 AM/);

  // Tap to edit.
  await ev.tap();
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Title').fill('Coffee with Ana');
  await dialog.getByRole('button', { name: 'Save' }).tap();
  await expect(eventButton(page, 'Coffee with Ana')).toBeVisible();
});

test('[UI-17] phone: the menu closes by Escape and by a tap outside', async ({ page }) => {
  await open(page);
  const menu = page.getByRole('button', { name: 'Menu' });
  const sidebar = page.getByRole('complementary', { name: 'Sidebar' });
  await menu.tap();
  await expect(sidebar).toBeVisible();
  await expect(menu).toHaveAttribute('aria-expanded', 'true');
  await page.keyboard.press('Escape');
  await expect(sidebar).toBeHidden();
  await menu.tap();
  await expect(sidebar).toBeVisible();
  await page.touchscreen.tap(370, 600);
  await expect(sidebar).toBeHidden();
  // Devices is reachable from the menu on a phone.
  await menu.tap();
  await sidebar.getByRole('button', { name: 'Devices' }).tap();
  await expect(page.getByRole('heading', { name: 'This device' })).toBeVisible();
});

test('[UI-17][UI-15] phone: Settings fit the screen and change the clock', async ({ page }) => {
  await open(page);
  await page.getByRole('button', { name: 'Settings' }).tap();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await expect(dialog).toBeVisible();
  const b = (await dialog.boundingBox())!;
  expect(b.x).toBeGreaterThanOrEqual(0);
  expect(b.x + b.width).toBeLessThanOrEqual(390);
  await dialog.getByRole('radio', { name: /24-hour/ }).tap();
  await dialog.getByRole('button', { name: 'Done' }).tap();
  await expect(dialog).toBeHidden();
  await expect(page.locator('.tg-hour').filter({ hasText: '13:00' })).toHaveCount(1);
});
