// The engine's EngineStore contract suite against the IndexedDB store in real Chromium.

import { expect, test } from '@playwright/test';
import { serveFixtures } from './fixtures/build.ts';
import type { TestResult } from './fixtures/vitest-shim.ts';

test('[RT-1] the EngineStore contract suite passes against IndexedDB in Chromium', async ({
  context,
  page,
}) => {
  await serveFixtures(context);
  await page.goto('/__rt/blank.html');
  await page.addScriptTag({ url: '/__rt/store-contract.js', type: 'module' });
  await page.waitForFunction(() => 'runStoreTests' in globalThis);
  const results = await page.evaluate(() =>
    (globalThis as unknown as { runStoreTests: () => Promise<TestResult[]> }).runStoreTests(),
  );
  for (const r of results) console.log(`${r.ok ? 'ok  ' : 'FAIL'} ${r.name}`);
  expect(results.filter((r) => !r.ok)).toEqual([]);
  expect(results.length).toBeGreaterThanOrEqual(8);
});

test('[RT-4] the device signing key is a non-extractable CryptoKey stored in IndexedDB', async ({
  context,
  page,
}) => {
  await serveFixtures(context);
  await page.goto('/__rt/?ns=rt4');
  await page.waitForFunction(() => 'rt' in globalThis);
  // search waits for the replica (listCalendars may be answered before it, [RT-12]), so the device
  // keys exist by then.
  await page.evaluate(() =>
    (globalThis as unknown as { rt: { client: { search(q: string): Promise<unknown> } } }).rt.client.search(
      'x',
    ),
  );
  const key = await page.evaluate(
    () =>
      new Promise<{ type: string; extractable: boolean; alg: string }>((resolve, reject) => {
        const r = indexedDB.open('rt4');
        r.onerror = () => reject(r.error);
        r.onsuccess = () => {
          const g = r.result.transaction('meta').objectStore('meta').get('device');
          g.onsuccess = () => {
            const k = g.result.secret as CryptoKey;
            resolve({ type: k.constructor.name, extractable: k.extractable, alg: k.algorithm.name });
          };
        };
      }),
  );
  expect(key).toEqual({ type: 'CryptoKey', extractable: false, alg: 'Ed25519' });
});
