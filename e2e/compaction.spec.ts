// A new device joins a large calendar (issue 14): device A imports thousands of events into a
// calendar of its own, its engine host seals a snapshot by itself once caught up (SNAP-14) and
// the relay stores it (SYNC-13); device B joins by A's share link and starts from that snapshot
// plus the tail (SYNC-15): it shows the events, and its sync status says it started from a
// snapshot and downloaded a small fraction of the calendar's ops. A, the only member, endorses its
// own snapshot and prunes the ops it covers (SNAP-16), and still shows them after a reload.
import { expect, test } from '@playwright/test';
import { ARCHIVE_DAY as DAY, importArchive } from './compaction.helpers.ts';
import { inviteLink, join, newDevice, SYNC_MS, syncStatus, waitSynced } from './devices-ui.helpers.ts';
import { eventButton, openView } from './ui-helpers.ts';

const EVENTS = 3000;

test('[SYNC-15][SNAP-14][SNAP-16] a new device joins a large calendar from a snapshot plus the tail; the maker prunes', async ({
  browser,
}) => {
  test.setTimeout(360_000);
  const a = await newDevice(browser);
  const b = await newDevice(browser);
  try {
    await openView(a.page, 'week', DAY);
    // A is the only member of Archive: its own snapshot is trusted alone (SNAP-5). It seals one by
    // itself once caught up (SNAP-14); the relay says when it is stored.
    await importArchive(a, 'Archive', EVENTS);
    // SNAP-16: A endorses its own snapshot, is the only member (nobody else must certify) and
    // prunes the ops it covers in one IndexedDB commit; what A shows does not change, after a
    // reload too.
    await expect(syncStatus(a.page)).toHaveAttribute('data-ops-pruned', /^[1-9]/, { timeout: 60_000 });
    await a.page.reload();
    await openView(a.page, 'week', DAY);
    await expect(eventButton(a.page, 'Entry 0')).toBeVisible({ timeout: SYNC_MS });
    await openView(a.page, 'week', '2026-11-10');
    await expect(eventButton(a.page, 'Entry 14')).toBeVisible({ timeout: SYNC_MS });

    const link = await inviteLink(a.page, 'Archive', 'Can edit');
    await waitSynced(a.page);
    await join(b.page, link, 'Phone B');
    await openView(b.page, 'week', DAY);
    await expect(eventButton(b.page, 'Entry 0')).toBeVisible({ timeout: SYNC_MS });
    await openView(b.page, 'week', '2026-11-10');
    await expect(eventButton(b.page, 'Entry 14')).toBeVisible({ timeout: SYNC_MS });
    await waitSynced(b.page);
    // Observable: B started from a snapshot and downloaded a small part of the history.
    const status = syncStatus(b.page);
    await expect(status).toHaveAttribute('data-snapshot-starts', '1');
    const downloaded = Number(await status.getAttribute('data-ops-downloaded'));
    expect(downloaded).toBeLessThan(EVENTS / 10);
  } finally {
    await a.context.close();
    await b.context.close();
  }
});
