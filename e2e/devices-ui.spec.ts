// Devices and sharing end to end, as people use it: three browser contexts are three devices
// (A and B one person's, C another person's) through the real relay (playwright.config.ts's
// webServer). A writes offline, adds B with "Add device", shares one calendar with C, and removes B.
import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import {
  addCalendar,
  createIn,
  inviteLink,
  join,
  memberRow,
  nameDevice,
  newDevice,
  openDevices,
  SYNC_MS,
  waitSynced,
} from './devices-ui.helpers.ts';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

test.describe.configure({ timeout: 180_000 });

const DAY = '2026-11-24';

test('[INV-1][INV-2] add a device, share one calendar with another person, remove the device', async ({
  browser,
}) => {
  const a = await newDevice(browser);
  const b = await newDevice(browser);
  const c = await newDevice(browser);
  try {
    // A: load once, then write offline: two calendars with events.
    // Named first: a device's name is sealed into the op that makes it a member (DEV-1).
    await openView(a.page, 'week', DAY);
    await nameDevice(a.page, 'Laptop A');
    await openView(a.page, 'week', DAY);
    await a.context.setOffline(true);
    await createViaDialog(a.page, { title: 'Dentist', start: `${DAY}T10:00`, end: `${DAY}T11:00` });
    await addCalendar(a, 'Work');
    await createIn(a, 'Work', 'Standup', `${DAY}T09:00`, `${DAY}T09:30`);
    await a.context.setOffline(false);
    await waitSynced(a.page);

    // A: "Add device" -> B opens the link and joins every calendar of A.
    const addLink = await inviteLink(a.page);
    expect(new URL(addLink).origin).toBe(new URL(a.page.url()).origin);
    await join(b.page, addLink, 'Phone B');
    await openView(b.page, 'week', DAY);
    await expect(eventButton(b.page, 'Dentist')).toBeVisible({ timeout: SYNC_MS });
    await expect(eventButton(b.page, 'Standup')).toBeVisible({ timeout: SYNC_MS });
    await expect(b.page.getByRole('checkbox', { name: 'Work' })).toBeVisible();

    // Both see each other on the Devices page, with names and fingerprints, this device marked.
    await openDevices(a.page);
    await expect(memberRow(a.page, 'Personal', 'Phone B')).toBeVisible({ timeout: SYNC_MS });
    await expect(memberRow(a.page, 'Personal', 'Laptop A')).toContainText('This device');
    await openDevices(b.page);
    await expect(memberRow(b.page, 'Personal', 'Phone B')).toContainText('This device');
    await expect(memberRow(b.page, 'Personal', 'Laptop A')).toBeVisible({ timeout: SYNC_MS });
    // The fingerprint B shows for A is the one A shows for itself.
    const fpA = ((await a.page.locator('.device-name .fingerprint').textContent()) ?? '').trim();
    expect(fpA).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
    await expect(memberRow(b.page, 'Personal', 'Laptop A')).toContainText(fpA);

    // A reuses the "Add device" link: single use.
    const again = await newDevice(browser);
    try {
      await again.page.goto(addLink);
      await again.page.getByRole('button', { name: 'Join', exact: true }).click();
      await expect(again.page.getByRole('alert').filter({ hasText: 'already used' })).toBeVisible({
        timeout: SYNC_MS,
      });
    } finally {
      await again.context.close();
    }

    // A shares only "Work" with another person (C): C sees Work's events and nothing of Personal.
    const shareLink = await inviteLink(a.page, 'Work');
    await join(c.page, shareLink, 'Sam');
    await openView(c.page, 'week', DAY);
    await expect(eventButton(c.page, 'Standup')).toBeVisible({ timeout: SYNC_MS });
    await expect(c.page.getByRole('checkbox', { name: 'Personal' })).toHaveCount(0);
    await expect(eventButton(c.page, 'Dentist')).toHaveCount(0);
    await expect(memberRow(a.page, 'Work', 'Sam')).toBeVisible({ timeout: SYNC_MS });
    await expect(memberRow(a.page, 'Personal', 'Sam')).toHaveCount(0);
    const axe = await new AxeBuilder({ page: a.page }).analyze();
    expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')).toEqual([]);
    if (process.env['DEVICES_SCREENSHOT']) {
      // README pictures (docs/screenshots/): the page with three devices, and the Add device dialog.
      const dismiss = a.page.getByRole('button', { name: 'Dismiss notification' });
      if (await dismiss.isVisible()) await dismiss.click();
      const later = a.page
        .getByRole('region', { name: 'Recovery file offer' })
        .getByRole('button', { name: 'Not now' });
      if (await later.isVisible()) await later.click();
      await a.page.getByRole('heading', { name: 'Devices and sharing' }).scrollIntoViewIfNeeded();
      await a.page.locator('main').evaluate((el) => el.scrollTo(0, 0));
      await a.page.screenshot({ path: 'docs/screenshots/devices.png' });
      await a.page.getByRole('button', { name: 'Add device' }).click();
      const dlg = a.page.getByRole('dialog', { name: 'Add device' });
      await expect(dlg.getByRole('img', { name: /QR code/ })).toBeVisible({ timeout: SYNC_MS });
      await a.page.screenshot({ path: 'docs/screenshots/add-device.png' });
      await dlg.getByRole('button', { name: 'Done' }).click();
      // The Share dialog asks what the other person may do (ROLE-5).
      await a.page
        .getByRole('region', { name: 'Work', exact: true })
        .getByRole('button', { name: 'Share' })
        .click();
      const share = a.page.getByRole('dialog', { name: 'Share calendar' });
      await expect(share.getByRole('radio', { name: 'Can view' })).toBeVisible();
      await expect(share.getByRole('img', { name: /QR code/ })).toBeVisible({ timeout: SYNC_MS });
      await a.page.screenshot({ path: 'docs/screenshots/share.png' });
      await share.getByRole('button', { name: 'Done' }).click();
    }

    // A removes B from Personal (confirm dialog), B stays in Work.
    await memberRow(a.page, 'Personal', 'Phone B').getByRole('button', { name: 'Remove' }).click();
    const confirm = a.page.getByRole('dialog', { name: 'Remove device' });
    await expect(confirm).toContainText('can still read everything it already had');
    await confirm.getByRole('button', { name: 'Remove' }).click();
    await expect(confirm).toBeHidden({ timeout: SYNC_MS });
    await expect(memberRow(a.page, 'Personal', 'Phone B')).toHaveCount(0);
    await expect(memberRow(a.page, 'Work', 'Phone B')).toBeVisible();
    await waitSynced(a.page);

    // B, once it has synced the removal, writes to both calendars: only the Work event reaches A.
    await expect(memberRow(b.page, 'Personal', 'Phone B')).toHaveCount(0, { timeout: SYNC_MS });
    const personalOnBCard = b.page.getByRole('region', { name: 'Personal', exact: true });
    await expect(personalOnBCard).toContainText('This device was removed from “Personal”');
    await expect(personalOnBCard.getByRole('button')).toHaveCount(0);
    await openView(b.page, 'week', DAY);
    await createIn(b, 'Work', 'B in Work', `${DAY}T13:00`, `${DAY}T14:00`);
    // The removed device may still hold Personal locally (what it had stays readable to it).
    const personalOnB = await b.page.getByRole('checkbox', { name: 'Personal' }).count();
    if (personalOnB > 0) {
      await b.page.getByRole('button', { name: 'New event' }).click();
      const dialog = b.page.getByRole('dialog', { name: 'Event' });
      await dialog.getByLabel('Title').fill('B after removal');
      await dialog.getByLabel('Start', { exact: true }).fill(`${DAY}T15:00`);
      await dialog.getByLabel('End', { exact: true }).fill(`${DAY}T16:00`);
      await dialog.getByLabel('Calendar', { exact: true }).selectOption({ label: 'Personal' });
      await dialog.getByRole('button', { name: 'Save' }).click();
      await expect(dialog).toBeHidden();
    }
    await openView(a.page, 'week', DAY);
    // Positive control first: sync from B to A works...
    await expect(eventButton(a.page, 'B in Work')).toBeVisible({ timeout: SYNC_MS });
    // ...and the write to the calendar B was removed from never arrives, even after a reload.
    await a.page.waitForTimeout(2_000);
    await a.page.reload();
    await expect(eventButton(a.page, 'Dentist')).toBeVisible({ timeout: SYNC_MS });
    await expect(eventButton(a.page, 'B after removal')).toHaveCount(0);
    await expect(eventButton(c.page, 'B in Work')).toBeVisible({ timeout: SYNC_MS });
  } finally {
    await a.context.close();
    await b.context.close();
    await c.context.close();
  }
});
