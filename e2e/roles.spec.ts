// Roles end to end (docs/PROTOCOL.md ROLE-*): two browser contexts are two people through the real
// relay (playwright.config.ts's webServer). I share a calendar "Can view": my partner sees its
// events but cannot create or change any there; I make the partner "Can edit" on the Devices page
// and the partner's new event reaches me.
import { expect, test } from '@playwright/test';
import {
  type Device,
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

async function addCalendar(d: Device, name: string): Promise<void> {
  await d.page.getByRole('button', { name: '+ Add calendar' }).click();
  const form = d.page.locator('.cal-form');
  await form.getByLabel('Name').fill(name);
  await form.getByRole('button', { name: 'Create calendar' }).click();
  await expect(d.page.getByRole('checkbox', { name })).toBeVisible();
}

/** "Share" of one calendar with a role ("Can view" / "Can edit" / "Can manage"); returns the link. */
async function shareLink(d: Device, calendar: string, role: string): Promise<string> {
  await openDevices(d.page);
  await d.page
    .getByRole('region', { name: calendar, exact: true })
    .getByRole('button', { name: 'Share' })
    .click();
  const dialog = d.page.getByRole('dialog', { name: 'Share calendar' });
  await expect(dialog.getByRole('radio', { name: 'Can edit' })).toBeChecked();
  await expect(dialog.getByRole('radio', { name: 'Can manage' })).not.toBeChecked();
  await dialog.getByRole('radio', { name: role }).check();
  const field = dialog.getByLabel('Invite link');
  await expect(field).toHaveValue(/#\/join\/./, { timeout: SYNC_MS });
  const url = await field.inputValue();
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(dialog).toBeHidden();
  return url;
}

test('[ROLE-4][ROLE-5][ROLE-3] shared "Can view", the partner reads but cannot write; made "Can edit", its event reaches me', async ({
  browser,
}) => {
  const me = await newDevice(browser);
  const partner = await newDevice(browser);
  try {
    await openView(me.page, 'week', DAY);
    await nameDevice(me.page, 'My laptop');
    await openView(me.page, 'week', DAY);
    await addCalendar(me, 'Family');
    await createViaDialog(me.page, { title: 'Dentist', start: `${DAY}T10:00`, end: `${DAY}T11:00` });
    // The dialog's default calendar may be Personal: put the event in Family explicitly.
    await eventButton(me.page, 'Dentist').click();
    const edit = me.page.getByRole('dialog', { name: 'Event' });
    await edit.getByLabel('Calendar', { exact: true }).selectOption({ label: 'Family' });
    await edit.getByRole('button', { name: 'Save' }).click();
    await expect(edit).toBeHidden();
    await waitSynced(me.page);

    const link = await shareLink(me, 'Family', 'Can view');
    await join(partner.page, link, 'Partner');
    await openView(partner.page, 'week', DAY);
    await expect(eventButton(partner.page, 'Dentist')).toBeVisible({ timeout: SYNC_MS });

    // The partner's event dialog shows the event, says why nothing can be changed, offers no edit.
    await eventButton(partner.page, 'Dentist').click();
    const view = partner.page.getByRole('dialog', { name: 'Event' });
    await expect(view.getByRole('heading', { name: 'Dentist' })).toBeVisible();
    await expect(view.getByRole('note')).toHaveText('You can view this calendar');
    await expect(view).toContainText('Family');
    await expect(view.getByRole('textbox')).toHaveCount(0);
    await expect(view.getByRole('button', { name: 'Save' })).toHaveCount(0);
    await expect(view.getByRole('button', { name: 'Delete' })).toHaveCount(0);
    await view.getByRole('button', { name: 'Close' }).last().click();
    await expect(view).toBeHidden();
    // Keyboard delete on the event is refused with the same hint; the event stays.
    await eventButton(partner.page, 'Dentist').focus();
    await partner.page.keyboard.press('Delete');
    await expect(partner.page.getByText('You can view this calendar')).toBeVisible();
    await expect(eventButton(partner.page, 'Dentist')).toBeVisible();
    // A new event cannot go to Family: the dialog offers only calendars the partner may write.
    await partner.page.getByRole('button', { name: 'New event' }).click();
    const create = partner.page.getByRole('dialog', { name: 'Event' });
    const cal = create.getByLabel('Calendar', { exact: true });
    await expect(cal.getByRole('option', { name: 'Family' })).toHaveCount(0);
    await create.getByRole('button', { name: 'Cancel' }).click();
    await expect(create).toBeHidden();

    // Both Devices pages show the roles; only the manager (me) can change them.
    await openDevices(me.page);
    const select = memberRow(me.page, 'Family', 'Partner').getByRole('combobox', { name: 'Role of Partner' });
    await expect(select).toBeVisible({ timeout: SYNC_MS });
    await expect(select).toHaveValue('viewer');
    await expect(memberRow(me.page, 'Family', 'My laptop')).toContainText('Can manage');
    await openDevices(partner.page);
    await expect(memberRow(partner.page, 'Family', 'Partner')).toContainText('Can view');
    await expect(partner.page.getByRole('combobox', { name: /^Role of / })).toHaveCount(0);
    await expect(
      partner.page
        .getByRole('region', { name: 'Family', exact: true })
        .getByRole('button', { name: 'Share' }),
    ).toHaveCount(0);

    // I make the partner an editor; once it hears of it, its new event in Family reaches me.
    await select.selectOption({ label: 'Can edit' });
    await expect(me.page.getByText('Partner now: Can edit')).toBeVisible();
    await waitSynced(me.page);
    await expect(memberRow(partner.page, 'Family', 'Partner')).toContainText('Can edit', {
      timeout: SYNC_MS,
    });
    await openView(partner.page, 'week', DAY);
    await partner.page.getByRole('button', { name: 'New event' }).click();
    const now = partner.page.getByRole('dialog', { name: 'Event' });
    await now.getByLabel('Title').fill('Picnic');
    await now.getByLabel('Start', { exact: true }).fill(`${DAY}T13:00`);
    await now.getByLabel('End', { exact: true }).fill(`${DAY}T14:00`);
    await now.getByLabel('Calendar', { exact: true }).selectOption({ label: 'Family' });
    await now.getByRole('button', { name: 'Save' }).click();
    await expect(now).toBeHidden();
    await waitSynced(partner.page);
    await openView(me.page, 'week', DAY);
    await expect(eventButton(me.page, 'Picnic')).toBeVisible({ timeout: SYNC_MS });
  } finally {
    await me.context.close();
    await partner.context.close();
  }
});
