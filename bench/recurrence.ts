// Recurrence benchmark (issue 11): a month of 500 repeating series and 10,000 single events.
// recurrence.month_expand_ms: answering one month (the single events it overlaps and every
// occurrence of every series), in Chromium, on the first draw of that month (no occurrence cached
// yet; each series' expansion set up when it was filed, as the host does at load: series_index_ms); warm and next-month figures beside it, and the month after next drawn first with
// rrule-temporal alone and then with the direct expansion (RRULE-2) in the same page; the same
// draws' main-thread CPU time beside them (*_cpu_ms); both medians of fresh pages. recurrence.cold_start_first_month_paint_ms:
// a cold, offline start of the app to the painted month view with that calendar.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { serveStatic } from '../e2e/pwa-static-server.ts';

type Figures = Record<string, number | string>;
const ROOT = resolve(import.meta.dirname, '..');
const ARGS = [
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--no-first-run',
  '--disable-sync',
];
const MONTH = '2026-11';

export async function benchRecurrence(): Promise<Figures> {
  const n = Number(process.env['BENCH_UI_EVENTS'] ?? 10_000);
  const series = Number(process.env['BENCH_SERIES'] ?? 500);
  const dist = join(ROOT, '.cache', 'bench-recur', 'app');
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
      rollupOptions: {
        input: [join(ROOT, 'bench', 'ui-seed.html'), join(ROOT, 'bench', 'recur-month.html')],
      },
    },
  });
  const server = await serveStatic(dist);
  const profile = mkdtempSync(join(tmpdir(), 'ledgerday-bench-recur-'));
  const executablePath = process.env['PLAYWRIGHT_CHROMIUM_PATH'] ?? '/usr/bin/chromium';
  try {
    let ctx = await chromium.launchPersistentContext(profile, {
      executablePath,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
    });
    let page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${server.url}/bench-seed/ui-seed.html`);
    await page.waitForFunction(() => 'seed' in window);
    await page.evaluate(([count, month, s]) => window.seed(count, month, count + 2, 'ledgerday', s), [
      n,
      MONTH,
      series,
    ] as const);
    await page.goto(`${server.url}/bench-seed/recur-month.html`);
    await page.waitForFunction(() => 'monthExpand' in window);
    const month = await page.evaluate((m) => window.monthExpand(m), MONTH);
    console.log('recurrence month expansion:', month);
    // Before the app is opened here: its service worker would answer the bench page's URL.
    const cpu = await drawCpu(page, server.url);
    console.log('recurrence month draws, main-thread CPU ms (first, warm, next):', cpu);
    await page.goto(`${server.url}/#/month/${MONTH}-15`);
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.waitForSelector('.month .event', { timeout: 120_000 });
    await ctx.close();

    ctx = await chromium.launchPersistentContext(profile, {
      executablePath,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
      offline: true,
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('console', (m) => m.type() === 'error' && console.log('cold start console:', m.text()));
    page.on('pageerror', (e) => console.log('cold start page error:', e.message));
    await page.addInitScript(() => {
      const w = window as unknown as { __paint?: number; __seriesPaint?: number };
      const obs = new MutationObserver(() => {
        // The frame after the DOM change is the one that paints it. (No named inner functions:
        // the bench runs under tsx, whose name helper does not exist in the page.)
        for (const k of ['__paint', '__seriesPaint'] as const) {
          const sel = k === '__paint' ? '.month .event' : '.month .event[title^="Series"]';
          if (w[k] === undefined && document.querySelector(sel)) {
            w[k] = -1;
            requestAnimationFrame(() => requestAnimationFrame(() => (w[k] = performance.now())));
          }
        }
        if (w.__seriesPaint !== undefined) obs.disconnect();
      });
      obs.observe(document, { childList: true, subtree: true });
    });
    await page.goto(`${server.url}/#/month/${MONTH}-15`);
    await page
      .waitForFunction(
        () => ((window as unknown as { __seriesPaint?: number }).__seriesPaint ?? -1) > 0,
        null,
        { timeout: 60_000 },
      )
      .catch(async (e) => {
        console.log(
          'series never drawn; month shows:',
          ((await page.locator('.month').textContent()) ?? '').slice(0, 600),
        );
        throw e;
      });
    const [paint, seriesPaint] = await page.evaluate(() => {
      const w = window as unknown as { __paint: number; __seriesPaint: number };
      return [w.__paint, w.__seriesPaint];
    });
    await ctx.close();

    return {
      series: month['series']!,
      single_events: month['singles']!,
      month_view_events: month['month_events']!,
      // First draws, wall clock: the median of the fresh pages below (each page's first draw of
      // the month after the same setup); the single draw of the seeded page beside it.
      month_expand_ms: cpu.firstWall,
      target_month_expand_ms: 20,
      month_expand_warm_ms: cpu.warmWall,
      next_month_expand_ms: cpu.nextWall,
      month_expand_single_page_ms: month['cold_ms']!,
      series_index_ms: month['series_index_ms']!,
      rrule_library_load_ms: month['library_load_ms']!,
      month_after_next_library_only_ms: month['library_first_draw_ms']!,
      month_after_next_direct_ms: month['direct_first_draw_ms']!,
      // The same draws' main-thread CPU time, median of fresh pages (the wall clock of one draw
      // swings 2x with the other work on this shared machine; CPU time much less).
      month_expand_cpu_ms: cpu.first,
      month_expand_warm_cpu_ms: cpu.warm,
      next_month_expand_cpu_ms: cpu.next,
      cold_start_first_month_paint_ms: Math.round(paint),
      cold_start_series_paint_ms: Math.round(seriesPaint),
      target_cold_start_ms: 1000,
    };
  } finally {
    await server.close();
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {}
  }
}

type DrawFigure = 'first' | 'warm' | 'next' | 'firstWall' | 'warmWall' | 'nextWall';

/** Fresh pages whose draws are timed (each draws its first month once). */
const CPU_PAGES = Number(process.env['BENCH_RECUR_CPU_PAGES'] ?? 7);

/**
 * The bench page's draws (first, warm, next month) in fresh pages, each in a task of its own after
 * the same setup: wall clock (performance.now around the draw) and main-thread CPU time (Chromium's
 * task durations in thread ticks), medians over the pages.
 */
async function drawCpu(page: Page, url: string): Promise<Record<DrawFigure, number>> {
  const rows: number[][] = [];
  for (let i = 0; i < CPU_PAGES; i++) {
    await page.goto(`${url}/bench-seed/recur-month.html`);
    await page.waitForFunction(() => 'monthSetup' in window);
    await page.evaluate((m) => window.monthSetup(m), MONTH);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable', { timeDomain: 'threadTicks' });
    const busy = async () =>
      (await cdp.send('Performance.getMetrics')).metrics.find((x) => x.name === 'TaskDuration')!.value * 1000;
    const row: number[] = [];
    const wall: number[] = [];
    for (const k of [0, 0, 1]) {
      const before = await busy();
      wall.push(await page.evaluate((kk) => window.monthDraw(kk), k));
      row.push((await busy()) - before);
    }
    await cdp.detach();
    rows.push([...row, ...wall]);
  }
  const median = (j: number) => {
    const xs = rows.map((r) => r[j]!).sort((a, b) => a - b);
    return Math.round(xs[Math.floor(xs.length / 2)]! * 10) / 10;
  };
  console.log(
    'recurrence month draws in fresh pages, wall ms (first, warm, next):',
    rows.map((r) => r.slice(3).map((x) => Math.round(x * 10) / 10)),
  );
  return {
    first: median(0),
    warm: median(1),
    next: median(2),
    firstWall: median(3),
    warmWall: median(4),
    nextWall: median(5),
  };
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  console.log(await benchRecurrence());
}
