// Settings ([UI-15]) and the one display format: choices apply at once, persist on this device,
// and a German browser with Monday and 24-hour shows one language and one format throughout.
import { expect, type Page, test } from '@playwright/test';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

async function openSettings(page: Page) {
  await page.getByRole('button', { name: 'Settings' }).click();
  const dialog = page.getByRole('dialog', { name: 'Settings' });
  await expect(dialog).toBeVisible();
  return dialog;
}

test.describe('en-US browser', () => {
  test.use({ locale: 'en-US', timezoneId: 'America/New_York', viewport: { width: 1280, height: 900 } });

  test('[UI-15] Settings: week start, clock, default length and calendar, time zone search; kept after reload', async ({
    page,
  }) => {
    await openView(page, 'week', '2026-11-24');
    await createViaDialog(page, { title: 'Standup', start: '2026-11-24T09:00', end: '2026-11-24T09:30' });
    await page.getByRole('button', { name: '+ Add calendar' }).click();
    await page.getByLabel('Name').fill('Work');
    await page.getByRole('button', { name: 'Create calendar' }).click();
    await expect(page.getByRole('checkbox', { name: 'Work' })).toBeVisible();

    let dialog = await openSettings(page);
    await expect(dialog.getByLabel('Week starts on')).toHaveValue('7');
    await dialog.getByLabel('Week starts on').selectOption({ label: 'Monday' });
    await dialog.getByRole('radio', { name: /24-hour/ }).check();
    await dialog.getByLabel('Default event length').selectOption({ label: '30 minutes' });
    await dialog.getByLabel('Default calendar').selectOption({ label: 'Work' });

    // The zone picker searches cities, ids and offsets and offers current names only.
    const zone = dialog.getByRole('combobox', { name: 'Display time zone' });
    await zone.fill('calcutta');
    await expect(dialog.getByRole('listbox')).toContainText('No time zone matches');
    await zone.fill('kiev');
    await expect(dialog.getByRole('listbox')).toContainText('No time zone matches');
    await zone.fill('kyiv');
    await expect(dialog.getByRole('listbox').getByRole('option').first()).toContainText('Europe/Kyiv');
    await zone.fill('+5:30');
    await expect(dialog.getByRole('listbox').getByRole('option', { name: /Kolkata/ })).toContainText(
      'UTC+05:30',
    );
    await zone.fill('kolk');
    await expect(dialog.getByRole('listbox').getByRole('option')).toHaveCount(1);
    await zone.press('ArrowDown');
    await zone.press('ArrowUp');
    await zone.press('Enter');
    await expect(zone).toHaveValue(/Kolkata \(UTC\+05:30\) · Asia\/Kolkata/);
    await dialog.getByRole('button', { name: 'Done' }).click();

    // Monday first, 24-hour clock, times shown in Kolkata (09:00 New York = 19:30 Kolkata).
    await expect(page.locator('.tg-dayhead').first()).toContainText('Mon');
    await expect(eventButton(page, 'Standup')).toHaveAccessibleName(/19:30 – 20:00/);
    await page.getByRole('button', { name: 'New event' }).click();
    const ev = page.getByRole('dialog', { name: 'Event' });
    await expect(ev.getByLabel('Calendar')).toHaveValue(await calendarId(page, 'Work'));
    const start = await ev.getByLabel('Start', { exact: true }).inputValue();
    const end = await ev.getByLabel('End', { exact: true }).inputValue();
    expect(Date.parse(`${end}:00Z`) - Date.parse(`${start}:00Z`)).toBe(30 * 60_000);
    await ev.getByRole('button', { name: 'Cancel' }).click();

    await page.reload();
    await expect(page.locator('.tg-dayhead').first()).toContainText('Mon');
    dialog = await openSettings(page);
    await expect(dialog.getByLabel('Week starts on')).toHaveValue('1');
    await expect(dialog.getByRole('radio', { name: /24-hour/ })).toBeChecked();
    await expect(dialog.getByLabel('Default event length')).toHaveValue('30');
    await expect(dialog.getByRole('combobox', { name: 'Display time zone' })).toHaveValue(/Asia\/Kolkata/);
    await expect(dialog.getByText('Settings are kept on this device')).toBeVisible();
  });

  test('[UI-15] a broken stored setting falls back to its default, the others still apply', async ({
    page,
  }) => {
    await page.goto('/');
    await page.evaluate(() =>
      localStorage.setItem(
        'ledgerday.settings',
        JSON.stringify({ weekStart: 99, timeFormat: '24', displayZone: 'Mars/Olympus', eventMinutes: 1e9 }),
      ),
    );
    await page.goto('/#/week/2026-11-24');
    await page.reload();
    await openView(page, 'week', '2026-11-24');
    await expect(page.locator('.tg-dayhead').first()).toContainText('Sun');
    await expect(page.locator('.tg-hour').filter({ hasText: '13:00' })).toHaveCount(1);
  });
});

test.describe('de-DE browser', () => {
  test.use({ locale: 'de-DE', timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 900 } });

  test('[UI-15] German browser, Monday and 24-hour: one language and one format in every view', async ({
    page,
  }) => {
    await openView(page, 'week', '2026-11-24');
    let dialog = await openSettings(page);
    // The browser's conventions are the defaults; set them explicitly as a user would.
    await dialog.getByLabel('Week starts on').selectOption({ label: 'Monday' });
    await dialog.getByRole('radio', { name: /24-hour/ }).check();
    await dialog.getByRole('button', { name: 'Done' }).click();
    await createViaDialog(page, { title: 'Flight', start: '2026-11-24T22:00', end: '2026-11-24T23:30' });
    await createViaDialog(page, { title: 'Trip', start: '2026-11-23', end: '2026-11-25', allDay: true });

    const GERMAN =
      /\b(Januar|Februar|März|Mai|Juni|Juli|Oktober|Dezember|Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag|Mo\.|Di\.|Mi\.|Do\.|Fr\.|Sa\.|So\.|Uhr|Ganztägig)\b/;
    const TWELVE_HOUR = /\b\d{1,2}(:\d{2})?\s?(AM|PM|am|pm)\b/;
    // US-style dates: month before day ("Nov 24, 2026", "11/24/2026").
    const US_DATE =
      /\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2},|\b\d{1,2}\/\d{1,2}\/\d{2,4}\b/;
    for (const view of ['month', 'week', 'day', 'agenda'] as const) {
      await openView(page, view, '2026-11-24');
      await expect(eventButton(page, 'Flight')).toBeVisible();
      const text = await page.evaluate(() => {
        // Visible text (as laid out), all text including what only screen readers get, and
        // aria-labels: what people read and what screen readers say.
        const names = [...document.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label'));
        // biome-ignore lint/performance/useDomNodeTextContent: the rendered text, with the spaces layout puts between words
        const shown = document.body.innerText;
        return `${shown}\n${document.body.textContent}\n${document.title}\n${names.join('\n')}`;
      });
      expect(text, view).not.toMatch(GERMAN);
      expect(text, view).not.toMatch(TWELVE_HOUR);
      expect(text, view).not.toMatch(US_DATE);
    }
    await openView(page, 'week', '2026-11-24');
    await expect(page.locator('.tg-dayhead').first()).toContainText('Mon');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^23\s?–\s?29 Nov 2026$/);
    await expect(eventButton(page, 'Flight')).toHaveAccessibleName(/22:00 – 23:30/);
    await openView(page, 'day', '2026-11-24');
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(/^Tuesday,? 24 November 2026$/);
    dialog = await openSettings(page);
    await expect(dialog.getByRole('radio', { name: /24-hour/ })).toBeChecked();
  });
});

async function calendarId(page: Page, name: string): Promise<string> {
  return page
    .getByRole('dialog', { name: 'Event' })
    .getByLabel('Calendar')
    .locator('option', { hasText: name })
    .getAttribute('value')
    .then((v) => v ?? '');
}
