// Runtime figures in Chromium (run on demand: RT_BENCH=1): local edit to durable + visible in the
// same tab and in a second tab (p50/p95), and cold start to the first month's events with N events.

import { expect, type Page, test } from '@playwright/test';
import { serveFixtures } from './fixtures/build.ts';
import type { RuntimeFixture } from './fixtures/client.entry.ts';

declare global {
  var rt: RuntimeFixture;
}

const N = Number(process.env['RT_BENCH_EVENTS'] ?? 10_000);
const MONTH = { fromMs: Date.UTC(2025, 2, 1), toMs: Date.UTC(2025, 3, 1) };
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

test.skip(!process.env['RT_BENCH'], 'benchmark: set RT_BENCH=1');
test.setTimeout(600_000);

async function open(page: Page, ns: string) {
  await page.goto(`/__rt/?ns=${ns}`);
  await page.waitForFunction(() => 'rt' in globalThis);
}

test('runtime figures', async ({ context }) => {
  await serveFixtures(context);
  const ns = `bench-${Date.now()}`;
  const a = await context.newPage();
  await open(a, ns);
  const b = await context.newPage();
  await open(b, ns);
  const cal = await a.evaluate(() => rt.client.createCalendar('Bench', '#336699'));
  const ev = await a.evaluate(
    (c) =>
      rt.client.createEvent(c, {
        title: 'e',
        start: '2025-03-10T09:00',
        end: '2025-03-10T10:00',
        allDay: false,
        timeZone: 'Europe/Berlin',
        location: '',
        notes: '',
      }),
    cal,
  );
  // Same tab: updateEvent resolves after the commit; then until the subscription shows it.
  const same = await a.evaluate(
    async ([c, id, range]) => {
      const out: number[] = [];
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now();
        await new Promise<void>((resolve) => {
          const off = rt.client.subscribeRange(range, (evs) => {
            if (evs.some((e) => e.notes === `s${i}`)) {
              off();
              resolve();
            }
          });
          void rt.client.updateEvent(c, id, { notes: `s${i}` });
        });
        out.push(performance.now() - t0);
      }
      return out;
    },
    [cal, ev, MONTH] as const,
  );
  console.log(
    `same tab edit->visible: p50 ${pct(same, 0.5).toFixed(1)} ms, p95 ${pct(same, 0.95).toFixed(1)} ms`,
  );

  // Seed N events (plus the months around) then cold-start a fresh page.
  await a.evaluate(
    async ([c, n]) => {
      const batch: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const m = String(1 + (i % 12)).padStart(2, '0');
        const d = String(1 + (i % 28)).padStart(2, '0');
        batch.push(
          rt.client.createEvent(c, {
            title: `event ${i}`,
            start: `2025-${m}-${d}T${String(8 + (i % 10)).padStart(2, '0')}:00`,
            end: `2025-${m}-${d}T${String(9 + (i % 10)).padStart(2, '0')}:00`,
            allDay: false,
            timeZone: 'Europe/Berlin',
            location: '',
            notes: '',
          }),
        );
        if (batch.length === 200) await Promise.all(batch.splice(0));
      }
      await Promise.all(batch);
    },
    [cal, N] as const,
  );
  await a.close();
  await b.close();
  const c = await context.newPage();
  const t0 = Date.now();
  await open(c, ns);
  const count = await c.evaluate((range) => rt.client.eventsInRange(range).then((e) => e.length), MONTH);
  const cold = Date.now() - t0;
  console.log(`cold start (${N} events) to first month's ${count} events: ${cold} ms`);
  expect(count).toBeGreaterThan(0);
});
