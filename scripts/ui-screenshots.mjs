// Takes the README screenshots (docs/screenshots/*.png) from a running build of the app.
// Usage: npx vite build && npx vite preview --port 4391 --strictPort & node scripts/ui-screenshots.mjs [baseURL]
// Writes the desktop views, dialogs and Settings, and the phone (390x844) day view, dialog, menu and Settings.
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:4391';
const out = new URL('../docs/screenshots/', import.meta.url);
mkdirSync(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.PLAYWRIGHT_CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
});
const ctx = await browser.newContext({
  viewport: { width: 1280, height: 820 },
  locale: 'en-US',
  timezoneId: 'Europe/Berlin',
});
const page = await ctx.newPage();
await page.goto(`${base}/#/week/2026-11-24`);
await page.getByRole('button', { name: 'New event' }).waitFor();

async function add(title, start, end, extra = {}) {
  await page.getByRole('button', { name: 'New event' }).click();
  const d = page.getByRole('dialog', { name: 'Event' });
  if (extra.allDay) await d.getByLabel('All day').check();
  await d.getByLabel('Title').fill(title);
  await d.getByLabel('Start', { exact: true }).fill(start);
  await d.getByLabel('End', { exact: true }).fill(end);
  if (extra.zone) await d.getByLabel('Time zone').selectOption(extra.zone);
  if (extra.location) await d.getByLabel('Location').fill(extra.location);
  if (extra.calendar) await d.getByLabel('Calendar').selectOption({ label: extra.calendar });
  await d.getByRole('button', { name: 'Save' }).click();
  await d.waitFor({ state: 'hidden' });
}

await add('Team standup', '2026-11-23T09:00', '2026-11-23T09:30', { location: 'Room 2' });
await page.getByRole('button', { name: '+ Add calendar' }).click();
await page.getByLabel('Name', { exact: true }).fill('Family');
await page.getByLabel('Colour').fill('#0b8043');
await page.getByRole('button', { name: 'Create calendar' }).click();
await page.getByRole('checkbox', { name: 'Family' }).waitFor();
await add('Design review', '2026-11-24T10:00', '2026-11-24T11:30', { location: 'Room 4' });
await add('1:1 with Sam', '2026-11-24T10:30', '2026-11-24T11:00');
await add('Call with NY office', '2026-11-25T09:00', '2026-11-25T10:00', { zone: 'America/New_York' });
await add('Lunch with Ana', '2026-11-25T12:30', '2026-11-25T13:30', {
  location: 'Café Lila',
  calendar: 'Family',
});
await add('Berlin trip', '2026-11-26', '2026-11-28', { allDay: true, calendar: 'Family' });
await add('Dentist', '2026-11-27T16:00', '2026-11-27T17:00', { calendar: 'Family' });
await add('Release planning', '2026-11-19T14:00', '2026-11-19T15:30');
await add('Team dinner', '2026-12-03T19:00', '2026-12-03T21:30', { location: 'Trattoria' });

for (const [view, date] of [
  ['month', '2026-11-24'],
  ['week', '2026-11-24'],
  ['day', '2026-11-24'],
  ['agenda', '2026-11-23'],
]) {
  await page.goto(`${base}/#/${view}/${date}`);
  await page
    .getByRole('button', { name: /^Design review|^Berlin trip/ })
    .first()
    .waitFor();
  await page.waitForTimeout(300);
  await page.screenshot({ path: new URL(`${view}.png`, out).pathname });
}
await page.goto(`${base}/#/week/2026-11-24`);
await page.getByRole('button', { name: /^Call with NY office/ }).click();
await page.waitForTimeout(300);
await page.screenshot({ path: new URL('event-dialog.png', out).pathname });
await page.keyboard.press('Escape');
await page.emulateMedia({ colorScheme: 'dark' });
await page.waitForTimeout(200);
await page.screenshot({ path: new URL('week-dark.png', out).pathname });
await page.emulateMedia({ colorScheme: 'light' });

// Settings, with the time zone search open.
await page.goto(`${base}/#/week/2026-11-24`);
await page.getByRole('button', { name: 'Settings' }).click();
await page.getByRole('combobox', { name: 'Display time zone' }).fill('kol');
await page.waitForTimeout(300);
await page.screenshot({ path: new URL('settings.png', out).pathname });
await page.keyboard.press('Escape');
await page.keyboard.press('Escape');

// The phone (390x844, touch), a profile of its own, seeded through its own UI.
const phone = await browser.newContext({
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
  locale: 'en-US',
  timezoneId: 'Europe/Berlin',
});
const pp = await phone.newPage();
await pp.goto(`${base}/#/day/2026-11-24`);
await pp.getByRole('button', { name: 'New event' }).waitFor();
async function addPhone(title, start, end, extra = {}) {
  await pp.getByRole('button', { name: 'New event' }).click();
  const d = pp.getByRole('dialog', { name: 'Event' });
  await d.getByLabel('Title').fill(title);
  await d.getByLabel('Start', { exact: true }).fill(start);
  await d.getByLabel('End', { exact: true }).fill(end);
  if (extra.location) await d.getByLabel('Location').fill(extra.location);
  await d.getByRole('button', { name: 'Save' }).click();
  await d.waitFor({ state: 'hidden' });
}
await addPhone('Team standup', '2026-11-24T09:00', '2026-11-24T09:30', { location: 'Room 2' });
await addPhone('Design review', '2026-11-24T10:00', '2026-11-24T11:30', { location: 'Room 4' });
await addPhone('1:1 with Sam', '2026-11-24T10:30', '2026-11-24T11:00');
await addPhone('Lunch with Ana', '2026-11-24T12:30', '2026-11-24T13:30', { location: 'Café Lila' });
await addPhone('Dentist', '2026-11-24T16:00', '2026-11-24T17:00');
await pp.goto(`${base}/#/day/2026-11-24`);
await pp.getByRole('button', { name: /^Design review/ }).waitFor();
await pp.locator('.tg-scroll').evaluate((el) => {
  el.scrollTop = 8 * 48;
});
await pp.waitForTimeout(300);
await pp.screenshot({ path: new URL('phone-day.png', out).pathname });
await pp.getByRole('button', { name: /^Design review/ }).click();
await pp.waitForTimeout(300);
await pp.screenshot({ path: new URL('phone-dialog.png', out).pathname });
await pp.keyboard.press('Escape');
await pp.getByRole('button', { name: 'Menu' }).click();
await pp.waitForTimeout(300);
await pp.screenshot({ path: new URL('phone-menu.png', out).pathname });
await pp.keyboard.press('Escape');
await pp.getByRole('button', { name: 'Settings' }).click();
await pp.waitForTimeout(300);
await pp.screenshot({ path: new URL('phone-settings.png', out).pathname });
await browser.close();
console.log('screenshots written to docs/screenshots/');
