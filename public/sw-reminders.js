// Reminder notifications, imported into the generated service worker (vite.config.ts importScripts).
// The page shows them (src/ui/reminders/service.ts); here, a click focuses or opens the app and a
// click or a close is told to every open window, which writes the dismissal (synced, REM-3).

const windows = () => self.clients.matchAll({ type: 'window', includeUncontrolled: true });

async function tellDismissed(notification, list) {
  const data = notification.data;
  if (data?.kind !== 'ledgerday-reminder') return;
  for (const w of list ?? (await windows()))
    w.postMessage({ type: 'ledgerday-reminder-dismissed', reminder: data });
}

self.addEventListener('notificationclose', (event) => {
  event.waitUntil(tellDismissed(event.notification));
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    (async () => {
      const list = await windows();
      await tellDismissed(event.notification, list);
      const open = list[0];
      if (open) return open.focus();
      return self.clients.openWindow(self.registration.scope);
    })(),
  );
});
