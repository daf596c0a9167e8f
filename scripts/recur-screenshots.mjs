// Takes the README screenshots of the Repeat editor (docs/screenshots/repeat-editor.png) and of
// a series' skipped dates with Restore (docs/screenshots/repeat-skipped.png).
// Usage: npx vite build && npx vite preview --port 4391 --strictPort & node scripts/recur-screenshots.mjs [baseURL]
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:4391';
const out = new URL('../docs/screenshots/', import.meta.url);
const browser = await chromium.launch({
  executablePath: process.env.PLAYWRIGHT_CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: ['--disable-gpu', '--disable-quic', '--disable-background-networking', '--disable-component-update'],
});
const ctx = await browser.newContext({
  viewport: { width: 1280, height: 1000 },
  locale: 'en-US',
  timezoneId: 'Europe/Berlin',
});
const page = await ctx.newPage();
await page.goto(`${base}/#/week/2026-11-23`);
await page.getByRole('button', { name: 'New event' }).click();
const d = page.getByRole('dialog', { name: 'Event' });
await d.getByLabel('Title').fill('Team standup');
await d.getByLabel('Start', { exact: true }).fill('2026-11-23T09:00');
await d.getByLabel('End', { exact: true }).fill('2026-11-23T09:30');
await d.getByLabel('Repeat', { exact: true }).selectOption({ label: 'Custom…' });
await d.getByLabel('Repeat every').fill('2');
await d.getByRole('group', { name: 'Repeat on' }).getByLabel('Wednesday').check();
await d.getByRole('radio', { name: 'After' }).check();
await d.getByLabel('Occurrences').fill('12');
await d.screenshot({ path: new URL('repeat-editor.png', out).pathname });
await d.getByRole('button', { name: 'Save' }).click();
await d.waitFor({ state: 'hidden' });
// Delete the week's second occurrence ("This event"), then open the first: Repeat lists the skip.
const occurrence = (n) => page.locator('main [data-event-key][title="Team standup"]').nth(n);
await occurrence(1).click();
await d.getByRole('button', { name: 'Delete' }).click();
const ask = page.getByRole('dialog', { name: 'Delete recurring event' });
await ask.getByRole('radio', { name: 'This event', exact: true }).check();
await ask.getByRole('button', { name: 'OK' }).click();
await d.waitFor({ state: 'hidden' });
await page.locator('main [data-event-key]').nth(1).waitFor({ state: 'detached' });
await occurrence(0).click();
await d.getByRole('list', { name: 'Skipped dates' }).waitFor();
await d.screenshot({ path: new URL('repeat-skipped.png', out).pathname });
await browser.close();
