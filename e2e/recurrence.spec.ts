// Issue 11's repeating-event test: two devices (browser contexts) share a calendar through the
// real relay; a weekly event is created with "Repeat", then, both offline, one device edits one
// occurrence ("This event") and deletes another, the other changes "This and following events";
// back online both converge to the same occurrences (docs/PROTOCOL.md SER-2, SER-4, SER-5).
import { expect, type Page, test } from '@playwright/test';
import {
  inviteLink,
  join,
  nameDevice,
  newDevice,
  SYNC_MS,
  syncStatus,
  waitSynced,
} from './devices-ui.helpers.ts';
import { eventButton, openView } from './ui-helpers.ts';

test.describe.configure({ timeout: 240_000 });

const MONDAYS = ['2026-11-02', '2026-11-09', '2026-11-16', '2026-11-23', '2026-11-30'];

/** The titles shown on each Monday of November (week view, one week at a time). */
async function byWeek(page: Page): Promise<string[]> {
  const out: string[] = [];
  for (const day of MONDAYS) {
    await openView(page, 'week', day);
    // The range's events arrive after the view: wait for them (a week may also be empty).
    await page.waitForSelector('main [data-event-key]', { timeout: 3000 }).catch(() => {});
    const names = await page
      .locator('main [data-event-key]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('title') ?? ''));
    out.push(names.sort().join(' + ') || '-');
  }
  return out;
}

async function openOccurrence(page: Page, day: string, title: string) {
  await openView(page, 'week', day);
  await eventButton(page, title).click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog).toBeVisible();
  return dialog;
}

async function chooseScope(page: Page, kind: 'Edit' | 'Delete', scope: string) {
  const ask = page.getByRole('dialog', { name: `${kind} recurring event` });
  await expect(ask).toBeVisible();
  await ask.getByRole('radio', { name: scope, exact: true }).check();
  await ask.getByRole('button', { name: 'OK' }).click();
  await expect(ask).toBeHidden();
}

test('[SER-2][SER-4][SER-5] a weekly event: edit one occurrence, "This and following", delete one, on two devices offline then online; both converge', async ({
  browser,
}) => {
  const a = await newDevice(browser);
  const b = await newDevice(browser);
  try {
    await openView(a.page, 'week', MONDAYS[0]!);
    await nameDevice(a.page, 'Device A');
    await openView(a.page, 'week', MONDAYS[0]!);

    // A creates a weekly stand-up with the Repeat control.
    await a.page.getByRole('button', { name: 'New event' }).click();
    const dialog = a.page.getByRole('dialog', { name: 'Event' });
    await dialog.getByLabel('Title').fill('Stand-up');
    await dialog.getByLabel('Start', { exact: true }).fill(`${MONDAYS[0]}T09:00`);
    await dialog.getByLabel('End', { exact: true }).fill(`${MONDAYS[0]}T09:30`);
    const repeat = dialog.getByLabel('Repeat');
    await expect(repeat.getByRole('option')).toHaveText([
      'Does not repeat',
      'Daily',
      'Weekly on Monday',
      'Monthly',
      'Yearly',
      'Every weekday',
      'Custom…',
    ]);
    await repeat.selectOption({ label: 'Weekly on Monday' });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
    await expect
      .poll(() => byWeek(a.page), { timeout: SYNC_MS })
      .toEqual(['Stand-up', 'Stand-up', 'Stand-up', 'Stand-up', 'Stand-up']);
    await waitSynced(a.page);

    await join(b.page, await inviteLink(a.page), 'Device B');
    await openView(b.page, 'week', MONDAYS[1]!);
    await expect(eventButton(b.page, 'Stand-up')).toBeVisible({ timeout: SYNC_MS });
    await waitSynced(b.page);

    await a.context.setOffline(true);
    await b.context.setOffline(true);
    await expect(syncStatus(a.page)).toContainText('Offline', { timeout: SYNC_MS });
    await expect(syncStatus(b.page)).toContainText('Offline', { timeout: SYNC_MS });

    // A: this occurrence only.
    let d = await openOccurrence(a.page, MONDAYS[1]!, 'Stand-up');
    await d.getByLabel('Title').fill('Demo');
    await d.getByRole('button', { name: 'Save' }).click();
    await chooseScope(a.page, 'Edit', 'This event');
    await expect(d).toBeHidden();
    // A: delete one occurrence.
    d = await openOccurrence(a.page, MONDAYS[2]!, 'Stand-up');
    await d.getByRole('button', { name: 'Delete' }).click();
    await chooseScope(a.page, 'Delete', 'This event');
    // B: this and following, from the fourth week.
    d = await openOccurrence(b.page, MONDAYS[3]!, 'Stand-up');
    await d.getByLabel('Title').fill('Sync');
    await d.getByRole('button', { name: 'Save' }).click();
    await chooseScope(b.page, 'Edit', 'This and following events');
    await expect(d).toBeHidden();
    await expect(syncStatus(a.page)).toContainText('waiting to upload');

    await a.context.setOffline(false);
    await b.context.setOffline(false);
    await waitSynced(a.page);
    await waitSynced(b.page);
    const expected = ['Stand-up', 'Demo', '-', 'Sync', 'Sync'];
    await expect.poll(() => byWeek(a.page), { timeout: SYNC_MS }).toEqual(expected);
    await expect.poll(() => byWeek(b.page), { timeout: SYNC_MS }).toEqual(expected);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});

test('[SER-4][RT-15] the repeat editor lists a deleted occurrence and restores it; a repeating event moves to another calendar whole', async ({
  page,
}) => {
  await openView(page, 'week', MONDAYS[0]!);
  await page.getByRole('button', { name: 'New event' }).click();
  let d = page.getByRole('dialog', { name: 'Event' });
  await d.getByLabel('Title').fill('Stand-up');
  await d.getByLabel('Start', { exact: true }).fill(`${MONDAYS[0]}T09:00`);
  await d.getByLabel('End', { exact: true }).fill(`${MONDAYS[0]}T09:30`);
  await d.getByLabel('Repeat').selectOption({ label: 'Weekly on Monday' });
  await d.getByRole('button', { name: 'Save' }).click();
  await expect(d).toBeHidden();
  d = await openOccurrence(page, MONDAYS[2]!, 'Stand-up');
  await d.getByRole('button', { name: 'Delete' }).click();
  await chooseScope(page, 'Delete', 'This event');
  await expect.poll(() => byWeek(page)).toEqual(['Stand-up', 'Stand-up', '-', 'Stand-up', 'Stand-up']);

  d = await openOccurrence(page, MONDAYS[1]!, 'Stand-up');
  const skipped = d.getByRole('list', { name: 'Skipped dates' });
  await expect(skipped).toContainText('Mon, Nov 16, 2026, 09:00 (deleted)');
  await skipped.getByRole('button', { name: 'Restore Mon, Nov 16, 2026, 09:00' }).click();
  await expect(skipped).toBeHidden();
  await d.getByRole('button', { name: 'Cancel' }).click();
  await expect.poll(() => byWeek(page)).toEqual(['Stand-up', 'Stand-up', 'Stand-up', 'Stand-up', 'Stand-up']);

  // A second calendar; the series moves there from the dialog's Calendar field (RT-15).
  await page.getByRole('button', { name: '+ Add calendar' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Work');
  await page.getByRole('button', { name: 'Create calendar' }).click();
  await expect(page.getByRole('checkbox', { name: 'Work' })).toBeVisible();
  d = await openOccurrence(page, MONDAYS[1]!, 'Stand-up');
  await d.getByLabel('Calendar').selectOption({ label: 'Work' });
  await d.getByRole('button', { name: 'Save' }).click();
  await expect(d).toBeHidden();
  await expect.poll(() => byWeek(page)).toEqual(['Stand-up', 'Stand-up', 'Stand-up', 'Stand-up', 'Stand-up']);
  // Hiding "Work" hides every occurrence: none stayed behind in the first calendar.
  await page.getByRole('checkbox', { name: 'Work' }).uncheck();
  await expect.poll(() => byWeek(page), { timeout: 60_000 }).toEqual(['-', '-', '-', '-', '-']);
});
