// Installability (Chromium's own check over CDP in a persistent profile) and the update prompt when
// a new build is deployed (two builds with different build ids, swapped under a running app).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type BrowserContext, chromium, expect, test } from '@playwright/test';
import { type StaticServer, serveStatic } from './pwa-static-server.ts';

const executablePath = process.env['PLAYWRIGHT_CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, '.cache', 'e2e-pwa');

function build(id: string): string {
  const outDir = join(OUT, id);
  const r = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'vite'),
    ['build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'warn'],
    {
      cwd: ROOT,
      env: { ...process.env, LEDGERDAY_BUILD_ID: id },
      encoding: 'utf8',
    },
  );
  if (r.status !== 0) throw new Error(`vite build failed: ${r.stderr}`);
  return outDir;
}

test.describe.configure({ mode: 'serial' });

let v1: string;
let v2: string;
let server: StaticServer;
let profile: string;
let context: BrowserContext;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  v1 = build('e2e-v1');
  v2 = build('e2e-v2');
  server = await serveStatic(v1);
});

test.afterAll(async () => {
  await context?.close();
  await server?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

test('Chromium reports the app installable (no Page.getInstallabilityErrors)', async () => {
  profile = mkdtempSync(join(tmpdir(), 'ledgerday-pwa-'));
  context = await chromium.launchPersistentContext(profile, { executablePath, args: ARGS, locale: 'en-US' });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(`${server.url}/#/week/2026-11-24`);
  await expect(page.getByRole('status', { name: 'Sync status' })).toBeVisible();
  await page.evaluate(async () => {
    await navigator.serviceWorker.ready;
  });
  const cdp = await context.newCDPSession(page);
  const manifest = (await cdp.send('Page.getAppManifest')) as { errors: unknown[]; url: string };
  expect(manifest.errors).toEqual([]);
  expect(manifest.url).toMatch(/manifest\.webmanifest$/);
  // Installability needs the manifest's icons fetched; poll briefly rather than race it.
  await expect
    .poll(
      async () =>
        ((await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: unknown[] })
          .installabilityErrors,
      {
        timeout: 15_000,
      },
    )
    .toEqual([]);
  // The help dialog shows which build is running.
  await page.keyboard.press('?');
  await expect(page.getByText('Build e2e-v1')).toBeVisible();
  await page.keyboard.press('Escape');
});

test('deploying a new build shows "Update available" and Reload switches to it', async () => {
  const page = context.pages()[0]!;
  server.setRoot(v2);
  await page.reload();
  const prompt = page.getByRole('alertdialog', { name: 'Update available' });
  await expect(prompt).toBeVisible({ timeout: 20_000 });
  // Until the user chooses, the old build keeps running.
  await page.keyboard.press('?');
  await expect(page.getByText('Build e2e-v1')).toBeVisible();
  await page.keyboard.press('Escape');
  const reloaded = page.waitForEvent('framenavigated');
  await prompt.getByRole('button', { name: 'Reload' }).click();
  await reloaded;
  await page.waitForLoadState('load');
  await expect(page.getByRole('status', { name: 'Sync status' })).toBeVisible();
  // Open help by its button: a key press can land before the reloaded app listens for it.
  await page.getByRole('button', { name: 'Keyboard shortcuts' }).click();
  await expect(page.getByText('Build e2e-v2')).toBeVisible({ timeout: 15_000 });
});
