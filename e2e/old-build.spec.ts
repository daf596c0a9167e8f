// Issue 11, schema evolution proved with the previous release (docs/PROTOCOL.md SCH-3, SCH-4): the
// app built from the last commit before schema version 2 and today's app share a calendar through
// one relay. The old build, which knows nothing of repetition or overrides, edits the title of a
// repeating event; today's build still has its rule and its edited occurrence afterwards.
import { expect, type Page, test } from '@playwright/test';
import { inviteLink, join, newDevice, SYNC_MS, waitSynced } from './devices-ui.helpers.ts';
import { buildOld, OLD_COMMIT, serveOld } from './old-build.helpers.ts';
import { eventButton, openView } from './ui-helpers.ts';

test.describe.configure({ timeout: 300_000 });

const MONDAYS = ['2026-11-02', '2026-11-09', '2026-11-16', '2026-11-23', '2026-11-30'];
const port = Number(process.env['E2E_PORT'] ?? 4319);

/** Title and text of the events of the week of `day`. */
async function week(page: Page, day: string): Promise<string[]> {
  await openView(page, 'week', day);
  await page.waitForSelector('main [data-event-key]', { timeout: 3000 }).catch(() => {});
  return page.locator('main [data-event-key]').evaluateAll((els) => els.map((e) => e.textContent ?? ''));
}

test("[SCH-3][SCH-4] a build from before schema 2 edits a repeating event's title; the new build keeps its rule and its edited occurrence", async ({
  browser,
}) => {
  const dist = buildOld(OLD_COMMIT);
  test.skip(dist === undefined, `git history lacks ${OLD_COMMIT} (shallow clone): cannot build the old app`);
  const old = await serveOld(dist!, port);
  const n = await newDevice(browser);
  const o = await newDevice(browser);
  try {
    // Today's build: a weekly stand-up, one occurrence moved to another room ("This event").
    await openView(n.page, 'week', MONDAYS[0]!);
    await n.page.getByRole('button', { name: 'New event' }).click();
    const dialog = n.page.getByRole('dialog', { name: 'Event' });
    await dialog.getByLabel('Title').fill('Stand-up');
    await dialog.getByLabel('Start', { exact: true }).fill(`${MONDAYS[0]}T09:00`);
    await dialog.getByLabel('End', { exact: true }).fill(`${MONDAYS[0]}T09:30`);
    await dialog.getByLabel('Repeat').selectOption({ label: 'Weekly on Monday' });
    await dialog.getByRole('button', { name: 'Save' }).click();
    await expect(dialog).toBeHidden();
    await openView(n.page, 'week', MONDAYS[2]!);
    await eventButton(n.page, 'Stand-up').click();
    await dialog.getByLabel('Location').fill('Room 7');
    await dialog.getByRole('button', { name: 'Save' }).click();
    const ask = n.page.getByRole('dialog', { name: 'Edit recurring event' });
    await ask.getByRole('radio', { name: 'This event' }).check();
    await ask.getByRole('button', { name: 'OK' }).click();
    await expect(dialog).toBeHidden();
    await waitSynced(n.page);

    // The old build joins through its own origin (same relay) and sees the series' first occurrence.
    const link = (await inviteLink(n.page)).replace(/^https?:\/\/[^/]+/, old.url);
    await join(o.page, link, 'Old build');
    await o.page.goto(`${old.url}/#/week/${MONDAYS[0]}`);
    const oldEvent = o.page.locator('main').getByRole('button', { name: /^Stand-up/ });
    await expect(oldEvent).toBeVisible({ timeout: SYNC_MS });
    await oldEvent.click();
    const oldDialog = o.page.getByRole('dialog', { name: 'Event' });
    await oldDialog.getByLabel('Title').fill('Team stand-up');
    await oldDialog.getByRole('button', { name: 'Save' }).click();
    await expect(oldDialog).toBeHidden();
    await expect(o.page.getByRole('status', { name: 'Sync status' })).toContainText('Synced', {
      timeout: SYNC_MS,
    });

    // Today's build: the new title on every occurrence, the rule and the override intact.
    await expect
      .poll(async () => (await week(n.page, MONDAYS[0]!)).join('|'), { timeout: SYNC_MS })
      .toContain('Team stand-up');
    for (const [i, day] of MONDAYS.entries()) {
      const got = await week(n.page, day);
      expect(got, day).toHaveLength(1);
      expect(got[0], day).toContain('Team stand-up');
      if (i === 2) expect(got[0]).toContain('Room 7');
      else expect(got[0]).not.toContain('Room 7');
    }
  } finally {
    await n.context.close();
    await o.context.close();
    await old.close();
  }
});
