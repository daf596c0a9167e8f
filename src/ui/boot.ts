// The page's entry: starts the data worker, then loads the UI. The UI bundle (React and the whole
// app) takes ~0.3 s to fetch, compile and run at a cold start (measured in Chromium); started
// first, the worker loads, opens IndexedDB and reads the first month meanwhile, not after it.
import { startBootWorker } from './boot-worker.ts';
// In the page's head, as before: the splash and the first paint are styled without waiting.
import './styles.css';

startBootWorker();
import('./main.tsx').catch((e: unknown) => {
  const root = document.getElementById('root');
  if (root)
    root.textContent = `Ledgerday could not load (${String((e as Error)?.message ?? e)}). Reload the page.`;
});
