// The month grid the host lays out (UI-18), in the app: a full day says "N more", the bars it
// shows plus N are the day's full list (which "N more" opens), and a multi-day event is one bar
// per week row.
import { expect, test } from '@playwright/test';
import { createViaDialog, eventButton, openView } from './ui-helpers.ts';

test('[UI-18] a full day shows its first events and "N more"; N more opens the day with all of them', async ({
  page,
}) => {
  await page.setViewportSize({ width: 1280, height: 560 });
  await openView(page, 'month', '2026-11-24');
  const titles = ['A1', 'A2', 'A3', 'A4', 'A5', 'A6'];
  for (const [i, t] of titles.entries())
    await createViaDialog(page, {
      title: t,
      start: `2026-11-18T0${i + 1}:00`,
      end: `2026-11-18T0${i + 1}:30`,
    });
  // A trip from a Saturday to a Tuesday crosses a week row (Sunday-first weeks in en-US).
  await createViaDialog(page, { title: 'Trip', start: '2026-11-14', end: '2026-11-17', allDay: true });

  const more = page
    .locator('.month-cell[data-date="2026-11-18"]')
    .getByRole('button', { name: /^\d+ more$/ });
  await expect(more).toBeVisible();
  const n = Number((await more.textContent())!.split(' ')[0]);
  let shown = 0;
  for (const t of titles) shown += await eventButton(page, t).count();
  expect(shown).toBeGreaterThan(0);
  // In time order: the first ones are shown, the rest are counted.
  for (const [i, t] of titles.entries()) await expect(eventButton(page, t)).toHaveCount(i < shown ? 1 : 0);
  expect(shown + n).toBe(titles.length);
  await expect(eventButton(page, 'Trip')).toHaveCount(2);

  await more.click();
  await expect(page).toHaveURL(/#\/day\/2026-11-18$/);
  for (const t of titles) await expect(eventButton(page, t)).toBeVisible();
});
