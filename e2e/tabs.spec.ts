// Tabs = one device, in real Chromium: two pages of one context share one engine (Web Locks
// leader + BroadcastChannel), edit offline, see each other's edits fast, survive reloads, and a
// leader tab closing mid-burst loses no write that was queued.

import { type BrowserContext, expect, type Page, test } from '@playwright/test';
import type { EventFields, EventView } from '../src/worker/api.ts';
import { serveFixtures } from './fixtures/build.ts';
import type { RuntimeFixture } from './fixtures/client.entry.ts';

declare global {
  var rt: RuntimeFixture;
  var seen: { at: number; events: EventView[] }[];
}

const MARCH = { fromMs: Date.UTC(2025, 2, 1), toMs: Date.UTC(2025, 3, 1) };
const fields = (title: string, hour: number): EventFields => ({
  title,
  start: `2025-03-10T${String(hour).padStart(2, '0')}:00`,
  end: `2025-03-10T${String(hour).padStart(2, '0')}:30`,
  allDay: false,
  timeZone: 'Europe/Berlin',
  location: '',
  notes: '',
});

async function openTab(context: BrowserContext, ns: string): Promise<Page> {
  const page = await context.newPage();
  await page.goto(`/__rt/?ns=${ns}`);
  await page.waitForFunction(() => 'rt' in globalThis);
  return page;
}

/** Starts recording the range subscription's callbacks with their times. */
async function watch(page: Page): Promise<void> {
  await page.evaluate((range) => {
    globalThis.seen = [];
    rt.client.subscribeRange(range, (events) =>
      seen.push({ at: performance.timeOrigin + performance.now(), events }),
    );
  }, MARCH);
}

const titles = (page: Page) =>
  page.evaluate(
    async (range) => (await rt.client.eventsInRange(range)).map((e) => `${e.id.slice(0, 4)}:${e.title}`),
    MARCH,
  );

/** Every op in the log: (author, ctr) never repeats and wall_time strictly grows along the chain. */
async function checkChains(page: Page, ns: string): Promise<number> {
  return page.evaluate(
    (name) =>
      new Promise<number>((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onerror = () => reject(r.error);
        r.onsuccess = () => {
          const g = r.result.transaction('ops').objectStore('ops').getAll();
          g.onsuccess = () => {
            const ops = g.result as { doc: string; author: string; ctr: number; wallTime: number }[];
            const byChain = new Map<string, { ctr: number; wallTime: number }[]>();
            for (const o of ops) {
              const k = `${o.doc}/${o.author}`;
              byChain.set(k, [...(byChain.get(k) ?? []), o]);
            }
            for (const chain of byChain.values()) {
              chain.sort((a, b) => a.ctr - b.ctr);
              for (let i = 1; i < chain.length; i++) {
                if (chain[i]!.ctr === chain[i - 1]!.ctr)
                  return reject(new Error(`ctr ${chain[i]!.ctr} reused`));
                if (chain[i]!.wallTime <= chain[i - 1]!.wallTime)
                  return reject(new Error('wall_time not increasing'));
              }
            }
            r.result.close();
            resolve(ops.length);
          };
        };
      }),
    ns,
  );
}

test("[RT-7] two tabs edit offline, each sees the other's writes live (no reload), and they agree after reload", async ({
  context,
}) => {
  await serveFixtures(context);
  const ns = `tabs-${Date.now()}`;
  const a = await openTab(context, ns);
  const b = await openTab(context, ns);
  await context.setOffline(true);

  const cal = await a.evaluate(() => rt.client.createCalendar('Shared', '#336699'));
  await watch(a);
  await watch(b);

  // Different events, written from both tabs at the same time.
  const [ida, idb] = await Promise.all([
    a.evaluate(([c, f]) => rt.client.createEvent(c, f), [cal, fields('from A', 9)] as const),
    b.evaluate(([c, f]) => rt.client.createEvent(c, f), [cal, fields('from B', 10)] as const),
  ]);
  // The same event, edited from both tabs concurrently: one value wins, in both tabs.
  await Promise.all([
    a.evaluate(([c, id]) => rt.client.updateEvent(c, id, { title: 'A edits A' }), [cal, ida] as const),
    b.evaluate(([c, id]) => rt.client.updateEvent(c, id, { title: 'B edits A' }), [cal, ida] as const),
  ]);

  // Latency: a write in A until B's subscription shows it.
  const lat: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = await a.evaluate(
      async ([c, id, n]) => {
        const t = performance.timeOrigin + performance.now();
        await rt.client.updateEvent(c, id, { notes: `n${n}` });
        return t;
      },
      [cal, idb, i] as const,
    );
    const t1 = await b.waitForFunction(
      (n) => {
        const hit = seen.find((s) => s.events.some((e) => e.notes === `n${n}`));
        return hit?.at ?? false;
      },
      i,
      { polling: 5 },
    );
    lat.push(((await t1.jsonValue()) as number) - t0);
  }
  lat.sort((x, y) => x - y);
  // Timing is measured by `npm run bench` (runtime.edit_second_tab_*), not asserted here: this
  // machine is shared and noisy. The behaviour is that every write reached the other tab live.
  console.log(`other tab sees a write after p50 ${lat[5]?.toFixed(1)} ms, max ${lat[9]?.toFixed(1)} ms`);
  expect(lat).toHaveLength(10);

  const inA = await titles(a);
  const inB = await titles(b);
  expect(inA).toEqual(inB);
  expect(inA).toHaveLength(2);
  expect(inA.some((t) => t.endsWith(':from B'))).toBe(true);
  expect(inA.some((t) => t.endsWith(':A edits A') || t.endsWith(':B edits A'))).toBe(true);
  await expect.poll(() => b.evaluate(() => seen.at(-1)?.events.length)).toBe(2);

  // Reload both (pages are served by interception, the database is the browser's).
  await context.setOffline(false);
  await a.reload();
  await b.reload();
  await a.waitForFunction(() => 'rt' in globalThis);
  await b.waitForFunction(() => 'rt' in globalThis);
  expect(await titles(a)).toEqual(inA);
  expect(await titles(b)).toEqual(inA);
  expect(await checkChains(a, ns)).toBeGreaterThan(10);
});

/** Writes the follower fires at once in the handover test. */
const BURST = 200;

test('[RT-8] closing the leader tab mid-burst loses none of the other tab’s queued writes', async ({
  context,
}) => {
  await serveFixtures(context);
  const ns = `handover-${Date.now()}`;
  const leader = await openTab(context, ns);
  const cal = await leader.evaluate(() => rt.client.createCalendar('Work', '#00aa00'));
  const follower = await openTab(context, ns);
  // The follower fires BURST writes without waiting; the leader tab closes while they are in
  // flight (a burst of 60 was sometimes applied whole before the close on a busy machine).
  await follower.evaluate(
    ([c, f, n]) => {
      (globalThis as unknown as { burst: Promise<string[]> }).burst = Promise.all(
        Array.from({ length: n }, (_, i) => rt.client.createEvent(c, { ...f, title: `w${i}` })),
      );
    },
    [cal, fields('x', 11), BURST] as const,
  );
  // Close once the leader has applied some of the burst but not all of it.
  await expect
    .poll(() => leader.evaluate(async (range) => (await rt.client.eventsInRange(range)).length, MARCH), {
      intervals: [2],
    })
    .toBeGreaterThan(0);
  const before = await leader.evaluate(async (range) => (await rt.client.eventsInRange(range)).length, MARCH);
  await leader.close();
  expect(before, 'the leader closed mid-burst').toBeLessThan(BURST);
  const ids = await follower.evaluate(() => (globalThis as unknown as { burst: Promise<string[]> }).burst);
  expect(new Set(ids).size).toBe(BURST);
  const got = await follower.evaluate(
    async (range) => (await rt.client.eventsInRange(range)).map((e) => e.title),
    MARCH,
  );
  expect(got.sort()).toEqual(Array.from({ length: BURST }, (_, i) => `w${i}`).sort());
  expect(await checkChains(follower, ns)).toBeGreaterThanOrEqual(BURST + 2);
  // And after a reload the new leader's writes are all durable.
  await follower.reload();
  await follower.waitForFunction(() => 'rt' in globalThis);
  expect(await follower.evaluate(async (range) => (await rt.client.eventsInRange(range)).length, MARCH)).toBe(
    BURST,
  );
});
