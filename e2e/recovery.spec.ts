// Recovery end to end (docs/PROTOCOL.md REC-*): a laptop paired with a phone, with a calendar a
// partner shared with it "Can edit", saves a recovery file when it offers one (after the first
// event); then both are lost (their contexts closed: the same as clearing their site data); a fresh
// browser context restores every calendar from the file through the real relay (the partner's as
// an editor, ROLE-14), as a new device that is one of "my devices" again and can remove the lost
// ones everywhere. The file works once: a second fresh context gets a clear refusal, and a wrong
// password changes nothing.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import {
  addCalendar,
  createIn,
  type Device,
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

test.describe.configure({ timeout: 240_000 });

const DAY = '2026-11-24';
const PASSWORD = 'tulip river 42 stone';

/** Restores from the file on the Devices page; returns the dialog's outcome text. */
async function restore(d: Device, file: string, password: string): Promise<string> {
  await openDevices(d.page);
  await d.page.getByRole('button', { name: 'Restore from recovery file' }).click();
  const dialog = d.page.getByRole('dialog', { name: 'Restore from recovery file' });
  await dialog.getByLabel('Recovery file').setInputFiles(file);
  await dialog.getByLabel('Password').fill(password);
  await dialog.getByRole('button', { name: 'Restore' }).click();
  const outcome = dialog.getByRole('status').or(dialog.getByRole('alert'));
  await expect(outcome).toHaveText(/Restored|could not|wrong|damaged/, { timeout: 90_000 });
  const text = (await outcome.textContent()) ?? '';
  await dialog.getByRole('button', { name: /Done|Cancel/ }).click();
  await expect(dialog).toBeHidden();
  return text;
}

test('[REC-1][REC-2][REC-3][REC-4][PER-4][ROLE-14] a lost laptop’s and phone’s calendars, a partner’s shared “Can edit” included, come back on a fresh device from the recovery file, once', async ({
  browser,
}, info) => {
  const laptop = await newDevice(browser);
  const phone = await newDevice(browser);
  const fresh = await newDevice(browser);
  const third = await newDevice(browser);
  const partner = await newDevice(browser);
  try {
    // A partner shares "Club" with the laptop, "Can edit".
    await openView(partner.page, 'week', DAY);
    await nameDevice(partner.page, 'Sam');
    await openView(partner.page, 'week', DAY);
    await addCalendar(partner, 'Club');
    await createIn(partner, 'Club', 'Match', `${DAY}T08:00`, `${DAY}T08:30`);
    await waitSynced(partner.page);
    await openView(laptop.page, 'week', DAY);
    await nameDevice(laptop.page, 'Laptop');
    await openView(laptop.page, 'week', DAY);
    // No offer at first start: nothing to lose yet.
    const offer = laptop.page.getByRole('region', { name: 'Recovery file offer' });
    await expect(laptop.page.getByRole('button', { name: 'New event' })).toBeVisible();
    await expect(offer).toBeHidden();
    await createViaDialog(laptop.page, { title: 'Dentist', start: `${DAY}T09:00`, end: `${DAY}T10:00` });
    await addCalendar(laptop, 'Work');
    await laptop.page.getByRole('button', { name: 'New event' }).click();
    const ev = laptop.page.getByRole('dialog', { name: 'Event' });
    await ev.getByLabel('Title').fill('Standup');
    await ev.getByLabel('Start', { exact: true }).fill(`${DAY}T11:00`);
    await ev.getByLabel('End', { exact: true }).fill(`${DAY}T11:30`);
    await ev.getByLabel('Calendar', { exact: true }).selectOption({ label: 'Work' });
    await ev.getByRole('button', { name: 'Save' }).click();
    await expect(eventButton(laptop.page, 'Standup')).toBeVisible();
    await waitSynced(laptop.page);
    await join(laptop.page, await inviteLink(partner.page, 'Club', 'Can edit'), 'Laptop');
    await expect(eventButton(laptop.page, 'Match')).toBeVisible({ timeout: SYNC_MS });
    // The phone is paired ("Add device"): it has both calendars.
    const link = await inviteLink(laptop.page);
    await join(phone.page, link, 'Phone');
    await expect(eventButton(phone.page, 'Standup')).toBeVisible({ timeout: SYNC_MS });
    await expect(eventButton(phone.page, 'Match')).toBeVisible({ timeout: SYNC_MS });
    await openView(laptop.page, 'week', DAY);

    // The offer appears once a calendar has an event; the file downloads after a password.
    await expect(offer).toContainText('recovery file brings your calendars back');
    await offer.getByRole('button', { name: 'Save recovery file' }).click();
    const save = laptop.page.getByRole('dialog', { name: 'Save recovery file' });
    await save.getByLabel('Password', { exact: true }).fill('too short');
    await expect(save.getByRole('button', { name: 'Save' })).toBeDisabled();
    await save.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await save.getByLabel('Repeat password').fill(PASSWORD);
    const download = laptop.page.waitForEvent('download');
    await save.getByRole('button', { name: 'Save' }).click();
    const file = info.outputPath('recovery.json');
    await (await download).saveAs(file);
    await expect(save.getByRole('status')).toContainText('Saved “ledgerday-recovery-', { timeout: SYNC_MS });
    await save.getByRole('button', { name: 'Done' }).click();
    await expect(offer).toBeHidden();
    const text = readFileSync(file, 'utf8');
    expect(JSON.parse(text)).toMatchObject({ format: 'ledgerday-recovery', version: 1, kdf: 'argon2id' });
    expect(text).not.toContain('Dentist');
    expect(text).not.toContain('Work');
    expect(text).not.toContain('Club');
    await openDevices(laptop.page);
    await expect(laptop.page.getByRole('region', { name: 'Recovery', exact: true })).toContainText(
      'Recovery file saved',
    );
    await waitSynced(laptop.page);
    await waitSynced(phone.page);
    // Both are lost: their browser data is gone with their contexts.
    await laptop.context.close();
    await phone.context.close();

    // A fresh device: a wrong password changes nothing.
    await openView(fresh.page, 'week', DAY);
    await nameDevice(fresh.page, 'Tablet');
    await openView(fresh.page, 'week', DAY);
    expect(await restore(fresh, file, 'not the password at all')).toMatch(/password is wrong/);
    await expect(fresh.page.getByRole('checkbox', { name: 'Work' })).toHaveCount(0);
    // The right one brings back every calendar and its events, as a new device.
    const restored = await restore(fresh, file, PASSWORD);
    expect(restored).toMatch(/^Restored /);
    for (const name of ['Personal', 'Work', 'Club']) expect(restored).toContain(`“${name}”`);
    expect(restored).not.toMatch(/could not/);
    await expect(fresh.page.getByRole('checkbox', { name: 'Work' })).toBeVisible({ timeout: SYNC_MS });
    await expect(fresh.page.getByRole('checkbox', { name: 'Personal' })).toBeVisible();
    await expect(memberRow(fresh.page, 'Work', 'Laptop')).toBeVisible();
    await expect(memberRow(fresh.page, 'Work', 'This device')).toBeVisible();
    await openView(fresh.page, 'week', DAY);
    await expect(eventButton(fresh.page, 'Dentist')).toBeVisible({ timeout: SYNC_MS });
    await expect(eventButton(fresh.page, 'Standup')).toBeVisible();
    await expect(eventButton(fresh.page, 'Match')).toBeVisible();
    // Club is back as an editor (the laptop's own role there): it writes, the partner reads it.
    await createIn(fresh, 'Club', 'Tablet plan', `${DAY}T12:00`, `${DAY}T13:00`);
    await openView(partner.page, 'week', DAY);
    await expect(eventButton(partner.page, 'Tablet plan')).toBeVisible({ timeout: SYNC_MS });
    await openDevices(partner.page);
    await expect(partner.page.getByRole('combobox', { name: 'Role of Tablet' })).toHaveValue('editor', {
      timeout: SYNC_MS,
    });
    await openView(fresh.page, 'week', DAY);
    // The restored device writes as itself.
    await createViaDialog(fresh.page, { title: 'Back again', start: `${DAY}T14:00`, end: `${DAY}T15:00` });
    await waitSynced(fresh.page);
    // It is one of my devices again (the file covered the personal document, PER-1): the lost
    // ones are listed there, and one action removes the lost phone from every calendar (PER-4).
    await openDevices(fresh.page);
    const yours = fresh.page.getByRole('list', { name: 'Your devices' });
    await expect(yours.getByRole('listitem').filter({ hasText: 'Phone' })).toBeVisible({ timeout: SYNC_MS });
    await expect(yours.getByRole('listitem').filter({ hasText: 'Laptop' })).toBeVisible();
    await yours
      .getByRole('listitem')
      .filter({ hasText: 'Phone' })
      .getByRole('button', { name: 'Remove from all calendars' })
      .click();
    const confirm = fresh.page.getByRole('dialog', { name: 'Remove from all calendars' });
    await confirm.getByRole('button', { name: 'Remove from all calendars' }).click();
    await expect(confirm).toBeHidden({ timeout: SYNC_MS });
    await expect(memberRow(fresh.page, 'Work', 'Phone')).toHaveCount(0, { timeout: SYNC_MS });
    await expect(memberRow(fresh.page, 'Personal', 'Phone')).toHaveCount(0, { timeout: SYNC_MS });
    await expect(memberRow(fresh.page, 'Club', 'Phone')).toHaveCount(0, { timeout: SYNC_MS });
    // And the lost laptop, from Club too, which it does not manage (ROLE-12: the laptop's invite
    // linked the two, ROLE-14).
    await yours
      .getByRole('listitem')
      .filter({ hasText: 'Laptop' })
      .getByRole('button', { name: 'Remove from all calendars' })
      .click();
    await confirm.getByRole('button', { name: 'Remove from all calendars' }).click();
    await expect(confirm).toBeHidden({ timeout: SYNC_MS });
    await expect(memberRow(fresh.page, 'Club', 'Laptop')).toHaveCount(0, { timeout: SYNC_MS });
    await expect(memberRow(fresh.page, 'Work', 'Laptop')).toHaveCount(0, { timeout: SYNC_MS });
    await waitSynced(fresh.page);
    await openDevices(partner.page);
    await expect(memberRow(partner.page, 'Club', 'Laptop')).toHaveCount(0, { timeout: SYNC_MS });
    await expect(memberRow(partner.page, 'Club', 'Tablet')).toHaveCount(1);

    // The file worked once: a third device is refused, calendar by calendar, and gets nothing.
    await openView(third.page, 'week', DAY);
    const refused = await restore(third, file, PASSWORD);
    expect(refused).toMatch(/could not be restored: this recovery file was already used/);
    expect(refused).not.toMatch(/Restored/);
    await expect(third.page.getByRole('checkbox', { name: 'Work' })).toHaveCount(0);
  } finally {
    await Promise.all([laptop, phone, fresh, third, partner].map((d) => d.context.close().catch(() => {})));
  }
});
