// Steps shared by the compaction specs (compaction.spec.ts, compaction-crash.spec.ts): a calendar
// used for years (one event a day) imported on a device, uploaded, and snapshotted by its host.
import { expect, type Page } from '@playwright/test';
import { addCalendar, type Device, SYNC_MS, syncStatus, waitSynced } from './devices-ui.helpers.ts';

/** The last day of the archive: 'Entry 0' is on it, 'Entry i' i days before. */
export const ARCHIVE_DAY = '2026-11-24';

/** The day of 'Entry i' (YYYY-MM-DD). */
export const entryDay = (i: number): string =>
  new Date(Date.parse(`${ARCHIVE_DAY}T00:00:00Z`) - i * 86_400_000).toISOString().slice(0, 10);

/** One event a day, back from ARCHIVE_DAY: a calendar used for years ('Entry from' to 'Entry from+events-1'). */
export function bigIcs(events: number, from = 0): string {
  const lines = Array.from({ length: events }, (_, k) => {
    const i = from + k;
    const d = entryDay(i).replaceAll('-', '');
    return [
      'BEGIN:VEVENT',
      `UID:big-${i}@test`,
      'DTSTAMP:20261101T000000Z',
      `DTSTART;TZID=Europe/Berlin:${d}T090000`,
      `DTEND;TZID=Europe/Berlin:${d}T100000`,
      `SUMMARY:Entry ${i}`,
      'END:VEVENT',
    ].join('\r\n');
  });
  return ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', ...lines, 'END:VCALENDAR', ''].join('\r\n');
}

/**
 * Imports `events` events (from 'Entry from') into calendar `name` on device `d`, creating it
 * unless `existing`, and waits until the relay has them all and the host has sealed and uploaded
 * a snapshot of it (SNAP-14; `uploads`: the count the status shows once it has).
 */
export async function importArchive(
  d: Device,
  name: string,
  events: number,
  opts: { from?: number; existing?: boolean; uploads?: number } = {},
): Promise<void> {
  if (opts.existing !== true) await addCalendar(d, name);
  await d.page.getByRole('button', { name: 'Import', exact: true }).click();
  const dialog = d.page.getByRole('dialog', { name: 'Import' });
  await dialog.getByLabel('Calendar', { exact: true }).selectOption({ label: name });
  await dialog.getByLabel('Calendar file (.ics)').setInputFiles({
    name: 'archive.ics',
    mimeType: 'text/calendar',
    buffer: Buffer.from(bigIcs(events, opts.from ?? 0)),
  });
  await expect(dialog.getByText(new RegExp(`${events.toLocaleString('en-US')} events`))).toBeVisible({
    timeout: SYNC_MS,
  });
  await dialog.getByRole('button', { name: 'Import', exact: true }).click();
  await expect(dialog).toBeHidden({ timeout: 120_000 });
  // The relay's per-device byte budget (RELAY-4) paces the upload of thousands of ops: tens of seconds.
  await expect(syncStatus(d.page)).toContainText('Synced', { timeout: 150_000 });
  await waitSynced(d.page);
  const uploads = opts.uploads ?? 1;
  await expect
    .poll(async () => Number((await syncStatus(d.page).getAttribute('data-snapshot-uploads')) ?? 0), {
      timeout: 60_000,
    })
    .toBeGreaterThanOrEqual(uploads);
}

/**
 * What this origin's IndexedDB holds, read from the page: op and base record counts, how many
 * calendars carry a snapshot mark (pruned, SNAP-8), and a digest of every entity record.
 */
export async function storedState(
  page: Page,
): Promise<{ ops: number; base: number; marks: number; entities: number; digest: string }> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((ok, fail) => {
      const r = indexedDB.open('ledgerday');
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    const all = <T>(store: string) =>
      new Promise<T[]>((ok, fail) => {
        const r = db.transaction(store, 'readonly').objectStore(store).getAll();
        r.onsuccess = () => ok(r.result as T[]);
        r.onerror = () => fail(r.error);
      });
    const count = (store: string) =>
      new Promise<number>((ok, fail) => {
        const r = db.transaction(store, 'readonly').objectStore(store).count();
        r.onsuccess = () => ok(r.result);
        r.onerror = () => fail(r.error);
      });
    const plain = (v: unknown): unknown =>
      v instanceof Uint8Array
        ? Array.from(v, (b) => b.toString(16).padStart(2, '0')).join('')
        : Array.isArray(v)
          ? v.map(plain)
          : v !== null && typeof v === 'object'
            ? Object.fromEntries(
                Object.keys(v)
                  .sort()
                  .map((k) => [k, plain((v as Record<string, unknown>)[k])]),
              )
            : v;
    try {
      const entities = await all<unknown>('entities');
      const text = JSON.stringify(entities.map(plain));
      const hash = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
      return {
        ops: await count('ops'),
        base: await count('base'),
        marks: (await all<{ snapshot?: unknown }>('docs')).filter((d) => d.snapshot !== undefined).length,
        entities: entities.length,
        digest: Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, '0')).join(''),
      };
    } finally {
      db.close();
    }
  });
}
