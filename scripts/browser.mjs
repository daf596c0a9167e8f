// Finds a Chromium for Playwright on a machine where Playwright cannot download its own browser.
// Order: PLAYWRIGHT_CHROMIUM_PATH, CHROME_PATH, Playwright's own browser if present, /usr/bin/chromium.
// With `ensure`, installs Debian's chromium when none is found and we are root.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const CHROMIUM_ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];

async function playwrightOwnChromium() {
  try {
    const { chromium } = await import('playwright-core');
    const p = chromium.executablePath();
    return p && existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

export async function findChromium() {
  for (const env of ['PLAYWRIGHT_CHROMIUM_PATH', 'CHROME_PATH']) {
    const p = process.env[env];
    if (p && existsSync(p)) return p;
  }
  const own = await playwrightOwnChromium();
  if (own) return own;
  if (existsSync('/usr/bin/chromium')) return '/usr/bin/chromium';
  return undefined;
}

export async function ensureChromium() {
  const found = await findChromium();
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) throw new Error('No Chromium found: set PLAYWRIGHT_CHROMIUM_PATH or install chromium.');
  console.log('[browser] no Chromium found; installing Debian chromium (apt-get)...');
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit' });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium', 'fonts-liberation'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  const again = await findChromium();
  if (!again) throw new Error('apt-get installed chromium but /usr/bin/chromium is still missing');
  return again;
}
