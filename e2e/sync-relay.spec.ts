// The relay serves the app, /health and the /sync WebSocket on one port (what `npm start` runs):
// Chromium loads a deep link through the SPA fallback and opens /sync, receiving the relay's
// challenge frame (SYNC-2).

import { expect, test } from '@playwright/test';

test('[RELAY-1] one port serves the app, /health and the sync WebSocket', async ({ page, request }) => {
  const health = await request.get('/health');
  expect(health.ok()).toBe(true);
  expect((await health.json()).status).toBe('ok');

  const deep = await request.get('/2026/03/week');
  expect(deep.status()).toBe(200);
  expect(deep.headers()['content-type']).toContain('text/html');
  expect(deep.headers()['cache-control']).toBe('no-cache');
  expect((await request.get('/assets/does-not-exist.js')).status()).toBe(404);

  await page.goto('/');
  const first = await page.evaluate(
    () =>
      new Promise<number[]>((resolve, reject) => {
        const ws = new WebSocket(`${location.origin.replace('http', 'ws')}/sync`);
        ws.binaryType = 'arraybuffer';
        ws.onmessage = (e) => {
          resolve([...new Uint8Array(e.data as ArrayBuffer)]);
          ws.close();
        };
        ws.onerror = () => reject(new Error('websocket failed'));
      }),
  );
  // A Frame with file identifier "LDS1" whose type is Challenge (1).
  expect(String.fromCharCode(...first.slice(4, 8))).toBe('LDS1');
});
