// Schema evolution with the previous release (docs/PROTOCOL.md SCH-3, SCH-4, LWW-6): the app as
// released before schema version 2 (commit OLD_RELEASE, built by scripts/build-old.mjs and served
// at /old/ by scripts/serve-e2e.mjs) and the new build share a calendar through one relay, on one
// origin; each browser context is a device with its own IndexedDB.
//
// N (new build) makes a weekly series with reminders and an edited occurrence; O (old build, which
// knows nothing of recurrence) joins by N's Share link (it refuses N's version-2 "Add device"
// link), sees a single event and renames it; N still has its rule,
// reminders and override, with O's title; F, a new-build device that O itself invites, reads the
// same from the shared history.
import { type Browser, expect, type Page, test } from '@playwright/test';
import base from '../playwright.config.ts';
import type { EventView } from '../src/worker/api.ts';
import {
  type Device,
  editTitle,
  inviteLink,
  join,
  nameDevice,
  SYNC_MS,
  waitSynced,
} from './devices-ui.helpers.ts';
import { serveFixtures } from './fixtures/build.ts';
import type { RuntimeFixture } from './fixtures/client.entry.ts';
import { eventButton, openView } from './ui-helpers.ts';

declare global {
  var rt: RuntimeFixture;
}

test.describe.configure({ timeout: 240_000 });
// The runtime fixture tab (served by request interception, see devices.spec.ts) is a second tab of
// N; the check would only matter if it became the tab that talks to the relay.
test.use({
  launchOptions: {
    ...base.use?.launchOptions,
    args: [...(base.use?.launchOptions?.args ?? []), '--disable-features=LocalNetworkAccessChecks'],
  },
});

/** A weekly series on Tuesdays from 2026-12-01 09:00 Berlin; the second occurrence is edited. */
const WEEK1 = '2026-12-01';
const WEEK2 = '2026-12-08';
const WEEK3 = '2026-12-15';
const RULE = 'FREQ=WEEKLY;BYDAY=TU';
const ALARMS = [10, 1440];
const RANGE = { fromMs: Date.UTC(2026, 10, 29), toMs: Date.UTC(2026, 11, 20) };
/** OLD_BASE of scripts/build-old.mjs: where scripts/serve-e2e.mjs serves the old build. */
const OLD_INDEX = '/old/index.html';

/**
 * A device, on either build. Service workers are off: they are not what this test is about, and
 * the new build's (scope /) would answer the navigation to the fixture tab with the app's shell.
 */
async function device(browser: Browser): Promise<Device> {
  const context = await browser.newContext({
    locale: 'en-US',
    timezoneId: 'Europe/Berlin',
    viewport: { width: 1280, height: 900 },
    serviceWorkers: 'block',
  });
  return { context, page: await context.newPage() };
}

async function openOldView(page: Page, date: string): Promise<void> {
  await page.goto(`${OLD_INDEX}#/week/${date}`);
  await expect(page.getByRole('status', { name: 'Sync status' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'New event' })).toBeEnabled();
}

async function addCalendar(page: Page, name: string): Promise<void> {
  await page.getByRole('button', { name: '+ Add calendar' }).click();
  const form = page.locator('.cal-form');
  await form.getByLabel('Name').fill(name);
  await form.getByRole('button', { name: 'Create calendar' }).click();
  await expect(page.getByRole('checkbox', { name })).toBeVisible();
}

/** The week views of a new-build device: the three occurrences, the second one edited. */
async function expectSeries(page: Page, title: string, edited: string): Promise<void> {
  await openView(page, 'week', WEEK1);
  await expect(eventButton(page, title)).toBeVisible({ timeout: SYNC_MS });
  await openView(page, 'week', WEEK2);
  await expect(eventButton(page, edited)).toBeVisible({ timeout: SYNC_MS });
  await expect(eventButton(page, title)).toHaveCount(0);
  await openView(page, 'week', WEEK3);
  await expect(eventButton(page, title)).toBeVisible({ timeout: SYNC_MS });
  // The dialog of an occurrence shows the rule as the "Repeat" value.
  await eventButton(page, title).click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog.getByLabel('Repeat').locator('option:checked')).toHaveText('Weekly on Tuesday');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await expect(dialog).toBeHidden();
}

/** A second tab of a new-build device driving the real CalendarClient (e2e/fixtures/), same database. */
async function clientTab(d: Device): Promise<Page> {
  await serveFixtures(d.context);
  const page = await d.context.newPage();
  await page.goto('/__rt/?ns=ledgerday');
  await page.waitForFunction(() => 'rt' in globalThis, undefined, { timeout: SYNC_MS });
  return page;
}

const occurrences = (tab: Page) =>
  tab.evaluate(
    async (range) =>
      (await rt.client.eventsInRange(range))
        .filter((e) => e.occurrence !== undefined)
        .sort((a, b) => a.startMs - b.startMs),
    RANGE,
  );

/** What the engine of a new-build device reads: rule, reminders and override on every occurrence. */
async function expectFields(tab: Page, title: string, edited: string): Promise<void> {
  let got: EventView[] = [];
  await expect
    .poll(
      async () => {
        got = await occurrences(tab);
        return got.map((e) => e.title);
      },
      { timeout: SYNC_MS },
    )
    .toEqual([title, edited, title]);
  for (const e of got) {
    expect(e.rrule).toBe(RULE);
    expect(e.alarms).toEqual(ALARMS);
    expect(e.occurrence?.detached).toBe(false);
  }
  expect(got.map((e) => e.occurrence?.recurrenceId)).toEqual([
    `${WEEK1}T09:00`,
    `${WEEK2}T09:00`,
    `${WEEK3}T09:00`,
  ]);
}

test('[SCH-3][SCH-4][LWW-6][CMP-1] the release before schema 2 renames a repeating event: the new build keeps its rule, reminders, override and compliance mode', async ({
  browser,
}) => {
  const served = await (await fetch(`${base.use?.baseURL}${OLD_INDEX}`)).text();
  expect(served, 'the old build (scripts/build-old.mjs, see the web server log)').toContain('/old/assets/');
  const n = await device(browser);
  const o = await device(browser);
  const f = await device(browser);
  try {
    // N (new build): a calendar, a weekly series, one occurrence edited with "This event".
    await openView(n.page, 'week', WEEK1);
    await nameDevice(n.page, 'New laptop');
    await openView(n.page, 'week', WEEK1);
    await addCalendar(n.page, 'Team');
    await n.page.getByRole('button', { name: 'New event' }).click();
    const dialog = n.page.getByRole('dialog', { name: 'Event' });
    await dialog.getByLabel('Title').fill('Standup');
    await dialog.getByLabel('Start', { exact: true }).fill(`${WEEK1}T09:00`);
    await dialog.getByLabel('End', { exact: true }).fill(`${WEEK1}T09:30`);
    await dialog.getByLabel('Calendar', { exact: true }).selectOption({ label: 'Team' });
    await dialog.getByLabel('Repeat').selectOption({ label: 'Weekly on Tuesday' });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
    await openView(n.page, 'week', WEEK2);
    await eventButton(n.page, 'Standup').click();
    await dialog.getByLabel('Title').fill('Standup with Ana');
    await dialog.getByRole('button', { name: 'Save' }).click();
    const scope = n.page.getByRole('dialog', { name: 'Edit recurring event' });
    await scope.getByRole('radio', { name: 'This event' }).check();
    await scope.getByRole('button', { name: 'OK' }).click();
    await expect(scope).toBeHidden();
    await expect(eventButton(n.page, 'Standup with Ana')).toBeVisible();

    // Reminders through the engine client in a second tab of N (the dialog has no "Reminder" yet).
    const tab = await clientTab(n);
    const [first] = await occurrences(tab);
    await tab.evaluate(([cal, id, alarms]) => rt.client.updateEvent(cal, id, { alarms }), [
      first!.calendarId,
      first!.occurrence!.seriesId,
      ALARMS,
    ] as const);
    await expectFields(tab, 'Standup', 'Standup with Ana');
    // Compliance mode on (CMP-1: calendar field 4, schema 3, which the old build does not know).
    await tab.evaluate((cal) => rt.client.setCompliance(cal, true), first!.calendarId);
    await expectSeries(n.page, 'Standup', 'Standup with Ana');
    await waitSynced(n.page);

    // An "Add device" link of this build is format version 2 (PER-2): the old build refuses it
    // without joining anything. O (old build) joins through N's Share link of Team, under /old/.
    const deviceLink = (await inviteLink(n.page)).replace(/\/#\//, `${OLD_INDEX}#/`);
    await o.page.goto(deviceLink);
    await o.page.getByRole('button', { name: 'Join', exact: true }).click();
    await expect(o.page.getByRole('alert').filter({ hasText: 'not a valid invite' })).toBeVisible({
      timeout: SYNC_MS,
    });
    // An older build's Add states no role, which counts as manager (ROLE-1): it joins by a
    // "Can manage" invite only (ROLE-5, Limitations).
    const link = await inviteLink(n.page, 'Team', 'Can manage');
    const oldLink = link.replace(/\/#\//, `${OLD_INDEX}#/`);
    expect(oldLink).toContain(`${OLD_INDEX}#/join/`);
    await join(o.page, oldLink, 'Old phone');
    // It is the old build: no "Repeat" in its dialog, the series is a single event on its first day.
    await openOldView(o.page, WEEK1);
    await expect(eventButton(o.page, 'Standup')).toBeVisible({ timeout: SYNC_MS });
    await eventButton(o.page, 'Standup').click();
    const oldDialog = o.page.getByRole('dialog', { name: 'Event' });
    await expect(oldDialog.getByLabel('Title')).toHaveValue('Standup');
    await expect(oldDialog.getByLabel('Repeat')).toHaveCount(0);
    await oldDialog.getByRole('button', { name: 'Close' }).click();
    await openOldView(o.page, WEEK3);
    await expect(o.page.getByRole('status', { name: 'Sync status' })).toContainText('Synced', {
      timeout: SYNC_MS,
    });
    await expect(eventButton(o.page, 'Standup')).toHaveCount(0);

    // O renames the event (its whole series, as far as it knows).
    await openOldView(o.page, WEEK1);
    await editTitle(o.page, /^Standup(,|$)/, 'Team standup');
    await expect(eventButton(o.page, 'Team standup')).toBeVisible();
    await waitSynced(o.page);

    // N: O's title on every occurrence without its own, the override, the rule and the reminders.
    await expectFields(tab, 'Team standup', 'Standup with Ana');
    await tab.close();
    await expectSeries(n.page, 'Team standup', 'Standup with Ana');

    // F (new build), added by O's own "Add device" link, reads the same from the shared history.
    const fromOld = await inviteLink(o.page);
    expect(new URL(fromOld).pathname).toBe('/');
    await join(f.page, fromOld, 'Fresh tablet');
    await expectSeries(f.page, 'Team standup', 'Standup with Ana');
    const fTab = await clientTab(f);
    await expectFields(fTab, 'Team standup', 'Standup with Ana');
    // The Compliance flag the old build never understood reached F intact through O's invite.
    const compliance = (t: Page) =>
      t.evaluate(async () => (await rt.client.listCalendars()).find((c) => c.name === 'Team')?.compliance);
    await expect.poll(() => compliance(fTab)).toBe(true);
  } finally {
    await n.context.close();
    await o.context.close();
    await f.context.close();
  }
});
