// Build: React app shell + the engine worker (ES module worker) + a workbox service worker that
// precaches everything the app needs to start offline, and the web app manifest.
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

// A build identifier; e2e/pwa-install.spec.ts builds twice with different values to deploy an update.
const BUILD_ID = process.env['LEDGERDAY_BUILD_ID'] ?? new Date().toISOString();

export default defineConfig({
  define: { __BUILD_ID__: JSON.stringify(BUILD_ID) },
  worker: { format: 'es' },
  build: { target: 'es2022', sourcemap: false },
  plugins: [
    react(),
    VitePWA({
      strategies: 'generateSW',
      registerType: 'prompt',
      // src/ui/pwa.ts registers the service worker with workbox-window itself.
      injectRegister: false,
      filename: 'sw.js',
      includeAssets: ['icon.svg', 'icons/*.png'],
      manifest: {
        id: '/',
        name: 'Ledgerday Calendar',
        short_name: 'Ledgerday',
        description: 'An offline-first, end-to-end encrypted calendar.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        theme_color: '#1a73e8',
        background_color: '#ffffff',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        // The worker bundle (assets/worker-*.js) and any wasm are part of the shell: without them
        // the app cannot open its data offline.
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest,wasm}'],
        navigateFallback: '/index.html',
        navigateFallbackDenylist: [/^\/health/, /^\/relay/, /^\/api\//],
        cleanupOutdatedCaches: true,
        maximumFileSizeToCacheInBytes: 5 * 1024 * 1024,
        // Reminder notification clicks and closes (public/sw-reminders.js).
        importScripts: ['sw-reminders.js'],
      },
      devOptions: { enabled: false },
    }),
  ],
});
