// Issue 5's two-device test: two browser contexts share a calendar through the real relay, both
// edit offline (one event's title on both: a conflict), reconnect and converge; the conflict
// marker shows on both and "Restore" of the losing title wins everywhere.
import { expect, type Page, test } from '@playwright/test';
import {
  editTitle,
  inviteLink,
  join,
  nameDevice,
  newDevice,
  SYNC_MS,
  syncStatus,
  waitSynced,
} from './devices-ui.helpers.ts';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

test.describe.configure({ timeout: 180_000 });

const DAY = '2026-11-24';

/** Titles of the events shown in main, sorted (accessible names start with the title). */
async function shown(page: Page): Promise<string[]> {
  const names = await page
    .locator('main [data-event-key]')
    .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? e.textContent ?? ''));
  return [...new Set(names.map((n) => n.split(',')[0]!.trim()))].sort();
}

test('[LWW-1] two devices edit offline, converge, show the conflict, and restore the losing title on both', async ({
  browser,
}) => {
  const a = await newDevice(browser);
  const b = await newDevice(browser);
  try {
    await openView(a.page, 'week', DAY);
    await nameDevice(a.page, 'Device A');
    await openView(a.page, 'week', DAY);
    await createViaDialog(a.page, { title: 'Planning', start: `${DAY}T10:00`, end: `${DAY}T11:00` });
    await createViaDialog(a.page, { title: 'Review', start: `${DAY}T14:00`, end: `${DAY}T15:00` });
    await waitSynced(a.page);
    await join(b.page, await inviteLink(a.page), 'Device B');
    await openView(a.page, 'week', DAY);
    await openView(b.page, 'week', DAY);
    await expect(eventButton(b.page, 'Planning')).toBeVisible({ timeout: SYNC_MS });
    await waitSynced(b.page);

    // Both offline: each edits the same title, and each writes something of its own.
    await a.context.setOffline(true);
    await b.context.setOffline(true);
    await expect(syncStatus(a.page)).toContainText('Offline', { timeout: SYNC_MS });
    await expect(syncStatus(b.page)).toContainText('Offline', { timeout: SYNC_MS });
    await editTitle(a.page, /^Planning,/, 'Planning (from A)');
    await createViaDialog(a.page, { title: 'Only A', start: `${DAY}T08:00`, end: `${DAY}T09:00` });
    // B edits later in wall time, so last-writer-wins keeps B's title (LWW-1: wall time first).
    await b.page.waitForTimeout(50);
    await editTitle(b.page, /^Planning,/, 'Planning (from B)');
    await editTitle(b.page, /^Review,/, 'Review moved');
    await expect(syncStatus(a.page)).toContainText('waiting to upload');

    // Reconnect: both converge to the same events.
    await a.context.setOffline(false);
    await b.context.setOffline(false);
    await waitSynced(a.page);
    await waitSynced(b.page);
    const expected = ['Only A', 'Planning (from B)', 'Review moved'];
    await expect.poll(() => shown(a.page), { timeout: SYNC_MS }).toEqual(expected);
    await expect.poll(() => shown(b.page), { timeout: SYNC_MS }).toEqual(expected);

    // The conflict marker, on both: visible text and in the event's accessible name.
    for (const page of [a.page, b.page]) {
      const ev = eventButton(page, 'Planning \\(from B\\)');
      await expect(ev).toHaveAccessibleName(/, Conflict$/);
      await expect(ev).toContainText('Conflict');
    }
    // The non-conflicting edit carries no marker.
    await expect(eventButton(a.page, 'Review moved')).not.toHaveAccessibleName(/Conflict/);

    // A opens the event: the dialog says who wrote what and restores A's title with one click.
    await eventButton(a.page, 'Planning \\(from B\\)').click();
    const dialog = a.page.getByRole('dialog', { name: 'Event' });
    const conflict = dialog.getByRole('region', { name: 'Conflict' });
    await expect(conflict).toContainText('Planning (from A)');
    await expect(conflict).toContainText('Device A');
    await expect(conflict).toContainText('Device B');
    await conflict.getByRole('button', { name: 'Restore' }).click();
    await expect(dialog.getByLabel('Title')).toHaveValue('Planning (from A)');
    await a.page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();

    // The restored value is the newest write: both show it.
    await expect(eventButton(a.page, 'Planning \\(from A\\)')).toBeVisible();
    await expect(eventButton(b.page, 'Planning \\(from A\\)')).toBeVisible({ timeout: SYNC_MS });
    await waitSynced(a.page);
    await waitSynced(b.page);
    await expect.poll(() => shown(b.page)).toEqual(['Only A', 'Planning (from A)', 'Review moved']);
    await expect.poll(() => shown(a.page)).toEqual(['Only A', 'Planning (from A)', 'Review moved']);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
