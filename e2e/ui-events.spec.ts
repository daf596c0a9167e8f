// A user creates, edits, moves, resizes, deletes and undoes events in every view, by mouse and keyboard.
import { expect, test } from '@playwright/test';
import { createViaDialog, drag, eventButton, HOUR_PX, openView, settledBox, slot } from './ui-helpers.ts';

test.use({ locale: 'en-US', timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 900 } });

test('week view by mouse: drag to create, edit, drag to move, drag the edge to resize, delete, undo', async ({
  page,
}) => {
  await openView(page, 'week', '2026-11-24');
  await drag(page, await slot(page, '2026-11-24', 10 * 60), await slot(page, '2026-11-24', 11 * 60));
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('Start', { exact: true })).toHaveValue('2026-11-24T10:00');
  await expect(dialog.getByLabel('End', { exact: true })).toHaveValue('2026-11-24T11:00');
  await expect(dialog.getByLabel('Time zone')).toHaveValue('Europe/Berlin');
  await dialog.getByLabel('Title').fill('Design review');
  await dialog.getByRole('button', { name: 'Save' }).click();
  const ev = eventButton(page, 'Design review');
  await expect(ev).toHaveAccessibleName(/10:00 AM – 11:00 AM/);

  // Edit in the dialog.
  await ev.click();
  await dialog.getByLabel('Title').fill('Design review v2');
  await dialog.getByLabel('Location').fill('Room 4');
  await dialog.getByRole('button', { name: 'Save' }).click();
  const ev2 = eventButton(page, 'Design review v2');
  await expect(ev2).toHaveAccessibleName(/Room 4/);

  // Move: one day right and one hour down.
  const box = (await ev2.boundingBox())!;
  const from = { x: box.x + box.width / 2, y: box.y + 10 };
  const to = await slot(page, '2026-11-25', 0);
  await drag(page, from, { x: to.x, y: from.y + HOUR_PX });
  await expect(
    page.locator('.tg-col[data-date="2026-11-25"]').getByRole('button', { name: /^Design review v2/ }),
  ).toHaveAccessibleName(/11:00 AM – 12:00 PM/);
  await expect(page.getByText('Event moved')).toBeVisible();

  // Resize: drag the bottom edge down one hour.
  const b2 = await settledBox(ev2, (await slot(page, '2026-11-25', 11 * 60)).y);
  await drag(
    page,
    { x: b2.x + b2.width / 2, y: b2.y + b2.height - 3 },
    { x: b2.x + b2.width / 2, y: b2.y + b2.height - 3 + HOUR_PX },
  );
  await expect(ev2).toHaveAccessibleName(/11:00 AM – 1:00 PM/);

  // Undo the resize with the toast.
  await page.getByRole('button', { name: 'Undo', exact: true }).click();
  await expect(ev2).toHaveAccessibleName(/11:00 AM – 12:00 PM/);

  // Delete from the dialog, then undo.
  await ev2.click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(ev2).toHaveCount(0);
  await page.getByRole('button', { name: 'Undo', exact: true }).click();
  await expect(ev2).toBeVisible();

  // Everything survives a reload (it is in IndexedDB, not in React state).
  await page.reload();
  await expect(eventButton(page, 'Design review v2')).toHaveAccessibleName(/11:00 AM – 12:00 PM.*Room 4/);
});

test('week view by keyboard: n to create, Alt+arrows to move and resize, Delete, Ctrl+Z', async ({
  page,
}) => {
  await openView(page, 'week', '2026-11-24');
  await page.keyboard.press('n');
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel('Title')).toBeFocused();
  await page.keyboard.type('Standup');
  await dialog.getByLabel('Start', { exact: true }).fill('2026-11-24T09:00');
  await dialog.getByLabel('End', { exact: true }).fill('2026-11-24T09:30');
  await dialog.getByLabel('Title').press('Enter'); // submits the form
  await expect(dialog).toBeHidden();
  const ev = eventButton(page, 'Standup');
  await expect(ev).toHaveAccessibleName(/9:00 AM – 9:30 AM/);

  await ev.focus();
  await page.keyboard.press('Alt+ArrowDown');
  await expect(ev).toHaveAccessibleName(/9:15 AM – 9:45 AM/);
  await page.keyboard.press('Alt+ArrowRight');
  await expect(
    page.locator('.tg-col[data-date="2026-11-25"]').getByRole('button', { name: /^Standup/ }),
  ).toBeVisible();
  await expect(ev).toBeFocused();
  await page.keyboard.press('Alt+Shift+ArrowDown');
  await expect(ev).toHaveAccessibleName(/9:15 AM – 10:00 AM/);
  await page.keyboard.press('Control+z');
  await expect(ev).toHaveAccessibleName(/9:15 AM – 9:45 AM/);

  // Enter opens the dialog; edit by keyboard.
  await ev.focus();
  await page.keyboard.press('Enter');
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Title').fill('Standup (team)');
  await page.keyboard.press('Enter');
  const renamed = eventButton(page, 'Standup \\(team\\)');
  await expect(renamed).toBeVisible();

  await renamed.focus();
  await page.keyboard.press('Delete');
  await expect(renamed).toHaveCount(0);
  await page.keyboard.press('Control+z');
  await expect(renamed).toBeVisible();

  // Navigation shortcuts change the URL.
  await page.keyboard.press('j');
  await expect(page).toHaveURL(/#\/week\/2026-12-01$/);
  await page.keyboard.press('k');
  await expect(page).toHaveURL(/#\/week\/2026-11-24$/);
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Keyboard shortcuts' })).toBeHidden();
});

test('day view: click a slot to create, drag to move, resize, delete and undo', async ({ page }) => {
  await openView(page, 'day', '2026-11-24');
  const s = await slot(page, '2026-11-24', 14 * 60 + 10);
  await page.mouse.click(s.x, s.y);
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog.getByLabel('Start', { exact: true })).toHaveValue('2026-11-24T14:00');
  await expect(dialog.getByLabel('End', { exact: true })).toHaveValue('2026-11-24T15:00');
  await dialog.getByLabel('Title').fill('Dentist');
  await dialog.getByRole('button', { name: 'Save' }).click();
  const ev = eventButton(page, 'Dentist');
  await expect(ev).toHaveAccessibleName(/2:00 PM – 3:00 PM/);

  const b = (await ev.boundingBox())!;
  await drag(page, { x: b.x + 20, y: b.y + 10 }, { x: b.x + 20, y: b.y + 10 - HOUR_PX * 2 });
  await expect(ev).toHaveAccessibleName(/12:00 PM – 1:00 PM/);
  const b2 = await settledBox(ev, (await slot(page, '2026-11-24', 12 * 60)).y);
  await drag(
    page,
    { x: b2.x + 20, y: b2.y + b2.height - 3 },
    { x: b2.x + 20, y: b2.y + b2.height - 3 + HOUR_PX / 2 },
  );
  await expect(ev).toHaveAccessibleName(/12:00 PM – 1:30 PM/);

  await ev.focus();
  await page.keyboard.press('Alt+ArrowUp');
  await expect(ev).toHaveAccessibleName(/11:45 AM – 1:15 PM/);

  await ev.click();
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(ev).toHaveCount(0);
  await page.getByRole('button', { name: 'Undo', exact: true }).click();
  await expect(ev).toBeVisible();
});

test('month view: click a day to create, drag to another day, keyboard move and resize, delete and undo', async ({
  page,
}) => {
  await openView(page, 'month', '2026-11-24');
  await page.locator('.month-cell[data-date="2026-11-10"]').click({ position: { x: 60, y: 90 } });
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await expect(dialog.getByLabel('All day')).toBeChecked();
  await expect(dialog.getByLabel('Start', { exact: true })).toHaveValue('2026-11-10');
  await dialog.getByLabel('Title').fill('Conference');
  await dialog.getByLabel('End', { exact: true }).fill('2026-11-12');
  await dialog.getByRole('button', { name: 'Save' }).click();
  const ev = eventButton(page, 'Conference');
  await expect(ev).toBeVisible();

  // Drag the bar from the 10th to the 17th (same weekday, next row).
  const bar = await settledBox(ev);
  const target = (await page.locator('.month-cell[data-date="2026-11-17"]').boundingBox())!;
  await drag(
    page,
    { x: bar.x + 20, y: bar.y + bar.height / 2 },
    { x: target.x + 20, y: target.y + target.height - 10 },
  );
  await ev.click();
  await expect(dialog.getByLabel('Start', { exact: true })).toHaveValue('2026-11-17');
  await expect(dialog.getByLabel('End', { exact: true })).toHaveValue('2026-11-19');
  await dialog.getByRole('button', { name: 'Cancel' }).click();

  // Keyboard: a week earlier, then one day shorter.
  await ev.focus();
  await page.keyboard.press('Alt+ArrowUp');
  await page.keyboard.press('Alt+Shift+ArrowUp');
  await ev.click();
  await expect(dialog.getByLabel('Start', { exact: true })).toHaveValue('2026-11-10');
  await expect(dialog.getByLabel('End', { exact: true })).toHaveValue('2026-11-11');
  await dialog.getByRole('button', { name: 'Delete' }).click();
  await expect(ev).toHaveCount(0);
  await page.keyboard.press('Control+z');
  await expect(ev).toBeVisible();
});

test('agenda view: create by button, edit, keyboard move, delete and undo', async ({ page }) => {
  await openView(page, 'agenda', '2026-11-24');
  await createViaDialog(page, {
    title: 'Flight',
    start: '2026-11-26T07:00',
    end: '2026-11-26T09:30',
    location: 'BER',
  });
  const ev = eventButton(page, 'Flight');
  await expect(ev).toHaveAccessibleName(/7:00 AM – 9:30 AM, BER/);
  await expect(page.getByRole('heading', { name: 'Thursday, November 26, 2026' })).toBeVisible();

  await ev.click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await dialog.getByLabel('Notes').fill('Gate B12');
  await dialog.getByRole('button', { name: 'Save' }).click();
  // Save closes the dialog once the write is durable; until then the modal makes the page inert.
  await expect(dialog).toBeHidden();

  await ev.focus();
  await page.keyboard.press('Alt+ArrowRight');
  await expect(page.getByRole('heading', { name: 'Friday, November 27, 2026' })).toBeVisible();
  await expect(ev).toBeFocused();
  await page.keyboard.press('Alt+Shift+ArrowDown');
  await expect(ev).toHaveAccessibleName(/7:00 AM – 9:45 AM/);

  await page.keyboard.press('Delete');
  await expect(ev).toHaveCount(0);
  await page.getByRole('button', { name: 'Undo', exact: true }).click();
  await expect(ev).toBeVisible();

  // Search finds it by its notes.
  await page.keyboard.press('/');
  await expect(page.getByRole('searchbox', { name: 'Search' })).toBeFocused();
  await page.keyboard.type('b12');
  await expect(page.getByRole('button', { name: /Flight/ })).toBeVisible();
});

test('the URL keeps view and date across reload and back/forward; views switch by name', async ({ page }) => {
  await openView(page, 'week', '2026-11-24');
  await page.getByRole('button', { name: 'Month', exact: true }).click();
  await expect(page).toHaveURL(/#\/month\/2026-11-24$/);
  await page.getByRole('button', { name: 'Next', exact: true }).click();
  await expect(page).toHaveURL(/#\/month\/2026-12-24$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('December 2026');
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('December 2026');
  await page.goBack();
  await expect(page).toHaveURL(/#\/month\/2026-11-24$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('November 2026');
  await page.goBack();
  await expect(page).toHaveURL(/#\/week\/2026-11-24$/);
  await page.getByRole('button', { name: 'Day', exact: true }).click();
  await page.getByRole('button', { name: 'Previous', exact: true }).click();
  await expect(page).toHaveURL(/#\/day\/2026-11-23$/);
  await page.getByRole('button', { name: 'Agenda', exact: true }).click();
  await expect(page).toHaveURL(/#\/agenda\/2026-11-23$/);
  // The mini month jumps.
  await page.getByRole('button', { name: 'November 5, 2026', exact: true }).click();
  await expect(page).toHaveURL(/#\/agenda\/2026-11-05$/);
  // A malformed route falls back to a valid one instead of breaking.
  await page.goto('/#/week/2026-02-30');
  await expect(page).toHaveURL(/#\/week\/\d{4}-\d{2}-\d{2}$/);
  await page.getByRole('button', { name: 'Today', exact: true }).click();
});

test('calendars: create one, file an event in it, hide and show it; an event from another zone shows both times', async ({
  page,
}) => {
  await openView(page, 'week', '2026-11-24');
  await createViaDialog(page, { title: 'Seed', start: '2026-11-23T08:00', end: '2026-11-23T09:00' });
  await page.getByRole('button', { name: '+ Add calendar' }).click();
  await page.getByLabel('Name', { exact: true }).fill('Work');
  await page.getByRole('button', { name: 'Create calendar' }).click();
  await expect(page.getByRole('checkbox', { name: 'Work' })).toBeChecked();

  await page.getByRole('button', { name: 'New event' }).click();
  const dialog = page.getByRole('dialog', { name: 'Event' });
  await dialog.getByLabel('Title').fill('NY call');
  await dialog.getByLabel('Start', { exact: true }).fill('2026-11-24T09:00');
  await dialog.getByLabel('End', { exact: true }).fill('2026-11-24T10:00');
  await dialog.getByLabel('Time zone').selectOption('America/New_York');
  await dialog.getByLabel('Calendar').selectOption({ label: 'Work' });
  await dialog.getByRole('button', { name: 'Save' }).click();
  const ev = eventButton(page, 'NY call');
  // 09:00 in New York is 15:00 in Berlin; both are shown.
  await expect(ev).toHaveAccessibleName(
    /3:00 PM – 4:00 PM \(9:00 AM – 10:00 AM EST, America\/New_York\).*Work/,
  );

  await page.getByRole('checkbox', { name: 'Work' }).uncheck();
  await expect(ev).toHaveCount(0);
  await expect(eventButton(page, 'Seed')).toBeVisible();
  await page.getByRole('checkbox', { name: 'Work' }).check();
  await expect(ev).toBeVisible();

  // Changing the display zone moves where it is drawn, not when it is.
  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByRole('combobox', { name: 'Display time zone' }).fill('New York');
  await page
    .getByRole('listbox')
    .getByRole('option', { name: /America\/New_York/ })
    .click();
  await page.getByRole('button', { name: 'Done' }).click();
  await expect(ev).toHaveAccessibleName(/^NY call, 9:00 AM – 10:00 AM, Work$/);
});
