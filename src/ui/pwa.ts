// Service worker registration through workbox-window, with an "Update available / Reload" prompt
// (registerType 'prompt': a new build waits until the user chooses to reload).
import { Workbox } from 'workbox-window';

export interface PwaHandle {
  onUpdate(cb: () => void): () => void;
  /** Activates the waiting service worker and reloads once it controls the page. */
  applyUpdate(): void;
}

export function registerPwa(): PwaHandle | undefined {
  if (!import.meta.env.PROD || !('serviceWorker' in navigator)) return undefined;
  const wb = new Workbox(`${import.meta.env.BASE_URL}sw.js`, { scope: import.meta.env.BASE_URL });
  const listeners = new Set<() => void>();
  let waiting = false;
  wb.addEventListener('waiting', () => {
    waiting = true;
    for (const l of listeners) l();
  });
  wb.register().catch((e: unknown) => {
    // No service worker means no offline start, but the app itself still works.
    console.warn('service worker registration failed', e);
  });
  return {
    onUpdate(cb) {
      listeners.add(cb);
      if (waiting) cb();
      return () => listeners.delete(cb);
    },
    applyUpdate() {
      wb.addEventListener('controlling', () => window.location.reload());
      wb.messageSkipWaiting();
    },
  };
}
