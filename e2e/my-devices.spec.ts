// My devices end to end (docs/PROTOCOL.md section 8a), as people use it, through the real relay:
// three browser contexts are my laptop, my phone and a partner. The phone is paired with "Add
// device"; a calendar the laptop creates after pairing appears on the phone and its events sync
// both ways; the partner, sharing that calendar, sees my two devices as one person; one action on
// the laptop removes the phone from every calendar. And a calendar the partner shared with my
// laptop "Can edit" reaches my phone as an editor; the phone removes the lost laptop from it.
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
  submitJoin,
  waitSynced,
} from './devices-ui.helpers.ts';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

test.describe.configure({ timeout: 240_000 });

const DAY = '2026-11-24';

test('[PER-2][PER-3][PER-4][PER-6] pair a phone; a calendar made after pairing reaches it; a partner sees one person; remove the phone from all calendars in one step', async ({
  browser,
}) => {
  const laptop = await newDevice(browser);
  const phone = await newDevice(browser);
  const partner = await newDevice(browser);
  try {
    await openView(laptop.page, 'week', DAY);
    await nameDevice(laptop.page, 'Laptop');
    await openView(laptop.page, 'week', DAY);
    // A first event makes the "Personal" calendar ("Add device" needs a calendar to offer).
    await createViaDialog(laptop.page, { title: 'Dentist', start: `${DAY}T07:00`, end: `${DAY}T08:00` });
    await waitSynced(laptop.page);

    // Pair: "Add device" on the laptop, the link opened on the phone.
    const link = await inviteLink(laptop.page);
    await join(phone.page, link, 'Phone');
    await expect(eventButton(phone.page, 'Dentist')).toBeVisible({ timeout: SYNC_MS });

    // After pairing: a new calendar on the laptop, with an event. It reaches the phone.
    await openView(laptop.page, 'week', DAY);
    await addCalendar(laptop, 'Trips');
    await createIn(laptop, 'Trips', 'Flight', `${DAY}T09:00`, `${DAY}T10:00`);
    await openView(phone.page, 'week', DAY);
    await expect(phone.page.getByRole('checkbox', { name: 'Trips' })).toBeVisible({ timeout: SYNC_MS });
    await expect(eventButton(phone.page, 'Flight')).toBeVisible({ timeout: SYNC_MS });
    // An event written on the phone in it reaches the laptop.
    await createIn(phone, 'Trips', 'Hotel', `${DAY}T13:00`, `${DAY}T14:00`);
    await expect(eventButton(laptop.page, 'Hotel')).toBeVisible({ timeout: SYNC_MS });

    // Both devices are mine on each Devices page.
    await openDevices(laptop.page);
    const yours = laptop.page.getByRole('list', { name: 'Your devices' });
    await expect(yours.getByRole('listitem').filter({ hasText: 'Phone' })).toBeVisible({ timeout: SYNC_MS });
    await expect(memberRow(laptop.page, 'Trips: You', 'Phone')).toBeVisible({ timeout: SYNC_MS });

    // A partner I share Trips with sees my laptop and phone as one person, names and fingerprints shown.
    const share = await inviteLink(laptop.page, 'Trips');
    await join(partner.page, share, 'Sam');
    await openDevices(partner.page);
    const trips = partner.page.getByRole('region', { name: 'Trips', exact: true });
    await expect(trips.getByRole('heading', { name: 'Another person (Laptop, Phone)' })).toBeVisible({
      timeout: SYNC_MS,
    });
    const mineOnPartner = trips.getByRole('list', {
      name: 'Devices of Trips: Another person (Laptop, Phone)',
    });
    await expect(mineOnPartner.getByRole('listitem')).toHaveCount(2);
    await expect(mineOnPartner.getByRole('listitem').first()).toContainText(/[0-9A-Z]{4}(-[0-9A-Z]{4}){3}/);
    await expect(memberRow(partner.page, 'Trips: You', 'Sam')).toContainText('This device');

    // One action on the laptop removes the phone from every calendar (Personal and Trips).
    await openDevices(laptop.page);
    await yours
      .getByRole('listitem')
      .filter({ hasText: 'Phone' })
      .getByRole('button', { name: 'Remove from all calendars' })
      .click();
    const dlg = laptop.page.getByRole('dialog', { name: 'Remove from all calendars' });
    await dlg.getByRole('button', { name: 'Remove from all calendars' }).click();
    await expect(dlg).toBeHidden({ timeout: SYNC_MS });
    await expect(laptop.page.getByText('Removed Phone from all calendars')).toBeVisible();
    await expect(yours.getByRole('listitem')).toHaveCount(1);
    await expect(memberRow(laptop.page, 'Trips', 'Phone')).toHaveCount(0);
    await expect(memberRow(laptop.page, 'Personal', 'Phone')).toHaveCount(0);
    await waitSynced(laptop.page);
    // The partner sees it gone; the phone learns it was removed from both.
    await expect(memberRow(partner.page, 'Trips', 'Phone')).toHaveCount(0, { timeout: SYNC_MS });
    await openDevices(phone.page);
    for (const cal of ['Trips', 'Personal']) {
      await expect(phone.page.getByRole('region', { name: cal, exact: true })).toContainText(
        `This device was removed from “${cal}”`,
        { timeout: SYNC_MS },
      );
    }

    // Written after the removal: the partner gets it, the phone never does.
    await openView(laptop.page, 'week', DAY);
    await createIn(laptop, 'Trips', 'After removal', `${DAY}T16:00`, `${DAY}T17:00`);
    await openView(partner.page, 'week', DAY);
    await expect(eventButton(partner.page, 'After removal')).toBeVisible({ timeout: SYNC_MS });
    await openView(phone.page, 'week', DAY);
    await expect(eventButton(phone.page, 'Hotel')).toBeVisible();
    await phone.page.waitForTimeout(2_000);
    await expect(eventButton(phone.page, 'After removal')).toHaveCount(0);
  } finally {
    await laptop.context.close();
    await phone.context.close();
    await partner.context.close();
  }
});

test('[PER-3][PER-4][ROLE-11][ROLE-12] a calendar a partner shared with my laptop "Can edit" reaches my phone as an editor; the phone removes the laptop from it', async ({
  browser,
}) => {
  const laptop = await newDevice(browser);
  const phone = await newDevice(browser);
  const partner = await newDevice(browser);
  try {
    await openView(partner.page, 'week', DAY);
    await nameDevice(partner.page, 'Sam');
    await openView(partner.page, 'week', DAY);
    await addCalendar(partner, 'Club');
    await createIn(partner, 'Club', 'Match', `${DAY}T09:00`, `${DAY}T10:00`);
    await waitSynced(partner.page);
    await openView(laptop.page, 'week', DAY);
    await nameDevice(laptop.page, 'Laptop');
    await join(laptop.page, await inviteLink(partner.page, 'Club', 'Can edit'), 'Laptop');
    await expect(eventButton(laptop.page, 'Match')).toBeVisible({ timeout: SYNC_MS });

    // Pair the phone: Club is not in the link (the laptop does not manage it), yet it arrives.
    await submitJoin(phone.page, await inviteLink(laptop.page), 'Phone');
    await expect(
      phone.page.getByText('Linked to your other devices: your calendars arrive as they sync'),
    ).toBeVisible({
      timeout: 60_000,
    });
    await openView(phone.page, 'week', DAY);
    await expect(phone.page.getByRole('checkbox', { name: 'Club' })).toBeVisible({ timeout: SYNC_MS });
    await expect(eventButton(phone.page, 'Match')).toBeVisible({ timeout: SYNC_MS });
    await createIn(phone, 'Club', 'Phone plan', `${DAY}T12:00`, `${DAY}T13:00`);
    await openView(partner.page, 'week', DAY);
    await expect(eventButton(partner.page, 'Phone plan')).toBeVisible({ timeout: SYNC_MS });
    await openDevices(partner.page);
    await expect(partner.page.getByRole('combobox', { name: 'Role of Phone' })).toHaveValue('editor', {
      timeout: SYNC_MS,
    });

    // The laptop is lost: "Remove from all calendars" on the phone, which does not manage Club.
    await openDevices(phone.page);
    const yours = phone.page.getByRole('list', { name: 'Your devices' });
    await yours
      .getByRole('listitem')
      .filter({ hasText: 'Laptop' })
      .getByRole('button', { name: 'Remove from all calendars' })
      .click();
    const dlg = phone.page.getByRole('dialog', { name: 'Remove from all calendars' });
    await dlg.getByRole('button', { name: 'Remove from all calendars' }).click();
    await expect(dlg).toBeHidden({ timeout: SYNC_MS });
    await expect(memberRow(phone.page, 'Club', 'Laptop')).toHaveCount(0, { timeout: SYNC_MS });
    await waitSynced(phone.page);
    await openDevices(partner.page);
    await expect(memberRow(partner.page, 'Club', 'Laptop')).toHaveCount(0, { timeout: SYNC_MS });
    await expect(memberRow(partner.page, 'Club', 'Phone')).toHaveCount(1);
  } finally {
    await laptop.context.close();
    await phone.context.close();
    await partner.context.close();
  }
});
