// The data worker, started by the page's entry (boot.ts) before the UI bundle is loaded; main.tsx
// hands it to the client. If it could not be started here the client starts (and reports) it.

let worker: Worker | undefined;

export function startBootWorker(): void {
  try {
    worker ??= new Worker(new URL('../worker/worker.ts', import.meta.url), {
      type: 'module',
      name: 'ledgerday',
    });
  } catch {
    worker = undefined;
  }
}

/** The worker started at boot, once (a second client gets none and starts its own). */
export function takeBootWorker(): Worker | undefined {
  const w = worker;
  worker = undefined;
  return w;
}
