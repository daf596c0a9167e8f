// UI benchmark: initial JavaScript of the app shell (min+gzip, from a production build) and time to
// first painted month on a cold, offline start with 10,000 events (service worker + IndexedDB).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { serveStatic } from '../e2e/pwa-static-server.ts';

type Figures = Record<string, number | string>;

const ROOT = resolve(import.meta.dirname, '..');
const ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-sync',
];
const MONTH = '2026-11';

const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length;

/** JS the browser must load before the first paint: the entry script and its modulepreloads. */
function shellSizes(dist: string): { js: number; css: number; worker: number } {
  const html = readFileSync(join(dist, 'index.html'), 'utf8');
  const js = [
    ...html.matchAll(/<(?:script[^>]+src|link[^>]+rel="modulepreload"[^>]+href)="\/([^"]+\.js)"/g),
  ].map((m) => m[1]!);
  const css = [...html.matchAll(/<link[^>]+rel="stylesheet"[^>]+href="\/([^"]+\.css)"/g)].map((m) => m[1]!);
  const entry = readFileSync(join(dist, js[0]!), 'utf8');
  // The entry (src/ui/boot.ts) starts the data worker, then imports the UI (main.tsx): that
  // chunk and the ones Vite preloads with it (the entry's dependency list, which starts with it:
  // the entry imports nothing else) come before the first paint too.
  const preload = [...(/\.f=\[([^\]]*)\]/.exec(entry)?.[1] ?? '').matchAll(/["'`]([^"'`]+\.js)["'`]/g)].map(
    (m) => m[1]!,
  );
  if (/^assets\/main-/.test(preload[0] ?? '')) for (const f of preload) if (!js.includes(f)) js.push(f);
  const worker = /assets\/worker-[\w-]+\.js/.exec(entry)?.[0];
  return {
    js: js.reduce((s, f) => s + gz(join(dist, f)), 0),
    css: css.reduce((s, f) => s + gz(join(dist, f)), 0),
    worker: worker ? gz(join(dist, worker)) : 0,
  };
}

/** One cold, offline start of the month view in a new browser process: its first paint (ms). */
async function coldMonthPaint(
  profile: string,
  url: string,
  executablePath: string,
  viewport: { width: number; height: number },
  phone: boolean,
): Promise<{ paint: number; shown: number; controlled: boolean }> {
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath,
    args: ARGS,
    viewport,
    offline: true,
    ...(phone ? { isMobile: true, hasTouch: true } : {}),
  });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.addInitScript(() => {
      const w = window as unknown as { __firstMonthPaint?: number };
      const obs = new MutationObserver(() => {
        if (w.__firstMonthPaint === undefined && document.querySelector('.month .event')) {
          obs.disconnect();
          // The frame after the DOM change is the one that paints it.
          requestAnimationFrame(() => requestAnimationFrame(() => (w.__firstMonthPaint = performance.now())));
          w.__firstMonthPaint = -1;
        }
      });
      obs.observe(document, { childList: true, subtree: true });
    });
    await page.goto(`${url}/#/month/${MONTH}-15`);
    await page.waitForFunction(
      () => ((window as unknown as { __firstMonthPaint?: number }).__firstMonthPaint ?? -1) > 0,
      null,
      { timeout: 60_000 },
    );
    const paint = await page.evaluate(
      () => (window as unknown as { __firstMonthPaint: number }).__firstMonthPaint,
    );
    const shown = await page.locator('.month .event').count();
    const controlled = await page.evaluate(() => navigator.serviceWorker.controller !== null);
    return { paint, shown, controlled };
  } finally {
    await ctx.close();
  }
}

export async function benchUi(): Promise<Figures> {
  const n = Number(process.env['BENCH_UI_EVENTS'] ?? 10_000);
  const out = join(ROOT, '.cache', 'bench-ui');
  const dist = join(out, 'app');
  const quiet = { logLevel: 'warn' as const };
  await build({ root: ROOT, ...quiet, build: { outDir: dist, emptyOutDir: true } });
  await build({
    root: join(ROOT, 'bench'),
    configFile: false,
    ...quiet,
    base: '/bench-seed/',
    worker: { format: 'es' },
    build: {
      outDir: join(dist, 'bench-seed'),
      emptyOutDir: true,
      rollupOptions: { input: join(ROOT, 'bench', 'ui-seed.html') },
    },
  });
  const sizes = shellSizes(dist);

  const server = await serveStatic(dist);
  const profile = mkdtempSync(join(tmpdir(), 'ledgerday-bench-'));
  const executablePath = process.env['PLAYWRIGHT_CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  try {
    // 1. Seed the database through the real client (before the service worker exists, so this page is
    //    not answered by the app's navigation fallback), then load the app once to install it.
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
    });
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${server.url}/bench-seed/ui-seed.html`);
    await page.waitForFunction(() => 'seed' in window);
    const t0 = Date.now();
    const seeded = await page.evaluate(
      ([count, month]) =>
        (window as unknown as { seed: (n: number, m: string) => Promise<{ events: number }> })
          .seed(count, month)
          .then((r) => r.events),
      [n, MONTH] as const,
    );
    const seedMs = Date.now() - t0;
    await page.goto(`${server.url}/#/month/${MONTH}-15`);
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.waitForSelector('.month .event', { timeout: 120_000 });
    await ctx.close();

    // 2. Cold start: a new browser process on the same profile, offline, straight to the month view;
    //    once at laptop size and once at phone size (390x844, touch), which must not be slower.
    const desk = await coldMonthPaint(
      profile,
      server.url,
      executablePath,
      { width: 1280, height: 900 },
      false,
    );
    const phone = await coldMonthPaint(
      profile,
      server.url,
      executablePath,
      { width: 390, height: 844 },
      true,
    );
    return {
      initial_js_gzip_kb: Math.round(sizes.js / 102.4) / 10,
      initial_css_gzip_kb: Math.round(sizes.css / 102.4) / 10,
      worker_js_gzip_kb: Math.round(sizes.worker / 102.4) / 10,
      target_initial_js_kb: 150,
      events_seeded: seeded,
      seed_ms: seedMs,
      cold_offline_first_month_paint_ms: Math.round(desk.paint),
      cold_offline_first_month_paint_phone_ms: Math.round(phone.paint),
      target_first_month_paint_ms: 1000,
      month_events_drawn: desk.shown,
      month_events_drawn_phone: phone.shown,
      served_by_service_worker: desk.controlled && phone.controlled ? 'yes' : 'no',
    };
  } finally {
    await server.close();
    // Chromium may still be flushing the profile; a leftover temp dir is harmless.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {}
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  console.log(await benchUi());
}
