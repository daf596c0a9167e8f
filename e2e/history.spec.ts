// Compliance mode end to end (docs/PROTOCOL.md CMP-*): two devices share a calendar through the
// real relay; one turns compliance mode on in the calendar's settings, both edit an event's title,
// the event dialog's History shows every value with device, fingerprint and time, and Restore of
// the first title writes it back on both devices.
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page, test } from '@playwright/test';
import {
  editTitle,
  inviteLink,
  join,
  nameDevice,
  newDevice,
  SYNC_MS,
  waitSynced,
} from './devices-ui.helpers.ts';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

test.describe.configure({ timeout: 180_000 });

const DAY = '2026-11-24';
const FINGERPRINT = /[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}/;

/** Serious or critical axe violations (WCAG 2.x A/AA, UI-11) on the page as it is now. */
async function axeSerious(page: Page): Promise<string[]> {
  const r = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'])
    .options({ rules: { 'label-content-name-mismatch': { enabled: true } } })
    .analyze();
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
}

async function openHistory(page: Page, title: string) {
  await eventButton(page, title).click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog).toBeVisible();
  await dialog.getByRole('button', { name: 'History' }).click();
  const history = dialog.getByRole('region', { name: 'Title history' });
  await expect(history).toBeVisible();
  return { dialog, history };
}

test('[CMP-1][CMP-3][CMP-7] compliance mode: the History of a title edited on two devices, and Restore of the first value on both, undoable', async ({
  browser,
}) => {
  const a = await newDevice(browser);
  const b = await newDevice(browser);
  try {
    await openView(a.page, 'week', DAY);
    await nameDevice(a.page, 'Device A');
    await openView(a.page, 'week', DAY);
    await createViaDialog(a.page, { title: 'Plan v1', start: `${DAY}T10:00`, end: `${DAY}T11:00` });

    // Off by default: the event dialog offers no History.
    await eventButton(a.page, 'Plan v1').click();
    const dialogA = a.page.getByRole('dialog', { name: 'Event' });
    await expect(dialogA.getByLabel('Title')).toHaveValue('Plan v1');
    await expect(dialogA.getByRole('button', { name: 'History' })).toHaveCount(0);
    await a.page.keyboard.press('Escape');
    await expect(dialogA).toBeHidden();

    // Turn it on in the calendar's settings.
    await a.page
      .getByRole('button', { name: /^Edit calendar / })
      .first()
      .click();
    const settings = a.page.getByRole('dialog', { name: /^Edit calendar / });
    const box = settings.getByRole('checkbox', { name: 'Compliance mode' });
    await expect(box).not.toBeChecked();
    await expect(settings).toContainText('Every change is kept forever');
    expect(await axeSerious(a.page)).toEqual([]);
    await box.check();
    await settings.getByRole('button', { name: 'Save' }).click();
    await expect(settings).toBeHidden();
    await expect(a.page.getByRole('button', { name: /^Edit calendar / }).first()).toBeVisible();

    await editTitle(a.page, /^Plan v1,/, 'Plan v2');
    await waitSynced(a.page);
    await join(b.page, await inviteLink(a.page), 'Device B');
    await openView(a.page, 'week', DAY);
    await openView(b.page, 'week', DAY);
    await expect(eventButton(b.page, 'Plan v2')).toBeVisible({ timeout: SYNC_MS });
    await waitSynced(b.page);
    // B's settings of the calendar: on, and who turned it on.
    await b.page
      .getByRole('button', { name: /^Edit calendar / })
      .first()
      .click();
    const settingsB = b.page.getByRole('dialog', { name: /^Edit calendar / });
    await expect(settingsB.getByRole('checkbox', { name: 'Compliance mode' })).toBeChecked();
    await expect(settingsB.getByRole('list', { name: 'Compliance mode changes' })).toContainText(
      'Turned on by Device A',
    );
    await settingsB.getByRole('button', { name: 'Cancel' }).click();
    await expect(settingsB).toBeHidden();
    await editTitle(b.page, /^Plan v2,/, 'Plan v3');
    await waitSynced(b.page);
    await expect(eventButton(a.page, 'Plan v3')).toBeVisible({ timeout: SYNC_MS });

    // A's History of the title: three values, who wrote each (name and fingerprint), when, old -> new.
    const { dialog, history } = await openHistory(a.page, 'Plan v3');
    const rows = history.getByRole('listitem');
    await expect(rows).toHaveCount(3);
    await expect(rows.nth(0)).toContainText('Device B');
    await expect(rows.nth(0)).toContainText('Plan v2 → Plan v3');
    await expect(rows.nth(0)).toContainText('(current)');
    await expect(rows.nth(1)).toContainText('Device A');
    await expect(rows.nth(1)).toContainText('Plan v1 → Plan v2');
    await expect(rows.nth(2)).toContainText('Device A');
    await expect(rows.nth(2)).toContainText('(not set) → Plan v1');
    for (let i = 0; i < 3; i++) {
      await expect(rows.nth(i)).toContainText(FINGERPRINT);
      await expect(rows.nth(i)).toContainText(/Nov 24, 2026|2026/);
    }
    expect(await axeSerious(a.page)).toEqual([]);
    // The two devices' fingerprints differ.
    const fp = async (i: number) => ((await rows.nth(i).textContent()) ?? '').match(FINGERPRINT)?.[0];
    expect(await fp(0)).not.toBe(await fp(1));

    await history.getByRole('button', { name: 'Restore Title to “Plan v1”' }).click();
    await expect(dialog.getByRole('textbox', { name: 'Title', exact: true })).toHaveValue('Plan v1');
    await expect(a.page.getByText(/Title restored to “Plan v1”/)).toBeVisible();
    await a.page.keyboard.press('Escape');
    await expect(dialog).toBeHidden();

    // The restored value is a new write: both devices show it, and B's History has it on top.
    await expect(eventButton(a.page, 'Plan v1')).toBeVisible();
    await waitSynced(a.page);
    await expect(eventButton(b.page, 'Plan v1')).toBeVisible({ timeout: SYNC_MS });
    const onB = await openHistory(b.page, 'Plan v1');
    await expect(onB.history.getByRole('listitem')).toHaveCount(4);
    await expect(onB.history.getByRole('listitem').first()).toContainText('Plan v3 → Plan v1');
    await expect(onB.history.getByRole('listitem').first()).toContainText('Device A');

    // A restore is undoable like any edit: Undo writes back the value it replaced.
    await onB.history.getByRole('button', { name: 'Restore Title to “Plan v2”' }).click();
    await expect(onB.dialog.getByRole('textbox', { name: 'Title', exact: true })).toHaveValue('Plan v2');
    await b.page.keyboard.press('Escape');
    await expect(onB.dialog).toBeHidden();
    await expect(eventButton(b.page, 'Plan v2')).toBeVisible();
    await b.page.getByRole('button', { name: 'Undo', exact: true }).click();
    await expect(eventButton(b.page, 'Plan v1')).toBeVisible();
    await waitSynced(b.page);
    // A received both writes (restore, then undo): its History has them on top.
    const last = await openHistory(a.page, 'Plan v1');
    await expect(last.history.getByRole('listitem')).toHaveCount(6, { timeout: SYNC_MS });
    await expect(last.history.getByRole('listitem').first()).toContainText('Plan v2 → Plan v1');
    await expect(last.history.getByRole('listitem').first()).toContainText('Device B');
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
