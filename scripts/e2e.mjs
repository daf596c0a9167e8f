// `npm run test:e2e`: the Playwright suite alone, with a Chromium found or installed first.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ensureChromium } from './browser.mjs';

const root = new URL('..', import.meta.url).pathname;
const chromium = await ensureChromium();
const r = spawnSync(join(root, 'node_modules/.bin/playwright'), ['test', ...process.argv.slice(2)], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, PLAYWRIGHT_CHROMIUM_PATH: chromium },
});
process.exit(r.status ?? 1);
