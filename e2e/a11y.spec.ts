// Accessibility scan (axe-core, the WCAG 2.0, 2.1 and 2.2 A/AA rule sets plus WCAG 2.5.3's
// label-content-name-mismatch) of every view, the event dialog, the help and Settings dialogs and
// the Devices page, on a laptop and on a phone: no serious or critical violation ([UI-11]).
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, test } from '@playwright/test';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

test.use({ locale: 'en-US', timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 900 } });

const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

async function seriousViolations(page: Page, label: string) {
  const r = await new AxeBuilder({ page })
    .withTags(WCAG_TAGS)
    // An "experimental" axe rule, so not in the tag sets by default: WCAG 2.5.3 Label in Name.
    .options({ rules: { 'label-content-name-mismatch': { enabled: true } } })
    .analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad)
    console.log(
      `[${label}] ${v.impact} ${v.id}: ${v.help} -> ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`,
    );
  return bad.map((v) => `${label}: ${v.id}`);
}

test('no serious or critical axe violations in any view or dialog', async ({ page }) => {
  await openView(page, 'week', '2026-11-24');
  await createViaDialog(page, {
    title: 'Review',
    start: '2026-11-24T10:00',
    end: '2026-11-24T11:00',
    location: 'Room 1',
  });
  await createViaDialog(page, { title: 'Overlap', start: '2026-11-24T10:30', end: '2026-11-24T11:30' });
  await createViaDialog(page, { title: 'Trip', start: '2026-11-23', end: '2026-11-26', allDay: true });
  await expect(eventButton(page, 'Trip')).toBeVisible();

  const found: string[] = [];
  for (const view of ['month', 'week', 'day', 'agenda'] as const) {
    await openView(page, view, '2026-11-24');
    await expect(eventButton(page, 'Review')).toBeVisible();
    found.push(...(await seriousViolations(page, view)));
  }
  await openView(page, 'week', '2026-11-24');
  await eventButton(page, 'Review').click();
  await expect(page.getByRole('dialog', { name: 'Event' })).toBeVisible();
  found.push(...(await seriousViolations(page, 'event dialog')));
  await page.keyboard.press('Escape');
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  found.push(...(await seriousViolations(page, 'help dialog')));
  await page.keyboard.press('Escape');
  await page.getByRole('searchbox', { name: 'Search' }).fill('room');
  await expect(page.getByRole('heading', { name: /Results for/ })).toBeVisible();
  found.push(...(await seriousViolations(page, 'search')));
  await page.getByRole('searchbox', { name: 'Search' }).fill('');
  await page.getByRole('button', { name: 'Settings' }).click();
  await expect(page.getByRole('dialog', { name: 'Settings' })).toBeVisible();
  await page.getByRole('combobox', { name: 'Display time zone' }).fill('berl');
  found.push(...(await seriousViolations(page, 'settings')));
  await page.keyboard.press('Escape');
  await page.keyboard.press('Escape');
  await page.goto('/#/devices');
  await expect(page.getByRole('heading', { name: 'This device' })).toBeVisible();
  found.push(...(await seriousViolations(page, 'devices')));
  expect(found).toEqual([]);
});

test('dark colour scheme has no serious contrast violations', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await openView(page, 'month', '2026-11-24');
  await createViaDialog(page, { title: 'Dark', start: '2026-11-24T10:00', end: '2026-11-24T11:00' });
  await expect(eventButton(page, 'Dark')).toBeVisible();
  expect(await seriousViolations(page, 'dark month')).toEqual([]);
});

test.describe('phone', () => {
  test.use({ viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true });

  test('[UI-17] no serious or critical axe violations on a phone: day view, menu, dialog, settings', async ({
    page,
  }) => {
    await openView(page, 'day', '2026-11-24');
    await createViaDialog(page, { title: 'Review', start: '2026-11-24T10:00', end: '2026-11-24T11:00' });
    const found: string[] = [];
    for (const view of ['day', 'week', 'month', 'agenda'] as const) {
      await openView(page, view, '2026-11-24');
      await expect(eventButton(page, 'Review')).toBeVisible();
      found.push(...(await seriousViolations(page, `phone ${view}`)));
    }
    await page.getByRole('button', { name: 'Menu' }).click();
    found.push(...(await seriousViolations(page, 'phone menu')));
    await page.keyboard.press('Escape');
    await eventButton(page, 'Review').click();
    found.push(...(await seriousViolations(page, 'phone event dialog')));
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Settings' }).click();
    found.push(...(await seriousViolations(page, 'phone settings')));
    expect(found).toEqual([]);
  });
});
