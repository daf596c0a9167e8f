// The Devices page, its dialogs and the join page over a test double of CalendarClient
// (e2e/devices-ui-fake.entry.tsx, bundled here with esbuild and served by request interception):
// accessible names, keyboard use, axe, and every join outcome. The real two-device flow is in
// e2e/devices-ui.spec.ts.
import { readFileSync } from 'node:fs';
import AxeBuilder from '@axe-core/playwright';
import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
let bundle: Promise<Map<string, string>> | undefined;

function bundles(): Promise<Map<string, string>> {
  bundle ??= build({
    entryPoints: { app: `${root}e2e/devices-ui-fake.entry.tsx` },
    bundle: true,
    splitting: true,
    format: 'esm',
    target: 'es2022',
    jsx: 'automatic',
    write: false,
    outdir: '/__dui',
    define: { __BUILD_ID__: '"fake"', 'import.meta.env': '{"PROD":false,"BASE_URL":"/"}' },
    logLevel: 'silent',
  }).then((r) => new Map(r.outputFiles.map((f) => [f.path.replace(/^\/__dui\//, ''), f.text])));
  return bundle;
}

const PAGE = `<!doctype html><html lang="en"><meta charset="utf-8"><title>Ledgerday</title>
<style>${readFileSync(`${root}src/ui/styles.css`, 'utf8')}</style>
<body><div id="root"></div><script type="module" src="/__dui/app.js"></script></body></html>`;

async function serve(context: BrowserContext): Promise<void> {
  const files = await bundles();
  await context.route('**/__dui/**', (route) => {
    const path = new URL(route.request().url()).pathname.replace(/^\/__dui\/?/, '');
    if (path === '') return route.fulfill({ status: 200, contentType: 'text/html', body: PAGE });
    const body = files.get(path);
    if (body === undefined) return route.fulfill({ status: 404, body: 'not found' });
    return route.fulfill({ status: 200, contentType: 'text/javascript', body });
  });
}

test.use({ locale: 'en-US', timezoneId: 'Europe/Berlin', viewport: { width: 1280, height: 900 } });
test.beforeEach(async ({ context }) => serve(context));

type Call = { method: string; args: unknown[] };
const calls = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { fake: { calls: Call[] } }).fake.calls);
const called = async (page: Page, method: string) => (await calls(page)).filter((c) => c.method === method);

async function axe(page: Page, label: string): Promise<string[]> {
  const r = await new AxeBuilder({ page }).analyze();
  const bad = r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of bad)
    console.log(
      `[${label}] ${v.impact} ${v.id}: ${v.help} -> ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`,
    );
  return bad.map((v) => `${label}: ${v.id}`);
}

function memberRow(page: Page, calendar: string, device: string) {
  return page
    .getByRole('list', { name: `Devices of ${calendar}` })
    .getByRole('listitem')
    .filter({ hasText: device });
}

test('the Devices page lists this device and every calendar’s members; axe-clean', async ({ page }) => {
  await page.goto('/__dui/#/week/2026-11-24');
  await page.getByRole('button', { name: 'Devices' }).click();
  await expect(page).toHaveURL(/#\/devices$/);
  await expect(page.getByRole('heading', { name: 'Devices and sharing' })).toBeFocused();
  await expect(page.getByRole('button', { name: 'Devices' })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByLabel('Device name')).toHaveValue('Laptop');
  await expect(page.getByText('7K2M-Q9TX-4HDA-R1CE').first()).toBeVisible();

  const me = memberRow(page, 'Work', 'Laptop');
  await expect(me.getByText('This device')).toBeVisible();
  await expect(me.getByRole('button', { name: 'Remove' })).toHaveCount(0);
  const friend = memberRow(page, 'Work', 'Sam’s tablet');
  await expect(friend).toContainText('R1CE-4HDA-Q9TX-7K2M');
  await expect(friend).toContainText('Last seen');
  await expect(friend).toContainText('Never');
  await expect(memberRow(page, 'Personal', 'Phone')).toContainText('5 min ago');
  // This device is listed first.
  await expect(
    page.getByRole('list', { name: 'Devices of Personal' }).getByRole('listitem').first(),
  ).toContainText('This device');
  expect(await axe(page, 'devices page')).toEqual([]);

  // Back/forward between the calendar and the page.
  await page.goBack();
  await expect(page).toHaveURL(/#\/week\/2026-11-24$/);
  await expect(page.getByRole('button', { name: 'Week' })).toHaveAttribute('aria-pressed', 'true');
  await page.goForward();
  await expect(page.getByRole('heading', { name: 'Devices and sharing' })).toBeVisible();
  // A view switch leaves the page.
  await page.getByRole('button', { name: 'Month' }).click();
  await expect(page).toHaveURL(/#\/month\/2026-11-24$/);
});

test('renaming this device', async ({ page }) => {
  await page.goto('/__dui/#/devices');
  const name = page.getByLabel('Device name');
  await expect(name).toHaveValue('Laptop');
  await expect(page.getByRole('button', { name: 'Save name' })).toBeDisabled();
  await name.fill('  Work\tlaptop  ');
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(page.getByText('Name saved.')).toBeVisible();
  expect((await called(page, 'setDeviceName')).map((c) => c.args[0])).toEqual(['Work laptop']);
  await expect(name).toHaveValue('Work laptop');
});

test('[UX-5] Add device and Share show a one-time link, a QR code and the expiry; axe-clean', async ({
  page,
  context,
}) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto('/__dui/#/devices');
  await page.getByRole('button', { name: 'Add device' }).click();
  const add = page.getByRole('dialog', { name: 'Add device' });
  await expect(add).toBeVisible();
  const link = add.getByLabel('Invite link');
  await expect(link).toHaveValue(/\/#\/join\/device-/);
  await expect(add.getByRole('img', { name: /QR code/ })).toBeVisible();
  await expect(add).toContainText(/Expires in 24 hours/);
  await expect(add).toContainText('one-time secret');
  await expect(add).toContainText('“Personal”, “Work”');
  // Focus starts on "Copy link"; Enter copies.
  await expect(add.getByRole('button', { name: 'Copy link' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(add.getByText('Link copied.')).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(await link.inputValue());
  expect(await axe(page, 'add device dialog')).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(add).toBeHidden();
  await expect(page.getByRole('button', { name: 'Add device' })).toBeFocused();
  const inv = await called(page, 'createInvite');
  expect(inv).toHaveLength(1); // one invite per opening, StrictMode included
  expect(inv[0]!.args[1]).toBeUndefined(); // every calendar

  await page.getByRole('region', { name: 'Work' }).getByRole('button', { name: 'Share' }).click();
  const share = page.getByRole('dialog', { name: 'Share calendar' });
  await expect(share).toBeVisible();
  await expect(share.getByRole('heading', { name: 'Share “Work”' })).toBeVisible();
  await expect(share.getByLabel('Invite link')).toHaveValue(/\/#\/join\/share-/);
  await expect(share.getByRole('img', { name: /QR code/ })).toBeVisible();
  await expect(share).toContainText('your other calendars stay private');
  expect(await axe(page, 'share dialog')).toEqual([]);
  await share.getByRole('button', { name: 'Done' }).click();
  expect((await called(page, 'createInvite'))[1]!.args[1]).toEqual(['cal-work']);
});

test('[UX-6] Remove asks first, says what removal means, and removes', async ({ page }) => {
  await page.goto('/__dui/#/devices');
  const row = memberRow(page, 'Work', 'Sam’s tablet');
  await row.getByRole('button', { name: 'Remove' }).click();
  const dlg = page.getByRole('dialog', { name: 'Remove device' });
  await expect(dlg).toBeVisible();
  await expect(dlg).toContainText('can still read everything it already had');
  await expect(dlg).toContainText('encrypted with a new key that it does not get');
  await expect(dlg.getByRole('button', { name: 'Cancel' })).toBeFocused();
  expect(await axe(page, 'remove dialog')).toEqual([]);
  await page.keyboard.press('Escape');
  await expect(dlg).toBeHidden();
  expect(await called(page, 'removeDevice')).toEqual([]);

  await row.getByRole('button', { name: 'Remove' }).click();
  await dlg.getByRole('button', { name: 'Remove' }).click();
  await expect(dlg).toBeHidden();
  await expect(row).toHaveCount(0);
  await expect(memberRow(page, 'Personal', 'Phone')).toHaveCount(1); // other calendars untouched
  expect((await called(page, 'removeDevice')).map((c) => c.args)).toEqual([['cal-work', 'cc'.repeat(32)]]);
  await expect(page.getByText('Removed Sam’s tablet from “Work”')).toBeVisible();
});

test('[ROLE-2] a manager changes a role from the Devices page; Share offers Can view / Can edit / Can manage', async ({
  page,
}) => {
  await page.goto('/__dui/#/devices');
  const select = memberRow(page, 'Work', 'Sam’s tablet').getByRole('combobox', {
    name: 'Role of Sam’s tablet',
  });
  await expect(select).toHaveValue('editor');
  await expect(memberRow(page, 'Work', 'Laptop')).toContainText('Can manage'); // this device: text, no select
  await select.selectOption({ label: 'Can view' });
  await expect(page.getByText('Sam’s tablet now: Can view')).toBeVisible();
  expect((await called(page, 'setRole')).map((c) => c.args)).toEqual([
    ['cal-work', 'cc'.repeat(32), 'viewer'],
  ]);
  await expect(select).toHaveValue('viewer');
  await page.getByRole('region', { name: 'Work' }).getByRole('button', { name: 'Share' }).click();
  const share = page.getByRole('dialog', { name: 'Share calendar' });
  await share.getByRole('radio', { name: 'Can manage' }).check();
  await expect(share.getByLabel('Invite link')).toHaveValue(/\/#\/join\/share-/);
  await expect.poll(async () => (await called(page, 'createInvite')).at(-1)?.args[3]).toBe('manager');
  expect((await called(page, 'createInvite'))[0]!.args[3]).toBe('editor');
  expect(await axe(page, 'share roles')).toEqual([]);
});

test('[PER-4][PER-6] devices grouped by person; Remove from all calendars asks first, then removes my device everywhere', async ({
  page,
}) => {
  await page.goto('/__dui/#/devices');
  const yours = page.getByRole('list', { name: 'Your devices' });
  await expect(yours.getByRole('listitem')).toHaveCount(2);
  await expect(yours.getByRole('listitem').first()).toContainText('This device');
  // In a calendar: my devices under "You", the other person's under their own heading.
  const work = page.getByRole('region', { name: 'Work' });
  await expect(work.getByRole('heading', { name: 'You' })).toBeVisible();
  await expect(work.getByRole('heading', { name: 'Another person (Sam’s tablet)' })).toBeVisible();
  await expect(work.getByRole('list', { name: 'Devices of Work: You' }).getByRole('listitem')).toHaveCount(2);
  await expect(
    work.getByRole('list', { name: 'Devices of Work: Another person (Sam’s tablet)' }).getByRole('listitem'),
  ).toHaveCount(1);
  // The other person's device is not mine: no "Remove from all calendars" for it anywhere.
  await expect(work.getByRole('button', { name: 'Remove from all calendars' })).toHaveCount(0);

  const phone = yours.getByRole('listitem').filter({ hasText: 'Phone' });
  await phone.getByRole('button', { name: 'Remove from all calendars' }).click();
  const dlg = page.getByRole('dialog', { name: 'Remove from all calendars' });
  await expect(dlg).toBeVisible();
  await expect(dlg).toContainText('finished by your other devices');
  await expect(dlg).toContainText('new keys that it does not get');
  await expect(dlg.getByRole('button', { name: 'Cancel' })).toBeFocused();
  expect(await axe(page, 'remove from all calendars dialog')).toEqual([]);
  await dlg.getByRole('button', { name: 'Remove from all calendars' }).click();
  await expect(dlg).toBeHidden();
  await expect(page.getByText('Removed Phone from all calendars')).toBeVisible();
  await expect(yours.getByRole('listitem')).toHaveCount(1);
  await expect(memberRow(page, 'Personal', 'Phone')).toHaveCount(0);
  await expect(memberRow(page, 'Work', 'Phone')).toHaveCount(0);
  expect((await called(page, 'removeMyDevice')).map((c) => c.args)).toEqual([['bb'.repeat(32)]]);
});

test('[PER-2] an Add device link says on the join page what linking a device means', async ({ page }) => {
  const payload = Buffer.from([2, 1, ...new Array(80).fill(7)]).toString('base64url');
  await page.goto(`/__dui/#/join/${payload}`);
  await expect(page.getByRole('heading', { name: 'Join calendar(s)' })).toBeVisible();
  const note = page.getByRole('note', { name: 'Add device link' });
  await expect(note).toContainText('one of the devices of the person who made the link');
  await expect(note).toContainText('Open it only if you made it yourself');
  expect(await axe(page, 'join page, device link')).toEqual([]);
  const share = Buffer.from([1, 1, ...new Array(80).fill(7)]).toString('base64url');
  await page.goto(`/__dui/#/join/${share}`);
  await expect(page.getByRole('heading', { name: 'Join calendar(s)' })).toBeVisible();
  await expect(page.getByRole('note', { name: 'Add device link' })).toHaveCount(0);
});

test('Add device is disabled, with a reason, when there is no calendar', async ({ page }) => {
  await page.goto('/__dui/?empty=1#/devices');
  await expect(page.getByRole('button', { name: 'Add device' })).toBeDisabled();
  await expect(page.getByText('No calendars on this device yet.')).toBeVisible();
});

test('[UX-1][UX-2] a join link waits for Join, shows progress, then the calendar; the secret leaves the history', async ({
  page,
}) => {
  await page.goto('/__dui/?join=hold&unnamed=1#/week/2026-11-24');
  await page.evaluate(() => {
    location.hash = '#/join/share-7-Zm9vYmFyYmF6cXV4';
  });
  await expect(page.getByRole('heading', { name: 'Join calendar(s)' })).toBeVisible();
  // The name field suggests one from the browser for an unnamed device.
  await expect(page.getByLabel('Device name')).toHaveValue(/ on /);
  await page.waitForTimeout(300);
  expect(await called(page, 'acceptInvite')).toEqual([]); // a visited link does not act by itself
  expect(await axe(page, 'join page')).toEqual([]);

  await page.getByLabel('Device name').fill('Kitchen tablet');
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Joining' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Join', exact: true })).toHaveCount(0);
  await page.evaluate(() => (globalThis as unknown as { fake: { release: () => void } }).fake.release());
  await expect(page).toHaveURL(/#\/week\/\d{4}-\d{2}-\d{2}$/);
  await expect(page.getByText('Joined “Team”')).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'Team' })).toBeVisible();

  const accept = await called(page, 'acceptInvite');
  expect(accept).toHaveLength(1);
  expect(accept[0]!.args[0]).toMatch(/\/__dui\/\?join=hold&unnamed=1#\/join\/share-7-Zm9vYmFyYmF6cXV4$/);
  // The name was set before joining (it is sealed into the join op).
  const order = (await calls(page))
    .map((c) => c.method)
    .filter((m) => m === 'setDeviceName' || m === 'acceptInvite');
  expect(order).toEqual(['setDeviceName', 'acceptInvite']);
  // Back does not return to the link: its entry was replaced.
  await page.goBack();
  await expect(page).not.toHaveURL(/#\/join\//);
});

for (const [mode, title, retry] of [
  ['expired', 'This invite has expired', false],
  ['used', 'This invite was already used', false],
  ['invalid', 'This link is not a valid invite', false],
  ['offline', 'This device is offline', true],
  ['timeout', 'The server did not answer in time', true],
  ['broken', 'Joining did not finish', true],
] as const) {
  test(`[UX-4] a join that fails (${mode}) says so in an alert`, async ({ page }) => {
    await page.goto(`/__dui/?join=${mode}#/join/abcDEF123`);
    await page.getByRole('button', { name: 'Join', exact: true }).click();
    const alert = page.getByRole('alert').filter({ hasText: title });
    await expect(alert).toBeVisible();
    await expect(page.getByRole('button', { name: 'Try again' })).toHaveCount(retry ? 1 : 0);
    await expect(page).toHaveURL(/#\/join\/abcDEF123$/);
    if (mode === 'expired') expect(await axe(page, 'join error')).toEqual([]);
  });
}

test('[UX-3] a mangled join link is refused without asking the worker', async ({ page }) => {
  await page.goto('/__dui/#/join/abc(def)!');
  await expect(page.getByRole('alert').filter({ hasText: 'This link is not a valid invite' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Join', exact: true })).toHaveCount(0);
  await page.getByRole('button', { name: 'Back to the calendar' }).click();
  await expect(page).toHaveURL(/#\/week\//);
  expect(await called(page, 'acceptInvite')).toEqual([]);
  await page.goto('/__dui/#/join/');
  await expect(page.getByRole('alert').filter({ hasText: 'This link is not a valid invite' })).toBeVisible();
  expect(await called(page, 'acceptInvite')).toEqual([]);
});

test('keyboard only: reach Devices, open Add device, close it', async ({ page }) => {
  await page.goto('/__dui/#/week/2026-11-24');
  await expect(page.getByRole('button', { name: 'Devices' })).toBeVisible();
  // Tab through the top bar until the Devices button has focus.
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    if (await page.getByRole('button', { name: 'Devices' }).evaluate((el) => el === document.activeElement))
      break;
  }
  await expect(page.getByRole('button', { name: 'Devices' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { name: 'Devices and sharing' })).toBeFocused();
  for (let i = 0; i < 30; i++) {
    await page.keyboard.press('Tab');
    if (
      await page.getByRole('button', { name: 'Add device' }).evaluate((el) => el === document.activeElement)
    )
      break;
  }
  await page.keyboard.press('Enter');
  await expect(page.getByRole('dialog', { name: 'Add device' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Add device' })).toBeHidden();
});

test('dark colour scheme: the Devices page, Add device and the join page stay axe-clean', async ({
  page,
}) => {
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto('/__dui/#/devices');
  await expect(memberRow(page, 'Work', 'Sam’s tablet')).toBeVisible();
  const found = await axe(page, 'dark devices');
  await page.getByRole('button', { name: 'Add device' }).click();
  await expect(
    page.getByRole('dialog', { name: 'Add device' }).getByRole('img', { name: /QR code/ }),
  ).toBeVisible();
  found.push(...(await axe(page, 'dark add device')));
  await page.keyboard.press('Escape');
  await page.goto('/__dui/?join=expired#/join/abcDEF123');
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'expired' })).toBeVisible();
  found.push(...(await axe(page, 'dark join error')));
  expect(found).toEqual([]);
});
