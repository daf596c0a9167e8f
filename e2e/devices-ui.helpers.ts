// Steps shared by the two-device specs (devices-ui.spec.ts, conflict.spec.ts, my-devices.spec.ts): devices are browser
// contexts (separate IndexedDB) talking through the real relay of playwright.config.ts's webServer.
import { type Browser, type BrowserContext, expect, type Page } from '@playwright/test';
import { eventButton } from './ui-helpers.ts';

export const SYNC_MS = 30_000;

export interface Device {
  context: BrowserContext;
  page: Page;
}

export async function newDevice(browser: Browser): Promise<Device> {
  const context = await browser.newContext({
    locale: 'en-US',
    timezoneId: 'Europe/Berlin',
    viewport: { width: 1280, height: 900 },
  });
  const page = await context.newPage();
  return { context, page };
}

export function syncStatus(page: Page) {
  return page.getByRole('status', { name: 'Sync status' });
}

export async function waitSynced(page: Page): Promise<void> {
  await expect(syncStatus(page)).toContainText('Synced', { timeout: SYNC_MS });
  await expect(syncStatus(page)).not.toContainText('waiting to upload', { timeout: SYNC_MS });
}

/** Opens the Devices page and names this device (so the others can tell it apart). */
export async function openDevices(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Devices' }).click();
  await expect(page.getByRole('heading', { name: 'Devices and sharing' })).toBeVisible();
}

export async function nameDevice(page: Page, name: string): Promise<void> {
  await openDevices(page);
  const field = page.getByLabel('Device name');
  await expect(field).toBeEnabled();
  await field.fill(name);
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(page.getByText('Name saved.')).toBeVisible();
}

/**
 * "Add device" (calendar omitted) or "Share" of one calendar on the Devices page, with a role for
 * Share ("Can view" / "Can edit" / "Can manage"; the dialog's default otherwise); returns the link.
 */
export async function inviteLink(page: Page, calendar?: string, role?: string): Promise<string> {
  await openDevices(page);
  let dialog: ReturnType<Page['getByRole']>;
  if (calendar === undefined) {
    await page.getByRole('button', { name: 'Add device' }).click();
    dialog = page.getByRole('dialog', { name: 'Add device' });
  } else {
    await page
      .getByRole('region', { name: calendar, exact: true })
      .getByRole('button', { name: 'Share' })
      .click();
    dialog = page.getByRole('dialog', { name: 'Share calendar' });
  }
  await expect(dialog).toBeVisible();
  if (role !== undefined) await dialog.getByRole('radio', { name: role }).check();
  const field = dialog.getByLabel('Invite link');
  await expect(field).toHaveValue(/#\/join\/./, { timeout: SYNC_MS });
  await expect(dialog.getByRole('img', { name: /QR code/ })).toBeVisible();
  const url = await field.inputValue();
  await dialog.getByRole('button', { name: 'Done' }).click();
  await expect(dialog).toBeHidden();
  return url;
}

/** Opens an invite link on a device, names it, presses Join and waits for the week view. */
/**
 * Open an invite link, name this device and press Join. The field is filled only once its
 * suggested name is shown: filling before that races the suggestion, which can land between
 * Playwright's select-all and its typing and leave "Chrome on LinuxPhone".
 */
export async function submitJoin(page: Page, url: string, name: string): Promise<void> {
  await page.goto(url);
  await expect(page.getByRole('heading', { name: 'Join calendar(s)' })).toBeVisible();
  const field = page.getByLabel('Device name');
  await expect(field).not.toHaveValue('');
  await field.fill(name);
  await expect(field).toHaveValue(name);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
}

export async function join(page: Page, url: string, name: string): Promise<void> {
  await submitJoin(page, url, name);
  await expect(page).toHaveURL(/#\/week\/\d{4}-\d{2}-\d{2}$/, { timeout: 60_000 });
  await expect(page.getByText(/^Joined /)).toBeVisible();
}

/** A member row on the Devices page: calendar section, then the device's name. */
export function memberRow(page: Page, calendar: string, device: string) {
  return page
    .getByRole('list', { name: `Devices of ${calendar}` })
    .getByRole('listitem')
    .filter({ hasText: device });
}

export async function editTitle(page: Page, from: RegExp, to: string): Promise<void> {
  await page.locator('main').getByRole('button', { name: from }).first().click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Title').fill(to);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
}

/** Adds a calendar from the sidebar. */
export async function addCalendar(d: Device, name: string): Promise<void> {
  await d.page.getByRole('button', { name: '+ Add calendar' }).click();
  const form = d.page.locator('.cal-form');
  await form.getByLabel('Name').fill(name);
  await form.getByRole('button', { name: 'Create calendar' }).click();
  await expect(d.page.getByRole('checkbox', { name })).toBeVisible();
}

/** Creates an event in a named calendar through the event dialog. */
export async function createIn(
  d: Device,
  calendar: string,
  title: string,
  start: string,
  end: string,
): Promise<void> {
  await d.page.getByRole('button', { name: 'New event' }).click();
  const dialog = d.page.getByRole('dialog', { name: 'Event' });
  await dialog.getByLabel('Title').fill(title);
  await dialog.getByLabel('Start', { exact: true }).fill(start);
  await dialog.getByLabel('End', { exact: true }).fill(end);
  await dialog.getByLabel('Calendar', { exact: true }).selectOption({ label: calendar });
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
  await expect(eventButton(d.page, title)).toBeVisible();
}
