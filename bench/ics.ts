// .ics import benchmark in Chromium (`ics.import_5000_ms`): a person picks a 5,000-event file in
// the Import dialog and presses Import; measured from the file being chosen to the "Imported"
// toast (parse + preview + one atomic write of 5,000 signed, encrypted ops into IndexedDB).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import { build } from 'vite';
import { serveStatic } from '../e2e/pwa-static-server.ts';

type Figures = Record<string, number | string>;

const ROOT = resolve(import.meta.dirname, '..');
const ARGS = ['--disable-gpu', '--disable-quic', '--disable-background-networking', '--no-first-run'];
const ZONES = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney'];

/** A Google-shaped export: VTIMEZONEs, timed events in 4 zones, all-day events, weekly series. */
export function syntheticIcs(n: number, repeating: number): string {
  const p = (x: number) => String(x).padStart(2, '0');
  const lines = [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//bench//EN',
    'X-WR-CALNAME:Bench',
    'X-WR-TIMEZONE:Europe/Berlin',
  ];
  for (let i = 0; i < n; i++) {
    const year = 2009 + (i % 18);
    const date = `${year}${p((i % 12) + 1)}${p((i % 28) + 1)}`;
    const zone = ZONES[i % ZONES.length]!;
    lines.push('BEGIN:VEVENT', `UID:bench-${i}@example.com`, 'DTSTAMP:20261101T000000Z');
    if (i % 10 === 9) {
      lines.push(`DTSTART;VALUE=DATE:${date}`, `DURATION:P1D`);
    } else {
      const h = 8 + (i % 10);
      lines.push(`DTSTART;TZID=${zone}:${date}T${p(h)}0000`, `DTEND;TZID=${zone}:${date}T${p(h + 1)}0000`);
    }
    if (i < repeating) lines.push('RRULE:FREQ=WEEKLY;COUNT=20');
    lines.push(
      `SUMMARY:Event ${i}`,
      `LOCATION:Room ${i % 50}\\, Building ${i % 7}`,
      `DESCRIPTION:Notes for event ${i}\\nSecond line.`,
      'ATTENDEE;CN=someone@example.com;PARTSTAT=ACCEPTED:mailto:someone@example.com',
      'END:VEVENT',
    );
  }
  lines.push('END:VCALENDAR', '');
  return lines.join('\r\n');
}

export async function benchIcs(): Promise<Figures> {
  const n = Number(process.env['BENCH_ICS_EVENTS'] ?? 5000);
  const dist = join(ROOT, '.cache', 'bench-ics');
  await build({ root: ROOT, logLevel: 'warn', build: { outDir: dist, emptyOutDir: true } });
  const server = await serveStatic(dist);
  const profile = mkdtempSync(join(tmpdir(), 'ledgerday-bench-ics-'));
  const text = syntheticIcs(n, Math.round(n / 25));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env['PLAYWRIGHT_CHROMIUM_PATH'] ?? '/usr/bin/chromium',
    args: ARGS,
    viewport: { width: 1280, height: 900 },
    timezoneId: 'Europe/Berlin',
    locale: 'en-US',
  });
  try {
    const page = ctx.pages()[0] ?? (await ctx.newPage());
    await page.goto(`${server.url}/#/month/2026-11-15`);
    await page.getByRole('button', { name: '+ Add calendar' }).click();
    await page.getByLabel('Name', { exact: true }).fill('Bench');
    await page.getByRole('button', { name: 'Create calendar' }).click();
    await page.getByRole('checkbox', { name: 'Bench' }).waitFor();
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const dialog = page.getByRole('dialog', { name: 'Import' });
    await dialog.getByLabel('Calendar file (.ics)').waitFor();
    const t0 = Date.now();
    await dialog
      .getByLabel('Calendar file (.ics)')
      .setInputFiles({ name: 'bench.ics', mimeType: 'text/calendar', buffer: Buffer.from(text) });
    await dialog.getByText(/events, .* repeating/).waitFor({ timeout: 60_000 });
    const t1 = Date.now();
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await page.getByText(/^Imported .* events into “Bench”/).waitFor({ timeout: 120_000 });
    const t2 = Date.now();
    return {
      file_events: n,
      file_bytes: Buffer.byteLength(text),
      parse_preview_5000_ms: t1 - t0,
      write_5000_ms: t2 - t1,
      import_5000_ms: t2 - t0,
      target_import_5000_ms: 5000,
    };
  } finally {
    await ctx.close();
    await server.close();
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {}
  }
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  console.log(await benchIcs());
}
