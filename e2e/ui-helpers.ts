// Shared steps for the UI specs: open a view at a fixed date, drag on the time grid, find events.
import { expect, type Locator, type Page } from '@playwright/test';

export const HOUR_PX = 48;

export async function openView(page: Page, view: string, date: string): Promise<void> {
  await page.goto(`/#/${view}/${date}`);
  await expect(page.getByRole('status', { name: 'Sync status' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'New event' })).toBeEnabled();
}

export function eventButton(page: Page, title: string): Locator {
  return page.locator('main').getByRole('button', { name: new RegExp(`^${title}(,|$)`) });
}

/** Page coordinates of minute `min` (from midnight) in the grid column of `date`. */
export async function slot(page: Page, date: string, min: number): Promise<{ x: number; y: number }> {
  const col = page.locator(`.tg-col[data-date="${date}"]`);
  const box = await col.boundingBox();
  if (!box) throw new Error(`no column for ${date}`);
  return { x: box.x + box.width / 2, y: box.y + (min / 60) * HOUR_PX };
}

/**
 * An event block's box once it stays put: the label can change (optimistic times) a frame before
 * the block moves, so a drag that starts from a box read too early grabs the wrong spot.
 */
export async function settledBox(
  locator: Locator,
  top?: number,
): Promise<{ x: number; y: number; width: number; height: number }> {
  let last = '';
  let box: { x: number; y: number; width: number; height: number } | null = null;
  await expect
    .poll(
      async () => {
        box = await locator.boundingBox();
        const now = JSON.stringify(box);
        const same = now === last && box !== null && (top === undefined || Math.abs(box.y - top) < 3);
        last = now;
        return same;
      },
      { intervals: [100, 100, 200], timeout: 5000 },
    )
    .toBe(true);
  return box!;
}

export async function drag(
  page: Page,
  from: { x: number; y: number },
  to: { x: number; y: number },
): Promise<void> {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.mouse.move(from.x + (to.x - from.x) / 2, from.y + (to.y - from.y) / 2, { steps: 4 });
  await page.mouse.move(to.x, to.y, { steps: 4 });
  await page.mouse.up();
}

export async function createViaDialog(
  page: Page,
  f: { title: string; start?: string; end?: string; allDay?: boolean; location?: string },
): Promise<void> {
  await page.getByRole('button', { name: 'New event' }).click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog).toBeVisible();
  if (f.allDay) await dialog.getByLabel('All day').check();
  await dialog.getByLabel('Title').fill(f.title);
  if (f.start) await dialog.getByLabel('Start', { exact: true }).fill(f.start);
  if (f.end) await dialog.getByLabel('End', { exact: true }).fill(f.end);
  if (f.location) await dialog.getByLabel('Location').fill(f.location);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(dialog).toBeHidden();
}
