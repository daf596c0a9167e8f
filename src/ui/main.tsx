// Composition root of the UI (loaded by boot.ts): connects the client to the data worker boot.ts
// started, registers the service worker, renders.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createCalendarClient } from '../worker/client.ts';
import { App } from './App.tsx';
import { takeBootWorker } from './boot-worker.ts';
import { registerPwa } from './pwa.ts';

const rootEl = document.getElementById('root');
if (!rootEl) throw new Error('index.html has no #root');
const root = createRoot(rootEl);
const pwa = registerPwa();

createCalendarClient({ worker: takeBootWorker }).then(
  (client) =>
    root.render(
      <StrictMode>
        <App client={client} pwa={pwa} />
      </StrictMode>,
    ),
  (e: unknown) =>
    root.render(
      <main className="fatal" role="alert">
        <h1>Ledgerday could not open your calendar</h1>
        <p>{String((e as Error)?.message ?? e)}</p>
        <p>
          Your data stays in this browser's storage. If storage is blocked (private mode or disabled site
          data), allow it and reload.
        </p>
        <button type="button" onClick={() => window.location.reload()}>
          Reload
        </button>
      </main>,
    ),
);
