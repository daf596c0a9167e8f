// Re-syncing a calendar that diverged from its snapshot, in the browser (SNAP-18, SYNC-16): A, B
// and D share a calendar; B goes offline and edits; A imports events, and A's or D's engine host
// seals a snapshot that the other endorses (SNAP-14, SNAP-15); C joins by link and starts from it
// (SYNC-15). B comes back: C's engine refuses B's offline edits (SNAP-7), notices, refills the
// calendar from the relay beside its copy and re-bases it in one IndexedDB commit; C then shows
// exactly what A shows, B's edits included, also after a reload.
import { expect, type Page, test } from '@playwright/test';
import {
  addCalendar,
  createIn,
  editTitle,
  inviteLink,
  join,
  newDevice,
  SYNC_MS,
  syncStatus,
  waitSynced,
} from './devices-ui.helpers.ts';
import { eventButton, openView } from './ui-helpers.ts';

const DAY = '2026-11-24';
const EVENTS = 120;

/** EVENTS events on the days before DAY (enough ops for a snapshot, SNAP-14). */
function ics(): string {
  const day = Date.parse(`${DAY}T00:00:00Z`);
  const events = Array.from({ length: EVENTS }, (_, i) => {
    const d = new Date(day - (i + 7) * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    return [
      'BEGIN:VEVENT',
      `UID:old-${i}@test`,
      'DTSTAMP:20261101T000000Z',
      `DTSTART;TZID=Europe/Berlin:${d}T090000`,
      `DTEND;TZID=Europe/Berlin:${d}T100000`,
      `SUMMARY:Old ${i}`,
      'END:VEVENT',
    ].join('\r\n');
  });
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...events, 'END:VCALENDAR', ''].join(
    '\r\n',
  );
}

/** The events shown in the week of DAY, by their accessible names. */
async function shown(page: Page): Promise<string[]> {
  await openView(page, 'week', DAY);
  const names = await page
    .locator('main')
    .getByRole('button')
    .evaluateAll((els) =>
      els
        .map((e) => e.getAttribute('aria-label') ?? e.textContent ?? '')
        .filter((n) => /Dentist|Swim|Lunch/.test(n)),
    );
  return names.sort();
}

test('[SNAP-18][SYNC-16] a device that joined from a snapshot re-syncs when a member offline since before it returns, and shows what the others show', async ({
  browser,
}) => {
  test.setTimeout(300_000);
  const a = await newDevice(browser);
  const b = await newDevice(browser);
  const d = await newDevice(browser);
  const c = await newDevice(browser);
  try {
    await openView(a.page, 'week', DAY);
    await addCalendar(a, 'Family');
    await createIn(a, 'Family', 'Dentist', `${DAY}T09:00`, `${DAY}T10:00`);
    await createIn(a, 'Family', 'Lunch', `${DAY}T12:00`, `${DAY}T13:00`);
    await join(b.page, await inviteLink(a.page, 'Family', 'Can edit'), 'Phone B');
    await waitSynced(b.page);
    await join(d.page, await inviteLink(a.page, 'Family', 'Can edit'), 'Laptop D');
    await waitSynced(d.page);
    await waitSynced(b.page);

    // B goes offline and edits: concurrent with everything A does from here on.
    await b.context.setOffline(true);
    await b.page.waitForFunction(() => document.querySelector('.sync-offline') !== null, undefined, {
      timeout: SYNC_MS,
    });
    await openView(b.page, 'week', DAY);
    await editTitle(b.page, /Dentist/, 'Dentist by B offline');
    await createIn(b, 'Family', 'Swim by B offline', `${DAY}T15:00`, `${DAY}T16:00`);

    // A edits the same event and imports enough events for a snapshot.
    await openView(a.page, 'week', DAY);
    await editTitle(a.page, /Dentist/, 'Dentist by A');
    await a.page.getByRole('button', { name: 'Import', exact: true }).click();
    const dialog = a.page.getByRole('dialog', { name: 'Import' });
    await dialog.getByLabel('Calendar', { exact: true }).selectOption({ label: 'Family' });
    await dialog
      .getByLabel('Calendar file (.ics)')
      .setInputFiles({ name: 'old.ics', mimeType: 'text/calendar', buffer: Buffer.from(ics()) });
    await expect(dialog.getByText(new RegExp(`${EVENTS} events`))).toBeVisible({ timeout: SYNC_MS });
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await expect(dialog).toBeHidden({ timeout: 60_000 });
    await waitSynced(a.page);
    await waitSynced(d.page);
    // A or D seals a snapshot once caught up (SNAP-14); the other endorses it (SNAP-15).
    await expect
      .poll(
        async () =>
          Number((await syncStatus(a.page).getAttribute('data-snapshot-uploads')) ?? 0) +
          Number((await syncStatus(d.page).getAttribute('data-snapshot-uploads')) ?? 0),
        { timeout: 60_000 },
      )
      .toBeGreaterThan(0);

    // C joins and starts from the snapshot (retrying the join is not needed: the endorsement
    // follows the upload at once; a start from the whole history would fail the check below).
    await a.page.waitForTimeout(3000);
    await join(c.page, await inviteLink(a.page, 'Family', 'Can edit'), 'Tablet C');
    await waitSynced(c.page);
    await expect(syncStatus(c.page)).toHaveAttribute('data-snapshot-starts', '1');
    await openView(c.page, 'week', DAY);
    await expect(eventButton(c.page, 'Dentist by A')).toBeVisible({ timeout: SYNC_MS });
    await expect(eventButton(c.page, 'Swim by B offline')).toHaveCount(0);

    // B returns: its edits reach A and D; C refuses them (SNAP-7), re-syncs and re-bases.
    await b.context.setOffline(false);
    await waitSynced(b.page);
    await openView(a.page, 'week', DAY);
    await expect(eventButton(a.page, 'Swim by B offline')).toBeVisible({ timeout: SYNC_MS });
    await expect(syncStatus(c.page)).toHaveAttribute('data-rebased', /^[1-9]/, { timeout: 60_000 });
    await waitSynced(c.page);
    await waitSynced(a.page);
    await openView(c.page, 'week', DAY);
    await expect(eventButton(c.page, 'Swim by B offline')).toBeVisible({ timeout: SYNC_MS });
    const onA = await shown(a.page);
    expect(onA.length).toBeGreaterThanOrEqual(3);
    expect(onA.some((n) => n.includes('Swim by B offline'))).toBe(true);
    expect(await shown(c.page)).toEqual(onA);
    expect(await shown(b.page)).toEqual(onA);
    expect(await shown(d.page)).toEqual(onA);
    // The re-based calendar is what IndexedDB holds: the same after a reload.
    await c.page.reload();
    await waitSynced(c.page);
    expect(await shown(c.page)).toEqual(onA);
  } finally {
    for (const x of [a, b, c, d]) await x.context.close();
  }
});
