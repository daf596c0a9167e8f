// The data worker, started by the page's entry (boot.ts) before the UI bundle is loaded; main.tsx
// hands it to the client. If it could not be started here the client starts (and reports) it.

let worker: Worker | undefined;
/** A failure to load the worker's script, seen before the client listened for it. */
let failed: string | undefined;

export function startBootWorker(): void {
  try {
    worker ??= new Worker(new URL('../worker/worker.ts', import.meta.url), {
      type: 'module',
      name: 'ledgerday',
    });
    worker.addEventListener('error', (ev) => {
      failed ??= ev.message || 'unknown error';
    });
  } catch {
    worker = undefined;
  }
}

/**
 * The worker started at boot, once (a second client gets none and starts its own). An error it
 * reported before now is reported again once the caller's listeners are attached (the client
 * attaches them in the same task), so "the data worker failed to start" is never lost.
 */
export function takeBootWorker(): Worker | undefined {
  const w = worker;
  worker = undefined;
  if (w !== undefined && failed !== undefined) {
    const message = failed;
    queueMicrotask(() => w.dispatchEvent(new ErrorEvent('error', { message })));
  }
  return w;
}
